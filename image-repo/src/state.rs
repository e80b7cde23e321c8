//! The service's shared state: database, blobs, online keys, tokens, and the published state
//! swapped in whole after each publish.

use std::sync::{Arc, Mutex, MutexGuard, RwLock};

use ring::rand::SecureRandom;
use service_kit::sha256;
use subtle::ConstantTimeEq;

use crate::config::Config;
use crate::error::{Error, Rejection, Rejections as _, Result};
use crate::keys::{OnlineKeys, write_private};
use crate::metrics::Metrics;
use crate::published::Published;
use crate::storage::{BlobStore, Db};

#[derive(Debug)]
pub struct AppState {
    pub config: Config,
    pub db: Db,
    pub blobs: BlobStore,
    pub keys: OnlineKeys,
    pub metrics: Metrics,
    published: RwLock<Arc<Published>>,
    tokens: RwLock<Vec<[u8; 32]>>,
    publish_lock: Mutex<()>,
}

impl AppState {
    /// Opens (creating on first start) the data directory, database, keys and tokens, and
    /// loads the published state.
    pub fn open(config: Config) -> Result<AppState> {
        let data = config.data_dir.clone();
        std::fs::create_dir_all(&data).map_err(|e| Error::io(data.display(), e))?;
        let db = Db::open(&config.database_url())?;
        let blobs = BlobStore::open(config.dir("blobs"))?;
        let keys = OnlineKeys::load_or_generate(&config)?;
        if let Some(token) = &config.upload_token {
            db.add_token(&hex::encode(sha256(token.as_bytes())), "configured")?;
        }
        if db.token_hashes()?.is_empty() {
            let mut raw = [0u8; 32];
            ring::rand::SystemRandom::new()
                .fill(&mut raw)
                .map_err(|_| Error::Internal("no randomness".into()))?;
            let token = hex::encode(raw);
            let path = config.dir("upload-token");
            write_private(&path, token.as_bytes())?;
            db.add_token(&hex::encode(sha256(token.as_bytes())), "generated")?;
            tracing::info!(path = %path.display(), "generated an upload token");
        }
        let tokens = db
            .token_hashes()?
            .iter()
            .filter_map(|h| hex::decode(h).ok()?.try_into().ok())
            .collect();
        let published = Published::from_rows(&db.all_metadata()?)?;
        if let Some(root) = &published.root {
            let meta = uptane::metadata::SignedMetadata::<uptane::metadata::Root>::from_bytes(
                &root.bytes,
                "root",
            )?;
            if let Err(e) = crate::verify_upload::check_online_keys(&meta.signed, &keys) {
                tracing::warn!(error = %e, "the published root does not list the online keys");
            }
        }
        tracing::info!(
            snapshot_key = keys.snapshot.key_id(),
            timestamp_key = keys.timestamp.key_id(),
            root = published.version("root"),
            targets = published.version("targets"),
            backend = ?db.backend(),
            "state loaded"
        );
        Ok(AppState {
            config,
            db,
            blobs,
            keys,
            metrics: Metrics::default(),
            published: RwLock::new(Arc::new(published)),
            tokens: RwLock::new(tokens),
            publish_lock: Mutex::new(()),
        })
    }

    /// The published state as of now (cheap: one Arc clone).
    pub fn published(&self) -> Arc<Published> {
        self.published.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Makes `next` the served state.
    pub(crate) fn swap(&self, next: Published) {
        *self.published.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(next);
    }

    /// Serialises publishes within this process (the database key catches the rest).
    pub(crate) fn lock_publish(&self) -> MutexGuard<'_, ()> {
        self.publish_lock.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Checks an `Authorization: Bearer TOKEN` header in constant time per stored token.
    pub fn authorize(&self, header: Option<&str>) -> Result<(), Rejection> {
        let token = header
            .and_then(|h| h.strip_prefix("Bearer "))
            .map(str::trim)
            .ok_or_else(Rejection::unauthorized)?;
        let presented = sha256(token.as_bytes());
        let tokens = self.tokens.read().unwrap_or_else(|e| e.into_inner());
        let mut ok = subtle::Choice::from(0);
        for stored in tokens.iter() {
            ok |= stored.ct_eq(&presented);
        }
        if bool::from(ok) { Ok(()) } else { Err(Rejection::unauthorized()) }
    }
}
