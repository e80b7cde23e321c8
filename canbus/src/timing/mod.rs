//! How long a frame occupies the bus, bit for bit.
//!
//! The hub advances its virtual clock by exactly these durations, so an ISO-TP transfer takes
//! the time it would on a real bus at the configured bit rates, and the benchmark can hold the
//! simulator to a closed-form limit.
//!
//! # Classic CAN (ISO 11898-1, base and extended frame format)
//!
//! | field | base (11-bit id) | extended (29-bit id) |
//! |---|---|---|
//! | SOF | 1 | 1 |
//! | arbitration | 11 id + RTR | 11 id + SRR + IDE + 18 id + RTR |
//! | control | IDE + r0 + 4 DLC | r1 + r0 + 4 DLC |
//! | data | 8n | 8n |
//! | CRC sequence | 15 | 15 |
//! | CRC delimiter, ACK slot, ACK delimiter | 3 | 3 |
//! | EOF | 7 | 7 |
//! | intermission (IFS) | 3 | 3 |
//!
//! Bits from SOF through the CRC sequence are stuffed: g + 8n bits with g = 34 (base) or 54
//! (extended); remote frames have no data field (n = 0 for this sum, the DLC still says n).
//! The whole frame is therefore
//!
//! ```text
//! bits = g + 8n + 13 + s,    worst case  s = floor((g + 8n - 1) / 4)
//! ```
//!
//! (135 bits for 8 bytes with a base id, 160 with an extended one). With [`Stuffing::Exact`] the
//! simulator builds the real bit string, computes the CRC-15, and counts the stuff bits the
//! transmitter would insert: one after every run of five equal bits, the stuff bit counting
//! toward the next run, including one after the last CRC bit when the CRC ends in a run of five.
//!
//! # CAN FD (ISO 11898-1:2015, FBFF and FEFF)
//!
//! ```text
//! nominal phase:  SOF, id (11 | 11+SRR+IDE+18), RRS, IDE (base only), FDF, res, BRS
//!                 = a = 17 (base) or 36 (extended) bits, plus its dynamic stuff bits
//! data phase:     ESI, 4 DLC, 8n data, plus their dynamic stuff bits,
//!                 stuff count (3 Gray + parity) + CRC (17 bits if n <= 16, else 21),
//!                 fixed stuff bits: 6 (CRC-17) or 7 (CRC-21), CRC delimiter
//!                 = 5 + 8n + s_d + 28 (n <= 16) or 33 (n > 16)
//! nominal again:  ACK slot, ACK delimiter, 7 EOF, 3 IFS = 12
//! time = (a + s_a + 12) / nominal_rate + (5 + 8n + s_d + 28|33) / data_rate
//! ```
//!
//! Dynamic stuffing covers SOF through the last data bit; a stuff bit pending after the last
//! data bit is not sent, because the fixed stuff bit that opens the CRC field (the complement of
//! the bit before it) already breaks the run. Worst case over the `m = a + 5 + 8n` dynamic bits:
//! `s_a + s_d = floor((m - 2) / 4)`, of which `s_a = floor((a - 2) / 4)` fall before BRS.
//!
//! The bit rate switches at the sample point of BRS and back at the sample point of the CRC
//! delimiter. With equal sample points in both phases, counting BRS at the nominal rate and the
//! CRC delimiter at the data rate gives the exact total. Without BRS every bit is nominal.
//! The CRC-17/21 *value* does not change the length (its stuffing is fixed), so only classic
//! frames compute their CRC.
//!
//! # Errors
//!
//! A frame that receivers reject with a CRC error occupies the bus up to its ACK delimiter, then
//! an error frame: 6-bit error flag, up to 6 bits of flags superposed by other nodes (we take the
//! worst case), 8-bit error delimiter, then the 3-bit intermission ([`ERROR_FRAME_BITS`]).

mod crc;
mod layout;
mod stuffing;

use std::time::Duration;

use crate::Error;
use crate::frame::CanFrame;

use layout::{EOF_BITS, IFS_BITS};

/// Error flag (6), superposed flags (up to 6) and error delimiter (8).
pub const ERROR_FRAME_BITS: u32 = 20;

/// How the simulator counts stuff bits.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Stuffing {
    /// Count the stuff bits of the frame's real bit string (CRC included). Realistic.
    #[default]
    Exact,
    /// Assume the worst case of the closed-form bound. What schedulability analysis uses.
    WorstCase,
}

/// The bus's bit rates and stuffing rule.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct BusTiming {
    nominal_bitrate: u32,
    data_bitrate: u32,
    stuffing: Stuffing,
}

