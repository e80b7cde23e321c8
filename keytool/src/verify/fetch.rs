//! The verifier's view of a repository directory: files read with the verifier's byte limits,
//! optionally with files about to be published laid over them (so `publish` can verify the
//! result before writing anything).

use std::collections::BTreeMap;
use std::io::Read;
use std::path::PathBuf;

use uptane::Error;
use uptane::repository::Fetch;

/// Metadata files from `dir`, or from `pending` where it has them.
#[derive(Debug, Clone)]
pub struct DirFetch {
    dir: PathBuf,
    pending: BTreeMap<String, Vec<u8>>,
}

impl DirFetch {
    pub fn new(dir: impl Into<PathBuf>) -> DirFetch {
        DirFetch { dir: dir.into(), pending: BTreeMap::new() }
    }

    /// Serves `pending` (file name to bytes) in place of, or in addition to, the directory.
    pub fn with_pending(dir: impl Into<PathBuf>, pending: BTreeMap<String, Vec<u8>>) -> DirFetch {
        DirFetch { dir: dir.into(), pending }
    }
}

impl Fetch for DirFetch {
    fn fetch(&mut self, name: &str, max_bytes: u64) -> uptane::Result<Vec<u8>> {
        // Role names arrive percent-encoded, so a separator here can only be an attack.
        if name.contains(['/', '\\']) || name.starts_with('.') {
            return Err(Error::NotFound { what: name.into() });
        }
        let bytes = match self.pending.get(name) {
            Some(bytes) => bytes.clone(),
            None => {
                let path = self.dir.join(name);
                let file = match std::fs::File::open(&path) {
                    Ok(file) => file,
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                        return Err(Error::NotFound { what: name.into() });
                    }
                    Err(source) => return Err(Error::Io { what: name.into(), source }),
                };
                let mut bytes = Vec::new();
                file.take(max_bytes.saturating_add(1))
                    .read_to_end(&mut bytes)
                    .map_err(|source| Error::Io { what: name.into(), source })?;
                bytes
            }
        };
        if bytes.len() as u64 > max_bytes {
            return Err(Error::TooLarge { what: name.into(), limit: max_bytes });
        }
        Ok(bytes)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // a failed unwrap is a failed test
mod tests {
    use super::*;

    #[test]
    fn limits_and_missing_files() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("1.root.json"), b"12345").unwrap();
        let mut fetch = DirFetch::new(dir.path());
        assert_eq!(fetch.fetch("1.root.json", 5).unwrap(), b"12345");
        assert!(matches!(fetch.fetch("1.root.json", 4), Err(Error::TooLarge { .. })));
        assert!(matches!(fetch.fetch("2.root.json", 5), Err(Error::NotFound { .. })));
        assert!(matches!(fetch.fetch("../1.root.json", 5), Err(Error::NotFound { .. })));
        let pending = BTreeMap::from([("2.root.json".to_string(), b"new".to_vec())]);
        let mut fetch = DirFetch::with_pending(dir.path(), pending);
        assert_eq!(fetch.fetch("2.root.json", 5).unwrap(), b"new");
    }
}
