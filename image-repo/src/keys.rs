//! The online snapshot and timestamp keys: given as files, or generated on first start into
//! DATA/keys (mode 0600). Signing goes through `uptane::crypto::Signer`, so an HSM can stand in.

use std::io::Write;
use std::path::Path;
use std::sync::Arc;

use uptane::crypto::{KeyType, PrivateKey, Signer};

use crate::config::Config;
use crate::error::{Error, Result};

/// The service's online signers.
#[derive(Clone)]
pub struct OnlineKeys {
    pub snapshot: Arc<dyn Signer>,
    pub timestamp: Arc<dyn Signer>,
}

impl std::fmt::Debug for OnlineKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OnlineKeys")
            .field("snapshot", &self.snapshot.key_id())
            .field("timestamp", &self.timestamp.key_id())
            .finish()
    }
}

impl OnlineKeys {
    /// Loads the configured keys, or the ones in DATA/keys, generating those on first start.
    pub fn load_or_generate(config: &Config) -> Result<OnlineKeys> {
        let dir = config.dir("keys");
        std::fs::create_dir_all(&dir).map_err(|e| Error::io(dir.display(), e))?;
        let snapshot = load(config.snapshot_key.as_deref(), &dir.join("snapshot.pem"))?;
        let timestamp = load(config.timestamp_key.as_deref(), &dir.join("timestamp.pem"))?;
        for (name, key) in [("snapshot", &snapshot), ("timestamp", &timestamp)] {
            let public = serde_json::to_vec_pretty(key.public_key())
                .map_err(|e| Error::Internal(e.to_string()))?;
            let path = dir.join(format!("{name}.pub.json"));
            uptane::repository::write_atomically(&path, &public)?;
        }
        Ok(OnlineKeys { snapshot: Arc::new(snapshot), timestamp: Arc::new(timestamp) })
    }

    /// The signer of `role` (snapshot or timestamp).
    pub fn for_role(&self, role: &str) -> &dyn Signer {
        if role == "snapshot" { &*self.snapshot } else { &*self.timestamp }
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
