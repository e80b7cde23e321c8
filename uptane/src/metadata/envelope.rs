//! The signed envelope `{"signed": ..., "signatures": [...]}`: parsing as received, threshold
//! verification over the canonical form of the received `signed` object, and signing.

use std::collections::BTreeSet;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
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

/// A signed file as parsed, its signatures, and its `signed` object: as received when that
/// is canonical (the common case: then the text is the signed message and decodes straight
/// into its type), else as a generic value (unknown fields intact) to canonicalise. Decoding
/// yields an [`Unverified`] body, trusted only once verified.
#[derive(Debug, Clone)]
pub struct Envelope {
    signed: Body,
    signatures: Vec<Signature>,
}

#[derive(Debug, Clone)]
enum Body {
    Canonical(String),
    Value(Value),
}

/// Unknown envelope fields are ignored, as python-tuf does.
#[derive(Deserialize)]
struct RawEnvelope<'a> {
    #[serde(borrow)]
    signed: &'a RawValue,
    signatures: Vec<Signature>,
}

#[derive(Deserialize)]
struct ValueEnvelope {
    signed: Value,
    signatures: Vec<Signature>,
}

impl Envelope {
    /// Parses `bytes` as a signed envelope for `role` (the role only names errors).
    pub fn parse(bytes: &[u8], role: &str) -> Result<Envelope> {
        let raw: RawEnvelope =
            serde_json::from_slice(bytes).map_err(|e| Error::malformed(role, e))?;
        let text = raw.signed.get();
        let signed = if text.starts_with('{') && canonical::is_canonical(text.as_bytes()) {
            Body::Canonical(text.to_owned())
        } else {
            Body::Value(serde_json::from_str(text).map_err(|e| Error::malformed(role, e))?)
        };
        Envelope::new(signed, raw.signatures, role)
    }

    /// Reads a signed document nested in another (an ECU report inside a vehicle manifest).
    pub fn from_value(value: &Value, what: &str) -> Result<Envelope> {
        let raw = ValueEnvelope::deserialize(value).map_err(|e| Error::malformed(what, e))?;
        Envelope::new(Body::Value(raw.signed), raw.signatures, what)
    }

    fn new(signed: Body, signatures: Vec<Signature>, role: &str) -> Result<Envelope> {
        if let Body::Value(value) = &signed
            && !value.is_object()
        {
            return Err(Error::malformed(role, "`signed` is not an object"));
        }
        let mut seen = BTreeSet::new();
        for signature in &signatures {
            if !seen.insert(signature.keyid.as_str()) {
                return Err(Error::DuplicateSignature {
                    role: role.into(),
                    keyid: signature.keyid.clone(),
                });
            }
        }
        Ok(Envelope { signed, signatures })
    }

    /// Decodes the `signed` object as metadata of type `M`, checking `_type` exactly and the
    /// structural rules of `M`. Signatures are checked on the result.
    pub fn decode<M: Metadata>(self, role: &str) -> Result<Unverified<M>> {
        let Envelope { signed, signatures } = self;
        let value = match signed {
            Body::Canonical(text) => {
                if let Ok(body) = serde_json::from_str::<M>(&text)
                    && body.kind() == M::TYPE
                    && check_spec_version(role, body.spec_version()).is_ok()
                {
                    body.validate(role)?;
                    return Ok(Unverified { body, message: text.into_bytes(), signatures });
                }
                // The general path names precisely what is wrong.
                serde_json::from_str(&text).map_err(|e| Error::malformed(role, e))?
            }
            Body::Value(value) => value,
        };
        let found = value.get("_type").and_then(Value::as_str).unwrap_or_default();
        if found != M::TYPE {
            return Err(Error::WrongType {
                role: role.into(),
                expected: M::TYPE.into(),
                found: found.into(),
            });
        }
        let spec = value.get("spec_version").and_then(Value::as_str).unwrap_or_default();
        check_spec_version(role, spec)?;
        let unverified = decode_value::<M>(value, signatures, role)?;
        unverified.body.validate(role)?;
        Ok(unverified)
    }

    /// Decodes the `signed` object of any signed document (a manifest, a time attestation).
    pub fn decode_document<T: DeserializeOwned>(self, what: &str) -> Result<Unverified<T>> {
        let Envelope { signed, signatures } = self;
        match signed {
            Body::Canonical(text) => {
                let body = serde_json::from_str(&text).map_err(|e| Error::malformed(what, e))?;
                Ok(Unverified { body, message: text.into_bytes(), signatures })
            }
            Body::Value(value) => decode_value(value, signatures, what),
        }
    }
}

