//! The edit cycle. An edit that changes a role's body stages it at the published version plus
//! one and clears its signatures (they covered the old body); further edits before publishing
//! stay at that version. Signing never touches the body, so however many key holders sign,
//! the version goes up once per cycle. An edit that changes nothing keeps the signatures.

use chrono::{DateTime, Duration, Utc};
use uptane::metadata::{Metadata, Root, SignedMetadata, Targets};

use crate::error::Result;
use crate::expires;
use crate::workspace::{Current, Workspace};

/// The fields an edit cycle resets.
pub trait Editable: Metadata + Clone + PartialEq {
    fn set_version(&mut self, version: u64);
    fn set_expires(&mut self, expires: DateTime<Utc>);
}

impl Editable for Root {
    fn set_version(&mut self, version: u64) {
        self.version = version;
    }
    fn set_expires(&mut self, expires: DateTime<Utc>) {
        self.expires = expires;
    }
}

impl Editable for Targets {
    fn set_version(&mut self, version: u64) {
        self.version = version;
    }
    fn set_expires(&mut self, expires: DateTime<Utc>) {
        self.expires = expires;
    }
}

/// How an edit treats version and expiry.
#[derive(Debug, Clone, Copy, Default)]
pub struct EditOptions {
    /// Sets the expiry to now plus this (otherwise the role's default when a cycle opens).
    pub expires: Option<Duration>,
    /// Opens a new cycle even if the body is unchanged (expiry refresh, re-signing with new keys,
    /// or a role that has no file yet).
    pub renew: bool,
}

/// Applies `mutate` to `current` and stages the result. Returns `None` if nothing changed.
pub fn edit<M: Editable>(
    workspace: &Workspace,
    role: &str,
    current: &Current<M>,
    published_version: u64,
    options: EditOptions,
    mutate: impl FnOnce(&mut M) -> Result<()>,
) -> Result<Option<SignedMetadata<M>>> {
    let before = &current.metadata.signed;
    let mut body = before.clone();
    mutate(&mut body)?;
    if body == *before && !options.renew && options.expires.is_none() {
        return Ok(None);
    }
    body.set_version(published_version + 1);
    if !current.staged || options.renew || options.expires.is_some() {
        body.set_expires(expires::now() + options.expires.unwrap_or(expires::default_for(role)));
    }
    let staged = SignedMetadata::new(body);
    workspace.save_staged(role, &staged)?;
    tracing::info!(role, version = published_version + 1, "staged; signatures cleared");
    Ok(Some(staged))
}
