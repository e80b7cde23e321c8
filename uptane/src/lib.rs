//! The Uptane core: metadata and its canonical JSON, keys and signatures, the repository
//! verifier, and the Uptane checks on Director metadata, images, manifests and time.
//!
//! No network and no database: callers bring bytes (through [`repository::Fetch`]) and get
//! verdicts. Every failure is an [`Error`] that names the attack it stopped ([`Attack`]).

pub mod canonical;
pub mod crypto;
pub mod director;
mod error;
pub mod image;
pub mod manifest;
pub mod metadata;
pub mod names;
pub mod repository;
pub mod time;
pub mod verification;

pub use error::{ALL_ATTACKS, Attack, Error, Result};
