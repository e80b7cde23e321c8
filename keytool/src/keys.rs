//! Key files: PKCS#8 PEM private keys (kept by key holders, mode 0600) and TUF public-key JSON
//! files (what a key holder hands over so others can list the key before it ever signs).

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use serde::Serialize;
use uptane::crypto::{KeyType, PrivateKey, PublicKey, Signer};

use crate::error::{Error, Result};
use crate::fsutil;

/// A key named on the command line: a private key can sign, a public key can only be listed.
#[derive(Debug)]
pub enum KeyFile {
    Private(Box<PrivateKey>),
    Public { key: PublicKey, key_id: String },
}

impl KeyFile {
    /// Reads a PEM private key or a public-key JSON file, whichever `path` holds.
    pub fn read(path: &Path) -> Result<KeyFile> {
        let bytes = fsutil::read(path)?;
        if let Ok(key) = serde_json::from_slice::<PublicKey>(&bytes) {
            key.scheme().map_err(|e| bad_key(path, e))?;
            let key_id = key.key_id()?;
            return Ok(KeyFile::Public { key, key_id });
        }
        let key = PrivateKey::from_pkcs8_bytes(&bytes).map_err(|e| {
            Error::Usage(format!(
                "{}: neither a PKCS#8 private key nor a TUF public-key JSON file ({e})",
                path.display()
            ))
        })?;
        warn_if_exposed(path);
        Ok(KeyFile::Private(Box::new(key)))
    }

    pub fn public_key(&self) -> &PublicKey {
        match self {
            KeyFile::Private(key) => key.public_key(),
            KeyFile::Public { key, .. } => key,
        }
    }

    pub fn key_id(&self) -> &str {
        match self {
            KeyFile::Private(key) => key.key_id(),
            KeyFile::Public { key_id, .. } => key_id,
        }
    }

    pub fn signer(&self) -> Option<&PrivateKey> {
        match self {
            KeyFile::Private(key) => Some(key),
            KeyFile::Public { .. } => None,
        }
    }
}

/// Reads every file in `paths`.
pub fn read_all(paths: &[PathBuf]) -> Result<Vec<KeyFile>> {
    paths.iter().map(|p| KeyFile::read(p)).collect()
}

/// Reads private keys only: for commands that sign.
pub fn read_private(path: &Path) -> Result<PrivateKey> {
    match KeyFile::read(path)? {
        KeyFile::Private(key) => Ok(*key),
        KeyFile::Public { .. } => Err(Error::Usage(format!(
            "{} is a public key; signing needs the private key file",
            path.display()
        ))),
    }
}

fn bad_key(path: &Path, e: uptane::Error) -> Error {
    Error::Usage(format!("{}: {e}", path.display()))
}

/// Like ssh: a private key others can read may already be compromised; say so.
fn warn_if_exposed(path: &Path) {
    if let Ok(meta) = std::fs::metadata(path)
        && meta.permissions().mode() & 0o077 != 0
    {
        tracing::warn!(path = %path.display(), "private key file is readable by others");
    }
}

/// What `gen-key` made.
#[derive(Debug, Serialize)]
pub struct GeneratedKey {
    pub key_id: String,
    pub public_key: PublicKey,
    pub private_key_file: PathBuf,
    pub public_key_file: PathBuf,
}

/// Where the public half of `private` goes: `root1.pem` -> `root1.pub.json`.
pub fn public_path_for(private: &Path) -> PathBuf {
    private.with_extension("pub.json")
}

/// Generates a key into `out` (0600, never overwriting) and its public key beside it.
pub fn generate(keytype: KeyType, out: &Path) -> Result<GeneratedKey> {
    let public_file = public_path_for(out);
    for path in [out, public_file.as_path()] {
        if path.exists() {
            return Err(Error::State(format!("{} exists; refusing to overwrite", path.display())));
        }
    }
    let key = new_key(keytype)?;
    fsutil::create_private(out, key.to_pem().as_bytes())?;
    let mut json = serde_json::to_vec_pretty(key.public_key())
        .map_err(|e| Error::State(format!("cannot encode public key: {e}")))?;
    json.push(b'\n');
    fsutil::write_public(&public_file, &json)?;
    Ok(GeneratedKey {
        key_id: key.key_id().to_owned(),
        public_key: key.public_key().clone(),
        private_key_file: out.to_owned(),
        public_key_file: public_file,
    })
}

/// A fresh key. Ed25519 keys are written as PKCS#8 v1 (RFC 8410, the seed only), which every
/// tool reads (OpenSSL, pyca/cryptography, HSM import); ring's own generator writes v2, which
/// pyca/cryptography rejects.
fn new_key(keytype: KeyType) -> Result<PrivateKey> {
    match keytype {
        KeyType::Ed25519 => {
            let mut seed = [0u8; 32];
            ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut seed)
                .map_err(|_| Error::State("the system random source failed".into()))?;
            Ok(PrivateKey::ed25519_from_seed(&seed)?)
        }
        KeyType::EcdsaP256 => Ok(PrivateKey::generate(keytype)?),
    }
}

/// The first 8 hex digits of a key id, for humans.
pub fn short(key_id: &str) -> &str {
    key_id.get(..8).unwrap_or(key_id)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // a failed unwrap is a failed test
mod tests {
    use super::*;

    #[test]
    fn generated_keys_read_back_as_private_and_public() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("k.pem");
        let made = generate(KeyType::EcdsaP256, &out).unwrap();
        let private = KeyFile::read(&out).unwrap();
        assert!(private.signer().is_some());
        assert_eq!(private.key_id(), made.key_id);
        let public = KeyFile::read(&made.public_key_file).unwrap();
        assert!(public.signer().is_none());
        assert_eq!(public.key_id(), made.key_id);
        assert!(generate(KeyType::Ed25519, &out).is_err());
    }

    #[test]
    fn garbage_is_a_usage_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x");
        std::fs::write(&path, "{\"not\": \"a key\"}").unwrap();
        assert!(matches!(KeyFile::read(&path), Err(Error::Usage(_))));
    }
}
