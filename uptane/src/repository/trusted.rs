//! The trusted metadata of one repository and every check that admits new metadata into it
//! (profile §3.3: R1-R4, TS1-TS3, S1-S6, T2-T5). No I/O: bytes in, verdicts out.
//!
//! Previously trusted files are loaded with the `load_*` methods: they must still verify
//! against the current Root, but may be expired or superseded; they are the baseline that
//! rollback checks compare against. New files go through the `update_*` methods.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};

use super::Rules;
use crate::crypto::{KeyMap, MultiHasher, check_key_ids};
use crate::error::{Error, Result};
use crate::metadata::{Envelope, MetaFile, Metadata, Root, Snapshot, Targets, Timestamp};
use crate::names::TargetPath;

/// Metadata that passed verification, with the exact bytes it arrived as.
#[derive(Debug, Clone)]
pub struct Trusted<M> {
    value: M,
    bytes: Vec<u8>,
    /// The Snapshot entry these bytes were found to match in length and every hash. A Targets
    /// file is asked about once per image looked up; hashing hundreds of KB each time would
    /// cost more than verifying it. Kept with the bytes, so new bytes start unmatched.
    matched: Option<MetaFile>,
}

impl<M> Trusted<M> {
    fn new(value: M, bytes: impl Into<Vec<u8>>) -> Trusted<M> {
        Trusted { value, bytes: bytes.into(), matched: None }
    }

    fn matching(self, matched: Option<MetaFile>) -> Trusted<M> {
        Trusted { matched, ..self }
    }

    /// Whether the bytes have the length and hashes `listed` gives (S1, T2); hashed only if
    /// they were not found to match this very entry before.
    fn matches(&self, role: &str, listed_by: &str, listed: &MetaFile) -> bool {
        self.matched.as_ref() == Some(listed)
            || check_meta_bytes(role, listed_by, listed, &self.bytes).is_ok()
    }

    pub fn meta(&self) -> &M {
        &self.value
    }

    /// The bytes as received: what is stored and passed on to Secondaries.
    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }
}

impl<M> std::ops::Deref for Trusted<M> {
    type Target = M;
    fn deref(&self) -> &M {
        &self.value
    }
}

/// What a Timestamp update found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimestampUpdate {
    /// A newer Timestamp was trusted.
    Updated,
    /// The same version as the trusted one: nothing new (TUF: not an error).
    Unchanged,
}

/// The verified state of one repository for one update cycle.
#[derive(Debug, Clone)]
pub struct TrustedSet {
    rules: Rules,
    now: DateTime<Utc>,
    root: Trusted<Root>,
    timestamp: Option<Trusted<Timestamp>>,
    snapshot: Option<Trusted<Snapshot>>,
    targets: BTreeMap<String, Trusted<Targets>>,
    /// The role whose keys each trusted Targets was verified with.
    delegators: BTreeMap<String, String>,
}

impl TrustedSet {
    /// Starts from a Root trusted out of band (provisioned, or stored by an earlier cycle). It
    /// must be signed by its own threshold; its expiry is checked later (R3).
    pub fn new(root: &[u8], now: DateTime<Utc>, rules: Rules) -> Result<TrustedSet> {
        let unverified = Envelope::parse(root, "root")?.decode::<Root>("root")?;
        let own = unverified.body();
        unverified.verify("root", &own.keys, own.role("root")?)?;
        let meta = unverified.into_body();
        let set = TrustedSet {
            rules,
            now,
            root: Trusted::new(meta, root),
            timestamp: None,
            snapshot: None,
            targets: BTreeMap::new(),
            delegators: BTreeMap::new(),
        };
        set.check_root_rules(&set.root)?;
        Ok(set)
    }

    pub fn rules(&self) -> &Rules {
        &self.rules
    }

    /// The fixed time of this cycle.
    pub fn now(&self) -> DateTime<Utc> {
        self.now
    }

    /// Sets the cycle's time, once it is known ([`super::Updater::judge_at`]).
    pub(crate) fn set_now(&mut self, now: DateTime<Utc>) {
        self.now = now;
    }

    pub fn root(&self) -> &Trusted<Root> {
        &self.root
    }

    pub fn timestamp(&self) -> Option<&Trusted<Timestamp>> {
        self.timestamp.as_ref()
    }

    pub fn snapshot(&self) -> Option<&Trusted<Snapshot>> {
        self.snapshot.as_ref()
    }

    /// Trusted Targets of `role` (`targets` or a delegated role).
    pub fn targets(&self, role: &str) -> Option<&Trusted<Targets>> {
        self.targets.get(role)
    }

    fn check_root_rules(&self, root: &Root) -> Result<()> {
        if self.rules.require_consistent_snapshot && !root.consistent_snapshot {
            return Err(Error::malformed("root", "consistent_snapshot must be true"));
        }
        self.check_key_ids(&root.keys)
    }

