//! The shared Director root: signed offline (keytool) and uploaded by the operator. It must
//! list this service's online keys, so every vehicle can verify what the service signs.

use chrono::Utc;
use serde::Serialize;
use uptane::crypto::Signer;
use uptane::metadata::{Root, SignedMetadata};
use uptane::repository::{Rules, TrustedSet};

use crate::error::{Error, Rejection, Result};
use crate::keys::OnlineKeys;
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
    check_online_keys(root, &state.keys)?;
    state.db.insert_root(root.version as i64, &hex::encode(bytes))?;
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

/// The root must give the targets, snapshot and timestamp roles this service's keys (threshold
/// 1) and name the time key in its `time_attestation` field; the error names the key ids.
pub fn check_online_keys(root: &Root, keys: &OnlineKeys) -> Result<()> {
    let listed = |role: &str, signer: &dyn Signer| {
        root.keys.contains_key(signer.key_id())
            && root
                .roles
                .get(role)
                .is_some_and(|r| r.threshold == 1 && r.keyids.iter().any(|k| k == signer.key_id()))
    };
    let time_ok = root.keys.contains_key(keys.time.key_id())
        && uptane::time::time_keys(root)
            .ok()
            .flatten()
            .is_some_and(|r| r.keyids.iter().any(|k| k == keys.time.key_id()));
    let mut missing = Vec::new();
    for (role, signer) in keys.named() {
        let ok = if role == "time" { time_ok } else { listed(role, signer) };
        if !ok {
            missing.push(format!("{role} key id {}", signer.key_id()));
        }
    }
    if missing.is_empty() {
        return Ok(());
    }
    Err(Rejection::new(
        422,
        "online_keys_missing",
        format!(
            "the root must list this service's online keys (targets, snapshot and timestamp with \
             threshold 1; the time key in keys and in `{}`); missing: {} (public keys in \
             DATA/keys/*.pub.json; `director-repo keys` prints them)",
            uptane::time::TIME_KEYS_FIELD,
            missing.join(", ")
        ),
    )
    .into())
}
