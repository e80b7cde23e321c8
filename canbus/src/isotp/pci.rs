//! Protocol control information: the first byte(s) of every ISO-TP frame (normal addressing).
//!
//! ```text
//! single frame      0000 len(4)                      len 1-7, frames up to 8 bytes
//!                   0000 0000  len(8)                 CAN FD escape, frames over 8 bytes
//! first frame       0001 len(12)                      len 8..4095
//!                   0001 0000 0000 0000  len(32)      escape for len > 4095
//! consecutive       0010 SN(4)                        SN counts 1, 2, ... 15, 0, 1, ...
//! flow control      0011 FS(4)  BS(8)  STmin(8)       FS 0 continue, 1 wait, 2 overflow
//! ```

use super::config::IsoTpConfig;
use super::stmin::StMin;
use crate::Error;
use crate::dlc;
use crate::frame::{CanFrame, FdFlags};
use crate::id::Id;

/// Largest length the 12-bit first-frame field holds.
const FF_DL_12BIT_MAX: usize = 4095;
/// Fill byte for FD frames that must be padded to a valid length when no padding is configured.
const DEFAULT_FD_PAD: u8 = 0xCC;

/// Flow status of a flow control frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum FlowStatus {
    ContinueToSend = 0,
    Wait = 1,
    Overflow = 2,
}

