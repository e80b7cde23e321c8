//! Keys, key ids, signing and verification (ring).

pub mod hash;
mod key;
mod signer;

pub use hash::MultiHasher;
pub use key::{KeyMap, KeyVal, PublicKey, Scheme, check_key_ids};
pub use signer::{KeyType, PrivateKey, Signer};

/// Hex SHA-256 of `bytes`.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(ring::digest::digest(&ring::digest::SHA256, bytes))
}
