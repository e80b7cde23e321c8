//! The plain-TUF client behind the `tuf-client` binary: the command-line contract of the TUF
//! conformance suite (its CLIENT-CLI.md), run on the same verifier as the Primary with the
//! Uptane-only rules switched off ([`Rules::tuf`]).
//!
//! The metadata directory holds only `ROLE.json` files with the exact bytes received; the
//! target directory holds only verified images, one file per target path.

use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use uptane::repository::{DirStore, Refresh, Rules, Updater, write_atomically};
use uptane::{Error, Result};

use crate::http::{HttpClient, HttpConfig, HttpFetcher, download_target, file_matches, target_url};

/// Python's `urllib.parse.quote(name, safe="")`, as for role file names.
const FLAT_NAME_SET: &AsciiSet =
    &NON_ALPHANUMERIC.remove(b'_').remove(b'.').remove(b'-').remove(b'~');

/// The flat file name python-tuf stores target `path` under: `a/b c` is `a%2Fb%20c`. Flat, so
/// no target path can reach outside the target directory.
pub fn target_file_name(path: &str) -> Result<String> {
    let name = utf8_percent_encode(path, FLAT_NAME_SET).to_string();
    if name.is_empty() || name == "." || name == ".." {
        return Err(Error::InvalidName {
            what: "target path",
            value: path.into(),
            reason: "cannot be stored as a file",
        });
    }
    Ok(name)
}

/// Stores the trusted Root, unchecked: it is fully verified (its own threshold of signatures)
/// by every later command before any request is made.
pub fn init(metadata_dir: &Path, trusted_root: &Path) -> Result<()> {
    let bytes = std::fs::read(trusted_root)
        .map_err(|source| Error::Io { what: trusted_root.display().to_string(), source })?;
    std::fs::create_dir_all(metadata_dir)
        .map_err(|source| Error::Io { what: metadata_dir.display().to_string(), source })?;
    write_atomically(&metadata_dir.join("root.json"), &bytes)
}

/// One client run against one repository, at a time fixed when it starts.
#[derive(Debug)]
pub struct TufClient {
    updater: Updater<HttpFetcher, DirStore>,
    client: HttpClient,
}

impl TufClient {
    /// Loads and verifies the trusted Root in `metadata_dir`; no request is made yet.
    pub fn new(metadata_dir: &Path, metadata_url: &str, now: DateTime<Utc>) -> Result<TufClient> {
        let client = HttpClient::new(&HttpConfig::default())?;
        let fetcher = HttpFetcher::new(client.clone(), metadata_url);
        let updater = Updater::new(fetcher, DirStore::new(metadata_dir)?, now, Rules::tuf())?;
        Ok(TufClient { updater, client })
    }

    /// The TUF client workflow: Root, Timestamp, Snapshot, top-level Targets.
    pub fn refresh(&mut self) -> Result<Refresh> {
        self.updater.refresh()
    }

    /// Finds `path` through the delegations, then stores it in `target_dir` unless an
    /// identical copy is already there. Must follow [`Self::refresh`]. Returns the file.
    pub fn download(
        &mut self,
        path: &str,
        target_dir: &Path,
        target_base_url: &str,
    ) -> Result<PathBuf> {
        let found = self.updater.find_target(path, None)?.ok_or_else(|| Error::TargetNotFound {
            target: path.into(),
            repository: "repository".into(),
        })?;
        let dest = target_dir.join(target_file_name(path)?);
        if file_matches(&dest, &found.file) {
            tracing::info!(path, "target already present");
            return Ok(dest);
        }
        let consistent = self.updater.trusted().root().consistent_snapshot;
        let url = target_url(target_base_url, path, &found.file, consistent);
        download_target(&self.client, &url, path, &found.file, &dest)?;
        tracing::info!(path, dest = %dest.display(), "target downloaded");
        Ok(dest)
    }
}

/// `refresh`: one refresh of `metadata_dir` from `metadata_url`.
pub fn refresh(metadata_dir: &Path, metadata_url: &str, now: DateTime<Utc>) -> Result<Refresh> {
    TufClient::new(metadata_dir, metadata_url, now)?.refresh()
}

/// `download`: a refresh, then each target in order with the same trusted state, stopping at
/// the first failure.
pub fn download(
    metadata_dir: &Path,
    metadata_url: &str,
    target_names: &[String],
    target_dir: &Path,
    target_base_url: &str,
    now: DateTime<Utc>,
) -> Result<Vec<PathBuf>> {
    let mut client = TufClient::new(metadata_dir, metadata_url, now)?;
    client.refresh()?;
    target_names.iter().map(|path| client.download(path, target_dir, target_base_url)).collect()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // a failed unwrap is a failed test
mod tests {
    use super::*;

    #[test]
    fn target_names_are_flat_like_python_tuf() {
        assert_eq!(target_file_name("file.txt").unwrap(), "file.txt");
        assert_eq!(target_file_name("path/to/a b.txt").unwrap(), "path%2Fto%2Fa%20b.txt");
        assert_eq!(target_file_name("../x").unwrap(), "..%2Fx");
        assert!(target_file_name("").is_err());
        assert!(target_file_name("..").is_err());
    }
}
