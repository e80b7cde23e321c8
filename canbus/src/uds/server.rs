//! The Secondary's side: decode each request, enforce the transfer rules, call the handler.

use std::time::Duration;

use super::handler::{AbortReason, EcuHandler};
use super::limits::ServerLimits;
use super::nrc::Nrc;
use super::request::{Request, minimal_be};
use super::service::{Routine, sid};
use crate::Error;
use crate::isotp::IsoTpSocket;
use crate::link::CanLink;
use crate::time::Timestamp;

/// Why [`UdsServer::serve`] returned.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stop {
    /// ECUReset was answered: the Secondary should restart (into its active slot).
    Reset,
    /// The link closed (hub closed, daemon gone).
    Closed,
    /// The `until` given to [`UdsServer::serve_until`] passed with no request under way.
    Deadline,
}

/// One Secondary's server on its ISO-TP channel.
#[derive(Debug)]
pub struct UdsServer<L> {
    socket: IsoTpSocket<L>,
    limits: ServerLimits,
    transfer: Transfer,
}

/// The transfer state machine.
#[derive(Debug)]
enum Transfer {
    Idle,
    Open(Open),
    /// Aborted by the server; the next TransferData or exit learns why (NRC 0x71).
    Suspended,
}

#[derive(Debug)]
struct Open {
    announced: u64,
    received: u64,
    /// The counter the next new block must carry.
    next_counter: u8,
    started: Timestamp,
}

impl Open {
    /// When the transfer trips its deadline or minimum rate if nothing more arrives.
    fn trip(&self, limits: &ServerLimits) -> Option<(Timestamp, AbortReason)> {
        let slow = limits.min_bytes_per_sec.filter(|&rate| rate > 0).map(|rate| {
            let nanos = u128::from(self.received) * 1_000_000_000 / u128::from(rate);
            let after = Duration::from_nanos(u64::try_from(nanos).unwrap_or(u64::MAX));
            let elapsed = after.max(limits.grace);
            (self.started + elapsed, AbortReason::TooSlow { bytes: self.received, elapsed })
        });
        let deadline = limits
            .transfer_deadline
            .map(|deadline| (self.started + deadline, AbortReason::DeadlineExceeded { deadline }));
        match (slow, deadline) {
            (Some(a), Some(b)) => Some(if a.0 <= b.0 { a } else { b }),
            (a, b) => a.or(b),
        }
    }
}

/// What handling one request produced.
enum Outcome {
    Reply(Vec<u8>),
    /// A reply after which the server stops.
    ReplyAndStop(Vec<u8>, Stop),
}

impl<L: CanLink> UdsServer<L> {
    /// A server on `socket`. The socket's `max_message_len` is replaced by the limits'
    /// per-message cap, so ISO-TP refuses longer requests before storing them.
    pub fn new(socket: IsoTpSocket<L>, limits: ServerLimits) -> Result<Self, Error> {
        limits.validate()?;
        let mut config = socket.config().clone();
        config.max_message_len = limits.max_message_len;
        let socket = IsoTpSocket::new(socket.into_inner(), config)?;
        Ok(Self { socket, limits, transfer: Transfer::Idle })
    }

    /// The channel.
    pub fn socket(&self) -> &IsoTpSocket<L> {
        &self.socket
    }

    /// Gives the channel back.
    pub fn into_inner(self) -> IsoTpSocket<L> {
        self.socket
    }

    /// Serves requests until ECUReset or the link closes.
    pub fn serve(&mut self, handler: &mut impl EcuHandler) -> Result<Stop, Error> {
        self.serve_until(handler, None)
    }

    /// Serves requests until ECUReset, the link closing, or `until` on the link's clock
    /// passing with no request under way. An open transfer stays open across calls.
    ///
    /// Transport errors on one message (a lost frame, a timeout, a peer that stops) cost that
    /// message only; the client repeats it. Only a failed link ends the loop with `Err`.
    pub fn serve_until(
        &mut self,
        handler: &mut impl EcuHandler,
        until: Option<Timestamp>,
    ) -> Result<Stop, Error> {
        let stop = self.run(handler, until);
        if matches!(stop, Ok(Stop::Reset | Stop::Closed) | Err(_)) {
            self.abort(handler, AbortReason::Interrupted);
        }
        stop
    }

