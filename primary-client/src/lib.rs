//! The Uptane Primary: its HTTP(S) transport and the verification it runs over it.
//!
//! [`tuf_client`] is the plain-TUF client that the conformance suite drives through the
//! `tuf-client` binary; it shares the transport and the `uptane` verifier with the Primary.

pub mod check;
pub mod http;
pub mod tuf_client;
