//! The client workflow over one repository (Uptane 5.4.4.2 steps 2-5 or 6-9; TUF 5.3-5.6):
//! the Root rotation loop, Timestamp, Snapshot, Targets, and delegation resolution, fetching
//! through [`Fetch`] with a byte limit on every file and persisting through [`Store`].
//!
//! The same code serves a Primary over HTTPS, the Director reading the Image repository,
//! `keytool verify` over a directory, and a Secondary over what arrived on the bus.

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};

use super::store::role_file_name;
use super::trusted::{TimestampUpdate, TrustedSet};
use super::{Rules, Store};
use crate::error::{Error, Result};
use crate::metadata::{DelegatedRole, TargetFile};

/// Where metadata comes from. `name` is relative to the repository's metadata base
/// (`3.root.json`, `timestamp.json`, `7.supplierA.json`).
pub trait Fetch {
    /// Reads at most `max_bytes`; a longer file fails with [`Error::TooLarge`] (endless data),
    /// a missing one with [`Error::NotFound`].
    fn fetch(&mut self, name: &str, max_bytes: u64) -> Result<Vec<u8>>;
}

/// Walks the Root chain from `set`'s Root through `N+1.root.json`, `N+2.root.json`, ... as
/// `fetch` has them, at most the rules' number of hops, each admitted by
/// [`TrustedSet::update_root`] (R1, R2, R4) and handed to `admitted` with whether the trusted
/// Timestamp and Snapshot were dropped. Expiry is not judged. Returns whether the chain moved.
pub fn walk_root_chain(
    set: &mut TrustedSet,
    fetch: &mut impl Fetch,
    mut admitted: impl FnMut(&[u8], bool) -> Result<()>,
) -> Result<bool> {
    let limit = set.rules().max_root_bytes;
    let mut moved = false;
    for _ in 0..set.rules().max_root_rotations {
        let name = format!("{}.root.json", set.root().version + 1);
        let bytes = match fetch.fetch(&name, limit) {
            Ok(bytes) => bytes,
            Err(Error::NotFound { .. }) => break,
            Err(e) => return Err(e),
        };
        let dropped = set.update_root(&bytes)?;
        admitted(&bytes, dropped)?;
        moved = true;
    }
    Ok(moved)
}

/// What a refresh found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Refresh {
    /// The trusted Root version after the rotation loop.
    pub root_version: u64,
    /// Whether a newer Timestamp arrived.
    pub timestamp: TimestampUpdate,
    /// Whether a new Snapshot was fetched (if not, nothing in the repository changed).
    pub snapshot_changed: bool,
}

/// A target found by delegation resolution, with the role that signs it.
#[derive(Debug, Clone, PartialEq)]
pub struct FoundTarget {
    pub path: String,
    pub file: TargetFile,
    pub role: String,
}

/// A verifying client of one repository.
#[derive(Debug)]
pub struct Updater<F, S> {
    set: TrustedSet,
    fetcher: F,
    store: S,
    /// Set by [`Self::rotate_root`]: the next refresh does not walk the chain again.
    root_walked: bool,
}

impl<F: Fetch, S: Store> Updater<F, S> {
    /// Starts a cycle at time `now` from the Root in `store` (`root.json`).
    pub fn new(fetcher: F, store: S, now: DateTime<Utc>, rules: Rules) -> Result<Updater<F, S>> {
        let root = store
            .load("root.json")?
            .ok_or_else(|| Error::NotFound { what: "trusted root.json".into() })?;
        let set = TrustedSet::new(&root, now, rules)?;
        Ok(Updater { set, fetcher, store, root_walked: false })
    }

    /// Fixes the cycle's time once it is known: a Primary learns it from an attestation it
    /// checks against the Root this Updater walked to ([`Self::rotate_root`]).
    pub fn judge_at(&mut self, now: DateTime<Utc>) {
        self.set.set_now(now);
    }

    pub fn trusted(&self) -> &TrustedSet {
        &self.set
    }

    pub fn store(&self) -> &S {
        &self.store
    }

    pub fn into_parts(self) -> (TrustedSet, F, S) {
        (self.set, self.fetcher, self.store)
    }

    /// Walks Root, Timestamp, Snapshot and top-level Targets. Any failure leaves the stored
    /// state as it was before the failing file.
    pub fn refresh(&mut self) -> Result<Refresh> {
        self.update_root()?;
        let timestamp = self.update_timestamp()?;
        let snapshot_changed = self.update_snapshot()?;
        self.update_targets("targets", "root")?;
        Ok(Refresh { root_version: self.set.root().version, timestamp, snapshot_changed })
    }

    fn update_root(&mut self) -> Result<()> {
        if !std::mem::take(&mut self.root_walked) {
            self.walk_roots()?;
        }
        self.set.check_root_fresh()
    }

    /// Walks the Root chain ahead of the next refresh, which then does not walk it again,
    /// without judging the final Root's expiry: what a Primary does before it checks a time
    /// attestation, which the newest Root's time key may have signed.
    pub fn rotate_root(&mut self) -> Result<()> {
        self.walk_roots()?;
        self.root_walked = true;
        Ok(())
    }

