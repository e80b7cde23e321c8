//! Drives the real keytool binary in a temporary directory, as a release engineer would.

#![allow(dead_code, clippy::unwrap_used)] // each test file uses its own part; a failed unwrap is a failed test

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

/// A scratch directory where keytool runs (relative paths resolve here).
pub struct Bench {
    pub dir: tempfile::TempDir,
}

impl Bench {
    pub fn new() -> Bench {
        Bench { dir: tempfile::tempdir().unwrap() }
    }

    pub fn path(&self, relative: &str) -> PathBuf {
        self.dir.path().join(relative)
    }

    pub fn run(&self, args: &[&str]) -> Output {
        Command::new(env!("CARGO_BIN_EXE_keytool"))
            .args(args)
            .current_dir(self.dir.path())
            .env_remove("KEYTOOL_REPO")
            .env_remove("RUST_LOG")
            .output()
            .unwrap()
    }

    /// Runs and expects exit code `code`; returns stdout and stderr.
    pub fn expect(&self, code: i32, args: &[&str]) -> (String, String) {
        let output = self.run(args);
        let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
        let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
        assert_eq!(
            output.status.code(),
            Some(code),
            "keytool {args:?}\n--- stdout\n{stdout}\n--- stderr\n{stderr}"
        );
        (stdout, stderr)
    }

    /// Runs and expects success; returns stdout.
    pub fn ok(&self, args: &[&str]) -> String {
        self.expect(0, args).0
    }

    /// Runs with `--json` and expects success.
    pub fn json(&self, args: &[&str]) -> Value {
        let mut args = args.to_vec();
        args.push("--json");
        serde_json::from_str(&self.ok(&args)).unwrap()
    }

    /// Runs and expects failure (exit 1); returns stderr.
    pub fn fails(&self, args: &[&str]) -> String {
        self.expect(1, args).1
    }

    /// Generates `NAME.pem` and `NAME.pub.json` for each name.
    pub fn keys(&self, names: &[&str]) {
        for name in names {
            self.ok(&["gen-key", "--out", &format!("{name}.pem")]);
        }
    }

    pub fn write(&self, relative: &str, bytes: &[u8]) {
        let path = self.path(relative);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, bytes).unwrap();
    }

    pub fn read_json(&self, relative: &str) -> Value {
        serde_json::from_slice(&std::fs::read(self.path(relative)).unwrap()).unwrap()
    }

    /// Copies a workspace, as a key holder receives it on their own machine.
    pub fn copy_workspace(&self, from: &str, to: &str) {
        copy_dir(&self.path(from), &self.path(to));
    }
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

/// An Image repository workspace `repo` with a 2-of-3 root (root1-3), one key per other role,
/// signed by two root key holders and published (empty targets).
pub fn published_image_repo(bench: &Bench) {
    bench.keys(&["root1", "root2", "root3", "targets", "snapshot", "timestamp"]);
    bench.ok(&[
        "init",
        "--repo",
        "repo",
        "--kind",
        "image",
        "--root-key",
        "root1.pem",
        "--root-key",
        "root2.pem",
        "--root-key",
        "root3.pub.json",
        "--root-threshold",
        "2",
        "--targets-key",
        "targets.pem",
        "--snapshot-key",
        "snapshot.pub.json",
        "--timestamp-key",
        "timestamp.pub.json",
    ]);
    publish(bench);
}

pub fn publish(bench: &Bench) -> String {
    bench.ok(&[
        "publish",
        "--repo",
        "repo",
        "--snapshot-key",
        "snapshot.pem",
        "--timestamp-key",
        "timestamp.pem",
    ])
}

/// Flips one byte of a file.
pub fn flip_byte(path: &Path) {
    let mut bytes = std::fs::read(path).unwrap();
    bytes[0] ^= 0x01;
    std::fs::write(path, bytes).unwrap();
}
