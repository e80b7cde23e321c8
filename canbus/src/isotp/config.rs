//! ISO-TP channel parameters.

use std::fmt;
use std::time::Duration;

use super::stmin::StMin;
use crate::Error;
use crate::dlc;
use crate::frame::FdFlags;
use crate::id::Id;

/// The protocol timers of ISO 15765-2 (9.7, table 16), measured on the link's clock.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Timer {
    /// Sender: a frame must be transmitted within N_As of being queued.
    As,
    /// Receiver: a flow control frame must be transmitted within N_Ar.
    Ar,
    /// Sender: the next flow control frame must arrive within N_Bs.
    Bs,
    /// Receiver: the next consecutive frame must arrive within N_Cr.
    Cr,
}

impl fmt::Display for Timer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::As => "N_As",
            Self::Ar => "N_Ar",
            Self::Bs => "N_Bs",
            Self::Cr => "N_Cr",
        })
    }
}

/// Timer values. The defaults are the standard's 1000 ms for each.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Timeouts {
    /// N_As.
    pub n_as: Duration,
    /// N_Ar.
    pub n_ar: Duration,
    /// N_Bs.
    pub n_bs: Duration,
    /// N_Cr.
    pub n_cr: Duration,
}

impl Default for Timeouts {
    fn default() -> Self {
        let second = Duration::from_secs(1);
        Self { n_as: second, n_ar: second, n_bs: second, n_cr: second }
    }
}

/// Limits on a whole segmented transfer, beyond the per-frame timers. A peer can keep every
/// timer happy (a frame every 999 ms) and still take hours over a firmware image: this is the
/// slow-retrieval defence, measured on the link's clock from the first frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct TransferGuard {
    /// After `grace`, abort when the average rate falls below this many bytes per second.
    pub min_bytes_per_sec: Option<u64>,
    /// How long a transfer may start slowly before the rate counts.
    pub grace: Duration,
    /// Abort any transfer that takes longer than this.
    pub deadline: Option<Duration>,
}

impl TransferGuard {
    /// No whole-transfer limit: only the per-frame timers apply.
    pub const NONE: Self = Self { min_bytes_per_sec: None, grace: Duration::ZERO, deadline: None };
}

impl Default for TransferGuard {
    /// 1 KiB/s averaged after 10 s, the limit the Primary applies to HTTP downloads.
    fn default() -> Self {
        Self { min_bytes_per_sec: Some(1024), grace: Duration::from_secs(10), deadline: None }
    }
}

/// One ISO-TP channel with normal addressing: we send on `tx_id` and listen on `rx_id`.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct IsoTpConfig {
    /// Identifier of the frames we send.
    pub tx_id: Id,
    /// Identifier of the frames we accept; all others are ignored.
    pub rx_id: Id,
    /// `Some` to send CAN FD frames with these flags, `None` for classic frames.
    pub fd: Option<FdFlags>,
    /// TX_DL: the largest frame we send, 8 for classic, up to 64 for FD.
    pub tx_dl: usize,
    /// Fill byte for unused frame bytes. `Some`: classic frames and FD frames under 8 bytes are
    /// padded to 8. `None`: frames are as short as their content (FD frames still pad up to the
    /// next valid length, with 0xCC).
    pub padding: Option<u8>,
    /// Block size we grant as receiver (0: the sender may send everything at once).
    pub block_size: u8,
    /// Separation time we ask for as receiver.
    pub st_min: StMin,
    /// N_WFTmax: flow-control wait frames we accept in a row as sender before giving up.
    pub max_wait_frames: u8,
    /// FC.Wait frames we send as receiver before granting a first frame (a receiver that needs
    /// time to prepare, such as erasing flash), spaced by `wait_frame_gap`.
    pub wait_frames: u8,
    /// Time between those wait frames.
    pub wait_frame_gap: Duration,
    /// Protocol timers.
    pub timeouts: Timeouts,
    /// Largest message we accept as receiver; a longer first frame gets FC.Overflow.
    pub max_message_len: usize,
    /// Whole-transfer limits, as sender and as receiver.
    pub guard: TransferGuard,
}

impl IsoTpConfig {
    /// Classic CAN frames, padded with 0xCC, no flow-control restrictions, 16 MiB limit.
    pub fn classic(tx_id: Id, rx_id: Id) -> Self {
        Self {
            tx_id,
            rx_id,
            fd: None,
            tx_dl: 8,
            padding: Some(0xCC),
            block_size: 0,
            st_min: StMin::ZERO,
            max_wait_frames: 10,
            wait_frames: 0,
            wait_frame_gap: Duration::from_millis(100),
            timeouts: Timeouts::default(),
            max_message_len: 16 << 20,
            guard: TransferGuard::default(),
        }
    }

    /// CAN FD frames of up to 64 bytes with bit rate switching.
    pub fn fd(tx_id: Id, rx_id: Id) -> Self {
        Self {
            fd: Some(FdFlags { brs: true, esi: false }),
            tx_dl: 64,
            ..Self::classic(tx_id, rx_id)
        }
    }

    pub(crate) fn validate(&self) -> Result<(), Error> {
        let reason = if self.tx_id == self.rx_id {
            "transmit and receive identifiers must differ"
        } else if self.fd.is_none() && self.tx_dl != 8 {
            "classic CAN frames carry 8 bytes (tx_dl must be 8)"
        } else if self.fd.is_some() && (self.tx_dl < 8 || dlc::fd_dlc(self.tx_dl).is_none()) {
            "tx_dl must be one of 8, 12, 16, 20, 24, 32, 48, 64"
        } else if self.max_message_len == 0 {
            "max_message_len must be at least 1"
        } else {
            return Ok(());
        };
        Err(Error::InvalidConfig { reason })
    }
}
