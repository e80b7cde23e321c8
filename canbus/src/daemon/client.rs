//! A node in another process: joins the hub daemon over its socket.

use std::collections::VecDeque;
use std::io::{ErrorKind, Read, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::thread;
use std::time::{Duration, Instant};

use crate::Error;
use crate::frame::CanFrame;
use crate::link::{CanLink, Received};
use crate::time::Timestamp;
use crate::wire::{self, Record, RecordBuffer, RecordKind};

/// Frames we let the daemon hold unconfirmed. Small, so neither side ever blocks on a full
/// socket buffer while the other waits for it.
const WINDOW: usize = 8;

/// A connection to `canbus-hub`. Its clock is the wall clock since it connected; received
/// frames are stamped when they arrive here.
#[derive(Debug)]
pub struct HubClient {
    stream: UnixStream,
    buffer: RecordBuffer,
    received: VecDeque<Received>,
    /// Frames written but not yet confirmed or refused.
    unconfirmed: usize,
    /// When the last confirmation arrived.
    last_sent: Option<Timestamp>,
    /// A refusal not yet reported by `flush`.
    failed: bool,
    epoch: Instant,
}

impl HubClient {
    /// Connects to the daemon listening on `path`.
    pub fn connect(path: impl AsRef<Path>) -> Result<Self, Error> {
        let stream = UnixStream::connect(path)
            .map_err(|source| Error::Io { context: "connecting to the hub daemon", source })?;
        Ok(Self {
            stream,
            buffer: RecordBuffer::new(),
            received: VecDeque::new(),
            unconfirmed: 0,
            last_sent: None,
            failed: false,
            epoch: Instant::now(),
        })
    }

    fn instant(&self, at: Timestamp) -> Instant {
        self.epoch + at.since_epoch()
    }

    /// Reads what the daemon sent, waiting at most until `until`. Returns whether anything
    /// arrived.
    fn pump(&mut self, until: Option<Instant>) -> Result<bool, Error> {
        let timeout = match until {
            Some(until) => {
                let left = until.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    return Ok(false);
                }
                Some(left)
            }
            None => None,
        };
        self.stream
            .set_read_timeout(timeout)
            .map_err(|source| Error::Io { context: "setting the socket timeout", source })?;
        let mut chunk = [0u8; 4096];
        let read = match self.stream.read(&mut chunk) {
            Ok(0) => return Err(Error::Closed),
            Ok(read) => read,
            Err(error) if matches!(error.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                return Ok(false);
            }
            Err(error) if error.kind() == ErrorKind::Interrupted => return Ok(false),
            Err(source) => {
                return Err(Error::Io { context: "reading from the hub daemon", source });
            }
        };
        self.buffer.extend(&chunk[..read]);
        let now = self.now();
        while let Some(record) = self.buffer.next_record()? {
            match record.kind {
                RecordKind::Frame => {
                    self.received.push_back(Received { frame: record.frame, timestamp: now });
                }
                RecordKind::Sent => {
                    self.unconfirmed = self.unconfirmed.saturating_sub(1);
                    self.last_sent = Some(now);
                }
                RecordKind::Failed => {
                    self.unconfirmed = self.unconfirmed.saturating_sub(1);
                    self.failed = true;
                }
            }
        }
        Ok(true)
    }

    /// Waits until at most `limit` frames are unconfirmed, failing after `timeout` without a
    /// confirmation.
    fn drain_to(&mut self, limit: usize, timeout: Duration) -> Result<(), Error> {
        let mut deadline = Instant::now() + timeout;
        while self.unconfirmed > limit {
            let before = self.unconfirmed;
            if !self.pump(Some(deadline))? && Instant::now() >= deadline {
                return Err(Error::TxTimeout { timeout });
            }
            if self.unconfirmed < before {
                deadline = Instant::now() + timeout;
            }
        }
        Ok(())
    }
}

impl CanLink for HubClient {
    fn now(&self) -> Timestamp {
        Timestamp::from_nanos(u64::try_from(self.epoch.elapsed().as_nanos()).unwrap_or(u64::MAX))
    }

    fn send(&mut self, frame: &CanFrame, gap: Duration, timeout: Duration) -> Result<(), Error> {
        if !gap.is_zero() {
            // The gap runs from the end of the previous frame: wait for its confirmation.
            self.drain_to(0, timeout)?;
            if let Some(last) = self.last_sent {
                self.sleep_until(last + gap)?;
            }
        }
        self.drain_to(WINDOW - 1, timeout)?;
        let (bytes, size) = wire::encode(&Record { kind: RecordKind::Frame, frame: *frame });
        self.stream
            .write_all(&bytes[..size])
            .map_err(|source| Error::Io { context: "writing to the hub daemon", source })?;
        self.unconfirmed += 1;
        Ok(())
    }

    fn flush(&mut self, timeout: Duration) -> Result<Timestamp, Error> {
        self.drain_to(0, timeout)?;
        if std::mem::take(&mut self.failed) {
            return Err(Error::TxTimeout { timeout });
        }
        Ok(self.last_sent.unwrap_or_else(|| self.now()))
    }

    fn recv(&mut self, deadline: Option<Timestamp>) -> Result<Option<Received>, Error> {
        let until = deadline.map(|at| self.instant(at));
        loop {
            if let Some(received) = self.received.pop_front() {
                return Ok(Some(received));
            }
            if !self.pump(until)? && until.is_some_and(|until| Instant::now() >= until) {
                return Ok(None);
            }
        }
    }

    fn sleep_until(&mut self, until: Timestamp) -> Result<(), Error> {
        thread::sleep(self.instant(until).saturating_duration_since(Instant::now()));
        Ok(())
    }

    /// Frames already written cannot be recalled from the daemon; their confirmations are
    /// still counted when they arrive.
    fn abort_tx(&mut self) {
        self.failed = false;
    }
}

/// The `embedded-can` view, as for [`crate::hub::Node`].
impl embedded_can::blocking::Can for HubClient {
    type Frame = CanFrame;
    type Error = Error;

    fn transmit(&mut self, frame: &CanFrame) -> Result<(), Error> {
        CanLink::transmit(self, frame, Duration::from_secs(1)).map(drop)
    }

    fn receive(&mut self) -> Result<CanFrame, Error> {
        loop {
            if let Some(received) = CanLink::recv(self, None)? {
                return Ok(received.frame);
            }
        }
    }
}
