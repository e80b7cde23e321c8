//! One error type for the service (shared with the Image repository through
//! [`service_kit::error`]). Client mistakes are [`Rejection`]s with a stable code (answered as
//! `{"error": code, "message": ...}`); every other failure is an internal error (500) that
//! changes no state.

use std::fmt;

pub use service_kit::error::{Error, Rejection, Result};

/// The Director's rejections.
pub trait Rejections {
    fn not_found(code: &'static str, message: impl fmt::Display) -> Rejection;
    fn conflict(code: &'static str, message: impl fmt::Display) -> Rejection;
    fn unauthorized() -> Rejection;
    fn unknown_vehicle(vin: &str) -> Rejection;
}

impl Rejections for Rejection {
    fn not_found(code: &'static str, message: impl fmt::Display) -> Rejection {
        Rejection::new(404, code, message)
    }

    fn conflict(code: &'static str, message: impl fmt::Display) -> Rejection {
        Rejection::new(409, code, message)
    }

    fn unauthorized() -> Rejection {
        Rejection::new(401, "unauthorized", "a valid operator bearer token is required")
    }

    fn unknown_vehicle(vin: &str) -> Rejection {
        Rejection::not_found("unknown_vehicle", format!("no vehicle {vin} in the inventory"))
    }
}
