//! What the Primary keeps between cycles, under its state directory:
//!
//! - `director/`, `image/`: the trusted metadata of each repository (exact bytes, replaced
//!   atomically), with every Root version under `roots/` for the Secondaries' rotation walk;
//! - `images/`: downloaded images, named by their sha256, and partial downloads to resume;
//! - `installed.bin`: the Primary's own running image;
//! - `primary.json`: installed images and release counters, the report counter, the latest
//!   attested time, Secondaries' last reports (PR-17) and attacks not yet reported.
//!
//! Every file is written to a temporary name and renamed, so a crash leaves the old or the new
//! state, never a mix.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use uptane::metadata::Hashes;
use uptane::names::EcuSerial;
use uptane::repository::{DirStore, Store, write_atomically};
use uptane::verification::{Installed, InstalledImages};
use uptane::{Error, Result};

use crate::secondary::RepoMetadata;

const STATE_FILE: &str = "primary.json";

/// An image an ECU runs, with the release counter it was installed with (A5).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InstalledRecord {
    pub path: String,
    pub length: u64,
    pub hashes: Hashes,
    pub release_counter: u64,
}

/// An attack (or failure) seen in one cycle, reported in the next manifest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DetectedAttack {
    /// The attack label of profile §7, if the failure was an attack.
    pub code: Option<String>,
    pub message: String,
}

/// The attested time, never moving backwards (BP 3.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct AttestedTime {
    pub latest: DateTime<Utc>,
    pub previous: DateTime<Utc>,
}

/// `primary.json`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PrimaryState {
    /// What each ECU runs, as far as the Primary knows: its own image from its install, a
    /// Secondary's from the image the Primary handed it once the Secondary reports running it.
    #[serde(default)]
    pub installed: BTreeMap<EcuSerial, InstalledRecord>,
    /// Images handed to Secondaries and not yet confirmed by their reports.
    #[serde(default)]
    pub delivered: BTreeMap<EcuSerial, InstalledRecord>,
    #[serde(default)]
    pub report_counter: u64,
    #[serde(default)]
    pub time: Option<AttestedTime>,
    /// The last report each Secondary sent (PR-17).
    #[serde(default)]
    pub reports: BTreeMap<EcuSerial, Value>,
    /// Detected in the last cycle; cleared once a manifest carrying them is accepted.
    #[serde(default)]
    pub attacks: Vec<DetectedAttack>,
}

impl PrimaryState {
    /// Reads `primary.json` under `dir` (empty state if absent).
    pub fn load(dir: &Path) -> Result<PrimaryState> {
        let path = dir.join(STATE_FILE);
        match std::fs::read(&path) {
            Ok(bytes) => serde_json::from_slice(&bytes)
                .map_err(|e| Error::Other(format!("{}: {e}", path.display()))),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(PrimaryState::default()),
            Err(source) => Err(Error::Io { what: path.display().to_string(), source }),
        }
    }

    pub fn save(&self, dir: &Path) -> Result<()> {
        let bytes = serde_json::to_vec_pretty(self).map_err(|e| Error::Other(e.to_string()))?;
        write_atomically(&dir.join(STATE_FILE), &bytes)
    }

    /// The installed images in the verifier's terms.
    pub fn installed_images(&self) -> InstalledImages {
        self.installed
            .iter()
            .map(|(serial, r)| {
                let installed = Installed {
                    path: r.path.clone(),
                    hashes: r.hashes.clone(),
                    release_counter: r.release_counter,
                };
                (serial.clone(), installed)
            })
            .collect()
    }
}

/// A [`DirStore`] that also keeps every Root version it is given under `roots/N.root.json`,
/// so Secondaries that trust an older Root can be handed the whole rotation chain.
#[derive(Debug, Clone)]
pub struct ChainStore {
    inner: DirStore,
}

impl ChainStore {
    pub fn new(dir: impl Into<PathBuf>) -> Result<ChainStore> {
        let inner = DirStore::new(dir)?;
        DirStore::new(inner.dir().join("roots"))?;
        Ok(ChainStore { inner })
    }

    pub fn dir(&self) -> &Path {
        self.inner.dir()
    }