    fn check_key_ids(&self, keys: &KeyMap) -> Result<()> {
        if self.rules.verify_key_ids { check_key_ids(keys) } else { Ok(()) }
    }

    /// R1, R2: admits Root N+1, signed by the thresholds of both Root N and itself, with
    /// version exactly N+1. Expiry is not checked (intermediate roots may be expired).
    /// R4: if the Timestamp or Snapshot keys changed, the trusted Timestamp and Snapshot are
    /// dropped (fast-forward recovery); so are all Targets if the Targets keys changed.
    /// Returns whether Timestamp and Snapshot were dropped.
    pub fn update_root(&mut self, bytes: &[u8]) -> Result<bool> {
        let unverified = Envelope::parse(bytes, "root")?.decode::<Root>("root")?;
        let own = unverified.body();
        unverified.verify("root", &self.root.keys, self.root.role("root")?)?;
        unverified.verify("root", &own.keys, own.role("root")?)?;
        let new = unverified.into_body();
        let expected = self.root.version + 1;
        if new.version != expected {
            return Err(Error::RootVersion { expected, found: new.version });
        }
        self.check_root_rules(&new)?;
        let old = std::mem::replace(&mut self.root, Trusted::new(new, bytes));
        let changed = |role: &str| old.role_key_set(role) != self.root.role_key_set(role);
        let rotated = changed("timestamp") || changed("snapshot");
        if rotated {
            self.timestamp = None;
            self.snapshot = None;
        }
        if changed("targets") {
            self.targets.clear();
            self.delegators.clear();
        }
        Ok(rotated)
    }

    /// R3: the final Root must not be expired.
    pub fn check_root_fresh(&self) -> Result<()> {
        self.root.check_fresh("root", self.now)
    }

    /// Loads the previously trusted Timestamp as the rollback baseline.
    pub fn load_timestamp(&mut self, bytes: &[u8]) -> Result<()> {
        let meta: Timestamp = self.verify_top_level(bytes, "timestamp")?;
        self.timestamp = Some(Trusted::new(meta, bytes));
        Ok(())
    }

    /// TS1-TS3: admits a new Timestamp.
    pub fn update_timestamp(&mut self, bytes: &[u8]) -> Result<TimestampUpdate> {
        self.check_root_fresh()?;
        let new: Timestamp = self.verify_top_level(bytes, "timestamp")?;
        let snapshot_meta = new.snapshot_meta();
        if self.rules.timestamp_lists_snapshot_hashes && snapshot_meta.hashes.is_none() {
            return Err(Error::malformed("timestamp", "snapshot.json has no hashes"));
        }
        self.check_meta_hashes("timestamp", snapshot_meta)?;
        if let Some(old) = &self.timestamp {
            if new.version < old.version {
                return Err(Error::VersionRollback {
                    role: "timestamp".into(),
                    trusted: old.version,
                    new: new.version,
                });
            }
            if new.version == old.version {
                old.check_fresh("timestamp", self.now)?;
                return Ok(TimestampUpdate::Unchanged);
            }
            let (old_snapshot, new_snapshot) = (old.snapshot_meta().version, snapshot_meta.version);
            if new_snapshot < old_snapshot {
                return Err(Error::MetaRollback {
                    role: "timestamp".into(),
                    file: "snapshot.json".into(),
                    trusted: old_snapshot,
                    new: new_snapshot,
                });
            }
        }
        new.check_fresh("timestamp", self.now)?;
        self.timestamp = Some(Trusted::new(new, bytes));
        Ok(TimestampUpdate::Updated)
    }

    /// Loads the previously trusted Snapshot as the rollback baseline.
    pub fn load_snapshot(&mut self, bytes: &[u8]) -> Result<()> {
        let meta: Snapshot = self.verify_top_level(bytes, "snapshot")?;
        self.snapshot = Some(Trusted::new(meta, bytes));
        Ok(())
    }

    /// Whether the trusted Snapshot is the one the trusted Timestamp names and still fresh
    /// (Uptane 5.4.4.2 step 4: then there is nothing new to fetch).
    pub fn snapshot_is_current(&self) -> bool {
        match (&self.timestamp, &self.snapshot) {
            (Some(timestamp), Some(snapshot)) => {
                let listed = timestamp.snapshot_meta();
                check_meta_version("snapshot", "timestamp", listed, snapshot.version).is_ok()
                    && check_meta_bytes("snapshot", "timestamp", listed, &snapshot.bytes).is_ok()
                    && snapshot.check_fresh("snapshot", self.now).is_ok()
            }
            _ => false,
        }
    }

