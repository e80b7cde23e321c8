//! `expiry`: when each published role expires, warning about anything that expires within a
//! window, so renewals are scheduled before vehicles start rejecting the repository (freeze).

use std::fmt::Write;
use std::path::Path;

use chrono::{DateTime, Duration, Utc};
use serde::Serialize;
use uptane::metadata::{Metadata, format_time};

use crate::error::Result;
use crate::expires;
use crate::report::{Outcome, Report};
use crate::workspace::{Published, RepoKind, View, Workspace};

#[derive(Debug, Serialize)]
pub struct ExpiryEntry {
    pub role: String,
    pub version: u64,
    /// Published files are live; staged ones are shown for information only.
    pub staged: bool,
    pub expires: String,
    pub remaining: String,
    pub warn: bool,
}

#[derive(Debug, Serialize)]
pub struct ExpiryReport {
    pub now: String,
    pub warn_within: String,
    pub entries: Vec<ExpiryEntry>,
    /// Published roles that expire within the window (or already have).
    pub warnings: Vec<String>,
}

/// Expiry of every published role of the repository in `dir` (a workspace, or just a
/// published repository with `metadata/`), and of staged roles if it is a workspace.
/// `offline_only` leaves out Snapshot and Timestamp, which every publish (or the repository
/// service, with online keys) renews, so that only the ceremonies to schedule are flagged.
pub fn expiry(dir: &Path, warn_within: Duration, offline_only: bool) -> Result<ExpiryReport> {
    let now = expires::now();
    let mut report = ExpiryReport {
        now: format_time(now),
        warn_within: expires::format(warn_within),
        entries: Vec::new(),
        warnings: Vec::new(),
    };
    let mut add = |role: &str, meta: &dyn Timed, staged: bool| {
        let (version, expires_at) = meta.times();
        let remaining = expires_at - now;
        let warn = !staged && remaining <= warn_within;
        if warn {
            report.warnings.push(role.to_owned());
        }
        report.entries.push(ExpiryEntry {
            role: role.into(),
            version,
            staged,
            expires: format_time(expires_at),
            remaining: expires::describe_remaining(remaining),
            warn,
        });
    };
    let (published, view) = match Workspace::open(dir) {
        Ok(workspace) => (workspace.published()?, Some(workspace.view()?)),
        Err(_) => (Published::read(&dir.join("metadata"), RepoKind::Image)?, None),
    };
    if let Some(root) = &published.root {
        add("root", &root.signed, false);
    }
    if !offline_only {
        if let Some(timestamp) = &published.timestamp {
            add("timestamp", &timestamp.signed, false);
        }
        if let Some(snapshot) = &published.snapshot {
            add("snapshot", &snapshot.signed, false);
        }
    }
    for (role, targets) in &published.targets {
        add(role, &targets.metadata.signed, false);
    }
    if let Some(View { root, targets, .. }) = &view {
        if let Some(root) = root.as_ref().filter(|r| r.staged) {
            add("root", &root.metadata.signed, true);
        }
        for (role, current) in targets.iter().filter(|(_, c)| c.staged) {
            add(role, &current.metadata.signed, true);
        }
    }
    Ok(report)
}

/// Version and expiry of any role's body ([`Metadata`] itself is not object safe).
trait Timed {
    fn times(&self) -> (u64, DateTime<Utc>);
}

impl<M: Metadata> Timed for M {
    fn times(&self) -> (u64, DateTime<Utc>) {
        (self.version(), self.expires())
    }
}

impl Report for ExpiryReport {
    fn human(&self) -> String {
        let mut text = String::new();
        for e in &self.entries {
            let state = if e.staged { "staged" } else { "published" };
            let mark = if e.warn { "WARN" } else { "ok" };
            let _ = writeln!(
                text,
                "{mark:4} {:<20} v{:<5} {state:<9} expires {} ({})",
                e.role, e.version, e.expires, e.remaining
            );
        }
        if self.warnings.is_empty() {
            let _ = writeln!(text, "nothing published expires within {}", self.warn_within);
        } else {
            let _ = writeln!(
                text,
                "expiring within {}: {}\n(renew offline roles with `keytool renew --role ROLE`, \
                 sign and publish; a publish alone renews snapshot and timestamp)",
                self.warn_within,
                self.warnings.join(", ")
            );
        }
        text
    }

    fn outcome(&self) -> Outcome {
        if self.warnings.is_empty() { Outcome::Ok } else { Outcome::ExpiresSoon }
    }
}
