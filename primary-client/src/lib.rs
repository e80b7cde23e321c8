//! The Uptane Primary: its HTTP(S) transport, the update cycle it runs over it and over the
//! in-vehicle bus, and the verification it shares with `check`.
//!
//! [`tuf_client`] is the plain-TUF client that the conformance suite drives through the
//! `tuf-client` binary; it shares the transport and the `uptane` verifier with the Primary.

pub mod can;
pub mod check;
pub mod config;
pub mod cycle;
pub mod director;
pub mod download;
pub mod http;
pub mod progress;
pub mod provision;
pub mod report;
pub mod secondary;
pub mod setup;
pub mod state;
pub mod tuf_client;
