//! Public keys as TUF writes them, their key ids, and signature verification with ring.

use std::collections::BTreeMap;

use ring::signature::{self, UnparsedPublicKey, VerificationAlgorithm};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use spki::ObjectIdentifier;

use crate::canonical;
use crate::error::{Error, Result};

/// A key object: `{"keytype", "scheme", "keyval": {"public"}}`, unknown fields kept.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PublicKey {
    pub keytype: String,
    pub scheme: String,
    pub keyval: KeyVal,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// The `keyval` of a key object.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KeyVal {
    pub public: String,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// The signature schemes we verify. The scheme always comes from the trusted key object, never
/// from a signature's `method` field, so an attacker cannot pick a weaker algorithm.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scheme {
    Ed25519,
    EcdsaP256,
    EcdsaP384,
    RsaPssSha256,
    RsaPkcs1Sha256,
}

impl Scheme {
    pub fn name(self) -> &'static str {
        match self {
            Scheme::Ed25519 => "ed25519",
            Scheme::EcdsaP256 => "ecdsa-sha2-nistp256",
            Scheme::EcdsaP384 => "ecdsa-sha2-nistp384",
            Scheme::RsaPssSha256 => "rsassa-pss-sha256",
            Scheme::RsaPkcs1Sha256 => "rsa-pkcs1v15-sha256",
        }
    }

    fn from_key(keytype: &str, scheme: &str) -> Result<Scheme> {
        Ok(match (keytype, scheme) {
            ("ed25519", "ed25519") => Scheme::Ed25519,
            ("ecdsa" | "ecdsa-sha2-nistp256", "ecdsa-sha2-nistp256") => Scheme::EcdsaP256,
            ("ecdsa" | "ecdsa-sha2-nistp384", "ecdsa-sha2-nistp384") => Scheme::EcdsaP384,
            ("rsa", "rsassa-pss-sha256") => Scheme::RsaPssSha256,
            ("rsa", "rsa-pkcs1v15-sha256") => Scheme::RsaPkcs1Sha256,
            _ => return Err(Error::Key(format!("unsupported key {keytype}/{scheme}"))),
        })
    }
}

const OID_EC_PUBLIC_KEY: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.2.1");
const OID_P256: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.3.1.7");
const OID_P384: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.132.0.34");
const OID_RSA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.1");

/// DER prefix of a P-256 SubjectPublicKeyInfo, followed by the 65-byte uncompressed point.
const P256_SPKI_PREFIX: [u8; 26] = [
    0x30, 0x59, 0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01, 0x06, 0x08, 0x2a,
    0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07, 0x03, 0x42, 0x00,
];

impl PublicKey {
    /// An Ed25519 key from its 32 raw bytes.
    pub fn ed25519(public: &[u8]) -> PublicKey {
        PublicKey::new("ed25519", "ed25519", hex::encode(public))
    }

    /// An ECDSA P-256 key from its 65-byte uncompressed point, as PEM SubjectPublicKeyInfo.
    pub fn ecdsa_p256(point: &[u8]) -> PublicKey {
        let mut der = P256_SPKI_PREFIX.to_vec();
        der.extend_from_slice(point);
        let pem = pem::encode_config(
            &pem::Pem::new("PUBLIC KEY", der),
            pem::EncodeConfig::new().set_line_ending(pem::LineEnding::LF),
        );
        PublicKey::new("ecdsa", "ecdsa-sha2-nistp256", pem)
    }

    fn new(keytype: &str, scheme: &str, public: String) -> PublicKey {
        PublicKey {
            keytype: keytype.into(),
            scheme: scheme.into(),
            keyval: KeyVal { public, extra: Map::new() },
            extra: Map::new(),
        }
    }

    /// The TUF key id: hex SHA-256 of the canonical JSON of the whole key object.
    pub fn key_id(&self) -> Result<String> {
        let bytes = canonical::to_vec_from(self)?;
        Ok(hex::encode(ring::digest::digest(&ring::digest::SHA256, &bytes)))
    }

    /// The scheme this key verifies with.
    pub fn scheme(&self) -> Result<Scheme> {
        Scheme::from_key(&self.keytype, &self.scheme)
    }

    /// Checks `signature` over `message`; any malformed key or signature is simply invalid.
    pub fn verify(&self, message: &[u8], signature: &[u8]) -> bool {
        match self.verifier() {
            Ok((algorithm, public)) => {
                UnparsedPublicKey::new(algorithm, public).verify(message, signature).is_ok()
            }
            Err(_) => false,
        }
    }

    /// The raw public key signatures are checked against. Key objects that differ only in
    /// spelling (extra fields, hex case, PEM layout, `keytype` alias) have different key ids
    /// but the same material, and are one key when counting a threshold.
    pub fn material(&self) -> Result<Vec<u8>> {
        self.verifier().map(|(_, raw)| raw)
    }

