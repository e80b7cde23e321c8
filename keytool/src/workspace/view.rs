//! The workspace as it will be once published: each role's staged file if it has one, else its
//! published one. Trust questions (who may sign a role, which paths a role may list) are
//! answered against this view, because that is what clients will see.

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use serde::Serialize;
use uptane::crypto::KeyMap;
use uptane::metadata::{DelegatedRole, Metadata, RoleKeys, Root, SignedMetadata, Targets};

use super::{Published, Workspace};
use crate::error::{Error, Result};
use crate::keys::short;

/// A role's metadata in the view, and whether it is staged (an open edit cycle).
#[derive(Debug, Clone)]
pub struct Current<M> {
    pub metadata: SignedMetadata<M>,
    pub staged: bool,
}

/// Staged-over-published state of a workspace.
#[derive(Debug, Clone)]
pub struct View {
    pub published: Published,
    pub root: Option<Current<Root>>,
    /// Every Targets role with a staged or published file.
    pub targets: BTreeMap<String, Current<Targets>>,
}

/// The keys that may sign a role, and how many of them must.
#[derive(Debug, Clone)]
pub struct Authority {
    /// Whose keys these are, for messages: "root keys of root v2".
    pub label: String,
    pub keys: KeyMap,
    pub role: RoleKeys,
}

/// How far a file is from meeting one [`Authority`].
#[derive(Debug, Clone, Serialize)]
pub struct Tally {
    pub authority: String,
    pub threshold: u32,
    pub signed: Vec<String>,
    pub missing: Vec<String>,
}

impl Tally {
    pub fn met(&self) -> bool {
        self.signed.len() >= self.threshold as usize
    }

    /// "1 of 3 root keys of root v2 signed, threshold 2".
    pub fn describe(&self) -> String {
        let total = self.signed.len() + self.missing.len();
        let state = if self.met() { "met" } else { "NOT met" };
        let mut text = format!(
            "{} of {total} {} signed, threshold {} {state}",
            self.signed.len(),
            self.authority,
            self.threshold
        );
        if !self.met() && !self.missing.is_empty() {
            let missing: Vec<&str> = self.missing.iter().map(|k| short(k)).collect();
            text.push_str(&format!(" (unsigned: {})", missing.join(", ")));
        }
        text
    }
}

impl Authority {
    pub fn allows(&self, key_id: &str) -> bool {
        self.role.keyids.iter().any(|k| k == key_id)
    }

    /// Counts the valid signatures of this authority's keys over `metadata` (each key once).
    pub fn tally<M: Metadata>(&self, metadata: &SignedMetadata<M>) -> Result<Tally> {
        let message = metadata.canonical_signed()?;
        let valid: BTreeSet<&str> = metadata
            .signatures
            .iter()
            .filter(|s| self.allows(&s.keyid))
            .filter(|s| {
                let key = self.keys.get(&s.keyid);
                let sig = hex::decode(&s.sig);
                matches!((key, sig), (Some(key), Ok(sig)) if key.verify(&message, &sig))
            })
            .map(|s| s.keyid.as_str())
            .collect();
        let (signed, missing) =
            self.role.keyids.iter().cloned().partition(|k| valid.contains(k.as_str()));
        Ok(Tally { authority: self.label.clone(), threshold: self.role.threshold, signed, missing })
    }
}

impl View {
    pub(super) fn load(workspace: &Workspace) -> Result<View> {
        let published = workspace.published()?;
        let root = match workspace.load_staged::<Root>("root")? {
            Some(metadata) => Some(Current { metadata, staged: true }),
            None => published.root.clone().map(|metadata| Current { metadata, staged: false }),
        };
        let mut targets: BTreeMap<String, Current<Targets>> = published
            .targets
            .iter()
            .map(|(role, p)| {
                (role.clone(), Current { metadata: p.metadata.clone(), staged: false })
            })
            .collect();
        let staged_roles = workspace.staged_delegated_roles()?;
        for role in std::iter::once("targets").chain(staged_roles.iter().map(String::as_str)) {
            if let Some(metadata) = workspace.load_staged::<Targets>(role)? {
                targets.insert(role.to_owned(), Current { metadata, staged: true });
            }
        }
        Ok(View { published, root, targets })
    }

    /// The Root clients will trust after the next publish.
    pub fn root(&self) -> Result<&Current<Root>> {
        self.root
            .as_ref()
            .ok_or_else(|| Error::State("the workspace has no root; run `keytool init`".into()))
    }