    /// [`walk_root_chain`], persisting each newer Root and dropping the stored Timestamp and
    /// Snapshot when their keys changed.
    fn walk_roots(&mut self) -> Result<()> {
        let store = &mut self.store;
        walk_root_chain(&mut self.set, &mut self.fetcher, |bytes, dropped| {
            store.save("root.json", bytes)?;
            if dropped {
                store.remove("timestamp.json")?;
                store.remove("snapshot.json")?;
            }
            Ok(())
        })?;
        Ok(())
    }

    fn update_timestamp(&mut self) -> Result<TimestampUpdate> {
        if let Some(local) = self.store.load("timestamp.json")?
            && let Err(e) = self.set.load_timestamp(&local)
        {
            tracing::debug!(error = %e, "stored timestamp no longer verifies; ignored");
        }
        let bytes = self.fetcher.fetch("timestamp.json", self.set.rules().max_timestamp_bytes)?;
        let outcome = self.set.update_timestamp(&bytes)?;
        if outcome == TimestampUpdate::Updated {
            self.store.save("timestamp.json", &bytes)?;
        }
        Ok(outcome)
    }

    fn update_snapshot(&mut self) -> Result<bool> {
        if let Some(local) = self.store.load("snapshot.json")?
            && let Err(e) = self.set.load_snapshot(&local)
        {
            tracing::debug!(error = %e, "stored snapshot no longer verifies; ignored");
        }
        if self.set.snapshot_is_current() {
            return Ok(false);
        }
        let listed = self
            .set
            .timestamp()
            .ok_or_else(|| Error::NotFound { what: "trusted timestamp".into() })?
            .snapshot_meta()
            .clone();
        let name = self.versioned("snapshot.json", listed.version);
        let limit = listed.length.unwrap_or(self.set.rules().max_snapshot_bytes);
        let bytes = self.fetcher.fetch(&name, limit)?;
        self.set.update_snapshot(&bytes)?;
        self.store.save("snapshot.json", &bytes)?;
        Ok(true)
    }

    /// Makes the Targets of `role` trusted: the stored copy if it is still current, else a
    /// fresh one.
    fn update_targets(&mut self, role: &str, parent: &str) -> Result<()> {
        if self.set.targets_is_current(role) {
            return self.set.confirm_delegator(role, parent);
        }
        let file = role_file_name(role);
        if let Some(local) = self.store.load(&file)? {
            if let Err(e) = self.set.load_targets(role, parent, &local) {
                tracing::debug!(role, error = %e, "stored targets no longer verify; ignored");
            }
            if self.set.targets_is_current(role) {
                return Ok(());
            }
        }
        let listed =
            self.set.snapshot().and_then(|s| s.targets_meta(role)).cloned().ok_or_else(|| {
                Error::NotListed { role: role.into(), listed_by: "snapshot".into() }
            })?;
        let name = self.versioned(&file, listed.version);
        let limit = listed.length.unwrap_or(self.set.rules().max_targets_bytes);
        let bytes = self.fetcher.fetch(&name, limit)?;
        let trusted = self.set.update_targets_owned(role, parent, bytes)?;
        self.store.save(&file, trusted.bytes())?;
        Ok(())
    }

    fn versioned(&self, file: &str, version: u64) -> String {
        if self.set.root().consistent_snapshot { format!("{version}.{file}") } else { file.into() }
    }

    /// Finds the signed entry for `path` by a pre-order depth-first search of the delegation
    /// tree (Uptane 5.4.4.7; TUF 5.6.7), fetching delegated Targets as needed. A delegation
    /// applies only if `path` matches its paths and, when `hardware_id` is given, its hardware
    /// ids include it. A terminating delegation ends the search. Must follow [`Self::refresh`].
    pub fn find_target(
        &mut self,
        path: &str,
        hardware_id: Option<&str>,
    ) -> Result<Option<FoundTarget>> {
        let mut to_visit = vec![("targets".to_string(), "root".to_string())];
        let mut visited = BTreeSet::new();
        while let Some((role, parent)) = to_visit.pop() {
            if visited.len() >= self.set.rules().max_delegations {
                break;
            }
            if !visited.insert(role.clone()) {
                continue;
            }
            self.update_targets(&role, &parent)?;
            let targets = self.set.targets(&role).map(|t| t.meta());
            let Some(targets) = targets else { break };
            if let Some(file) = targets.targets.get(path) {
                return Ok(Some(FoundTarget { path: path.into(), file: file.clone(), role }));
            }
            let Some(delegations) = &targets.delegations else {
                continue;
            };
            let mut children: Vec<&DelegatedRole> = Vec::new();
            let mut terminated = false;
            for child in &delegations.roles {
                if child.covers_path(path) && child.covers_hardware(hardware_id) {
                    children.push(child);
                    if child.terminating {
                        terminated = true;
                        break;
                    }
                }
            }
            if terminated {
                to_visit.clear();
            }
            to_visit.extend(children.iter().rev().map(|c| (c.name.to_string(), role.clone())));
        }
        Ok(None)
    }
}
