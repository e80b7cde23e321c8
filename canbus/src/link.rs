//! What ISO-TP (and the UDS layer above it) needs from a CAN interface.
//!
//! `embedded_can::blocking::Can` has no clock, no deadlines and no transmit confirmation, all of
//! which ISO 15765-2 timing depends on (N_As is "until the frame was sent", STmin is "after the
//! previous frame was sent"). This trait adds them, in terms of the link's own clock, so the
//! same ISO-TP code runs on the virtual-time hub, on a daemon client and, later, on SocketCAN.

use std::time::Duration;

use crate::Error;
use crate::frame::CanFrame;
use crate::time::Timestamp;

/// A frame taken off the bus, with the time the receiving controller accepted it (end of EOF).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Received {
    /// The frame.
    pub frame: CanFrame,
    /// When it arrived, on the link's clock.
    pub timestamp: Timestamp,
}

/// A CAN interface with a clock, transmit confirmation and deadlines.
pub trait CanLink {
    /// The link's clock.
    fn now(&self) -> Timestamp;

    /// Queues `frame` for transmission at least `gap` after this link's previous frame finished
    /// (ISO-TP's STmin). Blocks while the transmit queue is full, failing with
    /// [`Error::TxTimeout`] if no queued frame goes out for `timeout`.
    fn send(&mut self, frame: &CanFrame, gap: Duration, timeout: Duration) -> Result<(), Error>;

    /// Waits until every queued frame has been transmitted and returns when the last one
    /// finished. Fails with [`Error::TxTimeout`] if no frame goes out for `timeout`, or
    /// [`Error::BusOff`] if the controller left the bus; queued frames then stay queued until
    /// [`CanLink::abort_tx`].
    fn flush(&mut self, timeout: Duration) -> Result<Timestamp, Error>;

    /// The next received frame, waiting until `deadline` (`None`: until one arrives).
    /// `Ok(None)` means the deadline passed.
    fn recv(&mut self, deadline: Option<Timestamp>) -> Result<Option<Received>, Error>;

    /// Waits until the link's clock reads `until` (models processing time on the virtual clock).
    fn sleep_until(&mut self, until: Timestamp) -> Result<(), Error>;

    /// Drops frames queued but not yet on the wire (a frame already being sent completes).
    fn abort_tx(&mut self);

    /// Queues one frame and waits for its transmission; returns when it finished.
    fn transmit(&mut self, frame: &CanFrame, timeout: Duration) -> Result<Timestamp, Error> {
        self.send(frame, Duration::ZERO, timeout)?;
        self.flush(timeout)
    }
}
