//! Runs the real `primary-client check` against a Director and an Image repository served over
//! loopback HTTP, and attacks each in turn. Every rejection must exit 1 with its attack label
//! and leave no image behind.

#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use chrono::{DateTime, Duration, Utc};
use common::{Server, sign};
use serde_json::{Value, json};
use uptane::crypto::{PrivateKey, Signer};
use uptane::metadata::{
    EcuIdentifier, MetaFile, Root, Snapshot, TargetCustom, TargetFile, Targets, Timestamp,
};
use uptane::names::{EcuSerial, HardwareId};

const VIN: &str = "WVWZZZ1JZXW000001";
const BCM: (&str, &str) = ("BCM-0001", "acme-bcm");
const TCU: (&str, &str) = ("TCU-0001", "acme-tcu");
const APP: &str = "oem/bcm-2.0.bin";
const IMAGE: &[u8] = b"body controller firmware 2.0";

/// One repository's keys (one per role) and where it is served from.
struct Repo {
    keys: BTreeMap<&'static str, PrivateKey>,
    dir: PathBuf,
}

impl Repo {
    fn new(dir: PathBuf, seed: u8) -> Repo {
        let roles = ["root", "targets", "snapshot", "timestamp"];
        let keys = roles
            .iter()
            .zip(seed..)
            .map(|(role, s)| (*role, PrivateKey::ed25519_from_seed(&[s; 32]).unwrap()))
            .collect();
        std::fs::create_dir_all(&dir).unwrap();
        let repo = Repo { keys, dir };
        let mut root = Root::new(Utc::now() + Duration::days(365));
        for (role, key) in &repo.keys {
            root.add_key(role, key.public_key()).unwrap();
        }
        std::fs::write(repo.dir.join("1.root.json"), sign(root, &repo.keys["root"])).unwrap();
        repo
    }

    /// Publishes `targets` at `version`, with snapshot and timestamp of the same version.
    fn publish(&self, mut targets: Targets, version: u64, expires: DateTime<Utc>) {
        targets.version = version;
        let targets = sign(targets, &self.keys["targets"]);
        let meta =
            BTreeMap::from([("targets.json".to_string(), MetaFile::describing(version, &targets))]);
        let snapshot = sign(Snapshot::new(version, expires, meta), &self.keys["snapshot"]);
        let timestamp = sign(
            Timestamp::new(version, expires, MetaFile::describing(version, &snapshot)),
            &self.keys["timestamp"],
        );
        std::fs::write(self.dir.join(format!("{version}.targets.json")), targets).unwrap();
        std::fs::write(self.dir.join(format!("{version}.snapshot.json")), snapshot).unwrap();
        std::fs::write(self.dir.join("timestamp.json"), timestamp).unwrap();
    }
}

fn image_entry(bytes: &[u8], hardware: &str, counter: u64) -> TargetFile {
    let mut file = TargetFile::describing(bytes);
    let custom = TargetCustom {
        hardware_ids: Some(vec![HardwareId::new(hardware).unwrap()]),
        release_counter: Some(counter),
        ..TargetCustom::default()
    };
    file.set_uptane(&custom).unwrap();
    file
}

fn director_entry(image: &TargetFile, ecu: (&str, &str)) -> TargetFile {
    let mut entry = image.clone();
    let mut custom = image.uptane("x").unwrap();
    let id =
        EcuIdentifier { hardware_id: HardwareId::new(ecu.1).unwrap(), extra: Default::default() };
    custom.ecu_identifiers = Some(BTreeMap::from([(EcuSerial::new(ecu.0).unwrap(), id)]));
    entry.set_uptane(&custom).unwrap();
    entry
}

fn director_targets(entries: Vec<(&str, TargetFile)>, vin: &str) -> Targets {
    let mut targets = Targets::new(1, Utc::now() + Duration::days(1));
    targets.targets = entries.into_iter().map(|(p, f)| (p.to_string(), f)).collect();
    targets.custom = Some(json!({ "vin": vin }).as_object().unwrap().clone());
    targets
}

/// The Image repository, the Director, their server, and a vehicle's directories.
struct Setup {
    temp: tempfile::TempDir,
    image: Repo,
    director: Repo,
    server: Server,
}

