//! Delegations from a Targets role to other roles (Standard 5.2.3.2; TUF 5.6.7), with the
//! Uptane hardware-id scoping.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::RoleKeys;
use crate::crypto::KeyMap;
use crate::error::{Error, Result};
use crate::names::RoleName;

/// `delegations`: the delegatees' keys and the roles in priority order.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Delegations {
    pub keys: KeyMap,
    pub roles: Vec<DelegatedRole>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl Delegations {
    pub fn is_empty(&self) -> bool {
        self.roles.is_empty() && self.keys.is_empty()
    }

    /// The role named `name`.
    pub fn role(&self, name: &str) -> Option<&DelegatedRole> {
        self.roles.iter().find(|r| r.name.as_str() == name)
    }

    pub(super) fn validate(&self, role: &str) -> Result<()> {
        let mut names: Vec<&str> = self.roles.iter().map(|r| r.name.as_str()).collect();
        names.sort_unstable();
        if names.windows(2).any(|w| w[0] == w[1]) {
            return Err(Error::malformed(role, "a delegated role name is used twice"));
        }
        for delegated in &self.roles {
            delegated.role_keys().validate(role)?;
            if delegated.paths.is_some() == delegated.path_hash_prefixes.is_some() {
                return Err(Error::malformed(
                    role,
                    format!("{}: exactly one of paths and path_hash_prefixes", delegated.name),
                ));
            }
        }
        Ok(())
    }
}

/// One delegated role.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DelegatedRole {
    pub name: RoleName,
    pub keyids: Vec<String>,
    pub threshold: u32,
    pub terminating: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub paths: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path_hash_prefixes: Option<Vec<String>>,
    /// Uptane: the hardware ids this role may sign images for; absent means any.
    #[serde(default, rename = "hardwareIds", skip_serializing_if = "Option::is_none")]
    pub hardware_ids: Option<Vec<String>>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl DelegatedRole {
    /// The role's key ids and threshold, in the shape Root uses.
    pub fn role_keys(&self) -> RoleKeys {
        RoleKeys::new(self.keyids.clone(), self.threshold)
    }

    /// Whether this role is trusted for `target` (TUF: `*` does not cross `/`).
    pub fn covers_path(&self, target: &str) -> bool {
        if let Some(patterns) = &self.paths {
            return patterns.iter().any(|p| path_matches(p, target));
        }
        let hash = crate::crypto::sha256_hex(target.as_bytes());
        self.path_hash_prefixes.iter().flatten().any(|prefix| hash.starts_with(prefix.as_str()))
    }

    /// Whether this role may sign for hardware `hardware_id` (absent list: any; unknown id: any).
    pub fn covers_hardware(&self, hardware_id: Option<&str>) -> bool {
        match (&self.hardware_ids, hardware_id) {
            (Some(listed), Some(id)) => listed.iter().any(|l| l == id),
            _ => true,
        }
    }
}

/// TUF's pattern rule: same number of `/`-separated segments, each matching by `fnmatch`.
pub fn path_matches(pattern: &str, target: &str) -> bool {
    let pattern_parts = pattern.split('/');
    let target_parts = target.split('/');
    pattern_parts.clone().count() == target_parts.clone().count()
        && pattern_parts.zip(target_parts).all(|(p, t)| fnmatch(p.as_bytes(), t.as_bytes()))
}

/// Python's `fnmatch` on one segment: `*`, `?`, `[set]`, `[!set]`; a lone `[` is literal.
/// (The glob crate rejects `**` inside a segment and differs on unmatched brackets.)
fn fnmatch(pattern: &[u8], text: &[u8]) -> bool {
    let (mut p, mut t) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while t < text.len() {
        let step = match pattern.get(p) {
            Some(b'*') => {
                star = Some((p, t));
                p += 1;
                continue;
            }
            Some(b'?') => Some(p + 1),
            Some(b'[') => match bracket(&pattern[p..], text[t]) {
                Some((matched, len)) => matched.then_some(p + len),
                None => (text[t] == b'[').then_some(p + 1),
            },
            Some(&c) => (c == text[t]).then_some(p + 1),
            None => None,
        };
        match (step, star) {
            (Some(next), _) => {
                p = next;
                t += 1;
            }
            (None, Some((star_p, star_t))) => {
                p = star_p + 1;
                t = star_t + 1;
                star = Some((star_p, star_t + 1));
            }
            (None, None) => return false,
        }
    }
    pattern[p..].iter().all(|&c| c == b'*')
}

/// Matches `c` against the bracket expression at the start of `pattern`; returns whether it
/// matched and the expression's length, or `None` if the bracket is never closed.
fn bracket(pattern: &[u8], c: u8) -> Option<(bool, usize)> {
    let mut i = 1;
    let negate = pattern.get(i) == Some(&b'!');
    if negate {
        i += 1;
    }
    let first = i;
    let mut matched = false;
    loop {
        let lo = *pattern.get(i)?;
        if lo == b']' && i > first {
            return Some((matched != negate, i + 1));
        }
        if pattern.get(i + 1) == Some(&b'-') && pattern.get(i + 2).is_some_and(|&hi| hi != b']') {
            let hi = pattern[i + 2];
            matched |= lo <= c && c <= hi;
            i += 3;
        } else {
            matched |= lo == c;
            i += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns_follow_python_fnmatch_per_segment() {
        let cases = [
            ("*", "file.bin", true),
            ("*", "dir/file.bin", false),
            ("dir/*", "dir/file.bin", true),
            ("*/*", "dir/file.bin", true),
            ("dir/*.bin", "dir/a.txt", false),
            ("supplierA/*", "supplierA/bcm-2.1.0.bin", true),
            ("file?.txt", "file1.txt", true),
            ("file?.txt", "file10.txt", false),
            ("file[0-9].txt", "file7.txt", true),
            ("file[!0-9].txt", "file7.txt", false),
            ("file[!0-9].txt", "filex.txt", true),
            ("a**b", "axyzb", true),
            ("[", "[", true),
            ("a[", "a[", true),
            ("*.bin", "", false),
            ("", "", true),
            ("targets/*.tgz", "targets/foo.tgz", true),
            ("*.tgz", "targets/foo.tgz", false),
        ];
        for (pattern, target, expected) in cases {
            assert_eq!(path_matches(pattern, target), expected, "{pattern} vs {target}");
        }
    }

    fn role(paths: Option<Vec<&str>>, prefixes: Option<Vec<&str>>) -> DelegatedRole {
        DelegatedRole {
            name: RoleName::new("r").unwrap(),
            keyids: vec![],
            threshold: 1,
            terminating: false,
            paths: paths.map(|p| p.into_iter().map(String::from).collect()),
            path_hash_prefixes: prefixes.map(|p| p.into_iter().map(String::from).collect()),
            hardware_ids: None,
            extra: Map::new(),
        }
    }

    #[test]
    fn hash_prefixes_match_sha256_of_the_path() {
        let hash = crate::crypto::sha256_hex(b"a.bin");
        assert!(role(None, Some(vec![&hash[..2]])).covers_path("a.bin"));
        let other = if hash.starts_with('0') { "1" } else { "0" };
        assert!(!role(None, Some(vec![other])).covers_path("a.bin"));
    }

    #[test]
    fn hardware_scoping() {
        let mut r = role(Some(vec!["*"]), None);
        assert!(r.covers_hardware(Some("x")));
        r.hardware_ids = Some(vec!["x".into()]);
        assert!(r.covers_hardware(Some("x")));
        assert!(!r.covers_hardware(Some("y")));
    }
}
