//! What a Secondary ECU plugs into the server.

use std::time::Duration;

use super::nrc::Nrc;
use super::service::Identifier;

/// The Secondary's side of every service. The server decodes and checks each request, keeps
/// the transfer state (counters, sizes, limits) and calls these; the handler does the work and
/// returns the response data, or the [`Nrc`] to refuse with.
///
/// The protocol carries bytes: what a version report, a key or an attestation contains is the
/// handler's business. Calls come from the server's thread, one at a time.
pub trait EcuHandler {
    /// ReadDataByIdentifier: the bytes of a readable identifier (serial and hardware id as
    /// UTF-8, the public key in the encoding the Secondary and Primary agree on).
    fn read_identifier(&mut self, id: Identifier) -> Result<Vec<u8>, Nrc>;

    /// RoutineControl "version report": the signed ECU version report over `nonce`.
    fn version_report(&mut self, nonce: &[u8]) -> Result<Vec<u8>, Nrc>;

    /// WriteDataByIdentifier "time attestation": a signed time from the Director, to verify.
    fn time_attestation(&mut self, attestation: &[u8]) -> Result<(), Nrc>;

    /// RequestFileTransfer: a metadata file of exactly `size` bytes follows, named like
    /// `director/targets.json` or `image/3.root.json`. Refuse names or sizes you do not take
    /// (typically [`Nrc::UPLOAD_DOWNLOAD_NOT_ACCEPTED`] or [`Nrc::REQUEST_OUT_OF_RANGE`]).
    fn begin_file(&mut self, name: &str, size: u64) -> Result<(), Nrc>;

    /// RequestDownload: an image of exactly `size` bytes follows, for the inactive slot.
    fn begin_image(&mut self, size: u64) -> Result<(), Nrc>;

    /// TransferData: the next bytes of the file or image begun last, in order, never past the
    /// announced size. A refusal ends the transfer.
    fn write(&mut self, chunk: &[u8]) -> Result<(), Nrc>;

    /// RequestTransferExit after exactly the announced bytes: the file or image is complete.
    /// A refusal (say [`Nrc::GENERAL_PROGRAMMING_FAILURE`]) ends the transfer all the same.
    fn end_transfer(&mut self) -> Result<(), Nrc>;

    /// RoutineControl "verify metadata": verify the files delivered; the bytes returned are the
    /// routine's status record (free for the Secondary to fill, may be empty).
    fn verify_metadata(&mut self) -> Result<Vec<u8>, Nrc>;

    /// RoutineControl "activate image": verify the written image and switch slots; the bytes
    /// returned are the routine's status record.
    fn activate(&mut self) -> Result<Vec<u8>, Nrc>;

    /// ECUReset (hard reset): after the positive response the server returns
    /// [`Stop::Reset`](super::Stop::Reset) so the Secondary can reboot into its active slot.
    fn reset(&mut self) -> Result<(), Nrc> {
        Ok(())
    }

    /// The server gave up on the open transfer for `reason`; whatever was written of it must
    /// not be used. Not called when the handler itself refused a write or the exit.
    fn transfer_aborted(&mut self, reason: AbortReason);
}

/// Why the server abandoned a transfer. The first two are the endless-data attack (A11), the
/// next two slow retrieval (A12); a Secondary reports them in its next version report.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum AbortReason {
    /// A TransferData block would have taken the transfer past its announced size.
    SizeExceeded {
        /// The size announced when the transfer began.
        announced: u64,
        /// The total the block would have reached.
        attempted: u64,
    },
    /// A request longer than the per-message byte cap arrived while the transfer was open.
    MessageTooLarge {
        /// Length the ISO-TP first frame announced.
        len: u64,
        /// The cap.
        max: usize,
    },
    /// The transfer was still open at its deadline.
    DeadlineExceeded {
        /// The configured deadline.
        deadline: Duration,
    },
    /// The average rate since the transfer began fell under the minimum throughput.
    TooSlow {
        /// Bytes received so far.
        bytes: u64,
        /// Time since the transfer began.
        elapsed: Duration,
    },
    /// A new RequestDownload or RequestFileTransfer replaced the open transfer (a client that
    /// gave up on it and starts over).
    Superseded,
    /// The server stopped (link closed, reset) with the transfer open.
    Interrupted,
}

impl AbortReason {
    /// The peer tried to send more than it may (Uptane's `endless_data`).
    pub fn is_endless_data(self) -> bool {
        matches!(self, Self::SizeExceeded { .. } | Self::MessageTooLarge { .. })
    }

    /// The peer sent too slowly (Uptane's `slow_retrieval`).
    pub fn is_slow_retrieval(self) -> bool {
        matches!(self, Self::DeadlineExceeded { .. } | Self::TooSlow { .. })
    }
}
