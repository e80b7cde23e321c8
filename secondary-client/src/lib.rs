//! A Secondary ECU of an Uptane vehicle, simulated on the mock CAN bus.
//!
//! The Secondary trusts nothing the bus brings: it verifies metadata itself, in full (both
//! repositories, Uptane 5.4.4.2) or partially (Director Targets, 5.4.4.1); checks the image
//! against it while the image streams into the inactive of two slots (hardware id, release
//! counter, every hash, exact length); switches slots atomically, keeping the old one to fall
//! back to; takes time only from attestations it can verify; and names every attack it
//! stopped in its next signed version report.
//!
//! - [`ecu::Ecu`]: the ECU, independent of the bus (start there).
//! - [`bus`]: the UDS services it offers on the bus ([`canbus::uds`]).
//! - [`config`]: the TOML configuration and its flags.
//! - [`metadata`]: staged metadata and the file names the Primary uses (`director/targets.json`,
//!   `image/4.snapshot.json`, ...), and the trusted copies on flash.
//! - [`slots`], [`state`]: A/B slots and the atomically replaced `state.json` that decides which
//!   one boots; a simulated trial boot (see [`slots::BOOT_FAILURE_MARKER`]).
//!
//! # Storage
//!
//! `STORAGE/state.json` (active slot, what each slot holds and its release counter, time,
//! report counter, outstanding nonce, attacks not yet reported), `STORAGE/slots/{a,b}.img`,
//! `STORAGE/metadata/{director,image}/ROLE.json` (the exact bytes last trusted). A process
//! killed at any moment restarts on a verified image: the slot being written is marked empty
//! before its first byte, and the switch is one atomic rename.
//!
//! # Limitations
//!
//! - **A3, Director compromise, partial verification.** A partial-verification Secondary
//!   checks only Director Targets. An attacker holding the Director's online Targets key and
//!   controlling delivery to the ECU (a compromised Primary, or a device on the bus) can make it
//!   install an image the Image repository never signed. This is inherent in partial
//!   verification (Standard 5.4.4.1; ESCAR'16 §4.5, §5.4) and tested as an expected accept;
//!   full verification refuses it. Use full verification where the ECU can afford it.
//! - **Key rotation, partial verification.** Director Root rotations the Primary passes on
//!   (`director/N.root.json`) are followed (SP-8); a time key rotation does not reset the clock.
//! - **Repository mapping.** Full verification uses the fixed two-repository mapping (Director
//!   and Image repository both required); no `map.json` is read.
//! - **Trusted metadata moves only on success.** A cycle that fails at any step leaves every
//!   trusted file as it was, so a newer but refused Timestamp is not remembered as a rollback
//!   baseline; partial verification also keeps the previous Targets when the new ones do not
//!   name this ECU (5.4.3.3).

pub mod bus;
pub mod config;
pub mod ecu;
mod error;
pub mod metadata;
pub mod slots;
pub mod state;
mod time;
mod verify;

pub use ecu::{Activation, Ecu, Verdict};
pub use error::{Error, Result};
pub use verify::Order;
