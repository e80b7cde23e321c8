//! Bitwise arbitration: who gets the bus when several nodes start a frame together.
//!
//! Every transmitter sends its arbitration field bit by bit and listens; a dominant 0 overrides
//! a recessive 1, and a node that sent 1 but reads 0 backs off and retries when the bus is idle
//! again. Reading the arbitration bits as a binary number, the lowest number wins. The bits
//! compared are:
//!
//! ```text
//! base format:      ID[28..18] (11)  RTR                  IDE=0
//! extended format:  ID[28..18] (11)  SRR=1                IDE=1  ID[17..0] (18)  RTR
//! ```
//!
//! So on an equal base identifier a base-format data frame (RTR=0) beats an extended frame
//! (SRR=1), and a base-format remote frame (RTR=1 against SRR=1) still wins at IDE. A data frame
//! beats a remote frame with the same identifier. CAN FD frames send RRS (always 0) where
//! classic frames send RTR, so they arbitrate like data frames.

use crate::frame::CanFrame;
use crate::id::Id;

/// The arbitration field as a 32-bit number, most significant bit sent first: the frame with
/// the lower key wins the bus.
pub fn arbitration_key(frame: &CanFrame) -> u32 {
    let rtr = u32::from(frame.is_remote());
    match frame.id() {
        Id::Standard(id) => (u32::from(id.as_raw()) << 21) | (rtr << 20),
        Id::Extended(id) => {
            let raw = id.as_raw();
            ((raw >> 18) << 21) | (1 << 20) | (1 << 19) | ((raw & 0x3_FFFF) << 1) | rtr
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::id::{extended, standard};

    fn key(id: Id, remote: bool) -> u32 {
        let frame =
            if remote { CanFrame::remote(id, 0) } else { CanFrame::classic(id, &[]) }.unwrap();
        arbitration_key(&frame)
    }

    #[test]
    fn standard_beats_extended_with_equal_base() {
        let std_id = standard(0x123).unwrap();
        let ext_id = extended(0x123 << 18).unwrap();
        assert!(key(std_id, false) < key(ext_id, false));
        assert!(key(std_id, true) < key(ext_id, false));
        assert!(key(std_id, false) < key(std_id, true));
    }

    #[test]
    fn lower_identifier_wins() {
        assert!(key(standard(0x100).unwrap(), false) < key(standard(0x101).unwrap(), false));
        assert!(key(extended(1).unwrap(), false) < key(extended(2).unwrap(), false));
        // The base id decides before the extension bits are compared.
        assert!(key(extended(0x3_FFFF).unwrap(), false) < key(standard(1).unwrap(), false));
    }
}
