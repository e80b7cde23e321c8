//! Checks on uploaded metadata before anything is published, all through the uptane core:
//! signatures against the trusted root (or the delegating role), versions, expiry, target paths,
//! delegation scope (paths and hardware ids along the whole chain) and the uploaded blobs.

use chrono::{DateTime, Utc};
use serde_json::Value;
use uptane::crypto::Signer;
use uptane::metadata::{DelegatedRole, Metadata, Root, Targets};
use uptane::names::TargetPath;
use uptane::repository::{Rules, TrustedSet};

use crate::error::{Error, Rejection, Rejections as _, Result};
use crate::keys::OnlineKeys;
use crate::published::{Published, RESERVED_ROLES};
use crate::storage::{TargetRow, UploadRow};

/// How the checks find an uploaded blob by sha256.
pub type BlobLookup<'a> = dyn Fn(&str) -> Result<Option<UploadRow>> + 'a;

/// Targets metadata that passed every check.
#[derive(Debug, Clone)]
pub struct AcceptedTargets {
    pub role: String,
    pub targets: Targets,
    /// Rows for the target index.
    pub index: Vec<TargetRow>,
}

/// Rejects bytes that are not JSON at all.
pub fn check_json(bytes: &[u8]) -> Result<(), Rejection> {
    serde_json::from_slice::<Value>(bytes)
        .map(|_| ())
        .map_err(|e| Rejection::bad_request("malformed_json", e))
}

/// Role names for delegated roles: a URL- and file-safe charset, not a top-level name.
pub fn check_role_name(role: &str) -> Result<(), Rejection> {
    let safe = !role.is_empty()
        && role.len() <= 128
        && role.bytes().all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b))
        && !role.starts_with('.');
    if !safe {
        return Err(Rejection::bad_request(
            "bad_role_name",
            format!("role name {role:?}: use letters, digits, '.', '_' and '-'"),
        ));
    }
    if role != "targets" && RESERVED_ROLES.contains(&role) {
        return Err(Rejection::bad_request("bad_role_name", format!("{role} is a top-level role")));
    }
    Ok(())
}

fn rejected(error: uptane::Error) -> Error {
    Rejection::from_uptane(&error).into()
}

fn check_version(role: &str, published: u64, found: u64) -> Result<()> {
    if found == published {
        return Err(
            Rejection::conflict(format!("{role} version {found} is already published")).into()
        );
    }
    if found != published + 1 {
        return Err(Rejection::bad_request(
            "wrong_version",
            format!("{role}: expected version {}, found {found}", published + 1),
        )
        .into());
    }
    Ok(())
}

/// Checks a new root: v1 signed by its own threshold, or N+1 signed by the thresholds of the
/// trusted root and of itself; not expired; naming the service's online keys.
pub fn verify_root(
    published: &Published,
    bytes: &[u8],
    keys: &OnlineKeys,
    now: DateTime<Utc>,
) -> Result<Root> {
    check_json(bytes)?;
    let set = match &published.root {
        None => {
            let set = TrustedSet::new(bytes, now, Rules::uptane()).map_err(rejected)?;
            check_version("root", 0, set.root().version)?;
            set
        }
        Some(current) => {
            let mut set = TrustedSet::new(&current.bytes, now, Rules::uptane())?;
            let found = peek_version(bytes);
            if found == Some(current.version) {
                check_version("root", current.version, current.version)?;
            }
            set.update_root(bytes).map_err(rejected)?;
            set
        }
    };
    set.check_root_fresh().map_err(rejected)?;
    let root = set.root().meta().clone();
    check_online_keys(&root, keys)?;
    Ok(root)
}

fn peek_version(bytes: &[u8]) -> Option<u64> {
    let value: Value = serde_json::from_slice(bytes).ok()?;
    value.get("signed")?.get("version")?.as_u64()
}

/// The root must let the service's keys sign snapshot and timestamp on their own.
pub fn check_online_keys(root: &Root, keys: &OnlineKeys) -> Result<()> {
    let ok = |role: &str, signer: &dyn Signer| {
        root.roles
            .get(role)
            .is_some_and(|r| r.threshold == 1 && r.keyids.iter().any(|k| k == signer.key_id()))
            && root.keys.contains_key(signer.key_id())
    };
    if ok("snapshot", &*keys.snapshot) && ok("timestamp", &*keys.timestamp) {
        return Ok(());
    }
    Err(Rejection::new(
        422,
        "online_keys_missing",
        format!(
            "the root must list this service's online keys with threshold 1: snapshot key id {} \
             and timestamp key id {} (public keys in DATA/keys/snapshot.pub.json and \
             timestamp.pub.json; `image-repo keys` prints them)",
            keys.snapshot.key_id(),
            keys.timestamp.key_id()
        ),
    )
    .into())
}

