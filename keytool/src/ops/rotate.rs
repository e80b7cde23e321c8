//! `rotate-root` and `renew`: a new Root version with changed keys or thresholds, and a new
//! edit cycle for an unchanged role (to extend its expiry, or to be re-signed by new keys).

use std::path::PathBuf;

use chrono::Duration;
use serde::Serialize;
use uptane::crypto::PrivateKey;
use uptane::metadata::Root;
use uptane::time::time_keys;

use super::roles::{RoleSpec, TIME, check_root};
use super::status::{RoleStatus, root_status, targets_status};
use crate::edit::{EditOptions, edit};
use crate::error::{Error, Result};
use crate::keys::{self, KeyFile};
use crate::report::Report;
use crate::workspace::{RepoKind, View, Workspace};

/// A requested change to one top-level role: new keys, a new threshold, or both.
#[derive(Debug, Default)]
pub struct RoleChange {
    pub keys: Vec<PathBuf>,
    pub threshold: Option<u32>,
}

impl RoleChange {
    fn is_empty(&self) -> bool {
        self.keys.is_empty() && self.threshold.is_none()
    }

    /// The role's resulting keys and threshold, unchanged parts taken from `root`.
    fn resolve(&self, role: &'static str, root: &Root) -> Result<Option<RoleSpec>> {
        if self.is_empty() {
            return Ok(None);
        }
        let current = if role == TIME { time_keys(root)? } else { Some(root.role(role)?.clone()) };
        let keys = if self.keys.is_empty() {
            let current = current.as_ref().ok_or_else(|| {
                Error::Usage(format!("{role}: the root names no {role} keys yet; give them"))
            })?;
            current
                .keyids
                .iter()
                .filter_map(|id| {
                    Some(KeyFile::Public { key: root.keys.get(id)?.clone(), key_id: id.clone() })
                })
                .collect()
        } else {
            keys::read_all(&self.keys)?
        };
        let threshold = self.threshold.or(current.map(|c| c.threshold)).unwrap_or(1);
        RoleSpec::new(role, keys, threshold).map(Some)
    }
}

/// What `rotate-root` changes.
#[derive(Debug, Default)]
pub struct Rotation {
    pub root: RoleChange,
    pub targets: RoleChange,
    pub snapshot: RoleChange,
    pub timestamp: RoleChange,
    /// The Director's time attestation keys.
    pub time: RoleChange,
    pub expires: Option<Duration>,
}

#[derive(Debug, Serialize)]
pub struct RotateReport {
    pub root: RoleStatus,
    /// Targets, when its keys changed and it was staged again for the new keys to sign.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub targets: Option<RoleStatus>,
}

pub fn rotate_root(workspace: &Workspace, rotation: &Rotation) -> Result<RotateReport> {
    let changes = [
        ("root", &rotation.root),
        ("targets", &rotation.targets),
        ("snapshot", &rotation.snapshot),
        ("timestamp", &rotation.timestamp),
        (TIME, &rotation.time),
    ];
    if changes.iter().all(|(_, c)| c.is_empty()) && rotation.expires.is_none() {
        return Err(Error::Usage(
            "nothing to rotate: give new keys or thresholds (e.g. --root-key, --root-threshold)"
                .into(),
        ));
    }
    if !rotation.time.is_empty() && workspace.kind() != RepoKind::Director {
        return Err(Error::Usage("time attestation keys belong to a Director root".into()));
    }
    let view = workspace.view()?;
    let current = view.root()?;
    let mut specs = Vec::new();
    for (role, change) in changes {
        specs.extend(change.resolve(role, &current.metadata.signed)?);
    }
    let options = EditOptions { expires: rotation.expires, renew: false };
    let published = view.published.root_version();
    let staged = edit(workspace, "root", current, published, options, |root| {
        for spec in &specs {
            spec.apply(root)?;
        }
        check_root(root)
    })?;
    if let Some(mut staged) = staged {
        let new_root_keys = specs.iter().filter(|s| s.role == "root").flat_map(RoleSpec::signers);
        for signer in new_root_keys {
            staged.sign(signer)?;
        }
        workspace.save_staged("root", &staged)?;
    }
    let targets = restage_targets_for_new_keys(workspace)?;
    let view = workspace.view()?;
    Ok(RotateReport {
        root: root_status(&view)?,
        targets: targets.then(|| targets_status(&view, "targets")).flatten(),
    })
}

/// If the new Root changes who signs `targets`, the published Targets will no longer verify:
/// stage it again (same body, next version) for the new keys to sign.
fn restage_targets_for_new_keys(workspace: &Workspace) -> Result<bool> {
    let view = workspace.view()?;
    let (Some(previous), Some(current)) = (&view.published.root, &view.root) else {
        return Ok(false);
    };
    let unchanged = previous.signed.role("targets")? == current.metadata.signed.role("targets")?
        && previous.signed.role_key_set("targets")
            == current.metadata.signed.role_key_set("targets");
    match view.targets.get("targets") {
        Some(targets) if !unchanged && !targets.staged => {
            let renew = EditOptions { renew: true, expires: None };
            let published = view.published.targets_version("targets");
            edit(workspace, "targets", targets, published, renew, |_| Ok(()))?;
            Ok(true)
        }
        _ => Ok(false),
    }
}

/// Opens a new edit cycle for `role` with its body unchanged, signing with `keys` if given.
pub fn renew(
    workspace: &Workspace,
    role: &str,
    expires: Option<Duration>,
    keys: &[PrivateKey],
) -> Result<RoleStatus> {
    super::sign::check_stageable(role)?;
    let view = workspace.view()?;
    let options = EditOptions { expires, renew: true };
    if role == "root" {
        let current = view.root()?;
        edit(workspace, role, current, view.published.root_version(), options, |_| Ok(()))?;
    } else {
        workspace.require_image("renew")?;
        let current = view.targets.get(role).ok_or_else(|| unknown(&view, role))?;
        let published = view.published.targets_version(role);
        edit(workspace, role, current, published, options, |_| Ok(()))?;
    }
    if !keys.is_empty() {
        return Ok(super::sign::sign(workspace, role, keys)?.status);
    }
    let view = workspace.view()?;
    if role == "root" {
        root_status(&view)
    } else {
        targets_status(&view, role).ok_or_else(|| unknown(&view, role))
    }
}

fn unknown(view: &View, role: &str) -> Error {
    let roles: Vec<&str> = view.targets.keys().map(String::as_str).collect();
    Error::State(format!(
        "role {role:?} has no metadata (roles with metadata: root, {})",
        roles.join(", ")
    ))
}

impl Report for RotateReport {
    fn human(&self) -> String {
        let mut text = self.root.describe();
        if let Some(targets) = &self.targets {
            text.push_str(
                "the targets keys changed, so targets was staged again for them to sign:\n",
            );
            text.push_str(&targets.describe());
        }
        if !self.root.ready {
            text.push_str(
                "publishing needs both thresholds: sign with the old and the new root keys \
                 (`keytool sign --role root --key ...`)\n",
            );
        }
        text
    }
}

impl Report for RoleStatus {
    fn human(&self) -> String {
        self.describe()
    }
}