/// Canonical bytes first, from the value as received; the value is then consumed, which is
/// markedly faster than decoding from a borrowed one.
fn decode_value<T: DeserializeOwned>(
    value: Value,
    signatures: Vec<Signature>,
    what: &str,
) -> Result<Unverified<T>> {
    let message = canonical::to_vec(&value)?;
    let body = T::deserialize(value).map_err(|e| Error::malformed(what, e))?;
    Ok(Unverified { body, message, signatures })
}

/// A decoded body whose signatures have not been checked yet.
#[derive(Debug, Clone)]
pub struct Unverified<T> {
    body: T,
    message: Vec<u8>,
    signatures: Vec<Signature>,
}

impl<T> Unverified<T> {
    /// The body, for reading what verification needs (a new Root's own keys). Not trusted.
    pub fn body(&self) -> &T {
        &self.body
    }

    pub fn signatures(&self) -> &[Signature] {
        &self.signatures
    }

    /// The body, after every check the caller needed has passed.
    pub fn into_body(self) -> T {
        self.body
    }

    /// Checks that `key` signed the body (documents with one signer).
    pub fn verify_key(&self, what: &str, key: &PublicKey) -> Result<()> {
        let keyid = key.key_id()?;
        let keys = KeyMap::from([(keyid.clone(), key.clone())]);
        self.verify(what, &keys, &RoleKeys::new(vec![keyid], 1))
    }

