//! The bit layout of each frame format, field by field, and its stuffed length.

use super::Stuffing;
use super::crc::Crc15;
use super::stuffing::{self, Stuffer};
use crate::frame::{CanFrame, FrameFormat};
use crate::id::Id;

/// CRC delimiter, ACK slot, ACK delimiter: fixed-form bits after the CRC.
const CRC_DELIM_ACK_BITS: u32 = 3;
/// End of frame: seven recessive bits.
pub(crate) const EOF_BITS: u32 = 7;
/// Intermission (interframe space) before the next SOF may start.
pub(crate) const IFS_BITS: u32 = 3;

/// A frame's length on the bus, split by the bit rate each part runs at.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct FrameBits {
    /// Bits at the nominal (arbitration) rate, stuff bits and intermission included.
    pub(crate) nominal: u32,
    /// Bits at the data rate: only CAN FD frames with BRS have any.
    pub(crate) data: u32,
    /// Stuff bits (dynamic and fixed), already counted in `nominal` and `data`.
    pub(crate) stuff: u32,
}

/// A frame's bits in transmission order, fed to the stuff counter and, while `crc` is set,
/// to the CRC register. Nothing is stored: the simulator only needs the counts.
struct Stream {
    stuffer: Stuffer,
    crc: Option<Crc15>,
}

impl Stream {
    fn new(crc: bool) -> Self {
        Self { stuffer: Stuffer::new(), crc: crc.then(Crc15::default) }
    }

    fn byte(&mut self, byte: u8) {
        self.stuffer.byte(byte);
        if let Some(crc) = &mut self.crc {
            crc.byte(byte);
        }
    }

    /// The low `n` bits of `value`, most significant first, eight at a time where possible.
    fn bits(&mut self, value: u64, mut n: u32) {
        while n >= 8 {
            n -= 8;
            self.byte((value >> n) as u8);
        }
        while n > 0 {
            n -= 1;
            let bit = (value >> n) & 1 == 1;
            self.stuffer.bit(bit);
            if let Some(crc) = &mut self.crc {
                crc.bit(bit);
            }
        }
    }

    fn bytes(&mut self, bytes: &[u8]) {
        for &byte in bytes {
            self.byte(byte);
        }
    }
}

/// SOF through the identifier fields as one number and its length: 14 bits for the base format
/// (SOF, 11-bit id, RTR/RRS, IDE=0) or 33 for the extended one (SOF, base id, SRR=1, IDE=1,
/// 18-bit extension, RTR/RRS). SOF, RRS and a data frame's RTR are dominant (0).
fn arbitration(id: Id, rtr: bool) -> (u64, u32) {
    let rtr = u64::from(rtr);
    match id {
        Id::Standard(id) => ((u64::from(id.as_raw()) << 2) | (rtr << 1), 14),
        Id::Extended(id) => {
            let raw = u64::from(id.as_raw());
            (((raw >> 18) << 21) | (0b11 << 19) | ((raw & 0x3_FFFF) << 1) | rtr, 33)
        }
    }
}

pub(crate) fn frame_bits(frame: &CanFrame, stuffing: Stuffing) -> FrameBits {
    match frame.format() {
        FrameFormat::Classic | FrameFormat::Remote => classic(frame, stuffing),
        FrameFormat::Fd(flags) => fd(frame, flags.brs, flags.esi, stuffing),
    }
}

/// Classic frame: SOF, arbitration, control (IDE/r1, r0, DLC), data, CRC-15 are stuffed;
/// then CRC delimiter, ACK slot, ACK delimiter, EOF and intermission are not.
fn classic(frame: &CanFrame, stuffing: Stuffing) -> FrameBits {
    let reserved = if frame.is_extended_id() { 2 } else { 1 }; // r1, r0 or r0
    let (arbitration, arbitration_len) = arbitration(frame.id(), frame.is_remote());
    let header_len = arbitration_len + reserved + 4; // ... then r1/r0 (dominant), DLC
    let stuffed_len = header_len + 8 * frame.data().len() as u32 + 15;
    let stuff = match stuffing {
        Stuffing::Exact => {
            let mut stream = Stream::new(true);
            stream.bits((arbitration << (reserved + 4)) | u64::from(frame.dlc_code()), header_len);
            stream.bytes(frame.data());
            let crc = stream.crc.take().map_or(0, Crc15::value);
            stream.bits(crc.into(), 15);
            // Classic CAN stuffs through the last CRC bit: a run of five there is followed by
            // a stuff bit before the CRC delimiter.
            stream.stuffer.count() + u32::from(stream.stuffer.pending())
        }
        // Only the field lengths matter.
        Stuffing::WorstCase => stuffing::worst_case_with_trailing(stuffed_len),
    };
    FrameBits {
        nominal: stuffed_len + stuff + CRC_DELIM_ACK_BITS + EOF_BITS + IFS_BITS,
        data: 0,
        stuff,
    }
}

