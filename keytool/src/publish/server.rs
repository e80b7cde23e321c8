//! `publish --server URL`: pushes a signed release to a running Image repository service
//! instead of writing a static repository. The service signs Snapshot and Timestamp with its
//! online keys, so keytool sends only what release engineers sign offline.
//!
//! The same [`Plan`] checks as a local publish run first (thresholds, delegation scopes, images
//! at hand), so nothing is sent that keytool already knows to be wrong. Then, against what the
//! service publishes now:
//!
//! 1. every image the pushed Targets files list and the service does not hold yet (one GET per
//!    image, then a streamed PUT with a progress bar): re-publishing sends no image twice;
//! 2. each Root version after the service's, in order (each is checked against the one before);
//! 3. each Targets role, delegating roles before the roles they delegate to (the service checks
//!    a delegated role against its delegator's published version), every version after the
//!    service's in order.
//!
//! A version the service already has byte for byte is skipped, so a push cut short can simply
//! be run again. The first refusal stops the push and is reported with the service's code and
//! message. Afterwards the workspace records what the service now serves (the pushed files, the
//! service's Snapshot and Timestamp, image copies) and closes the edit cycles that reached it,
//! so the next edit opens the next version and `keytool verify` checks the same repository
//! vehicles read.

use std::collections::{BTreeMap, BTreeSet};
use std::fs::File;
use std::path::PathBuf;

use indicatif::{ProgressBar, ProgressStyle};
use serde::{Deserialize, Serialize};
use uptane::metadata::{Hashes, SignedMetadata, Snapshot, Targets, Timestamp};
use uptane::repository::role_file_name;

use super::client::{Client, PushError, PushResult, Refusal};
use super::plan::{Plan, RoleVersion};
use crate::blobs::{check_entry, published_names};
use crate::error::{Error, Result};
use crate::fsutil;
use crate::report::{Outcome, Report};
use crate::workspace::{View, Workspace};

/// The service's limits on what it serves (DESIGN.md): root 512 KiB, timestamp 64 KiB,
/// snapshot and Targets 8 MiB.
const MAX_ROOT: u64 = 512 * 1024;
const MAX_TIMESTAMP: u64 = 64 * 1024;
const MAX_METADATA: u64 = 8 << 20;

/// Where and how to push.
#[derive(Debug)]
pub struct ServerOptions {
    /// Base URL of the service, e.g. `https://images.example:8443`.
    pub url: String,
    pub token: String,
    /// PEM CA certificates to trust instead of the public roots.
    pub ca: Option<PathBuf>,
    /// Draw a progress bar for image uploads on stderr (when it is a terminal).
    pub progress: bool,
}

/// An image sent to the service.
#[derive(Debug, Clone, Serialize)]
pub struct BlobSent {
    pub path: String,
    pub sha256: String,
    pub length: u64,
}

/// The service's answer to an accepted metadata upload.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Accepted {
    pub role: String,
    pub version: u64,
    pub snapshot_version: u64,
    pub timestamp_version: u64,
}

#[derive(Debug, Serialize)]
pub struct PushReport {
    pub server: String,
    /// Images sent, in order.
    pub blobs_uploaded: Vec<BlobSent>,
    pub bytes_uploaded: u64,
    /// Images the service already held, not sent again.
    pub blobs_already_held: usize,
    /// Metadata the service accepted, in the order sent.
    pub accepted: Vec<Accepted>,
    /// Metadata versions the service already had, byte for byte.
    pub already_published: Vec<RoleVersion>,
    /// What the service serves afterwards (0: nothing yet).
    pub snapshot_version: u64,
    pub timestamp_version: u64,
    /// Why the service stopped the push; everything before it stays published.
    pub refused: Option<Refusal>,
}

/// One metadata file to send.
#[derive(Debug, Clone)]
struct Upload {
    role: String,
    version: u64,
    /// Name under `metadata/`.
    name: String,
    bytes: Vec<u8>,
}

