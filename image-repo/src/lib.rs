//! The Uptane Image repository service.
//!
//! Release engineers upload image blobs and offline-signed Targets metadata (top-level or a
//! supplier's delegated role) and new Root versions; the service verifies them with the uptane
//! core, signs a new Snapshot and Timestamp with its online keys, stores everything in one
//! database transaction (SQLite or PostgreSQL) and serves the result from memory in the TUF
//! consistent-snapshot layout of DESIGN.md.

pub mod config;
mod error;
pub mod keys;
pub mod metrics;
pub mod publish;
pub mod published;
pub mod routes;
pub mod server;
pub mod state;
pub mod storage;
pub mod tls;
pub mod verify_upload;

pub use config::{Cli, Command, Config};
pub use error::{Error, Rejection, Rejections, Result};
pub use state::AppState;

/// The current time as stored in the database.
pub(crate) fn now_text() -> String {
    uptane::metadata::format_time(chrono::Utc::now())
}
