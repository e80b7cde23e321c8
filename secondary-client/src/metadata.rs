//! Metadata as a Secondary receives it: files the Primary sends over the bus, staged in memory
//! until verification, and the trusted copies kept on flash between cycles (SF-5, SP-4).
//!
//! A staged file is named `REPO/FILE`, REPO being `director` or `image` and FILE the name the
//! core's [`uptane::repository::Updater`] fetches: `N.root.json`, `timestamp.json`,
//! `N.snapshot.json`, `N.targets.json`, `N.ROLE.json` for delegations (ROLE percent-encoded).
//! A versioned name may also be sent without its version (`targets.json`): the version inside
//! the signed file is what the checks compare. Partial verification reads
//! `director/targets.json` and any `director/N.root.json` (a Root rotation), so a Primary that
//! sends Director Targets under that name serves full and partial Secondaries with one set of
//! files: `director/N.root.json` for each new Root, `director/timestamp.json`,
//! `director/N.snapshot.json`, `director/targets.json`, and the same for `image/` (plus
//! `image/N.ROLE.json` for delegations the image's path needs).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use uptane::repository::{DirStore, Fetch, Rules, Store, TrustedSet};

use crate::config::Mode;
use crate::error::{Error, Result};

/// The two repositories a Secondary hears about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Repo {
    Director,
    Image,
}

impl Repo {
    pub fn name(self) -> &'static str {
        match self {
            Repo::Director => "director",
            Repo::Image => "image",
        }
    }
}

/// At most this many files wait for verification: a Primary cannot fill the ECU's memory with
/// names (each file is already bounded by the per-message limit).
pub const MAX_STAGED_FILES: usize = 64;

/// Files received and not yet verified.
#[derive(Debug, Default)]
pub struct Staged {
    files: BTreeMap<(Repo, String), Vec<u8>>,
}

impl Staged {
    /// Stages `bytes` under `name` (`director/targets.json`, ...), replacing an earlier copy.
    pub fn insert(&mut self, name: &str, bytes: Vec<u8>) -> Result<()> {
        let key = parse_name(name)?;
        if !self.files.contains_key(&key) && self.files.len() >= MAX_STAGED_FILES {
            return Err(Error::TooLarge {
                what: "staged metadata files".into(),
                limit: MAX_STAGED_FILES as u64,
            });
        }
        self.files.insert(key, bytes);
        Ok(())
    }

    pub fn clear(&mut self) {
        self.files.clear();
    }

    pub fn is_empty(&self) -> bool {
        self.files.is_empty()
    }

    /// The staged files of `repo` behind the core's [`Fetch`].
    pub fn fetch(&self, repo: Repo) -> StagedFetch<'_> {
        StagedFetch { staged: self, repo }
    }
}

/// Checks that `name` is one the ECU stages (`REPO/FILE`, see the module docs).
pub fn check_name(name: &str) -> Result<()> {
    parse_name(name).map(drop)
}

/// Splits and checks `REPO/FILE`.
fn parse_name(name: &str) -> Result<(Repo, String)> {
    let invalid = |reason| Error::InvalidName { name: name.into(), reason };
    let (repo, file) = name.split_once('/').ok_or_else(|| invalid("expected REPO/FILE"))?;
    let repo = match repo {
        "director" => Repo::Director,
        "image" => Repo::Image,
        _ => return Err(invalid("the repository must be director or image")),
    };
    let allowed = |c: char| c.is_ascii_alphanumeric() || "._-~%".contains(c);
    if file.len() > 255 || !file.chars().all(allowed) {
        return Err(invalid("the file name must be at most 255 of [A-Za-z0-9._~%-]"));
    }
    if file.starts_with('.') || !file.ends_with(".json") {
        return Err(invalid("the file name must end in .json and not start with a dot"));
    }
    Ok((repo, file.to_string()))
}

/// What [`uptane::repository::Updater`] fetches, served from the staged files.
#[derive(Debug, Clone, Copy)]
pub struct StagedFetch<'a> {
    staged: &'a Staged,
    repo: Repo,
}

