//! One error type for a service. Client mistakes are [`Rejection`]s with a stable code
//! (answered as `{"error": code, "message": ...}`); every other failure is an internal error
//! (500) that changes no state. A service adds its own rejections as constructors on a trait.

use std::fmt;

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use serde::Serialize;

/// A refused request: HTTP status, a stable machine-readable code and a message for people.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejection {
    pub status: u16,
    pub code: &'static str,
    pub message: String,
}

impl Rejection {
    pub fn new(status: u16, code: &'static str, message: impl fmt::Display) -> Rejection {
        Rejection { status, code, message: message.to_string() }
    }

    pub fn bad_request(code: &'static str, message: impl fmt::Display) -> Rejection {
        Rejection::new(400, code, message)
    }
}

impl fmt::Display for Rejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code, self.message)
    }
}

/// Why an operation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    #[error("{0}")]
    Rejected(Rejection),
    #[error("database: {0}")]
    Database(#[from] diesel::result::Error),
    #[error("database connection: {0}")]
    Pool(String),
    #[error("{what}: {source}")]
    Io { what: String, source: std::io::Error },
    #[error("uptane: {0}")]
    Uptane(#[from] uptane::Error),
    #[error("configuration: {0}")]
    Config(String),
    #[error("tls: {0}")]
    Tls(String),
    #[error("{0}")]
    Internal(String),
}

impl From<Rejection> for Error {
    fn from(rejection: Rejection) -> Error {
        Error::Rejected(rejection)
    }
}

impl Error {
    pub fn io(what: impl fmt::Display, source: std::io::Error) -> Error {
        Error::Io { what: what.to_string(), source }
    }

    /// The rejection, if this is a client error.
    pub fn rejection(&self) -> Option<&Rejection> {
        match self {
            Error::Rejected(r) => Some(r),
            _ => None,
        }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[derive(Serialize)]
struct Body<'a> {
    error: &'a str,
    message: &'a str,
}

impl ResponseError for Error {
    fn status_code(&self) -> StatusCode {
        match self {
            Error::Rejected(r) => StatusCode::from_u16(r.status).unwrap_or(StatusCode::BAD_REQUEST),
            _ => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        let (code, message) = match self {
            Error::Rejected(r) => (r.code, r.message.clone()),
            other => {
                tracing::error!(error = %other, "internal error");
                ("internal", other.to_string())
            }
        };
        HttpResponse::build(self.status_code()).json(Body { error: code, message: &message })
    }
}
