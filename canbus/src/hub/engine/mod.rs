//! The bus itself: transmit and receive queues, arbitration, the frame on the wire, the clock,
//! faults, error confinement, and who is waiting for what.
//!
//! Single-threaded and free of wall-clock time, so it is deterministic: given the same calls in
//! the same order it produces the same frames at the same virtual instants. [`super::Hub`] wraps
//! it in a mutex and decides *when* to call [`Engine::step`].
//!
//! Time moves in steps from one event to the next: the frame on the wire reaching its end of
//! frame (receivers get it, the transmitter's confirmation), the bus turning idle after the
//! intermission (arbitration among the frames pending then), a queued frame becoming eligible
//! (STmin gap, delay fault, error-passive suspension), a babbling node starting, or a deadline
//! that a waiting node set. A step that wakes a node does not arbitrate, so that every node
//! woken at an instant can queue its reply before the bus decides who goes next.

mod node_slot;
mod waits;

use std::sync::{Arc, Condvar};
use std::thread::ThreadId;
use std::time::Duration;

use super::error_state::{
    BUS_OFF_RECOVERY_BITS, ErrorCounters, ErrorState, SUSPEND_TRANSMISSION_BITS,
};
use super::filter::Filter;
use super::stats::{BusStats, NodeStats};
use crate::Error;
use crate::arbitration::arbitration_key;
use crate::fault::{Babble, FaultAction, FaultPlan, FaultState};
use crate::frame::CanFrame;
use crate::link::Received;
use crate::time::Timestamp;
use crate::timing::BusTiming;
use node_slot::{NodeSlot, TxEntry};
use waits::Wait;

pub(crate) use waits::{Deadline, WaitKind};

/// Who put the frame on the wire: a node, or a babbling node from the fault plan (which has
/// no queue, counters or confirmations).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Source {
    Node(usize),
    Babbler(usize),
}

/// How the frame on the wire ends, decided by the fault plan when it wins arbitration.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Outcome {
    Delivered,
    Dropped,
    Corrupted,
}

/// The frame currently on the wire.
#[derive(Debug)]
struct InFlight {
    source: Source,
    entry: TxEntry,
    outcome: Outcome,
    /// End of EOF (or of the error frame): delivery, confirmation, error counting.
    done_at: Timestamp,
    /// End of the intermission: the next arbitration.
    idle_at: Timestamp,
    completed: bool,
    epoch: u64,
}

/// The outcome of waiting for the transmit queue to drain.
#[derive(Debug)]
pub(crate) enum FlushState {
    /// Empty; the last frame finished at this instant.
    Done(Timestamp),
    /// Frames still queued or on the wire.
    Pending,
    /// The controller is bus-off.
    BusOff,
}

/// The bus state. See the module documentation.
#[derive(Debug)]
pub(crate) struct Engine {
    now: Timestamp,
    timing: BusTiming,
    tx_capacity: usize,
    rx_capacity: usize,
    nodes: Vec<Option<NodeSlot>>,
    in_flight: Option<InFlight>,
    faults: FaultState,
    babbles: Vec<Babble>,
    waits: Vec<Wait>,
    next_wait_id: u64,
    busy_count: usize,
    closed: bool,
    stats: BusStats,
}

impl Engine {
    pub(crate) fn new(
        timing: BusTiming,
        faults: &FaultPlan,
        tx_capacity: usize,
        rx_capacity: usize,
    ) -> Self {
        Self {
            now: Timestamp::ZERO,
            timing,
            tx_capacity,
            rx_capacity,
            nodes: Vec::new(),
            in_flight: None,
            faults: FaultState::new(faults),
            babbles: faults.babbles().to_vec(),
            waits: Vec::new(),
            next_wait_id: 0,
            busy_count: 0,
            closed: false,
            stats: BusStats::default(),
        }
    }

    pub(crate) fn now(&self) -> Timestamp {
        self.now
    }

    pub(crate) fn timing(&self) -> BusTiming {
        self.timing
    }

    pub(crate) fn stats(&self) -> BusStats {
        self.stats
    }

