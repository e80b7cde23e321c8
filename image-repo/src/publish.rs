//! Publishing: verify the upload, sign a new snapshot and timestamp with the online keys, write
//! everything in one database transaction, then swap the served state. A failure at any step,
//! a crash included, leaves the previous published state served.

use actix_web::web::Bytes;
use chrono::{DateTime, Utc};
use serde::Serialize;
use uptane::crypto::Signer;
use uptane::metadata::{MetaFile, SignedMetadata, Snapshot, Timestamp};
use uptane::repository::{Fetch, MemStore, Rules, Store, Updater};

use crate::error::{Error, Rejection, Result};
use crate::published::Published;
use crate::state::AppState;
use crate::storage::MetadataRow;
use crate::verify_upload::{verify_root, verify_targets};

/// What a release engineer uploads.
#[derive(Debug, Clone)]
pub enum Upload {
    Root(Vec<u8>),
    Targets { role: String, bytes: Vec<u8> },
}

impl Upload {
    fn role(&self) -> &str {
        match self {
            Upload::Root(_) => "root",
            Upload::Targets { role, .. } => role,
        }
    }
}

/// What a publish made public.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Outcome {
    pub role: String,
    pub version: u64,
    pub snapshot_version: u64,
    pub timestamp_version: u64,
}

/// Verifies and publishes an upload (counted in the metrics either way).
pub fn publish(state: &AppState, upload: Upload) -> Result<Outcome> {
    let role = upload.role().to_owned();
    let result = publish_inner(state, upload);
    let label = match &result {
        Ok(_) => "accepted",
        Err(Error::Rejected(r)) => r.code,
        Err(_) => "internal",
    };
    state.metrics.count_publish(&role, label);
    if let Ok(outcome) = &result {
        tracing::info!(
            role,
            version = outcome.version,
            snapshot = outcome.snapshot_version,
            "published"
        );
    }
    result
}

fn publish_inner(state: &AppState, upload: Upload) -> Result<Outcome> {
    let _guard = state.lock_publish();
    let current = state.published();
    let now = Utc::now();
    let (role, version, bytes, index) = match upload {
        Upload::Root(bytes) => {
            let root = verify_root(&current, &bytes, &state.keys, now)?;
            ("root".to_owned(), root.version, bytes, None)
        }
        Upload::Targets { role, bytes } => {
            let lookup = |sha256: &str| state.db.upload(sha256);
            let accepted = verify_targets(&current, &role, &bytes, now, &lookup)?;
            (role, accepted.targets.version, bytes, Some(accepted.index))
        }
    };
    let mut next = (*current).clone();
    let mut rows = vec![MetadataRow::new(&role, version, &bytes)];
    next.add(&role, version, Bytes::from(bytes))?;
    next.reindex()?;
    sign_snapshot(state, &mut next, &mut rows, now)?;
    sign_timestamp(state, &mut next, &mut rows, now)?;
    if role != "root" {
        self_check(&next, &role, now)?;
    }
    let index = index.as_ref().map(|rows| (role.as_str(), rows.as_slice()));
    state.db.commit_publish(&rows, index, state.config.fail_before_commit)?;
    let outcome = Outcome {
        role,
        version,
        snapshot_version: next.version("snapshot"),
        timestamp_version: next.version("timestamp"),
    };
    state.swap(next);
    Ok(outcome)
}

/// Re-signs the timestamp (and the snapshot) when less than half of its lifetime is left.
/// Returns whether anything was published.
pub fn resign_if_due(state: &AppState) -> Result<bool> {
    let _guard = state.lock_publish();
    let current = state.published();
    let now = Utc::now();
    let (Some(snapshot), Some(timestamp)) = (&current.snapshot, &current.timestamp) else {
        return Ok(false);
    };
    let due = |expires: DateTime<Utc>, lifetime: chrono::Duration| expires - now < lifetime / 2;
    let snapshot_due = due(snapshot.expires, state.config.snapshot_lifetime);
    if !snapshot_due && !due(timestamp.expires, state.config.timestamp_lifetime) {
        return Ok(false);
    }
    let mut next = (*current).clone();
    let mut rows = Vec::new();
    if snapshot_due {
        sign_snapshot(state, &mut next, &mut rows, now)?;
    }
    sign_timestamp(state, &mut next, &mut rows, now)?;
    state.db.commit_publish(&rows, None, state.config.fail_before_commit)?;
    tracing::info!(
        snapshot = next.version("snapshot"),
        timestamp = next.version("timestamp"),
        "re-signed before expiry"
    );
    state.metrics.count_publish("timestamp", "resigned");
    state.swap(next);
    Ok(true)
}

