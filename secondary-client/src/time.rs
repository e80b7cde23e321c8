//! Time for an ECU without a secure clock (TM-1..TM-5, profile §3.5): the ECU trusts only times
//! signed by the time key its trusted Director Root names, echoing a nonce it issued itself,
//! and never moves its clock backwards, except when a new trusted Root changes the time key
//! ([`crate::Ecu::verify_metadata`]). Each nonce is good for one attestation.

use chrono::{DateTime, Utc};
use ring::rand::{SecureRandom, SystemRandom};
use uptane::repository::{Rules, TrustedSet};
use uptane::time::verify_attestation;

use crate::error::{Error, Result};

/// A fresh 128-bit nonce, hex.
pub fn fresh_nonce() -> Result<String> {
    let mut bytes = [0u8; 16];
    SystemRandom::new()
        .fill(&mut bytes)
        .map_err(|_| Error::State("the system random source failed".into()))?;
    Ok(hex::encode(bytes))
}

/// Verifies `attestation` against the Director Root `root` (exact bytes as trusted), for the
/// outstanding `nonce`, not earlier than `latest`; returns the attested time.
pub fn accept(
    attestation: &[u8],
    root: &[u8],
    nonce: Option<&str>,
    latest: DateTime<Utc>,
) -> Result<DateTime<Utc>> {
    let nonce = nonce.ok_or_else(|| {
        uptane::Error::Time("no nonce outstanding: this ECU asked for no time".into())
    })?;
    let set = TrustedSet::new(root, latest, Rules::uptane())?;
    Ok(verify_attestation(attestation, set.root().meta(), nonce, Some(latest))?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nonces_are_128_bit_hex_and_fresh() {
        let (a, b) = (fresh_nonce().unwrap(), fresh_nonce().unwrap());
        assert_eq!(a.len(), 32);
        assert!(a.bytes().all(|c| c.is_ascii_hexdigit()));
        assert_ne!(a, b);
    }
}
