//! `delegate`: lets a supplier's role sign images under some paths (and, Uptane, for some
//! hardware ids) with the supplier's own offline keys (Standard 5.2.3.2; BP 3.2).

use std::collections::BTreeSet;

use serde::Serialize;
use serde_json::Map;
use uptane::metadata::{DelegatedRole, SignedMetadata, Targets};
use uptane::names::{HardwareId, RoleName};

use super::roles::check_threshold;
use super::status::{RoleStatus, targets_status};
use super::targets::role_metadata;
use crate::edit::{EditOptions, edit};
use crate::error::{Error, Result};
use crate::expires;
use crate::keys::KeyFile;
use crate::report::Report;
use crate::workspace::{Current, Workspace};

/// A delegation to create or replace.
#[derive(Debug)]
pub struct NewDelegation {
    pub name: String,
    /// The delegating role: `targets` or another delegated role.
    pub from: String,
    pub keys: Vec<KeyFile>,
    pub threshold: u32,
    pub paths: Vec<String>,
    /// Empty means any hardware.
    pub hardware_ids: Vec<String>,
    pub terminating: bool,
}

#[derive(Debug, Serialize)]
pub struct DelegateReport {
    pub from: RoleStatus,
    pub role: RoleStatus,
    /// Whether the delegated role's empty v1 was staged for its key holders to sign.
    pub staged_new_role: bool,
}

pub fn delegate(
    workspace: &Workspace,
    delegation: &NewDelegation,
    from_options: EditOptions,
    role_options: EditOptions,
) -> Result<DelegateReport> {
    workspace.require_image("delegate")?;
    let role = build_role(delegation)?;
    let view = workspace.view()?;
    let from = role_metadata(&view, &delegation.from)?;
    if let Some((parent, _)) = view.delegator(&delegation.name)
        && parent != delegation.from
    {
        return Err(Error::State(format!(
            "role {} is already delegated by {parent}; change it there",
            delegation.name
        )));
    }
    if let Some(existing) = view.targets.get(&delegation.name) {
        check_existing_targets(&role, &existing.metadata.signed)?;
    }
    let published = view.published.targets_version(&delegation.from);
    edit(workspace, &delegation.from, from, published, from_options, |targets| {
        let delegations = targets.delegations.get_or_insert_default();
        match delegations.roles.iter_mut().find(|r| r.name == role.name) {
            Some(slot) => {
                let extra = std::mem::take(&mut slot.extra);
                *slot = DelegatedRole { extra, ..role.clone() };
            }
            None => delegations.roles.push(role.clone()),
        }
        for key in &delegation.keys {
            delegations.keys.insert(key.key_id().to_owned(), key.public_key().clone());
        }
        let used: BTreeSet<&String> = delegations.roles.iter().flat_map(|r| &r.keyids).collect();
        delegations.keys.retain(|id, _| used.contains(id));
        Ok(())
    })?;

    let staged_new_role = !view.targets.contains_key(&delegation.name);
    if staged_new_role {
        let empty = Current {
            metadata: SignedMetadata::new(Targets::new(1, expires::now())),
            staged: false,
        };
        let renew = EditOptions { renew: true, ..role_options };
        edit(workspace, &delegation.name, &empty, 0, renew, |_| Ok(()))?;
    }
    let view = workspace.view()?;
    let status = |name: &str| {
        targets_status(&view, name)
            .ok_or_else(|| Error::State(format!("role {name} has no metadata after delegating")))
    };
    Ok(DelegateReport {
        from: status(&delegation.from)?,
        role: status(&delegation.name)?,
        staged_new_role,
    })
}

fn build_role(delegation: &NewDelegation) -> Result<DelegatedRole> {
    let name = RoleName::new(delegation.name.as_str())?;
    if delegation.name == delegation.from {
        return Err(Error::Usage(format!("role {} cannot delegate to itself", delegation.name)));
    }
    let keyids: Vec<String> = delegation.keys.iter().map(|k| k.key_id().to_owned()).collect();
    if keyids.iter().collect::<BTreeSet<_>>().len() != keyids.len() {
        return Err(Error::Usage(format!("{}: the same key is given twice", delegation.name)));
    }
    check_threshold(&delegation.name, delegation.threshold, keyids.len())?;
    if delegation.paths.is_empty() {
        return Err(Error::Usage("give at least one --paths pattern, e.g. 'supplierA/*'".into()));
    }
    if let Some(bad) = delegation.paths.iter().find(|p| p.is_empty() || p.contains("..")) {
        return Err(Error::Usage(format!("path pattern {bad:?} is empty or contains '..'")));
    }
    for hw in &delegation.hardware_ids {
        HardwareId::new(hw.as_str())?;
    }
    Ok(DelegatedRole {
        name,
        keyids,
        threshold: delegation.threshold,
        terminating: delegation.terminating,
        paths: Some(delegation.paths.clone()),
        path_hash_prefixes: None,
        hardware_ids: (!delegation.hardware_ids.is_empty())
            .then(|| delegation.hardware_ids.clone()),
        extra: Map::new(),
    })
}

/// Narrowing a delegation must not strand images the role already lists.
fn check_existing_targets(role: &DelegatedRole, targets: &Targets) -> Result<()> {
    for (path, entry) in &targets.targets {
        let hardware = entry.uptane(path)?.hardware_ids.unwrap_or_default();
        let outside_hw = hardware.iter().find(|hw| !role.covers_hardware(Some(hw.as_str())));
        if !role.covers_path(path) || outside_hw.is_some() {
            return Err(Error::State(format!(
                "role {} already lists {path:?}, which this delegation would exclude; \
                 remove it first (`keytool remove-target --role {}`)",
                role.name, role.name
            )));
        }
    }
    Ok(())
}

impl Report for DelegateReport {
    fn human(&self) -> String {
        let mut text = self.from.describe();
        text.push_str(&self.role.describe());
        if self.staged_new_role {
            text.push_str(&format!(
                "staged an empty {} v1: its key holders sign it with `keytool sign --role {}`\n",
                self.role.role, self.role.role
            ));
        }
        text
    }
}