/// What the service publishes now.
#[derive(Debug, Default)]
struct ServerState {
    /// The newest `N.root.json` and its bytes.
    root: Option<(u64, Vec<u8>)>,
    /// Targets role name -> version, from the current Snapshot.
    roles: BTreeMap<String, u64>,
}

impl ServerState {
    fn read(client: &Client) -> PushResult<ServerState> {
        let mut state = ServerState::default();
        // No endpoint names the newest root: walk N.root.json up, as TUF clients do.
        for version in 1.. {
            match client.get(&format!("/metadata/{version}.root.json"), MAX_ROOT)? {
                Some(bytes) => state.root = Some((version, bytes)),
                None => break,
            }
        }
        let Some(bytes) = client.get("/metadata/timestamp.json", MAX_TIMESTAMP)? else {
            return Ok(state);
        };
        let timestamp = SignedMetadata::<Timestamp>::from_bytes(&bytes, "timestamp")?;
        let name = format!("{}.snapshot.json", timestamp.signed.snapshot_meta().version);
        let bytes = client.get(&format!("/metadata/{name}"), MAX_METADATA)?.ok_or_else(|| {
            Error::State(format!("{}: the timestamp names {name}, which is missing", client.base()))
        })?;
        let snapshot = SignedMetadata::<Snapshot>::from_bytes(&bytes, "snapshot")?;
        for (file, meta) in &snapshot.signed.meta {
            if let Some(role) = file.strip_suffix(".json") {
                state.roles.insert(role.to_owned(), meta.version);
            }
        }
        Ok(state)
    }

    fn root_version(&self) -> u64 {
        self.root.as_ref().map_or(0, |(version, _)| *version)
    }
}

/// Pushes the workspace's release to the service. A refusal is reported (exit 1), not an error.
pub fn push(workspace: &Workspace, options: &ServerOptions) -> Result<PushReport> {
    workspace.require_image("publish --server")?;
    let view = workspace.view()?;
    let mut plan = Plan::default();
    plan.root(&view)?;
    plan.targets(workspace, &view)?;
    if !plan.problems.is_empty() {
        return Err(Error::NotReady { problems: plan.problems });
    }
    let client = Client::new(&options.url, &options.token, options.ca.as_deref())?;
    let mut push = Push {
        workspace,
        client: &client,
        progress: options.progress,
        on_server: Vec::new(),
        report: PushReport {
            server: client.base().to_owned(),
            blobs_uploaded: Vec::new(),
            bytes_uploaded: 0,
            blobs_already_held: 0,
            accepted: Vec::new(),
            already_published: Vec::new(),
            snapshot_version: 0,
            timestamp_version: 0,
            refused: None,
        },
    };
    let outcome = push.run(&view, &plan).and_then(|()| push.record(&view));
    match outcome {
        Ok(()) => {}
        Err(PushError::Refused(refusal)) => {
            push.report.refused = Some(refusal);
            // What the service accepted before refusing stays published: record it too.
            match push.record(&view) {
                Ok(()) | Err(PushError::Refused(_)) => {}
                Err(PushError::Failed(e)) => return Err(e),
            }
        }
        Err(PushError::Failed(e)) => return Err(e),
    }
    Ok(push.report)
}

struct Push<'a> {
    workspace: &'a Workspace,
    client: &'a Client,
    progress: bool,
    /// Uploads the service now has (accepted, or already there), in order.
    on_server: Vec<Upload>,
    report: PushReport,
}

