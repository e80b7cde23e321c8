//! `demo`: the system end to end on embedded defaults, as far as it is built.
//!
//! A release engineer holds an offline ceremony with keytool (a 2-of-3 root, a supplier
//! delegation with hardware ids), publishes an Image repository, and a vehicle's verifier
//! walks it as a Primary would and checks every image it finds. Then an attacker who controls
//! the repository's mirror tries the classic attacks, and each is shown being stopped with the
//! label the Uptane profile gives it.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use chrono::{DateTime, Duration, Utc};
use clap::Parser;
use uptane::Attack;
use uptane::crypto::PrivateKey;
use uptane::image::ImageVerifier;
use uptane::metadata::{Envelope, MetaFile, Metadata, SignedMetadata, Snapshot, Timestamp};
use uptane::repository::{MemStore, Rules, Store, Updater};

/// One ECU of the demo vehicle: the image it should install, with its hardware.
struct Ecu {
    serial: &'static str,
    hardware_id: &'static str,
    image: &'static str,
}

const ECUS: [Ecu; 2] = [
    Ecu { serial: "BCM-0001", hardware_id: "acme-bcm-rev3", image: "oem/bcm/body-2.1.0.bin" },
    Ecu { serial: "TCU-0001", hardware_id: "supplier-tcu-a", image: "supplierA/tcu-5.0.2.bin" },
];

pub fn run(dir: Option<PathBuf>) -> Result<()> {
    let scratch = tempfile::tempdir().context("creating a scratch directory")?;
    let root = dir.unwrap_or_else(|| scratch.path().to_path_buf());
    println!("== 1. Release engineering, offline, with keytool (workspace {})", root.display());
    let repo = ceremony(&root)?;

    println!(
        "\n== 2. A vehicle verifies the release like a Primary (Uptane rules, fixed cycle time)"
    );
    let mut state = provision(&repo)?;
    let found =
        vehicle_cycle(&repo.join("metadata"), &repo.join("targets"), &mut state, Utc::now())?;
    for (ecu, (path, length)) in ECUS.iter().zip(&found) {
        println!(
            "   {:<9} {:<15} {path}  {length} bytes, every hash verified",
            ecu.serial, ecu.hardware_id
        );
    }

    println!("\n== 3. An attacker controls the repository mirror");
    let outcomes = attacks(&root, &repo, &state)?;
    println!("   {:<48} {:<20} {:<20}", "attack", "expected", "observed");
    let mut failed = 0;
    for (name, expected, observed) in &outcomes {
        let observed = observed.map_or("accepted", Attack::label);
        let ok = observed == expected.label();
        failed += usize::from(!ok);
        let verdict = if ok { "stopped" } else { "NOT STOPPED" };
        println!("   {name:<48} {:<20} {observed:<20} {verdict}", expected.label());
    }
    if failed > 0 {
        bail!("{failed} attack(s) were not stopped");
    }
    println!("\nEvery attack was stopped; the vehicle kept its verified state.");
    Ok(())
}

/// Runs keytool as the release engineers would, and returns the published repository.
fn ceremony(dir: &Path) -> Result<PathBuf> {
    let keys = dir.join("keys");
    let repo = dir.join("image-repo");
    std::fs::create_dir_all(&keys)?;
    let images = dir.join("images");
    std::fs::create_dir_all(&images)?;
    std::fs::write(images.join("body.bin"), vec![0xB0; 256 * 1024])?;
    std::fs::write(images.join("tcu.bin"), vec![0x7C; 96 * 1024])?;
    let k = |name: &str| keys.join(name).display().to_string();
    let kp = |name: &str| keys.join(format!("{name}.pub.json")).display().to_string();
    let r = repo.display().to_string();
    let shown_root = format!("{}/", dir.display());
    for name in ["root1", "root2", "root3", "targets", "snapshot", "timestamp", "supplier"] {
        keytool(&shown_root, &["gen-key", "--out", &k(&format!("{name}.pem"))])?;
    }
    #[rustfmt::skip]
    let steps: Vec<Vec<String>> = vec![
        args(&["init", "--repo", &r, "--kind", "image", "--root-key", &k("root1.pem"), "--root-key", &kp("root2"),
            "--root-key", &kp("root3"), "--root-threshold", "2", "--targets-key", &k("targets.pem"),
            "--snapshot-key", &kp("snapshot"), "--timestamp-key", &kp("timestamp")]),
        args(&["sign", "--repo", &r, "--role", "root", "--key", &k("root2.pem")]),
        args(&["add-target", "--repo", &r, &images.join("body.bin").display().to_string(), "--path", ECUS[0].image,
            "--hardware-id", ECUS[0].hardware_id, "--release-counter", "7"]),
        args(&["delegate", "--repo", &r, "--to", "supplierA", "--key", &kp("supplier"), "--threshold", "1",
            "--paths", "supplierA/*", "--hardware-id", ECUS[1].hardware_id, "--terminating"]),
        args(&["sign", "--repo", &r, "--role", "targets", "--key", &k("targets.pem")]),
        args(&["add-target", "--repo", &r, &images.join("tcu.bin").display().to_string(), "--path", ECUS[1].image,
            "--role", "supplierA", "--hardware-id", ECUS[1].hardware_id, "--release-counter", "3"]),
        args(&["sign", "--repo", &r, "--role", "supplierA", "--key", &k("supplier.pem")]),
        args(&["publish", "--repo", &r, "--snapshot-key", &k("snapshot.pem"), "--timestamp-key", &k("timestamp.pem")]),
        args(&["verify", "--repo", &r]),
    ];
    for step in steps {
        let refs: Vec<&str> = step.iter().map(String::as_str).collect();
        keytool(&shown_root, &refs)?;
    }
    Ok(repo)
}

