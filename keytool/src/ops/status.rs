//! `status`: per role, its version and how many valid signatures it has against each threshold
//! it must meet. The same summary closes `init`, `sign`, `merge` and the edit commands, so a
//! key holder always sees what is still missing.

use std::fmt::Write;

use serde::Serialize;
use uptane::metadata::{Metadata, SignedMetadata, format_time};

use crate::error::Result;
use crate::report::Report;
use crate::workspace::{Tally, View, Workspace};

/// One role's signing state.
#[derive(Debug, Clone, Serialize)]
pub struct RoleStatus {
    pub role: String,
    pub version: u64,
    pub published_version: u64,
    /// Whether an edit cycle is open (the version shown is the staged one).
    pub staged: bool,
    pub expires: String,
    pub tallies: Vec<Tally>,
    /// Every threshold met (or, for a role that cannot be checked, false with `problem`).
    pub ready: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub problem: Option<String>,
}

impl RoleStatus {
    fn new<M: Metadata>(
        role: &str,
        metadata: &SignedMetadata<M>,
        staged: bool,
        published_version: u64,
        tallies: Result<Vec<Tally>>,
    ) -> RoleStatus {
        let (tallies, problem) = match tallies {
            Ok(tallies) => (tallies, None),
            Err(e) => (Vec::new(), Some(e.to_string())),
        };
        RoleStatus {
            role: role.into(),
            version: metadata.signed.version(),
            published_version,
            staged,
            expires: format_time(metadata.signed.expires()),
            ready: problem.is_none() && tallies.iter().all(Tally::met),
            tallies,
            problem,
        }
    }

    /// One line per threshold: "targets v2 (staged): 1 of 2 targets keys of root v1 signed...".
    pub fn describe(&self) -> String {
        let state = if self.staged { "staged" } else { "published" };
        let head = format!("{} v{} ({state}, expires {})", self.role, self.version, self.expires);
        let mut text = String::new();
        if let Some(problem) = &self.problem {
            let _ = writeln!(text, "{head}: {problem}");
        }
        for tally in &self.tallies {
            let _ = writeln!(text, "{head}: {}", tally.describe());
        }
        text
    }
}

/// The status of the Root (staged or published).
pub fn root_status(view: &View) -> Result<RoleStatus> {
    let root = view.root()?;
    let tallies = view
        .root_authorities()
        .and_then(|auths| auths.iter().map(|a| a.tally(&root.metadata)).collect());
    Ok(RoleStatus::new("root", &root.metadata, root.staged, view.published.root_version(), tallies))
}

/// The status of a Targets role (top-level or delegated) in the view.
pub fn targets_status(view: &View, role: &str) -> Option<RoleStatus> {
    let current = view.targets.get(role)?;
    let tallies = view.authority(role).and_then(|a| Ok(vec![a.tally(&current.metadata)?]));
    Some(RoleStatus::new(
        role,
        &current.metadata,
        current.staged,
        view.published.targets_version(role),
        tallies,
    ))
}

/// `status` for the whole workspace.
#[derive(Debug, Serialize)]
pub struct Status {
    pub kind: crate::workspace::RepoKind,
    pub roles: Vec<RoleStatus>,
    pub published_snapshot_version: u64,
    pub published_timestamp_version: u64,
    /// Roles the next publish would have to refuse for.
    pub not_ready: Vec<String>,
}

pub fn status(workspace: &Workspace) -> Result<Status> {
    let view = workspace.view()?;
    let mut roles = vec![root_status(&view)?];
    let delegated = view.delegations().into_iter().map(|(_, d)| d.name.to_string());
    let mut names: Vec<String> = std::iter::once("targets".to_string()).chain(delegated).collect();
    names.extend(view.targets.keys().filter(|r| !names.contains(r)).cloned().collect::<Vec<_>>());
    let mut not_ready = Vec::new();
    for role in &names {
        match targets_status(&view, role) {
            Some(status) => roles.push(status),
            None => not_ready.push(format!("{role} (delegated, but has no metadata)")),
        }
    }
    not_ready.extend(roles.iter().filter(|r| !r.ready).map(|r| r.role.clone()));
    Ok(Status {
        kind: workspace.kind(),
        roles,
        published_snapshot_version: view.published.snapshot_version(),
        published_timestamp_version: view.published.timestamp_version(),
        not_ready,
    })
}

impl Report for Status {
    fn human(&self) -> String {
        let mut text: String = self.roles.iter().map(RoleStatus::describe).collect();
        let _ = writeln!(
            text,
            "published snapshot v{}, timestamp v{}",
            self.published_snapshot_version, self.published_timestamp_version
        );
        if self.not_ready.is_empty() {
            text.push_str("every role meets its thresholds\n");
        } else {
            let _ = writeln!(text, "thresholds not met: {}", self.not_ready.join(", "));
        }
        text
    }
}