impl Push<'_> {
    fn run(&mut self, view: &View, plan: &Plan) -> PushResult<()> {
        let server = ServerState::read(self.client)?;
        let uploads = self.uploads(view, plan, &server)?;
        let mut to_send = Vec::new();
        for upload in uploads {
            let already = match self.server_version(&server, &upload.role) {
                published if upload.version <= published => {
                    let path = format!("/metadata/{}", upload.name);
                    self.client.get(&path, MAX_METADATA)?.is_some_and(|b| b == upload.bytes)
                }
                _ => false,
            };
            if already {
                let version = RoleVersion::new(&upload.role, upload.version);
                self.report.already_published.push(version);
                self.on_server.push(upload);
            } else {
                to_send.push(upload);
            }
        }
        self.send_blobs(&to_send)?;
        for upload in to_send {
            let path = format!("/api/v1/metadata/{}", upload.role);
            let bytes = upload.bytes.clone();
            let answer = self.client.put(&path, bytes.len() as u64, std::io::Cursor::new(bytes))?;
            let accepted: Accepted = serde_json::from_slice(&answer).map_err(|e| {
                Error::State(format!("{}{path}: unexpected answer: {e}", self.client.base()))
            })?;
            tracing::info!(role = upload.role, version = upload.version, "accepted");
            self.report.accepted.push(accepted);
            self.on_server.push(upload);
        }
        Ok(())
    }

    fn server_version(&self, server: &ServerState, role: &str) -> u64 {
        if role == "root" {
            server.root_version()
        } else {
            server.roles.get(role).copied().unwrap_or(0)
        }
    }

    /// Every metadata file to consider, in the order the service needs them.
    fn uploads(&self, view: &View, plan: &Plan, server: &ServerState) -> PushResult<Vec<Upload>> {
        let root = view.root()?;
        let root_version = root.metadata.signed.version;
        let mut uploads = Vec::new();
        if let Some((version, bytes)) = &server.root {
            if root_version < *version {
                return Err(Error::State(format!(
                    "{} publishes root v{version}, newer than this workspace's v{root_version}: \
                     bring the workspace up to date first",
                    self.client.base()
                ))
                .into());
            }
            if self.local(plan, &format!("{version}.root.json"))? != *bytes {
                return Err(Error::State(format!(
                    "{} publishes a different root v{version} than this workspace: it serves \
                     another repository",
                    self.client.base()
                ))
                .into());
            }
        }
        for version in versions(server.root_version(), root_version, root.staged) {
            uploads.push(self.upload(plan, "root", version, format!("{version}.root.json"))?);
        }
        for role in role_order(view) {
            let current = &view.targets[&role];
            let version = current.metadata.signed.version;
            let published = server.roles.get(&role).copied().unwrap_or(0);
            for version in versions(published, version, current.staged) {
                let name = format!("{version}.{}", role_file_name(&role));
                uploads.push(self.upload(plan, &role, version, name)?);
            }
        }
        Ok(uploads)
    }

    fn upload(&self, plan: &Plan, role: &str, version: u64, name: String) -> Result<Upload> {
        let bytes = self.local(plan, &name)?;
        Ok(Upload { role: role.to_owned(), version, name, bytes })
    }

    /// A metadata file this publish makes, else the workspace's published copy.
    fn local(&self, plan: &Plan, name: &str) -> Result<Vec<u8>> {
        if let Some(bytes) = plan.metadata.get(name) {
            return Ok(bytes.clone());
        }
        let path = self.workspace.metadata_dir().join(name);
        fsutil::read_optional(&path)?.ok_or_else(|| {
            Error::State(format!(
                "{} is missing: the service needs every version after the one it publishes",
                path.display()
            ))
        })
    }

    /// Uploads every image the Targets files in `uploads` list that the service lacks.
    fn send_blobs(&mut self, uploads: &[Upload]) -> PushResult<()> {
        let mut needed: BTreeMap<String, (String, Hashes, u64)> = BTreeMap::new();
        for upload in uploads.iter().filter(|u| u.role != "root") {
            for (path, file) in targets_of(upload)?.targets {
                let sha256 = file.hashes["sha256"].clone();
                needed.entry(sha256).or_insert((path, file.hashes, file.length));
            }
        }
        let mut missing = Vec::new();
        for (sha256, (path, hashes, length)) in needed {
            if self.client.has_blob(&sha256)? {
                self.report.blobs_already_held += 1;
                continue;
            }
            let source = self.image_source(&path, &hashes).ok_or_else(|| {
                Error::State(format!(
                    "the image for {path} (sha256 {sha256}) is neither in {} nor under {}",
                    self.workspace.blob_path(&sha256).display(),
                    self.workspace.targets_dir().display()
                ))
            })?;
            missing.push((BlobSent { path, sha256, length }, source));
        }
        let total = missing.iter().map(|(blob, _)| blob.length).sum();
        let bar = if self.progress { ProgressBar::new(total) } else { ProgressBar::hidden() };
        bar.set_style(
            ProgressStyle::with_template(
                "{msg:30!} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} {eta}",
            )
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
        );
        for (blob, source) in missing {
            bar.set_message(blob.path.clone());
            let file = File::open(&source).map_err(|e| Error::io(&source, e))?;
            let path = format!("/api/v1/blobs/{}", blob.sha256);
            if let Err(e) = self.client.put(&path, blob.length, bar.wrap_read(file)) {
                bar.abandon();
                return Err(e);
            }
            self.report.bytes_uploaded += blob.length;
            self.report.blobs_uploaded.push(blob);
        }
        bar.finish_and_clear();
        Ok(())
    }

    /// The workspace's copy of an image: the one `add-target` stored, or a published copy.
    fn image_source(&self, path: &str, hashes: &Hashes) -> Option<PathBuf> {
        let targets = self.workspace.targets_dir();
        std::iter::once(self.workspace.blob_path(&hashes["sha256"]))
            .chain(published_names(path, hashes).into_iter().map(|name| targets.join(name)))
            .find(|candidate| candidate.is_file())
    }

    /// Makes the workspace's published repository what the service serves now: the files it
    /// has from this push, image copies, missing Targets files, its Snapshot and (last) its
    /// Timestamp; then closes the edit cycles that reached the service.
    fn record(&mut self, view: &View) -> PushResult<()> {
        let metadata_dir = self.workspace.metadata_dir();
        let targets_dir = self.workspace.targets_dir();
        for upload in &self.on_server {
            fsutil::write_public(&metadata_dir.join(&upload.name), &upload.bytes)?;
            if upload.role == "root" {
                continue;
            }
            for (path, file) in targets_of(upload)?.targets {
                let Some(source) = self.image_source(&path, &file.hashes) else { continue };
                for name in published_names(&path, &file.hashes) {
                    let dest = targets_dir.join(&name);
                    if !dest.is_file() {
                        fsutil::copy_atomically(&source, &dest, |_| {})?;
                    }
                }
            }
        }
        if let Some(timestamp_bytes) = self.client.get("/metadata/timestamp.json", MAX_TIMESTAMP)? {
            let timestamp = SignedMetadata::<Timestamp>::from_bytes(&timestamp_bytes, "timestamp")?;
            let snapshot_version = timestamp.signed.snapshot_meta().version;
            let name = format!("{snapshot_version}.snapshot.json");
            let snapshot_bytes =
                self.client.get(&format!("/metadata/{name}"), MAX_METADATA)?.ok_or_else(|| {
                    Error::State(format!("{}: {name} is missing", self.client.base()))
                })?;
            let snapshot = SignedMetadata::<Snapshot>::from_bytes(&snapshot_bytes, "snapshot")?;
            for (file, meta) in &snapshot.signed.meta {
                let Some(role) = file.strip_suffix(".json") else { continue };
                let role_name = format!("{}.{}", meta.version, role_file_name(role));
                if metadata_dir.join(&role_name).is_file() {
                    continue;
                }
                // Published by someone else (a supplier's own workspace): needed to know the
                // versions here, and for `verify`.
                let bytes = self.client.get(&format!("/metadata/{role_name}"), MAX_METADATA)?;
                let bytes = bytes.ok_or_else(|| {
                    Error::State(format!("{}: {role_name} is missing", self.client.base()))
                })?;
                fsutil::write_public(&metadata_dir.join(&role_name), &bytes)?;
            }
            fsutil::write_public(&metadata_dir.join(&name), &snapshot_bytes)?;
            fsutil::write_public(&metadata_dir.join("timestamp.json"), &timestamp_bytes)?;
            self.report.snapshot_version = snapshot_version;
            self.report.timestamp_version = timestamp.signed.version;
        }
        let reached: BTreeSet<(&str, u64)> =
            self.on_server.iter().map(|u| (u.role.as_str(), u.version)).collect();
        let staged = view.root.iter().map(|r| ("root", r.staged, r.metadata.signed.version));
        let staged = staged.chain(
            view.targets
                .iter()
                .map(|(role, t)| (role.as_str(), t.staged, t.metadata.signed.version)),
        );
        for (role, is_staged, version) in staged {
            if is_staged && reached.contains(&(role, version)) {
                self.workspace.remove_staged(role)?;
            }
        }
        Ok(())
    }
}