/// The roles from `targets` down to the one that delegates `role` (empty for `targets`).
fn delegation_chain(published: &Published, role: &str) -> Result<Vec<String>> {
    let mut chain = Vec::new();
    let mut current = role.to_owned();
    while current != "targets" {
        let parent = published.delegators.get(&current).ok_or_else(|| {
            Rejection::new(404, "unknown_role", format!("no published role delegates {current}"))
        })?;
        if chain.len() > 32 || chain.contains(parent) {
            return Err(Rejection::bad_request("bad_delegation", "delegation cycle").into());
        }
        chain.push(parent.clone());
        current = parent.clone();
    }
    chain.reverse();
    Ok(chain)
}

/// Checks new Targets metadata for `role` (`targets` or a delegated role).
pub fn verify_targets(
    published: &Published,
    role: &str,
    bytes: &[u8],
    now: DateTime<Utc>,
    lookup: &BlobLookup<'_>,
) -> Result<AcceptedTargets> {
    check_json(bytes)?;
    check_role_name(role)?;
    let root = published.root.as_ref().ok_or_else(|| {
        Rejection::new(409, "no_root", "no root is published yet: upload root v1 first")
    })?;
    let chain = delegation_chain(published, role)?;
    let mut set = TrustedSet::new(&root.bytes, now, Rules::uptane())?;
    let mut parent = "root".to_owned();
    for ancestor in &chain {
        let current = &published.targets[ancestor];
        set.load_targets(ancestor, &parent, &current.bytes).map_err(rejected)?;
        parent = ancestor.clone();
    }
    // Signatures: the threshold of the trusted root, or of the delegating role.
    set.load_targets(role, &parent, bytes).map_err(rejected)?;
    let targets = set.targets(role).map(|t| t.meta().clone()).ok_or_else(|| {
        Error::Internal(format!("{role} was verified but is not in the trusted set"))
    })?;
    check_version(role, published.version(role), targets.version)?;
    targets.check_fresh(role, now).map_err(rejected)?;

    // The delegation entries along the chain, top first, ending with this role's own.
    let mut scopes: Vec<DelegatedRole> = Vec::new();
    let names: Vec<&str> = chain.iter().map(String::as_str).chain([role]).collect();
    for pair in names.windows(2) {
        let entry = set
            .targets(pair[0])
            .and_then(|t| t.delegations.as_ref())
            .and_then(|d| d.role(pair[1]))
            .cloned()
            .ok_or_else(|| {
                Rejection::new(404, "unknown_role", format!("{} is not delegated", pair[1]))
            })?;
        scopes.push(entry);
    }
    if let Some(delegations) = &targets.delegations {
        for delegated in &delegations.roles {
            check_role_name(delegated.name.as_str())?;
        }
    }

    let mut index = Vec::with_capacity(targets.targets.len());
    for (path, file) in &targets.targets {
        TargetPath::new(path.as_str()).map_err(rejected)?;
        let custom = file.uptane(path).map_err(rejected)?;
        let hardware_ids: Vec<&str> =
            custom.hardware_ids.iter().flatten().map(|h| h.as_str()).collect();
        for scope in &scopes {
            if !scope.covers_path(path) {
                return Err(outside(
                    role,
                    format!("{path} is outside the paths delegated to {}", scope.name),
                ));
            }
            if let Some(allowed) = &scope.hardware_ids {
                if hardware_ids.is_empty() {
                    return Err(outside(
                        role,
                        format!("{path} must list hardwareIds within {allowed:?}"),
                    ));
                }
                if let Some(bad) = hardware_ids.iter().find(|h| !allowed.iter().any(|a| a == *h)) {
                    return Err(outside(
                        role,
                        format!("{path}: hardware id {bad} is not delegated to {}", scope.name),
                    ));
                }
            }
        }
        let sha256 =
            file.hashes.get("sha256").map(|h| h.to_ascii_lowercase()).ok_or_else(|| {
                Rejection::bad_request("malformed_metadata", format!("{path}: no sha256 hash"))
            })?;
        let blob = lookup(&sha256)?.ok_or_else(|| {
            Rejection::bad_request(
                "missing_blob",
                format!("{path}: no blob with sha256 {sha256} was uploaded"),
            )
        })?;
        if blob.length as u64 != file.length {
            return Err(Rejection::bad_request(
                "length_mismatch",
                format!("{path}: listed length {}, the blob has {}", file.length, blob.length),
            )
            .into());
        }
        let stored = blob.hashes();
        for (algorithm, hash) in &file.hashes {
            if stored.get(algorithm).is_none_or(|s| !s.eq_ignore_ascii_case(hash)) {
                return Err(Rejection::bad_request(
                    "hash_mismatch",
                    format!("{path}: the {algorithm} hash does not match the uploaded blob"),
                )
                .into());
            }
        }
        index.push(TargetRow {
            role: role.to_owned(),
            path: path.clone(),
            length: file.length as i64,
            hashes: serde_json::to_string(&file.hashes).unwrap_or_default(),
            custom: file.custom.as_ref().map(Value::to_string),
            blob_sha256: sha256,
        });
    }
    Ok(AcceptedTargets { role: role.to_owned(), targets, index })
}

fn outside(role: &str, message: String) -> Error {
    Rejection::new(403, "outside_delegation", format!("{role}: {message}")).into()
}