    pub(crate) fn is_closed(&self) -> bool {
        self.closed
    }

    /// Closes the bus: every waiting call returns [`Error::Closed`].
    pub(crate) fn close(&mut self) {
        self.closed = true;
        self.check_waits(None);
        self.notify_waiters();
    }

    pub(crate) fn attach(&mut self, condvar: Arc<Condvar>) -> usize {
        self.nodes.push(Some(NodeSlot::new(condvar)));
        self.nodes.len() - 1
    }

    /// Removes a node. A frame of it already on the wire still completes.
    pub(crate) fn detach(&mut self, node: usize) {
        self.clear_busy(node);
        self.drop_waits(node);
        if let Some(slot) = self.nodes.get_mut(node) {
            *slot = None;
        }
    }

    fn slot(&self, node: usize) -> Result<&NodeSlot, Error> {
        self.nodes.get(node).and_then(Option::as_ref).ok_or(Error::Closed)
    }

    fn slot_mut(&mut self, node: usize) -> Result<&mut NodeSlot, Error> {
        self.nodes.get_mut(node).and_then(Option::as_mut).ok_or(Error::Closed)
    }

    pub(crate) fn set_filters(&mut self, node: usize, filters: Vec<Filter>) -> Result<(), Error> {
        self.slot_mut(node)?.filters = filters;
        Ok(())
    }

    /// Rejoins a bus-off node whose recovery time has passed. True while still bus-off.
    fn bus_off(&mut self, node: usize) -> Result<bool, Error> {
        let now = self.now;
        let slot = self.slot_mut(node)?;
        match slot.bus_off_until {
            Some(until) if now < until => Ok(true),
            Some(_) => {
                slot.bus_off_until = None;
                slot.counters = ErrorCounters::default();
                Ok(false)
            }
            None => Ok(false),
        }
    }

    /// Queues a frame if there is room. `Ok(false)` when the queue is full.
    pub(crate) fn try_enqueue(
        &mut self,
        node: usize,
        frame: &CanFrame,
        gap: Duration,
    ) -> Result<bool, Error> {
        if self.bus_off(node)? {
            return Err(Error::BusOff);
        }
        let capacity = self.tx_capacity;
        let slot = self.slot_mut(node)?;
        if slot.tx.len() >= capacity {
            return Ok(false);
        }
        slot.tx.push_back(TxEntry { frame: *frame, gap, delayed_until: None });
        Ok(true)
    }

    pub(crate) fn take_rx(&mut self, node: usize) -> Result<Option<Received>, Error> {
        Ok(self.slot_mut(node)?.rx.pop_front())
    }

    pub(crate) fn abort_tx(&mut self, node: usize) -> Result<(), Error> {
        let slot = self.slot_mut(node)?;
        slot.tx.clear();
        slot.abort_epoch += 1;
        Ok(())
    }

    pub(crate) fn flush_state(&mut self, node: usize) -> Result<FlushState, Error> {
        if self.bus_off(node)? {
            return Ok(FlushState::BusOff);
        }
        let now = self.now;
        let slot = self.slot(node)?;
        Ok(if slot.tx.is_empty() && !slot.in_flight {
            FlushState::Done(slot.last_tx_end.unwrap_or(now))
        } else {
            FlushState::Pending
        })
    }

    pub(crate) fn node_stats(&mut self, node: usize) -> Result<NodeStats, Error> {
        self.bus_off(node)?;
        let slot = self.slot(node)?;
        Ok(NodeStats {
            tx_frames: slot.tx_frames,
            tx_errors: slot.tx_errors,
            rx_frames: slot.rx_frames,
            rx_overflows: slot.rx_overflows,
            counters: slot.counters,
            state: if slot.bus_off_until.is_some() {
                ErrorState::BusOff
            } else {
                slot.counters.state()
            },
        })
    }
}

impl Engine {
    /// When the head of `node`'s queue may start, if it has one and may send at all.
    fn eligible_at(&self, node: usize) -> Option<Timestamp> {
        let slot = self.nodes.get(node)?.as_ref()?;
        let entry = slot.tx.front()?;
        if slot.in_flight || slot.bus_off_until.is_some() {
            return None;
        }
        let mut at = slot.suspend_until;
        if let Some(end) = slot.last_tx_end {
            at = at.max(end + entry.gap);
        }
        if let Some(until) = entry.delayed_until {
            at = at.max(until);
        }
        Some(at)
    }