    /// S1-S6: admits a new Snapshot.
    pub fn update_snapshot(&mut self, bytes: &[u8]) -> Result<()> {
        let timestamp = self.timestamp.as_ref().ok_or_else(|| missing("timestamp"))?;
        timestamp.check_fresh("timestamp", self.now)?;
        let listed = timestamp.snapshot_meta();
        check_meta_bytes("snapshot", "timestamp", listed, bytes)?;
        let new: Snapshot = self.verify_top_level(bytes, "snapshot")?;
        check_meta_version("snapshot", "timestamp", listed, new.version)?;
        for meta in new.meta.values() {
            self.check_meta_hashes("snapshot", meta)?;
        }
        if let Some(old) = &self.snapshot {
            if new.version < old.version {
                return Err(Error::VersionRollback {
                    role: "snapshot".into(),
                    trusted: old.version,
                    new: new.version,
                });
            }
            for (file, old_meta) in &old.meta {
                let new_meta =
                    new.meta.get(file).ok_or_else(|| Error::MetaRemoved { file: file.clone() })?;
                if new_meta.version < old_meta.version {
                    return Err(Error::MetaRollback {
                        role: "snapshot".into(),
                        file: file.clone(),
                        trusted: old_meta.version,
                        new: new_meta.version,
                    });
                }
            }
        }
        new.check_fresh("snapshot", self.now)?;
        self.snapshot = Some(Trusted::new(new, bytes));
        Ok(())
    }

    /// Loads previously trusted Targets of `role` (delegated by `parent`) as the baseline. If
    /// the trusted Snapshot lists the role, whether the bytes match its entry is noted, so
    /// that [`Self::targets_is_current`] does not hash them again.
    pub fn load_targets(&mut self, role: &str, parent: &str, bytes: &[u8]) -> Result<()> {
        let meta = self.verify_targets_signature(role, parent, bytes)?;
        let listed = self.snapshot.as_ref().and_then(|s| s.targets_meta(role));
        // A copy of another version cannot be current: not worth hashing.
        let matched = listed
            .filter(|listed| {
                listed.version == meta.version
                    && check_meta_bytes(role, "snapshot", listed, bytes).is_ok()
            })
            .cloned();
        self.targets.insert(role.into(), Trusted::new(meta, bytes).matching(matched));
        self.delegators.insert(role.into(), parent.into());
        Ok(())
    }

    /// A role delegated by several roles was verified with one delegator's keys; reached
    /// through `parent`, it must meet `parent`'s keys and threshold too.
    pub fn confirm_delegator(&mut self, role: &str, parent: &str) -> Result<()> {
        if self.delegators.get(role).is_some_and(|p| p == parent) {
            return Ok(());
        }
        let bytes = &self.targets.get(role).ok_or_else(|| missing(role))?.bytes;
        self.verify_targets_signature(role, parent, bytes)?;
        self.delegators.insert(role.into(), parent.into());
        Ok(())
    }

    /// Whether the trusted Targets of `role` are the version the Snapshot lists and fresh.
    pub fn targets_is_current(&self, role: &str) -> bool {
        let listed = self.snapshot.as_ref().and_then(|s| s.targets_meta(role));
        match (listed, self.targets.get(role)) {
            (Some(listed), Some(targets)) => {
                check_meta_version(role, "snapshot", listed, targets.version).is_ok()
                    && targets.matches(role, "snapshot", listed)
                    && targets.check_fresh(role, self.now).is_ok()
            }
            _ => false,
        }
    }

    /// T2-T5: admits new Targets of `role`, delegated by `parent` (`root` for the top level).
    pub fn update_targets(&mut self, role: &str, parent: &str, bytes: &[u8]) -> Result<()> {
        self.update_listed_targets(role, parent, bytes).map(|_| ())
    }

    /// [`Self::update_targets`] keeping the fetched bytes themselves rather than a copy: a
    /// Targets file may be hundreds of KB.
    pub(super) fn update_targets_owned(
        &mut self,
        role: &str,
        parent: &str,
        bytes: Vec<u8>,
    ) -> Result<&Trusted<Targets>> {
        self.update_listed_targets(role, parent, bytes)
    }

    fn update_listed_targets(
        &mut self,
        role: &str,
        parent: &str,
        bytes: impl AsRef<[u8]> + Into<Vec<u8>>,
    ) -> Result<&Trusted<Targets>> {
        let snapshot = self.snapshot.as_ref().ok_or_else(|| missing("snapshot"))?;
        snapshot.check_fresh("snapshot", self.now)?;
        let listed = snapshot.targets_meta(role).ok_or_else(|| not_listed(role))?;
        check_meta_bytes(role, "snapshot", listed, bytes.as_ref())?;
        let new = self.verify_targets_signature(role, parent, bytes.as_ref())?;
        check_meta_version(role, "snapshot", listed, new.version)?;
        let matched = listed.clone();
        self.admit_targets(role, parent, new, bytes, Some(matched))
    }

