//! The online keys (targets, snapshot, timestamp, time). The service holds a key ring: the four
//! default keys (given as files, or generated on first start into DATA/keys, mode 0600), every
//! other `*.pem` in DATA/keys, and each `--online-key` file. Which ring key signs for a role is
//! decided by the current Director root, so rotating an online key is an offline root change
//! (profile §6.8 KM-6): put the new key file in place, upload root N+1 naming it, and the
//! service signs with it from then on. Signing goes through `uptane::crypto::Signer`, so an HSM
//! can stand in.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

pub use service_kit::keys::write_private;
use uptane::crypto::{PrivateKey, PublicKey, Signer};
use uptane::metadata::Root;

use crate::config::Config;
use crate::error::{Error, Result};
use crate::metrics::Metrics;

/// The online roles, in the order [`OnlineKeys::named`] lists them.
pub const ROLES: [&str; 4] = ["targets", "snapshot", "timestamp", "time"];

/// The signers in use, one per online role.
#[derive(Clone)]
pub struct OnlineKeys {
    pub targets: Arc<dyn Signer>,
    pub snapshot: Arc<dyn Signer>,
    pub timestamp: Arc<dyn Signer>,
    pub time: Arc<dyn Signer>,
}

impl std::fmt::Debug for OnlineKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OnlineKeys")
            .field("targets", &self.targets.key_id())
            .field("snapshot", &self.snapshot.key_id())
            .field("timestamp", &self.timestamp.key_id())
            .field("time", &self.time.key_id())
            .finish()
    }
}

impl OnlineKeys {
    /// Each key with its role name (`targets`, `snapshot`, `timestamp`, `time`).
    pub fn named(&self) -> [(&'static str, &dyn Signer); 4] {
        [
            ("targets", &*self.targets),
            ("snapshot", &*self.snapshot),
            ("timestamp", &*self.timestamp),
            ("time", &*self.time),
        ]
    }
}

/// Every private key the service holds, by key id, and the four defaults.
pub struct KeyRing {
    keys: BTreeMap<String, Arc<PrivateKey>>,
    /// Key ids of the default targets, snapshot, timestamp and time keys.
    default_ids: [String; 4],
    dir: PathBuf,
    extra: Vec<PathBuf>,
}

impl std::fmt::Debug for KeyRing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyRing").field("key_ids", &self.keys.keys()).finish_non_exhaustive()
    }
}

impl KeyRing {
    /// Loads (generating the defaults on first start) every key the configuration names.
    pub fn load(config: &Config) -> Result<KeyRing> {
        let dir = config.dir("keys");
        let defaults = service_kit::keys::load_or_generate(
            &dir,
            [
                ("targets", config.targets_key.as_deref()),
                ("snapshot", config.snapshot_key.as_deref()),
                ("timestamp", config.timestamp_key.as_deref()),
                ("time", config.time_key.as_deref()),
            ],
        )?;
        let default_ids = defaults.each_ref().map(|k| k.key_id().to_owned());
        let mut ring =
            KeyRing { keys: BTreeMap::new(), default_ids, dir, extra: config.online_keys.clone() };
        for key in defaults {
            ring.keys.insert(key.key_id().to_owned(), Arc::new(key));
        }
        ring.rescan()?;
        Ok(ring)
    }

    /// Adds the keys now in DATA/keys and the `--online-key` files (an operator preparing a
    /// rotation puts the new keys there while the service runs).
    pub fn rescan(&mut self) -> Result<()> {
        let mut paths = self.extra.clone();
        let entries = std::fs::read_dir(&self.dir).map_err(|e| Error::io(self.dir.display(), e))?;
        for entry in entries {
            let path = entry.map_err(|e| Error::io(self.dir.display(), e))?.path();
            if path.extension().is_some_and(|x| x == "pem") {
                paths.push(path);
            }
        }
        for path in paths {
            match PrivateKey::read(&path) {
                Ok(key) => {
                    if !self.keys.contains_key(key.key_id()) {
                        tracing::info!(path = %path.display(), key_id = key.key_id(), "online key loaded");
                        self.keys.insert(key.key_id().to_owned(), Arc::new(key));
                    }
                }
                Err(e) => tracing::warn!(path = %path.display(), error = %e, "not an online key"),
            }
        }
        Ok(())
    }

    /// The public keys held, by key id.
    pub fn public_keys(&self) -> BTreeMap<&str, &PublicKey> {
        self.keys.iter().map(|(id, k)| (id.as_str(), k.public_key())).collect()
    }

    /// The default keys, each counted in `metrics` when it signs.
    pub fn defaults(&self, metrics: Option<&Arc<Metrics>>) -> OnlineKeys {
        let [targets, snapshot, timestamp, time] =
            self.default_ids.each_ref().map(|id| self.keys[id].clone());
        keys_of([targets, snapshot, timestamp, time], metrics)
    }

    /// The signers `root` names for each online role (threshold 1, a key this ring holds), or
    /// the roles it names no held key for, with the key ids it does name.
    pub fn for_root(
        &self,
        root: &Root,
        metrics: Option<&Arc<Metrics>>,
    ) -> Result<OnlineKeys, Vec<String>> {
        let mut chosen = Vec::with_capacity(4);
        let mut missing = Vec::new();
        for role in ROLES {
            let listed = if role == "time" {
                uptane::time::time_keys(root).ok().flatten()
            } else {
                root.roles.get(role).cloned()
            };
            let held = listed.as_ref().filter(|r| r.threshold == 1).and_then(|r| {
                r.keyids
                    .iter()
                    .filter(|id| root.keys.contains_key(*id))
                    .find_map(|id| self.keys.get(id))
            });
            match held {
                Some(key) => chosen.push(key.clone()),
                None => missing.push(match listed {
                    None => format!("{role}: the root names no key"),
                    Some(r) if r.threshold != 1 => {
                        format!(
                            "{role}: threshold {} (online roles sign with one key)",
                            r.threshold
                        )
                    }
                    Some(r) => format!("{role}: none of {:?} is held", r.keyids),
                }),
            }
        }
        match <[Arc<PrivateKey>; 4]>::try_from(chosen) {
            Ok(keys) if missing.is_empty() => Ok(keys_of(keys, metrics)),
            _ => Err(missing),
        }
    }
}

fn keys_of(keys: [Arc<PrivateKey>; 4], metrics: Option<&Arc<Metrics>>) -> OnlineKeys {
    let [targets, snapshot, timestamp, time] = keys;
    let wrap = |role: &'static str, key: Arc<PrivateKey>| -> Arc<dyn Signer> {
        match metrics {
            Some(metrics) => Arc::new(Counted { role, key, metrics: metrics.clone() }),
            None => key,
        }
    };
    OnlineKeys {
        targets: wrap("targets", targets),
        snapshot: wrap("snapshot", snapshot),
        timestamp: wrap("timestamp", timestamp),
        time: wrap("time", time),
    }
}

/// A signer that counts its signatures in the metrics.
struct Counted {
    role: &'static str,
    key: Arc<PrivateKey>,
    metrics: Arc<Metrics>,
}

impl Signer for Counted {
    fn public_key(&self) -> &PublicKey {
        self.key.public_key()
    }

    fn key_id(&self) -> &str {
        self.key.key_id()
    }

    fn sign(&self, message: &[u8]) -> uptane::Result<Vec<u8>> {
        self.metrics.count_signature(self.role);
        self.key.sign(message)
    }
}
