//! Per-vehicle metadata (Standard 5.3.2.1 step 7): Targets listing each pending assignment
//! with the ECUs that install it, and the Snapshot and Timestamp over it, all signed with the
//! online keys. Signed bytes are stored and served again until the content changes or half of
//! their lifetime has passed, so a poll with nothing new signs nothing. Versions come from the
//! database: the (vin, role, version) key lets only one process issue a version.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde_json::{Map, json};
use uptane::crypto::Signer;
use uptane::metadata::{
    EcuIdentifier, MetaFile, SignedMetadata, Snapshot, TargetFile, Targets, Timestamp, format_time,
    parse_time,
};
use uptane::names::{EcuSerial, HardwareId};

use crate::error::{Error, Rejection, Rejections as _, Result};
use crate::state::AppState;
use crate::storage::{MetadataRow, PENDING};

/// How often a lost race for a version is retried before giving up.
const ATTEMPTS: usize = 8;

/// The current timestamp.json bytes of `vin`, signing a new bundle first if the assignments
/// changed or the current one is past half its lifetime.
pub fn current_timestamp(state: &AppState, vin: &str) -> Result<Vec<u8>> {
    if !state.db.has_root()? {
        return Err(Rejection::not_found(
            "no_root",
            "the operator has not uploaded a Director root yet",
        )
        .into());
    }
    let ecus = state.db.ecus(vin)?;
    for _ in 0..ATTEMPTS {
        let desired = desired_targets(state, vin, &ecus)?;
        let now = Utc::now();
        let latest = latest_versions(state, vin)?;
        if let Some(bytes) = cached(state, &latest, &desired, now)? {
            return Ok(bytes);
        }
        let _guard = state.signing.lock().unwrap_or_else(|e| e.into_inner());
        // Another request of this process may have signed meanwhile: look again.
        let latest = latest_versions(state, vin)?;
        if let Some(bytes) = cached(state, &latest, &desired, now)? {
            return Ok(bytes);
        }
        let rows = sign_bundle(state, vin, &latest, desired, now)?;
        if state.db.commit_bundle(&rows)? {
            tracing::debug!(vin, version = rows[0].version, "signed per-vehicle metadata");
            return rows[2].bytes().map_err(|e| Error::Internal(e.to_string()));
        }
        tracing::debug!(vin, "lost a race for a metadata version; retrying");
    }
    Err(Error::Internal(format!("{vin}: could not allocate a metadata version")))
}

/// A stored `V.ROLE.json` (snapshot or targets) of `vin`.
pub fn stored(state: &AppState, vin: &str, role: &str, version: u64) -> Result<Option<Vec<u8>>> {
    let Ok(version) = i64::try_from(version) else { return Ok(None) };
    state
        .db
        .metadata(vin, role, version)?
        .map(|row| row.bytes().map_err(|e| Error::Internal(e.to_string())))
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

/// The stored timestamp, if the stored targets lists exactly `desired` and the bundle has
/// more than half its lifetime left.
fn cached(
    state: &AppState,
    latest: &Latest,
    desired: &BTreeMap<String, TargetFile>,
    now: DateTime<Utc>,
) -> Result<Option<Vec<u8>>> {
    let (Some(targets), Some(timestamp)) = (&latest.targets, &latest.timestamp) else {
        return Ok(None);
    };
    let fresh = |row: &MetadataRow| {
        parse_time(&row.expires).is_some_and(|e| e - now > state.config.metadata_lifetime / 2)
    };
    if !fresh(targets) || !fresh(timestamp) {
        return Ok(None);
    }
    let bytes = targets.bytes().map_err(|e| Error::Internal(e.to_string()))?;
    let current = SignedMetadata::<Targets>::from_bytes(&bytes, "targets")?;
    if current.signed.targets != *desired {
        return Ok(None);
    }
    Ok(Some(timestamp.bytes().map_err(|e| Error::Internal(e.to_string()))?))
}

/// One entry per pending assignment's image, naming the ECUs that install it; the Image
/// repository's entry (length, hashes, hardwareIds, releaseCounter) is copied exactly.
fn desired_targets(
    state: &AppState,
    vin: &str,
    ecus: &[crate::storage::EcuRow],
) -> Result<BTreeMap<String, TargetFile>> {
    let mut out: BTreeMap<String, TargetFile> = BTreeMap::new();
    for assignment in state.db.assignments(vin, Some(PENDING))? {
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

/// Signs targets, snapshot and timestamp, each one version past the latest stored.
fn sign_bundle(
    state: &AppState,
    vin: &str,
    latest: &Latest,
    desired: BTreeMap<String, TargetFile>,
    now: DateTime<Utc>,
) -> Result<Vec<MetadataRow>> {
    let expires = now + state.config.metadata_lifetime;
    let expires_text = format_time(expires);
    let keys = &state.keys;

    let targets_version = version(&latest.targets) + 1;
    let mut targets = Targets::new(targets_version, expires);
    targets.targets = desired;
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

    Ok(vec![
        MetadataRow::new(vin, "targets", targets_version, &targets_bytes, &expires_text),
        MetadataRow::new(vin, "snapshot", snapshot_version, &snapshot_bytes, &expires_text),
        MetadataRow::new(vin, "timestamp", timestamp_version, &timestamp_bytes, &expires_text),
    ])
}
