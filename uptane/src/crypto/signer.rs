//! Signing keys. Signing goes through the [`Signer`] trait so an HSM (PKCS#11) can stand in for
//! a key file without the rest of the code noticing.

use std::fmt;
use std::path::Path;

use ring::rand::SystemRandom;
use ring::signature::{ECDSA_P256_SHA256_ASN1_SIGNING, EcdsaKeyPair, Ed25519KeyPair, KeyPair};

use super::key::PublicKey;
use crate::error::{Error, Result};

/// Anything that can sign metadata for one key.
pub trait Signer: Send + Sync {
    /// The key object that verifies this signer's signatures.
    fn public_key(&self) -> &PublicKey;
    /// The key id of [`Signer::public_key`].
    fn key_id(&self) -> &str;
    /// Signs `message` (the canonical bytes of a `signed` object).
    fn sign(&self, message: &[u8]) -> Result<Vec<u8>>;
}

/// The kinds of key we can generate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum KeyType {
    #[default]
    Ed25519,
    EcdsaP256,
}

impl std::str::FromStr for KeyType {
    type Err = Error;
    fn from_str(s: &str) -> Result<KeyType> {
        match s {
            "ed25519" => Ok(KeyType::Ed25519),
            "ecdsa" | "ecdsa-p256" | "ecdsa-sha2-nistp256" => Ok(KeyType::EcdsaP256),
            _ => Err(Error::Key(format!("unknown key type {s:?} (ed25519 or ecdsa-p256)"))),
        }
    }
}

enum Pair {
    Ed25519(Ed25519KeyPair),
    EcdsaP256(EcdsaKeyPair),
}

/// A private key held in memory, loaded from or saved to a PKCS#8 file.
pub struct PrivateKey {
    pair: Pair,
    pkcs8: Vec<u8>,
    public: PublicKey,
    key_id: String,
}

impl fmt::Debug for PrivateKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PrivateKey").field("key_id", &self.key_id).finish_non_exhaustive()
    }
}

impl PrivateKey {
    /// Generates a fresh key from the system's random source.
    pub fn generate(keytype: KeyType) -> Result<PrivateKey> {
        let rng = SystemRandom::new();
        let pkcs8 = match keytype {
            KeyType::Ed25519 => Ed25519KeyPair::generate_pkcs8(&rng),
            KeyType::EcdsaP256 => {
                EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, &rng)
            }
        }
        .map_err(|_| Error::Key("key generation failed".into()))?;
        PrivateKey::from_pkcs8(pkcs8.as_ref())
    }

    /// Derives an Ed25519 key from a 32-byte seed: deterministic keys for fixtures and tests.
    pub fn ed25519_from_seed(seed: &[u8; 32]) -> Result<PrivateKey> {
        let pair = Ed25519KeyPair::from_seed_unchecked(seed)
            .map_err(|_| Error::Key("invalid ed25519 seed".into()))?;
        // PKCS#8 v1 for Ed25519 (RFC 8410): a fixed prefix, then the seed.
        let mut pkcs8 = vec![
            0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22,
            0x04, 0x20,
        ];
        pkcs8.extend_from_slice(seed);
        let public = PublicKey::ed25519(pair.public_key().as_ref());
        PrivateKey::assemble(Pair::Ed25519(pair), pkcs8, public)
    }

    /// Loads a PKCS#8 DER key: Ed25519 (v1 or v2) or ECDSA P-256.
    pub fn from_pkcs8(der: &[u8]) -> Result<PrivateKey> {
        if let Ok(pair) = Ed25519KeyPair::from_pkcs8_maybe_unchecked(der) {
            let public = PublicKey::ed25519(pair.public_key().as_ref());
            return PrivateKey::assemble(Pair::Ed25519(pair), der.to_vec(), public);
        }
        let rng = SystemRandom::new();
        let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, der, &rng)
            .map_err(|e| Error::Key(format!("not an Ed25519 or ECDSA P-256 PKCS#8 key: {e}")))?;
        let public = PublicKey::ecdsa_p256(pair.public_key().as_ref());
        PrivateKey::assemble(Pair::EcdsaP256(pair), der.to_vec(), public)
    }

    /// Loads a PEM (`PRIVATE KEY`) or DER PKCS#8 key.
    pub fn from_pkcs8_bytes(bytes: &[u8]) -> Result<PrivateKey> {
        match pem::parse(bytes) {
            Ok(pem) if pem.tag() == "PRIVATE KEY" => PrivateKey::from_pkcs8(pem.contents()),
            Ok(pem) => Err(Error::Key(format!("PEM holds {:?}, expected PRIVATE KEY", pem.tag()))),
            Err(_) => PrivateKey::from_pkcs8(bytes),
        }
    }

    /// Reads a key file written by [`PrivateKey::to_pem`].
    pub fn read(path: &Path) -> Result<PrivateKey> {
        let bytes = std::fs::read(path)
            .map_err(|source| Error::Io { what: path.display().to_string(), source })?;
        PrivateKey::from_pkcs8_bytes(&bytes)
    }

    fn assemble(pair: Pair, pkcs8: Vec<u8>, public: PublicKey) -> Result<PrivateKey> {
        let key_id = public.key_id()?;
        Ok(PrivateKey { pair, pkcs8, public, key_id })
    }

    /// The key as a PEM-encoded PKCS#8 document.
    pub fn to_pem(&self) -> String {
        pem::encode_config(
            &pem::Pem::new("PRIVATE KEY", self.pkcs8.clone()),
            pem::EncodeConfig::new().set_line_ending(pem::LineEnding::LF),
        )
    }

    /// Which kind of key this is.
    pub fn keytype(&self) -> KeyType {
        match self.pair {
            Pair::Ed25519(_) => KeyType::Ed25519,
            Pair::EcdsaP256(_) => KeyType::EcdsaP256,
        }
    }
}

impl Signer for PrivateKey {
    fn public_key(&self) -> &PublicKey {
        &self.public
    }

    fn key_id(&self) -> &str {
        &self.key_id
    }

    fn sign(&self, message: &[u8]) -> Result<Vec<u8>> {
        match &self.pair {
            Pair::Ed25519(pair) => Ok(pair.sign(message).as_ref().to_vec()),
            Pair::EcdsaP256(pair) => pair
                .sign(&SystemRandom::new(), message)
                .map(|sig| sig.as_ref().to_vec())
                .map_err(|_| Error::Key("ECDSA signing failed".into())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pem_round_trip_keeps_the_key() {
        for keytype in [KeyType::Ed25519, KeyType::EcdsaP256] {
            let key = PrivateKey::generate(keytype).unwrap();
            let again = PrivateKey::from_pkcs8_bytes(key.to_pem().as_bytes()).unwrap();
            assert_eq!(again.key_id(), key.key_id());
            assert_eq!(again.keytype(), keytype);
        }
    }

    #[test]
    fn seeded_keys_are_deterministic_and_round_trip() {
        let a = PrivateKey::ed25519_from_seed(&[9; 32]).unwrap();
        let b = PrivateKey::ed25519_from_seed(&[9; 32]).unwrap();
        assert_eq!(a.key_id(), b.key_id());
        let again = PrivateKey::from_pkcs8_bytes(a.to_pem().as_bytes()).unwrap();
        assert_eq!(again.key_id(), a.key_id());
    }

    #[test]
    fn garbage_is_not_a_key() {
        assert!(PrivateKey::from_pkcs8_bytes(b"not a key").is_err());
    }
}