/// A new snapshot listing every Targets role (version, length, sha256), once `targets` exists.
fn sign_snapshot(
    state: &AppState,
    next: &mut Published,
    rows: &mut Vec<MetadataRow>,
    now: DateTime<Utc>,
) -> Result<()> {
    if !next.targets.contains_key("targets") {
        return Ok(());
    }
    let version = next.version("snapshot") + 1;
    let meta = next
        .targets
        .iter()
        .map(|(role, c)| (format!("{role}.json"), MetaFile::describing(c.version, &c.bytes)))
        .collect();
    let body = Snapshot::new(version, now + state.config.snapshot_lifetime, meta);
    let signer: &dyn Signer = &*state.keys.snapshot;
    let bytes = SignedMetadata::new(body).sign_to_bytes(&[signer])?;
    rows.push(MetadataRow::new("snapshot", version, &bytes));
    next.add("snapshot", version, Bytes::from(bytes))
}

/// A new timestamp over the current snapshot (version, length, sha256).
fn sign_timestamp(
    state: &AppState,
    next: &mut Published,
    rows: &mut Vec<MetadataRow>,
    now: DateTime<Utc>,
) -> Result<()> {
    let Some(snapshot) = &next.snapshot else { return Ok(()) };
    let version = next.version("timestamp") + 1;
    let meta = MetaFile::describing(snapshot.version, &snapshot.bytes);
    let body = Timestamp::new(version, now + state.config.timestamp_lifetime, meta);
    let signer: &dyn Signer = &*state.keys.timestamp;
    let bytes = SignedMetadata::new(body).sign_to_bytes(&[signer])?;
    rows.push(MetadataRow::new("timestamp", version, &bytes));
    next.add("timestamp", version, Bytes::from(bytes))
}

/// Serves the candidate state to the core's client verifier: whatever it rejects, vehicles
/// would reject too, so it is never published.
fn self_check(next: &Published, role: &str, now: DateTime<Utc>) -> Result<()> {
    let Some(root) = &next.root else { return Ok(()) };
    if next.timestamp.is_none() {
        return Ok(());
    }
    let mut store = MemStore::default();
    store.save("root.json", &root.bytes)?;
    let fail = |e: uptane::Error| {
        Error::from(Rejection::new(
            422,
            "self_check_failed",
            format!("the result would not verify: {e}"),
        ))
    };
    let mut updater = Updater::new(Candidate(next), store, now, Rules::uptane()).map_err(fail)?;
    updater.refresh().map_err(fail)?;
    if role != "targets"
        && let Some(targets) = next.targets_of(role)?
    {
        for (path, file) in &targets.targets {
            let custom = file.uptane(path)?;
            let hardware = custom.hardware_ids.as_ref().and_then(|h| h.first()).map(|h| h.as_str());
            let found = updater.find_target(path, hardware).map_err(fail)?;
            if found.is_none() {
                return Err(fail(uptane::Error::NotFound {
                    what: format!("{path} via delegations"),
                }));
            }
        }
    }
    Ok(())
}

/// The candidate state as a client would fetch it.
struct Candidate<'a>(&'a Published);

impl Fetch for Candidate<'_> {
    fn fetch(&mut self, name: &str, max_bytes: u64) -> uptane::Result<Vec<u8>> {
        let file =
            self.0.file(name).ok_or_else(|| uptane::Error::NotFound { what: name.to_owned() })?;
        if file.bytes.len() as u64 > max_bytes {
            return Err(uptane::Error::TooLarge { what: name.to_owned(), limit: max_bytes });
        }
        Ok(file.bytes.to_vec())
    }
}
