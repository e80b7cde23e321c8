//! A vehicle to attack: an Image repository and a Director repository signed with fixed keys,
//! a time server, and Secondaries provisioned from them. Tests edit repository bodies freely
//! and publish; what a Primary would forward over the bus is [`Fleet::bundle`].
#![allow(dead_code, clippy::unwrap_used)] // each test file uses its own part of the fixture

use std::collections::BTreeMap;
use std::path::Path;

use chrono::{DateTime, TimeDelta, Utc};
use serde::Serialize;
use serde_json::{Map, Value, json};
use uptane::crypto::{PrivateKey, PublicKey, Signer};
use uptane::manifest::{EcuVersionReport, verify_report};
use uptane::metadata::{
    EcuIdentifier, MetaFile, Root, SignedMetadata, Snapshot, TargetCustom, TargetFile, Targets,
    Timestamp, parse_time,
};
use uptane::names::{EcuSerial, HardwareId};
use uptane::time::TimeAttestation;

use canbus::uds::{ClientConfig, TransferTarget, UdsClient};
use canbus::{CanLink, IsoTpSocket};
use secondary_client::config::{BusConfig, Config, FactoryImage, Identity, Limits, Mode};

pub const VIN: &str = "WVWZZZ1JZXW000001";
pub const OTHER_VIN: &str = "WVWZZZ1JZXW000002";
pub const FACTORY: &str = "fw/factory-1.0.bin";
pub const FACTORY_IMAGE: &[u8] = b"factory firmware 1.0";

/// The ECU's provisioned time: every ECU starts here.
pub fn start() -> DateTime<Utc> {
    parse_time("2030-01-01T00:00:00Z").unwrap()
}

/// A year after [`start`]: when metadata expires unless a test says otherwise.
pub fn future() -> DateTime<Utc> {
    start() + TimeDelta::days(365)
}

fn key(seed: u8) -> PrivateKey {
    PrivateKey::ed25519_from_seed(&[seed; 32]).unwrap()
}

fn signed<M: Serialize + Clone>(body: &M, key: &PrivateKey) -> Vec<u8> {
    let mut signed = SignedMetadata::new(body.clone());
    signed.sign(key).unwrap();
    signed.to_bytes().unwrap()
}

/// One repository with one key per role, thresholds 1.
#[derive(Debug)]
pub struct Repo {
    pub name: &'static str,
    pub keys: BTreeMap<&'static str, PrivateKey>,
    pub root: Root,
    pub targets: Targets,
    pub snapshot_version: u64,
    pub timestamp_version: u64,
    pub expires: DateTime<Utc>,
    /// Everything published, by the name a client fetches (`1.root.json`, `timestamp.json`,
    /// `3.snapshot.json`, `2.targets.json`).
    pub files: BTreeMap<String, Vec<u8>>,
    /// The latest of each: what a Primary forwards.
    pub latest: BTreeMap<&'static str, String>,
}

impl Repo {
    fn new(name: &'static str, seed: u8, extra_root: impl FnOnce(&mut Root)) -> Repo {
        let keys: BTreeMap<_, _> = ["root", "targets", "snapshot", "timestamp"]
            .into_iter()
            .zip(seed..)
            .map(|(role, seed)| (role, key(seed)))
            .collect();
        let mut root = Root::new(future());
        for (role, key) in &keys {
            root.add_key(role, key.public_key()).unwrap();
        }
        extra_root(&mut root);
        let mut repo = Repo {
            name,
            keys,
            root,
            targets: Targets::new(1, future()),
            snapshot_version: 1,
            timestamp_version: 1,
            expires: future(),
            files: BTreeMap::new(),
            latest: BTreeMap::new(),
        };
        repo.publish_root();
        repo
    }

    pub fn publish_root(&mut self) {
        let bytes = signed(&self.root, &self.keys["root"]);
        self.put("root", format!("{}.root.json", self.root.version), bytes);
    }

    /// Root N+1 replacing the key of `role` by one from `seed`, signed by the (unchanged) root
    /// key, published.
    pub fn rotate_key(&mut self, role: &'static str, seed: u8) {
        let old = self.keys[role].key_id().to_owned();
        self.root.remove_key(role, &old).unwrap();
        let new = key(seed);
        self.root.add_key(role, new.public_key()).unwrap();
        self.keys.insert(role, new);
        self.root.version += 1;
        self.publish_root();
    }

    fn put(&mut self, role: &'static str, name: String, bytes: Vec<u8>) {
        self.files.insert(name.clone(), bytes);
        self.latest.insert(role, name);
    }

