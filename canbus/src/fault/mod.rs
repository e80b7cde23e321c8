//! Fault injection on a reproducible schedule.
//!
//! Real buses lose frames to electrical noise and misbehaving nodes; the ISO-TP and UDS layers
//! above must fail cleanly or recover. The hub asks the plan about every transmission attempt
//! of a node (in bus order, which the scheduler makes deterministic), so a seed and a list of
//! rules give the same faults on every run.
//!
//! - [`FaultAction::Drop`]: the frame goes out and is acknowledged, but no receiver gets it
//!   (a receiver-side loss such as an overrun). The sender sees success.
//! - [`FaultAction::Corrupt`]: receivers detect a CRC error and signal an error frame; the
//!   transmitter's error counter rises by 8 and its controller retransmits automatically, as
//!   real controllers do. The bus time of the broken frame and the error frame is spent.
//! - [`FaultAction::Delay`]: the frame is held back from arbitration for a while (a slow
//!   controller or gateway), once per frame.
//! - [`Babble`]: a node that floods the bus with one high-priority frame for a period, starving
//!   everyone with a higher identifier.

mod rng;

use std::time::Duration;

use crate::frame::CanFrame;
use crate::id::Id;
use rng::XorShift64;

/// What happens to a frame that a rule selects.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FaultAction {
    /// Lost after transmission: nobody receives it, the sender thinks it went through.
    Drop,
    /// Destroyed on the wire: receivers reject it, the sender retransmits.
    Corrupt,
    /// Held back from arbitration for this long.
    Delay(Duration),
}

/// Which of the matching transmission attempts a rule hits.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Trigger {
    /// The n-th matching attempt, counting from 0 (retransmissions count as attempts).
    Nth(u64),
    /// Each matching attempt independently with this probability, in parts per million.
    Chance {
        /// Probability times 1 000 000.
        per_million: u32,
    },
    /// Every matching attempt.
    Always,
}

/// One line of a fault plan.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FaultRule {
    /// What to do.
    pub action: FaultAction,
    /// When to do it.
    pub trigger: Trigger,
    /// Only frames with this identifier count, when set.
    pub id: Option<Id>,
}

impl FaultRule {
    /// A rule for frames of any identifier.
    pub fn new(action: FaultAction, trigger: Trigger) -> Self {
        Self { action, trigger, id: None }
    }

    /// The same rule restricted to one identifier.
    pub fn for_id(self, id: Id) -> Self {
        Self { id: Some(id), ..self }
    }
}

/// A babbling node: from `start` for `duration` of bus time it always has `frame` pending.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Babble {
    /// Virtual time since the hub started when the babbling begins.
    pub start: Duration,
    /// How long it lasts.
    pub duration: Duration,
    /// What it sends (usually a low identifier, which is a high priority).
    pub frame: CanFrame,
}

/// The seed and the rules. Rules are tried in order; the first that fires decides.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FaultPlan {
    seed: u64,
    rules: Vec<FaultRule>,
    babbles: Vec<Babble>,
}

impl FaultPlan {
    /// An empty plan whose random triggers draw from `seed`.
    pub fn new(seed: u64) -> Self {
        Self { seed, ..Self::default() }
    }

    /// Adds a rule after the existing ones.
    pub fn with(mut self, rule: FaultRule) -> Self {
        self.rules.push(rule);
        self
    }

    /// Adds a babbling node.
    pub fn with_babble(mut self, babble: Babble) -> Self {
        self.babbles.push(babble);
        self
    }

    /// The babbling nodes.
    pub fn babbles(&self) -> &[Babble] {
        &self.babbles
    }
}

/// A plan being played: per-rule counters and the generator.
#[derive(Debug)]
pub(crate) struct FaultState {
    rules: Vec<(FaultRule, u64)>,
    rng: XorShift64,
}

impl FaultState {
    pub(crate) fn new(plan: &FaultPlan) -> Self {
        Self {
            rules: plan.rules.iter().map(|&rule| (rule, 0)).collect(),
            rng: XorShift64::new(plan.seed),
        }
    }

    /// The fault, if any, for a transmission attempt of `frame`. A frame already delayed once
    /// is not delayed again, so a delay rule cannot starve it forever.
    pub(crate) fn decide(&mut self, frame: &CanFrame, delayed_before: bool) -> Option<FaultAction> {
        for (rule, seen) in &mut self.rules {
            if rule.id.is_some_and(|id| id != frame.id())
                || (delayed_before && matches!(rule.action, FaultAction::Delay(_)))
            {
                continue;
            }
            let index = *seen;
            *seen += 1;
            let fires = match rule.trigger {
                Trigger::Nth(n) => index == n,
                Trigger::Chance { per_million } => self.rng.chance(per_million),
                Trigger::Always => true,
            };
            if fires {
                return Some(rule.action);
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::id::standard;

    #[test]
    fn nth_counts_matching_frames_only() {
        let a = CanFrame::classic(standard(1).unwrap(), &[]).unwrap();
        let b = CanFrame::classic(standard(2).unwrap(), &[]).unwrap();
        let plan = FaultPlan::new(1)
            .with(FaultRule::new(FaultAction::Drop, Trigger::Nth(1)).for_id(standard(2).unwrap()));
        let mut state = FaultState::new(&plan);
        assert_eq!(state.decide(&a, false), None);
        assert_eq!(state.decide(&b, false), None);
        assert_eq!(state.decide(&a, false), None);
        assert_eq!(state.decide(&b, false), Some(FaultAction::Drop));
        assert_eq!(state.decide(&b, false), None);
    }

    #[test]
    fn delay_applies_once() {
        let a = CanFrame::classic(standard(1).unwrap(), &[]).unwrap();
        let delay = FaultAction::Delay(Duration::from_millis(1));
        let plan = FaultPlan::new(1).with(FaultRule::new(delay, Trigger::Always));
        let mut state = FaultState::new(&plan);
        assert_eq!(state.decide(&a, false), Some(delay));
        assert_eq!(state.decide(&a, true), None);
    }
}
