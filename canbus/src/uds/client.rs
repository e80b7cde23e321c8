//! The Primary's side: typed calls, P2/P2* timers, "response pending", block transfers.

use std::io::{self, Read};
use std::time::Duration;

use super::limits::ClientConfig;
use super::nrc::Nrc;
use super::request::{Request, be_uint};
use super::service::{Identifier, Routine, sid};
use crate::Error;
use crate::isotp::IsoTpSocket;
use crate::link::CanLink;

/// What a [`UdsClient::transfer`] delivers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TransferTarget<'a> {
    /// A metadata file, by name (RequestFileTransfer).
    File(&'a str),
    /// An image for the inactive slot (RequestDownload).
    Image,
}

/// Why a request failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum UdsError {
    /// The server refused with a negative response.
    #[error("service {service:#04X} refused: {nrc}")]
    Negative {
        /// The request's SID.
        service: u8,
        /// The refusal.
        nrc: Nrc,
    },
    /// No response began within P2 (or P2* after "response pending").
    #[error("no response to service {service:#04X} within {after:?}")]
    NoResponse {
        /// The request's SID.
        service: u8,
        /// The timer that ran out.
        after: Duration,
    },
    /// The server kept answering "response pending".
    #[error("service {service:#04X}: more than {max} response-pending answers")]
    TooManyPending {
        /// The request's SID.
        service: u8,
        /// The configured limit.
        max: u32,
    },
    /// A positive response that breaks the service's layout.
    #[error("malformed response to service {service:#04X}: {reason}")]
    MalformedResponse {
        /// The request's SID.
        service: u8,
        /// What is wrong.
        reason: &'static str,
    },
    /// The transfer source did not hold exactly the announced number of bytes.
    #[error("transfer source holds {actual} bytes, {announced} were announced")]
    SourceLength {
        /// The size announced to the server.
        announced: u64,
        /// What the source held (for a longer source: the announced size plus one).
        actual: u64,
    },
    /// Reading the transfer source failed.
    #[error("reading the transfer source: {0}")]
    Source(#[source] io::Error),
    /// The request or its response failed in ISO-TP or on the link.
    #[error(transparent)]
    Transport(#[from] Error),
}

impl UdsError {
    /// Whether repeating the same request may succeed: a lost or garbled frame, a timeout.
    pub fn is_transient(&self) -> bool {
        match self {
            Self::NoResponse { .. } => true,
            Self::Transport(error) => matches!(
                error,
                Error::Timeout { .. }
                    | Error::TxTimeout { .. }
                    | Error::WrongSequence { .. }
                    | Error::UnexpectedFrame { .. }
                    | Error::MalformedPdu { .. }
                    | Error::InvalidFlowStatus { .. }
                    | Error::WaitLimit { .. }
            ),
            _ => false,
        }
    }
}

/// The Primary's client for one Secondary's channel.
#[derive(Debug)]
pub struct UdsClient<L> {
    socket: IsoTpSocket<L>,
    config: ClientConfig,
}

/// How one received message relates to the request under way.
enum Reply<'a> {
    Positive(&'a [u8]),
    Pending,
    Negative(Nrc),
    /// Something else: a late response to an earlier request, or noise.
    Unrelated,
}

fn classify(service: u8, message: &[u8]) -> Reply<'_> {
    match message {
        [first, rest @ ..] if *first == service.wrapping_add(sid::POSITIVE_OFFSET) => {
            Reply::Positive(rest)
        }
        [sid::NEGATIVE_RESPONSE, echoed, code] if *echoed == service => match Nrc(*code) {
            Nrc::RESPONSE_PENDING => Reply::Pending,
            nrc => Reply::Negative(nrc),
        },
        _ => Reply::Unrelated,
    }
}

impl<L: CanLink> UdsClient<L> {
    /// A client on `socket`.
    pub fn new(socket: IsoTpSocket<L>, config: ClientConfig) -> Self {
        Self { socket, config }
    }

    /// The channel.
    pub fn socket(&self) -> &IsoTpSocket<L> {
        &self.socket
    }

    /// The channel, mutably.
    pub fn socket_mut(&mut self) -> &mut IsoTpSocket<L> {
        &mut self.socket
    }

    /// Gives the channel back.
    pub fn into_inner(self) -> IsoTpSocket<L> {
        self.socket
    }

