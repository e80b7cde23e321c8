//! keytool: the offline side of an Uptane deployment. Release engineers and suppliers generate
//! keys, hold root ceremonies, list images, delegate to suppliers, collect threshold signatures
//! from key holders on separate machines, rotate roots, publish a static Image repository and
//! verify it the way a vehicle would. Keys never touch a server.
//!
//! The binary is a thin shell over [`cli::run`]; the operations in [`ops`], [`publish`] and
//! [`verify`] work on a [`workspace::Workspace`] directory of plain JSON files.

mod blobs;
pub mod cli;
pub mod edit;
mod error;
pub mod expires;
mod fsutil;
pub mod keys;
pub mod ops;
pub mod publish;
pub mod report;
pub mod verify;
pub mod workspace;

pub use error::{Error, Result};
