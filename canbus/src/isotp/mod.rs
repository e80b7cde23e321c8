//! ISO-TP (ISO 15765-2): messages of up to 4 GiB over 8- or 64-byte CAN frames.
//!
//! A message that fits one frame goes as a *single frame*. A longer one starts with a *first
//! frame* announcing its length; the receiver answers with *flow control* (continue to send,
//! wait, or overflow) granting a *block size* of consecutive frames and a minimum *separation
//! time* between them; the sender then sends *consecutive frames* numbered 1..15, 0, 1, ...
//! and waits for the next flow control after each block.
//!
//! [`IsoTpSocket`] is one half-duplex channel (normal addressing: one identifier each way) over
//! any [`CanLink`]: it either sends a message or receives one. Timers (N_As, N_Ar, N_Bs, N_Cr),
//! STmin and the [`TransferGuard`] run on the link's clock, which on the hub is virtual time.
//! Every failure aborts the transfer and leaves the socket ready for the next message: the
//! sender drops what it had queued, and the receiver ignores stray consecutive frames while
//! idle; a single or first frame that interrupts a reception is kept and starts the next one.
//!
//! Receiver defences: a first frame announcing more than `max_message_len` bytes gets
//! FC.Overflow and is refused before any memory is set aside (endless data), and the guard
//! aborts a transfer that falls under a minimum rate or runs past a deadline (slow retrieval).
//! The sender likewise gives up after `max_wait_frames` FC.Wait frames in a row.

mod config;
mod pci;
mod receiver;
mod sender;
mod stmin;

use std::time::Duration;

use crate::Error;
use crate::frame::CanFrame;
use crate::link::{CanLink, Received};
use crate::time::Timestamp;
use pci::Framer;

pub use config::{IsoTpConfig, Timeouts, Timer, TransferGuard};
pub use stmin::StMin;

/// One ISO-TP channel over a CAN link.
#[derive(Debug)]
pub struct IsoTpSocket<L> {
    link: L,
    config: IsoTpConfig,
    framer: Framer,
    /// A single or first frame that interrupted a reception: the start of the next message.
    pending: Option<Received>,
}

impl<L: CanLink> IsoTpSocket<L> {
    /// A channel on `link` with `config`.
    pub fn new(link: L, config: IsoTpConfig) -> Result<Self, Error> {
        config.validate()?;
        Ok(Self { framer: Framer::new(&config), link, config, pending: None })
    }

    /// The channel parameters.
    pub fn config(&self) -> &IsoTpConfig {
        &self.config
    }

    /// The underlying link.
    pub fn link(&self) -> &L {
        &self.link
    }

    /// The underlying link, mutably (for raw frames between messages).
    pub fn link_mut(&mut self) -> &mut L {
        &mut self.link
    }

    /// Gives the link back.
    pub fn into_inner(self) -> L {
        self.link
    }

    /// Transmits a frame, naming `timer` if the link cannot get it out in time.
    fn transmit(&mut self, frame: &CanFrame, timer: Timer) -> Result<Timestamp, Error> {
        let timeout = self.timeout(timer);
        self.link.transmit(frame, timeout).map_err(|error| timer_error(error, timer, timeout))
    }

    fn timeout(&self, timer: Timer) -> Duration {
        let timeouts = &self.config.timeouts;
        match timer {
            Timer::As => timeouts.n_as,
            Timer::Ar => timeouts.n_ar,
            Timer::Bs => timeouts.n_bs,
            Timer::Cr => timeouts.n_cr,
        }
    }

    /// The instant the transfer guard trips for a transfer that began at `start` and has moved
    /// `bytes` so far, with the error it trips with.
    fn guard_deadline(&self, start: Timestamp, bytes: usize) -> Option<(Timestamp, Error)> {
        let guard = &self.config.guard;
        let slow = guard.min_bytes_per_sec.filter(|&rate| rate > 0).map(|rate| {
            // At `start + bytes / rate` the average drops to `rate`; never before the grace.
            let nanos = (bytes as u128 * 1_000_000_000 / u128::from(rate)) as u64;
            let at = start + Duration::from_nanos(nanos).max(guard.grace);
            let elapsed = at.saturating_duration_since(start);
            (at, Error::TooSlow { bytes: bytes as u64, elapsed })
        });
        let deadline =
            guard.deadline.map(|deadline| (start + deadline, Error::DeadlineExceeded { deadline }));
        match (slow, deadline) {
            (Some(a), Some(b)) => Some(if a.0 <= b.0 { a } else { b }),
            (a, b) => a.or(b),
        }
    }
}

/// A link timeout, renamed after the ISO-TP timer it stands for.
fn timer_error(error: Error, timer: Timer, after: Duration) -> Error {
    match error {
        Error::TxTimeout { .. } => Error::Timeout { timer, after },
        other => other,
    }
}