    /// ReadDataByIdentifier: the identifier's bytes.
    pub fn read_identifier(&mut self, id: Identifier) -> Result<Vec<u8>, UdsError> {
        let code = id.code().to_be_bytes();
        self.call(&Request::ReadData(id).encode(), |data| {
            Ok(data.strip_prefix(&code[..]).map(<[u8]>::to_vec))
        })
    }

    /// Starts the version report routine over `nonce`: the signed report's bytes.
    pub fn version_report(&mut self, nonce: &[u8]) -> Result<Vec<u8>, UdsError> {
        self.routine(Routine::VersionReport, nonce)
    }

    /// WriteDataByIdentifier: delivers a time attestation.
    pub fn time_attestation(&mut self, attestation: &[u8]) -> Result<(), UdsError> {
        let id = Identifier::TimeAttestation;
        let request = Request::WriteData { id, data: attestation }.encode();
        let code = id.code().to_be_bytes();
        self.call(&request, |data| Ok((data == code).then_some(())))
    }

    /// Starts the verify-metadata routine: its status record.
    pub fn verify_metadata(&mut self) -> Result<Vec<u8>, UdsError> {
        self.routine(Routine::VerifyMetadata, &[])
    }

    /// Starts the activate-image routine: its status record.
    pub fn activate(&mut self) -> Result<Vec<u8>, UdsError> {
        self.routine(Routine::ActivateImage, &[])
    }

    /// ECUReset (hard reset).
    pub fn reset(&mut self) -> Result<(), UdsError> {
        self.call(&Request::EcuReset.encode(), |data| Ok((data == [0x01]).then_some(())))
    }

    /// TesterPresent: is the Secondary there?
    pub fn tester_present(&mut self) -> Result<(), UdsError> {
        self.call(&Request::TesterPresent.encode(), |data| Ok((data == [0x00]).then_some(())))
    }

    /// RequestDownload of an image of `size` bytes: the server's maxNumberOfBlockLength.
    pub fn request_download(&mut self, size: u64) -> Result<u64, UdsError> {
        self.call(&Request::RequestDownload { size }.encode(), |data| {
            let (&format, block) = data.split_first().ok_or("empty response")?;
            if usize::from(format >> 4) != block.len() || format & 0x0F != 0 {
                return Err("lengthFormatIdentifier does not match the block length field");
            }
            block_length(block).map(Some)
        })
    }

    /// RequestFileTransfer (replace file) of `size` bytes named `name`: the server's
    /// maxNumberOfBlockLength.
    pub fn request_file_transfer(&mut self, name: &str, size: u64) -> Result<u64, UdsError> {
        self.call(&Request::RequestFileTransfer { name, size }.encode(), |data| match data {
            [0x03, len, rest @ ..] if usize::from(*len) + 1 == rest.len() => {
                let (block, format) = rest.split_at(rest.len() - 1);
                if format != [0x00] {
                    return Err("unexpected dataFormatIdentifier");
                }
                block_length(block).map(Some)
            }
            _ => Err("layout is not modeOfOperation, length, block length, format"),
        })
    }

    /// One TransferData block (no retry).
    pub fn transfer_data(&mut self, counter: u8, data: &[u8]) -> Result<(), UdsError> {
        self.call(&Request::TransferData { counter, data }.encode(), |echo| {
            Ok((echo == [counter]).then_some(()))
        })
    }

    /// RequestTransferExit.
    pub fn transfer_exit(&mut self) -> Result<(), UdsError> {
        self.call(&Request::TransferExit.encode(), |data| Ok(data.is_empty().then_some(())))
    }

