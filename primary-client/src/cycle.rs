//! The Primary's update cycle (Standard 5.4.2; PR-4): collect the Secondaries' signed version
//! reports with fresh nonces; get a time attestation over every nonce and verify it; send the
//! signed vehicle version manifest; fully verify both repositories at the attested time;
//! download the images; hand the time, the metadata (the same bytes to all) and their images
//! to the Secondaries; install the Primary's own image.
//!
//! Trusted metadata is persisted file by file as each passes its checks, so a failure, or a
//! restart, at any point keeps the last trusted state. A failure that was an attack is kept
//! in the state and reported, with its label, in the next manifest.

use std::collections::BTreeMap;
use std::fs::File;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value;
use uptane::crypto::PrivateKey;
use uptane::director::{Assignment, Scope, Vehicle};
use uptane::names::EcuSerial;
use uptane::repository::{Rules, Updater};
use uptane::time::{time_keys, verify_attestation};
use uptane::verification::{Bundle, verify_full};
use uptane::{Error, Result};

use crate::director::DirectorApi;
use crate::download::download_image;
use crate::http::{HttpClient, HttpFetcher, directory_url, target_url};
use crate::progress::Progress;
use crate::report::{
    ReportingEcu, check_secondary_report, fresh_nonce, own_report, vehicle_manifest,
};
use crate::secondary::{ImageTransfer, MetadataBundle, Secondary};
use crate::state::{AttestedTime, ChainStore, DetectedAttack, InstalledRecord, PrimaryState};

/// The steps of one cycle, in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Step {
    Reports,
    Time,
    Manifest,
    Metadata,
    Download,
    Distribute,
    Install,
}

/// Called before each step; an error stops the cycle there, as a crash would.
pub type StepHook<'a> = &'a mut dyn FnMut(Step) -> Result<()>;

/// Who the Primary is and where it talks to.
#[derive(Debug)]
pub struct PrimaryIdentity {
    /// The VIN and every ECU, the Primary included (D3).
    pub vehicle: Vehicle,
    pub serial: EcuSerial,
    pub hardware_id: uptane::names::HardwareId,
    pub key: PrivateKey,
}

/// A Primary ready to run cycles.
#[derive(Debug)]
pub struct Primary {
    pub identity: PrimaryIdentity,
    pub director: DirectorApi,
    pub client: HttpClient,
    /// Has `metadata/` and `targets/` under it.
    pub image_url: String,
    pub state_dir: PathBuf,
    pub rules: Rules,
    pub progress: Progress,
}

/// How a cycle ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// New images were installed or handed to Secondaries.
    Updated,
    NoUpdate,
    /// Verification or a transfer failed; the previous trusted state is kept.
    Rejected,
}

/// The `--json` status of one cycle.
#[derive(Debug, Clone, Serialize)]
pub struct CycleReport {
    pub result: Outcome,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub attack: Option<String>,
    /// The step that failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub step: Option<Step>,
    /// The attested time the cycle verified against.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub time: Option<String>,
    /// The Director's receipt, or why the manifest was not accepted.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub manifest: Option<Value>,
    /// Images installed (the Primary) or handed over (Secondaries), by ECU.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub updated: BTreeMap<EcuSerial, String>,
    /// Secondaries that failed an exchange this cycle, with the reason.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub secondary_errors: BTreeMap<EcuSerial, String>,
}

impl CycleReport {
    fn new() -> CycleReport {
        CycleReport {
            result: Outcome::NoUpdate,
            error: None,
            attack: None,
            step: None,
            time: None,
            manifest: None,
            updated: BTreeMap::new(),
            secondary_errors: BTreeMap::new(),
        }
    }
}

/// Where one cycle is.
struct Cycle<'a> {
    primary: &'a Primary,
    state: PrimaryState,
    report: CycleReport,
    step: Step,
    hook: StepHook<'a>,
    /// Whether this cycle walked the Director Root chain to a newer Root.
    director_root_rotated: bool,
}

impl Primary {
    /// Runs one cycle. Never fails: failures are in the report (and, when they are attacks,
    /// in the next manifest).
    pub fn run_cycle(
        &self,
        secondaries: &mut [Box<dyn Secondary + '_>],
        hook: StepHook<'_>,
    ) -> CycleReport {
        let state = match PrimaryState::load(&self.state_dir) {
            Ok(state) => state,
            Err(e) => return failed(CycleReport::new(), Step::Reports, &e),
        };
        let mut cycle = Cycle {
            primary: self,
            state,
            report: CycleReport::new(),
            step: Step::Reports,
            hook,
            director_root_rotated: false,
        };
        match cycle.run(secondaries) {
            Ok(()) => cycle.report,
            Err(error) => {
                if let Some(attack) = error.attack() {
                    let detected = DetectedAttack {
                        code: Some(attack.label().to_owned()),
                        message: error.to_string(),
                    };
                    cycle.state.attacks.push(detected);
                }
                if let Err(e) = cycle.state.save(&self.state_dir) {
                    tracing::error!(error = %e, "cannot record the failure");
                }
                failed(cycle.report, cycle.step, &error)
            }
        }
    }

    fn store(&self, repository: &str) -> Result<ChainStore> {
        ChainStore::new(self.state_dir.join(repository))
    }

    fn ecu(&self) -> ReportingEcu<'_> {
        let id = &self.identity;
        ReportingEcu { serial: &id.serial, hardware_id: &id.hardware_id, key: &id.key }
    }
}