    /// The ring algorithm and the raw public key bytes it expects.
    fn verifier(&self) -> Result<(&'static dyn VerificationAlgorithm, Vec<u8>)> {
        let scheme = self.scheme()?;
        if scheme == Scheme::Ed25519 {
            let raw = hex::decode(&self.keyval.public)
                .map_err(|e| Error::Key(format!("ed25519 public key is not hex: {e}")))?;
            if raw.len() != 32 {
                return Err(Error::Key("ed25519 public key is not 32 bytes".into()));
            }
            return Ok((&signature::ED25519, raw));
        }
        let pem = pem::parse(&self.keyval.public)
            .map_err(|e| Error::Key(format!("public key is not PEM: {e}")))?;
        let spki = spki::SubjectPublicKeyInfoRef::try_from(pem.contents())
            .map_err(|e| Error::Key(format!("public key is not SubjectPublicKeyInfo: {e}")))?;
        let key = spki.subject_public_key.raw_bytes().to_vec();
        let oid = spki.algorithm.oid;
        let curve = spki.algorithm.parameters_oid().ok();
        let algorithm: &'static dyn VerificationAlgorithm = match scheme {
            Scheme::EcdsaP256 if oid == OID_EC_PUBLIC_KEY && curve == Some(OID_P256) => {
                &signature::ECDSA_P256_SHA256_ASN1
            }
            Scheme::EcdsaP384 if oid == OID_EC_PUBLIC_KEY && curve == Some(OID_P384) => {
                &signature::ECDSA_P384_SHA384_ASN1
            }
            Scheme::RsaPssSha256 if oid == OID_RSA => &signature::RSA_PSS_2048_8192_SHA256,
            Scheme::RsaPkcs1Sha256 if oid == OID_RSA => &signature::RSA_PKCS1_2048_8192_SHA256,
            _ => {
                return Err(Error::Key(format!("{} key does not match its PEM", scheme.name())));
            }
        };
        Ok((algorithm, key))
    }
}

/// Keys by id, as in `root.keys` and `delegations.keys`.
pub type KeyMap = BTreeMap<String, PublicKey>;

/// Checks that every listed key id is the hash of its key (tough and the profile require it).
pub fn check_key_ids(keys: &KeyMap) -> Result<()> {
    for (listed, key) in keys {
        let computed = key.key_id()?;
        if *listed != computed {
            return Err(Error::KeyIdMismatch { listed: listed.clone(), computed });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::{KeyType, PrivateKey, Signer};

    #[test]
    fn key_id_is_sha256_of_canonical_key() {
        let key = PublicKey::ed25519(&[7; 32]);
        let canonical = format!(
            r#"{{"keytype":"ed25519","keyval":{{"public":"{}"}},"scheme":"ed25519"}}"#,
            "07".repeat(32)
        );
        let expected =
            hex::encode(ring::digest::digest(&ring::digest::SHA256, canonical.as_bytes()));
        assert_eq!(key.key_id().unwrap(), expected);
    }

    #[test]
    fn each_scheme_verifies_its_own_signatures_only() {
        for keytype in [KeyType::Ed25519, KeyType::EcdsaP256] {
            let key = PrivateKey::generate(keytype).unwrap();
            let sig = key.sign(b"message").unwrap();
            assert!(key.public_key().verify(b"message", &sig));
            assert!(!key.public_key().verify(b"messagE", &sig));
            let other = PrivateKey::generate(keytype).unwrap();
            assert!(!other.public_key().verify(b"message", &sig));
        }
    }

    #[test]
    fn scheme_comes_from_the_key_not_the_claim() {
        let key = PrivateKey::generate(KeyType::EcdsaP256).unwrap();
        let mut public = key.public_key().clone();
        public.scheme = "ed25519".into();
        let sig = key.sign(b"m").unwrap();
        assert!(!public.verify(b"m", &sig));
    }

    /// RSA-PSS and ECDSA signatures made by pyca/cryptography (an independent implementation).
    #[test]
    fn verifies_signatures_made_elsewhere() {
        #[derive(serde::Deserialize)]
        struct Case {
            key: PublicKey,
            sig: String,
        }
        #[derive(serde::Deserialize)]
        struct Foreign {
            message: String,
            keys: Vec<Case>,
        }
        let foreign: Foreign =
            serde_json::from_str(include_str!("../../tests/data/foreign-signatures.json")).unwrap();
        for case in &foreign.keys {
            let sig = hex::decode(&case.sig).unwrap();
            assert!(case.key.verify(foreign.message.as_bytes(), &sig), "{}", case.key.scheme);
            assert!(!case.key.verify(b"another message", &sig), "{}", case.key.scheme);
        }
        assert!(foreign.keys.iter().any(|c| c.key.scheme().unwrap() == Scheme::RsaPssSha256));
    }

    #[test]
    fn mismatched_key_ids_are_refused() {
        let key = PublicKey::ed25519(&[1; 32]);
        let mut keys = KeyMap::new();
        keys.insert("00".repeat(32), key.clone());
        assert!(matches!(check_key_ids(&keys), Err(Error::KeyIdMismatch { .. })));
        keys.clear();
        keys.insert(key.key_id().unwrap(), key);
        check_key_ids(&keys).unwrap();
    }
}
