//! Hashing of metadata and images against the hashes a role lists, in one pass for all of them.

use ring::digest::{Algorithm, Context, SHA256, SHA384, SHA512};

use crate::metadata::Hashes;

/// The digest algorithm for a TUF hash name, if we support it.
pub fn algorithm(name: &str) -> Option<&'static Algorithm> {
    match name {
        "sha256" => Some(&SHA256),
        "sha384" => Some(&SHA384),
        "sha512" => Some(&SHA512),
        _ => None,
    }
}

/// Computes every listed hash incrementally (images are streamed, never held in memory).
pub struct MultiHasher {
    contexts: Vec<(String, String, Option<Context>)>,
    length: u64,
}

impl std::fmt::Debug for MultiHasher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MultiHasher").field("length", &self.length).finish_non_exhaustive()
    }
}

impl MultiHasher {
    /// A hasher for every algorithm in `expected`; unsupported ones can never match.
    pub fn new(expected: &Hashes) -> MultiHasher {
        let contexts = expected
            .iter()
            .map(|(name, hex)| {
                (name.clone(), hex.to_ascii_lowercase(), algorithm(name).map(Context::new))
            })
            .collect();
        MultiHasher { contexts, length: 0 }
    }

    pub fn update(&mut self, bytes: &[u8]) {
        self.length += bytes.len() as u64;
        for (_, _, context) in &mut self.contexts {
            if let Some(context) = context {
                context.update(bytes);
            }
        }
    }

    /// Bytes seen so far.
    pub fn length(&self) -> u64 {
        self.length
    }

    /// The name of the first listed hash that does not match, if any.
    pub fn mismatch(self) -> Option<String> {
        self.contexts.into_iter().find_map(|(name, expected, context)| {
            let matches = context.is_some_and(|c| hex::encode(c.finish()) == expected);
            (!matches).then_some(name)
        })
    }

    /// Hashes `bytes` in one go and reports the first mismatch.
    pub fn check(expected: &Hashes, bytes: &[u8]) -> Option<String> {
        let mut hasher = MultiHasher::new(expected);
        hasher.update(bytes);
        hasher.mismatch()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_listed_hash_must_match() {
        let bytes = b"image";
        let mut hashes = Hashes::new();
        hashes.insert("sha256".into(), crate::crypto::sha256_hex(bytes));
        assert_eq!(MultiHasher::check(&hashes, bytes), None);
        hashes.insert("sha512".into(), "00".repeat(64));
        assert_eq!(MultiHasher::check(&hashes, bytes).as_deref(), Some("sha512"));
        hashes.remove("sha512");
        hashes.insert("md5".into(), "00".repeat(16));
        assert_eq!(MultiHasher::check(&hashes, bytes).as_deref(), Some("md5"));
    }
}
