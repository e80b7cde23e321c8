//! Runs the core verifier over a whole repository, the way a vehicle would: Root chain from a
//! trusted Root, Timestamp, Snapshot, Targets, then every delegated role and every target
//! resolved through the delegations (paths and hardware ids).

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use chrono::{DateTime, Utc};
use serde::Serialize;
use uptane::metadata::{Metadata, TargetFile};
use uptane::repository::{Fetch, MemStore, Rules, Store, Updater, role_file_name};

use super::fetch::DirFetch;

/// A target as a client resolves it: the entry of the role that wins the delegation search.
#[derive(Debug, Clone, Serialize)]
pub struct ResolvedTarget {
    pub path: String,
    pub role: String,
    pub file: TargetFile,
}

/// A failed check, with the attack it would be (profile §7 labels).
#[derive(Debug, Clone, Serialize)]
pub struct Problem {
    pub subject: String,
    pub error: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub attack: Option<String>,
}

impl Problem {
    pub fn new(subject: impl Into<String>, error: &uptane::Error) -> Problem {
        Problem {
            subject: subject.into(),
            error: error.to_string(),
            attack: error.attack().map(|a| a.label().to_owned()),
        }
    }

    fn labelled(subject: &str, error: String, attack: uptane::Attack) -> Problem {
        Problem { subject: subject.into(), error, attack: Some(attack.label().into()) }
    }
}

/// Everything the metadata walk established.
#[derive(Debug, Clone, Default, Serialize)]
pub struct MetadataCheck {
    pub root_version: u64,
    pub timestamp_version: u64,
    pub snapshot_version: u64,
    /// Every Targets role, in the order the walk verified them.
    pub roles: Vec<String>,
    pub targets: Vec<ResolvedTarget>,
    pub problems: Vec<Problem>,
}

/// Upper bound on roles walked: a guard against a delegation graph built to exhaust us.
const MAX_ROLES: usize = 10_000;

/// Verifies the repository `fetch` serves, starting from `trusted_root`, at time `now`.
/// A failure of the metadata itself (signatures, versions, expiry, hashes) is an error;
/// problems with single targets are collected.
pub fn check_metadata(
    fetch: DirFetch,
    trusted_root: &[u8],
    now: DateTime<Utc>,
) -> uptane::Result<MetadataCheck> {
    let mut store = MemStore::default();
    store.save("root.json", trusted_root)?;
    let mut updater = Updater::new(fetch.clone(), store, now, Rules::uptane())?;
    let refresh = updater.refresh()?;
    let mut check = MetadataCheck { root_version: refresh.root_version, ..Default::default() };
    let trusted = updater.trusted();
    check.timestamp_version = trusted.timestamp().map_or(0, |t| t.version());
    check.snapshot_version = trusted.snapshot().map_or(0, |s| s.version());

    let listed = walk_roles(&updater, fetch, &mut check.roles)?;
    let mut seen = BTreeSet::new();
    for (role, path) in listed {
        if !seen.insert(path.clone()) {
            continue;
        }
        match updater.find_target(&path, None)? {
            Some(found) => {
                check.problems.extend(check_hardware(&mut updater, &found)?);
                check.targets.push(ResolvedTarget { path, role: found.role, file: found.file });
            }
            None => check.problems.push(Problem::labelled(
                &path,
                format!("listed by {role}, but outside the paths delegated to {role}"),
                uptane::Attack::ArbitrarySoftware,
            )),
        }
    }
    Ok(check)
}

/// Verifies every Targets role reachable by delegation, breadth first, and returns every
/// (role, target path) they list. Uses a copy of the trusted state: the walk checks signatures
/// and Snapshot entries; resolution later goes through the updater's own search.
fn walk_roles(
    updater: &Updater<DirFetch, MemStore>,
    mut fetch: DirFetch,
    roles: &mut Vec<String>,
) -> uptane::Result<Vec<(String, String)>> {
    let mut set = updater.trusted().clone();
    let max_bytes = set.rules().max_targets_bytes;
    let snapshot = set
        .snapshot()
        .ok_or_else(|| uptane::Error::NotFound { what: "trusted snapshot".into() })?
        .meta()
        .clone();
    let mut listed = Vec::new();
    let mut queue = VecDeque::from(["targets".to_string()]);
    let mut seen = BTreeSet::from(["targets".to_string()]);
    while let Some(role) = queue.pop_front() {
        let Some(targets) = set.targets(&role).map(|t| t.meta().clone()) else { continue };
        roles.push(role.clone());
        listed.extend(targets.targets.keys().map(|path| (role.clone(), path.clone())));
        for child in targets.delegations.iter().flat_map(|d| &d.roles) {
            let name = child.name.to_string();
            if !seen.insert(name.clone()) {
                set.confirm_delegator(&name, &role)?;
                continue;
            }
            if seen.len() > MAX_ROLES {
                return Err(uptane::Error::Other(format!("more than {MAX_ROLES} roles")));
            }
            let meta = snapshot.targets_meta(&name).ok_or_else(|| uptane::Error::NotListed {
                role: name.clone(),
                listed_by: "snapshot".into(),
            })?;
            let file = format!("{}.{}", meta.version, role_file_name(&name));
            let bytes = fetch.fetch(&file, meta.length.unwrap_or(max_bytes))?;
            set.update_targets(&name, &role, &bytes)?;
            queue.push_back(name);
        }
    }
    Ok(listed)
}

/// Uptane: each hardware id an image lists must be one its signing role was delegated
/// (a supplier must not sign images for another supplier's ECUs).
fn check_hardware(
    updater: &mut Updater<DirFetch, MemStore>,
    found: &uptane::repository::FoundTarget,
) -> uptane::Result<Vec<Problem>> {
    let custom = found.file.uptane(&found.path)?;
    let mut problems = Vec::new();
    let mut resolved = BTreeMap::new();
    for hw in custom.hardware_ids.unwrap_or_default() {
        let for_hw = updater.find_target(&found.path, Some(hw.as_str()))?;
        resolved.insert(hw.to_string(), for_hw.map(|f| f.role));
    }
    for (hw, role) in resolved {
        if role.as_deref() != Some(found.role.as_str()) {
            problems.push(Problem::labelled(
                &found.path,
                format!(
                    "lists hardware id {hw}, which the delegation to {} does not cover",
                    found.role
                ),
                uptane::Attack::HwIdMismatch,
            ));
        }
    }
    Ok(problems)
}
