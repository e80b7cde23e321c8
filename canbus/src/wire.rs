//! Frames on the hub daemon's socket, in the byte layout of Linux SocketCAN.
//!
//! Each record is a `struct can_frame` (16 bytes) or `struct canfd_frame` (72 bytes), exactly
//! as a raw CAN socket reads and writes them, so tools that speak SocketCAN structures can be
//! bridged to the hub byte for byte:
//!
//! ```text
//! offset  can_frame (CAN_MTU 16)        canfd_frame (CANFD_MTU 72)
//! 0..4    can_id (host byte order):     can_id
//!         bit 31 EFF (29-bit id), bit 30 RTR, bit 29 ERR, bits 0..28 the identifier
//! 4       len (0..8)                    len (0..64, a valid FD length)
//! 5       __pad = 0                     flags: 0x01 BRS, 0x02 ESI, 0x04 FDF (always set)
//! 6       __res0: record kind           __res0: record kind
//! 7       len8_dlc = 0                  __res1 = 0
//! 8..     data[8]                       data[64]
//! ```
//!
//! A stream socket has no message boundaries, so the size is read from the FDF flag, which
//! Linux sets in every `canfd_frame` for exactly this purpose (and which is zero padding in a
//! `can_frame`). The reserved byte at offset 6 says what the record is: 0 a frame from the bus
//! (and every frame a client sends), 1 the daemon's confirmation that the client's oldest
//! unconfirmed frame went out on the bus, 2 that it could not be sent (bus saturated or
//! bus-off). Error frames (ERR flag) are not carried.

use crate::Error;
use crate::frame::{CanFrame, FdFlags, FrameFormat};
use crate::id::{self, Id};

/// Size of a `struct can_frame`.
pub const CAN_MTU: usize = 16;
/// Size of a `struct canfd_frame`.
pub const CANFD_MTU: usize = 72;

const CAN_EFF_FLAG: u32 = 0x8000_0000;
const CAN_RTR_FLAG: u32 = 0x4000_0000;
const CAN_ERR_FLAG: u32 = 0x2000_0000;
const CAN_EFF_MASK: u32 = 0x1FFF_FFFF;
const CANFD_BRS: u8 = 0x01;
const CANFD_ESI: u8 = 0x02;
const CANFD_FDF: u8 = 0x04;
const HEADER: usize = 8;

/// What a record on the daemon socket means.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RecordKind {
    /// A frame: from the bus (daemon to client) or to send (client to daemon).
    Frame = 0,
    /// The client's oldest unconfirmed frame was transmitted.
    Sent = 1,
    /// The client's oldest unconfirmed frame could not be transmitted.
    Failed = 2,
}

/// One record: a frame and what it means.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Record {
    /// Its meaning.
    pub kind: RecordKind,
    /// The frame.
    pub frame: CanFrame,
}

/// Encodes a record; returns the buffer and how many of its bytes to send (16 or 72).
pub fn encode(record: &Record) -> ([u8; CANFD_MTU], usize) {
    let frame = &record.frame;
    let mut bytes = [0; CANFD_MTU];
    let mut can_id = frame.raw_id();
    if frame.is_extended_id() {
        can_id |= CAN_EFF_FLAG;
    }
    if frame.is_remote() {
        can_id |= CAN_RTR_FLAG;
    }
    bytes[0..4].copy_from_slice(&can_id.to_ne_bytes());
    bytes[4] = frame.len() as u8;
    bytes[6] = record.kind as u8;
    let size = match frame.format() {
        FrameFormat::Fd(flags) => {
            bytes[5] = CANFD_FDF
                | if flags.brs { CANFD_BRS } else { 0 }
                | if flags.esi { CANFD_ESI } else { 0 };
            CANFD_MTU
        }
        _ => CAN_MTU,
    };
    bytes[HEADER..HEADER + frame.data().len()].copy_from_slice(frame.data());
    (bytes, size)
}

/// The full size of the record whose first 8 bytes are `header`.
pub fn record_size(header: &[u8]) -> usize {
    if header.get(5).is_some_and(|flags| flags & CANFD_FDF != 0) { CANFD_MTU } else { CAN_MTU }
}

fn malformed(reason: &'static str) -> Error {
    Error::MalformedRecord { reason }
}