fn args(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| s.to_string()).collect()
}

/// Runs one keytool command in-process, echoing it as a release engineer would type it (paths
/// relative to the workspace).
fn keytool(workspace: &str, args: &[&str]) -> Result<()> {
    let shown: Vec<&str> = args.iter().map(|a| a.strip_prefix(workspace).unwrap_or(a)).collect();
    println!("\n$ keytool {}", shown.join(" "));
    let cli =
        keytool::cli::Cli::try_parse_from(std::iter::once("keytool").chain(args.iter().copied()))?;
    let outcome = keytool::cli::run(cli)?;
    if outcome.exit_code() != 0 {
        bail!("keytool {} exited {}", args[0], outcome.exit_code());
    }
    Ok(())
}

/// A vehicle's trusted state: the provisioned root, then whatever its cycles accepted.
fn provision(repo: &Path) -> Result<MemStore> {
    let mut store = MemStore::default();
    store.save("root.json", &std::fs::read(repo.join("metadata/1.root.json"))?)?;
    Ok(store)
}

/// One verification cycle over a mirror: refresh, find each ECU's image through the
/// delegations (with its hardware id), and verify the image bytes. The store keeps what was
/// accepted, as a Primary's would.
fn vehicle_cycle(
    metadata: &Path,
    targets: &Path,
    store: &mut MemStore,
    now: DateTime<Utc>,
) -> uptane::Result<Vec<(String, u64)>> {
    let fetch = keytool::verify::DirFetch::new(metadata);
    let mut updater = Updater::new(fetch, store.clone(), now, Rules::uptane())?;
    let result = (|| {
        updater.refresh()?;
        let mut found = Vec::new();
        for ecu in &ECUS {
            let target =
                updater.find_target(ecu.image, Some(ecu.hardware_id))?.ok_or_else(|| {
                    uptane::Error::TargetNotFound {
                        target: ecu.image.into(),
                        repository: "image".into(),
                    }
                })?;
            let (dir, base) = ecu.image.rsplit_once('/').unwrap_or(("", ecu.image));
            let file = targets.join(dir).join(format!("{}.{base}", target.file.hashes["sha256"]));
            let bytes = std::fs::read(&file)
                .map_err(|source| uptane::Error::Io { what: ecu.image.into(), source })?;
            ImageVerifier::verify(ecu.image, &target.file, &bytes)?;
            found.push((ecu.image.to_string(), target.file.length));
        }
        Ok(found)
    })();
    *store = updater.into_parts().2;
    result
}

