//! Where a verifier keeps what it trusts between cycles: the exact bytes received, one file per
//! role, replaced atomically so a crash leaves either the old or the new file, never a mix.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};

use crate::error::{Error, Result};

/// Persistent storage of trusted metadata, by file name (`root.json`, `ROLE.json`, ...).
pub trait Store {
    fn load(&self, name: &str) -> Result<Option<Vec<u8>>>;
    fn save(&mut self, name: &str, bytes: &[u8]) -> Result<()>;
    fn remove(&mut self, name: &str) -> Result<()>;
}

/// Python's `urllib.parse.quote(name, safe="")`: what TUF clients use for role names in URLs
/// and file names, so `a/b` can never escape a directory.
const ROLE_NAME_SET: &AsciiSet =
    &NON_ALPHANUMERIC.remove(b'_').remove(b'.').remove(b'-').remove(b'~');

/// The file (and URL) name of a role's metadata, without a version: `ROLE.json`.
pub fn role_file_name(role: &str) -> String {
    format!("{}.json", utf8_percent_encode(role, ROLE_NAME_SET))
}

/// A directory of metadata files.
#[derive(Debug, Clone)]
pub struct DirStore {
    dir: PathBuf,
}

impl DirStore {
    /// Uses `dir`, creating it if needed.
    pub fn new(dir: impl Into<PathBuf>) -> Result<DirStore> {
        let dir = dir.into();
        std::fs::create_dir_all(&dir).map_err(|source| io(&dir, source))?;
        Ok(DirStore { dir })
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }
}

fn io(path: &Path, source: std::io::Error) -> Error {
    Error::Io { what: path.display().to_string(), source }
}

impl Store for DirStore {
    fn load(&self, name: &str) -> Result<Option<Vec<u8>>> {
        let path = self.dir.join(name);
        match std::fs::read(&path) {
            Ok(bytes) => Ok(Some(bytes)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(io(&path, e)),
        }
    }

    fn save(&mut self, name: &str, bytes: &[u8]) -> Result<()> {
        write_atomically(&self.dir.join(name), bytes)
    }

    fn remove(&mut self, name: &str) -> Result<()> {
        let path = self.dir.join(name);
        match std::fs::remove_file(&path) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(io(&path, e)),
        }
    }
}

/// Writes `bytes` to a temporary file beside `path`, syncs it, renames it over `path`, and
/// syncs the directory.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let mut file = tempfile::NamedTempFile::new_in(dir).map_err(|e| io(dir, e))?;
    file.write_all(bytes).map_err(|e| io(path, e))?;
    file.as_file().sync_all().map_err(|e| io(path, e))?;
    file.persist(path).map_err(|e| io(path, e.error))?;
    std::fs::File::open(dir).and_then(|d| d.sync_all()).map_err(|e| io(dir, e))
}

/// Storage in memory: for tests, and for ECUs that keep metadata in RAM.
#[derive(Debug, Clone, Default)]
pub struct MemStore {
    pub files: BTreeMap<String, Vec<u8>>,
}

impl Store for MemStore {
    fn load(&self, name: &str) -> Result<Option<Vec<u8>>> {
        Ok(self.files.get(name).cloned())
    }

    fn save(&mut self, name: &str, bytes: &[u8]) -> Result<()> {
        self.files.insert(name.into(), bytes.to_vec());
        Ok(())
    }

    fn remove(&mut self, name: &str) -> Result<()> {
        self.files.remove(name);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn role_names_are_quoted_like_python() {
        assert_eq!(role_file_name("supplierA"), "supplierA.json");
        assert_eq!(role_file_name("a/b c?"), "a%2Fb%20c%3F.json");
        assert_eq!(role_file_name("../x"), "..%2Fx.json");
        assert_eq!(role_file_name("~_.-"), "~_.-.json");
    }

    #[test]
    fn dir_store_replaces_files_whole() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = DirStore::new(dir.path()).unwrap();
        assert_eq!(store.load("root.json").unwrap(), None);
        store.save("root.json", b"one").unwrap();
        store.save("root.json", b"two").unwrap();
        assert_eq!(store.load("root.json").unwrap().unwrap(), b"two");
        let names: Vec<_> =
            std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
        assert_eq!(names, vec!["root.json"]);
        store.remove("root.json").unwrap();
        store.remove("root.json").unwrap();
        assert_eq!(store.load("root.json").unwrap(), None);
    }
}