    /// Signs Targets, then a Snapshot listing them, then a Timestamp, at the current versions.
    pub fn publish(&mut self) {
        let targets = signed(&self.targets, &self.keys["targets"]);
        let meta = BTreeMap::from([(
            "targets.json".to_string(),
            MetaFile::describing(self.targets.version, &targets),
        )]);
        self.put("targets", format!("{}.targets.json", self.targets.version), targets);
        let snapshot = Snapshot::new(self.snapshot_version, self.expires, meta);
        let snapshot = signed(&snapshot, &self.keys["snapshot"]);
        let listed = MetaFile::describing(self.snapshot_version, &snapshot);
        self.put("snapshot", format!("{}.snapshot.json", self.snapshot_version), snapshot);
        let timestamp = Timestamp::new(self.timestamp_version, self.expires, listed);
        let timestamp = signed(&timestamp, &self.keys["timestamp"]);
        self.put("timestamp", "timestamp.json".into(), timestamp);
    }

    /// A new version of Targets, Snapshot and Timestamp, published.
    pub fn release(&mut self) {
        self.targets.version += 1;
        self.snapshot_version += 1;
        self.timestamp_version += 1;
        self.publish();
    }

    pub fn latest(&self, role: &str) -> Vec<u8> {
        self.files[&self.latest[role]].clone()
    }

    /// The files a Primary forwards to a Secondary, named as the Secondary expects:
    /// `REPO/N.root.json` for each Root after the first, `REPO/timestamp.json`,
    /// `REPO/N.snapshot.json`, and Targets under the unversioned `REPO/targets.json`.
    pub fn bundle(&self) -> Vec<(String, Vec<u8>)> {
        let mut files: Vec<(String, Vec<u8>)> = (2..=self.root.version)
            .map(|v| {
                (
                    format!("{}/{v}.root.json", self.name),
                    self.files[&format!("{v}.root.json")].clone(),
                )
            })
            .collect();
        files.push((format!("{}/timestamp.json", self.name), self.latest("timestamp")));
        files.push((format!("{}/{}", self.name, self.latest["snapshot"]), self.latest("snapshot")));
        files.push((format!("{}/targets.json", self.name), self.latest("targets")));
        files
    }
}

/// An image and where the Image repository lists it.
pub fn image_entry(bytes: &[u8], hardware_ids: &[&str], release_counter: u64) -> TargetFile {
    let mut file = TargetFile::describing(bytes);
    let custom = TargetCustom {
        hardware_ids: Some(hardware_ids.iter().map(|h| HardwareId::new(*h).unwrap()).collect()),
        release_counter: Some(release_counter),
        ..TargetCustom::default()
    };
    file.set_uptane(&custom).unwrap();
    file
}

/// The Director's entry for `image` sent to one ECU, custom fields copied as the Director must.
pub fn director_entry(image: &TargetFile, serial: &str, hardware_id: &str) -> TargetFile {
    let mut entry = image.clone();
    let mut custom = image.uptane("x").unwrap();
    let id =
        EcuIdentifier { hardware_id: HardwareId::new(hardware_id).unwrap(), extra: Map::new() };
    custom.ecu_identifiers = Some(BTreeMap::from([(EcuSerial::new(serial).unwrap(), id)]));
    entry.set_uptane(&custom).unwrap();
    entry
}

/// One Secondary of the vehicle.
#[derive(Debug, Clone)]
pub struct EcuSpec {
    pub serial: &'static str,
    pub hardware_id: &'static str,
    pub seed: u8,
}

pub const BCM: EcuSpec = EcuSpec { serial: "BCM-SN-0001", hardware_id: "acme-bcm", seed: 101 };
pub const TCU: EcuSpec = EcuSpec { serial: "TCU-SN-0001", hardware_id: "acme-tcu", seed: 102 };

impl EcuSpec {
    pub fn key(&self) -> PrivateKey {
        key(self.seed)
    }

    pub fn public(&self) -> PublicKey {
        self.key().public_key().clone()
    }
}

/// The vehicle's two repositories, the time server, and a directory for ECU storage.
#[derive(Debug)]
pub struct Fleet {
    pub dir: tempfile::TempDir,
    pub image: Repo,
    pub director: Repo,
    pub time_key: PrivateKey,
}

impl Default for Fleet {
    fn default() -> Fleet {
        Fleet::new()
    }
}

