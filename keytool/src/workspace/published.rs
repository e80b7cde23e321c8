//! The published repository as it stands in `DIR/metadata`: the newest Root, and the Targets
//! files the current Timestamp and Snapshot name. These are our own files, read without
//! verification to know the current versions; `keytool verify` is what checks them.

use std::collections::BTreeMap;
use std::path::Path;

use uptane::metadata::{Root, SignedMetadata, Snapshot, Targets, Timestamp};
use uptane::repository::role_file_name;

use super::RepoKind;
use crate::error::{Error, Result};
use crate::fsutil;

/// One published Targets file, with its exact bytes (what the next Snapshot must describe).
#[derive(Debug, Clone)]
pub struct PublishedRole {
    pub bytes: Vec<u8>,
    pub metadata: SignedMetadata<Targets>,
}

/// What `DIR/metadata` serves now.
#[derive(Debug, Clone, Default)]
pub struct Published {
    /// The newest `N.root.json`.
    pub root: Option<SignedMetadata<Root>>,
    pub timestamp: Option<SignedMetadata<Timestamp>>,
    pub snapshot: Option<SignedMetadata<Snapshot>>,
    /// Every Targets role the Snapshot lists, by role name.
    pub targets: BTreeMap<String, PublishedRole>,
}

impl Published {
    pub fn read(dir: &Path, kind: RepoKind) -> Result<Published> {
        let mut published = Published::default();
        let Some(version) = latest_root_version(dir)? else { return Ok(published) };
        published.root = Some(parse(dir, &format!("{version}.root.json"))?);
        if kind == RepoKind::Director {
            return Ok(published);
        }
        let Some(bytes) = fsutil::read_optional(&dir.join("timestamp.json"))? else {
            return Ok(published);
        };
        let timestamp: SignedMetadata<Timestamp> = decode(dir, "timestamp.json", &bytes)?;
        let snapshot_version = timestamp.signed.snapshot_meta().version;
        let snapshot: SignedMetadata<Snapshot> =
            parse(dir, &format!("{snapshot_version}.snapshot.json"))?;
        for (file, meta) in &snapshot.signed.meta {
            let Some(role) = file.strip_suffix(".json") else { continue };
            let name = format!("{}.{}", meta.version, role_file_name(role));
            let bytes = fsutil::read(&dir.join(&name))?;
            let metadata = decode(dir, &name, &bytes)?;
            published.targets.insert(role.to_owned(), PublishedRole { bytes, metadata });
        }
        published.timestamp = Some(timestamp);
        published.snapshot = Some(snapshot);
        Ok(published)
    }

    /// The newest published Root's version, 0 before the first publish.
    pub fn root_version(&self) -> u64 {
        self.root.as_ref().map_or(0, |r| r.signed.version)
    }

    /// The published version of a Targets role, 0 if never published.
    pub fn targets_version(&self, role: &str) -> u64 {
        self.targets.get(role).map_or(0, |t| t.metadata.signed.version)
    }

    pub fn snapshot_version(&self) -> u64 {
        self.snapshot.as_ref().map_or(0, |s| s.signed.version)
    }

    pub fn timestamp_version(&self) -> u64 {
        self.timestamp.as_ref().map_or(0, |t| t.signed.version)
    }
}

/// The highest N of the `N.root.json` files in `dir`.
fn latest_root_version(dir: &Path) -> Result<Option<u64>> {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(Error::io(dir, e)),
    };
    let mut latest = None;
    for entry in entries {
        let name = entry.map_err(|e| Error::io(dir, e))?.file_name();
        let version = name
            .to_str()
            .and_then(|n| n.strip_suffix(".root.json"))
            .and_then(|v| v.parse::<u64>().ok());
        latest = latest.max(version);
    }
    Ok(latest)
}

fn parse<M: uptane::metadata::Metadata>(dir: &Path, name: &str) -> Result<SignedMetadata<M>> {
    decode(dir, name, &fsutil::read(&dir.join(name))?)
}

fn decode<M: uptane::metadata::Metadata>(
    dir: &Path,
    name: &str,
    bytes: &[u8],
) -> Result<SignedMetadata<M>> {
    SignedMetadata::from_bytes(bytes, name)
        .map_err(|e| Error::State(format!("published {}: {e}", dir.join(name).display())))
}
