//! CAN and CAN FD frames.
//!
//! One type carries classic data frames (0-8 bytes), classic remote frames and CAN FD frames
//! (0-64 bytes in the lengths the DLC can express), because a bus, a filter or a daemon socket
//! handles all three alike; only the timing and the wire layout look at the difference.
//! It implements [`embedded_can::Frame`], so code written against this mock can later drive a
//! SocketCAN interface unchanged.

use std::fmt;

use crate::Error;
use crate::dlc::{self, CLASSIC_MAX_LEN, FD_MAX_LEN};
use crate::id::{self, Id};

/// The CAN FD control bits beyond those of a classic frame.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct FdFlags {
    /// Bit rate switch: the data phase runs at the data bit rate instead of the nominal one.
    pub brs: bool,
    /// Error state indicator: the transmitter was error passive when it sent the frame.
    pub esi: bool,
}

/// Which of the three frame formats a [`CanFrame`] has.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum FrameFormat {
    /// Classic CAN data frame, 0-8 bytes.
    Classic,
    /// Classic CAN remote frame: asks for data, carries none; its DLC names the length asked.
    Remote,
    /// CAN FD data frame (FD has no remote frames).
    Fd(FdFlags),
}

/// A frame as it appears on the bus: identifier, format and payload.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct CanFrame {
    id: Id,
    format: FrameFormat,
    /// Payload length, or for a remote frame the requested length (its DLC).
    len: u8,
    /// Bytes past `len` are always zero, so derived equality compares payloads only.
    data: [u8; FD_MAX_LEN],
}

impl CanFrame {
    /// A classic data frame with 0-8 bytes.
    pub fn classic(id: impl Into<Id>, data: &[u8]) -> Result<Self, Error> {
        if data.len() > CLASSIC_MAX_LEN {
            return Err(Error::PayloadTooLong { len: data.len(), max: CLASSIC_MAX_LEN });
        }
        Ok(Self::with_payload(id.into(), FrameFormat::Classic, data, data.len()))
    }

    /// A classic remote frame asking for `len` (0-8) bytes.
    pub fn remote(id: impl Into<Id>, len: usize) -> Result<Self, Error> {
        if len > CLASSIC_MAX_LEN {
            return Err(Error::PayloadTooLong { len, max: CLASSIC_MAX_LEN });
        }
        Ok(Self::with_payload(id.into(), FrameFormat::Remote, &[], len))
    }

    /// A CAN FD frame. Lengths the DLC cannot express are padded with `pad` up to the next valid
    /// length (12, 16, 20, 24, 32, 48, 64), as an FD controller requires.
    pub fn fd(id: impl Into<Id>, data: &[u8], flags: FdFlags, pad: u8) -> Result<Self, Error> {
        let len = dlc::fd_padded_len(data.len())
            .ok_or(Error::PayloadTooLong { len: data.len(), max: FD_MAX_LEN })?;
        let mut frame = Self::with_payload(id.into(), FrameFormat::Fd(flags), data, len);
        frame.data[data.len()..len].fill(pad);
        Ok(frame)
    }

    fn with_payload(id: Id, format: FrameFormat, data: &[u8], len: usize) -> Self {
        let mut bytes = [0; FD_MAX_LEN];
        bytes[..data.len()].copy_from_slice(data);
        // Callers checked `len <= 64`.
        Self { id, format, len: len as u8, data: bytes }
    }

    /// The identifier.
    pub fn id(&self) -> Id {
        self.id
    }

    /// The identifier's value without format flags.
    pub fn raw_id(&self) -> u32 {
        id::raw(self.id)
    }

    /// The frame format.
    pub fn format(&self) -> FrameFormat {
        self.format
    }

    /// The payload (empty for remote frames).
    pub fn data(&self) -> &[u8] {
        match self.format {
            FrameFormat::Remote => &[],
            _ => &self.data[..usize::from(self.len)],
        }
    }

    /// Payload length in bytes (the requested length for a remote frame).
    pub fn len(&self) -> usize {
        self.len.into()
    }

    /// True when the frame carries no payload bytes.
    pub fn is_empty(&self) -> bool {
        self.data().is_empty()
    }