impl Setup {
    /// The Image repository lists [`APP`] for the BCM; the Director assigns it to the BCM.
    fn new() -> Setup {
        let temp = tempfile::tempdir().unwrap();
        let served = temp.path().join("served");
        let image = Repo::new(served.join("image/metadata"), 10);
        let director = Repo::new(served.join("director"), 20);
        let setup = Setup { server: Server::start(&served), temp, image, director };
        let entry = setup.add_image(APP, IMAGE, BCM.1, 2);
        let mut image_targets = Targets::new(1, Utc::now() + Duration::days(30));
        image_targets.targets.insert(APP.into(), entry.clone());
        setup.image.publish(image_targets, 1, Utc::now() + Duration::days(1));
        setup.director.publish(
            director_targets(vec![(APP, director_entry(&entry, BCM))], VIN),
            1,
            tomorrow(),
        );
        for (repo, name) in [(&setup.image, "image"), (&setup.director, "director")] {
            let trusted = setup.md().join(name);
            std::fs::create_dir_all(&trusted).unwrap();
            std::fs::copy(repo.dir.join("1.root.json"), trusted.join("root.json")).unwrap();
        }
        setup
    }

    /// Stores `bytes` in the Image repository's targets area under its sha256 name.
    fn add_image(&self, path: &str, bytes: &[u8], hardware: &str, counter: u64) -> TargetFile {
        let entry = image_entry(bytes, hardware, counter);
        let (dir, base) = path.rsplit_once('/').unwrap();
        let targets = self.served().join("image/targets").join(dir);
        std::fs::create_dir_all(&targets).unwrap();
        std::fs::write(targets.join(format!("{}.{base}", entry.hashes["sha256"])), bytes).unwrap();
        entry
    }

    fn served(&self) -> PathBuf {
        self.temp.path().join("served")
    }

    fn md(&self) -> PathBuf {
        self.temp.path().join("md")
    }

    fn td(&self) -> PathBuf {
        self.temp.path().join("td")
    }

    /// Runs `primary-client check`; returns its exit code and JSON line.
    fn check(&self) -> (i32, Value) {
        let output = Command::new(env!("CARGO_BIN_EXE_primary-client"))
            .arg("check")
            .args(["--director-url", &format!("{}director/", self.server.url)])
            .args(["--image-url", &format!("{}image", self.server.url)])
            .arg("--metadata-dir")
            .arg(self.md())
            .args(["--vin", VIN])
            .args([
                "--ecu",
                &format!("{}={}", BCM.0, BCM.1),
                "--ecu",
                &format!("{}={}", TCU.0, TCU.1),
            ])
            .arg("--target-dir")
            .arg(self.td())
            .output()
            .unwrap();
        eprintln!("{}", String::from_utf8_lossy(&output.stderr));
        let line: Value = serde_json::from_slice(&output.stdout).unwrap();
        (output.status.code().unwrap(), line)
    }

    /// Runs `check` and asserts a rejection naming `attack`, with no image written.
    fn expect_rejected(&self, attack: &str) {
        let (code, line) = self.check();
        assert_eq!(code, 1, "{line}");
        assert_eq!(line["result"], "rejected", "{line}");
        assert_eq!(line["attack"], attack, "{line}");
        assert!(files(&self.td()).is_empty(), "an image was written: {:?}", files(&self.td()));
    }
}

fn tomorrow() -> DateTime<Utc> {
    Utc::now() + Duration::days(1)
}

fn files(dir: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(dir) = pending.pop() {
        for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
            let path = entry.path();
            if path.is_dir() { pending.push(path) } else { found.push(path) }
        }
    }
    found
}

#[test]
fn an_assigned_image_is_verified_downloaded_and_then_not_fetched_again() {
    let setup = Setup::new();
    let (code, line) = setup.check();
    assert_eq!((code, line["result"].as_str()), (0, Some("updated")), "{line}");
    assert_eq!(line["installed"][BCM.0], APP);
    assert_eq!(std::fs::read(setup.td().join(APP)).unwrap(), IMAGE);
    let (code, line) = setup.check();
    assert_eq!((code, line["result"].as_str()), (0, Some("no_update")), "{line}");
}

