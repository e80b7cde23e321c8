//! The service's shared state: configuration, database, online keys and the operator token.

use std::sync::Mutex;

use ring::rand::SecureRandom;
pub(crate) use service_kit::sha256;
use subtle::ConstantTimeEq;

use crate::config::Config;
use crate::error::{Error, Rejection, Rejections as _, Result};
use crate::keys::{OnlineKeys, write_private};
use crate::storage::Db;

#[derive(Debug)]
pub struct AppState {
    pub config: Config,
    pub db: Db,
    pub keys: OnlineKeys,
    /// sha256 of the operator token.
    operator_token: [u8; 32],
    /// Serialises signing of per-vehicle bundles within this process (the database key
    /// catches other processes).
    pub(crate) signing: Mutex<()>,
}

impl AppState {
    /// Opens (creating on first start) the data directory, database, keys and operator token.
    pub fn open(config: Config) -> Result<AppState> {
        let data = config.data_dir.clone();
        std::fs::create_dir_all(&data).map_err(|e| Error::io(data.display(), e))?;
        let db = Db::open(&config.database_url())?;
        let keys = OnlineKeys::load_or_generate(&config)?;
        let token = match &config.operator_token {
            Some(token) => token.clone(),
            None => generated_token(&config)?,
        };
        if let Some((version, bytes)) = db.latest_root()? {
            let check = hex::decode(bytes)
                .map_err(|e| Error::Internal(e.to_string()))
                .and_then(|bytes| crate::root::parse(&bytes))
                .and_then(|root| crate::root::check_online_keys(&root, &keys));
            if let Err(e) = check {
                tracing::warn!(version, error = %e, "the stored Director root does not fit the online keys");
            }
        }
        tracing::info!(keys = ?keys, backend = ?db.backend(), "state loaded");
        Ok(AppState {
            config,
            db,
            keys,
            operator_token: sha256(token.trim().as_bytes()),
            signing: Mutex::new(()),
        })
    }

    /// Checks an `Authorization: Bearer TOKEN` header against the operator token in constant
    /// time.
    pub fn authorize(&self, header: Option<&str>) -> Result<(), Rejection> {
        let token = header
            .and_then(|h| h.strip_prefix("Bearer "))
            .map(str::trim)
            .ok_or_else(Rejection::unauthorized)?;
        let presented = sha256(token.as_bytes());
        if bool::from(self.operator_token.ct_eq(&presented)) {
            Ok(())
        } else {
            Err(Rejection::unauthorized())
        }
    }
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