    fn babble_window(babble: &Babble) -> (Timestamp, Timestamp) {
        let start = Timestamp::ZERO + babble.start;
        (start, start + babble.duration)
    }

    /// The next instant at which something happens, if anything will.
    pub(crate) fn next_event(&self) -> Option<Timestamp> {
        let mut next: Option<Timestamp> = None;
        let mut consider = |at: Timestamp| {
            let at = at.max(self.now);
            next = Some(next.map_or(at, |n| n.min(at)));
        };
        match &self.in_flight {
            Some(frame) if frame.completed => consider(frame.idle_at),
            Some(frame) => consider(frame.done_at),
            None => {
                (0..self.nodes.len())
                    .filter_map(|node| self.eligible_at(node))
                    .for_each(&mut consider);
                for babble in &self.babbles {
                    let (start, end) = Self::babble_window(babble);
                    if self.now < end {
                        consider(start);
                    }
                }
            }
        }
        if let Some(at) = self.next_deadline() {
            consider(at);
        }
        next
    }

    /// Moves the clock to `at` (no later than [`Engine::next_event`]) and processes what is due.
    /// `stepper` is the thread calling, if it is one of the waiting threads.
    pub(crate) fn step(&mut self, at: Timestamp, stepper: Option<ThreadId>) {
        debug_assert!(at >= self.now);
        self.now = self.now.max(at);
        if self
            .in_flight
            .as_ref()
            .is_some_and(|frame| !frame.completed && frame.done_at <= self.now)
        {
            self.complete();
        }
        if self.in_flight.as_ref().is_some_and(|frame| frame.completed && frame.idle_at <= self.now)
        {
            self.in_flight = None;
        }
        let woke = self.check_waits(stepper);
        if !woke && self.in_flight.is_none() && !self.closed {
            self.arbitrate();
        }
    }

    /// Processes every event up to `target` and sets the clock there (free-running mode).
    pub(crate) fn catch_up(&mut self, target: Timestamp) {
        while let Some(at) = self.next_event() {
            if at > target {
                break;
            }
            self.step(at, None);
        }
        self.now = self.now.max(target);
    }

    /// Picks the winner among the frames pending now and puts it on the wire.
    fn arbitrate(&mut self) {
        loop {
            let mut best: Option<(u32, Source)> = None;
            for (index, babble) in self.babbles.iter().enumerate() {
                let (start, end) = Self::babble_window(babble);
                let key = arbitration_key(&babble.frame);
                if start <= self.now && self.now < end && best.is_none_or(|(k, _)| key < k) {
                    best = Some((key, Source::Babbler(index)));
                }
            }
            for node in 0..self.nodes.len() {
                if self.eligible_at(node).is_none_or(|at| at > self.now) {
                    continue;
                }
                let Some(Some(slot)) = self.nodes.get(node) else { continue };
                let Some(entry) = slot.tx.front() else { continue };
                let key = arbitration_key(&entry.frame);
                if best.is_none_or(|(k, _)| key < k) {
                    best = Some((key, Source::Node(node)));
                }
            }
            let Some((_, source)) = best else { return };
            match source {
                Source::Babbler(index) => {
                    let entry = TxEntry {
                        frame: self.babbles[index].frame,
                        gap: Duration::ZERO,
                        delayed_until: None,
                    };
                    self.start(source, entry, Outcome::Delivered, 0);
                    return;
                }
                Source::Node(node) => {
                    let now = self.now;
                    let Some(Some(slot)) = self.nodes.get_mut(node) else { return };
                    let Some(entry) = slot.tx.front_mut() else { return };
                    let action = self.faults.decide(&entry.frame, entry.delayed_until.is_some());
                    if let Some(FaultAction::Delay(delay)) = action {
                        entry.delayed_until = Some(now + delay);
                        self.stats.delayed += 1;
                        continue;
                    }
                    let Some(entry) = slot.tx.pop_front() else { return };
                    slot.in_flight = true;
                    let epoch = slot.abort_epoch;
                    let outcome = match action {
                        Some(FaultAction::Drop) => Outcome::Dropped,
                        Some(FaultAction::Corrupt) => Outcome::Corrupted,
                        _ => Outcome::Delivered,
                    };
                    self.start(source, entry, outcome, epoch);
                    return;
                }
            }
        }
    }

