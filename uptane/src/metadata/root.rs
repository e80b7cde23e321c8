//! `root.json`: the keys and thresholds of all four roles (Standard 5.2.2).

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::{Metadata, SPEC_VERSION, check_version, tuf_time};
use crate::crypto::{KeyMap, PublicKey};
use crate::error::{Error, Result};

/// The key ids and threshold of one role.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RoleKeys {
    pub keyids: Vec<String>,
    pub threshold: u32,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl RoleKeys {
    pub fn new(keyids: Vec<String>, threshold: u32) -> RoleKeys {
        RoleKeys { keyids, threshold, extra: Map::new() }
    }

    pub(super) fn validate(&self, role: &str) -> Result<()> {
        if self.threshold == 0 {
            return Err(Error::malformed(role, "threshold must be at least 1"));
        }
        let mut ids: Vec<&String> = self.keyids.iter().collect();
        ids.sort();
        ids.dedup();
        if ids.len() != self.keyids.len() {
            return Err(Error::malformed(role, "a key id is listed twice"));
        }
        Ok(())
    }
}

/// The signed body of `root.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Root {
    #[serde(rename = "_type")]
    pub kind: String,
    pub spec_version: String,
    #[serde(default)]
    pub consistent_snapshot: bool,
    pub version: u64,
    #[serde(with = "tuf_time")]
    pub expires: DateTime<Utc>,
    pub keys: KeyMap,
    pub roles: BTreeMap<String, RoleKeys>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// The four roles a Root must define.
pub const ROOT_ROLES: [&str; 4] = ["root", "targets", "snapshot", "timestamp"];

impl Root {
    /// A version-1 root with no keys yet; add them with [`Root::add_key`].
    pub fn new(expires: DateTime<Utc>) -> Root {
        Root {
            kind: Self::TYPE.into(),
            spec_version: SPEC_VERSION.into(),
            consistent_snapshot: true,
            version: 1,
            expires,
            keys: KeyMap::new(),
            roles: ROOT_ROLES.iter().map(|r| (r.to_string(), RoleKeys::new(vec![], 1))).collect(),
            extra: Map::new(),
        }
    }

    /// Adds `key` to `role` (and to `keys`).
    pub fn add_key(&mut self, role: &str, key: &PublicKey) -> Result<String> {
        let keyid = key.key_id()?;
        let entry = self
            .roles
            .get_mut(role)
            .ok_or_else(|| Error::Other(format!("root has no role {role:?}")))?;
        if !entry.keyids.contains(&keyid) {
            entry.keyids.push(keyid.clone());
        }
        self.keys.insert(keyid.clone(), key.clone());
        Ok(keyid)
    }

    /// Removes a key from `role`, and from `keys` if no role uses it any more.
    pub fn remove_key(&mut self, role: &str, keyid: &str) -> Result<()> {
        let entry = self
            .roles
            .get_mut(role)
            .ok_or_else(|| Error::Other(format!("root has no role {role:?}")))?;
        entry.keyids.retain(|k| k != keyid);
        if !self.roles.values().any(|r| r.keyids.iter().any(|k| k == keyid)) {
            self.keys.remove(keyid);
        }
        Ok(())
    }

    /// The keys and threshold of a top-level role.
    pub fn role(&self, role: &str) -> Result<&RoleKeys> {
        self.roles.get(role).ok_or_else(|| Error::malformed("root", format!("no role {role:?}")))
    }

    /// The key objects of `role`, by id (for detecting key rotations).
    pub fn role_key_set(&self, role: &str) -> Vec<(&str, Option<&PublicKey>)> {
        let mut set: Vec<_> = self
            .roles
            .get(role)
            .map(|r| r.keyids.iter().map(|id| (id.as_str(), self.keys.get(id))).collect())
            .unwrap_or_default();
        set.sort_by_key(|(id, _)| *id);
        set
    }
}

impl Metadata for Root {
    const TYPE: &'static str = "root";

    fn kind(&self) -> &str {
        &self.kind
    }

    fn spec_version(&self) -> &str {
        &self.spec_version
    }

    fn version(&self) -> u64 {
        self.version
    }

    fn expires(&self) -> DateTime<Utc> {
        self.expires
    }

    fn validate(&self, role: &str) -> Result<()> {
        check_version(role, self.version)?;
        // Stock TUF clients reject any other role, so Uptane extensions live in other fields.
        if let Some(extra) = self.roles.keys().find(|r| !ROOT_ROLES.contains(&r.as_str())) {
            return Err(Error::malformed(role, format!("unknown role {extra:?}")));
        }
        for name in ROOT_ROLES {
            self.roles
                .get(name)
                .ok_or_else(|| Error::malformed(role, format!("role {name} is missing")))?
                .validate(role)?;
        }
        Ok(())
    }
}
