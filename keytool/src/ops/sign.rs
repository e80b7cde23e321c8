//! `sign` and `merge`: collecting signatures from key holders who each hold one key, on their
//! own machines. Signing adds a signature and never changes the body, so holders can sign in
//! any order, on copies of the workspace, and the copies are merged back.

use std::path::Path;

use serde::Serialize;
use uptane::crypto::{PrivateKey, Signer};
use uptane::metadata::{Metadata, Root, SignedMetadata, Targets};

use super::roles::check_root;
use super::status::{RoleStatus, root_status, targets_status};
use crate::error::{Error, Result};
use crate::fsutil;
use crate::keys::short;
use crate::report::Report;
use crate::workspace::{Authority, View, Workspace};

#[derive(Debug, Serialize)]
pub struct SignReport {
    pub role: String,
    /// Key ids whose signatures were added (or renewed).
    pub signed_by: Vec<String>,
    pub status: RoleStatus,
}

/// Signs the staged metadata of `role` with each of `keys`.
pub fn sign(workspace: &Workspace, role: &str, keys: &[PrivateKey]) -> Result<SignReport> {
    check_stageable(role)?;
    if role == "root" {
        sign_staged::<Root>(workspace, role, keys)
    } else {
        workspace.require_image("sign")?;
        sign_staged::<Targets>(workspace, role, keys)
    }
}

fn sign_staged<M: Metadata>(
    workspace: &Workspace,
    role: &str,
    keys: &[PrivateKey],
) -> Result<SignReport> {
    let view = workspace.view()?;
    let authorities = authorities(&view, role)?;
    let mut staged = load_staged::<M>(workspace, &view, role)?;
    for key in keys {
        if !authorities.iter().any(|a| a.allows(key.key_id())) {
            return Err(wrong_key(role, key.key_id(), &authorities));
        }
        staged.sign(key)?;
    }
    workspace.save_staged(role, &staged)?;
    Ok(SignReport {
        role: role.into(),
        signed_by: keys.iter().map(|k| k.key_id().to_owned()).collect(),
        status: status(&workspace.view()?, role)?,
    })
}

#[derive(Debug, Serialize)]
pub struct MergeReport {
    pub role: String,
    pub file: String,
    /// Valid signatures this file added.
    pub added: Vec<String>,
    /// Signatures dropped: not from a key of the role, or not valid over the body.
    pub ignored: Vec<String>,
    /// Whether the file's body replaced (or became) the staged body.
    pub adopted: bool,
    pub status: RoleStatus,
}

/// Merges the signatures of another holder's copy of the staged `role`. A file with a different
/// body is adopted only if nothing is staged, or with `replace`.
pub fn merge(workspace: &Workspace, role: &str, file: &Path, replace: bool) -> Result<MergeReport> {
    check_stageable(role)?;
    if role == "root" {
        merge_file::<Root>(workspace, role, file, replace, |_, root| check_root(root))
    } else {
        workspace.require_image("merge")?;
        merge_file::<Targets>(workspace, role, file, replace, |view, targets| {
            for (path, entry) in &targets.targets {
                crate::blobs::check_entry(path, &entry.hashes)?;
                let hardware = entry.uptane(path)?.hardware_ids.unwrap_or_default();
                let hardware: Vec<String> = hardware.into_iter().map(String::from).collect();
                view.check_scope(role, path, &hardware)?;
            }
            Ok(())
        })
    }
}