    /// The authorities a staged Root must satisfy: its own root keys, and for a rotation also
    /// the root keys of the Root it replaces (Uptane 5.4.4.3; TUF 5.3.4).
    pub fn root_authorities(&self) -> Result<Vec<Authority>> {
        let root = &self.root()?.metadata.signed;
        let mut authorities = vec![Authority {
            label: format!("root keys of root v{}", root.version),
            keys: root.keys.clone(),
            role: root.role("root")?.clone(),
        }];
        if let Some(previous) = &self.published.root {
            let previous = &previous.signed;
            if previous.version < root.version {
                authorities.push(Authority {
                    label: format!("root keys of the previous root v{}", previous.version),
                    keys: previous.keys.clone(),
                    role: previous.role("root")?.clone(),
                });
            }
        }
        Ok(authorities)
    }

    /// Who signs a Targets role: Root for `targets`, `snapshot` and `timestamp`, the delegating
    /// role for a delegated one.
    pub fn authority(&self, role: &str) -> Result<Authority> {
        if ["targets", "snapshot", "timestamp"].contains(&role) {
            let root = &self.root()?.metadata.signed;
            return Ok(Authority {
                label: format!("{role} keys of root v{}", root.version),
                keys: root.keys.clone(),
                role: root.role(role)?.clone(),
            });
        }
        let (parent, delegated) = self.delegator(role).ok_or_else(|| self.unknown_role(role))?;
        let keys = self.targets[parent]
            .metadata
            .signed
            .delegations
            .as_ref()
            .map(|d| d.keys.clone())
            .unwrap_or_default();
        Ok(Authority {
            label: format!("{role} keys delegated by {parent}"),
            keys,
            role: delegated.role_keys(),
        })
    }

    fn unknown_role(&self, role: &str) -> Error {
        let known: Vec<&str> = self.delegations().iter().map(|(_, d)| d.name.as_str()).collect();
        Error::State(format!(
            "no role delegates to {role:?} (delegated roles: {}); create it with `keytool delegate`",
            if known.is_empty() { "none".into() } else { known.join(", ") }
        ))
    }

    /// Every delegation reachable from `targets`, breadth first: (delegating role, delegation).
    pub fn delegations(&self) -> Vec<(&str, &DelegatedRole)> {
        let mut found = Vec::new();
        let mut seen = BTreeSet::from(["targets"]);
        let mut queue = VecDeque::from(["targets"]);
        while let Some(role) = queue.pop_front() {
            let Some(current) = self.targets.get(role) else { continue };
            let Some(delegations) = &current.metadata.signed.delegations else { continue };
            for delegated in &delegations.roles {
                found.push((role, delegated));
                if seen.insert(delegated.name.as_str()) {
                    queue.push_back(delegated.name.as_str());
                }
            }
        }
        found
    }

    /// The first role (breadth first from `targets`) that delegates to `role`.
    pub fn delegator(&self, role: &str) -> Option<(&str, &DelegatedRole)> {
        self.delegations().into_iter().find(|(_, d)| d.name.as_str() == role)
    }

    /// Checks that `role` may list `path` for `hardware_ids`: a target must fall within every
    /// delegation on the way down from `targets` (TUF 5.6.7; Uptane's hardware-id scoping).
    pub fn check_scope(&self, role: &str, path: &str, hardware_ids: &[String]) -> Result<()> {
        let mut current = role;
        let mut steps = 0;
        while current != "targets" {
            let (parent, delegated) =
                self.delegator(current).ok_or_else(|| self.unknown_role(current))?;
            if !delegated.covers_path(path) {
                return Err(Error::OutsideDelegation {
                    role: delegated.name.to_string(),
                    what: format!("target path {path:?}"),
                    scope: describe_paths(delegated),
                });
            }
            if let Some(hw) = hardware_ids.iter().find(|hw| !delegated.covers_hardware(Some(hw))) {
                return Err(Error::OutsideDelegation {
                    role: delegated.name.to_string(),
                    what: format!("hardware id {hw:?}"),
                    scope: format!(
                        "hardware ids: {}",
                        delegated.hardware_ids.as_deref().unwrap_or_default().join(", ")
                    ),
                });
            }
            current = parent;
            steps += 1;
            if steps > self.targets.len() {
                return Err(Error::State(format!("delegations to {role} form a cycle")));
            }
        }
        Ok(())
    }
}

/// "paths: supplierA/*, common/*".
fn describe_paths(role: &DelegatedRole) -> String {
    match (&role.paths, &role.path_hash_prefixes) {
        (Some(paths), _) => format!("paths: {}", paths.join(", ")),
        (None, Some(prefixes)) => format!("path hash prefixes: {}", prefixes.join(", ")),
        (None, None) => "no paths".into(),
    }
}