    fn run(
        &mut self,
        handler: &mut impl EcuHandler,
        until: Option<Timestamp>,
    ) -> Result<Stop, Error> {
        loop {
            let trip = self.trip();
            let wait = match (trip, until) {
                (Some((at, _)), Some(until)) => Some(at.min(until)),
                (Some((at, _)), None) => Some(at),
                (None, until) => until,
            };
            let message = match self.socket.recv(wait) {
                Ok(Some(message)) => message,
                Ok(None) => {
                    match trip {
                        Some((at, reason)) if self.socket.link().now() >= at => {
                            self.abort(handler, reason);
                        }
                        _ => return Ok(Stop::Deadline),
                    }
                    continue;
                }
                Err(Error::Closed) => return Ok(Stop::Closed),
                Err(Error::MessageTooLarge { len, max }) => {
                    self.abort(handler, AbortReason::MessageTooLarge { len, max });
                    continue;
                }
                Err(error) if is_link_failure(&error) => return Err(error),
                Err(_) => continue,
            };
            // A request that began after the transfer tripped finds it aborted.
            if let Some((at, reason)) = self.trip()
                && self.socket.link().now() >= at
            {
                self.abort(handler, reason);
            }
            let (reply, stop) = match self.handle(handler, &message)? {
                Outcome::Reply(reply) => (reply, None),
                Outcome::ReplyAndStop(reply, stop) => (reply, Some(stop)),
            };
            self.reply(&reply)?;
            if let Some(stop) = stop {
                return Ok(stop);
            }
        }
    }

    fn trip(&self) -> Option<(Timestamp, AbortReason)> {
        match &self.transfer {
            Transfer::Open(open) => open.trip(&self.limits),
            _ => None,
        }
    }

    /// Ends an open transfer on the server's initiative and tells the handler.
    fn abort(&mut self, handler: &mut impl EcuHandler, reason: AbortReason) {
        if matches!(self.transfer, Transfer::Open(_)) {
            self.transfer = Transfer::Suspended;
            handler.transfer_aborted(reason);
        }
    }

    /// Sends a response; a lost one costs the client a repeat, not the server its loop. (A
    /// closed link shows at the next receive.)
    fn reply(&mut self, message: &[u8]) -> Result<(), Error> {
        match self.socket.send(message) {
            Err(error) if is_link_failure(&error) => Err(error),
            _ => Ok(()),
        }
    }

    /// "Response pending" ahead of slow work.
    fn pending(&mut self, service: u8) -> Result<(), Error> {
        self.reply(&negative(service, Nrc::RESPONSE_PENDING))
    }

