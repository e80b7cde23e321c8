//! STmin, the separation time a receiver asks for between consecutive frames.

use std::time::Duration;

/// The STmin byte of a flow control frame (ISO 15765-2:2016, table 20):
/// 0x00-0x7F milliseconds, 0xF1-0xF9 100-900 microseconds, anything else reserved.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct StMin(u8);

impl StMin {
    /// No separation: send consecutive frames back to back.
    pub const ZERO: Self = Self(0);

    /// The byte as carried on the wire.
    pub const fn from_raw(raw: u8) -> Self {
        Self(raw)
    }

    /// `ms` milliseconds, at most 127.
    pub fn millis(ms: u8) -> Option<Self> {
        (ms <= 0x7F).then_some(Self(ms))
    }

    /// `n` hundred microseconds, 1 to 9 (100-900 us).
    pub fn hundred_micros(n: u8) -> Option<Self> {
        (1..=9).contains(&n).then_some(Self(0xF0 + n))
    }

    /// The byte as carried on the wire.
    pub const fn raw(self) -> u8 {
        self.0
    }

    /// The time it stands for. A reserved value means the longest one, 127 ms, as the
    /// standard tells a sender to assume.
    pub fn duration(self) -> Duration {
        match self.0 {
            ms @ 0x00..=0x7F => Duration::from_millis(ms.into()),
            n @ 0xF1..=0xF9 => Duration::from_micros(u64::from(n - 0xF0) * 100),
            _ => Duration::from_millis(127),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges() {
        assert_eq!(StMin::from_raw(0x7F).duration(), Duration::from_millis(127));
        assert_eq!(StMin::from_raw(0xF1).duration(), Duration::from_micros(100));
        assert_eq!(StMin::from_raw(0xF9).duration(), Duration::from_micros(900));
        assert_eq!(StMin::from_raw(0x80).duration(), Duration::from_millis(127));
        assert_eq!(StMin::from_raw(0xFA).duration(), Duration::from_millis(127));
        assert_eq!(StMin::hundred_micros(5).map(StMin::raw), Some(0xF5));
        assert_eq!(StMin::millis(128), None);
    }
}
