//! The service's shared state: configuration, database, online keys (the ring, and which of
//! its keys the current root names), the signed-bundle cache, metrics and the credentials.

use std::sync::{Arc, Mutex, MutexGuard, RwLock};
use std::time::Instant;

use ring::rand::SecureRandom;
pub(crate) use service_kit::sha256;
use subtle::ConstantTimeEq;

use crate::cache::{BundleCache, VehicleCache};
use crate::config::Config;
use crate::error::{Error, Rejection, Rejections as _, Result};
use crate::image_repo::ImageRepo;
use crate::keys::{KeyRing, OnlineKeys, write_private};
use crate::metrics::Metrics;
use crate::storage::Db;

/// Per-vehicle signing is serialised through one of this many locks (by VIN hash).
const SIGNING_LOCKS: usize = 64;

/// The keys in use and the root version that names them (`None`: no root yet, the defaults).
#[derive(Debug, Clone)]
struct Active {
    root_version: Option<u64>,
    keys: Arc<OnlineKeys>,
    /// Set while the root's keys are missing here: when to look for them again.
    retry_at: Option<Instant>,
    /// Changes with every change of `keys`.
    epoch: u64,
}

#[derive(Debug)]
pub struct AppState {
    pub config: Config,
    pub db: Db,
    pub metrics: Arc<Metrics>,
    pub cache: BundleCache,
    /// The inventory each vehicle's last manifest was judged against, as it left it.
    pub inventories: VehicleCache<crate::manifest::Known>,
    /// The Image repository, read as a verifying client (none configured: no assignments).
    pub image_repo: Option<ImageRepo>,
    ring: Mutex<KeyRing>,
    active: RwLock<Active>,
    /// sha256 of the operator token.
    operator_token: [u8; 32],
    /// sha256 of the fleet provisioning token, when provisioning by Primaries is enabled.
    provisioning_token: Option<[u8; 32]>,
    /// Serialise signing of one vehicle's bundles within this process (the database key
    /// catches other processes).
    signing: [Mutex<()>; SIGNING_LOCKS],
}

impl AppState {
    /// Opens (creating on first start) the data directory, database, keys and operator token.
    pub fn open(config: Config) -> Result<AppState> {
        let data = config.data_dir.clone();
        std::fs::create_dir_all(&data).map_err(|e| Error::io(data.display(), e))?;
        let db = Db::open(&config.database_url())?;
        let metrics = Arc::new(Metrics::default());
        let ring = KeyRing::load(&config)?;
        let defaults = Arc::new(ring.defaults(Some(&metrics)));
        let token = match &config.operator_token {
            Some(token) => token.clone(),
            None => generated_token(&config)?,
        };
        let provisioning_token =
            config.provisioning_token.as_deref().map(|t| sha256(t.trim().as_bytes()));
        let image_repo = ImageRepo::open(&config)?;
        let state = AppState {
            image_repo,
            db,
            metrics,
            cache: BundleCache::new(config.cached_vehicles),
            inventories: VehicleCache::new(config.cached_vehicles),
            ring: Mutex::new(ring),
            active: RwLock::new(Active {
                root_version: None,
                keys: defaults,
                retry_at: None,
                epoch: 0,
            }),
            operator_token: sha256(token.trim().as_bytes()),
            provisioning_token,
            signing: std::array::from_fn(|_| Mutex::new(())),
            config,
        };
        state.sync_keys()?;
        tracing::info!(keys = ?state.keys(), backend = ?state.db.backend(), "state loaded");
        Ok(state)
    }

    /// The signers in use.
    pub fn keys(&self) -> Arc<OnlineKeys> {
        self.active.read().unwrap_or_else(|e| e.into_inner()).keys.clone()
    }

    /// Follows the newest Director root in the database (any process may have stored it):
    /// switches to the keys it names when it is newer than the one in use, or when its keys
    /// were missing here and have been installed since. Returns the signers in use and their
    /// epoch, a number that changes whenever they change (bundles signed under another epoch
    /// are signed again); `None` while there is no root.
    pub fn sync_keys(&self) -> Result<Option<(u64, Arc<OnlineKeys>)>> {
        self.sync_keys_to(self.db.latest_root_version()?)
    }

