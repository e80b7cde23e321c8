//! Secure time from signed attestations (Standard 5.4.2.2, 5.4.3.1; BP 3.1; profile §3.5).
//!
//! Each ECU puts a fresh nonce in its version report; the Director's time server signs the
//! current time together with all nonces; each ECU accepts the time only if the attestation is
//! signed by the time key named in the Director Root, echoes its own nonce, and does not move
//! its clock backwards. The time key is named by the Root's `time_attestation` field, never as
//! a fifth role (stock TUF clients reject unknown roles).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::crypto::PublicKey;
use crate::error::{Error, Result};
use crate::metadata::{Envelope, RoleKeys, Root, tuf_time};

/// The Root field that names the time attestation keys (`{"keyids": [...], "threshold": n}`).
pub const TIME_KEYS_FIELD: &str = "time_attestation";

/// The signed body of a time attestation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TimeAttestation {
    #[serde(with = "tuf_time")]
    pub time: DateTime<Utc>,
    pub nonces: Vec<String>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// The time keys a Director Root names, if any.
pub fn time_keys(root: &Root) -> Result<Option<RoleKeys>> {
    root.extra
        .get(TIME_KEYS_FIELD)
        .map(|value| {
            RoleKeys::deserialize(value)
                .map_err(|e| Error::malformed("root", format!("{TIME_KEYS_FIELD}: {e}")))
        })
        .transpose()
}

/// Names `keys` (whose ids the Root's `keys` must list) as the Root's time attestation keys,
/// replacing any named before.
pub fn set_time_keys(root: &mut Root, keys: &RoleKeys) {
    let field = serde_json::json!({"keyids": keys.keyids, "threshold": keys.threshold});
    root.extra.insert(TIME_KEYS_FIELD.into(), field);
}

/// Lists `key` in the Root's `keys` and names it, alone, as the time attestation key.
pub fn add_time_key(root: &mut Root, key: &PublicKey) -> Result<()> {
    let key_id = key.key_id()?;
    root.keys.insert(key_id.clone(), key.clone());
    set_time_keys(root, &RoleKeys::new(vec![key_id], 1));
    Ok(())
}

/// Verifies an attestation for the ECU that sent `nonce` and returns the new time. `previous`
/// is the latest time this ECU accepted; time never moves backwards (A6).
pub fn verify_attestation(
    bytes: &[u8],
    root: &Root,
    nonce: &str,
    previous: Option<DateTime<Utc>>,
) -> Result<DateTime<Utc>> {
    const WHAT: &str = "time attestation";
    let keys = time_keys(root)?
        .ok_or_else(|| Error::Time("the Director root names no time key".into()))?;
    let attestation = Envelope::parse(bytes, WHAT)?.decode_document::<TimeAttestation>(WHAT)?;
    attestation.verify(WHAT, &root.keys, &keys).map_err(|e| Error::Time(e.to_string()))?;
    let attestation = attestation.into_body();
    if !attestation.nonces.iter().any(|n| n == nonce) {
        return Err(Error::Time("this ECU's nonce is not attested".into()));
    }
    if let Some(previous) = previous
        && attestation.time < previous
    {
        return Err(Error::Time(format!(
            "{} is earlier than the accepted {}",
            crate::metadata::format_time(attestation.time),
            crate::metadata::format_time(previous)
        )));
    }
    Ok(attestation.time)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Attack;
    use crate::crypto::{PrivateKey, Signer};
    use crate::metadata::SignedMetadata;
    use chrono::Duration;

    fn setup() -> (Root, PrivateKey) {
        let time_key = PrivateKey::ed25519_from_seed(&[5; 32]).unwrap();
        let mut root = Root::new(Utc::now() + Duration::days(365));
        add_time_key(&mut root, time_key.public_key()).unwrap();
        assert_eq!(time_keys(&root).unwrap().unwrap().keyids, [time_key.key_id()]);
        (root, time_key)
    }

    fn attest(key: &PrivateKey, time: DateTime<Utc>, nonces: &[&str]) -> Vec<u8> {
        let body = TimeAttestation {
            time,
            nonces: nonces.iter().map(|n| n.to_string()).collect(),
            extra: Map::new(),
        };
        let mut signed = SignedMetadata::new(body);
        signed.sign(key).unwrap();
        signed.to_bytes().unwrap()
    }

    fn at(secs: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000 + secs, 0).unwrap()
    }

    #[test]
    fn a_signed_time_with_our_nonce_is_accepted() {
        let (root, key) = setup();
        let bytes = attest(&key, at(10), &["aa", "bb"]);
        assert_eq!(verify_attestation(&bytes, &root, "bb", Some(at(5))).unwrap(), at(10));
    }

    #[test]
    fn old_foreign_or_forged_times_are_refused() {
        let (root, key) = setup();
        let other = PrivateKey::ed25519_from_seed(&[6; 32]).unwrap();
        let cases = [
            attest(&key, at(1), &["aa"]),    // earlier than the accepted time
            attest(&key, at(10), &["bb"]),   // another ECU's nonce only
            attest(&other, at(10), &["aa"]), // signed by the wrong key
        ];
        for bytes in cases {
            let err = verify_attestation(&bytes, &root, "aa", Some(at(5))).unwrap_err();
            assert_eq!(err.attack(), Some(Attack::Freeze), "{err}");
        }
    }

    #[test]
    fn a_root_without_a_time_key_cannot_attest() {
        let (_, key) = setup();
        let root = Root::new(Utc::now());
        let err = verify_attestation(&attest(&key, at(1), &["aa"]), &root, "aa", None).unwrap_err();
        assert_eq!(err.attack(), Some(Attack::Freeze));
    }
}
