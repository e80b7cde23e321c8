//! Online keys: given as files, or generated on first start into the service's key directory
//! (mode 0600), each public key written beside them as NAME.pub.json. Which keys a service
//! holds is its own; signing goes through `uptane::crypto::Signer`, so an HSM can stand in.

use std::io::Write;
use std::path::Path;

use uptane::crypto::{KeyType, PrivateKey, Signer};

use crate::error::{Error, Result};

/// Loads each named key from its configured file, or from `dir`/NAME.pem, generating that on
/// first start; then writes each public key as `dir`/NAME.pub.json.
pub fn load_or_generate<const N: usize>(
    dir: &Path,
    keys: [(&str, Option<&Path>); N],
) -> Result<[PrivateKey; N]> {
    std::fs::create_dir_all(dir).map_err(|e| Error::io(dir.display(), e))?;
    let mut loaded = Vec::with_capacity(N);
    for (name, given) in keys {
        loaded.push(load(given, &dir.join(format!("{name}.pem")))?);
    }
    for ((name, _), key) in keys.iter().zip(&loaded) {
        let public = serde_json::to_vec_pretty(key.public_key())
            .map_err(|e| Error::Internal(e.to_string()))?;
        uptane::repository::write_atomically(&dir.join(format!("{name}.pub.json")), &public)?;
    }
    loaded.try_into().map_err(|_| Error::Internal("key count".into()))
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
