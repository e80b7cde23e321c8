//! `primary-client check`: one full verification cycle without a bus, for conformance tools
//! (the contract is in DESIGN.md and is kept exactly).
//!
//! It only reads: no manifest is sent and no time attestation is asked for; the system clock
//! is the time. Trust anchors are `DIR/director/root.json` and `DIR/image/root.json`; what each
//! cycle trusts, and the images recorded as installed, persist under DIR.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uptane::director::{Scope, Vehicle};
use uptane::names::{EcuSerial, TargetPath};
use uptane::repository::{DirStore, Rules, Updater, write_atomically};
use uptane::verification::{Installed, InstalledImages, verify_full};
use uptane::{Error, Result};

use crate::http::{
    HttpClient, HttpConfig, HttpFetcher, directory_url, download_target, target_url,
};

/// What to check, and where.
#[derive(Debug, Clone)]
pub struct CheckOptions {
    /// Serves the vehicle's Director metadata directly (`N.root.json`, `timestamp.json`, ...).
    pub director_url: String,
    /// Has `metadata/` and `targets/` under it.
    pub image_url: String,
    pub metadata_dir: PathBuf,
    pub vehicle: Vehicle,
    pub target_dir: PathBuf,
    /// PEM certificates to trust for HTTPS instead of the public roots.
    pub ca_pem: Option<Vec<u8>>,
}

/// The one JSON line `check` prints.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CheckReport {
    pub result: CheckResult,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub attack: Option<String>,
    /// The images written under the target directory, by ECU.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub installed: BTreeMap<EcuSerial, String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CheckResult {
    Updated,
    NoUpdate,
    Rejected,
}

impl CheckReport {
    pub fn rejected(error: &Error) -> CheckReport {
        CheckReport {
            result: CheckResult::Rejected,
            error: Some(error.to_string()),
            attack: error.attack().map(|a| a.label().to_owned()),
            installed: BTreeMap::new(),
        }
    }

    /// Exit 0 for updated or no update, 1 for rejected.
    pub fn exit_code(&self) -> u8 {
        u8::from(self.result == CheckResult::Rejected)
    }
}

/// The installed images, as persisted under the metadata directory.
#[derive(Debug, Default, Serialize, Deserialize)]
struct InstalledFile {
    ecus: InstalledImages,
}

const INSTALLED: &str = "installed.json";

/// Runs one cycle at time `now`; every failure becomes a rejected report.
pub fn check(options: &CheckOptions, now: DateTime<Utc>) -> CheckReport {
    run(options, now).unwrap_or_else(|e| CheckReport::rejected(&e))
}

fn run(options: &CheckOptions, now: DateTime<Utc>) -> Result<CheckReport> {
    let config = HttpConfig { ca_pem: options.ca_pem.clone(), ..HttpConfig::default() };
    let client = HttpClient::new(&config)?;
    let md = &options.metadata_dir;
    let mut director = Updater::new(
        HttpFetcher::new(client.clone(), &options.director_url),
        DirStore::new(md.join("director"))?,
        now,
        Rules::uptane(),
    )?;
    let image_metadata = format!("{}metadata/", directory_url(&options.image_url));
    let mut image = Updater::new(
        HttpFetcher::new(client.clone(), &image_metadata),
        DirStore::new(md.join("image"))?,
        now,
        Rules::uptane(),
    )?;
    let mut record = read_installed(md)?;
    let bundle = verify_full(
        &mut director,
        &mut image,
        Scope::Vehicle(&options.vehicle),
        None,
        &record.ecus,
    )?;
    if bundle.is_empty() {
        return Ok(CheckReport {
            result: CheckResult::NoUpdate,
            error: None,
            attack: None,
            installed: BTreeMap::new(),
        });
    }
    let consistent = image.trusted().root().consistent_snapshot;
    let targets_url = format!("{}targets/", directory_url(&options.image_url));
    let mut written = BTreeMap::new();
    for assignment in &bundle.updates {
        let path = assignment.path.as_str();
        let dest = destination(&options.target_dir, &assignment.path)?;
        let url = target_url(&targets_url, path, &assignment.file, consistent);
        download_target(&client, &url, path, &assignment.file, &dest)?;
        let counter = assignment.custom.release_counter.unwrap_or(0);
        for serial in assignment.ecus.keys() {
            let entry = Installed {
                path: path.to_owned(),
                hashes: assignment.file.hashes.clone(),
                release_counter: counter,
            };
            record.ecus.insert(serial.clone(), entry);
            written.insert(serial.clone(), path.to_owned());
        }
    }
    write_installed(md, &record)?;
    Ok(CheckReport { result: CheckResult::Updated, error: None, attack: None, installed: written })
}

/// Where an image goes: its validated target path under the target directory, never outside.
fn destination(target_dir: &Path, path: &TargetPath) -> Result<PathBuf> {
    let dest = target_dir.join(path.as_str());
    if let Some(parent) = dest.parent() {
        std::fs::create_dir_all(parent)
            .map_err(|source| Error::Io { what: parent.display().to_string(), source })?;
    }
    Ok(dest)
}

fn read_installed(md: &Path) -> Result<InstalledFile> {
    let path = md.join(INSTALLED);
    match std::fs::read(&path) {
        Ok(bytes) => serde_json::from_slice(&bytes)
            .map_err(|e| Error::Other(format!("{}: {e}", path.display()))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(InstalledFile::default()),
        Err(source) => Err(Error::Io { what: path.display().to_string(), source }),
    }
}

fn write_installed(md: &Path, record: &InstalledFile) -> Result<()> {
    let bytes = serde_json::to_vec_pretty(record).map_err(|e| Error::Other(e.to_string()))?;
    write_atomically(&md.join(INSTALLED), &bytes)
}

/// Parses `SERIAL=HWID`.
pub fn parse_ecu(
    text: &str,
) -> std::result::Result<(EcuSerial, uptane::names::HardwareId), String> {
    let (serial, hardware) = text.split_once('=').ok_or("expected SERIAL=HWID")?;
    Ok((
        EcuSerial::new(serial).map_err(|e| e.to_string())?,
        uptane::names::HardwareId::new(hardware).map_err(|e| e.to_string())?,
    ))
}
