//! The sending side of a transfer.

use std::time::Duration;

use super::pci::{self, Pdu};
use super::{IsoTpSocket, Timer, TransferGuard, timer_error};
use crate::Error;
use crate::link::CanLink;
use crate::time::Timestamp;

/// Consecutive frames between two checks of the transfer guard. Checking means draining the
/// transmit queue and waking this thread, so not too often; at the slowest STmin (127 ms) a
/// slow receiver is caught within 33 s.
const GUARD_INTERVAL: u32 = 256;

/// What the first flow control granted: block size and separation time.
struct Grant {
    block_size: u8,
    st_min: Duration,
}

impl<L: CanLink> IsoTpSocket<L> {
    /// Sends one message; returns when its last frame finished on the bus. On failure nothing
    /// of it stays queued, and the socket is ready for the next message.
    pub fn send(&mut self, data: &[u8]) -> Result<Timestamp, Error> {
        let result = self.send_message(data);
        if result.is_err() {
            self.link.abort_tx();
        }
        result
    }

    fn send_message(&mut self, data: &[u8]) -> Result<Timestamp, Error> {
        let len = data.len();
        if len == 0 || u32::try_from(len).is_err() {
            return Err(Error::InvalidMessageLength { len });
        }
        if len <= self.framer.single_max() {
            let frame = self.framer.single(data)?;
            return self.transmit(&frame, Timer::As);
        }
        let start = self.link.now();
        let mut offset = self.framer.first_payload(len);
        let first = self.framer.first(len, &data[..offset])?;
        let sent = self.transmit(&first, Timer::As)?;
        // ISO 15765-2 9.6.5.3: BS and STmin of the first flow control hold for the message.
        let grant = self.await_flow_control(sent, start, offset, len)?;
        let n_as = self.config.timeouts.n_as;
        let chunk = self.framer.consecutive_payload();
        let mut sn = 1u8;
        let mut sent_frames = 0u32;
        loop {
            let mut in_block = 0u8;
            while offset < len && (grant.block_size == 0 || in_block < grant.block_size) {
                let end = (offset + chunk).min(len);
                let frame = self.framer.consecutive(sn, &data[offset..end])?;
                let gap = if in_block == 0 { Duration::ZERO } else { grant.st_min };
                self.link
                    .send(&frame, gap, n_as)
                    .map_err(|error| timer_error(error, Timer::As, n_as))?;
                offset = end;
                sn = (sn + 1) & 0x0F;
                in_block = in_block.wrapping_add(1);
                // Every GUARD_INTERVAL frames, let the queue drain and hold the transfer to its
                // guard. (Queued frames have not moved yet: only sent bytes count.)
                sent_frames += 1;
                if sent_frames.is_multiple_of(GUARD_INTERVAL)
                    && offset < len
                    && self.config.guard != TransferGuard::NONE
                {
                    let sent = self
                        .link
                        .flush(n_as)
                        .map_err(|error| timer_error(error, Timer::As, n_as))?;
                    if let Some((at, error)) = self.guard_deadline(start, offset)
                        && sent >= at
                    {
                        return Err(error);
                    }
                }
            }
            let sent =
                self.link.flush(n_as).map_err(|error| timer_error(error, Timer::As, n_as))?;
            if offset == len {
                return Ok(sent);
            }
            self.await_flow_control(sent, start, offset, len)?;
        }
    }

    /// Waits for a flow control that lets us continue, starting N_Bs at `since`.
    fn await_flow_control(
        &mut self,
        since: Timestamp,
        start: Timestamp,
        sent: usize,
        len: usize,
    ) -> Result<Grant, Error> {
        let n_bs = self.config.timeouts.n_bs;
        let mut timer_at = since + n_bs;
        let mut waits = 0u8;
        loop {
            let guard = self.guard_deadline(start, sent);
            let until = guard.as_ref().map_or(timer_at, |(at, _)| timer_at.min(*at));
            let Some(received) = self.link.recv(Some(until))? else {
                return Err(match guard {
                    Some((at, error)) if at <= timer_at => error,
                    _ => Error::Timeout { timer: Timer::Bs, after: n_bs },
                });
            };
            if received.frame.id() != self.config.rx_id {
                continue;
            }
            // Half duplex: while sending, anything but flow control is ignored (9.8.3).
            let Ok(Pdu::FlowControl { status, block_size, st_min }) = pci::decode(&received.frame)
            else {
                continue;
            };
            match status {
                0 => return Ok(Grant { block_size, st_min: st_min.duration() }),
                1 => {
                    waits = waits.saturating_add(1);
                    if waits > self.config.max_wait_frames {
                        return Err(Error::WaitLimit { max: self.config.max_wait_frames });
                    }
                    timer_at = received.timestamp + n_bs;
                }
                2 => return Err(Error::PeerOverflow { len: len as u64 }),
                status => return Err(Error::InvalidFlowStatus { status }),
            }
        }
    }
}
