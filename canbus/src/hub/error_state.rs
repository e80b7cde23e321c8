//! Fault confinement (ISO 11898-1, 12.1.4): each controller counts its errors and withdraws
//! from the bus when it keeps failing, so one broken node cannot jam the others forever.
//!
//! A failed transmission adds 8 to the transmit error counter (TEC), a success subtracts 1;
//! a receive error adds 1 to the receive error counter (REC), a good reception subtracts 1.
//! At 128 a node turns error passive (it must pause 8 bit times after each transmission); a TEC
//! above 255 makes it bus-off until it has seen 128 x 11 recessive bits.

/// The confinement state a node's counters put it in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ErrorState {
    /// Normal operation.
    Active,
    /// Counters at 128 or above: sends passive error flags, waits 8 bits after transmitting.
    Passive,
    /// TEC above 255: not allowed on the bus.
    BusOff,
}

/// Transmit and receive error counters.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct ErrorCounters {
    /// Transmit error counter.
    pub tec: u16,
    /// Receive error counter.
    pub rec: u16,
}

/// Bit times of bus idle a bus-off node waits before it may rejoin (128 x 11 recessive bits).
pub(crate) const BUS_OFF_RECOVERY_BITS: u32 = 128 * 11;
/// Extra bits an error-passive transmitter waits after its frame ("suspend transmission").
pub(crate) const SUSPEND_TRANSMISSION_BITS: u32 = 8;

impl ErrorCounters {
    /// The state these counters put the node in.
    pub fn state(&self) -> ErrorState {
        if self.tec > 255 {
            ErrorState::BusOff
        } else if self.tec >= 128 || self.rec >= 128 {
            ErrorState::Passive
        } else {
            ErrorState::Active
        }
    }

    pub(crate) fn transmit_ok(&mut self) {
        self.tec = self.tec.saturating_sub(1);
    }

    pub(crate) fn transmit_error(&mut self) {
        self.tec += 8;
    }

    pub(crate) fn receive_ok(&mut self) {
        // Above 127 the standard sets REC back to a value between 119 and 127.
        self.rec = if self.rec > 127 { 120 } else { self.rec.saturating_sub(1) };
    }

    pub(crate) fn receive_error(&mut self) {
        self.rec = self.rec.saturating_add(1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn states() {
        let mut counters = ErrorCounters::default();
        for _ in 0..16 {
            counters.transmit_error();
        }
        assert_eq!(counters.state(), ErrorState::Passive);
        for _ in 0..16 {
            counters.transmit_error();
        }
        assert_eq!(counters.state(), ErrorState::BusOff);
        let mut counters = ErrorCounters { tec: 0, rec: 130 };
        counters.receive_ok();
        assert_eq!(counters.rec, 120);
    }
}