    /// [`Self::sync_keys`] with the newest root's version already read (`latest`).
    pub fn sync_keys_to(&self, latest: Option<i64>) -> Result<Option<(u64, Arc<OnlineKeys>)>> {
        let Some(version) = latest else { return Ok(None) };
        let version = version as u64;
        let current = self.active.read().unwrap_or_else(|e| e.into_inner()).clone();
        let settled = current.retry_at.is_none_or(|at| Instant::now() < at);
        if current.root_version == Some(version) && settled {
            return Ok(Some((current.epoch, current.keys)));
        }
        let bytes = self
            .db
            .root(version as i64)?
            .ok_or_else(|| Error::Internal(format!("root {version} vanished")))?;
        let bytes = hex::decode(bytes).map_err(|e| Error::Internal(e.to_string()))?;
        let root = crate::root::parse(&bytes)?;
        match self.keys_for(&root) {
            Ok(keys) => self.activate(version, keys),
            Err(rejection) => {
                // Keep signing with the keys in use: vehicles still on the old root accept them.
                tracing::error!(version, error = %rejection.message, "the newest Director root names online keys this process does not hold");
                let mut active = self.active.write().unwrap_or_else(|e| e.into_inner());
                active.root_version = Some(version);
                // The operator installs the keys on every host: look again each re-signing
                // interval.
                let wait = self.config.resign_interval.to_std().unwrap_or_default();
                active.retry_at = Some(Instant::now() + wait);
            }
        }
        let active = self.active.read().unwrap_or_else(|e| e.into_inner());
        Ok(Some((active.epoch, active.keys.clone())))
    }

    /// The signers `root` names, rescanning the key files once if one is missing; the
    /// rejection (`online_keys_missing`) says which roles lack a held key.
    pub fn keys_for(&self, root: &uptane::metadata::Root) -> Result<OnlineKeys, Rejection> {
        let mut ring = self.ring.lock().unwrap_or_else(|e| e.into_inner());
        if let Ok(keys) = ring.for_root(root, Some(&self.metrics)) {
            return Ok(keys);
        }
        if let Err(e) = ring.rescan() {
            tracing::warn!(error = %e, "rescanning the online keys");
        }
        ring.for_root(root, Some(&self.metrics))
            .map_err(|missing| crate::root::keys_missing(&ring, &missing))
    }

    /// Signs with `keys` from root `version` on.
    pub fn activate(&self, version: u64, keys: OnlineKeys) {
        let mut active = self.active.write().unwrap_or_else(|e| e.into_inner());
        if active.root_version.is_some_and(|v| v > version) {
            return;
        }
        tracing::info!(root = version, keys = ?keys, "signing with the keys of the Director root");
        *active = Active {
            root_version: Some(version),
            keys: Arc::new(keys),
            retry_at: None,
            epoch: active.epoch + 1,
        };
    }

    /// The lock serialising signing for `vin` in this process.
    pub(crate) fn signing_lock(&self, vin: &str) -> MutexGuard<'_, ()> {
        let slot = usize::from(sha256(vin.as_bytes())[0]) % SIGNING_LOCKS;
        self.signing[slot].lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Checks an `Authorization: Bearer TOKEN` header against the operator token in constant
    /// time.
    pub fn authorize(&self, header: Option<&str>) -> Result<(), Rejection> {
        if token_matches(header, &self.operator_token) {
            Ok(())
        } else {
            Err(Rejection::unauthorized())
        }
    }

    /// Checks a Primary's fleet provisioning credential (`Authorization: Bearer TOKEN`).
    pub fn authorize_provisioning(&self, header: Option<&str>) -> Result<(), Rejection> {
        let Some(expected) = &self.provisioning_token else {
            return Err(Rejection::not_found(
                "provisioning_disabled",
                "this Director has no fleet provisioning token (--provisioning-token)",
            ));
        };
        if token_matches(header, expected) {
            Ok(())
        } else {
            Err(Rejection::new(
                401,
                "bad_provisioning_credential",
                "a valid fleet provisioning token is required",
            ))
        }
    }
}

fn token_matches(header: Option<&str>, expected: &[u8; 32]) -> bool {
    let Some(token) = header.and_then(|h| h.strip_prefix("Bearer ")).map(str::trim) else {
        return false;
    };
    bool::from(expected.ct_eq(&sha256(token.as_bytes())))
}

/// DATA/operator-token, generated (0600) on first start.
fn generated_token(config: &Config) -> Result<String> {
    let path = config.dir("operator-token");
    if path.exists() {
        return std::fs::read_to_string(&path).map_err(|e| Error::io(path.display(), e));
    }
    let mut raw = [0u8; 32];
    ring::rand::SystemRandom::new()
        .fill(&mut raw)
        .map_err(|_| Error::Internal("no randomness".into()))?;
    let token = hex::encode(raw);
    write_private(&path, token.as_bytes())?;
    tracing::info!(path = %path.display(), "generated an operator token");
    Ok(token)
}