    /// The 4-bit DLC code sent on the wire (0-15; above 8 only for FD frames).
    pub fn dlc_code(&self) -> u8 {
        match self.format {
            FrameFormat::Fd(_) => dlc::fd_dlc(self.len.into()).unwrap_or(15),
            _ => self.len,
        }
    }

    /// True for a CAN FD frame.
    pub fn is_fd(&self) -> bool {
        matches!(self.format, FrameFormat::Fd(_))
    }

    /// FD flags, `None` for classic frames.
    pub fn fd_flags(&self) -> Option<FdFlags> {
        match self.format {
            FrameFormat::Fd(flags) => Some(flags),
            _ => None,
        }
    }

    /// True for a 29-bit identifier.
    pub fn is_extended_id(&self) -> bool {
        matches!(self.id, Id::Extended(_))
    }

    /// True for a classic remote frame.
    pub fn is_remote(&self) -> bool {
        self.format == FrameFormat::Remote
    }
}

impl fmt::Debug for CanFrame {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let width = if self.is_extended_id() { 8 } else { 3 };
        write!(f, "{:0width$X}", self.raw_id())?;
        match self.format {
            FrameFormat::Classic => write!(f, " [{}]", self.len)?,
            FrameFormat::Remote => write!(f, " R[{}]", self.len)?,
            FrameFormat::Fd(flags) => {
                write!(f, " FD{}[{}]", if flags.brs { "+BRS" } else { "" }, self.len)?;
            }
        }
        for byte in self.data() {
            write!(f, " {byte:02X}")?;
        }
        Ok(())
    }
}

/// Lets `embedded-can` code build and read our frames. [`embedded_can::Frame::new`] makes a
/// classic frame up to 8 bytes and an FD frame with bit rate switching (zero-padded) above.
impl embedded_can::Frame for CanFrame {
    fn new(id: impl Into<Id>, data: &[u8]) -> Option<Self> {
        if data.len() <= CLASSIC_MAX_LEN {
            Self::classic(id, data).ok()
        } else {
            Self::fd(id, data, FdFlags { brs: true, esi: false }, 0).ok()
        }
    }

    fn new_remote(id: impl Into<Id>, dlc: usize) -> Option<Self> {
        Self::remote(id, dlc).ok()
    }

    fn is_extended(&self) -> bool {
        self.is_extended_id()
    }

    fn is_remote_frame(&self) -> bool {
        self.is_remote()
    }

    fn id(&self) -> Id {
        self.id
    }

    fn dlc(&self) -> usize {
        self.dlc_code().into()
    }

    fn data(&self) -> &[u8] {
        CanFrame::data(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::id::{extended, standard};
    use embedded_can::Frame as _;

    #[test]
    fn classic_limits() {
        let id = standard(0x123).unwrap();
        assert_eq!(CanFrame::classic(id, &[1; 8]).unwrap().len(), 8);
        assert!(CanFrame::classic(id, &[1; 9]).is_err());
        let remote = CanFrame::remote(id, 4).unwrap();
        assert!(remote.is_remote_frame());
        assert_eq!(remote.dlc(), 4);
        assert!(remote.data().is_empty());
    }

    #[test]
    fn fd_pads_to_valid_length() {
        let id = extended(0x18DA_F110).unwrap();
        let frame = CanFrame::fd(id, &[7; 9], FdFlags::default(), 0xCC).unwrap();
        assert_eq!(frame.len(), 12);
        assert_eq!(frame.dlc(), 9);
        assert_eq!(&frame.data()[9..], &[0xCC; 3]);
        assert!(CanFrame::fd(id, &[0; 65], FdFlags::default(), 0).is_err());
    }

    #[test]
    fn embedded_can_new_picks_format() {
        let id = standard(1).unwrap();
        assert!(!CanFrame::new(id, &[0; 8]).unwrap().is_fd());
        let fd = CanFrame::new(id, &[0; 20]).unwrap();
        assert_eq!(fd.fd_flags(), Some(FdFlags { brs: true, esi: false }));
        assert_eq!(format!("{fd:?}").split_whitespace().next(), Some("001"));
    }
}
