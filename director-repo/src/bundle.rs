//! Per-vehicle metadata (Standard 5.3.2.1 step 7): Targets listing each pending assignment
//! with the ECUs that install it, and the Snapshot and Timestamp over it, all signed with the
//! online keys the current Director root names. Signed bytes are kept in memory
//! ([`crate::cache`]) and in the database and served again until the content changes, the keys
//! rotate or half of their lifetime has passed, so a poll with nothing new signs nothing.
//! Versions come from the database: the (vin, role, version) key lets only one process issue a
//! version.

use std::collections::BTreeMap;
use std::sync::Arc;

use actix_web::web::Bytes;
use chrono::{DateTime, Utc};
use serde_json::{Map, json};
use uptane::crypto::Signer;
use uptane::metadata::{
    EcuIdentifier, MetaFile, SignedMetadata, Snapshot, TargetFile, Targets, Timestamp, format_time,
    parse_time,
};
use uptane::names::{EcuSerial, HardwareId};

use crate::cache::{Bundle, SignedFile};
use crate::error::{Error, Rejection, Rejections as _, Result};
use crate::keys::OnlineKeys;
use crate::metrics::Poll;
use crate::state::AppState;
use crate::storage::{AssignmentRow, MetadataRow};

/// How often a lost race for a version is retried before giving up.
const ATTEMPTS: usize = 8;

/// The current timestamp.json bytes of `vin` (see [`current`]).
pub fn current_timestamp(state: &AppState, vin: &str) -> Result<Bytes> {
    Ok(current(state, vin)?.timestamp.bytes.clone())
}

/// The current bundle of `vin`: from memory when it still lists the pending assignments, is
/// the newest in the database and has more than half its lifetime left; else the stored one
/// when it qualifies (another process, or before a restart, signed it); else newly signed.
pub fn current(state: &AppState, vin: &str) -> Result<Arc<Bundle>> {
    let min_left = state.config.metadata_lifetime / 2;
    for _ in 0..ATTEMPTS {
        // One query for all a poll with nothing new needs; the ECUs only when something is
        // listed or signed.
        let poll = state.db.poll_state(vin)?;
        let Some((epoch, keys)) = state.sync_keys_to(poll.root_version)? else {
            return Err(Rejection::not_found(
                "no_root",
                "the operator has not uploaded a Director root yet",
            )
            .into());
        };
        if !poll.registered {
            // Every registered vehicle has its Primary: this one is not registered.
            return Err(Rejection::unknown_vehicle(vin).into());
        }
        let (listed, issuing) = crate::assignment::bundle(state, vin, poll.open)?;
        let desired = desired_targets(state, vin, listed)?;
        let now = Utc::now();
        let latest = poll.timestamp_version.map(|v| v as u64);
        if let Some(bundle) = state.cache.get(vin)
            && bundle.serves(epoch, latest, &desired, now, min_left)
        {
            state.metrics.count_poll(Poll::Cached);
            return Ok(bundle);
        }
        let _guard = state.signing_lock(vin);
        // Another request of this process may have signed meanwhile: look again.
        let latest = latest_versions(state, vin)?;
        if let Some(bundle) = adopt(&latest, epoch, &keys, &desired)?
            && bundle.serves(epoch, Some(bundle.timestamp.version), &desired, now, min_left)
        {
            let bundle = Arc::new(bundle);
            state.cache.put_newest(vin, bundle.clone());
            state.metrics.count_poll(Poll::Stored);
            return Ok(bundle);
        }
        let (rows, bundle) = sign_bundle(state, &keys, epoch, vin, &latest, desired, now)?;
        if state.db.commit_bundle(&rows, &issuing, state.config.metadata_versions_kept)? {
            tracing::debug!(vin, version = bundle.timestamp.version, "signed per-vehicle metadata");
            let bundle = Arc::new(bundle);
            state.cache.put_newest(vin, bundle.clone());
            state.metrics.count_poll(Poll::Signed);
            return Ok(bundle);
        }
        tracing::debug!(vin, "lost a race for a metadata version; retrying");
    }
    Err(Error::Internal(format!("{vin}: could not allocate a metadata version")))
}