impl StagedFetch<'_> {
    fn lookup(&self, name: &str) -> Option<&[u8]> {
        let get = |file: &str| self.staged.files.get(&(self.repo, file.to_string()));
        if let Some(bytes) = get(name) {
            return Some(bytes);
        }
        // `N.ROLE.json` may have been sent as `ROLE.json`; Root versions never are.
        let (version, rest) = name.split_once('.')?;
        let versioned = !version.is_empty() && version.bytes().all(|b| b.is_ascii_digit());
        (versioned && rest != "root.json").then(|| get(rest)).flatten().map(Vec::as_slice)
    }
}

impl Fetch for StagedFetch<'_> {
    fn fetch(&mut self, name: &str, max_bytes: u64) -> uptane::Result<Vec<u8>> {
        let what = || format!("{}/{name}", self.repo.name());
        match self.lookup(name) {
            None => Err(uptane::Error::NotFound { what: what() }),
            Some(bytes) if bytes.len() as u64 > max_bytes => {
                Err(uptane::Error::TooLarge { what: what(), limit: max_bytes })
            }
            Some(bytes) => Ok(bytes.to_vec()),
        }
    }
}

/// The trusted metadata on flash: `metadata/director/` and `metadata/image/`, one file per
/// role (`root.json`, `timestamp.json`, `snapshot.json`, `targets.json`, `ROLE.json`), each
/// the exact bytes last accepted.
#[derive(Debug, Clone)]
pub struct TrustedStore {
    dir: PathBuf,
}

impl TrustedStore {
    pub fn new(storage: &Path) -> TrustedStore {
        TrustedStore { dir: storage.join("metadata") }
    }

    pub fn repo(&self, repo: Repo) -> Result<DirStore> {
        Ok(DirStore::new(self.dir.join(repo.name()))?)
    }

    /// Copies what the ECU was provisioned with (SF-2, SP-2) from `provisioned`, laid out as
    /// `director/root.json`, `director/targets.json`, and for full verification also the
    /// Director's `timestamp.json` and `snapshot.json` and all four of `image/`. Every Root
    /// must verify against itself; the other files are checked when first used.
    pub fn provision(&self, provisioned: &Path, mode: Mode) -> Result<()> {
        const ROLES: &[&str] = &["timestamp.json", "snapshot.json", "targets.json"];
        // (repository, required files, optional files)
        let plan: &[(Repo, &[&str], &[&str])] = match mode {
            Mode::Partial => &[(Repo::Director, &["root.json", "targets.json"], &[])],
            Mode::Full => {
                &[(Repo::Director, &["root.json"], ROLES), (Repo::Image, &["root.json"], ROLES)]
            }
        };
        for &(repo, required, optional) in plan {
            let mut store = self.repo(repo)?;
            for &file in required.iter().chain(optional) {
                let path = provisioned.join(repo.name()).join(file);
                let bytes = match std::fs::read(&path) {
                    Ok(bytes) => bytes,
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                        if required.contains(&file) {
                            return Err(Error::Config(format!(
                                "{mode:?} verification needs {} to be provisioned",
                                path.display()
                            )));
                        }
                        continue;
                    }
                    Err(e) => return Err(Error::io(&path, e)),
                };
                if file == "root.json" {
                    TrustedSet::new(&bytes, chrono::Utc::now(), Rules::uptane())?;
                }
                store.save(file, &bytes)?;
            }
        }
        Ok(())
    }
}

/// A store whose changes wait until the whole cycle verified: a cycle that fails at any step
/// leaves the trusted copies on flash exactly as they were (5.4.4: keep the previous metadata).
#[derive(Debug)]
pub struct CycleStore {
    base: DirStore,
    /// New contents (`None`: removed) by file name.
    changes: BTreeMap<String, Option<Vec<u8>>>,
}

impl CycleStore {
    pub fn new(base: DirStore) -> CycleStore {
        CycleStore { base, changes: BTreeMap::new() }
    }

