//! Runs the real `tuf-client` binary against a repository built with the uptane API and served
//! by a tiny loopback HTTP server.

#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use chrono::Utc;
use common::{Server, sign};
use uptane::crypto::{KeyType, PrivateKey, Signer};
use uptane::metadata::{MetaFile, Root, Snapshot, TargetFile, Targets, Timestamp};

const FILES: [(&str, &[u8]); 2] =
    [("file.txt", b"hello, world\n"), ("dir/sub.bin", b"\x00\x01binary\xff")];

/// A consistent-snapshot repository under `dir`: `metadata/` and `targets/`, with the
/// metadata bytes by file name.
fn build_repository(dir: &Path) -> BTreeMap<&'static str, Vec<u8>> {
    let expires = Utc::now() + chrono::Duration::days(7);
    let key = |_| PrivateKey::generate(KeyType::EcdsaP256).unwrap();
    let keys: BTreeMap<&str, PrivateKey> =
        ["root", "targets", "snapshot", "timestamp"].into_iter().map(|r| (r, key(r))).collect();
    let mut root = Root::new(expires);
    for (role, key) in &keys {
        root.add_key(role, key.public_key()).unwrap();
    }
    let mut targets = Targets::new(1, expires);
    let (metadata, images) = (dir.join("metadata"), dir.join("targets"));
    std::fs::create_dir_all(images.join("dir")).unwrap();
    std::fs::create_dir_all(&metadata).unwrap();
    for (path, bytes) in FILES {
        let file = TargetFile::describing(bytes);
        let (parent, base) = path.rsplit_once('/').unwrap_or(("", path));
        for hash in file.hashes.values() {
            std::fs::write(images.join(parent).join(format!("{hash}.{base}")), bytes).unwrap();
        }
        targets.targets.insert(path.into(), file);
    }
    let root = sign(root, &keys["root"]);
    let targets = sign(targets, &keys["targets"]);
    let snapshot_meta =
        BTreeMap::from([("targets.json".into(), MetaFile::describing(1, &targets))]);
    let snapshot = sign(Snapshot::new(1, expires, snapshot_meta), &keys["snapshot"]);
    let timestamp =
        sign(Timestamp::new(1, expires, MetaFile::describing(1, &snapshot)), &keys["timestamp"]);
    let files = BTreeMap::from([
        ("root.json", root),
        ("timestamp.json", timestamp),
        ("snapshot.json", snapshot),
        ("targets.json", targets),
    ]);
    for (name, bytes) in &files {
        let served = if *name == "timestamp.json" { name.to_string() } else { format!("1.{name}") };
        std::fs::write(metadata.join(served), bytes).unwrap();
    }
    files
}

/// A repository, its server, and a client's metadata and target directories.
struct Setup {
    _temp: tempfile::TempDir,
    repo: PathBuf,
    metadata_dir: PathBuf,
    target_dir: PathBuf,
    server: Server,
    files: BTreeMap<&'static str, Vec<u8>>,
}

impl Setup {
    fn new() -> Setup {
        let temp = tempfile::tempdir().unwrap();
        let repo = temp.path().join("repo");
        let files = build_repository(&repo);
        let (metadata_dir, target_dir) = (temp.path().join("md"), temp.path().join("td"));
        std::fs::create_dir_all(&metadata_dir).unwrap();
        std::fs::create_dir_all(&target_dir).unwrap();
        let server = Server::start(&repo);
        let setup = Setup { _temp: temp, repo, metadata_dir, target_dir, server, files };
        std::fs::write(setup.repo.join("trusted-root.json"), &setup.files["root.json"]).unwrap();
        let trusted = setup.repo.join("trusted-root.json");
        assert_eq!(setup.run(&[], &["init".as_ref(), trusted.as_os_str()]), 0);
        setup
    }

    /// Runs the client with `--metadata-dir` and `args`; returns the exit code.
    fn run(&self, args: &[&str], tail: &[&std::ffi::OsStr]) -> i32 {
        let output = Command::new(env!("CARGO_BIN_EXE_tuf-client"))
            .arg("--metadata-dir")
            .arg(&self.metadata_dir)
            .args(args)
            .args(tail)
            .output()
            .unwrap();
        eprintln!("{}", String::from_utf8_lossy(&output.stderr));
        output.status.code().unwrap_or(-1)
    }

    fn download(&self, targets: &[&str]) -> i32 {
        let metadata_url = format!("{}metadata", self.server.url);
        let target_url = format!("{}targets/", self.server.url);
        let mut args = vec!["--metadata-url", &metadata_url];
        for target in targets {
            args.extend(["--target-name", target]);
        }
        let target_dir = self.target_dir.to_str().unwrap();
        args.extend(["--target-dir", target_dir, "--target-base-url", &target_url]);
        self.run(&args, &["download".as_ref()])
    }