/// A decoded ISO-TP frame, borrowing its payload.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Pdu<'a> {
    Single { data: &'a [u8] },
    First { len: u64, data: &'a [u8] },
    Consecutive { sn: u8, data: &'a [u8] },
    FlowControl { status: u8, block_size: u8, st_min: StMin },
}

fn malformed(reason: &'static str) -> Error {
    Error::MalformedPdu { reason }
}

/// Reads the PCI of `frame`. Frames that break the length rules are errors; the caller ignores
/// them, as the standard asks (9.8.3).
pub(crate) fn decode(frame: &CanFrame) -> Result<Pdu<'_>, Error> {
    let bytes = frame.data();
    let Some(&first) = bytes.first() else { return Err(malformed("empty frame")) };
    let can_dl = bytes.len();
    match first >> 4 {
        0 => {
            let (len, offset) = if can_dl <= 8 {
                (usize::from(first & 0x0F), 1)
            } else if first & 0x0F == 0 {
                (usize::from(bytes[1]), 2)
            } else {
                return Err(malformed("single frame over 8 bytes without the escape length"));
            };
            if len == 0 || offset + len > can_dl {
                return Err(malformed("single frame length does not fit the frame"));
            }
            Ok(Pdu::Single { data: &bytes[offset..offset + len] })
        }
        1 => {
            if can_dl < 8 {
                return Err(malformed("first frame shorter than 8 bytes"));
            }
            let short = (usize::from(first & 0x0F) << 8) | usize::from(bytes[1]);
            let (len, offset) = if short != 0 {
                (short as u64, 2)
            } else {
                let long = u32::from_be_bytes([bytes[2], bytes[3], bytes[4], bytes[5]]);
                if (long as usize) <= FF_DL_12BIT_MAX {
                    return Err(malformed("first frame escape for a length under 4096"));
                }
                (u64::from(long), 6)
            };
            // A message that fits a single frame of this size must not be segmented.
            let single_max = if can_dl == 8 { 7 } else { can_dl - 2 };
            if len <= single_max as u64 {
                return Err(malformed("first frame for a message that fits a single frame"));
            }
            Ok(Pdu::First { len, data: &bytes[offset..] })
        }
        2 => Ok(Pdu::Consecutive { sn: first & 0x0F, data: &bytes[1..] }),
        3 => {
            if can_dl < 3 {
                return Err(malformed("flow control shorter than 3 bytes"));
            }
            Ok(Pdu::FlowControl {
                status: first & 0x0F,
                block_size: bytes[1],
                st_min: StMin::from_raw(bytes[2]),
            })
        }
        _ => Err(malformed("unknown PCI type")),
    }
}

/// Builds the frames of one channel: identifier, format, TX_DL and padding.
#[derive(Clone, Debug)]
pub(crate) struct Framer {
    id: Id,
    fd: Option<FdFlags>,
    tx_dl: usize,
    padding: Option<u8>,
}

impl Framer {
    pub(crate) fn new(config: &IsoTpConfig) -> Self {
        Self { id: config.tx_id, fd: config.fd, tx_dl: config.tx_dl, padding: config.padding }
    }

    /// Largest payload of a single frame.
    pub(crate) fn single_max(&self) -> usize {
        if self.tx_dl == 8 { 7 } else { self.tx_dl - 2 }
    }

    /// Payload bytes a first frame carries for a message of `len` bytes.
    pub(crate) fn first_payload(&self, len: usize) -> usize {
        if len > FF_DL_12BIT_MAX { self.tx_dl - 6 } else { self.tx_dl - 2 }
    }

    /// Payload bytes per consecutive frame.
    pub(crate) fn consecutive_payload(&self) -> usize {
        self.tx_dl - 1
    }

    fn frame(&self, bytes: &[u8]) -> Result<CanFrame, Error> {
        let pad = self.padding.unwrap_or(DEFAULT_FD_PAD);
        let len = match (self.fd, self.padding) {
            (_, Some(_)) if bytes.len() < 8 => 8,
            _ => bytes.len(),
        };
        let mut buffer = [pad; dlc::FD_MAX_LEN];
        buffer[..bytes.len()].copy_from_slice(bytes);
        match self.fd {
            None => CanFrame::classic(self.id, &buffer[..len]),
            Some(flags) => CanFrame::fd(self.id, &buffer[..len], flags, pad),
        }
    }

    pub(crate) fn single(&self, data: &[u8]) -> Result<CanFrame, Error> {
        let mut bytes = [0; dlc::FD_MAX_LEN];
        let header: &[u8] =
            if data.len() <= 7 { &[data.len() as u8] } else { &[0, data.len() as u8] };
        bytes[..header.len()].copy_from_slice(header);
        bytes[header.len()..header.len() + data.len()].copy_from_slice(data);
        self.frame(&bytes[..header.len() + data.len()])
    }

    pub(crate) fn first(&self, len: usize, data: &[u8]) -> Result<CanFrame, Error> {
        let mut bytes = [0; dlc::FD_MAX_LEN];
        let header_len = if len > FF_DL_12BIT_MAX {
            bytes[0] = 0x10;
            let long = u32::try_from(len).map_err(|_| Error::InvalidMessageLength { len })?;
            bytes[2..6].copy_from_slice(&long.to_be_bytes());
            6
        } else {
            bytes[0] = 0x10 | (len >> 8) as u8;
            bytes[1] = len as u8;
            2
        };
        bytes[header_len..header_len + data.len()].copy_from_slice(data);
        self.frame(&bytes[..header_len + data.len()])
    }

    pub(crate) fn consecutive(&self, sn: u8, data: &[u8]) -> Result<CanFrame, Error> {
        let mut bytes = [0; dlc::FD_MAX_LEN];
        bytes[0] = 0x20 | (sn & 0x0F);
        bytes[1..=data.len()].copy_from_slice(data);
        self.frame(&bytes[..=data.len()])
    }

    pub(crate) fn flow_control(
        &self,
        status: FlowStatus,
        block_size: u8,
        st_min: StMin,
    ) -> Result<CanFrame, Error> {
        self.frame(&[0x30 | status as u8, block_size, st_min.raw()])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::id::standard;

    fn framer(fd: bool, padding: Option<u8>) -> Framer {
        let (tx, rx) = (standard(0x7E0).unwrap(), standard(0x7E8).unwrap());
        let mut config = if fd { IsoTpConfig::fd(tx, rx) } else { IsoTpConfig::classic(tx, rx) };
        config.padding = padding;
        Framer::new(&config)
    }

    #[test]
    fn single_frames_round_trip() {
        let classic = framer(false, None);
        let frame = classic.single(&[1, 2, 3]).unwrap();
        assert_eq!(frame.data(), &[3, 1, 2, 3]);
        assert_eq!(decode(&frame).unwrap(), Pdu::Single { data: &[1, 2, 3] });
        let padded = framer(false, Some(0xAA)).single(&[1]).unwrap();
        assert_eq!(padded.data(), &[1, 1, 0xAA, 0xAA, 0xAA, 0xAA, 0xAA, 0xAA]);

        let fd = framer(true, None);
        let frame = fd.single(&[9; 20]).unwrap();
        assert_eq!(frame.len(), 24);
        assert_eq!(&frame.data()[..2], &[0, 20]);
        assert_eq!(decode(&frame).unwrap(), Pdu::Single { data: &[9; 20] });
        assert_eq!(fd.single_max(), 62);
    }

    #[test]
    fn first_frame_escape() {
        let fd = framer(true, None);
        let frame = fd.first(1 << 20, &[7; 58]).unwrap();
        assert_eq!(&frame.data()[..6], &[0x10, 0, 0, 0x10, 0, 0]);
        assert_eq!(decode(&frame).unwrap(), Pdu::First { len: 1 << 20, data: &[7; 58] });
        let classic = framer(false, None);
        let frame = classic.first(4095, &[1; 6]).unwrap();
        assert_eq!(&frame.data()[..2], &[0x1F, 0xFF]);
    }

    #[test]
    fn rejects_bad_lengths() {
        let id = standard(1).unwrap();
        let bad = [
            CanFrame::classic(id, &[0x00, 1]).unwrap(),
            CanFrame::classic(id, &[0x05, 1, 2]).unwrap(),
            CanFrame::classic(id, &[0x10, 0x07, 1, 2, 3, 4, 5, 6]).unwrap(),
            CanFrame::classic(id, &[0x10, 0, 0, 0, 0x0F, 0xFF, 1, 2]).unwrap(),
            CanFrame::classic(id, &[0x30, 0]).unwrap(),
            CanFrame::classic(id, &[0x40]).unwrap(),
        ];
        for frame in bad {
            assert!(decode(&frame).is_err(), "{frame:?}");
        }
    }
}
