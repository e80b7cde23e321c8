//! The Secondary ECU, independent of the bus: identity, version reports, time, metadata
//! verification, and installation into A/B slots (Uptane 5.4.3, 5.4.4; profile §3.2, §3.4,
//! §3.5).
//!
//! One update cycle as the Primary drives it:
//! [`Ecu::version_report`] → [`Ecu::time_attestation`] → [`Ecu::receive_metadata`] (each file)
//! → [`Ecu::verify_metadata`] → [`Ecu::begin_image`], [`Ecu::image_data`] (each block),
//! [`Ecu::finish_image`] → [`Ecu::activate`]; the next report shows the outcome. Every refusal
//! that defeated an attack is remembered, persisted, and named in the next report.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use uptane::crypto::{PrivateKey, PublicKey, Signer};
use uptane::manifest::{EcuVersionReport, InstalledImage, sign_report};
use uptane::metadata::TargetFile;
use uptane::repository::Store;

use crate::config::{Config, Identity};
use crate::error::{Error, Result};
use crate::metadata::{Repo, Staged, TrustedStore};
use crate::slots::{BootFailure, SlotWriter, Slots};
use crate::state::{Detected, EcuState, Slot, SlotImage, StateFile};
use crate::verify::{Order, time_key_rotated, verify};

/// The longest challenge a Primary may have echoed in a version report.
pub const MAX_CHALLENGE_BYTES: usize = 64;

/// Attacks remembered in detail between two reports (see [`Ecu::version_report`]).
pub const MAX_DETECTED: usize = 32;

/// What verification of the staged metadata found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Nothing new for this ECU.
    NoUpdate,
    /// The Director assigns this image; send it (exactly `length` bytes).
    Update { target: String, length: u64 },
}

/// What activating a verified image did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Activation {
    /// The new image booted and now runs.
    Installed,
    /// Its trial boot failed; the previous image runs again.
    RolledBack(BootFailure),
}

/// Where the installation stands.
#[derive(Debug, Default)]
enum Install {
    #[default]
    Idle,
    /// Metadata verified; waiting for the image.
    Ordered(Order),
    /// The image streams into the inactive slot.
    Streaming { order: Order, writer: SlotWriter },
    /// The inactive slot holds the verified image.
    Ready(Order),
}

/// A Secondary ECU.
#[derive(Debug)]
pub struct Ecu {
    config: Config,
    key: PrivateKey,
    state_file: StateFile,
    state: EcuState,
    slots: Slots,
    trusted: TrustedStore,
    staged: Staged,
    install: Install,
}

impl Ecu {
    /// Starts the ECU from its storage directory, provisioning it on first start (trusted
    /// metadata, the factory image in slot A, the provisioned time), then boots: a pending
    /// trial boot is decided, and an active slot that no longer verifies falls back to the
    /// other one.
    pub fn open(config: Config) -> Result<Ecu> {
        let key = PrivateKey::read(&config.key)?;
        std::fs::create_dir_all(&config.storage).map_err(|e| Error::io(&config.storage, e))?;
        let state_file = StateFile::new(&config.storage);
        let slots = Slots::new(&config.storage)?;
        let trusted = TrustedStore::new(&config.storage);
        let state = match state_file.load()? {
            Some(state) => state,
            None => {
                let state = provision(&config, &slots, &trusted)?;
                state_file.save(&state)?;
                state
            }
        };
        let mut ecu = Ecu {
            config,
            key,
            state_file,
            state,
            slots,
            trusted,
            staged: Staged::default(),
            install: Install::Idle,
        };
        ecu.boot()?;
        Ok(ecu)
    }

    pub fn identity(&self) -> &Identity {
        &self.config.identity
    }

    pub fn public_key(&self) -> &PublicKey {
        self.key.public_key()
    }

    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The image that runs.
    pub fn running(&self) -> Result<&SlotImage> {
        self.state.running()
    }

    pub fn active_slot(&self) -> Slot {
        self.state.active
    }

    /// The latest attested (or provisioned) time.
    pub fn time(&self) -> DateTime<Utc> {
        self.state.latest_time
    }

    /// Attacks detected and not yet reported.
    pub fn detected(&self) -> &[Detected] {
        &self.state.detected
    }

