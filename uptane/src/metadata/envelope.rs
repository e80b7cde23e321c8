//! The signed envelope `{"signed": ..., "signatures": [...]}`: parsing as received, threshold
//! verification over the canonical form of the received `signed` object, and signing.

use std::collections::BTreeSet;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::Metadata;
use super::root::RoleKeys;
use crate::canonical;
use crate::crypto::{KeyMap, PublicKey, Signer};
use crate::error::{Error, Result};

/// One entry of `signatures`. `method` is written for older Uptane clients but never trusted.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Signature {
    pub keyid: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub method: Option<String>,
    pub sig: String,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// A metadata file as received: the generic `signed` value (unknown fields intact) and its
/// signatures. Nothing in it is trusted until [`Envelope::verify`] passes.
#[derive(Debug, Clone)]
pub struct Envelope {
    pub signed: Value,
    pub signatures: Vec<Signature>,
}

/// Unknown envelope fields are ignored, as python-tuf does.
#[derive(Deserialize)]
struct RawEnvelope {
    signed: Value,
    signatures: Vec<Signature>,
}

impl Envelope {
    /// Parses `bytes` as a signed envelope for `role` (the role only names errors).
    pub fn parse(bytes: &[u8], role: &str) -> Result<Envelope> {
        let raw: RawEnvelope =
            serde_json::from_slice(bytes).map_err(|e| Error::malformed(role, e))?;
        Envelope::from_raw(raw, role)
    }

    /// Reads a signed document nested in another (an ECU report inside a vehicle manifest).
    pub fn from_value(value: &Value, what: &str) -> Result<Envelope> {
        Envelope::from_raw(decode_value(value, what)?, what)
    }

    fn from_raw(raw: RawEnvelope, role: &str) -> Result<Envelope> {
        if !raw.signed.is_object() {
            return Err(Error::malformed(role, "`signed` is not an object"));
        }
        let mut seen = BTreeSet::new();
        for signature in &raw.signatures {
            if !seen.insert(signature.keyid.as_str()) {
                return Err(Error::DuplicateSignature {
                    role: role.into(),
                    keyid: signature.keyid.clone(),
                });
            }
        }
        Ok(Envelope { signed: raw.signed, signatures: raw.signatures })
    }

    /// Decodes the `signed` object as metadata of type `M`, checking `_type` exactly and the
    /// structural rules of `M`. This says nothing about signatures.
    pub fn decode<M: Metadata>(&self, role: &str) -> Result<M> {
        let found = self.signed.get("_type").and_then(Value::as_str).unwrap_or_default();
        if found != M::TYPE {
            return Err(Error::WrongType {
                role: role.into(),
                expected: M::TYPE.into(),
                found: found.into(),
            });
        }
        let spec = self.signed.get("spec_version").and_then(Value::as_str).unwrap_or_default();
        check_spec_version(role, spec)?;
        let meta = decode_value::<M>(&self.signed, role)?;
        meta.validate(role)?;
        Ok(meta)
    }

    /// Decodes the `signed` object of a document that is not role metadata (a manifest, a
    /// time attestation).
    pub fn decode_document<T: DeserializeOwned>(&self, what: &str) -> Result<T> {
        decode_value(&self.signed, what)
    }

    /// Checks that `key` signed the canonical form of `signed` (documents with one signer).
    pub fn verify_key(&self, what: &str, key: &PublicKey) -> Result<()> {
        let keyid = key.key_id()?;
        let keys = KeyMap::from([(keyid.clone(), key.clone())]);
        self.verify(what, &keys, &RoleKeys::new(vec![keyid], 1))
    }

    /// Checks that a threshold of unique keys of `role_keys`, found in `keys`, signed the
    /// canonical form of `signed`. Signatures from other keys, or invalid ones, are ignored as
    /// long as the threshold is met (BP 9.0.4).
    pub fn verify(&self, role: &str, keys: &KeyMap, role_keys: &RoleKeys) -> Result<()> {
        let message = canonical::to_vec(&self.signed)?;
        let mut valid = BTreeSet::new();
        for signature in &self.signatures {
            if !role_keys.keyids.contains(&signature.keyid) {
                continue;
            }
            let Some(key) = keys.get(&signature.keyid) else {
                continue;
            };
            let Ok(sig) = hex::decode(&signature.sig) else {
                continue;
            };
            if key.verify(&message, &sig) {
                valid.insert(signature.keyid.as_str());
            }
        }
        if valid.len() < role_keys.threshold as usize {
            return Err(Error::Threshold {
                role: role.into(),
                valid: valid.len(),
                threshold: role_keys.threshold,
            });
        }
        Ok(())
    }
}