#[test]
fn a2_a_tampered_image_is_rejected() {
    let setup = Setup::new();
    let entry = image_entry(IMAGE, BCM.1, 2);
    let stored =
        setup.served().join(format!("image/targets/oem/{}.bcm-2.0.bin", entry.hashes["sha256"]));
    std::fs::write(stored, b"body controller firmware 2.1").unwrap();
    setup.expect_rejected("arbitrary_software");
}

#[test]
fn a3_an_image_only_a_compromised_director_signed_is_rejected() {
    let setup = Setup::new();
    let malware = image_entry(b"malware", BCM.1, 9);
    let targets = director_targets(vec![("oem/evil.bin", director_entry(&malware, BCM))], VIN);
    setup.director.publish(targets, 2, tomorrow());
    setup.expect_rejected("arbitrary_software");
}

#[test]
fn a5_an_older_release_counter_is_rejected() {
    let setup = Setup::new();
    assert_eq!(setup.check().0, 0);
    // The Image repository also carries the older release; the Director points back to it.
    let old = setup.add_image("oem/bcm-1.0.bin", b"old firmware", BCM.1, 1);
    let mut image_targets = Targets::new(1, Utc::now() + Duration::days(30));
    image_targets.targets.insert(APP.into(), image_entry(IMAGE, BCM.1, 2));
    image_targets.targets.insert("oem/bcm-1.0.bin".into(), old.clone());
    setup.image.publish(image_targets, 2, tomorrow());
    setup.director.publish(
        director_targets(vec![("oem/bcm-1.0.bin", director_entry(&old, BCM))], VIN),
        2,
        tomorrow(),
    );
    let (code, line) = setup.check();
    assert_eq!((code, line["attack"].as_str()), (1, Some("rollback")), "{line}");
}

#[test]
fn a6_expired_director_metadata_is_rejected() {
    let setup = Setup::new();
    let entry = image_entry(IMAGE, BCM.1, 2);
    let targets = director_targets(vec![(APP, director_entry(&entry, BCM))], VIN);
    setup.director.publish(targets, 2, Utc::now() - Duration::hours(1));
    setup.expect_rejected("freeze");
}

#[test]
fn a7_another_vehicles_director_metadata_is_rejected() {
    let setup = Setup::new();
    setup.director.publish(director_targets(vec![], "WVWZZZ1JZXW000002"), 2, tomorrow());
    setup.expect_rejected("vin_mismatch");
}

#[test]
fn a11_an_endless_timestamp_is_cut_off() {
    let setup = Setup::new();
    let timestamp = setup.director.dir.join("timestamp.json");
    std::fs::remove_file(&timestamp).unwrap();
    std::fs::write(setup.director.dir.join("timestamp.json.endless"), vec![b' '; 4096]).unwrap();
    setup.expect_rejected("endless_data");
}

#[test]
fn a16_an_image_for_other_hardware_is_rejected() {
    let setup = Setup::new();
    let entry = image_entry(IMAGE, BCM.1, 2);
    setup.director.publish(
        director_targets(vec![(APP, director_entry(&entry, TCU))], VIN),
        2,
        tomorrow(),
    );
    setup.expect_rejected("hw_id_mismatch");
}

#[test]
fn a17_an_ecu_outside_the_vehicle_is_rejected() {
    let setup = Setup::new();
    let entry = image_entry(IMAGE, BCM.1, 2);
    let targets = director_targets(vec![(APP, director_entry(&entry, ("XYZ-9999", BCM.1)))], VIN);
    setup.director.publish(targets, 2, tomorrow());
    setup.expect_rejected("arbitrary_software");
}

#[test]
fn bad_arguments_and_unreachable_servers_exit_one() {
    let setup = Setup::new();
    let output = Command::new(env!("CARGO_BIN_EXE_primary-client"))
        .args(["check", "--vin", "nope"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    std::fs::remove_dir_all(setup.served()).unwrap();
    let (code, line) = setup.check();
    assert_eq!((code, line["result"].as_str()), (1, Some("rejected")), "{line}");
}
