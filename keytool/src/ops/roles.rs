//! Key sets and thresholds of top-level roles, as `init` and `rotate-root` write them into Root.

use std::collections::BTreeSet;
use std::path::PathBuf;

use uptane::metadata::{Metadata, RoleKeys, Root};
use uptane::time::{set_time_keys, time_keys};

use crate::error::{Error, Result};
use crate::keys::{self, KeyFile};

/// The name keytool gives the Director's time attestation keys. They are no role of Root's
/// `roles` (stock TUF clients reject unknown roles) but a field of the Root that names them.
pub const TIME: &str = "time";

/// A role's keys (private key files can sign right away) and threshold.
#[derive(Debug)]
pub struct RoleSpec {
    pub role: &'static str,
    pub keys: Vec<KeyFile>,
    pub threshold: u32,
}

impl RoleSpec {
    /// Reads the key files and checks the threshold can be met: 1 <= threshold <= keys.
    pub fn read(role: &'static str, paths: &[PathBuf], threshold: u32) -> Result<RoleSpec> {
        RoleSpec::new(role, keys::read_all(paths)?, threshold)
    }

    /// Checks the keys are distinct and the threshold can be met.
    pub fn new(role: &'static str, keys: Vec<KeyFile>, threshold: u32) -> Result<RoleSpec> {
        let unique: BTreeSet<&str> = keys.iter().map(KeyFile::key_id).collect();
        if unique.len() != keys.len() {
            return Err(Error::Usage(format!("{role}: the same key is given twice")));
        }
        check_threshold(role, threshold, keys.len())?;
        Ok(RoleSpec { role, keys, threshold })
    }

    /// The private keys among these, to sign with now.
    pub fn signers(&self) -> impl Iterator<Item = &uptane::crypto::PrivateKey> {
        self.keys.iter().filter_map(KeyFile::signer)
    }

    /// Makes `root` list exactly these keys for this role, dropping keys no role uses any more.
    pub fn apply(&self, root: &mut Root) -> Result<()> {
        let ids = self.keys.iter().map(|k| k.key_id().to_owned()).collect();
        let keys = RoleKeys::new(ids, self.threshold);
        match self.role {
            TIME => set_time_keys(root, &keys),
            role => _ = root.roles.insert(role.into(), keys),
        }
        for key in &self.keys {
            root.keys.insert(key.key_id().to_owned(), key.public_key().clone());
        }
        let mut used: BTreeSet<String> =
            root.roles.values().flat_map(|r| r.keyids.clone()).collect();
        used.extend(time_keys(root)?.map(|t| t.keyids).unwrap_or_default());
        root.keys.retain(|id, _| used.contains(id));
        Ok(())
    }
}

/// A threshold that more keys than exist would have to meet can never be met.
pub fn check_threshold(role: &str, threshold: u32, keys: usize) -> Result<()> {
    if threshold == 0 || threshold as usize > keys {
        return Err(Error::Usage(format!(
            "{role}: threshold {threshold} must be between 1 and the number of keys ({keys})"
        )));
    }
    Ok(())
}

/// Checks a whole Root: structure, and every threshold reachable.
pub fn check_root(root: &Root) -> Result<()> {
    root.validate("root")?;
    for (role, keys) in &root.roles {
        check_threshold(role, keys.threshold, keys.keyids.len())?;
    }
    if let Some(time) = time_keys(root)? {
        check_threshold(TIME, time.threshold, time.keyids.len())?;
        if let Some(missing) = time.keyids.iter().find(|id| !root.keys.contains_key(*id)) {
            return Err(Error::Usage(format!("time: key {missing} is not in the root's keys")));
        }
    }
    shared_key_warnings(root);
    Ok(())
}

/// BP 4.2.2.2: each key should serve one role only; allowed, but worth a warning.
fn shared_key_warnings(root: &Root) {
    for id in root.keys.keys() {
        let roles: Vec<&str> = root
            .roles
            .iter()
            .filter(|(_, r)| r.keyids.contains(id))
            .map(|(name, _)| name.as_str())
            .collect();
        if roles.len() > 1 {
            tracing::warn!(
                key = keys::short(id),
                roles = roles.join(", "),
                "one key serves several roles (Best Practices 4.2.2.2 advise against it)"
            );
        }
    }
}
