//! `init`: a new workspace with Root v1 (and, for the Image repository, an empty Targets v1),
//! signed right away with whichever private keys were given.

use std::path::{Path, PathBuf};

use chrono::Duration;
use serde::Serialize;
use uptane::metadata::{Root, SignedMetadata, Targets};

use super::roles::{RoleSpec, check_root};
use super::status::{RoleStatus, root_status, targets_status};
use crate::error::{Error, Result};
use crate::expires;
use crate::report::Report;
use crate::workspace::{RepoKind, Workspace};

/// What `init` needs: the four top-level roles' keys and thresholds.
#[derive(Debug)]
pub struct InitOptions {
    pub kind: RepoKind,
    pub root: RoleSpec,
    pub targets: RoleSpec,
    pub snapshot: RoleSpec,
    pub timestamp: RoleSpec,
    /// The Director's time attestation keys, named by a field of its Root.
    pub time: Option<RoleSpec>,
    /// Root's validity (default 365 days).
    pub expires: Option<Duration>,
}

#[derive(Debug, Serialize)]
pub struct InitReport {
    pub dir: PathBuf,
    pub kind: RepoKind,
    pub roles: Vec<RoleStatus>,
}

pub fn init(dir: &Path, options: InitOptions) -> Result<InitReport> {
    let now = expires::now();
    let mut root = Root::new(now + options.expires.unwrap_or(expires::default_for("root")));
    if options.time.is_some() && options.kind != RepoKind::Director {
        return Err(Error::Usage("time attestation keys belong to a Director root".into()));
    }
    let top_level = [&options.root, &options.targets, &options.snapshot, &options.timestamp];
    for spec in top_level.into_iter().chain(&options.time) {
        spec.apply(&mut root)?;
    }
    check_root(&root)?;
    let workspace = Workspace::create(dir, options.kind)?;
    let mut staged_root = SignedMetadata::new(root);
    for signer in options.root.signers() {
        staged_root.sign(signer)?;
    }
    workspace.save_staged("root", &staged_root)?;
    if options.kind == RepoKind::Image {
        let mut targets =
            SignedMetadata::new(Targets::new(1, now + expires::default_for("targets")));
        for signer in options.targets.signers() {
            targets.sign(signer)?;
        }
        workspace.save_staged("targets", &targets)?;
    }
    let view = workspace.view()?;
    let mut roles = vec![root_status(&view)?];
    roles.extend(targets_status(&view, "targets"));
    Ok(InitReport { dir: dir.to_owned(), kind: options.kind, roles })
}

impl Report for InitReport {
    fn human(&self) -> String {
        let kind = match self.kind {
            RepoKind::Image => "an Image repository",
            RepoKind::Director => "a Director",
        };
        let mut text = format!("initialised {kind} workspace in {}\n", self.dir.display());
        text.extend(self.roles.iter().map(RoleStatus::describe));
        if self.roles.iter().any(|r| !r.ready) {
            text.push_str(
                "next: the other key holders run `keytool sign`, then `keytool publish`\n",
            );
        }
        text
    }
}
