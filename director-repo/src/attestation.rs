//! Secure time (Standard 5.4.2.2; profile §3.5): `POST /time` with the ECUs' nonces returns
//! the current time and those nonces signed with the time key, which the Director root names
//! in its `time_attestation` field.

use serde::Deserialize;
use serde_json::Map;
use uptane::crypto::Signer;
use uptane::metadata::SignedMetadata;
use uptane::time::TimeAttestation;

use crate::error::{Rejection, Result};
use crate::state::AppState;

/// At most this many nonces per request (a vehicle's ECUs).
pub const MAX_NONCES: usize = 64;

/// `POST /time`.
#[derive(Debug, Clone, Deserialize)]
pub struct TimeRequest {
    pub nonces: Vec<String>,
}

/// Signs the current time over `request.nonces` (each 128 to 512 bits of hex).
pub fn attest(state: &AppState, request: &TimeRequest) -> Result<Vec<u8>> {
    if request.nonces.is_empty() || request.nonces.len() > MAX_NONCES {
        return Err(Rejection::bad_request(
            "bad_nonces",
            format!("between 1 and {MAX_NONCES} nonces are required"),
        )
        .into());
    }
    let hex =
        |n: &String| (32..=128).contains(&n.len()) && n.bytes().all(|b| b.is_ascii_hexdigit());
    if let Some(bad) = request.nonces.iter().find(|n| !hex(n)) {
        return Err(Rejection::bad_request(
            "bad_nonces",
            format!("{bad:?} is not a 128- to 512-bit hex nonce"),
        )
        .into());
    }
    let body = TimeAttestation {
        time: chrono::Utc::now(),
        nonces: request.nonces.clone(),
        extra: Map::new(),
    };
    // The time key of the newest root (another process may have stored it).
    let keys = state.sync_keys()?.map_or_else(|| state.keys(), |(_, keys)| keys);
    let signer: &dyn Signer = &*keys.time;
    Ok(SignedMetadata::new(body).sign_to_bytes(&[signer])?)
}