/// A stored `V.ROLE.json` (snapshot or targets) of `vin`, from memory when it is current.
pub fn stored(state: &AppState, vin: &str, role: &str, version: u64) -> Result<Option<Bytes>> {
    if let Some(bytes) = state.cache.get(vin).and_then(|b| b.file(role, version)) {
        return Ok(Some(bytes));
    }
    let Ok(version) = i64::try_from(version) else { return Ok(None) };
    state
        .db
        .metadata(vin, role, version)?
        .map(|row| row.bytes().map(Bytes::from).map_err(|e| Error::Internal(e.to_string())))
        .transpose()
}

#[derive(Debug, Default)]
struct Latest {
    targets: Option<MetadataRow>,
    snapshot: Option<MetadataRow>,
    timestamp: Option<MetadataRow>,
}

fn latest_versions(state: &AppState, vin: &str) -> Result<Latest> {
    Ok(Latest {
        targets: state.db.latest_metadata(vin, "targets")?,
        snapshot: state.db.latest_metadata(vin, "snapshot")?,
        timestamp: state.db.latest_metadata(vin, "timestamp")?,
    })
}

fn version(row: &Option<MetadataRow>) -> u64 {
    row.as_ref().map_or(0, |r| r.version as u64)
}

/// The stored bundle, if it lists exactly `desired` and each file carries the signature of the
/// key in use for its role (a rotated key re-signs).
fn adopt(
    latest: &Latest,
    key_epoch: u64,
    keys: &OnlineKeys,
    desired: &BTreeMap<String, TargetFile>,
) -> Result<Option<Bundle>> {
    let (Some(targets), Some(snapshot), Some(timestamp)) =
        (&latest.targets, &latest.snapshot, &latest.timestamp)
    else {
        return Ok(None);
    };
    let internal = |e: hex::FromHexError| Error::Internal(e.to_string());
    let targets_bytes = targets.bytes().map_err(internal)?;
    let current = SignedMetadata::<Targets>::from_bytes(&targets_bytes, "targets")?;
    if current.signed.targets != *desired || !signed_by(&current.signatures, &*keys.targets) {
        return Ok(None);
    }
    let snapshot_bytes = snapshot.bytes().map_err(internal)?;
    let timestamp_bytes = timestamp.bytes().map_err(internal)?;
    let snapshot_signed = SignedMetadata::<Snapshot>::from_bytes(&snapshot_bytes, "snapshot")?;
    let timestamp_signed = SignedMetadata::<Timestamp>::from_bytes(&timestamp_bytes, "timestamp")?;
    if !signed_by(&snapshot_signed.signatures, &*keys.snapshot)
        || !signed_by(&timestamp_signed.signatures, &*keys.timestamp)
    {
        return Ok(None);
    }
    let expires = [&targets.expires, &snapshot.expires, &timestamp.expires]
        .into_iter()
        .map(|e| parse_time(e).ok_or_else(|| Error::Internal(format!("stored expiry {e:?}"))))
        .collect::<Result<Vec<_>>>()?;
    Ok(Some(Bundle {
        key_epoch,
        targets_listed: current.signed.targets,
        targets: SignedFile { version: targets.version as u64, bytes: targets_bytes.into() },
        snapshot: SignedFile { version: snapshot.version as u64, bytes: snapshot_bytes.into() },
        timestamp: SignedFile { version: timestamp.version as u64, bytes: timestamp_bytes.into() },
        expires: expires.into_iter().min().unwrap_or_default(),
    }))
}

fn signed_by(signatures: &[uptane::metadata::Signature], signer: &dyn Signer) -> bool {
    signatures.iter().any(|s| s.keyid == signer.key_id())
}