    /// A whole transfer: the request for `target`, `size` bytes from `source` in blocks of the
    /// length the server announced (at most the configured maximum), each repeated on a
    /// transient failure, then RequestTransferExit. `progress` gets the bytes acknowledged so
    /// far after every block. `source` must hold exactly `size` bytes.
    pub fn transfer(
        &mut self,
        target: TransferTarget<'_>,
        size: u64,
        mut source: impl Read,
        mut progress: impl FnMut(u64),
    ) -> Result<(), UdsError> {
        if self.config.max_block_len < 3 {
            let reason = "ClientConfig::max_block_len must leave room for data (at least 3)";
            return Err(UdsError::Transport(Error::InvalidConfig { reason }));
        }
        let announced = match target {
            TransferTarget::File(name) => self.request_file_transfer(name, size)?,
            TransferTarget::Image => self.request_download(size)?,
        };
        let block_len = usize::try_from(announced)
            .unwrap_or(usize::MAX)
            .min(self.config.max_block_len)
            .min(usize::try_from(size).unwrap_or(usize::MAX).saturating_add(2));
        let mut block = vec![0; block_len];
        block[0] = sid::TRANSFER_DATA;
        let mut counter = 1u8;
        let mut done = 0u64;
        while done < size {
            let len = (block_len as u64 - 2).min(size - done) as usize;
            let got = read_full(&mut source, &mut block[2..2 + len])?;
            if got < len {
                return Err(UdsError::SourceLength { announced: size, actual: done + got as u64 });
            }
            block[1] = counter;
            self.block_with_retries(&block[..2 + len], counter)?;
            done += len as u64;
            progress(done);
            counter = counter.wrapping_add(1);
        }
        if read_full(&mut source, &mut [0])? > 0 {
            return Err(UdsError::SourceLength { announced: size, actual: size + 1 });
        }
        self.transfer_exit()
    }

    fn block_with_retries(&mut self, request: &[u8], counter: u8) -> Result<(), UdsError> {
        let mut attempt = 0;
        loop {
            match self.call(request, |echo| Ok((echo == [counter]).then_some(()))) {
                Err(error) if error.is_transient() && attempt < self.config.block_retries => {
                    attempt += 1;
                }
                result => return result,
            }
        }
    }

    fn routine(&mut self, routine: Routine, option: &[u8]) -> Result<Vec<u8>, UdsError> {
        let code = routine.code().to_be_bytes();
        self.call(&Request::StartRoutine { routine, option }.encode(), |data| match data {
            [0x01, a, b, status @ ..] if [*a, *b] == code => Ok(Some(status.to_vec())),
            // Another routine's result: a late answer to an earlier request.
            [0x01, _, _, ..] => Ok(None),
            _ => Err("routine response shorter than its header"),
        })
    }

    /// Sends `request` and waits for its response. `parse` reads a positive response's data:
    /// `Ok(None)` for a response to some earlier request (skipped), `Err` for a malformed one.
    fn call<T>(
        &mut self,
        request: &[u8],
        parse: impl Fn(&[u8]) -> Result<Option<T>, &'static str>,
    ) -> Result<T, UdsError> {
        let service = request[0];
        let sent = self.socket.send(request)?;
        let mut timer = self.config.p2;
        let mut deadline = sent + timer;
        let mut pending = 0u32;
        loop {
            let Some(message) = self.socket.recv(Some(deadline))? else {
                return Err(UdsError::NoResponse { service, after: timer });
            };
            match classify(service, &message) {
                Reply::Positive(data) => match parse(data) {
                    Ok(Some(value)) => return Ok(value),
                    Ok(None) => {}
                    Err(reason) => return Err(UdsError::MalformedResponse { service, reason }),
                },
                Reply::Pending => {
                    pending += 1;
                    if pending > self.config.max_pending {
                        let max = self.config.max_pending;
                        return Err(UdsError::TooManyPending { service, max });
                    }
                    timer = self.config.p2_star;
                    deadline = self.socket.link().now() + timer;
                }
                Reply::Negative(nrc) => return Err(UdsError::Negative { service, nrc }),
                Reply::Unrelated => {}
            }
        }
    }
}

/// maxNumberOfBlockLength: 1 to 8 bytes, room for the SID, counter and one data byte.
fn block_length(bytes: &[u8]) -> Result<u64, &'static str> {
    match be_uint(bytes) {
        Some(len) if len >= 3 => Ok(len),
        Some(_) => Err("maxNumberOfBlockLength leaves no room for data"),
        None => Err("maxNumberOfBlockLength is not 1 to 8 bytes"),
    }
}

/// Fills `buf` from `source` as far as it goes; the count read.
fn read_full(source: &mut impl Read, buf: &mut [u8]) -> Result<usize, UdsError> {
    let mut filled = 0;
    while filled < buf.len() {
        match source.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
            Err(error) => return Err(UdsError::Source(error)),
        }
    }
    Ok(filled)
}
