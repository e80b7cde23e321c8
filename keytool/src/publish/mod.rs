//! `publish`: turns the workspace into a complete static repository in the DESIGN.md layout
//! (`metadata/N.root.json`, `metadata/V.ROLE.json`, `metadata/V.snapshot.json`,
//! `metadata/timestamp.json`, `targets/DIR/HASH.BASENAME`).
//!
//! Everything is worked out and verified first: thresholds, delegation scopes, images, and
//! finally the core verifier over the would-be repository. Only then are files written, images
//! first and `timestamp.json` last, so a client reading meanwhile sees the old repository or the
//! new one. `publish --server` ([`server`]) reuses the plan but pushes the release to a running
//! Image repository service instead, which makes Snapshot and Timestamp with its online keys.

mod client;
mod plan;
mod server;

use std::path::PathBuf;

use chrono::Duration;
use serde::Serialize;
use uptane::crypto::{PrivateKey, Signer};
use uptane::metadata::{MetaFile, Metadata, SignedMetadata, Snapshot, Timestamp};

use crate::error::{Error, Result};
use crate::expires;
use crate::fsutil;
use crate::keys::short;
use crate::report::Report;
use crate::verify::{DirFetch, check_metadata};
use crate::workspace::{RepoKind, View, Workspace};
pub use client::Refusal;
use plan::Plan;
pub use plan::RoleVersion;
pub use server::{Accepted, BlobSent, PushReport, ServerOptions, push};

/// Keys and lifetimes for the metadata `publish` makes itself.
#[derive(Debug, Default)]
pub struct PublishOptions {
    pub snapshot_keys: Vec<PrivateKey>,
    pub timestamp_keys: Vec<PrivateKey>,
    pub snapshot_expires: Option<Duration>,
    pub timestamp_expires: Option<Duration>,
}

#[derive(Debug, Serialize)]
pub struct PublishReport {
    pub metadata_dir: PathBuf,
    /// Each role published anew, snapshot and timestamp included.
    pub published: Vec<RoleVersion>,
    /// Files written under `metadata/`.
    pub metadata_files: Vec<String>,
    /// Image copies written under `targets/`.
    pub image_files: Vec<String>,
}

pub fn publish(workspace: &Workspace, options: &PublishOptions) -> Result<PublishReport> {
    let view = workspace.view()?;
    let mut plan = Plan::default();
    plan.root(&view)?;
    if workspace.kind() == RepoKind::Image {
        plan.targets(workspace, &view)?;
        online_roles(&view, &mut plan, options)?;
    } else if plan.metadata.is_empty() {
        return Err(Error::State(
            "nothing to publish: a Director workspace publishes only new root versions".into(),
        ));
    }
    if plan.problems.is_empty() && workspace.kind() == RepoKind::Image {
        self_check(workspace, &view, &mut plan)?;
    }
    check_conflicts(workspace, &mut plan)?;
    if !plan.problems.is_empty() {
        return Err(Error::NotReady { problems: plan.problems });
    }
    write(workspace, plan)
}

/// Signs a new Snapshot over every Targets role and a new Timestamp over it.
fn online_roles(view: &View, plan: &mut Plan, options: &PublishOptions) -> Result<()> {
    let now = expires::now();
    let version = view.published.snapshot_version() + 1;
    let expires = now + options.snapshot_expires.unwrap_or(expires::default_for("snapshot"));
    let snapshot = Snapshot::new(version, expires, std::mem::take(&mut plan.snapshot_meta));
    let snapshot_bytes = sign_online(view, plan, "snapshot", snapshot, &options.snapshot_keys)?;
    plan.metadata.insert(format!("{version}.snapshot.json"), snapshot_bytes.clone());
    plan.versions.push(RoleVersion::new("snapshot", version));

    let timestamp_version = view.published.timestamp_version() + 1;
    let expires = now + options.timestamp_expires.unwrap_or(expires::default_for("timestamp"));
    let meta = MetaFile::describing(version, &snapshot_bytes);
    let timestamp = Timestamp::new(timestamp_version, expires, meta);
    let timestamp_bytes = sign_online(view, plan, "timestamp", timestamp, &options.timestamp_keys)?;
    plan.metadata.insert("timestamp.json".into(), timestamp_bytes);
    plan.versions.push(RoleVersion::new("timestamp", timestamp_version));
    Ok(())
}

