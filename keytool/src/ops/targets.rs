//! `add-target` and `remove-target`: image entries of the top-level or a delegated Targets role.

use std::path::{Path, PathBuf};

use serde::Serialize;
use serde_json::Map;
use uptane::metadata::{TargetCustom, TargetFile, Targets};
use uptane::names::{HardwareId, TargetPath};

use super::status::{RoleStatus, targets_status};
use crate::blobs::Digest;
use crate::edit::{EditOptions, edit};
use crate::error::{Error, Result};
use crate::fsutil;
use crate::report::Report;
use crate::workspace::{Current, View, Workspace};

/// One image to list.
#[derive(Debug, Clone)]
pub struct NewTarget {
    pub file: PathBuf,
    pub path: String,
    pub hardware_ids: Vec<String>,
    pub release_counter: u64,
}

#[derive(Debug, Serialize)]
pub struct TargetReport {
    pub role: String,
    pub path: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub entry: Option<TargetFile>,
    /// False when the role already listed exactly this entry (signatures kept).
    pub changed: bool,
    pub status: RoleStatus,
}

/// Lists `target` in `role`, storing the image for `publish`.
pub fn add_target(
    workspace: &Workspace,
    role: &str,
    target: &NewTarget,
    options: EditOptions,
) -> Result<TargetReport> {
    workspace.require_image("add-target")?;
    let path = TargetPath::new(target.path.as_str())?;
    if target.hardware_ids.is_empty() {
        return Err(Error::Usage(
            "give at least one --hardware-id: ECUs install only images listed for their hardware"
                .into(),
        ));
    }
    let hardware_ids =
        target.hardware_ids.iter().map(HardwareId::new).collect::<uptane::Result<Vec<_>>>()?;
    let view = workspace.view()?;
    let current = role_metadata(&view, role)?;
    view.check_scope(role, path.as_str(), &target.hardware_ids)?;
    check_release_counter(&current.metadata.signed, path.as_str(), target.release_counter)?;

    let digest = store_blob(workspace, &target.file)?;
    let custom = TargetCustom {
        hardware_ids: Some(hardware_ids),
        release_counter: Some(target.release_counter),
        ..TargetCustom::default()
    };
    let mut entry = TargetFile {
        length: digest.length,
        hashes: digest.hashes(),
        custom: None,
        extra: Map::new(),
    };
    entry.set_uptane(&custom)?;

    let published = view.published.targets_version(role);
    let staged = edit(workspace, role, current, published, options, |targets| {
        targets.targets.insert(path.to_string(), entry.clone());
        Ok(())
    })?;
    finish(workspace, role, path.as_str(), Some(entry), staged.is_some())
}

/// Drops `path` from `role`.
pub fn remove_target(
    workspace: &Workspace,
    role: &str,
    path: &str,
    options: EditOptions,
) -> Result<TargetReport> {
    workspace.require_image("remove-target")?;
    let view = workspace.view()?;
    let current = role_metadata(&view, role)?;
    if !current.metadata.signed.targets.contains_key(path) {
        return Err(Error::State(format!("role {role} does not list {path:?}")));
    }
    let published = view.published.targets_version(role);
    let staged = edit(workspace, role, current, published, options, |targets| {
        targets.targets.remove(path);
        Ok(())
    })?;
    finish(workspace, role, path, None, staged.is_some())
}

fn finish(
    workspace: &Workspace,
    role: &str,
    path: &str,
    entry: Option<TargetFile>,
    changed: bool,
) -> Result<TargetReport> {
    let view = workspace.view()?;
    let status = targets_status(&view, role)
        .ok_or_else(|| Error::State(format!("role {role} vanished while editing")))?;
    Ok(TargetReport { role: role.into(), path: path.into(), entry, changed, status })
}

/// The current metadata of a Targets role that can take entries.
pub fn role_metadata<'v>(view: &'v View, role: &str) -> Result<&'v Current<Targets>> {
    if role != "targets" {
        view.authority(role)?;
    }
    view.targets.get(role).ok_or_else(|| {
        Error::State(format!("role {role} has no metadata yet; `keytool delegate` stages it"))
    })
}

/// A path's release counter may only grow (Uptane: ECUs refuse lower counters anyway).
fn check_release_counter(targets: &Targets, path: &str, counter: u64) -> Result<()> {
    let Some(existing) = targets.targets.get(path) else { return Ok(()) };
    let listed = existing.uptane(path)?.release_counter.unwrap_or(0);
    if counter < listed {
        return Err(Error::State(format!(
            "{path}: release counter {counter} is lower than the {listed} already listed; \
             ECUs would refuse it as a rollback"
        )));
    }
    Ok(())
}

/// Copies the image to `blobs/SHA256`, checking the copy is what was hashed.
fn store_blob(workspace: &Workspace, file: &Path) -> Result<Digest> {
    let digest = Digest::of_file(file)?;
    let dest = workspace.blob_path(&digest.sha256);
    if Digest::of_file(&dest).ok().as_ref() == Some(&digest) {
        return Ok(digest);
    }
    let mut copied = crate::blobs::Hasher::default();
    fsutil::copy_atomically(file, &dest, |chunk| copied.update(chunk))?;
    if copied.finish() != digest {
        return Err(Error::State(format!("{} changed while it was being read", file.display())));
    }
    Ok(digest)
}

impl Report for TargetReport {
    fn human(&self) -> String {
        let action = match (&self.entry, self.changed) {
            (_, false) => "unchanged (signatures kept)",
            (Some(_), true) => "listed",
            (None, true) => "removed",
        };
        let mut text = format!("{}: {} {action}\n", self.role, self.path);
        if let Some(entry) = &self.entry {
            text.push_str(&format!("  length {}\n", entry.length));
            for (algorithm, hash) in &entry.hashes {
                text.push_str(&format!("  {algorithm} {hash}\n"));
            }
        }
        text.push_str(&self.status.describe());
        text
    }
}