/// The versions to send: each after the service's up to the workspace's, or a staged version
/// the service may already have (sent, or skipped when identical, so the service decides).
fn versions(published: u64, current: u64, staged: bool) -> Vec<u64> {
    if current > published {
        (published + 1..=current).collect()
    } else if staged {
        vec![current]
    } else {
        Vec::new()
    }
}

/// `targets` first, then delegated roles breadth first (delegators before delegatees), then
/// roles no longer delegated.
fn role_order(view: &View) -> Vec<String> {
    let mut order = vec!["targets".to_owned()];
    let delegated = view.delegations().into_iter().map(|(_, d)| d.name.to_string());
    for role in delegated.chain(view.targets.keys().cloned()) {
        if view.targets.contains_key(&role) && !order.contains(&role) {
            order.push(role);
        }
    }
    order.retain(|role| view.targets.contains_key(role));
    order
}

/// The Targets an upload lists, each entry checked before its path and hashes name files.
fn targets_of(upload: &Upload) -> Result<Targets> {
    let targets = SignedMetadata::<Targets>::from_bytes(&upload.bytes, &upload.role)?.signed;
    for (path, file) in &targets.targets {
        check_entry(path, &file.hashes)?;
    }
    Ok(targets)
}

impl Report for PushReport {
    fn human(&self) -> String {
        let mut text = String::new();
        let nothing_sent = self.blobs_uploaded.is_empty() && self.accepted.is_empty();
        if nothing_sent && self.refused.is_none() {
            text.push_str("nothing to send: the service already has this workspace's release\n");
        } else {
            let held = match self.blobs_already_held {
                0 => String::new(),
                n => format!(", {n} already on the service"),
            };
            text.push_str(&format!(
                "uploaded {} image(s), {} bytes{held}\n",
                self.blobs_uploaded.len(),
                self.bytes_uploaded
            ));
        }
        for done in &self.already_published {
            text.push_str(&format!("{} v{} was already published\n", done.role, done.version));
        }
        for accepted in &self.accepted {
            text.push_str(&format!("published {} v{}\n", accepted.role, accepted.version));
        }
        if self.timestamp_version > 0 {
            text.push_str(&format!(
                "{} serves snapshot v{} and timestamp v{}\n",
                self.server, self.snapshot_version, self.timestamp_version
            ));
        }
        if let Some(refusal) = &self.refused {
            text.push_str(&format!(
                "REFUSED by {}: {refusal}\nnothing after it was sent\n",
                self.server
            ));
        }
        text
    }

    fn outcome(&self) -> Outcome {
        if self.refused.is_some() { Outcome::Failed } else { Outcome::Ok }
    }
}
