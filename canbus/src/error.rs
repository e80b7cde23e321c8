//! The crate's one error type.
//!
//! ISO-TP failures get a variant each (rather than one "transfer failed") because the layer
//! above reacts differently: a UDS client retries after a timeout, reports a peer that refused
//! the size, and treats a sequence error as a corrupted transfer.

use std::io;
use std::time::Duration;

use crate::isotp::Timer;

/// Everything that can go wrong on the bus, in the daemon link, or in an ISO-TP transfer.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A payload longer than the frame format carries.
    #[error("payload of {len} bytes does not fit a frame (at most {max})")]
    PayloadTooLong {
        /// Bytes offered.
        len: usize,
        /// Bytes the format carries.
        max: usize,
    },
    /// An identifier outside 11 or 29 bits.
    #[error("CAN identifier {raw:#X} is out of range")]
    InvalidId {
        /// The value given.
        raw: u32,
    },
    /// A bit rate of zero or above 100 Mbit/s.
    #[error("bit rate {bitrate} bit/s is out of range")]
    InvalidBitrate {
        /// The value given.
        bitrate: u32,
    },
    /// A configuration value that cannot work.
    #[error("invalid configuration: {reason}")]
    InvalidConfig {
        /// What is wrong.
        reason: &'static str,
    },
    /// The hub was closed, or the daemon connection ended.
    #[error("the CAN hub is closed")]
    Closed,
    /// The controller could not send the queued frames in time (bus saturated by higher
    /// priority traffic, or a babbling node).
    #[error("frame not transmitted within {timeout:?}")]
    TxTimeout {
        /// How long the link waited without progress.
        timeout: Duration,
    },
    /// The node's transmit error counter passed 255: it may not send until it recovers.
    #[error("the CAN controller is bus-off")]
    BusOff,
    /// An I/O error on the daemon socket.
    #[error("{context}: {source}")]
    Io {
        /// What we were doing.
        context: &'static str,
        /// The underlying error.
        #[source]
        source: io::Error,
    },
    /// A daemon socket record that is not a valid SocketCAN frame.
    #[error("malformed SocketCAN record: {reason}")]
    MalformedRecord {
        /// What is wrong with it.
        reason: &'static str,
    },
    /// An ISO-TP timer ran out (ISO 15765-2 N_TIMEOUT_A / _Bs / _Cr).
    #[error("ISO-TP timeout: {timer} expired after {after:?}")]
    Timeout {
        /// Which timer.
        timer: Timer,
        /// Its configured value.
        after: Duration,
    },
    /// A consecutive frame carried the wrong sequence number (N_WRONG_SN): a frame was lost.
    #[error("ISO-TP sequence error: expected SN {expected}, got {got}")]
    WrongSequence {
        /// The sequence number due.
        expected: u8,
        /// The sequence number received.
        got: u8,
    },
    /// A new single or first frame arrived in the middle of a reception (N_UNEXP_PDU). The
    /// reception is abandoned and the new frame starts the next one.
    #[error("ISO-TP unexpected {kind} during a segmented reception")]
    UnexpectedFrame {
        /// "single frame" or "first frame".
        kind: &'static str,
    },
    /// A frame on the channel that breaks the protocol's length rules.
    #[error("malformed ISO-TP frame: {reason}")]
    MalformedPdu {
        /// What is wrong with it.
        reason: &'static str,
    },
    /// The receiver answered the first frame with FC.Overflow (N_BUFFER_OVFLW).
    #[error("ISO-TP peer refused a {len}-byte message (flow control overflow)")]
    PeerOverflow {
        /// The length we announced.
        len: u64,
    },
    /// A first frame announced more than this receiver accepts; it replied FC.Overflow.
    #[error("ISO-TP message of {len} bytes exceeds the limit of {max}")]
    MessageTooLarge {
        /// Announced length.
        len: u64,
        /// Configured maximum.
        max: usize,
    },
    /// The receiver sent more FC.Wait frames in a row than allowed (N_WFT_OVRN).
    #[error("ISO-TP peer sent more than {max} flow-control wait frames")]
    WaitLimit {
        /// The configured N_WFTmax.
        max: u8,
    },
    /// A flow control frame with a reserved flow status (N_INVALID_FS).
    #[error("ISO-TP flow control with invalid flow status {status:#X}")]
    InvalidFlowStatus {
        /// The status nibble.
        status: u8,
    },
    /// The transfer fell under the configured minimum throughput (slow retrieval defence).
    #[error("ISO-TP transfer too slow: {bytes} bytes in {elapsed:?}")]
    TooSlow {
        /// Bytes moved so far.
        bytes: u64,
        /// Time since the first frame.
        elapsed: Duration,
    },
    /// The transfer ran past its configured deadline.
    #[error("ISO-TP transfer exceeded its deadline of {deadline:?}")]
    DeadlineExceeded {
        /// The configured deadline.
        deadline: Duration,
    },
    /// ISO-TP carries 1 to 4294967295 bytes.
    #[error("ISO-TP cannot carry a message of {len} bytes")]
    InvalidMessageLength {
        /// The length given.
        len: usize,
    },
}

/// Lets `embedded-can` callers classify our errors. Bus-level detail (CRC, stuff, form errors)
/// is handled by the simulated controller itself, so what surfaces here is "other".
impl embedded_can::Error for Error {
    fn kind(&self) -> embedded_can::ErrorKind {
        embedded_can::ErrorKind::Other
    }
}