/// Decodes one complete record (16 or 72 bytes).
pub fn decode(bytes: &[u8]) -> Result<Record, Error> {
    if bytes.len() < HEADER || bytes.len() != record_size(bytes) {
        return Err(malformed("record size does not match its FDF flag"));
    }
    let can_id = u32::from_ne_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]);
    if can_id & CAN_ERR_FLAG != 0 {
        return Err(malformed("error frames are not carried"));
    }
    let identifier: Id = if can_id & CAN_EFF_FLAG != 0 {
        id::extended(can_id & CAN_EFF_MASK)?
    } else {
        u16::try_from(can_id & CAN_EFF_MASK)
            .map_err(|_| malformed("11-bit identifier out of range"))
            .and_then(id::standard)?
    };
    let kind = match bytes[6] {
        0 => RecordKind::Frame,
        1 => RecordKind::Sent,
        2 => RecordKind::Failed,
        _ => return Err(malformed("unknown record kind")),
    };
    let len = usize::from(bytes[4]);
    let frame = if bytes.len() == CANFD_MTU {
        let flags = FdFlags { brs: bytes[5] & CANFD_BRS != 0, esi: bytes[5] & CANFD_ESI != 0 };
        if len > 64 || crate::dlc::fd_dlc(len).is_none() {
            return Err(malformed("CAN FD length is not a valid DLC length"));
        }
        CanFrame::fd(identifier, &bytes[HEADER..HEADER + len], flags, 0)?
    } else if can_id & CAN_RTR_FLAG != 0 {
        CanFrame::remote(identifier, len)?
    } else {
        if len > 8 {
            return Err(malformed("classic frame longer than 8 bytes"));
        }
        CanFrame::classic(identifier, &bytes[HEADER..HEADER + len])?
    };
    Ok(Record { kind, frame })
}

/// Reassembles records from a byte stream that may split them anywhere.
#[derive(Debug, Default)]
pub struct RecordBuffer {
    bytes: Vec<u8>,
}

impl RecordBuffer {
    /// An empty buffer.
    pub fn new() -> Self {
        Self::default()
    }

    /// Appends bytes read from the stream.
    pub fn extend(&mut self, bytes: &[u8]) {
        self.bytes.extend_from_slice(bytes);
    }

    /// The next complete record, if the buffer holds one.
    pub fn next_record(&mut self) -> Result<Option<Record>, Error> {
        if self.bytes.len() < HEADER {
            return Ok(None);
        }
        let size = record_size(&self.bytes);
        if self.bytes.len() < size {
            return Ok(None);
        }
        let record = decode(&self.bytes[..size]);
        self.bytes.drain(..size);
        record.map(Some)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::id::{extended, standard};

    #[test]
    fn classic_layout() {
        let frame = CanFrame::classic(standard(0x123).unwrap(), &[1, 2, 3]).unwrap();
        let (bytes, size) = encode(&Record { kind: RecordKind::Frame, frame });
        assert_eq!(size, CAN_MTU);
        assert_eq!(&bytes[..4], &0x123u32.to_ne_bytes());
        assert_eq!(&bytes[4..11], &[3, 0, 0, 0, 1, 2, 3]);
        assert_eq!(decode(&bytes[..size]).unwrap().frame, frame);
    }

    #[test]
    fn fd_layout_and_stream_reassembly() {
        let id = extended(0x18DA_F110).unwrap();
        let frame = CanFrame::fd(id, &[9; 20], FdFlags { brs: true, esi: false }, 0).unwrap();
        let (bytes, size) = encode(&Record { kind: RecordKind::Sent, frame });
        assert_eq!(size, CANFD_MTU);
        assert_eq!(&bytes[..4], &(0x18DA_F110u32 | CAN_EFF_FLAG).to_ne_bytes());
        assert_eq!(&bytes[4..7], &[20, CANFD_FDF | CANFD_BRS, 1]);
        let remote = CanFrame::remote(standard(7).unwrap(), 2).unwrap();
        let (more, more_size) = encode(&Record { kind: RecordKind::Frame, frame: remote });
        let mut buffer = RecordBuffer::new();
        let mut stream = bytes[..size].to_vec();
        stream.extend_from_slice(&more[..more_size]);
        buffer.extend(&stream[..50]);
        assert_eq!(buffer.next_record().unwrap(), None);
        buffer.extend(&stream[50..]);
        assert_eq!(buffer.next_record().unwrap(), Some(Record { kind: RecordKind::Sent, frame }));
        let decoded = buffer.next_record().unwrap().unwrap();
        assert!(decoded.frame.is_remote());
        assert_eq!(decoded.frame.len(), 2);
        assert_eq!(buffer.next_record().unwrap(), None);
    }

    #[test]
    fn rejects_bad_records() {
        let mut bytes = [0u8; CAN_MTU];
        bytes[4] = 9;
        assert!(decode(&bytes).is_err());
        let mut bytes = [0u8; CAN_MTU];
        bytes[..4].copy_from_slice(&CAN_ERR_FLAG.to_ne_bytes());
        assert!(decode(&bytes).is_err());
        let mut bytes = [0u8; CAN_MTU];
        bytes[..4].copy_from_slice(&0x800u32.to_ne_bytes());
        assert!(decode(&bytes).is_err());
    }
}