/// CAN FD frame. Dynamic stuffing covers SOF through the data field; the CRC field (3-bit
/// Gray-coded stuff count, parity bit, CRC-17 up to 16 data bytes or CRC-21 above) carries a
/// fixed stuff bit before its first bit and after every fourth bit. With BRS the data phase
/// runs from after the BRS bit through the CRC delimiter at the data bit rate.
fn fd(frame: &CanFrame, brs: bool, esi: bool, stuffing: Stuffing) -> FrameBits {
    let (arbitration, arbitration_len) = arbitration(frame.id(), false); // RRS dominant
    let nominal_len = arbitration_len + 3; // ... then FDF (recessive: FD), res, BRS
    let dynamic_len = nominal_len + 5 + 8 * frame.data().len() as u32; // ESI, DLC, data

    let (stuff_nominal, stuff_data) = match stuffing {
        Stuffing::Exact => {
            let mut stream = Stream::new(false);
            stream.bits((arbitration << 3) | 0b100 | u64::from(brs), nominal_len);
            let before = stream.stuffer.count();
            stream.bits((u64::from(esi) << 4) | u64::from(frame.dlc_code()), 5);
            stream.bytes(frame.data());
            // A stuff bit pending after the last data bit is not sent: the fixed stuff bit
            // that opens the CRC field already breaks the run. One pending after BRS goes out
            // in the data phase, before ESI.
            (before, stream.stuffer.count() - before)
        }
        Stuffing::WorstCase => {
            let before = stuffing::worst_case_within(nominal_len);
            (before, stuffing::worst_case_within(dynamic_len) - before)
        }
    };

    let crc_len = if frame.len() > 16 { 21 } else { 17 };
    let crc_field = 4 + crc_len; // stuff count (3 Gray + parity) and CRC
    let fixed_stuff = 1 + (crc_field - 1) / 4;
    let tail_data = crc_field + fixed_stuff + 1; // ... through the CRC delimiter
    let tail_nominal = 2 + EOF_BITS + IFS_BITS; // ACK slot, ACK delimiter, EOF, intermission

    let phase1 = nominal_len + stuff_nominal;
    let phase2 = (dynamic_len - nominal_len) + stuff_data + tail_data;
    let stuff = stuff_nominal + stuff_data + fixed_stuff;
    if brs {
        FrameBits { nominal: phase1 + tail_nominal, data: phase2, stuff }
    } else {
        FrameBits { nominal: phase1 + phase2 + tail_nominal, data: 0, stuff }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::frame::FdFlags;
    use crate::id::{extended, standard};

    #[test]
    fn classic_worst_case_matches_textbook() {
        let frame = CanFrame::classic(standard(0x7FF).unwrap(), &[0; 8]).unwrap();
        assert_eq!(frame_bits(&frame, Stuffing::WorstCase).nominal, 135);
        let frame = CanFrame::classic(extended(0).unwrap(), &[0; 8]).unwrap();
        assert_eq!(frame_bits(&frame, Stuffing::WorstCase).nominal, 160);
    }

    #[test]
    fn exact_never_exceeds_worst_case() {
        for id in [standard(0).unwrap(), standard(0x555).unwrap(), extended(0).unwrap()] {
            for fill in [0x00, 0xFF, 0x55, 0x0F, 0xF0] {
                for len in 0..=8 {
                    let frame = CanFrame::classic(id, &vec![fill; len]).unwrap();
                    let exact = frame_bits(&frame, Stuffing::Exact);
                    let worst = frame_bits(&frame, Stuffing::WorstCase);
                    assert!(exact.nominal <= worst.nominal, "{frame:?}");
                }
                for len in [0, 8, 12, 32, 64] {
                    let flags = FdFlags { brs: true, esi: false };
                    let frame = CanFrame::fd(id, &vec![fill; len], flags, 0).unwrap();
                    let exact = frame_bits(&frame, Stuffing::Exact);
                    let worst = frame_bits(&frame, Stuffing::WorstCase);
                    assert!(exact.nominal <= worst.nominal, "{frame:?}");
                    assert!(exact.stuff <= worst.stuff, "{frame:?}");
                }
            }
        }
    }

    #[test]
    fn fd_fixed_stuff_bits() {
        let flags = FdFlags { brs: true, esi: false };
        // 0x555.. alternates, so no dynamic stuff bits: only the 6 fixed ones of CRC-17.
        let frame = CanFrame::fd(standard(0x2AA).unwrap(), &[0x55; 16], flags, 0).unwrap();
        let bits = frame_bits(&frame, Stuffing::Exact);
        // SOF + 11 id + RRS + IDE + FDF + res + BRS = 17 nominal, then ACK, delimiters, EOF,
        // IFS; data phase: ESI + DLC + 128 data + 4 stuff count + 17 CRC + 6 FSB + delimiter.
        assert_eq!(bits.nominal, 17 + 2 + 7 + 3);
        assert_eq!(bits.data, 1 + 4 + 128 + 4 + 17 + 6 + 1);
    }
}