fn sign_online<M: Metadata>(
    view: &View,
    plan: &mut Plan,
    role: &str,
    body: M,
    keys: &[PrivateKey],
) -> Result<Vec<u8>> {
    let authority = view.authority(role)?;
    let mut metadata = SignedMetadata::new(body);
    for key in keys {
        if !authority.allows(key.key_id()) {
            let allowed = authority.role.keyids.iter().map(|k| short(k).to_owned()).collect();
            return Err(Error::WrongKey { role: role.into(), keyid: key.key_id().into(), allowed });
        }
        metadata.sign(key)?;
    }
    let tally = authority.tally(&metadata)?;
    if !tally.met() {
        plan.problems
            .push(format!("{role}: {}; pass its keys with --{role}-key", tally.describe()));
    }
    Ok(metadata.to_bytes()?)
}

/// Runs the core verifier over the published repository with the new files laid over it,
/// from the Root clients trust now: whatever it rejects, vehicles would reject too.
fn self_check(workspace: &Workspace, view: &View, plan: &mut Plan) -> Result<()> {
    let trusted_root = match view.published.root_version() {
        0 => plan.metadata.get("1.root.json").cloned().unwrap_or_default(),
        n => fsutil::read(&workspace.metadata_dir().join(format!("{n}.root.json")))?,
    };
    let fetch = DirFetch::with_pending(workspace.metadata_dir(), plan.metadata.clone());
    match check_metadata(fetch, &trusted_root, expires::now()) {
        Ok(check) => plan
            .problems
            .extend(check.problems.into_iter().map(|p| format!("{}: {}", p.subject, p.error))),
        Err(e) => {
            let attack = e.attack().map_or(String::new(), |a| format!(" ({a})"));
            plan.problems.push(format!("the result would not verify: {e}{attack}"));
        }
    }
    Ok(())
}

/// Versioned files are immutable once published: clients may have them cached.
fn check_conflicts(workspace: &Workspace, plan: &mut Plan) -> Result<()> {
    for (name, bytes) in &plan.metadata {
        let path = workspace.metadata_dir().join(name);
        if name != "timestamp.json"
            && fsutil::read_optional(&path)?.is_some_and(|existing| existing != *bytes)
        {
            plan.problems.push(format!(
                "{} exists with other content; published metadata is never replaced",
                path.display()
            ));
        }
    }
    Ok(())
}

/// Images first, then metadata, `timestamp.json` last; then the edit cycles close.
fn write(workspace: &Workspace, mut plan: Plan) -> Result<PublishReport> {
    let targets_dir = workspace.targets_dir();
    let mut image_files = Vec::new();
    for (source, name) in &plan.images {
        fsutil::copy_atomically(source, &targets_dir.join(name), |_| {})?;
        image_files.push(name.clone());
    }
    let metadata_dir = workspace.metadata_dir();
    let timestamp = plan.metadata.remove("timestamp.json");
    let mut metadata_files = Vec::new();
    for (name, bytes) in &plan.metadata {
        fsutil::write_public(&metadata_dir.join(name), bytes)?;
        metadata_files.push(name.clone());
    }
    if let Some(bytes) = timestamp {
        fsutil::write_public(&metadata_dir.join("timestamp.json"), &bytes)?;
        metadata_files.push("timestamp.json".into());
    }
    for role in &plan.closes {
        workspace.remove_staged(role)?;
    }
    Ok(PublishReport { metadata_dir, published: plan.versions, metadata_files, image_files })
}

impl Report for PublishReport {
    fn human(&self) -> String {
        let mut text = String::new();
        for published in &self.published {
            text.push_str(&format!("published {} v{}\n", published.role, published.version));
        }
        text.push_str(&format!(
            "wrote {} metadata file(s) and {} image file(s) under {}\n",
            self.metadata_files.len(),
            self.image_files.len(),
            self.metadata_dir.parent().unwrap_or(&self.metadata_dir).display()
        ));
        text
    }
}