type Outcome = (&'static str, Attack, Option<Attack>);

/// Each attack on a fresh copy of the published repository, against a vehicle that already
/// trusts the genuine release.
fn attacks(root: &Path, repo: &Path, trusted: &MemStore) -> Result<Vec<Outcome>> {
    let mut outcomes = Vec::new();
    let mut attempt =
        |name: &'static str,
         expected: Attack,
         attack: &dyn Fn(&Path, &mut MemStore) -> Result<DateTime<Utc>>| {
            let mirror = root.join("mirror");
            let _ = std::fs::remove_dir_all(&mirror);
            copy_dir(repo, &mirror)?;
            let mut store = trusted.clone();
            let now = attack(&mirror, &mut store)?;
            let kept = |store: &MemStore| store.files.get("targets.json").cloned();
            let before = kept(&store);
            let observed =
                vehicle_cycle(&mirror.join("metadata"), &mirror.join("targets"), &mut store, now)
                    .err()
                    .and_then(|e| e.attack());
            anyhow::ensure!(kept(&store) == before, "{name}: the vehicle trusted what it was sent");
            outcomes.push((name, expected, observed));
            Ok::<_, anyhow::Error>(())
        };
    attempt("tampered image (one byte flipped)", Attack::ArbitrarySoftware, &|m, _| {
        for entry in walk(&m.join("targets"))? {
            let mut bytes = std::fs::read(&entry)?;
            bytes[0] ^= 1;
            std::fs::write(&entry, bytes)?;
        }
        Ok(Utc::now())
    })?;
    attempt(
        "online keys stolen: forged targets re-wrapped",
        Attack::ArbitrarySoftware,
        &|m, store| {
            // With the snapshot and timestamp keys, the attacker edits targets and re-signs the
            // layers above it; the offline targets key is what stops them. A new vehicle is used,
            // as one that already holds targets v1 would not fetch it again.
            *store = provision(repo)?;
            let file = m.join("metadata/1.targets.json");
            let mut json: serde_json::Value = serde_json::from_slice(&std::fs::read(&file)?)?;
            json["signed"]["targets"][ECUS[0].image]["custom"]["releaseCounter"] = 8.into();
            let forged = serde_json::to_vec(&json)?;
            std::fs::write(&file, &forged)?;
            let snapshot_file = m.join("metadata/1.snapshot.json");
            let mut snapshot: Snapshot = decode(&std::fs::read(&snapshot_file)?, "snapshot")?;
            snapshot.meta.insert("targets.json".into(), MetaFile::describing(1, &forged));
            snapshot.version = 2;
            let snapshot =
                SignedMetadata::new(snapshot).sign_to_bytes(&[&key(root, "snapshot")?])?;
            std::fs::write(m.join("metadata/2.snapshot.json"), &snapshot)?;
            resign_timestamp(root, m, |t| {
                t.version += 1;
                t.meta.insert("snapshot.json".into(), MetaFile::describing(2, &snapshot));
            })?;
            Ok(Utc::now())
        },
    )?;
    attempt("rollback: replay last week's timestamp", Attack::Rollback, &|m, store| {
        // The vehicle has since seen a newer timestamp; the attacker replays the old one.
        let genuine = std::fs::read(m.join("metadata/timestamp.json"))?;
        resign_timestamp(root, m, |t| t.version += 1)?;
        vehicle_cycle(&m.join("metadata"), &m.join("targets"), store, Utc::now())?;
        std::fs::write(m.join("metadata/timestamp.json"), genuine)?;
        Ok(Utc::now())
    })?;
    attempt("freeze: serve metadata past its expiry", Attack::Freeze, &|_, _| {
        Ok(Utc::now() + Duration::days(2))
    })?;
    attempt("endless data: a 1 MiB timestamp", Attack::EndlessData, &|m, _| {
        std::fs::write(m.join("metadata/timestamp.json"), vec![b' '; 1 << 20])?;
        Ok(Utc::now())
    })?;
    attempt("mix-and-match: timestamp names another snapshot", Attack::MixAndMatch, &|m, _| {
        resign_timestamp(root, m, |t| {
            t.version += 1;
            if let Some(hashes) = t.meta.get_mut("snapshot.json").and_then(|s| s.hashes.as_mut()) {
                hashes.insert("sha256".into(), "0".repeat(64));
            }
        })?;
        Ok(Utc::now())
    })?;
    Ok(outcomes)
}

/// An attacker who stole the timestamp key re-signs an edited timestamp.
fn resign_timestamp(root: &Path, mirror: &Path, edit: impl FnOnce(&mut Timestamp)) -> Result<()> {
    let file = mirror.join("metadata/timestamp.json");
    let mut timestamp: Timestamp = decode(&std::fs::read(&file)?, "timestamp")?;
    edit(&mut timestamp);
    let bytes = SignedMetadata::new(timestamp).sign_to_bytes(&[&key(root, "timestamp")?])?;
    std::fs::write(file, bytes)?;
    Ok(())
}

fn decode<M: Metadata>(bytes: &[u8], role: &str) -> Result<M> {
    Ok(Envelope::parse(bytes, role)?.decode(role)?.into_body())
}

fn key(root: &Path, name: &str) -> Result<PrivateKey> {
    Ok(PrivateKey::read(&root.join(format!("keys/{name}.pem")))?)
}

fn copy_dir(from: &Path, to: &Path) -> Result<()> {
    for file in walk(from)? {
        let dest = to.join(file.strip_prefix(from)?);
        std::fs::create_dir_all(dest.parent().unwrap_or(to))?;
        std::fs::copy(&file, dest)?;
    }
    Ok(())
}

fn walk(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(dir) = pending.pop() {
        for entry in std::fs::read_dir(&dir)? {
            let path = entry?.path();
            if path.is_dir() { pending.push(path) } else { files.push(path) }
        }
    }
    files.sort();
    Ok(files)
}
