//! One error type for the service (shared with the Director through [`service_kit::error`]).
//! Client mistakes are [`Rejection`]s with a stable code; every other failure is an internal
//! error (500) that changes no published state.

use std::fmt;

pub use service_kit::error::{Error, Rejection, Result};

/// The Image repository's rejections.
pub trait Rejections {
    fn conflict(message: impl fmt::Display) -> Rejection;
    fn unauthorized() -> Rejection;
    fn too_large(what: &str, limit: u64) -> Rejection;
    /// Maps a verification failure of uploaded metadata onto a stable code.
    fn from_uptane(error: &uptane::Error) -> Rejection;
}

impl Rejections for Rejection {
    fn conflict(message: impl fmt::Display) -> Rejection {
        Rejection::new(409, "conflict", message)
    }

    fn unauthorized() -> Rejection {
        Rejection::new(401, "unauthorized", "a valid bearer upload token is required")
    }

    fn too_large(what: &str, limit: u64) -> Rejection {
        Rejection::new(413, "too_large", format!("{what} exceeds {limit} bytes"))
    }

    fn from_uptane(error: &uptane::Error) -> Rejection {
        use uptane::Error as E;
        let (status, code) = match error {
            E::DuplicateSignature { .. } | E::Threshold { .. } => (403, "bad_signature"),
            E::RootVersion { .. } | E::VersionRollback { .. } => (400, "wrong_version"),
            E::Expired { .. } => (400, "expired"),
            E::InvalidName { .. } => (400, "bad_path"),
            E::NotFound { .. } => (404, "unknown_role"),
            E::Malformed { .. }
            | E::WrongType { .. }
            | E::SpecVersion { .. }
            | E::KeyIdMismatch { .. }
            | E::Canonical(_)
            | E::Key(_)
            | E::NoUsableHash { .. } => (400, "malformed_metadata"),
            _ => (400, "rejected"),
        };
        Rejection::new(status, code, error)
    }
}