fn failed(mut report: CycleReport, step: Step, error: &Error) -> CycleReport {
    tracing::warn!(?step, %error, "update cycle failed");
    report.result = Outcome::Rejected;
    report.error = Some(error.to_string());
    report.attack = error.attack().map(|a| a.label().to_owned());
    report.step = Some(step);
    report
}

impl Cycle<'_> {
    fn enter(&mut self, step: Step) -> Result<()> {
        self.step = step;
        tracing::info!(?step, "cycle step");
        (self.hook)(step)
    }

    fn save(&self) -> Result<()> {
        self.state.save(&self.primary.state_dir)
    }

    fn run(&mut self, secondaries: &mut [Box<dyn Secondary + '_>]) -> Result<()> {
        let p = self.primary;
        self.enter(Step::Reports)?;
        let own_nonce = fresh_nonce()?;
        let mut nonces = vec![own_nonce.clone()];
        let mut reports = self.collect_reports(secondaries, &mut nonces)?;

        self.enter(Step::Time)?;
        let attestation = p.director.attest_time(&nonces)?;
        let (now, mut director) = self.verify_time(&attestation, &own_nonce)?;

        self.enter(Step::Manifest)?;
        self.send_manifest(&mut reports, &own_nonce)?;

        self.enter(Step::Metadata)?;
        director.judge_at(now);
        let image_metadata = format!("{}metadata/", directory_url(&p.image_url));
        let mut image = Updater::new(
            HttpFetcher::new(p.client.clone(), &image_metadata),
            p.store("image")?,
            now,
            p.rules.clone(),
        )?;
        let installed = self.state.installed_images();
        let bundle = verify_full(
            &mut director,
            &mut image,
            Scope::Vehicle(&p.identity.vehicle),
            None,
            &installed,
        )?;
        let consistent = image.trusted().root().consistent_snapshot;
        let metadata = MetadataBundle {
            director: director.store().metadata()?,
            image: image.store().metadata()?,
        };
        if bundle.is_empty() {
            // The Secondaries still get the time (Standard 5.4.2.5).
            self.enter(Step::Distribute)?;
            for secondary in secondaries.iter_mut() {
                self.distribute(secondary.as_mut(), &attestation, &metadata, false, &[]);
            }
            return self.save();
        }

        self.enter(Step::Download)?;
        let images = self.download(&bundle, consistent)?;

        self.enter(Step::Distribute)?;
        for secondary in secondaries.iter_mut() {
            self.distribute(secondary.as_mut(), &attestation, &metadata, true, &images);
        }
        self.save()?;

        self.enter(Step::Install)?;
        let own = images.iter().find(|(a, _)| a.ecus.contains_key(&p.identity.serial));
        if let Some((assignment, file)) = own {
            install_own(&p.state_dir, file)?;
            self.state.installed.insert(p.identity.serial.clone(), record(assignment));
            self.report.updated.insert(p.identity.serial.clone(), assignment.path.to_string());
            tracing::info!(path = %assignment.path, "installed the Primary's image");
        }
        self.save()?;
        self.report.result =
            if self.report.updated.is_empty() { Outcome::NoUpdate } else { Outcome::Updated };
        Ok(())
    }

    /// Asks every Secondary for a report answering a fresh challenge, and collects the nonces
    /// the Secondaries chose for the time attestation. A Secondary that does not answer
    /// properly is left out (the Director will see it missing); the others go on.
    fn collect_reports(
        &mut self,
        secondaries: &mut [Box<dyn Secondary + '_>],
        nonces: &mut Vec<String>,
    ) -> Result<BTreeMap<EcuSerial, Value>> {
        let mut reports = BTreeMap::new();
        for secondary in secondaries.iter_mut() {
            let serial = secondary.serial().clone();
            let challenge = fresh_nonce()?;
            let answer = secondary.version_report(&challenge).and_then(|report| {
                let nonce = check_secondary_report(&report, &serial, &challenge)?;
                Ok((report, nonce))
            });
            match answer {
                Ok((report, nonce)) => {
                    self.learn_installed(&serial, &report);
                    self.state.reports.insert(serial.clone(), report.clone());
                    reports.insert(serial, report);
                    nonces.push(nonce);
                }
                Err(e) => self.secondary_failed(&serial, &e),
            }
        }
        self.save()?;
        Ok(reports)
    }

    /// Updates what the Primary believes a Secondary runs from its report: an image it was
    /// handed is confirmed with its release counter; anything else is taken as reported.
    fn learn_installed(&mut self, serial: &EcuSerial, report: &Value) {
        let image = &report["signed"]["installed_image"];
        let Some(path) = image["filepath"].as_str() else { return };
        let Ok(hashes) = serde_json::from_value(image["fileinfo"]["hashes"].clone()) else {
            return;
        };
        let length = image["fileinfo"]["length"].as_u64().unwrap_or(0);
        let same = |r: &InstalledRecord| r.path == path && r.hashes == hashes;
        if self.state.delivered.get(serial).is_some_and(same) {
            if let Some(delivered) = self.state.delivered.remove(serial) {
                self.state.installed.insert(serial.clone(), delivered);
            }
            return;
        }
        if self.state.installed.get(serial).is_some_and(same) || path.is_empty() {
            return;
        }
        // Not installed through this Primary: its release counter is unknown here (the
        // Secondary checks its own).
        let reported =
            InstalledRecord { path: path.to_owned(), length, hashes, release_counter: 0 };
        self.state.installed.insert(serial.clone(), reported);
    }

    /// Verifies the attestation for the Primary's nonce with the newest Director Root (the time
    /// key it names), never earlier than the last accepted time; persists it. The Root chain
    /// is walked first, as the newest Root's time key may have signed the attestation. When
    /// that walk changes the time key, the last accepted time is forgotten (TM-5, BP 3.1.1.4):
    /// a compromised old key may have pushed the clock ahead, and only the new key vouches now.
    /// Returns the time and the Director's Updater, its Root chain walked for this cycle.
    fn verify_time(
        &mut self,
        attestation: &[u8],
        nonce: &str,
    ) -> Result<(DateTime<Utc>, Updater<HttpFetcher, ChainStore>)> {
        let p = self.primary;
        let previous = self.state.time.map(|t| t.latest);
        let at = previous.unwrap_or_else(Utc::now);
        let mut director =
            Updater::new(p.director.metadata(), p.store("director")?, at, p.rules.clone())?;
        let (version, before) = {
            let root = director.trusted().root().meta();
            (root.version, time_keys(root)?)
        };
        director.rotate_root()?;
        let root = director.trusted().root().meta();
        self.director_root_rotated = root.version != version;
        if time_keys(root)? != before {
            tracing::warn!(
                root = root.version,
                "the Director Root rotated the time key: the clock restarts from the next attestation"
            );
            self.state.time = None;
            self.save()?;
        }
        let previous = self.state.time.map(|t| t.latest);
        let time = verify_attestation(attestation, root, nonce, previous)?;
        self.state.time = Some(AttestedTime { latest: time, previous: previous.unwrap_or(time) });
        self.report.time = Some(uptane::metadata::format_time(time));
        self.save()?;
        Ok((time, director))
    }

    /// Signs and sends the manifest with the Primary's own report and last cycle's attacks. A
    /// refused manifest does not stop the cycle (the Director decides what it accepts); the
    /// attacks stay pending until a manifest carrying them is accepted.
    fn send_manifest(
        &mut self,
        reports: &mut BTreeMap<EcuSerial, Value>,
        nonce: &str,
    ) -> Result<()> {
        let p = self.primary;
        let time = self.state.time.map(|t| (t.latest, t.previous)).unwrap_or_default();
        self.state.report_counter += 1;
        self.save()?;
        let own = own_report(
            p.ecu(),
            self.state.installed.get(&p.identity.serial),
            &self.state.attacks,
            time,
            self.state.report_counter,
            nonce,
        )?;
        reports.insert(p.identity.serial.clone(), own);
        let manifest = vehicle_manifest(
            &p.identity.vehicle.vin,
            p.ecu(),
            std::mem::take(reports),
            &self.state.attacks,
        )?;
        match p.director.send_manifest(&manifest) {
            Ok(receipt) => {
                self.state.attacks.clear();
                self.report.manifest = Some(receipt);
                self.save()
            }
            Err(e) => {
                tracing::warn!(error = %e, "the Director did not accept the manifest");
                self.report.manifest = Some(serde_json::json!({"refused": e.to_string()}));
                Ok(())
            }
        }
    }

    fn download(
        &mut self,
        bundle: &Bundle,
        consistent: bool,
    ) -> Result<Vec<(Assignment, PathBuf)>> {
        let p = self.primary;
        let targets_url = format!("{}targets/", directory_url(&p.image_url));
        let dir = p.state_dir.join("images");
        let mut images = Vec::new();
        for assignment in &bundle.updates {
            let path = assignment.path.as_str();
            let url = target_url(&targets_url, path, &assignment.file, consistent);
            let bar = p.progress.bar(path, assignment.file.length);
            let file =
                download_image(&p.client, &url, path, &assignment.file, &dir, &mut |n| bar.inc(n))?;
            bar.finish();
            images.push((assignment.clone(), file));
        }
        Ok(images)
    }

    /// Hands one Secondary the time, the metadata its mode needs when there is an `update`,
    /// and its image if it has one. A failure stops this Secondary's exchange only.
    fn distribute(
        &mut self,
        secondary: &mut dyn Secondary,
        attestation: &[u8],
        metadata: &MetadataBundle,
        update: bool,
        images: &[(Assignment, PathBuf)],
    ) {
        let serial = secondary.serial().clone();
        let own = images.iter().find(|(a, _)| a.ecus.contains_key(&serial));
        let metadata = metadata.for_mode(secondary.verification());
        let result = self
            .send_time_and_metadata(secondary, attestation, &metadata, update)
            .and_then(|()| match own {
                Some((assignment, file)) => self.send_image(secondary, assignment, file),
                None => Ok(()),
            });
        if let Err(e) = result {
            self.secondary_failed(&serial, &e);
        }
    }

    /// The time may be signed by a key only a newer Director Root names (TM-5): after this
    /// cycle walked to a newer Root the metadata goes first. Otherwise the time goes first; a
    /// Secondary that refuses it (one that missed a Root rotation refuses the new key) gets the
    /// metadata and then the time once more. A refused time does not hold an update back: the
    /// Secondary judges the metadata at its own time.
    fn send_time_and_metadata(
        &mut self,
        secondary: &mut dyn Secondary,
        attestation: &[u8],
        metadata: &MetadataBundle,
        update: bool,
    ) -> Result<()> {
        if self.director_root_rotated {
            secondary.send_metadata(metadata)?;
            return secondary.send_time(attestation);
        }
        let mut sent = false;
        let mut time = secondary.send_time(attestation);
        if let Err(Error::Time(_)) = time {
            secondary.send_metadata(metadata)?;
            sent = true;
            time = secondary.send_time(attestation);
        }
        match time {
            Err(e) if update => self.secondary_failed(secondary.serial(), &e),
            time => time?,
        }
        if update && !sent {
            secondary.send_metadata(metadata)?;
        }
        Ok(())
    }

    fn send_image(
        &mut self,
        secondary: &mut dyn Secondary,
        assignment: &Assignment,
        file: &Path,
    ) -> Result<()> {
        let serial = secondary.serial().clone();
        let path = assignment.path.as_str();
        let mut reader = File::open(file)
            .map_err(|source| Error::Io { what: file.display().to_string(), source })?;
        let bar = self.primary.progress.bar(&format!("{serial} {path}"), assignment.file.length);
        let mut shown = 0;
        let transfer = ImageTransfer { path, length: assignment.file.length, reader: &mut reader };
        secondary.send_image(transfer, &mut |acknowledged| {
            bar.inc(acknowledged.saturating_sub(shown));
            shown = acknowledged;
        })?;
        bar.finish();
        self.state.delivered.insert(serial.clone(), record(assignment));
        self.report.updated.insert(serial, path.to_owned());
        Ok(())
    }

    fn secondary_failed(&mut self, serial: &EcuSerial, error: &Error) {
        tracing::warn!(%serial, %error, "Secondary exchange failed");
        self.report.secondary_errors.insert(serial.clone(), error.to_string());
    }
}

fn record(assignment: &Assignment) -> InstalledRecord {
    InstalledRecord {
        path: assignment.path.to_string(),
        length: assignment.file.length,
        hashes: assignment.file.hashes.clone(),
        release_counter: assignment.custom.release_counter.unwrap_or(0),
    }
}

/// Installs the Primary's own verified image: copied beside the running one, synced, and
/// renamed over it, so a crash leaves the old or the new image.
fn install_own(state_dir: &Path, image: &Path) -> Result<()> {
    let dest = state_dir.join("installed.bin");
    let io = |source| Error::Io { what: dest.display().to_string(), source };
    let mut temp = tempfile::NamedTempFile::new_in(state_dir).map_err(io)?;
    let mut source = File::open(image)
        .map_err(|source| Error::Io { what: image.display().to_string(), source })?;
    std::io::copy(&mut source, temp.as_file_mut()).map_err(io)?;
    temp.as_file().sync_all().map_err(io)?;
    temp.persist(&dest).map_err(|e| io(e.error))?;
    File::open(state_dir).and_then(|d| d.sync_all()).map_err(io)
}
