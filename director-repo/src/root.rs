//! The shared Director root: signed offline (keytool) and uploaded by the operator. It must
//! name online keys this service holds, so every vehicle can verify what the service signs;
//! root N+1 (signed by the thresholds of root N and of itself) rotates them: from its upload
//! on, every process signs with the keys it names (profile §6.8).

use chrono::Utc;
use serde::Serialize;
use uptane::metadata::{Root, SignedMetadata};
use uptane::repository::{Rules, TrustedSet};

use crate::error::{Error, Rejection, Result};
use crate::keys::KeyRing;
use crate::state::AppState;

/// What an accepted upload made current.
#[derive(Debug, Clone, Serialize)]
pub struct Accepted {
    pub version: u64,
}

/// The body of root bytes (no signature check).
pub fn parse(bytes: &[u8]) -> Result<Root> {
    Ok(SignedMetadata::<Root>::from_bytes(bytes, "root")?.signed)
}

/// Verifies and stores a new root: version 1 signed by its own threshold, or version N+1
/// signed by the thresholds of root N and of itself; unexpired; listing the online keys.
pub fn upload(state: &AppState, bytes: &[u8]) -> Result<Accepted> {
    let now = Utc::now();
    let current = state.db.latest_root()?;
    let set = match &current {
        None => {
            let set = TrustedSet::new(bytes, now, Rules::uptane()).map_err(rejection)?;
            if set.root().version != 1 {
                return Err(Rejection::bad_request(
                    "wrong_version",
                    format!("the first root must be version 1, not {}", set.root().version),
                )
                .into());
            }
            set
        }
        Some((_, current)) => {
            let current = hex::decode(current).map_err(|e| Error::Internal(e.to_string()))?;
            let mut set = TrustedSet::new(&current, now, Rules::uptane())?;
            set.update_root(bytes).map_err(rejection)?;
            set
        }
    };
    set.check_root_fresh().map_err(rejection)?;
    let root = set.root().meta();
    let keys = state.keys_for(root)?;
    state.db.insert_root(root.version as i64, &hex::encode(bytes))?;
    state.activate(root.version, keys);
    tracing::info!(version = root.version, "accepted a Director root");
    Ok(Accepted { version: root.version })
}

fn rejection(error: uptane::Error) -> Error {
    use uptane::Error as E;
    let (status, code) = match &error {
        E::DuplicateSignature { .. } | E::Threshold { .. } => (403, "bad_signature"),
        E::RootVersion { .. } | E::VersionRollback { .. } => (400, "wrong_version"),
        E::Expired { .. } => (400, "expired"),
        _ => (400, "malformed_root"),
    };
    Rejection::new(status, code, error).into()
}

/// The refusal of a root naming online keys the service does not hold: which roles, and the
/// key ids the service does hold (so the operator can fix the root or install the key files).
pub fn keys_missing(ring: &KeyRing, missing: &[String]) -> Rejection {
    let held: Vec<&str> = ring.public_keys().into_keys().collect();
    Rejection::new(
        422,
        "online_keys_missing",
        format!(
            "the root must name, for targets, snapshot and timestamp (threshold 1) and in its \
             `{}` field for time, a key this service holds; {}. Held key ids: {} (put a new \
             key's PKCS#8 file in DATA/keys or pass --online-key; `director-repo keys` lists \
             them)",
            uptane::time::TIME_KEYS_FIELD,
            missing.join("; "),
            held.join(", ")
        ),
    )
}