    fn handle(&mut self, handler: &mut impl EcuHandler, message: &[u8]) -> Result<Outcome, Error> {
        let service = message.first().copied().unwrap_or(0);
        let request = match Request::decode(message) {
            Ok(request) => request,
            Err(nrc) => return Ok(Outcome::Reply(negative(service, nrc))),
        };
        let positive = |data: &[&[u8]]| {
            let mut reply = vec![service + sid::POSITIVE_OFFSET];
            data.iter().for_each(|part| reply.extend_from_slice(part));
            reply
        };
        let result = match request {
            Request::ReadData(id) => {
                handler.read_identifier(id).map(|data| positive(&[&id.code().to_be_bytes(), &data]))
            }
            Request::WriteData { id, data } => {
                handler.time_attestation(data).map(|()| positive(&[&id.code().to_be_bytes()]))
            }
            Request::StartRoutine { routine, option } => {
                let code = routine.code().to_be_bytes();
                let status = match routine {
                    Routine::VersionReport => handler.version_report(option),
                    Routine::VerifyMetadata => {
                        self.pending(service)?;
                        handler.verify_metadata()
                    }
                    Routine::ActivateImage => {
                        self.pending(service)?;
                        handler.activate()
                    }
                };
                status.map(|status| positive(&[&[0x01], &code, &status]))
            }
            Request::RequestDownload { size } => {
                self.begin(handler, size, |handler| handler.begin_image(size)).map(|block| {
                    let block = minimal_be(block);
                    positive(&[&[(block.len() as u8) << 4], &block])
                })
            }
            Request::RequestFileTransfer { name, size } => {
                self.begin(handler, size, |handler| handler.begin_file(name, size)).map(|block| {
                    let block = minimal_be(block);
                    // modeOfOperation, lengthFormatIdentifier, maxNumberOfBlockLength,
                    // dataFormatIdentifier.
                    positive(&[&[0x03, block.len() as u8], &block, &[0x00]])
                })
            }
            Request::TransferData { counter, data } => self
                .transfer_data(handler, message.len(), counter, data)
                .map(|()| positive(&[&[counter]])),
            Request::TransferExit => match &self.transfer {
                Transfer::Open(open) if open.received == open.announced => {
                    self.transfer = Transfer::Idle;
                    self.pending(service)?;
                    handler.end_transfer().map(|()| positive(&[]))
                }
                Transfer::Open(_) | Transfer::Idle => Err(Nrc::REQUEST_SEQUENCE_ERROR),
                Transfer::Suspended => {
                    self.transfer = Transfer::Idle;
                    Err(Nrc::TRANSFER_DATA_SUSPENDED)
                }
            },
            Request::EcuReset => {
                return Ok(match handler.reset() {
                    Ok(()) => Outcome::ReplyAndStop(positive(&[&[0x01]]), Stop::Reset),
                    Err(nrc) => Outcome::Reply(negative(service, nrc)),
                });
            }
            Request::TesterPresent => Ok(positive(&[&[0x00]])),
        };
        Ok(Outcome::Reply(result.unwrap_or_else(|nrc| negative(service, nrc))))
    }

    /// Opens a transfer (superseding an open one) and returns the block length to announce.
    fn begin<H: EcuHandler>(
        &mut self,
        handler: &mut H,
        size: u64,
        start: impl FnOnce(&mut H) -> Result<(), Nrc>,
    ) -> Result<u64, Nrc> {
        self.abort(handler, AbortReason::Superseded);
        self.transfer = Transfer::Idle;
        start(handler)?;
        self.transfer = Transfer::Open(Open {
            announced: size,
            received: 0,
            next_counter: 1,
            started: self.socket.link().now(),
        });
        Ok(self.limits.max_block_len as u64)
    }

    fn transfer_data(
        &mut self,
        handler: &mut impl EcuHandler,
        len: usize,
        counter: u8,
        data: &[u8],
    ) -> Result<(), Nrc> {
        let open = match &mut self.transfer {
            Transfer::Open(open) => open,
            Transfer::Idle => return Err(Nrc::REQUEST_SEQUENCE_ERROR),
            Transfer::Suspended => {
                self.transfer = Transfer::Idle;
                return Err(Nrc::TRANSFER_DATA_SUSPENDED);
            }
        };
        if len > self.limits.max_block_len {
            return Err(Nrc::INCORRECT_LENGTH);
        }
        // ISO 14229-1 14.5: a repeated block (its response was lost) is acknowledged again
        // without being written twice.
        if counter == open.next_counter.wrapping_sub(1) && open.received > 0 {
            return Ok(());
        }
        if counter != open.next_counter {
            return Err(Nrc::WRONG_BLOCK_SEQUENCE_COUNTER);
        }
        let attempted = open.received + data.len() as u64;
        if attempted > open.announced {
            let reason = AbortReason::SizeExceeded { announced: open.announced, attempted };
            self.transfer = Transfer::Idle;
            handler.transfer_aborted(reason);
            return Err(Nrc::TRANSFER_DATA_SUSPENDED);
        }
        if let Err(nrc) = handler.write(data) {
            self.transfer = Transfer::Idle;
            return Err(nrc);
        }
        open.received = attempted;
        open.next_counter = open.next_counter.wrapping_add(1);
        Ok(())
    }
}

fn negative(service: u8, nrc: Nrc) -> Vec<u8> {
    vec![sid::NEGATIVE_RESPONSE, service, nrc.0]
}

/// Errors after which the link itself is unusable, as opposed to one message failing.
fn is_link_failure(error: &Error) -> bool {
    matches!(error, Error::BusOff | Error::Io { .. } | Error::MalformedRecord { .. })
}