    /// The signed ECU version report (profile §2.6): the running image, the latest verified
    /// time, every attack detected since the last report, a counter one higher than the last
    /// and a fresh nonce the next time attestation must echo. A non-empty `challenge` from the
    /// Primary (at most [`MAX_CHALLENGE_BYTES`]) is echoed, hex, as `primary_nonce`, proving the
    /// report fresh to it. The new counter and nonce are persisted before the report leaves,
    /// so neither repeats after a power cut.
    pub fn version_report(&mut self, challenge: &[u8]) -> Result<Vec<u8>> {
        if challenge.len() > MAX_CHALLENGE_BYTES {
            return Err(Error::TooLarge {
                what: "version report challenge".into(),
                limit: MAX_CHALLENGE_BYTES as u64,
            });
        }
        let nonce = crate::time::fresh_nonce()?;
        let running = self.state.running()?.image.clone();
        let mut next = self.state.clone();
        next.report_counter += 1;
        next.nonce = Some(nonce.clone());
        let detected = std::mem::take(&mut next.detected);
        let mut labels: Vec<&str> = Vec::new();
        for d in &detected {
            if !labels.contains(&d.label.as_str()) {
                labels.push(&d.label);
            }
        }
        let text: Vec<String> =
            detected.iter().map(|d| format!("{}: {}", d.label, d.detail)).collect();
        let mut report = EcuVersionReport {
            ecu_serial: self.config.identity.serial.clone(),
            hardware_id: self.config.identity.hardware_id.clone(),
            installed_image: running,
            attacks_detected: text.join("; "),
            attacks_detected_code: (!labels.is_empty()).then(|| labels.join(",")),
            latest_time: next.latest_time,
            previous_time: next.previous_time,
            report_counter: next.report_counter,
            nonce,
            extra: Default::default(),
        };
        if !challenge.is_empty() {
            report.extra.insert("primary_nonce".into(), hex::encode(challenge).into());
        }
        let bytes = sign_report(report, &self.key)?.to_bytes()?;
        self.commit(next)?;
        Ok(bytes)
    }

    /// Accepts a time attestation (TM-5): signed by the time key of the trusted Director Root,
    /// echoing the nonce of this ECU's last report, not earlier than the time it has. The
    /// nonce is then spent. A refusal keeps the old time and is reported as `freeze`.
    pub fn time_attestation(&mut self, bytes: &[u8]) -> Result<DateTime<Utc>> {
        let result = self.accept_time(bytes);
        self.checked(result)
    }

    fn accept_time(&mut self, bytes: &[u8]) -> Result<DateTime<Utc>> {
        let root = self
            .trusted
            .repo(Repo::Director)?
            .load("root.json")?
            .ok_or_else(|| Error::State("no trusted Director root.json".into()))?;
        let time =
            crate::time::accept(bytes, &root, self.state.nonce.as_deref(), self.state.latest_time)?;
        let mut next = self.state.clone();
        next.previous_time = next.latest_time;
        next.latest_time = time;
        next.nonce = None;
        self.commit(next)?;
        Ok(time)
    }

    /// Whether a metadata file `name` of `size` bytes would be staged: checked when its
    /// transfer is announced, before any byte arrives. An oversized one is endless data.
    pub fn check_metadata(&mut self, name: &str, size: u64) -> Result<()> {
        let limit = self.config.limits.max_metadata_bytes;
        let result = if size > limit {
            Err(Error::TooLarge { what: format!("metadata {name}"), limit })
        } else {
            crate::metadata::check_name(name)
        };
        self.checked(result)
    }

    /// Stages one metadata file (`director/targets.json`, `image/3.root.json`, ...; see
    /// [`crate::metadata`]). Staging starts a new cycle: an unfinished installation is dropped.
    pub fn receive_metadata(&mut self, name: &str, bytes: Vec<u8>) -> Result<()> {
        let limit = self.config.limits.max_metadata_bytes;
        let result = if bytes.len() as u64 > limit {
            Err(Error::TooLarge { what: format!("metadata {name}"), limit })
        } else {
            self.install = Install::Idle;
            self.staged.insert(name, bytes)
        };
        self.checked(result)
    }