    /// Checks that a threshold of unique keys of `role_keys`, found in `keys`, signed the
    /// canonical form of the body as received. Signatures from other keys, or invalid ones,
    /// are ignored as long as the threshold is met (BP 9.0.4).
    pub fn verify(&self, role: &str, keys: &KeyMap, role_keys: &RoleKeys) -> Result<()> {
        let mut valid = BTreeSet::new();
        for signature in &self.signatures {
            if !role_keys.keyids.contains(&signature.keyid) {
                continue;
            }
            let Some(key) = keys.get(&signature.keyid) else { continue };
            let Ok(sig) = hex::decode(&signature.sig) else { continue };
            if key.verify(&self.message, &sig) {
                // Unique keys, not unique key ids: one key listed under two ids counts once.
                valid.insert(key.material()?);
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

/// Canonical JSON leaves control characters raw inside strings (PEM keys carry newlines), and
/// no JSON parser accepts them there. It has none outside strings, so escaping every such byte
/// gives valid JSON with the same value.
fn escape_controls(bytes: Vec<u8>) -> Vec<u8> {
    if !bytes.iter().any(|&b| b < 0x20) {
        return bytes;
    }
    let mut out = Vec::with_capacity(bytes.len() + 64);
    for b in bytes {
        match b {
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\r' => out.extend_from_slice(b"\\r"),
            b'\t' => out.extend_from_slice(b"\\t"),
            0..0x20 => out.extend_from_slice(format!("\\u{b:04x}").as_bytes()),
            _ => out.push(b),
        }
    }
    out
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
        let unverified = Envelope::parse(bytes, role)?.decode(role)?;
        Ok(SignedMetadata { signed: unverified.body, signatures: unverified.signatures })
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
        self.sign_with(&[signer])
    }

    /// Adds (or replaces) the signatures of several signers, canonicalising once.
    pub fn sign_with(&mut self, signers: &[&dyn Signer]) -> Result<()> {
        let message = self.canonical_signed()?;
        self.add_signatures(&message, signers)
    }

    fn add_signatures(&mut self, message: &[u8], signers: &[&dyn Signer]) -> Result<()> {
        for signer in signers {
            let sig = hex::encode(signer.sign(message)?);
            self.signatures.retain(|s| s.keyid != signer.key_id());
            self.signatures.push(Signature {
                keyid: signer.key_id().to_owned(),
                method: Some(signer.public_key().scheme.clone()),
                sig,
                extra: Map::new(),
            });
        }
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

    /// The file as served: the whole envelope in canonical form (control characters escaped).
    pub fn to_bytes(&self) -> Result<Vec<u8>> {
        self.envelope_bytes(&self.canonical_signed()?)
    }

    /// Signs with every signer and returns the file's bytes, canonicalising the body once (the
    /// Director and the Image repository sign on their hot paths).
    pub fn sign_to_bytes(&mut self, signers: &[&dyn Signer]) -> Result<Vec<u8>> {
        let message = self.canonical_signed()?;
        self.add_signatures(&message, signers)?;
        self.envelope_bytes(&message)
    }

    /// `{"signatures":[...],"signed":BODY}`: keys in canonical order, so the whole file is
    /// canonical JSON, except that control characters are escaped (see [`escape_controls`]).
    fn envelope_bytes(&self, message: &[u8]) -> Result<Vec<u8>> {
        let signatures = canonical::to_vec_from(&self.signatures)?;
        let mut out = Vec::with_capacity(message.len() + signatures.len() + 32);
        out.extend_from_slice(b"{\"signatures\":");
        out.extend_from_slice(&signatures);
        out.extend_from_slice(b",\"signed\":");
        out.extend_from_slice(message);
        out.push(b'}');
        Ok(escape_controls(out))
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
    fn served_bytes_are_canonical_and_verify() {
        let key = crate::crypto::PrivateKey::ed25519_from_seed(&[3; 32]).unwrap();
        let mut root = super::super::Root::new(chrono::Utc::now());
        root.add_key("root", key.public_key()).unwrap();
        root.extra.insert("app!".into(), Value::from("x\"y"));
        let mut signed = SignedMetadata::new(root);
        let bytes = signed.sign_to_bytes(&[&key]).unwrap();
        let value: Value = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(canonical::to_vec(&value).unwrap(), bytes);
        assert_eq!(signed.to_bytes().unwrap(), bytes);
        let unverified =
            Envelope::parse(&bytes, "root").unwrap().decode::<super::super::Root>("root").unwrap();
        let own = unverified.body().clone();
        unverified.verify("root", &own.keys, own.role("root").unwrap()).unwrap();
    }

    /// Canonical text decodes straight into its type; any other spelling of the same document
    /// goes through the generic value. Both must give the same body and the same message.
    #[test]
    fn canonical_and_general_paths_agree() {
        let key = crate::crypto::PrivateKey::ed25519_from_seed(&[4; 32]).unwrap();
        let mut targets = super::super::Targets::new(3, chrono::Utc::now());
        let mut file = super::super::TargetFile::describing(b"image");
        file.extra.insert("unknown".into(), serde_json::json!({"nested": [1, "two"]}));
        targets.targets.insert("a b!/c".into(), file);
        targets.extra.insert("x-custom".into(), Value::from("q\"uote"));
        let mut signed = SignedMetadata::new(targets);
        let canonical = signed.sign_to_bytes(&[&key]).unwrap();
        let pretty = signed.to_pretty_bytes().unwrap();
        assert_ne!(canonical, pretty);
        let decode = |bytes: &[u8]| {
            Envelope::parse(bytes, "targets")
                .unwrap()
                .decode::<super::super::Targets>("targets")
                .unwrap()
        };
        let (fast, general) = (decode(&canonical), decode(&pretty));
        assert_eq!(fast.body(), general.body());
        assert_eq!(fast.message, general.message);
        let keys = KeyMap::from([(key.key_id().to_owned(), key.public_key().clone())]);
        let role = RoleKeys::new(vec![key.key_id().to_owned()], 1);
        fast.verify("targets", &keys, &role).unwrap();
        general.verify("targets", &keys, &role).unwrap();
    }

    #[test]
    fn served_bytes_with_pem_keys_are_valid_json() {
        let key = crate::crypto::PrivateKey::generate(crate::crypto::KeyType::EcdsaP256).unwrap();
        let mut root = super::super::Root::new(chrono::Utc::now());
        root.add_key("root", key.public_key()).unwrap();
        root.extra.insert("ctl".into(), Value::from("a\u{1}b"));
        let mut signed = SignedMetadata::new(root);
        let bytes = signed.sign_to_bytes(&[&key]).unwrap();
        assert!(!bytes.iter().any(|&b| b < 0x20));
        assert_eq!(signed.to_bytes().unwrap(), bytes);
        let unverified =
            Envelope::parse(&bytes, "root").unwrap().decode::<super::super::Root>("root").unwrap();
        let own = unverified.body().clone();
        assert_eq!(own.keys[key.key_id()].keyval.public, key.public_key().keyval.public);
        unverified.verify("root", &own.keys, own.role("root").unwrap()).unwrap();
    }

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