impl Fleet {
    /// The Image repository lists the factory image for both ECUs' hardware; the Director
    /// (whose Root names the time key) assigns nothing yet.
    pub fn new() -> Fleet {
        let time_key = key(90);
        let mut image = Repo::new("image", 10, |_| {});
        let time_public = time_key.public_key().clone();
        let mut director = Repo::new("director", 20, |root| {
            uptane::time::add_time_key(root, &time_public).unwrap();
        });
        image.targets.targets.insert(
            FACTORY.into(),
            image_entry(FACTORY_IMAGE, &[BCM.hardware_id, TCU.hardware_id], 1),
        );
        image.publish();
        director.targets.custom = Some(json!({ "vin": VIN }).as_object().unwrap().clone());
        director.publish();
        Fleet { dir: tempfile::tempdir().unwrap(), image, director, time_key }
    }

    /// Publishes `bytes` at `path` in the Image repository (a new release of it).
    pub fn release_image(
        &mut self,
        path: &str,
        bytes: &[u8],
        hw: &[&str],
        counter: u64,
    ) -> TargetFile {
        let entry = image_entry(bytes, hw, counter);
        self.image.targets.targets.insert(path.into(), entry.clone());
        self.image.release();
        entry
    }

    /// A new Director Targets version assigning `path` (as the Image repository lists it) to
    /// `ecu`, alongside whatever else it assigns.
    pub fn assign(&mut self, ecu: &EcuSpec, path: &str) {
        let image = self.image.targets.targets[path].clone();
        self.assign_entry(ecu, path, director_entry(&image, ecu.serial, ecu.hardware_id));
    }

    /// A new Director Targets version carrying `entry` at `path` for `ecu`.
    pub fn assign_entry(&mut self, ecu: &EcuSpec, path: &str, entry: TargetFile) {
        let serial = EcuSerial::new(ecu.serial).unwrap();
        self.director.targets.targets.retain(|_, file| {
            !file.uptane("x").unwrap().ecu_identifiers.is_some_and(|ids| ids.contains_key(&serial))
        });
        self.director.targets.targets.insert(path.into(), entry);
        self.director.release();
    }

    /// Everything a Primary forwards in one cycle, to full and partial Secondaries alike.
    pub fn bundle(&self) -> Vec<(String, Vec<u8>)> {
        let mut files = self.director.bundle();
        files.extend(self.image.bundle());
        files
    }

    /// Storage and provisioning of `ecu`, and its configuration: the metadata current now,
    /// the factory image in slot A, the ECU key on disk.
    pub fn provision(&self, ecu: &EcuSpec, mode: Mode) -> Config {
        let base = self.dir.path().join(format!("{}-{mode:?}", ecu.serial));
        let provisioned = base.join("provisioned");
        for repo in [&self.director, &self.image] {
            let dir = provisioned.join(repo.name);
            std::fs::create_dir_all(&dir).unwrap();
            std::fs::write(dir.join("root.json"), &repo.files["1.root.json"]).unwrap();
            for role in ["timestamp", "snapshot", "targets"] {
                std::fs::write(dir.join(format!("{role}.json")), repo.latest(role)).unwrap();
            }
        }
        let key = base.join("ecu.pem");
        std::fs::write(&key, ecu.key().to_pem()).unwrap();
        let factory = base.join("factory.bin");
        std::fs::write(&factory, FACTORY_IMAGE).unwrap();
        Config {
            identity: Identity {
                serial: EcuSerial::new(ecu.serial).unwrap(),
                hardware_id: HardwareId::new(ecu.hardware_id).unwrap(),
                vin: uptane::names::Vin::new(VIN).unwrap(),
            },
            key,
            mode,
            provisioned,
            storage: base.join("storage"),
            provisioned_time: start(),
            factory_image: FactoryImage {
                path: factory,
                target: FACTORY.into(),
                release_counter: 1,
            },
            bus: BusConfig::default(),
            limits: Limits::default(),
        }
    }

    /// A time attestation signed by the Director's time key.
    pub fn attest(&self, time: DateTime<Utc>, nonces: &[&str]) -> Vec<u8> {
        self.attest_with(&self.time_key, time, nonces)
    }

    pub fn attest_with(&self, key: &PrivateKey, time: DateTime<Utc>, nonces: &[&str]) -> Vec<u8> {
        let body = TimeAttestation {
            time,
            nonces: nonces.iter().map(|n| n.to_string()).collect(),
            extra: Map::new(),
        };
        signed(&body, key)
    }
}

