//! The online keys (targets, snapshot, timestamp, time): given as files, or generated on first
//! start into DATA/keys (mode 0600). Signing goes through `uptane::crypto::Signer`, so an HSM
//! can stand in.

use std::io::Write;
use std::path::Path;
use std::sync::Arc;

use uptane::crypto::{KeyType, PrivateKey, Signer};

use crate::config::Config;
use crate::error::{Error, Result};

/// The service's online signers.
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
    /// Loads the configured keys, or the ones in DATA/keys, generating those on first start,
    /// and writes each public key as DATA/keys/NAME.pub.json.
    pub fn load_or_generate(config: &Config) -> Result<OnlineKeys> {
        let dir = config.dir("keys");
        std::fs::create_dir_all(&dir).map_err(|e| Error::io(dir.display(), e))?;
        let targets = load(config.targets_key.as_deref(), &dir.join("targets.pem"))?;
        let snapshot = load(config.snapshot_key.as_deref(), &dir.join("snapshot.pem"))?;
        let timestamp = load(config.timestamp_key.as_deref(), &dir.join("timestamp.pem"))?;
        let time = load(config.time_key.as_deref(), &dir.join("time.pem"))?;
        let keys = OnlineKeys {
            targets: Arc::new(targets),
            snapshot: Arc::new(snapshot),
            timestamp: Arc::new(timestamp),
            time: Arc::new(time),
        };
        for (name, key) in keys.named() {
            let public = serde_json::to_vec_pretty(key.public_key())
                .map_err(|e| Error::Internal(e.to_string()))?;
            uptane::repository::write_atomically(&dir.join(format!("{name}.pub.json")), &public)?;
        }
        Ok(keys)
    }

    /// Each key with its name (`targets`, `snapshot`, `timestamp`, `time`).
    pub fn named(&self) -> [(&'static str, &dyn Signer); 4] {
        [
            ("targets", &*self.targets),
            ("snapshot", &*self.snapshot),
            ("timestamp", &*self.timestamp),
            ("time", &*self.time),
        ]
    }
}

fn load(given: Option<&Path>, default: &Path) -> Result<PrivateKey> {
    if let Some(path) = given {
        return Ok(PrivateKey::read(path)?);
    }
    if default.exists() {
        return Ok(PrivateKey::read(default)?);
    }
    let key = PrivateKey::generate(KeyType::Ed25519)?;
    write_private(default, key.to_pem().as_bytes())?;
    tracing::info!(path = %default.display(), key_id = key.key_id(), "generated online key");
    Ok(key)
}

/// Writes a secret file readable by the service only (0600), atomically.
pub fn write_private(path: &Path, bytes: &[u8]) -> Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    // NamedTempFile is created 0600.
    let mut file = tempfile::NamedTempFile::new_in(dir).map_err(|e| Error::io(dir.display(), e))?;
    file.write_all(bytes).map_err(|e| Error::io(path.display(), e))?;
    file.as_file().sync_all().map_err(|e| Error::io(path.display(), e))?;
    file.persist(path).map_err(|e| Error::io(path.display(), e.error))?;
    Ok(())
}