    fn target_files(&self) -> BTreeMap<String, Vec<u8>> {
        read_dir(&self.target_dir)
    }

    fn image_url_path(&self, path: &str) -> PathBuf {
        let sha256 =
            &TargetFile::describing(FILES.iter().find(|f| f.0 == path).unwrap().1).hashes["sha256"];
        let (parent, base) = path.rsplit_once('/').unwrap_or(("", path));
        self.repo.join("targets").join(parent).join(format!("{sha256}.{base}"))
    }
}

/// Every entry of `dir` (hidden ones included) by name.
fn read_dir(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap())
        .map(|e| {
            (e.file_name().into_string().unwrap(), std::fs::read(e.path()).unwrap_or_default())
        })
        .collect()
}

#[test]
fn refresh_stores_exactly_the_bytes_served() {
    let setup = Setup::new();
    let url = format!("{}metadata/", setup.server.url);
    assert_eq!(setup.run(&["--metadata-url", &url], &["refresh".as_ref()]), 0);
    let stored = read_dir(&setup.metadata_dir);
    let expected: BTreeMap<String, Vec<u8>> =
        setup.files.iter().map(|(k, v)| (k.to_string(), v.clone())).collect();
    assert_eq!(stored, expected);
    assert_eq!(
        setup.server.requests(),
        ["metadata/2.root.json", "metadata/timestamp.json", "metadata/1.snapshot.json"]
            .into_iter()
            .chain(["metadata/1.targets.json"])
            .collect::<Vec<_>>()
    );
}

#[test]
fn download_stores_verified_targets_and_reuses_them() {
    let setup = Setup::new();
    assert_eq!(setup.download(&["file.txt", "dir/sub.bin"]), 0);
    let expected = BTreeMap::from([
        ("file.txt".to_string(), FILES[0].1.to_vec()),
        ("dir%2Fsub.bin".to_string(), FILES[1].1.to_vec()),
    ]);
    assert_eq!(setup.target_files(), expected);
    let sha256 = &TargetFile::describing(FILES[1].1).hashes["sha256"];
    assert!(setup.server.requests().contains(&format!("targets/dir/{sha256}.sub.bin")));

    // A second run finds both targets in place: no image is requested again.
    let before = setup.server.requests().len();
    assert_eq!(setup.download(&["file.txt", "dir/sub.bin"]), 0);
    let again = &setup.server.requests()[before..];
    assert!(again.iter().all(|r| r.starts_with("metadata/")), "{again:?}");
    assert_eq!(setup.target_files(), expected);
}

#[test]
fn a_tampered_target_is_rejected_and_not_stored() {
    let setup = Setup::new();
    let served = setup.image_url_path("file.txt");
    std::fs::write(&served, b"hello, WORLD\n").unwrap();
    assert_eq!(setup.download(&["file.txt"]), 1);
    assert!(setup.target_files().is_empty());

    // A good copy already stored stays as it is.
    std::fs::write(setup.target_dir.join("file.txt"), FILES[0].1).unwrap();
    assert_eq!(setup.download(&["file.txt"]), 0);
    assert_eq!(setup.target_files()["file.txt"], FILES[0].1);
}

#[test]
fn an_endless_target_is_cut_off() {
    let setup = Setup::new();
    let served = setup.image_url_path("dir/sub.bin");
    std::fs::remove_file(&served).unwrap();
    std::fs::write(format!("{}.endless", served.display()), FILES[1].1).unwrap();
    let started = Instant::now();
    assert_eq!(setup.download(&["dir/sub.bin"]), 1);
    assert!(started.elapsed() < Duration::from_secs(10));
    assert!(setup.target_files().is_empty());
}

#[test]
fn failures_exit_with_one() {
    let setup = Setup::new();
    assert_eq!(setup.download(&["no such target"]), 1);
    assert!(setup.target_files().is_empty());
    // Argument errors: no subcommand, an unknown flag, a missing URL.
    assert_eq!(setup.run(&[], &[]), 1);
    assert_eq!(setup.run(&["--bogus"], &["refresh".as_ref()]), 1);
    assert_eq!(setup.run(&[], &["refresh".as_ref()]), 1);
    // A server that is gone.
    let url = "http://127.0.0.1:9/metadata/";
    assert_eq!(setup.run(&["--metadata-url", url], &["refresh".as_ref()]), 1);
}
