//! The receiving side of a transfer.

use super::pci::{self, FlowStatus, Pdu};
use super::{IsoTpSocket, StMin, Timer};
use crate::Error;
use crate::link::CanLink;
use crate::time::Timestamp;

impl<L: CanLink> IsoTpSocket<L> {
    /// Receives one message, waiting for its start until `deadline` (`None`: forever);
    /// `Ok(None)` when none began in time. Once a message has begun, the protocol timers and
    /// the transfer guard bound the wait instead.
    pub fn recv(&mut self, deadline: Option<Timestamp>) -> Result<Option<Vec<u8>>, Error> {
        loop {
            let received = match self.pending.take() {
                Some(received) => received,
                None => match self.link.recv(deadline)? {
                    Some(received) => received,
                    None => return Ok(None),
                },
            };
            if received.frame.id() != self.config.rx_id {
                continue;
            }
            // Idle: stray consecutive and flow control frames, and malformed ones, are ignored.
            match pci::decode(&received.frame) {
                Ok(Pdu::Single { data }) => return Ok(Some(data.to_vec())),
                Ok(Pdu::First { len, data }) => {
                    let first = data.to_vec();
                    let rx_dl = received.frame.len();
                    return self.receive_segmented(rx_dl, received.timestamp, len, first).map(Some);
                }
                _ => continue,
            }
        }
    }

    fn send_flow_control(&mut self, status: FlowStatus) -> Result<Timestamp, Error> {
        let (block_size, st_min) = match status {
            FlowStatus::ContinueToSend => (self.config.block_size, self.config.st_min),
            _ => (0, StMin::ZERO),
        };
        let frame = self.framer.flow_control(status, block_size, st_min)?;
        self.transmit(&frame, Timer::Ar)
    }

    fn receive_segmented(
        &mut self,
        rx_dl: usize,
        started: Timestamp,
        len: u64,
        first: Vec<u8>,
    ) -> Result<Vec<u8>, Error> {
        let max = self.config.max_message_len;
        let len = match usize::try_from(len) {
            Ok(len) if len <= max => len,
            _ => {
                // Best effort: the sender learns of the refusal, or times out.
                let _ = self.send_flow_control(FlowStatus::Overflow);
                return Err(Error::MessageTooLarge { len, max });
            }
        };
        let mut message = Vec::with_capacity(len);
        message.extend_from_slice(&first);
        for _ in 0..self.config.wait_frames {
            let sent = self.send_flow_control(FlowStatus::Wait)?;
            self.link.sleep_until(sent + self.config.wait_frame_gap)?;
        }
        let mut last = self.send_flow_control(FlowStatus::ContinueToSend)?;
        let n_cr = self.config.timeouts.n_cr;
        let mut sn = 1u8;
        let mut in_block = 0u8;
        loop {
            let timer_at = last + n_cr;
            let guard = self.guard_deadline(started, message.len());
            let until = guard.as_ref().map_or(timer_at, |(at, _)| timer_at.min(*at));
            let Some(received) = self.link.recv(Some(until))? else {
                return Err(match guard {
                    Some((at, error)) if at <= timer_at => error,
                    _ => Error::Timeout { timer: Timer::Cr, after: n_cr },
                });
            };
            if received.frame.id() != self.config.rx_id {
                continue;
            }
            match pci::decode(&received.frame) {
                Ok(Pdu::Consecutive { sn: got, data }) => {
                    if got != sn {
                        return Err(Error::WrongSequence { expected: sn, got });
                    }
                    let remaining = len - message.len();
                    if data.len() < remaining && received.frame.len() != rx_dl {
                        return Err(Error::MalformedPdu {
                            reason: "consecutive frame shorter than the first frame",
                        });
                    }
                    message.extend_from_slice(&data[..data.len().min(remaining)]);
                    if message.len() == len {
                        return Ok(message);
                    }
                    last = received.timestamp;
                    sn = (sn + 1) & 0x0F;
                    in_block = in_block.wrapping_add(1);
                    if self.config.block_size != 0 && in_block == self.config.block_size {
                        in_block = 0;
                        last = self.send_flow_control(FlowStatus::ContinueToSend)?;
                    }
                }
                Ok(Pdu::Single { .. }) => {
                    self.pending = Some(received);
                    return Err(Error::UnexpectedFrame { kind: "single frame" });
                }
                Ok(Pdu::First { .. }) => {
                    self.pending = Some(received);
                    return Err(Error::UnexpectedFrame { kind: "first frame" });
                }
                // Flow control (we are not sending) and malformed frames are ignored.
                _ => continue,
            }
        }
    }
}
