//! Images: hashing them as they stream by, and where each copy lives in the published layout.

use std::io::Read;
use std::path::Path;

use ring::digest::{Context, SHA256, SHA512};
use uptane::metadata::Hashes;
use uptane::names::TargetPath;

use crate::error::{Error, Result};

/// Length, sha256 and sha512 of an image, computed in one pass.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Digest {
    pub length: u64,
    pub sha256: String,
    pub sha512: String,
}

/// Feeds chunks of an image to both hashes.
pub struct Hasher {
    sha256: Context,
    sha512: Context,
    length: u64,
}

impl std::fmt::Debug for Hasher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Hasher").field("length", &self.length).finish_non_exhaustive()
    }
}

impl Default for Hasher {
    fn default() -> Hasher {
        Hasher { sha256: Context::new(&SHA256), sha512: Context::new(&SHA512), length: 0 }
    }
}

impl Hasher {
    pub fn update(&mut self, chunk: &[u8]) {
        self.sha256.update(chunk);
        self.sha512.update(chunk);
        self.length += chunk.len() as u64;
    }

    pub fn finish(self) -> Digest {
        Digest {
            length: self.length,
            sha256: hex::encode(self.sha256.finish()),
            sha512: hex::encode(self.sha512.finish()),
        }
    }
}

impl Digest {
    /// Streams `path` through the hashes.
    pub fn of_file(path: &Path) -> Result<Digest> {
        let mut file = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
        let mut hasher = Hasher::default();
        let mut buf = vec![0; 1 << 16];
        loop {
            let n = file.read(&mut buf).map_err(|e| Error::io(path, e))?;
            if n == 0 {
                return Ok(hasher.finish());
            }
            hasher.update(&buf[..n]);
        }
    }

    /// The hashes as a target entry lists them.
    pub fn hashes(&self) -> Hashes {
        Hashes::from([
            ("sha256".into(), self.sha256.clone()),
            ("sha512".into(), self.sha512.clone()),
        ])
    }
}

/// Checks an entry from metadata someone else prepared before its path and hashes are used
/// in file names: a valid target path, and hashes that are hex digests (sha256 among them).
pub fn check_entry(path: &str, hashes: &Hashes) -> Result<()> {
    TargetPath::new(path)?;
    if !hashes.contains_key("sha256") {
        return Err(Error::State(format!("{path}: lists no sha256 hash")));
    }
    for (name, value) in hashes {
        let length = uptane::crypto::hash::algorithm(name).map(|a| a.output_len() * 2);
        let hex = value.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
        if !hex || length.is_some_and(|n| n != value.len()) || value.is_empty() {
            return Err(Error::State(format!("{path}: {name} hash {value:?} is not a hex digest")));
        }
    }
    Ok(())
}

/// The published names of an image, relative to `targets/`: `DIR/HASH.BASENAME` once per
/// listed hash (Standard 5.2.7; what python-tuf and our clients fetch).
pub fn published_names(path: &str, hashes: &Hashes) -> Vec<String> {
    let (dir, base) = match path.rsplit_once('/') {
        Some((dir, base)) => (format!("{dir}/"), base),
        None => (String::new(), path),
    };
    hashes.values().map(|hash| format!("{dir}{hash}.{base}")).collect()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // a failed unwrap is a failed test
mod tests {
    use super::*;

    #[test]
    fn one_copy_per_hash_beside_the_path() {
        let hashes = Hashes::from([("sha256".into(), "aa".into()), ("sha512".into(), "bb".into())]);
        assert_eq!(
            published_names("ecu/bcm/app.bin", &hashes),
            ["ecu/bcm/aa.app.bin", "ecu/bcm/bb.app.bin"]
        );
        assert_eq!(published_names("app.bin", &hashes), ["aa.app.bin", "bb.app.bin"]);
    }

    #[test]
    fn entries_with_unsafe_names_are_refused() {
        let good = Hashes::from([("sha256".into(), "ab".repeat(32))]);
        check_entry("a/b.bin", &good).unwrap();
        assert!(check_entry("../b.bin", &good).is_err());
        let traversal = Hashes::from([("sha256".into(), "../../etc/passwd".into())]);
        assert!(check_entry("a/b.bin", &traversal).is_err());
        let short = Hashes::from([("sha256".into(), "abcd".into())]);
        assert!(check_entry("a/b.bin", &short).is_err());
        let no_sha256 = Hashes::from([("sha512".into(), "ab".repeat(64))]);
        assert!(check_entry("a/b.bin", &no_sha256).is_err());
    }

    #[test]
    fn digest_matches_ring() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("img");
        std::fs::write(&path, b"abc").unwrap();
        let digest = Digest::of_file(&path).unwrap();
        assert_eq!(digest.length, 3);
        assert_eq!(digest.sha256, uptane::crypto::sha256_hex(b"abc"));
        assert!(digest.sha512.starts_with("ddaf35a1"));
    }
}