/// Checks a version report's signature with the ECU's key and returns its body.
pub fn read_report(bytes: &[u8], ecu: &EcuSpec) -> EcuVersionReport {
    let value: Value = serde_json::from_slice(bytes).unwrap();
    verify_report(&value, &ecu.public()).unwrap()
}

/// The attack labels a report carries.
pub fn labels(report: &EcuVersionReport) -> Vec<String> {
    report
        .attacks_detected_code
        .as_deref()
        .map(|codes| codes.split(',').map(String::from).collect())
        .unwrap_or_default()
}

// ---------------------------------------------------------------------------------------------
// The Primary's side of the bus

/// A UDS client for the Secondary on `bus`'s channel: the mirror of its identifiers.
pub fn client<L: CanLink>(link: L, bus: &BusConfig) -> UdsClient<L> {
    let mirrored =
        BusConfig { request_id: bus.response_id, response_id: bus.request_id, ..bus.clone() };
    let limits = Limits { max_message_bytes: 1 << 20, ..Limits::default() };
    let config = secondary_client::bus::isotp_config(&mirrored, &limits).unwrap();
    // A generous P2: the processes share two loaded cores.
    let timers = ClientConfig { p2: std::time::Duration::from_secs(2), ..ClientConfig::default() };
    UdsClient::new(IsoTpSocket::new(link, config).unwrap(), timers)
}

/// Sends each metadata file with RequestFileTransfer.
pub fn deliver<L: CanLink>(client: &mut UdsClient<L>, files: &[(String, Vec<u8>)]) {
    for (name, bytes) in files {
        let target = TransferTarget::File(name);
        client.transfer(target, bytes.len() as u64, bytes.as_slice(), |_| {}).unwrap();
    }
}

/// The Secondary's version report, read over the bus and checked with its key.
pub fn bus_report<L: CanLink>(client: &mut UdsClient<L>, ecu: &EcuSpec) -> EcuVersionReport {
    read_report(&client.version_report(b"primary nonce").unwrap(), ecu)
}

/// A status record as JSON.
pub fn json_status(bytes: &[u8]) -> Value {
    serde_json::from_slice(bytes).unwrap()
}

/// One whole update of `ecu` over the bus: report, time, metadata, image, activation.
/// Returns the activation status.
pub fn update_over_bus<L: CanLink>(
    client: &mut UdsClient<L>,
    fleet: &Fleet,
    ecu: &EcuSpec,
    image: &[u8],
) -> Value {
    let nonce = bus_report(client, ecu).nonce;
    client.time_attestation(&fleet.attest(start() + TimeDelta::hours(1), &[&nonce])).unwrap();
    deliver(client, &fleet.bundle());
    let verdict = json_status(&client.verify_metadata().unwrap());
    assert_eq!(verdict["verdict"], "update", "{verdict}");
    assert_eq!(verdict["length"], image.len() as u64);
    client.transfer(TransferTarget::Image, image.len() as u64, image, |_| {}).unwrap();
    json_status(&client.activate().unwrap())
}

/// The configuration as a TOML file the binary reads, joining the hub at `socket`.
pub fn write_config(config: &Config, socket: &Path) -> std::path::PathBuf {
    let text = format!(
        r#"ecu_serial = "{serial}"
hardware_id = "{hw}"
vin = "{vin}"
key = {key:?}
mode = "{mode}"
provisioned = {provisioned:?}
storage = {storage:?}
provisioned_time = "{time}"

[factory_image]
path = {factory:?}
target = "{target}"
release_counter = {counter}

[bus]
socket = {socket:?}
request_id = {request}
response_id = {response}
fd = {fd}
"#,
        serial = config.identity.serial,
        hw = config.identity.hardware_id,
        vin = config.identity.vin,
        key = config.key,
        mode = if config.mode == Mode::Full { "full" } else { "partial" },
        provisioned = config.provisioned,
        storage = config.storage,
        time = uptane::metadata::format_time(config.provisioned_time),
        factory = config.factory_image.path,
        target = config.factory_image.target,
        counter = config.factory_image.release_counter,
        request = config.bus.request_id,
        response = config.bus.response_id,
        fd = config.bus.fd,
    );
    let path = config.storage.with_extension("toml");
    std::fs::write(&path, text).unwrap();
    path
}

/// `body` signed by `key` alone, as an attacker holding only that key would.
pub fn sign_body<M: Serialize + Clone>(body: &M, key: &PrivateKey) -> Vec<u8> {
    signed(body, key)
}
