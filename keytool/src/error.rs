//! What can go wrong for a release engineer, worded so they know what to do next.

use std::path::{Path, PathBuf};

/// A keytool failure. [`Error::Usage`] maps to exit code 2, everything else to 1.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The command line asked for something that cannot work (bad combination, bad value).
    #[error("{0}")]
    Usage(String),
    /// The workspace is not in a state where the command makes sense.
    #[error("{0}")]
    State(String),
    #[error("{}: {source}", path.display())]
    Io { path: PathBuf, source: std::io::Error },
    #[error(transparent)]
    Uptane(#[from] uptane::Error),
    /// A key was offered for a role that does not list it.
    #[error("key {keyid} is not a key of role {role} (its keys: {})", list(allowed))]
    WrongKey { role: String, keyid: String, allowed: Vec<String> },
    /// A target path or hardware id outside what the role was delegated.
    #[error("{what} is outside the delegation to role {role} ({scope})")]
    OutsideDelegation { role: String, what: String, scope: String },
    /// Thresholds or files missing: nothing was written.
    #[error("not ready to publish, nothing was written:\n  - {}", problems.join("\n  - "))]
    NotReady { problems: Vec<String> },
}

fn list(ids: &[String]) -> String {
    if ids.is_empty() { "none".into() } else { ids.join(", ") }
}

impl Error {
    pub(crate) fn io(path: &Path, source: std::io::Error) -> Error {
        Error::Io { path: path.to_owned(), source }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