    /// The trusted metadata, as handed to Secondaries.
    pub fn metadata(&self) -> Result<RepoMetadata> {
        let mut roots = BTreeMap::new();
        for entry in read_dir(&self.dir().join("roots"))? {
            let name = entry.file_name().to_string_lossy().into_owned();
            if let Some(version) = name.strip_suffix(".root.json").and_then(|v| v.parse().ok()) {
                roots.insert(version, read(&entry.path())?);
            }
        }
        let mut targets = BTreeMap::new();
        for entry in read_dir(self.dir())? {
            let name = entry.file_name().to_string_lossy().into_owned();
            let Some(role) = name.strip_suffix(".json") else { continue };
            if !matches!(role, "root" | "timestamp" | "snapshot") && entry.path().is_file() {
                let role = percent_encoding::percent_decode_str(role).decode_utf8_lossy();
                targets.insert(role.into_owned(), read(&entry.path())?);
            }
        }
        Ok(RepoMetadata {
            roots,
            timestamp: self.inner.load("timestamp.json")?,
            snapshot: self.inner.load("snapshot.json")?,
            targets,
        })
    }
}

impl Store for ChainStore {
    fn load(&self, name: &str) -> Result<Option<Vec<u8>>> {
        self.inner.load(name)
    }

    fn save(&mut self, name: &str, bytes: &[u8]) -> Result<()> {
        if name == "root.json" {
            let version = serde_json::from_slice::<Value>(bytes)
                .ok()
                .and_then(|v| v["signed"]["version"].as_u64())
                .ok_or_else(|| Error::Malformed {
                    role: "root".into(),
                    reason: "no version".into(),
                })?;
            write_atomically(&self.dir().join(format!("roots/{version}.root.json")), bytes)?;
        }
        self.inner.save(name, bytes)
    }

    fn remove(&mut self, name: &str) -> Result<()> {
        self.inner.remove(name)
    }
}

fn read_dir(dir: &Path) -> Result<Vec<std::fs::DirEntry>> {
    let io = |source| Error::Io { what: dir.display().to_string(), source };
    std::fs::read_dir(dir).map_err(io)?.collect::<std::io::Result<Vec<_>>>().map_err(io)
}

fn read(path: &Path) -> Result<Vec<u8>> {
    std::fs::read(path).map_err(|source| Error::Io { what: path.display().to_string(), source })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn every_root_version_is_kept_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = ChainStore::new(dir.path()).unwrap();
        for version in [1, 2, 10] {
            let root = format!(r#"{{"signed":{{"version":{version}}},"signatures":[]}}"#);
            store.save("root.json", root.as_bytes()).unwrap();
        }
        store.save("targets.json", b"t").unwrap();
        store.save("a%2Fb.json", b"d").unwrap();
        store.save("timestamp.json", b"ts").unwrap();
        let metadata = store.metadata().unwrap();
        let versions: Vec<u64> = metadata.roots.keys().copied().collect();
        assert_eq!(versions, [1, 2, 10]);
        let v10 = serde_json::from_slice::<Value>(&metadata.roots[&10]).unwrap();
        assert_eq!(v10["signed"]["version"], 10);
        assert_eq!(metadata.timestamp.as_deref(), Some(&b"ts"[..]));
        assert_eq!(metadata.snapshot, None);
        let roles: Vec<&str> = metadata.targets.keys().map(String::as_str).collect();
        assert_eq!(roles, ["a/b", "targets"]);
        // A Root without a version is refused before anything is written.
        assert!(store.save("root.json", b"{}").is_err());
        assert_eq!(store.metadata().unwrap().roots.len(), 3);
    }

    #[test]
    fn state_round_trips_and_starts_empty() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(PrimaryState::load(dir.path()).unwrap(), PrimaryState::default());
        let mut state = PrimaryState { report_counter: 7, ..PrimaryState::default() };
        state.attacks.push(DetectedAttack { code: Some("freeze".into()), message: "x".into() });
        state.save(dir.path()).unwrap();
        assert_eq!(PrimaryState::load(dir.path()).unwrap(), state);
        std::fs::write(dir.path().join(STATE_FILE), b"{").unwrap();
        assert!(PrimaryState::load(dir.path()).is_err());
    }
}
