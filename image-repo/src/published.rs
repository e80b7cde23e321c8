//! The published state as served: every metadata file's exact bytes and ETag, and every image
//! name of the DESIGN.md layout mapped to its blob. Built once per publish and swapped in whole;
//! reads never touch the database and never sign.

use std::collections::{BTreeMap, HashMap};

use actix_web::web::Bytes;
use chrono::{DateTime, Utc};
use uptane::metadata::{Metadata, SignedMetadata, Snapshot, Targets, Timestamp};

use crate::error::{Error, Result};
use crate::storage::MetadataRow;

/// A file ready to serve.
#[derive(Debug, Clone)]
pub struct Served {
    pub bytes: Bytes,
    /// Quoted sha256 of the bytes.
    pub etag: String,
}

impl Served {
    fn new(bytes: Bytes) -> Served {
        let etag = format!("\"{}\"", uptane::crypto::sha256_hex(&bytes));
        Served { bytes, etag }
    }
}

/// The current version of one role.
#[derive(Debug, Clone)]
pub struct Current {
    pub version: u64,
    pub bytes: Bytes,
    pub expires: DateTime<Utc>,
}

/// An image copy: which blob, how long.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageRef {
    pub sha256: String,
    pub length: u64,
}

/// Everything the public read endpoints serve.
#[derive(Debug, Clone, Default)]
pub struct Published {
    files: HashMap<String, Served>,
    images: HashMap<String, ImageRef>,
    pub root: Option<Current>,
    pub snapshot: Option<Current>,
    pub timestamp: Option<Current>,
    /// Current Targets of `targets` and every delegated role ever published.
    pub targets: BTreeMap<String, Current>,
    /// Delegated role -> the role that delegates it.
    pub delegators: BTreeMap<String, String>,
}

/// The role names a delegation may not take (they name top-level files).
pub const RESERVED_ROLES: [&str; 4] = ["root", "targets", "snapshot", "timestamp"];

/// Metadata file name for a role version (role names are restricted to a URL-safe charset).
pub fn file_name(role: &str, version: u64) -> String {
    if role == "timestamp" { "timestamp.json".into() } else { format!("{version}.{role}.json") }
}

impl Published {
    /// Rebuilds the state from every stored metadata row.
    pub fn from_rows(rows: &[MetadataRow]) -> Result<Published> {
        let mut published = Published::default();
        for row in rows {
            let bytes = row.bytes().map_err(|e| Error::Internal(format!("stored hex: {e}")))?;
            published.add(&row.role, row.version as u64, Bytes::from(bytes))?;
        }
        published.reindex()?;
        Ok(published)
    }

    /// A served metadata file by name (`3.root.json`, `timestamp.json`, ...).
    pub fn file(&self, name: &str) -> Option<&Served> {
        self.files.get(name)
    }

    /// A served image by its name under `targets/`.
    pub fn image(&self, name: &str) -> Option<&ImageRef> {
        self.images.get(name)
    }

    pub fn version(&self, role: &str) -> u64 {
        let current = match role {
            "root" => self.root.as_ref(),
            "snapshot" => self.snapshot.as_ref(),
            "timestamp" => self.timestamp.as_ref(),
            other => self.targets.get(other),
        };
        current.map_or(0, |c| c.version)
    }

    /// Adds one version of a role (a later version becomes current). Call [`Self::reindex`]
    /// after the last one.
    pub fn add(&mut self, role: &str, version: u64, bytes: Bytes) -> Result<()> {
        let expires = expires_of(role, &bytes)?;
        let current = Current { version, bytes: bytes.clone(), expires };
        let slot = match role {
            "root" => &mut self.root,
            "snapshot" => &mut self.snapshot,
            "timestamp" => &mut self.timestamp,
            other => {
                let entry = self.targets.entry(other.to_owned());
                let slot = match entry {
                    std::collections::btree_map::Entry::Occupied(o) => o.into_mut(),
                    std::collections::btree_map::Entry::Vacant(v) => v.insert(current.clone()),
                };
                if slot.version <= version {
                    *slot = current;
                }
                self.files.insert(file_name(role, version), Served::new(bytes));
                return Ok(());
            }
        };
        if slot.as_ref().is_none_or(|c| c.version <= version) {
            *slot = Some(current);
        }
        if role == "timestamp" {
            // Only the newest timestamp is served.
            if self.timestamp.as_ref().is_some_and(|t| t.version == version) {
                self.files.insert(file_name(role, version), Served::new(bytes));
            }
        } else {
            self.files.insert(file_name(role, version), Served::new(bytes));
        }
        Ok(())
    }

    /// Recomputes the image names and the delegation tree from the current Targets roles.
    pub fn reindex(&mut self) -> Result<()> {
        self.images.clear();
        self.delegators.clear();
        for (role, current) in &self.targets {
            let targets = parse_targets(role, &current.bytes)?;
            for (path, file) in &targets.targets {
                let Some(sha256) = file.hashes.get("sha256") else { continue };
                let image = ImageRef { sha256: sha256.to_ascii_lowercase(), length: file.length };
                for hash in file.hashes.values() {
                    self.images.insert(image_name(path, hash), image.clone());
                }
            }
            if let Some(delegations) = &targets.delegations {
                for delegated in &delegations.roles {
                    self.delegators
                        .entry(delegated.name.to_string())
                        .or_insert_with(|| role.clone());
                }
            }
        }
        Ok(())
    }

    /// The current Targets of `role`, decoded (they were verified when accepted).
    pub fn targets_of(&self, role: &str) -> Result<Option<Targets>> {
        self.targets.get(role).map(|c| parse_targets(role, &c.bytes)).transpose()
    }
}

/// `DIR/HASH.BASENAME`, the consistent-snapshot name of an image copy.
pub fn image_name(path: &str, hash: &str) -> String {
    match path.rsplit_once('/') {
        Some((dir, base)) => format!("{dir}/{hash}.{base}"),
        None => format!("{hash}.{path}"),
    }
}

fn parse_targets(role: &str, bytes: &[u8]) -> Result<Targets> {
    Ok(SignedMetadata::<Targets>::from_bytes(bytes, role)?.signed)
}

fn expires_of(role: &str, bytes: &[u8]) -> Result<DateTime<Utc>> {
    Ok(match role {
        "root" => {
            SignedMetadata::<uptane::metadata::Root>::from_bytes(bytes, role)?.signed.expires()
        }
        "snapshot" => SignedMetadata::<Snapshot>::from_bytes(bytes, role)?.signed.expires(),
        "timestamp" => SignedMetadata::<Timestamp>::from_bytes(bytes, role)?.signed.expires(),
        _ => parse_targets(role, bytes)?.expires(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn image_names() {
        assert_eq!(image_name("ecu/app.bin", "ab"), "ecu/ab.app.bin");
        assert_eq!(image_name("app.bin", "ab"), "ab.app.bin");
        assert_eq!(file_name("supplierA", 3), "3.supplierA.json");
        assert_eq!(file_name("timestamp", 3), "timestamp.json");
    }
}