/// Where a frame's bits go and how long it holds the bus.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FrameTime {
    /// Bits at the nominal rate: arbitration, ACK, EOF, intermission, their stuff bits.
    pub nominal_bits: u32,
    /// Bits at the data rate (CAN FD with bit rate switch only).
    pub data_bits: u32,
    /// Stuff bits included in the counts above.
    pub stuff_bits: u32,
    /// SOF to the end of EOF: when receivers accept the frame and the transmitter counts it sent.
    pub until_eof: Duration,
    /// SOF to the end of the intermission: when the next frame may start.
    pub duration: Duration,
    /// SOF to the end of the intermission when receivers reject the frame with a CRC error.
    pub with_error_frame: Duration,
}

const MAX_BITRATE: u32 = 100_000_000;

impl BusTiming {
    /// A classic CAN bus: one bit rate for everything.
    pub fn classic(bitrate: u32) -> Result<Self, Error> {
        Self::fd(bitrate, bitrate)
    }

    /// A CAN FD bus: `nominal` for arbitration, `data` for the data phase of BRS frames.
    pub fn fd(nominal: u32, data: u32) -> Result<Self, Error> {
        for rate in [nominal, data] {
            if rate == 0 || rate > MAX_BITRATE {
                return Err(Error::InvalidBitrate { bitrate: rate });
            }
        }
        Ok(Self { nominal_bitrate: nominal, data_bitrate: data, stuffing: Stuffing::Exact })
    }

    /// The same rates with another stuffing rule.
    pub fn with_stuffing(self, stuffing: Stuffing) -> Self {
        Self { stuffing, ..self }
    }

    /// Nominal (arbitration) bit rate in bit/s.
    pub fn nominal_bitrate(&self) -> u32 {
        self.nominal_bitrate
    }

    /// Data-phase bit rate in bit/s.
    pub fn data_bitrate(&self) -> u32 {
        self.data_bitrate
    }

    /// The stuffing rule.
    pub fn stuffing(&self) -> Stuffing {
        self.stuffing
    }

    /// Duration of `bits` bit times at the nominal rate.
    pub fn nominal_bits(&self, bits: u32) -> Duration {
        self.duration(bits, 0)
    }

    /// The bits and bus time of one frame.
    pub fn frame_time(&self, frame: &CanFrame) -> FrameTime {
        let bits = layout::frame_bits(frame, self.stuffing);
        let error_nominal = bits.nominal - EOF_BITS + ERROR_FRAME_BITS;
        FrameTime {
            nominal_bits: bits.nominal,
            data_bits: bits.data,
            stuff_bits: bits.stuff,
            until_eof: self.duration(bits.nominal - IFS_BITS, bits.data),
            duration: self.duration(bits.nominal, bits.data),
            with_error_frame: self.duration(error_nominal, bits.data),
        }
    }

    /// `nominal` bits at the nominal rate plus `data` bits at the data rate, to the nearest ns.
    fn duration(&self, nominal: u32, data: u32) -> Duration {
        let (rn, rd) = (u128::from(self.nominal_bitrate), u128::from(self.data_bitrate));
        let numerator = 1_000_000_000 * (u128::from(nominal) * rd + u128::from(data) * rn);
        let denominator = rn * rd;
        let nanos = (numerator + denominator / 2) / denominator;
        Duration::from_nanos(u64::try_from(nanos).unwrap_or(u64::MAX))
    }
}

impl Default for BusTiming {
    /// 500 kbit/s nominal and 2 Mbit/s data, the common automotive CAN FD setting.
    fn default() -> Self {
        Self { nominal_bitrate: 500_000, data_bitrate: 2_000_000, stuffing: Stuffing::Exact }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::frame::FdFlags;
    use crate::id::standard;

    #[test]
    fn classic_worst_case_duration() {
        let timing = BusTiming::classic(500_000).unwrap().with_stuffing(Stuffing::WorstCase);
        let frame = CanFrame::classic(standard(0x100).unwrap(), &[0; 8]).unwrap();
        let time = timing.frame_time(&frame);
        assert_eq!(time.duration, Duration::from_micros(270));
        assert_eq!(time.until_eof, Duration::from_micros(264));
        assert_eq!(time.with_error_frame, Duration::from_micros(270 + 26));
    }

    #[test]
    fn fd_split_rates() {
        let timing = BusTiming::fd(500_000, 2_000_000).unwrap();
        let frame = CanFrame::fd(
            standard(0x2AA).unwrap(),
            &[0x55; 16],
            FdFlags { brs: true, esi: false },
            0,
        )
        .unwrap();
        let time = timing.frame_time(&frame);
        // 29 nominal bits at 2 us, 161 data bits at 0.5 us.
        assert_eq!(time.duration, Duration::from_nanos(29 * 2000 + 161 * 500));
    }

    #[test]
    fn rejects_zero_bitrate() {
        assert!(BusTiming::classic(0).is_err());
    }
}