fn merge_file<M: Metadata + Clone>(
    workspace: &Workspace,
    role: &str,
    file: &Path,
    replace: bool,
    check_body: impl Fn(&View, &M) -> Result<()>,
) -> Result<MergeReport> {
    let view = workspace.view()?;
    let incoming: SignedMetadata<M> = SignedMetadata::from_bytes(&fsutil::read(file)?, role)
        .map_err(|e| Error::State(format!("{}: {e}", file.display())))?;
    let staged = workspace.load_staged::<M>(role)?;
    let same_body = match &staged {
        Some(staged) => staged.canonical_signed()? == incoming.canonical_signed()?,
        None => false,
    };
    let adopted = !same_body;
    let mut target = match staged {
        Some(staged) if same_body => staged,
        Some(_) if !replace => {
            return Err(Error::State(format!(
                "{} holds different {role} metadata than the staged one (v{}); merging needs \
                 the same body. Pass --replace to discard the staged {role} and adopt the file",
                file.display(),
                incoming.signed.version()
            )));
        }
        _ => {
            let expected = published_version(&view, role) + 1;
            if incoming.signed.version() != expected {
                return Err(Error::State(format!(
                    "{}: {role} v{} cannot follow the published v{}; expected v{expected}",
                    file.display(),
                    incoming.signed.version(),
                    expected - 1
                )));
            }
            check_body(&view, &incoming.signed)?;
            let body = SignedMetadata { signed: incoming.signed.clone(), signatures: Vec::new() };
            // An adopted Root names its own keys: stage it before asking who may sign it.
            workspace.save_staged(role, &body)?;
            body
        }
    };
    let authorities = authorities(&workspace.view()?, role)?;
    let mut valid = Vec::new();
    for authority in &authorities {
        valid.extend(authority.tally(&incoming)?.signed);
    }
    let (mut added, mut ignored) = (Vec::new(), Vec::new());
    for signature in incoming.signatures {
        if !valid.contains(&signature.keyid) {
            ignored.push(signature.keyid);
        } else if !target.signatures.iter().any(|s| s.keyid == signature.keyid) {
            added.push(signature.keyid.clone());
            target.signatures.push(signature);
        }
    }
    workspace.save_staged(role, &target)?;
    Ok(MergeReport {
        role: role.into(),
        file: file.display().to_string(),
        added,
        ignored,
        adopted,
        status: status(&workspace.view()?, role)?,
    })
}

/// Who may sign `role` in this workspace.
fn authorities(view: &View, role: &str) -> Result<Vec<Authority>> {
    if role == "root" { view.root_authorities() } else { Ok(vec![view.authority(role)?]) }
}

/// Snapshot and Timestamp are never staged: they describe what is published.
pub(crate) fn check_stageable(role: &str) -> Result<()> {
    if role == "snapshot" || role == "timestamp" {
        return Err(Error::Usage(format!(
            "{role} is made and signed by `keytool publish --{role}-key` (or online by the \
             repository service), never staged"
        )));
    }
    Ok(())
}

fn load_staged<M: Metadata>(
    workspace: &Workspace,
    view: &View,
    role: &str,
) -> Result<SignedMetadata<M>> {
    workspace.load_staged(role)?.ok_or_else(|| {
        Error::State(format!(
            "nothing is staged for {role} (published v{}): edit it first, or run \
             `keytool renew --role {role}` to re-sign it unchanged",
            published_version(view, role)
        ))
    })
}

fn published_version(view: &View, role: &str) -> u64 {
    if role == "root" {
        view.published.root_version()
    } else {
        view.published.targets_version(role)
    }
}

fn status(view: &View, role: &str) -> Result<RoleStatus> {
    if role == "root" {
        return root_status(view);
    }
    targets_status(view, role).ok_or_else(|| Error::State(format!("role {role} has no metadata")))
}

fn wrong_key(role: &str, key_id: &str, authorities: &[Authority]) -> Error {
    let mut allowed: Vec<String> = authorities
        .iter()
        .flat_map(|a| a.role.keyids.iter().map(|k| short(k).to_owned()))
        .collect();
    allowed.sort();
    allowed.dedup();
    Error::WrongKey { role: role.into(), keyid: key_id.into(), allowed }
}

impl Report for SignReport {
    fn human(&self) -> String {
        let ids: Vec<&str> = self.signed_by.iter().map(|k| short(k)).collect();
        format!("{}: signed with {}\n{}", self.role, ids.join(", "), self.status.describe())
    }
}

impl Report for MergeReport {
    fn human(&self) -> String {
        let mut text = String::new();
        if self.adopted {
            text.push_str(&format!("{}: adopted the metadata of {}\n", self.role, self.file));
        }
        text.push_str(&format!(
            "{}: {} new valid signature(s) from {}",
            self.role,
            self.added.len(),
            self.file
        ));
        if !self.ignored.is_empty() {
            let ids: Vec<&str> = self.ignored.iter().map(|k| short(k)).collect();
            text.push_str(&format!("; ignored invalid or foreign: {}", ids.join(", ")));
        }
        text.push('\n');
        text.push_str(&self.status.describe());
        text
    }
}
