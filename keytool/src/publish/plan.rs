//! What a publish will write, worked out before anything is written: every file, every image
//! copy, and every reason to refuse.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use serde::Serialize;
use uptane::metadata::{MetaFile, Metadata, Targets};
use uptane::repository::role_file_name;

use crate::blobs::{check_entry, published_names};
use crate::error::Result;
use crate::verify::{ResolvedTarget, check_image};
use crate::workspace::{Current, View, Workspace};

/// A role and the version a publish gives it.
#[derive(Debug, Clone, Serialize)]
pub struct RoleVersion {
    pub role: String,
    pub version: u64,
}

impl RoleVersion {
    pub fn new(role: &str, version: u64) -> RoleVersion {
        RoleVersion { role: role.into(), version }
    }
}

/// Files and images to publish, and the problems that forbid it.
#[derive(Debug, Default)]
pub struct Plan {
    /// New metadata files by name under `metadata/`, `timestamp.json` included.
    pub metadata: BTreeMap<String, Vec<u8>>,
    /// Image copies to write: source file, name under `targets/`.
    pub images: Vec<(PathBuf, String)>,
    /// Roles whose staged files this publish closes.
    pub closes: Vec<String>,
    /// Roles published anew, for the report.
    pub versions: Vec<RoleVersion>,
    /// Snapshot entries for every Targets role.
    pub snapshot_meta: BTreeMap<String, MetaFile>,
    pub problems: Vec<String>,
}

impl Plan {
    /// Adds the staged Root, if any, after checking both of its thresholds.
    pub fn root(&mut self, view: &View) -> Result<()> {
        let root = view.root()?;
        if !root.staged {
            return Ok(());
        }
        let version = root.metadata.signed.version;
        let expected = view.published.root_version() + 1;
        if version != expected {
            self.problems.push(format!("root v{version} is staged, but the next is v{expected}"));
        }
        for authority in view.root_authorities()? {
            let tally = authority.tally(&root.metadata)?;
            if !tally.met() {
                self.problems.push(format!("root v{version}: {}", tally.describe()));
            }
        }
        self.metadata.insert(format!("{version}.root.json"), root.metadata.to_bytes()?);
        self.closes.push("root".into());
        self.versions.push(RoleVersion::new("root", version));
        Ok(())
    }

    /// Adds every Targets role: staged ones as new files, all of them to the Snapshot. Roles
    /// once published stay listed, since a Snapshot that drops a role is a rollback to clients.
    pub fn targets(&mut self, workspace: &Workspace, view: &View) -> Result<()> {
        let mut roles: BTreeSet<String> = view.targets.keys().cloned().collect();
        roles.extend(view.delegations().into_iter().map(|(_, d)| d.name.to_string()));
        for role in roles {
            let delegator = view.delegator(&role).map(|(parent, _)| parent.to_owned());
            let Some(current) = view.targets.get(&role) else {
                self.problems.push(format!(
                    "role {role} is delegated by {} but has no metadata",
                    delegator.as_deref().unwrap_or("?")
                ));
                continue;
            };
            if role != "targets" && delegator.is_none() {
                if current.staged {
                    self.problems.push(format!(
                        "role {role} is staged, but no role delegates to it: delegate it, or \
                         delete {}",
                        workspace.staged_path(&role).display()
                    ));
                }
                self.list(view, &role, current)?;
                continue;
            }
            let tally = view.authority(&role)?.tally(&current.metadata)?;
            if !tally.met() {
                let hint = if current.staged {
                    String::new()
                } else {
                    format!("; re-sign it: `keytool renew --role {role}` then `keytool sign`")
                };
                self.problems.push(format!(
                    "{role} v{}: {}{hint}",
                    current.metadata.signed.version,
                    tally.describe()
                ));
            }
            if current.staged {
                self.staged_targets(workspace, view, &role, current)?;
            }
            self.list(view, &role, current)?;
        }
        Ok(())
    }

    /// Puts a role into the Snapshot (and its file into the plan if it is new).
    fn list(&mut self, view: &View, role: &str, current: &Current<Targets>) -> Result<()> {
        let version = current.metadata.signed.version;
        let bytes = match view.published.targets.get(role) {
            Some(published) if !current.staged => published.bytes.clone(),
            _ => {
                let bytes = current.metadata.to_bytes()?;
                self.metadata.insert(format!("{version}.{}", role_file_name(role)), bytes.clone());
                self.closes.push(role.into());
                self.versions.push(RoleVersion::new(role, version));
                bytes
            }
        };
        self.snapshot_meta.insert(format!("{role}.json"), MetaFile::describing(version, &bytes));
        Ok(())
    }

    /// Checks a staged role's version, delegation scope and images.
    fn staged_targets(
        &mut self,
        workspace: &Workspace,
        view: &View,
        role: &str,
        current: &Current<Targets>,
    ) -> Result<()> {
        let targets = &current.metadata.signed;
        let expected = view.published.targets_version(role) + 1;
        if targets.version() != expected {
            self.problems.push(format!(
                "{role} v{} is staged, but the next is v{expected}",
                targets.version()
            ));
        }
        for (path, file) in &targets.targets {
            let hardware = file.uptane(path)?.hardware_ids.unwrap_or_default();
            let hardware: Vec<String> = hardware.into_iter().map(String::from).collect();
            if let Err(e) = view.check_scope(role, path, &hardware) {
                self.problems.push(e.to_string());
            }
            if let Err(e) = check_entry(path, &file.hashes) {
                self.problems.push(format!("{role}: {e}"));
                continue;
            }
            let resolved =
                ResolvedTarget { path: path.clone(), role: role.into(), file: file.clone() };
            let blob = workspace.blob_path(&file.hashes["sha256"]);
            let missing: Vec<String> = published_names(path, &file.hashes)
                .into_iter()
                .filter(|name| check_image(&workspace.targets_dir().join(name), &resolved).is_err())
                .collect();
            if missing.is_empty() {
                continue;
            }
            match check_image(&blob, &resolved) {
                Ok(()) => self.images.extend(missing.into_iter().map(|name| (blob.clone(), name))),
                Err(e) => self.problems.push(format!(
                    "{role}: image for {path} is not in the workspace ({e}); add it with \
                     `keytool add-target` and the same arguments"
                )),
            }
        }
        Ok(())
    }
}
