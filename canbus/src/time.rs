//! Instants on a link's clock.
//!
//! The in-process hub keeps a *virtual* clock that only moves when the bus has something to do
//! (a frame on the wire, a timer due), so a 16 MiB transfer that would take minutes on a real
//! 500 kbit/s bus costs only the CPU time to simulate it. A daemon client keeps a wall clock.
//! Both count nanoseconds from the link's own epoch, so ISO-TP timers (N_Bs, N_Cr, STmin) are
//! written once against [`Timestamp`] and run on either.

use std::fmt;
use std::ops::{Add, AddAssign};
use std::time::Duration;

/// Nanoseconds since the epoch of the clock it came from (hub start, or client connect).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(u64);

impl Timestamp {
    /// The epoch itself: the hub's clock reads this before the first frame.
    pub const ZERO: Self = Self(0);

    /// A timestamp `nanos` after the epoch.
    pub const fn from_nanos(nanos: u64) -> Self {
        Self(nanos)
    }

    /// Nanoseconds since the epoch.
    pub const fn as_nanos(self) -> u64 {
        self.0
    }

    /// Time since the epoch as a [`Duration`].
    pub const fn since_epoch(self) -> Duration {
        Duration::from_nanos(self.0)
    }

    /// Time from `earlier` to `self`, zero if `earlier` is later (clocks never run backwards,
    /// but a caller may compare against a deadline it computed in the future).
    pub const fn saturating_duration_since(self, earlier: Self) -> Duration {
        Duration::from_nanos(self.0.saturating_sub(earlier.0))
    }
}

impl Add<Duration> for Timestamp {
    type Output = Self;

    /// Saturates instead of overflowing: "a deadline in 500 years" is simply "never".
    fn add(self, rhs: Duration) -> Self {
        let nanos = u64::try_from(rhs.as_nanos()).unwrap_or(u64::MAX);
        Self(self.0.saturating_add(nanos))
    }
}

impl AddAssign<Duration> for Timestamp {
    fn add_assign(&mut self, rhs: Duration) {
        *self = *self + rhs;
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{:09}s", self.0 / 1_000_000_000, self.0 % 1_000_000_000)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn adds_and_saturates() {
        let t = Timestamp::from_nanos(5) + Duration::from_nanos(7);
        assert_eq!(t.as_nanos(), 12);
        assert_eq!((Timestamp::from_nanos(u64::MAX - 1) + Duration::MAX).as_nanos(), u64::MAX);
        assert_eq!(t.saturating_duration_since(Timestamp::from_nanos(20)), Duration::ZERO);
        assert_eq!(Timestamp::from_nanos(1_500_000_000).to_string(), "1.500000000s");
    }
}
