//! A repository workspace: plain JSON files in one directory, so key holders can pass them
//! around, inspect them, and keep them under version control.
//!
//! ```text
//! DIR/keytool.json              what kind of repository this is
//! DIR/staged/ROLE.json          metadata being prepared: body + signatures collected so far
//!                               (ROLE percent-encoded like the published file names)
//! DIR/blobs/SHA256              images added with add-target, waiting to be published
//! DIR/metadata/, DIR/targets/   the published repository (DESIGN.md URL layout)
//! ```
//!
//! Editing a staged role clears its signatures and sets its version to the published version
//! plus one; signing only adds signatures. So a role's version goes up once per edit cycle
//! (edit, sign, publish), however many holders sign it.

mod published;
mod view;

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use uptane::metadata::{Metadata, SignedMetadata};
use uptane::repository::role_file_name;

use crate::error::{Error, Result};
use crate::fsutil;

pub use published::Published;
pub use view::{Authority, Current, Tally, View};

/// Which repository a workspace prepares.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum RepoKind {
    /// The Image repository: offline root and targets, delegations to suppliers.
    Image,
    /// The Director: only its root is offline; the service signs everything else online.
    Director,
}

/// `DIR/keytool.json`.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Config {
    kind: RepoKind,
    format: u32,
}

const CONFIG: &str = "keytool.json";
const FORMAT: u32 = 1;

/// An open workspace directory.
#[derive(Debug, Clone)]
pub struct Workspace {
    dir: PathBuf,
    kind: RepoKind,
}

impl Workspace {
    /// Makes `dir` a new workspace; refuses one that already is, or holds a repository.
    pub fn create(dir: &Path, kind: RepoKind) -> Result<Workspace> {
        for existing in [CONFIG, "staged", "metadata"] {
            if dir.join(existing).exists() {
                return Err(Error::State(format!(
                    "{} already holds a repository workspace ({existing} exists)",
                    dir.display()
                )));
            }
        }
        let config = Config { kind, format: FORMAT };
        let bytes = serde_json::to_vec_pretty(&config).map_err(|e| Error::State(e.to_string()))?;
        fsutil::write_atomically(&dir.join(CONFIG), &bytes)?;
        Ok(Workspace { dir: dir.to_owned(), kind })
    }

    /// Opens an existing workspace.
    pub fn open(dir: &Path) -> Result<Workspace> {
        let path = dir.join(CONFIG);
        let bytes = fsutil::read_optional(&path)?.ok_or_else(|| {
            Error::State(format!(
                "{} is not a keytool workspace (no {CONFIG}); create one with `keytool init`",
                dir.display()
            ))
        })?;
        let config: Config = serde_json::from_slice(&bytes)
            .map_err(|e| Error::State(format!("{}: {e}", path.display())))?;
        if config.format != FORMAT {
            return Err(Error::State(format!(
                "{}: workspace format {} is not supported (expected {FORMAT})",
                path.display(),
                config.format
            )));
        }
        Ok(Workspace { dir: dir.to_owned(), kind: config.kind })
    }

    pub fn kind(&self) -> RepoKind {
        self.kind
    }

    /// Refuses commands that only make sense for the Image repository.
    pub fn require_image(&self, what: &str) -> Result<()> {
        match self.kind {
            RepoKind::Image => Ok(()),
            RepoKind::Director => Err(Error::State(format!(
                "{what}: this is a Director workspace; the Director service signs its targets \
                 online, keytool only manages its root"
            ))),
        }
    }

    pub fn metadata_dir(&self) -> PathBuf {
        self.dir.join("metadata")
    }

    pub fn targets_dir(&self) -> PathBuf {
        self.dir.join("targets")
    }

    /// Where an added image waits for publishing, named by its sha256.
    pub fn blob_path(&self, sha256: &str) -> PathBuf {
        self.dir.join("blobs").join(sha256)
    }

    fn staged_dir(&self) -> PathBuf {
        self.dir.join("staged")
    }

    /// The staged file of `role`.
    pub fn staged_path(&self, role: &str) -> PathBuf {
        self.staged_dir().join(role_file_name(role))
    }

    /// The staged metadata of `role`, if an edit cycle is open.
    pub fn load_staged<M: Metadata>(&self, role: &str) -> Result<Option<SignedMetadata<M>>> {
        let path = self.staged_path(role);
        let Some(bytes) = fsutil::read_optional(&path)? else { return Ok(None) };
        SignedMetadata::from_bytes(&bytes, role)
            .map(Some)
            .map_err(|e| Error::State(format!("{}: {e}", path.display())))
    }

    pub fn save_staged<M: Metadata>(&self, role: &str, metadata: &SignedMetadata<M>) -> Result<()> {
        fsutil::write_atomically(&self.staged_path(role), &metadata.to_pretty_bytes()?)
    }

    /// Closes the edit cycle of `role` after publishing.
    pub fn remove_staged(&self, role: &str) -> Result<()> {
        let path = self.staged_path(role);
        match std::fs::remove_file(&path) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(Error::io(&path, e)),
            _ => Ok(()),
        }
    }

    /// The delegated roles with a staged file (everything but root and targets).
    pub fn staged_delegated_roles(&self) -> Result<Vec<String>> {
        let dir = self.staged_dir();
        let entries = match std::fs::read_dir(&dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(Error::io(&dir, e)),
        };
        let mut roles = Vec::new();
        for entry in entries {
            let name = entry.map_err(|e| Error::io(&dir, e))?.file_name();
            let Some(encoded) = name.to_str().and_then(|n| n.strip_suffix(".json")) else {
                continue;
            };
            let role = percent_encoding::percent_decode_str(encoded)
                .decode_utf8()
                .map_err(|e| Error::State(format!("{}: {e}", dir.join(&name).display())))?;
            if role != "root" && role != "targets" {
                roles.push(role.into_owned());
            }
        }
        roles.sort();
        Ok(roles)
    }

    /// Reads the published repository.
    pub fn published(&self) -> Result<Published> {
        Published::read(&self.metadata_dir(), self.kind)
    }

    /// The combined state: what each role will be once published.
    pub fn view(&self) -> Result<View> {
        View::load(self)
    }
}
