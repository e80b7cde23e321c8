//! The Uptane Director repository service.
//!
//! The operator registers vehicles and their ECUs, uploads the shared Director root (signed
//! offline) and assigns images to ECUs. Vehicles send signed version manifests, verified
//! against the inventory, and poll per-vehicle Targets, Snapshot and Timestamp signed with the
//! online keys. Everything lives in one database (SQLite or PostgreSQL).
//!
//! Vehicles (mutual TLS: a fleet-CA client certificate naming the VIN as a DNS SAN):
//! - `GET /vehicles/VIN/metadata/{N.root.json|timestamp.json|V.snapshot.json|V.targets.json}`
//! - `PUT /vehicles/VIN/manifest`: a signed vehicle version manifest
//! - `POST /time` `{"nonces": [...]}`: a signed time attestation
//!
//! Operator (`Authorization: Bearer TOKEN`):
//! - `PUT /api/v1/root`: the keytool-made Director root, version 1 or exactly N+1; it must name
//!   online keys the service holds, and a new root rotates them ([`keys`])
//! - `POST /api/v1/vehicles` `{vin, primary, ecus: [{serial, hardware_id, public_key}]}`
//! - `GET /api/v1/vehicles/VIN`: ECUs, what they run, assignments, recent manifests
//! - `GET /api/v1/vehicles[?overdue=true]`: when each vehicle last reported, and whether it is
//!   overdue (no accepted manifest for `--overdue-after`: it stopped reporting, A13)
//! - `POST /api/v1/vehicles/VIN/assignments` `{ecu_serial, target_path}`: the image as the
//!   Image repository lists it (verified, for the ECU's hardware id); it waits while a bundle
//!   is in flight
//! - `DELETE /api/v1/vehicles/VIN/hold`: release a vehicle held after a partial installation
//! - `POST /api/v1/campaigns` `{name, target_path, hardware_id, vehicles: [VIN...] | "all",
//!   first_batch, max_failure_percent}`; `GET /api/v1/campaigns`, `GET /api/v1/campaigns/ID`,
//!   `POST /api/v1/campaigns/ID/{pause|resume|cancel}`
//! - `POST /api/v1/vehicles/VIN/client-certificate`: development only, a certificate and a key
//!   made on the server (Primaries provision with a CSR instead)
//! - `POST /api/v1/vehicles/VIN/reprovisioning`, `GET /api/v1/vehicles/VIN/provisioning`: allow
//!   the next provisioning to change the inventory; the certificates issued ([`provisioning`])
//! - `GET /api/v1/vehicles/VIN/rejections`: refused manifests by code (only the newest are kept)
//!
//! Primaries on first start (`Authorization: Bearer FLEET-TOKEN`, no client certificate yet):
//! - `POST /provisioning` `{vin, primary, ecus, csr}`: the inventory recorded, a client
//!   certificate for the CSR's key returned
//!
//! Operations: `GET /metrics` (Prometheus text), `GET /api/v1/openapi.yaml` (the API, OpenAPI 3).
//!
//! Errors are `{"error": code, "message": text}` with a stable code.

pub mod assignment;
pub mod attestation;
pub mod bundle;
pub mod cache;
pub mod campaign;
pub mod config;
mod error;
pub mod image_repo;
pub mod inventory;
pub mod keys;
pub mod manifest;
pub mod metrics;
pub mod provisioning;
pub mod reporting;
pub mod resign;
pub mod root;
pub mod routes;
pub mod server;
pub mod state;
pub mod storage;
pub mod tls;

pub use config::{Cli, Command, Config};
pub use error::{Error, Rejection, Rejections, Result};
pub use state::AppState;

/// The current time as stored in the database.
pub(crate) fn now_text() -> String {
    uptane::metadata::format_time(chrono::Utc::now())
}

/// A random 128-bit hex id for rows (no auto-increment: one portable schema).
pub(crate) fn random_id() -> Result<String> {
    let mut raw = [0u8; 16];
    ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut raw)
        .map_err(|_| Error::Internal("no randomness".into()))?;
    Ok(hex::encode(raw))
}