fn decode_value<T: DeserializeOwned>(value: &Value, role: &str) -> Result<T> {
    T::deserialize(value).map_err(|e| Error::malformed(role, e))
}

/// Accepts `spec_version` "1.x" or "1.x.y" (TUF: same major version).
fn check_spec_version(role: &str, spec: &str) -> Result<()> {
    let parts: Vec<&str> = spec.split('.').collect();
    let numeric = parts.iter().all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()));
    if numeric && (2..=3).contains(&parts.len()) && parts[0] == "1" {
        Ok(())
    } else {
        Err(Error::SpecVersion { role: role.into(), found: spec.into() })
    }
}

/// Metadata being written: a typed `signed` body and the signatures collected so far.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SignedMetadata<M> {
    pub signed: M,
    pub signatures: Vec<Signature>,
}

impl<M: Metadata> SignedMetadata<M> {
    /// Loads metadata from a file's bytes without verifying it, keeping its signatures (for
    /// collecting signatures from several key holders).
    pub fn from_bytes(bytes: &[u8], role: &str) -> Result<SignedMetadata<M>> {
        let envelope = Envelope::parse(bytes, role)?;
        let signed = envelope.decode(role)?;
        Ok(SignedMetadata { signed, signatures: envelope.signatures })
    }
}

impl<M: Serialize> SignedMetadata<M> {
    /// Unsigned metadata (or any other signed document, such as a manifest).
    pub fn new(signed: M) -> SignedMetadata<M> {
        SignedMetadata { signed, signatures: Vec::new() }
    }

    /// The canonical bytes that signatures cover.
    pub fn canonical_signed(&self) -> Result<Vec<u8>> {
        canonical::to_vec_from(&self.signed)
    }

    /// Adds (or replaces) the signature of `signer`.
    pub fn sign(&mut self, signer: &dyn Signer) -> Result<()> {
        let message = self.canonical_signed()?;
        let sig = hex::encode(signer.sign(&message)?);
        self.signatures.retain(|s| s.keyid != signer.key_id());
        self.signatures.push(Signature {
            keyid: signer.key_id().to_owned(),
            method: Some(signer.public_key().scheme.clone()),
            sig,
            extra: Map::new(),
        });
        Ok(())
    }

    /// Drops every signature (after the body changed).
    pub fn clear_signatures(&mut self) {
        self.signatures.clear();
    }

    /// Merges the signatures of `other`, which must carry the same body.
    pub fn merge(&mut self, other: SignedMetadata<M>) -> Result<()> {
        if self.canonical_signed()? != other.canonical_signed()? {
            return Err(Error::Other("cannot merge signatures over different metadata".into()));
        }
        for signature in other.signatures {
            if !self.signatures.iter().any(|s| s.keyid == signature.keyid) {
                self.signatures.push(signature);
            }
        }
        Ok(())
    }

    /// Compact JSON, as served.
    pub fn to_bytes(&self) -> Result<Vec<u8>> {
        serde_json::to_vec(self).map_err(|e| Error::Other(e.to_string()))
    }

    /// Indented JSON, for files people read.
    pub fn to_pretty_bytes(&self) -> Result<Vec<u8>> {
        let mut bytes = serde_json::to_vec_pretty(self).map_err(|e| Error::Other(e.to_string()))?;
        bytes.push(b'\n');
        Ok(bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spec_versions() {
        for ok in ["1.0", "1.0.0", "1.0.31", "1.1.0"] {
            check_spec_version("root", ok).unwrap();
        }
        for bad in ["", "2.0.0", "1", "1.0.0.0", "one.0", "1.0.x", "1..0"] {
            assert!(check_spec_version("root", bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn repeated_key_ids_in_signatures_are_malformed() {
        let bytes =
            br#"{"signed":{},"signatures":[{"keyid":"a","sig":"00"},{"keyid":"a","sig":"01"}]}"#;
        assert!(matches!(Envelope::parse(bytes, "root"), Err(Error::DuplicateSignature { .. })));
    }

    #[test]
    fn envelope_shape_is_checked() {
        for bytes in
            [&br#"{"signed":[],"signatures":[]}"#[..], br#"{"signatures":[]}"#, br#"not json"#]
        {
            assert!(matches!(Envelope::parse(bytes, "root"), Err(Error::Malformed { .. })));
        }
    }
}
