//! Why the ECU refused something. Every refusal that defeated an attack names it, so the ECU can
//! put the label in its next version report and the bus layer can answer with the right
//! negative response.

use std::path::Path;

use uptane::Attack;

/// A refusal, a failed check, or a local failure.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Verification of metadata, an image or a time attestation failed (the core names the
    /// attack, if it was one).
    #[error(transparent)]
    Uptane(#[from] uptane::Error),
    /// A request out of order: an image before verified metadata, data before a download.
    #[error("{0}")]
    Sequence(&'static str),
    /// A metadata file name the ECU does not store (see the crate docs for the naming).
    #[error("metadata file name {name:?}: {reason}")]
    InvalidName { name: String, reason: &'static str },
    /// More bytes than a limit allows (endless data, A11).
    #[error("{what}: more than {limit} bytes")]
    TooLarge { what: String, limit: u64 },
    /// A transfer aborted by the bus (slow retrieval or endless data, detected in transport).
    #[error("image transfer aborted: {detail}")]
    TransferAborted { attack: Option<Attack>, detail: String },
    /// Bad or missing configuration.
    #[error("configuration: {0}")]
    Config(String),
    /// The persisted state or provisioning is unusable.
    #[error("ECU state: {0}")]
    State(String),
    #[error("{what}: {source}")]
    Io { what: String, source: std::io::Error },
}

impl Error {
    /// The attack this refusal defeated, if any (profile §7 labels).
    pub fn attack(&self) -> Option<Attack> {
        match self {
            Error::Uptane(e) => e.attack(),
            Error::TooLarge { .. } => Some(Attack::EndlessData),
            Error::TransferAborted { attack, .. } => *attack,
            Error::Sequence(_)
            | Error::InvalidName { .. }
            | Error::Config(_)
            | Error::State(_)
            | Error::Io { .. } => None,
        }
    }

    pub(crate) fn io(path: &Path, source: std::io::Error) -> Error {
        Error::Io { what: path.display().to_string(), source }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