    /// Partial verification (Uptane 5.4.4.1): admits Director Targets without a Snapshot
    /// (T2 skipped), keys and threshold from the trusted Root.
    pub fn update_targets_unlisted(&mut self, bytes: &[u8]) -> Result<()> {
        let new = self.verify_targets_signature("targets", "root", bytes)?;
        self.admit_targets("targets", "root", new, bytes, None).map(|_| ())
    }

    /// T4, T5 and the profile's path and hash rules, then trust. `matched` is the Snapshot
    /// entry the bytes were checked against, if any.
    fn admit_targets(
        &mut self,
        role: &str,
        parent: &str,
        new: Targets,
        bytes: impl Into<Vec<u8>>,
        matched: Option<MetaFile>,
    ) -> Result<&Trusted<Targets>> {
        if self.rules.targets_version_monotonic
            && let Some(old) = self.targets.get(role)
            && new.version < old.version
        {
            return Err(Error::VersionRollback {
                role: role.into(),
                trusted: old.version,
                new: new.version,
            });
        }
        new.check_fresh(role, self.now)?;
        for (path, target) in &new.targets {
            if self.rules.validate_target_paths {
                TargetPath::new(path.as_str())?;
            }
            if self.rules.require_sha256 && !target.hashes.contains_key("sha256") {
                return Err(Error::NoUsableHash { target: path.clone(), required: "sha256" });
            }
        }
        self.delegators.insert(role.into(), parent.into());
        let trusted = Trusted::new(new, bytes).matching(matched);
        Ok(self.targets.entry(role.into()).insert_entry(trusted).into_mut())
    }

    /// Decodes Targets of `role` and checks T3 against the keys `parent` gives it.
    fn verify_targets_signature(&self, role: &str, parent: &str, bytes: &[u8]) -> Result<Targets> {
        let unverified = Envelope::parse(bytes, role)?.decode::<Targets>(role)?;
        if parent == "root" {
            unverified.verify(role, &self.root.keys, self.root.role("targets")?)?;
        } else {
            let delegations = self
                .targets
                .get(parent)
                .and_then(|p| p.delegations.as_ref())
                .ok_or_else(|| missing(parent))?;
            let delegated = delegations.role(role).ok_or_else(|| Error::NotFound {
                what: format!("delegation of {role} in {parent}"),
            })?;
            unverified.verify(role, &delegations.keys, &delegated.role_keys())?;
        }
        let meta = unverified.into_body();
        if let Some(delegations) = &meta.delegations {
            self.check_key_ids(&delegations.keys)?;
        }
        Ok(meta)
    }

    /// Decodes a top-level role and checks its threshold against the trusted Root.
    fn verify_top_level<M: Metadata>(&self, bytes: &[u8], role: &str) -> Result<M> {
        let unverified = Envelope::parse(bytes, role)?.decode::<M>(role)?;
        unverified.verify(role, &self.root.keys, self.root.role(role)?)?;
        Ok(unverified.into_body())
    }

    /// The profile: a listed hash set must include sha256.
    fn check_meta_hashes(&self, role: &str, meta: &MetaFile) -> Result<()> {
        match &meta.hashes {
            Some(hashes) if self.rules.require_sha256 && !hashes.contains_key("sha256") => {
                Err(Error::malformed(role, "a listed hash set lacks sha256"))
            }
            _ => Ok(()),
        }
    }
}

fn not_listed(role: &str) -> Error {
    Error::NotListed { role: role.into(), listed_by: "snapshot".into() }
}

fn missing(role: &str) -> Error {
    Error::NotFound { what: format!("trusted {role} metadata") }
}

/// Checks a version against the one a MetaFile lists (S1, T2).
fn check_meta_version(role: &str, listed_by: &str, meta: &MetaFile, version: u64) -> Result<()> {
    if meta.version != version {
        return Err(Error::MetaVersionMismatch {
            role: role.into(),
            listed_by: listed_by.into(),
            expected: meta.version,
            found: version,
        });
    }
    Ok(())
}

/// Checks `bytes` against the length and hashes a MetaFile lists (S1, T2), before parsing.
fn check_meta_bytes(role: &str, listed_by: &str, meta: &MetaFile, bytes: &[u8]) -> Result<()> {
    if let Some(length) = meta.length
        && length != bytes.len() as u64
    {
        return Err(Error::MetaLengthMismatch {
            role: role.into(),
            listed_by: listed_by.into(),
            expected: length,
            found: bytes.len() as u64,
        });
    }
    if let Some(hashes) = &meta.hashes
        && let Some(algorithm) = MultiHasher::check(hashes, bytes)
    {
        return Err(Error::MetaHashMismatch {
            role: role.into(),
            listed_by: listed_by.into(),
            algorithm,
        });
    }
    Ok(())
}