/// One entry per image of the vehicle's bundle ([`crate::assignment::bundle`]: the one in
/// flight, or the pending assignments it issues), naming the ECUs that install it; the Image
/// repository's entry (length, hashes, hardwareIds, releaseCounter) is copied exactly.
fn desired_targets(
    state: &AppState,
    vin: &str,
    listed: Vec<AssignmentRow>,
) -> Result<BTreeMap<String, TargetFile>> {
    let mut out: BTreeMap<String, TargetFile> = BTreeMap::new();
    if listed.is_empty() {
        return Ok(out);
    }
    let ecus = state.db.ecus(vin)?;
    for assignment in listed {
        let Some(ecu) = ecus.iter().find(|e| e.serial == assignment.ecu_serial) else {
            continue;
        };
        let serial = EcuSerial::new(ecu.serial.as_str())?;
        let identifier = EcuIdentifier {
            hardware_id: HardwareId::new(ecu.hardware_id.as_str())?,
            extra: Map::new(),
        };
        let entry = match out.remove(&assignment.target_path) {
            Some(entry) => entry,
            None => serde_json::from_str(&assignment.target_json)
                .map_err(|e| Error::Internal(format!("stored target: {e}")))?,
        };
        let mut entry = entry;
        let mut custom = entry.uptane(&assignment.target_path)?;
        custom.ecu_identifiers.get_or_insert_with(BTreeMap::new).insert(serial, identifier);
        entry.set_uptane(&custom)?;
        out.insert(assignment.target_path, entry);
    }
    Ok(out)
}

/// Signs targets, snapshot and timestamp, each one version past the latest stored: the rows
/// to commit and the bundle to serve.
fn sign_bundle(
    state: &AppState,
    keys: &OnlineKeys,
    key_epoch: u64,
    vin: &str,
    latest: &Latest,
    desired: BTreeMap<String, TargetFile>,
    now: DateTime<Utc>,
) -> Result<(Vec<MetadataRow>, Bundle)> {
    let expires = now + state.config.metadata_lifetime;
    let expires_text = format_time(expires);

    let targets_version = version(&latest.targets) + 1;
    let mut targets = Targets::new(targets_version, expires);
    targets.targets = desired.clone();
    targets.custom = json!({ "vin": vin }).as_object().cloned();
    let signer: &dyn Signer = &*keys.targets;
    let targets_bytes = SignedMetadata::new(targets).sign_to_bytes(&[signer])?;

    let snapshot_version = version(&latest.snapshot) + 1;
    let meta = BTreeMap::from([(
        "targets.json".to_string(),
        MetaFile::describing(targets_version, &targets_bytes),
    )]);
    let signer: &dyn Signer = &*keys.snapshot;
    let snapshot_bytes = SignedMetadata::new(Snapshot::new(snapshot_version, expires, meta))
        .sign_to_bytes(&[signer])?;

    let timestamp_version = version(&latest.timestamp) + 1;
    let signer: &dyn Signer = &*keys.timestamp;
    let snapshot_meta = MetaFile::describing(snapshot_version, &snapshot_bytes);
    let timestamp_bytes =
        SignedMetadata::new(Timestamp::new(timestamp_version, expires, snapshot_meta))
            .sign_to_bytes(&[signer])?;

    let rows = vec![
        MetadataRow::new(vin, "targets", targets_version, &targets_bytes, &expires_text),
        MetadataRow::new(vin, "snapshot", snapshot_version, &snapshot_bytes, &expires_text),
        MetadataRow::new(vin, "timestamp", timestamp_version, &timestamp_bytes, &expires_text),
    ];
    let bundle = Bundle {
        key_epoch,
        targets_listed: desired,
        targets: SignedFile { version: targets_version, bytes: targets_bytes.into() },
        snapshot: SignedFile { version: snapshot_version, bytes: snapshot_bytes.into() },
        timestamp: SignedFile { version: timestamp_version, bytes: timestamp_bytes.into() },
        expires,
    };
    Ok((rows, bundle))
}