    /// Verifies the staged metadata (full or partial, per the configuration) at the ECU's
    /// latest attested time, then drops it. On success the trusted copies are updated and,
    /// if the Director assigns this ECU a new image, the ECU waits for it. On failure the
    /// previous trusted metadata stays, the running image is untouched, and the attack is
    /// remembered for the next report. A Director Root that changes the time key restarts
    /// the clock from the provisioned time (TM-5): the metadata is judged at that time, and
    /// the next attestation, signed by the new key, sets the clock again.
    pub fn verify_metadata(&mut self) -> Result<Verdict> {
        self.install = Install::Idle;
        let result = self.state.running().and_then(|running| {
            let latest = self.state.latest_time;
            let restart = time_key_rotated(&self.trusted, &self.staged, latest)?;
            let now = if restart { self.config.provisioned_time } else { latest };
            let order = verify(
                self.config.mode,
                &self.config.identity,
                &self.trusted,
                &self.staged,
                now,
                running.installed(),
            )?;
            Ok((order, restart))
        });
        self.staged.clear();
        let (order, restart) = self.checked(result)?;
        if restart {
            tracing::warn!("the Director Root rotated the time key: the clock restarts");
            let mut next = self.state.clone();
            next.previous_time = next.latest_time;
            next.latest_time = self.config.provisioned_time;
            self.commit(next)?;
        }
        match order {
            None => Ok(Verdict::NoUpdate),
            Some(order) => {
                let verdict =
                    Verdict::Update { target: order.target.clone(), length: order.file.length };
                self.install = Install::Ordered(order);
                Ok(verdict)
            }
        }
    }

    /// Starts receiving the ordered image, announced as `length` bytes. An announcement longer
    /// than the metadata's length is endless data. The inactive slot is marked empty on flash
    /// before its first byte is overwritten.
    pub fn begin_image(&mut self, length: u64) -> Result<()> {
        let result = self.start_download(length);
        self.checked(result)
    }

    fn start_download(&mut self, length: u64) -> Result<()> {
        let order = match std::mem::take(&mut self.install) {
            Install::Ordered(order) | Install::Ready(order) => order,
            Install::Streaming { order, .. } => order,
            Install::Idle => return Err(Error::Sequence("no verified update awaits an image")),
        };
        let expected = order.file.length;
        if length > expected {
            return Err(Error::TooLarge {
                what: format!("image {}", order.target),
                limit: expected,
            });
        }
        if length < expected {
            self.install = Install::Ordered(order);
            return Err(Error::Sequence("the announced length differs from the metadata's"));
        }
        let slot = self.state.active.other();
        if self.state.slots.contains_key(&slot) {
            let mut next = self.state.clone();
            next.slots.remove(&slot);
            self.commit(next)?;
        }
        let writer = self.slots.writer(slot, &order.target, &order.file)?;
        self.install = Install::Streaming { order, writer };
        Ok(())
    }

    /// Writes the next block of the image. More bytes than the length (endless data) aborts
    /// the installation. The transport bounds the transfer's duration and rate (slow
    /// retrieval) and reports an abort through [`Ecu::abort_transfer`].
    pub fn image_data(&mut self, block: &[u8]) -> Result<()> {
        let result = match &mut self.install {
            Install::Streaming { writer, .. } => writer.write(block),
            _ => Err(Error::Sequence("no image transfer in progress")),
        };
        if result.is_err() && matches!(self.install, Install::Streaming { .. }) {
            self.install = Install::Idle;
        }
        self.checked(result)
    }

    /// Ends the transfer: the slot must hold exactly the listed length with every hash.
    pub fn finish_image(&mut self) -> Result<()> {
        let result = match std::mem::take(&mut self.install) {
            Install::Streaming { order, writer } => {
                writer.finish().map(|()| self.install = Install::Ready(order))
            }
            other => {
                self.install = other;
                Err(Error::Sequence("no image transfer in progress"))
            }
        };
        self.checked(result)
    }

    /// Abandons a transfer the transport aborted (a stalled or oversized message, or one
    /// superseded by a new transfer), recording `attack` for the next report. An image being
    /// streamed is dropped.
    pub fn abort_transfer(&mut self, attack: Option<uptane::Attack>, detail: String) -> Result<()> {
        if matches!(self.install, Install::Streaming { .. }) {
            self.install = Install::Idle;
        }
        let err = Error::TransferAborted { attack, detail };
        self.record(&err)
    }

