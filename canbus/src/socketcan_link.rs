//! A [`CanLink`] on a real SocketCAN interface (Linux; cargo feature `socketcan`).
//!
//! The same ISO-TP and UDS code that runs on the simulated hub drives a real controller
//! through this link. Its clock is the wall clock since the interface was opened. SocketCAN
//! reports no per-frame transmit confirmation without reading one's own frames back, so a frame
//! counts as sent once the kernel took it: STmin is measured from that moment, `flush` returns
//! it, and `abort_tx` cannot recall frames the kernel already queued.

use std::io;
use std::thread;
use std::time::{Duration, Instant};

use embedded_can::Frame as _;
use socketcan::id::FdFlags as SocketFdFlags;
use socketcan::{CanAnyFrame, CanDataFrame, CanFdFrame, CanFdSocket, CanRemoteFrame, Socket};

use crate::Error;
use crate::frame::{CanFrame, FdFlags, FrameFormat};
use crate::link::{CanLink, Received};
use crate::time::Timestamp;

/// A SocketCAN interface (`can0`, `vcan0`) opened for classic and FD frames.
#[derive(Debug)]
pub struct SocketCanLink {
    socket: CanFdSocket,
    epoch: Instant,
    /// When the kernel took our previous frame.
    last_sent: Option<Timestamp>,
}

impl SocketCanLink {
    /// Opens `interface`. Fails cleanly where SocketCAN or the interface does not exist.
    pub fn open(interface: &str) -> Result<Self, Error> {
        let socket = CanFdSocket::open(interface)
            .map_err(|source| Error::Io { context: "opening the SocketCAN interface", source })?;
        Ok(Self { socket, epoch: Instant::now(), last_sent: None })
    }

    fn wait_until(&self, until: Timestamp) {
        let left = until.saturating_duration_since(self.now());
        if !left.is_zero() {
            thread::sleep(left);
        }
    }
}

/// Our frame in socketcan's types.
fn to_socketcan(frame: &CanFrame) -> Option<CanAnyFrame> {
    let id = frame.id();
    Some(match frame.format() {
        FrameFormat::Classic => CanAnyFrame::Normal(CanDataFrame::new(id, frame.data())?),
        FrameFormat::Remote => CanAnyFrame::Remote(CanRemoteFrame::new_remote(id, frame.len())?),
        FrameFormat::Fd(flags) => {
            let mut bits = SocketFdFlags::empty();
            bits.set(SocketFdFlags::BRS, flags.brs);
            bits.set(SocketFdFlags::ESI, flags.esi);
            CanAnyFrame::Fd(CanFdFrame::with_flags(id, frame.data(), bits)?)
        }
    })
}

/// A received socketcan frame as ours; `None` for error frames (controller reports).
fn from_socketcan(frame: &CanAnyFrame) -> Result<Option<CanFrame>, Error> {
    Ok(Some(match frame {
        CanAnyFrame::Normal(frame) => CanFrame::classic(frame.id(), frame.data())?,
        CanAnyFrame::Remote(frame) => CanFrame::remote(frame.id(), frame.dlc())?,
        CanAnyFrame::Fd(frame) => {
            let flags = frame.flags();
            let flags = FdFlags {
                brs: flags.contains(SocketFdFlags::BRS),
                esi: flags.contains(SocketFdFlags::ESI),
            };
            CanFrame::fd(frame.id(), frame.data(), flags, 0)?
        }
        CanAnyFrame::Error(_) => return Ok(None),
    }))
}

fn timed_out(error: &io::Error) -> bool {
    matches!(error.kind(), io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock)
        || error.raw_os_error() == Some(105) // ENOBUFS: the transmit queue is full
}

impl CanLink for SocketCanLink {
    fn now(&self) -> Timestamp {
        Timestamp::from_nanos(u64::try_from(self.epoch.elapsed().as_nanos()).unwrap_or(u64::MAX))
    }

    fn send(&mut self, frame: &CanFrame, gap: Duration, timeout: Duration) -> Result<(), Error> {
        if let Some(last) = self.last_sent {
            self.wait_until(last + gap);
        }
        let frame = to_socketcan(frame)
            .ok_or(Error::InvalidConfig { reason: "frame not representable in SocketCAN" })?;
        let context = "writing to the SocketCAN interface";
        self.socket.set_write_timeout(timeout).map_err(|source| Error::Io { context, source })?;
        let written = match &frame {
            CanAnyFrame::Normal(frame) => self.socket.write_frame(frame),
            CanAnyFrame::Remote(frame) => self.socket.write_frame(frame),
            CanAnyFrame::Fd(frame) => self.socket.write_frame(frame),
            CanAnyFrame::Error(_) => Ok(()),
        };
        match written {
            Ok(()) => {
                self.last_sent = Some(self.now());
                Ok(())
            }
            Err(error) if timed_out(&error) => Err(Error::TxTimeout { timeout }),
            Err(source) => Err(Error::Io { context, source }),
        }
    }

    fn flush(&mut self, _timeout: Duration) -> Result<Timestamp, Error> {
        Ok(self.last_sent.unwrap_or_else(|| self.now()))
    }

    fn recv(&mut self, deadline: Option<Timestamp>) -> Result<Option<Received>, Error> {
        let context = "reading from the SocketCAN interface";
        loop {
            let read = match deadline {
                None => self.socket.read_frame(),
                Some(deadline) => {
                    let left = deadline.saturating_duration_since(self.now());
                    if left.is_zero() {
                        return Ok(None);
                    }
                    self.socket.read_frame_timeout(left)
                }
            };
            let frame = match read {
                Ok(frame) => frame,
                Err(error) if timed_out(&error) => return Ok(None),
                Err(source) => return Err(Error::Io { context, source }),
            };
            if let Some(frame) = from_socketcan(&frame)? {
                return Ok(Some(Received { frame, timestamp: self.now() }));
            }
        }
    }

    fn sleep_until(&mut self, until: Timestamp) -> Result<(), Error> {
        self.wait_until(until);
        Ok(())
    }

    fn abort_tx(&mut self) {}
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::id::standard;

    #[test]
    fn frames_convert_both_ways() {
        let id = standard(0x7E0).unwrap();
        let frames = [
            CanFrame::classic(id, &[1, 2, 3]).unwrap(),
            CanFrame::remote(id, 4).unwrap(),
            CanFrame::fd(id, &[7; 20], FdFlags { brs: true, esi: false }, 0).unwrap(),
        ];
        for frame in frames {
            let converted = to_socketcan(&frame).unwrap();
            assert_eq!(from_socketcan(&converted).unwrap(), Some(frame));
        }
    }

    #[test]
    fn a_missing_interface_fails_cleanly() {
        assert!(matches!(SocketCanLink::open("nosuchcan9"), Err(Error::Io { .. })));
    }
}