    /// Writes the changes through, each file atomically.
    pub fn commit(self) -> Result<()> {
        let mut base = self.base;
        for (name, change) in self.changes {
            match change {
                Some(bytes) => base.save(&name, &bytes)?,
                None => base.remove(&name)?,
            }
        }
        Ok(())
    }
}

impl Store for CycleStore {
    fn load(&self, name: &str) -> uptane::Result<Option<Vec<u8>>> {
        match self.changes.get(name) {
            Some(change) => Ok(change.clone()),
            None => self.base.load(name),
        }
    }

    fn save(&mut self, name: &str, bytes: &[u8]) -> uptane::Result<()> {
        self.changes.insert(name.into(), Some(bytes.to_vec()));
        Ok(())
    }

    fn remove(&mut self, name: &str) -> uptane::Result<()> {
        self.changes.insert(name.into(), None);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cycle_store_changes_nothing_until_committed() {
        let dir = tempfile::tempdir().unwrap();
        let mut base = DirStore::new(dir.path()).unwrap();
        base.save("root.json", b"root 1").unwrap();
        base.save("snapshot.json", b"snapshot 1").unwrap();
        let mut cycle = CycleStore::new(base.clone());
        cycle.save("root.json", b"root 2").unwrap();
        cycle.remove("snapshot.json").unwrap();
        assert_eq!(cycle.load("root.json").unwrap().unwrap(), b"root 2");
        assert_eq!(cycle.load("snapshot.json").unwrap(), None);
        assert_eq!(base.load("root.json").unwrap().unwrap(), b"root 1");
        drop(cycle);
        assert_eq!(base.load("snapshot.json").unwrap().unwrap(), b"snapshot 1");
        let mut cycle = CycleStore::new(base.clone());
        cycle.save("root.json", b"root 2").unwrap();
        cycle.remove("snapshot.json").unwrap();
        cycle.commit().unwrap();
        assert_eq!(base.load("root.json").unwrap().unwrap(), b"root 2");
        assert_eq!(base.load("snapshot.json").unwrap(), None);
    }

    #[test]
    fn only_repository_files_are_staged() {
        let mut staged = Staged::default();
        staged.insert("director/targets.json", b"t".to_vec()).unwrap();
        staged.insert("image/3.supplier%2FA.json", b"d".to_vec()).unwrap();
        for bad in [
            "targets.json",
            "other/targets.json",
            "director/../state.json",
            "director/a/b.json",
            "director/.json",
            "director/targets.txt",
            "image/",
        ] {
            assert!(
                matches!(staged.insert(bad, vec![]), Err(Error::InvalidName { .. })),
                "{bad} was accepted"
            );
        }
    }

    #[test]
    fn staging_is_bounded() {
        let mut staged = Staged::default();
        for i in 0..MAX_STAGED_FILES {
            staged.insert(&format!("image/{i}.r.json"), vec![]).unwrap();
        }
        staged.insert("image/0.r.json", vec![1]).unwrap();
        let err = staged.insert("image/x.json", vec![]).unwrap_err();
        assert_eq!(err.attack(), Some(uptane::Attack::EndlessData));
    }

    #[test]
    fn versioned_names_fall_back_to_unversioned_copies_except_roots() {
        let mut staged = Staged::default();
        staged.insert("director/targets.json", b"targets".to_vec()).unwrap();
        staged.insert("director/root.json", b"root".to_vec()).unwrap();
        staged.insert("image/7.snapshot.json", b"snapshot".to_vec()).unwrap();
        let mut director = staged.fetch(Repo::Director);
        assert_eq!(director.fetch("4.targets.json", 100).unwrap(), b"targets");
        assert!(matches!(director.fetch("2.root.json", 100), Err(uptane::Error::NotFound { .. })));
        let err = director.fetch("targets.json", 3).unwrap_err();
        assert_eq!(err.attack(), Some(uptane::Attack::EndlessData));
        let mut image = staged.fetch(Repo::Image);
        assert_eq!(image.fetch("7.snapshot.json", 100).unwrap(), b"snapshot");
        assert!(image.fetch("8.snapshot.json", 100).is_err());
        assert!(image.fetch("targets.json", 100).is_err());
    }
}
