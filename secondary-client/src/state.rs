//! What the ECU remembers across power cycles, in one file replaced atomically (`state.json`:
//! temporary file, fsync, rename, directory fsync). A power cut therefore leaves either the
//! state before a step or the state after it, never a mix: this file is the single switch
//! that decides which slot boots.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uptane::manifest::InstalledImage;
use uptane::metadata::tuf_time;
use uptane::repository::write_atomically;
use uptane::verification::Installed;

use crate::error::{Error, Result};

/// One of the two image slots.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Slot {
    A,
    B,
}

impl Slot {
    pub fn other(self) -> Slot {
        match self {
            Slot::A => Slot::B,
            Slot::B => Slot::A,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Slot::A => "a",
            Slot::B => "b",
        }
    }
}

/// A verified image held by a slot, with the release counter it was installed with (A5).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SlotImage {
    pub image: InstalledImage,
    pub release_counter: u64,
}

impl SlotImage {
    /// The view the core's rollback and "already installed" checks take.
    pub fn installed(&self) -> Installed {
        Installed {
            path: self.image.filepath.clone(),
            hashes: self.image.fileinfo.hashes.clone(),
            release_counter: self.release_counter,
        }
    }
}

/// An attack detected and not yet reported.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Detected {
    /// The profile's label (`rollback`, `endless_data`, ...).
    pub label: String,
    /// What was refused, for people.
    pub detail: String,
}

/// The persisted state.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EcuState {
    /// The slot that boots.
    pub active: Slot,
    /// The verified image in each slot; a slot being written holds none.
    pub slots: BTreeMap<Slot, SlotImage>,
    /// The active slot was switched to but has not booted yet: the next boot is a trial, and a
    /// failed trial falls back to the other slot.
    pub trial: bool,
    /// The latest securely attested time (or the provisioned one), and the one before it.
    #[serde(with = "tuf_time")]
    pub latest_time: DateTime<Utc>,
    #[serde(with = "tuf_time")]
    pub previous_time: DateTime<Utc>,
    /// The counter of the last version report.
    pub report_counter: u64,
    /// The nonce of the last version report: a time attestation must echo it.
    pub nonce: Option<String>,
    /// Attacks detected since the last version report.
    pub detected: Vec<Detected>,
}

impl EcuState {
    /// The image the active slot holds.
    pub fn running(&self) -> Result<&SlotImage> {
        self.slots.get(&self.active).ok_or_else(|| {
            Error::State(format!("active slot {} holds no image", self.active.name()))
        })
    }
}

/// `state.json` in the storage directory.
#[derive(Debug, Clone)]
pub struct StateFile {
    path: PathBuf,
}

impl StateFile {
    pub fn new(storage: &Path) -> StateFile {
        StateFile { path: storage.join("state.json") }
    }

    pub fn load(&self) -> Result<Option<EcuState>> {
        match std::fs::read(&self.path) {
            Ok(bytes) => serde_json::from_slice(&bytes)
                .map(Some)
                .map_err(|e| Error::State(format!("{}: {e}", self.path.display()))),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(Error::io(&self.path, e)),
        }
    }

    pub fn save(&self, state: &EcuState) -> Result<()> {
        let bytes = serde_json::to_vec_pretty(state)
            .map_err(|e| Error::State(format!("cannot encode: {e}")))?;
        Ok(write_atomically(&self.path, &bytes)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use uptane::metadata::TargetFile;

    #[test]
    fn state_survives_a_round_trip_through_its_file() {
        let dir = tempfile::tempdir().unwrap();
        let file = StateFile::new(dir.path());
        assert_eq!(file.load().unwrap(), None);
        let image = InstalledImage::new("app.bin", &TargetFile::describing(b"app"));
        let state = EcuState {
            active: Slot::B,
            slots: BTreeMap::from([(Slot::B, SlotImage { image, release_counter: 4 })]),
            trial: true,
            latest_time: DateTime::from_timestamp(1_900_000_000, 0).unwrap(),
            previous_time: DateTime::from_timestamp(1_800_000_000, 0).unwrap(),
            report_counter: 9,
            nonce: Some("ab".into()),
            detected: vec![Detected { label: "rollback".into(), detail: "old".into() }],
        };
        file.save(&state).unwrap();
        assert_eq!(file.load().unwrap(), Some(state.clone()));
        assert_eq!(state.running().unwrap().release_counter, 4);
        std::fs::write(dir.path().join("state.json"), b"{").unwrap();
        assert!(matches!(file.load(), Err(Error::State(_))));
    }
}