    fn start(&mut self, source: Source, entry: TxEntry, outcome: Outcome, epoch: u64) {
        let time = self.timing.frame_time(&entry.frame);
        let intermission = time.duration - time.until_eof;
        let busy = match outcome {
            Outcome::Corrupted => time.with_error_frame,
            _ => time.duration,
        };
        self.stats.busy += busy;
        self.in_flight = Some(InFlight {
            source,
            entry,
            outcome,
            done_at: self.now + (busy - intermission),
            idle_at: self.now + busy,
            completed: false,
            epoch,
        });
    }

    /// The frame on the wire reached its end: deliver it, or count the error and requeue it.
    fn complete(&mut self) {
        let Some(frame) = self.in_flight.as_mut() else { return };
        frame.completed = true;
        let (source, entry, outcome, done_at, idle_at, epoch) =
            (frame.source, frame.entry, frame.outcome, frame.done_at, frame.idle_at, frame.epoch);
        let sender = match source {
            Source::Node(node) => Some(node),
            Source::Babbler(_) => None,
        };
        let suspend = self.timing.nominal_bits(SUSPEND_TRANSMISSION_BITS);
        match outcome {
            Outcome::Delivered | Outcome::Dropped => {
                self.stats.frames += 1;
                if sender.is_none() {
                    self.stats.babble_frames += 1;
                }
                if let Some(Some(slot)) = sender.and_then(|node| self.nodes.get_mut(node)) {
                    slot.in_flight = false;
                    slot.last_tx_end = Some(done_at);
                    slot.tx_frames += 1;
                    slot.counters.transmit_ok();
                    if slot.counters.state() == ErrorState::Passive {
                        slot.suspend_until = idle_at + suspend;
                    }
                }
                if outcome == Outcome::Dropped {
                    self.stats.dropped += 1;
                } else {
                    self.deliver(sender, entry.frame, done_at);
                }
            }
            Outcome::Corrupted => {
                self.stats.error_frames += 1;
                for (node, slot) in self.nodes.iter_mut().enumerate() {
                    if let Some(slot) = slot.as_mut()
                        && Some(node) != sender
                    {
                        slot.counters.receive_error();
                    }
                }
                let recovery = self.timing.nominal_bits(BUS_OFF_RECOVERY_BITS);
                if let Some(Some(slot)) = sender.and_then(|node| self.nodes.get_mut(node)) {
                    slot.in_flight = false;
                    slot.tx_errors += 1;
                    slot.counters.transmit_error();
                    match slot.counters.state() {
                        ErrorState::BusOff => {
                            slot.tx.clear();
                            slot.bus_off_until = Some(idle_at + recovery);
                        }
                        state => {
                            if epoch == slot.abort_epoch {
                                slot.tx.push_front(entry);
                            }
                            if state == ErrorState::Passive {
                                slot.suspend_until = idle_at + suspend;
                            }
                        }
                    }
                }
            }
        }
    }

    fn deliver(&mut self, sender: Option<usize>, frame: CanFrame, at: Timestamp) {
        let capacity = self.rx_capacity;
        for (node, slot) in self.nodes.iter_mut().enumerate() {
            let Some(slot) = slot.as_mut() else { continue };
            if Some(node) == sender {
                continue;
            }
            slot.counters.receive_ok();
            if !slot.filters.iter().any(|filter| filter.accepts(&frame)) {
                continue;
            }
            if slot.rx.len() >= capacity {
                slot.rx_overflows += 1;
            } else {
                slot.rx.push_back(Received { frame, timestamp: at });
                slot.rx_frames += 1;
            }
        }
    }
}
