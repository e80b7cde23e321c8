//! The Primary <-> Secondary ECU protocol: UDS services (ISO 14229) over ISO-TP.
//!
//! The Primary is the client ([`UdsClient`]), each Secondary a server ([`UdsServer`]) that
//! hands the work to an [`EcuHandler`]. Requests are `SID data...`, positive responses
//! `SID+0x40 data...`, refusals `0x7F SID NRC`. The services (`canbus/PROTOCOL.md` has the full
//! message table):
//!
//! | need                         | service                                       |
//! |------------------------------|-----------------------------------------------|
//! | serial, hardware id, key     | ReadDataByIdentifier 0x22 ([`Identifier`])    |
//! | signed version report        | RoutineControl 0x31, routine 0x0201 (nonce)   |
//! | time attestation             | WriteDataByIdentifier 0x2E, DID 0xF1A1        |
//! | metadata files               | RequestFileTransfer 0x38 + TransferData 0x36 + RequestTransferExit 0x37 |
//! | image into the inactive slot | RequestDownload 0x34 + TransferData 0x36 + RequestTransferExit 0x37 |
//! | verify metadata, activate    | RoutineControl 0x31, routines 0x0202, 0x0203  |
//! | reboot into the active slot  | ECUReset 0x11 hardReset                       |
//!
//! The protocol carries bytes; what they mean (Uptane metadata, signatures) is the handler's
//! business, so this crate depends on nothing Uptane. What it does enforce, before the handler
//! sees anything: strict decoding, the announced block length, the block sequence counter, the
//! announced transfer size (endless data), a per-transfer deadline and minimum throughput
//! (slow retrieval), and a per-message byte cap (ISO-TP overflow before allocation).
//!
//! Slow work (verifying metadata, activating, finishing a transfer) is answered with
//! "response pending" (NRC 0x78) first; the client then waits P2* instead of P2.

mod addressing;
mod client;
mod handler;
mod limits;
mod nrc;
mod request;
mod server;
mod service;

pub use addressing::{EcuAddress, PRIMARY_ADDRESS};
pub use client::{TransferTarget, UdsClient, UdsError};
pub use handler::{AbortReason, EcuHandler};
pub use limits::{ClientConfig, ServerLimits};
pub use nrc::Nrc;
pub use request::{MAX_FILE_NAME_LEN, Request};
pub use server::{Stop, UdsServer};
pub use service::{Identifier, Routine, sid};
