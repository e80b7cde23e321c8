//! `verify`: checks a published repository the way a vehicle would, then checks every stored
//! copy of every image against its length and all its listed hashes.

mod fetch;
mod metadata;

use std::fmt::Write;
use std::io::Read;
use std::path::Path;

use serde::Serialize;
use uptane::crypto::MultiHasher;

pub use fetch::DirFetch;
pub use metadata::{MetadataCheck, Problem, ResolvedTarget, check_metadata};

use crate::blobs::{check_entry, published_names};
use crate::error::Result;
use crate::expires;
use crate::fsutil;
use crate::report::{Outcome, Report};

#[derive(Debug, Default, Serialize)]
pub struct VerifyReport {
    pub ok: bool,
    pub root_version: u64,
    pub timestamp_version: u64,
    pub snapshot_version: u64,
    /// Every Targets role verified.
    pub roles: Vec<String>,
    pub targets: Vec<TargetResult>,
    /// Image copies checked (one per listed hash per target).
    pub images_checked: usize,
    pub problems: Vec<Problem>,
}

/// One resolved target and whether all its stored copies passed.
#[derive(Debug, Serialize)]
pub struct TargetResult {
    pub path: String,
    pub role: String,
    pub length: u64,
    pub ok: bool,
}

/// Verifies the repository under `repo` (`metadata/`, `targets/`), trusting `root` (default:
/// `metadata/1.root.json`, the Root a vehicle is provisioned with).
pub fn verify(repo: &Path, root: Option<&Path>) -> Result<VerifyReport> {
    let metadata_dir = repo.join("metadata");
    let root_path = root.map_or_else(|| metadata_dir.join("1.root.json"), Path::to_path_buf);
    let trusted_root = fsutil::read(&root_path)?;
    let check = match check_metadata(DirFetch::new(&metadata_dir), &trusted_root, expires::now()) {
        Ok(check) => check,
        Err(e) => {
            let problems = vec![Problem::new("metadata", &e)];
            return Ok(VerifyReport { problems, ..Default::default() });
        }
    };
    let mut report = VerifyReport {
        ok: false,
        root_version: check.root_version,
        timestamp_version: check.timestamp_version,
        snapshot_version: check.snapshot_version,
        roles: check.roles,
        targets: Vec::new(),
        images_checked: 0,
        problems: check.problems,
    };
    let targets_dir = repo.join("targets");
    for target in &check.targets {
        let mut ok = !report.problems.iter().any(|p| p.subject == target.path);
        let names = match check_entry(&target.path, &target.file.hashes) {
            Ok(()) => published_names(&target.path, &target.file.hashes),
            Err(e) => {
                let reason = e.to_string();
                let error = uptane::Error::Malformed { role: target.role.clone(), reason };
                report.problems.push(Problem::new(target.path.clone(), &error));
                ok = false;
                Vec::new()
            }
        };
        for name in names {
            report.images_checked += 1;
            if let Err(e) = check_image(&targets_dir.join(&name), target) {
                report.problems.push(Problem::new(format!("targets/{name}"), &e));
                ok = false;
            }
        }
        report.targets.push(TargetResult {
            path: target.path.clone(),
            role: target.role.clone(),
            length: target.file.length,
            ok,
        });
    }
    report.ok = report.problems.is_empty();
    Ok(report)
}

/// Streams one stored copy through every listed hash, reading at most one byte past the
/// listed length (Uptane 5.4.3: exact length, every hash).
pub fn check_image(path: &Path, target: &ResolvedTarget) -> uptane::Result<()> {
    let what = || target.path.clone();
    let file = std::fs::File::open(path).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => {
            uptane::Error::NotFound { what: path.display().to_string() }
        }
        _ => uptane::Error::Io { what: path.display().to_string(), source: e },
    })?;
    let expected = target.file.length;
    let mut hasher = MultiHasher::new(&target.file.hashes);
    let mut reader = file.take(expected.saturating_add(1));
    let mut buf = vec![0; 1 << 16];
    loop {
        let n = reader
            .read(&mut buf)
            .map_err(|source| uptane::Error::Io { what: path.display().to_string(), source })?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    if hasher.length() != expected {
        let found = std::fs::metadata(path).map_or(hasher.length(), |m| m.len());
        return Err(uptane::Error::ImageLength { target: what(), expected, found });
    }
    match hasher.mismatch() {
        Some(algorithm) => Err(uptane::Error::ImageHash { target: what(), algorithm }),
        None => Ok(()),
    }
}

impl Report for VerifyReport {
    fn human(&self) -> String {
        let mut text = String::new();
        if self.root_version > 0 {
            let _ = writeln!(
                text,
                "root v{}, timestamp v{}, snapshot v{}; roles: {}",
                self.root_version,
                self.timestamp_version,
                self.snapshot_version,
                self.roles.join(", ")
            );
        }
        for target in &self.targets {
            let mark = if target.ok { "ok" } else { "FAILED" };
            let _ = writeln!(
                text,
                "{mark:6} {} (signed by {}, {} bytes)",
                target.path, target.role, target.length
            );
        }
        for problem in &self.problems {
            let attack = problem.attack.as_deref().unwrap_or("error");
            let _ = writeln!(text, "FAILED {}: {attack}: {}", problem.subject, problem.error);
        }
        let verdict = if self.ok { "OK" } else { "FAILED" };
        let _ = writeln!(
            text,
            "verify {verdict}: {} target(s), {} image copies checked, {} problem(s)",
            self.targets.len(),
            self.images_checked,
            self.problems.len()
        );
        text
    }

    fn outcome(&self) -> Outcome {
        if self.ok { Outcome::Ok } else { Outcome::Failed }
    }
}