    /// Installs the verified image: the inactive slot becomes active in one atomic write of
    /// the state (the old slot kept for rollback, the new release counter persisted), then the
    /// new image's trial boot runs; if it fails, the previous slot is active again.
    pub fn activate(&mut self) -> Result<Activation> {
        let order = match std::mem::take(&mut self.install) {
            Install::Ready(order) => order,
            other => {
                self.install = other;
                return Err(Error::Sequence("no verified image awaits activation"));
            }
        };
        let slot = self.state.active.other();
        let mut next = self.state.clone();
        next.slots.insert(
            slot,
            SlotImage {
                image: InstalledImage::new(&order.target, &order.file),
                release_counter: order.release_counter,
            },
        );
        next.active = slot;
        next.trial = true;
        self.commit(next)?;
        match self.boot()? {
            None => Ok(Activation::Installed),
            Some(failure) => Ok(Activation::RolledBack(failure)),
        }
    }

    /// The (simulated) boot. Returns why the slot that was meant to boot did not, if it did not.
    fn boot(&mut self) -> Result<Option<BootFailure>> {
        let active = self.state.active;
        let image = self.state.running()?.image.clone();
        let Err(failure) = self.slots.boot(active, &image) else {
            if self.state.trial {
                let mut next = self.state.clone();
                next.trial = false;
                self.commit(next)?;
            }
            return Ok(None);
        };
        tracing::warn!(slot = active.name(), %failure, "boot failed; falling back");
        let fallback = active.other();
        let old = self.state.slots.get(&fallback).cloned().ok_or_else(|| {
            Error::State(format!(
                "slot {} failed ({failure}) and no other holds an image",
                active.name()
            ))
        })?;
        self.slots
            .boot(fallback, &old.image)
            .map_err(|second| Error::State(format!("neither slot boots: {failure}; {second}")))?;
        let mut next = self.state.clone();
        next.slots.remove(&active);
        next.active = fallback;
        next.trial = false;
        self.commit(next)?;
        Ok(Some(failure))
    }

    /// Records an error's attack, if it names one, for the next report.
    fn checked<T>(&mut self, result: Result<T>) -> Result<T> {
        if let Err(err) = &result {
            tracing::warn!(error = %err, "refused");
            self.record(err)?;
        }
        result
    }

    /// An attacker repeating a refused request cannot grow the state without bound: past
    /// [`MAX_DETECTED`] entries, only labels not yet recorded are added.
    fn record(&mut self, err: &Error) -> Result<()> {
        let Some(attack) = err.attack() else { return Ok(()) };
        let known = self.state.detected.iter().any(|d| d.label == attack.label());
        if known && self.state.detected.len() >= MAX_DETECTED {
            return Ok(());
        }
        let mut next = self.state.clone();
        next.detected.push(Detected { label: attack.label().into(), detail: err.to_string() });
        self.commit(next)
    }

    /// Persists `next` and only then makes it the state in memory.
    fn commit(&mut self, next: EcuState) -> Result<()> {
        self.state_file.save(&next)?;
        self.state = next;
        Ok(())
    }
}

/// First start: trusted metadata from the provisioning directory, the factory image in slot A.
fn provision(config: &Config, slots: &Slots, trusted: &TrustedStore) -> Result<EcuState> {
    trusted.provision(&config.provisioned, config.mode)?;
    let factory = &config.factory_image;
    let bytes = std::fs::read(&factory.path).map_err(|e| Error::io(&factory.path, e))?;
    uptane::names::TargetPath::new(factory.target.as_str())?;
    slots.flash(Slot::A, &bytes)?;
    let image = InstalledImage::new(&factory.target, &TargetFile::describing(&bytes));
    Ok(EcuState {
        active: Slot::A,
        slots: BTreeMap::from([(
            Slot::A,
            SlotImage { image, release_counter: factory.release_counter },
        )]),
        trial: false,
        latest_time: config.provisioned_time,
        previous_time: config.provisioned_time,
        report_counter: 0,
        nonce: None,
        detected: Vec::new(),
    })
}
