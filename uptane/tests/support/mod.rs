//! A repository to attack: deterministic keys, the four top-level roles plus delegations, an
//! in-memory server that records what the client asked for, and clients with a fixed clock.
//!
//! The fixture keeps the *bodies* of the metadata (`root`, `targets`, `snapshot`, `timestamp`)
//! as plain structs that tests edit freely. Publishing signs a body and serves it under the
//! consistent-snapshot name; Snapshot and Timestamp describe whatever was served last, so a
//! test can serve a tampered file at any step and have the layers above it agree (or not).
#![allow(dead_code, clippy::unwrap_used)] // each test file uses its own part of the fixture

use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt::Debug;
use std::rc::Rc;

use chrono::{DateTime, TimeDelta, Utc};
use serde::Serialize;
use serde_json::{Value, json};
use uptane::crypto::{KeyType, PrivateKey, PublicKey, Signer};
use uptane::metadata::{
    DelegatedRole, Delegations, MetaFile, Metadata, Root, SignedMetadata, Snapshot, TargetCustom,
    TargetFile, Targets, Timestamp, parse_time,
};
use uptane::names::{HardwareId, RoleName};
use uptane::repository::{Fetch, MemStore, Refresh, Rules, Updater};
use uptane::{Attack, Error, Result};

/// The fixed time of every client cycle.
pub fn now() -> DateTime<Utc> {
    parse_time("2030-01-01T00:00:00Z").unwrap()
}

/// An expiry a year after [`now`].
pub fn future() -> DateTime<Utc> {
    now() + TimeDelta::days(365)
}

/// An expiry a day before [`now`].
pub fn past() -> DateTime<Utc> {
    now() - TimeDelta::days(1)
}

/// Ed25519 keys derived from fixed seeds (deterministic), by name.
const SEEDED_KEYS: [&str; 14] = [
    "root1",
    "root2",
    "targets1",
    "targets2",
    "snapshot1",
    "snapshot2",
    "timestamp1",
    "timestamp2",
    "evil",
    "supplierA",
    "supplierB",
    "supplierC",
    "supplierD",
    "supplierE",
];
/// ECDSA P-256 keys, generated afresh (their signatures are randomised anyway).
const ECDSA_KEYS: [&str; 2] = ["root3", "timestamp3"];

/// The image the default repository serves.
pub const APP: &str = "app.bin";
pub const APP_IMAGE: &[u8] = b"app image, release 1";
pub const HW_A: &str = "ecu-a";

// ---------------------------------------------------------------------------------------------
// The server

/// What the server holds, and every request it received with the byte limit asked for.
#[derive(Debug, Default)]
pub struct Server {
    pub files: HashMap<String, Vec<u8>>,
    pub requests: Vec<(String, u64)>,
}

/// An in-memory repository behind [`Fetch`]; clones share the same server.
#[derive(Debug, Clone, Default)]
pub struct FakeFetch(Rc<RefCell<Server>>);

impl FakeFetch {
    pub fn put(&self, name: &str, bytes: Vec<u8>) {
        self.0.borrow_mut().files.insert(name.into(), bytes);
    }

    pub fn get(&self, name: &str) -> Option<Vec<u8>> {
        self.0.borrow().files.get(name).cloned()
    }

    pub fn remove(&self, name: &str) {
        self.0.borrow_mut().files.remove(name);
    }

    /// The names requested so far, in order.
    pub fn requests(&self) -> Vec<String> {
        self.0.borrow().requests.iter().map(|(name, _)| name.clone()).collect()
    }

    /// The requests so far with the byte limit of each.
    pub fn requests_with_limits(&self) -> Vec<(String, u64)> {
        self.0.borrow().requests.clone()
    }

    pub fn clear_requests(&self) {
        self.0.borrow_mut().requests.clear();
    }
}

impl Fetch for FakeFetch {
    /// Behaves like a real transport: a file longer than `max_bytes` is endless data.
    fn fetch(&mut self, name: &str, max_bytes: u64) -> Result<Vec<u8>> {
        let mut server = self.0.borrow_mut();
        server.requests.push((name.into(), max_bytes));
        match server.files.get(name) {
            None => Err(Error::NotFound { what: name.into() }),
            Some(bytes) if bytes.len() as u64 > max_bytes => {
                Err(Error::TooLarge { what: name.into(), limit: max_bytes })
            }
            Some(bytes) => Ok(bytes.clone()),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The repository

/// One repository, its keys and what it has published.
#[derive(Debug)]
pub struct RepoFixture {
    pub keys: BTreeMap<&'static str, PrivateKey>,
    /// The next Root to publish (the current one once published).
    pub root: Root,
    /// The last published Root: its root keys co-sign the next one (R1).
    previous_root: Option<Root>,
    /// Top-level (`targets`) and delegated Targets bodies, by role.
    pub targets: BTreeMap<String, Targets>,
    /// Keys that sign each delegated role (top-level roles use the Root's keys).
    pub delegated_signers: BTreeMap<String, Vec<&'static str>>,
    /// Version and expiry of the next Snapshot; `meta` is filled in when publishing.
    pub snapshot: Snapshot,
    /// Version and expiry of the next Timestamp; `meta` is filled in when publishing.
    pub timestamp: Timestamp,
    /// Whether Snapshot lists length and hashes of Targets files (always the version).
    pub snapshot_lists_hashes: bool,
    pub server: FakeFetch,
    /// The bytes last served for each role.
    served: BTreeMap<String, Vec<u8>>,
    /// Every Root served, by version.
    pub roots: BTreeMap<u64, Vec<u8>>,
}

impl Default for RepoFixture {
    fn default() -> RepoFixture {
        RepoFixture::new()
    }
}

impl RepoFixture {
    /// The default repository, all at version 1: one key per role, thresholds 1, and
    /// [`APP`] for hardware [`HW_A`] in top-level Targets.
    pub fn new() -> RepoFixture {
        RepoFixture::build(|_| {})
    }

    /// The default repository, edited by `edit` before version 1 is published.
    pub fn build(edit: impl FnOnce(&mut RepoFixture)) -> RepoFixture {
        let mut keys = BTreeMap::new();
        for (i, name) in SEEDED_KEYS.into_iter().enumerate() {
            let seed = [u8::try_from(i + 1).unwrap(); 32];
            keys.insert(name, PrivateKey::ed25519_from_seed(&seed).unwrap());
        }
        for name in ECDSA_KEYS {
            keys.insert(name, PrivateKey::generate(KeyType::EcdsaP256).unwrap());
        }
        let placeholder = MetaFile::version_only(1);
        let mut repo = RepoFixture {
            keys,
            root: Root::new(future()),
            previous_root: None,
            targets: BTreeMap::from([("targets".to_string(), Targets::new(1, future()))]),
            delegated_signers: BTreeMap::new(),
            snapshot: Snapshot::new(1, future(), BTreeMap::new()),
            timestamp: Timestamp::new(1, future(), placeholder),
            snapshot_lists_hashes: false,
            server: FakeFetch::default(),
            served: BTreeMap::new(),
            roots: BTreeMap::new(),
        };
        let defaults = [
            ("root", "root1"),
            ("targets", "targets1"),
            ("snapshot", "snapshot1"),
            ("timestamp", "timestamp1"),
        ];
        for (role, key) in defaults {
            repo.set_role(role, &[key], 1);
        }
        repo.add_target("targets", APP, APP_IMAGE, &[HW_A]);
        edit(&mut repo);
        repo.publish_root();
        repo.publish();
        repo
    }

    pub fn key(&self, name: &str) -> &PrivateKey {
        self.keys.get(name).unwrap_or_else(|| panic!("no key {name}"))
    }

    pub fn key_id(&self, name: &str) -> String {
        self.key(name).key_id().to_owned()
    }

    pub fn public(&self, name: &str) -> PublicKey {
        self.key(name).public_key().clone()
    }

    /// Gives a top-level role exactly the keys `names`, with `threshold`.
    pub fn set_role(&mut self, role: &str, names: &[&str], threshold: u32) {
        let entry = self.root.roles.get_mut(role).unwrap();
        for keyid in std::mem::take(&mut entry.keyids) {
            self.root.remove_key(role, &keyid).unwrap();
        }
        for name in names {
            let key = self.public(name);
            self.root.add_key(role, &key).unwrap();
        }
        self.root.roles.get_mut(role).unwrap().threshold = threshold;
    }

    /// Adds an image for `hardware_ids` to the Targets of `role`; returns its entry.
    pub fn add_target(
        &mut self,
        role: &str,
        path: &str,
        image: &[u8],
        hardware_ids: &[&str],
    ) -> TargetFile {
        let mut file = TargetFile::describing(image);
        let custom = TargetCustom {
            hardware_ids: Some(hardware_ids.iter().map(|h| HardwareId::new(*h).unwrap()).collect()),
            release_counter: Some(1),
            ..TargetCustom::default()
        };
        file.set_uptane(&custom).unwrap();
        self.targets_mut(role).targets.insert(path.into(), file.clone());
        file
    }

    pub fn targets_mut(&mut self, role: &str) -> &mut Targets {
        self.targets.get_mut(role).unwrap_or_else(|| panic!("no targets role {role}"))
    }

    /// `parent` delegates `paths` (and, if given, `hardware_ids`) to `role`, signed by any one
    /// of `signers` (threshold 1). Creates the role's (empty, version 1) Targets if needed.
    pub fn delegate(
        &mut self,
        parent: &str,
        role: &str,
        signers: &[&'static str],
        paths: &[&str],
        terminating: bool,
        hardware_ids: Option<&[&str]>,
    ) {
        let keys: Vec<PublicKey> = signers.iter().map(|n| self.public(n)).collect();
        let delegations =
            self.targets_mut(parent).delegations.get_or_insert_with(Delegations::default);
        let mut keyids = Vec::new();
        for key in keys {
            let keyid = key.key_id().unwrap();
            delegations.keys.insert(keyid.clone(), key);
            keyids.push(keyid);
        }
        delegations.roles.push(DelegatedRole {
            name: RoleName::new(role).unwrap(),
            keyids,
            threshold: 1,
            terminating,
            paths: Some(paths.iter().map(|p| p.to_string()).collect()),
            path_hash_prefixes: None,
            hardware_ids: hardware_ids.map(|ids| ids.iter().map(|h| h.to_string()).collect()),
            extra: Default::default(),
        });
        self.targets.entry(role.into()).or_insert_with(|| Targets::new(1, future()));
        self.delegated_signers.entry(role.into()).or_insert_with(|| signers.to_vec());
    }

    // --- signing ---

    /// `body` signed by the keys `names`, as the library signs.
    pub fn sign<M: Metadata + Clone>(&self, body: &M, names: &[&str]) -> Vec<u8> {
        let mut signed = SignedMetadata::new(body.clone());
        for name in names {
            signed.sign(self.key(name)).unwrap();
        }
        signed.to_bytes().unwrap()
    }

    /// `body` with one signature per `(keyid, key name)`: any key id, repeats allowed.
    pub fn sign_raw<M: Serialize>(&self, body: &M, signatures: &[(&str, &str)]) -> Vec<u8> {
        let signed = to_value(body);
        let message = uptane::canonical::to_vec(&signed).unwrap();
        let signatures: Vec<Value> = signatures
            .iter()
            .map(|(keyid, name)| {
                let sig = hex::encode(self.key(name).sign(&message).unwrap());
                json!({"keyid": keyid, "method": self.key(name).public_key().scheme, "sig": sig})
            })
            .collect();
        serde_json::to_vec(&json!({"signed": signed, "signatures": signatures})).unwrap()
    }

    /// The names of the keys that sign `role` by default: those the Root lists for a
    /// top-level role (for `root`, those of the previous Root too), else the delegation's.
    pub fn signers(&self, role: &str) -> Vec<&'static str> {
        if let Some(names) = self.delegated_signers.get(role) {
            return names.clone();
        }
        let mut keyids: BTreeSet<String> = self.root.roles[role].keyids.iter().cloned().collect();
        if let (Some(previous), "root") = (&self.previous_root, role) {
            keyids.extend(previous.roles["root"].keyids.iter().cloned());
        }
        self.keys
            .iter()
            .filter(|(_, key)| keyids.contains(key.key_id()))
            .map(|(name, _)| *name)
            .collect()
    }

    /// `body` signed by the default keys of `role`.
    pub fn sign_role<M: Metadata + Clone>(&self, role: &str, body: &M) -> Vec<u8> {
        self.sign(body, &self.signers(role))
    }

    // --- Root ---

    /// Signs the current Root (by its own root keys and the previous Root's) and serves it as
    /// `VERSION.root.json`.
    pub fn publish_root(&mut self) -> Vec<u8> {
        let bytes = self.sign_role("root", &self.root.clone());
        self.serve_root(bytes.clone());
        self.previous_root = Some(self.root.clone());
        bytes
    }

    /// Root N+1: bumps the version, lets `edit` change it, publishes it.
    pub fn rotate_root(&mut self, edit: impl FnOnce(&mut RepoFixture)) -> Vec<u8> {
        self.root.version += 1;
        edit(self);
        self.publish_root()
    }

    /// Serves `bytes` as `VERSION.root.json` for the current Root version.
    pub fn serve_root(&mut self, bytes: Vec<u8>) {
        self.server.put(&format!("{}.root.json", self.root.version), bytes.clone());
        self.roots.insert(self.root.version, bytes);
    }

    // --- Targets, Snapshot, Timestamp ---

    /// Signs the Targets of `role` and serves them.
    pub fn publish_targets(&mut self, role: &str) -> Vec<u8> {
        let bytes = self.sign_role(role, &self.targets[role].clone());
        self.serve_targets(role, bytes.clone());
        bytes
    }

    /// Serves `bytes` as `VERSION.ROLE.json`, VERSION being the role's current version;
    /// the next Snapshot describes these bytes.
    pub fn serve_targets(&mut self, role: &str, bytes: Vec<u8>) {
        let name =
            format!("{}.{}", self.targets[role].version, uptane::repository::role_file_name(role));
        self.server.put(&name, bytes.clone());
        self.served.insert(role.into(), bytes);
    }

    /// The next Snapshot: every Targets role at its current version (with the length and
    /// hashes of its served bytes if [`Self::snapshot_lists_hashes`]).
    pub fn snapshot_body(&self) -> Snapshot {
        let mut snapshot = self.snapshot.clone();
        snapshot.meta = self
            .targets
            .iter()
            .map(|(role, targets)| {
                let meta = match self.served.get(role) {
                    Some(bytes) if self.snapshot_lists_hashes => {
                        MetaFile::describing(targets.version, bytes)
                    }
                    _ => MetaFile::version_only(targets.version),
                };
                (format!("{role}.json"), meta)
            })
            .collect();
        snapshot
    }

    pub fn publish_snapshot(&mut self) -> Vec<u8> {
        let bytes = self.sign_role("snapshot", &self.snapshot_body());
        self.serve_snapshot(bytes.clone());
        bytes
    }

    /// Serves `bytes` as `VERSION.snapshot.json` for the current Snapshot version; the next
    /// Timestamp describes these bytes.
    pub fn serve_snapshot(&mut self, bytes: Vec<u8>) {
        self.server.put(&format!("{}.snapshot.json", self.snapshot.version), bytes.clone());
        self.served.insert("snapshot".into(), bytes);
    }

    /// The next Timestamp: the current Snapshot version with the length and sha256 of the
    /// Snapshot served last.
    pub fn timestamp_body(&self) -> Timestamp {
        let snapshot = MetaFile::describing(self.snapshot.version, &self.served["snapshot"]);
        Timestamp::new(self.timestamp.version, self.timestamp.expires, snapshot)
    }

    pub fn publish_timestamp(&mut self) -> Vec<u8> {
        let bytes = self.sign_role("timestamp", &self.timestamp_body());
        self.serve_timestamp(bytes.clone());
        bytes
    }

    pub fn serve_timestamp(&mut self, bytes: Vec<u8>) {
        self.server.put("timestamp.json", bytes.clone());
        self.served.insert("timestamp".into(), bytes);
    }

    /// Publishes every Targets role, then Snapshot, then Timestamp, at their current versions.
    pub fn publish(&mut self) {
        let roles: Vec<String> = self.targets.keys().cloned().collect();
        for role in roles {
            self.publish_targets(&role);
        }
        self.publish_snapshot();
        self.publish_timestamp();
    }

    /// A new release: the Targets `roles`, Snapshot and Timestamp each go up one version and
    /// everything is published.
    pub fn release(&mut self, roles: &[&str]) {
        for role in roles {
            self.targets_mut(role).version += 1;
        }
        self.snapshot.version += 1;
        self.timestamp.version += 1;
        self.publish();
    }

    /// A new Timestamp version over the same Snapshot.
    pub fn bump_timestamp(&mut self) -> Vec<u8> {
        self.timestamp.version += 1;
        self.publish_timestamp()
    }

    /// The bytes last served for `role` (`targets`, a delegated role, `snapshot`, `timestamp`).
    pub fn served(&self, role: &str) -> Vec<u8> {
        self.served[role].clone()
    }

    // --- clients ---

    /// A client store provisioned with Root version 1.
    pub fn provision(&self) -> MemStore {
        let mut store = MemStore::default();
        store.files.insert("root.json".into(), self.roots[&1].clone());
        store
    }

    /// A client for one cycle at [`now`] under the Uptane rules.
    pub fn updater(&self, store: MemStore) -> Updater<FakeFetch, MemStore> {
        self.updater_with(store, Rules::uptane())
    }

    pub fn updater_with(&self, store: MemStore, rules: Rules) -> Updater<FakeFetch, MemStore> {
        Updater::new(self.server.clone(), store, now(), rules).expect("client starts")
    }

    /// One update cycle (Uptane rules) over `store`, which keeps whatever the client persisted.
    pub fn refresh(&self, store: &mut MemStore) -> Result<Refresh> {
        self.refresh_with(store, Rules::uptane())
    }

    pub fn refresh_with(&self, store: &mut MemStore, rules: Rules) -> Result<Refresh> {
        self.cycle(store, rules, now())
    }

    /// One update cycle (Uptane rules) whose fixed time is `time`.
    pub fn refresh_at(&self, store: &mut MemStore, time: DateTime<Utc>) -> Result<Refresh> {
        self.cycle(store, Rules::uptane(), time)
    }

    fn cycle(&self, store: &mut MemStore, rules: Rules, time: DateTime<Utc>) -> Result<Refresh> {
        let mut updater = Updater::new(self.server.clone(), std::mem::take(store), time, rules)
            .expect("client starts");
        let result = updater.refresh();
        *store = updater.into_parts().2;
        result
    }

    /// A fresh client that completed one successful cycle against the current repository.
    pub fn synced_store(&self) -> MemStore {
        let mut store = self.provision();
        self.refresh(&mut store).expect("the untampered repository verifies");
        store
    }
}

fn to_value<T: Serialize>(body: &T) -> Value {
    serde_json::to_value(body).unwrap()
}

// ---------------------------------------------------------------------------------------------
// Tampering and assertions

/// Edits the JSON of a metadata file (body and signatures as received) and re-encodes it,
/// without re-signing.
pub fn edit_json(bytes: &[u8], edit: impl FnOnce(&mut Value)) -> Vec<u8> {
    let mut value: Value = serde_json::from_slice(bytes).unwrap();
    edit(&mut value);
    serde_json::to_vec(&value).unwrap()
}

/// Corrupts the first signature of a metadata file (one hex digit changed).
pub fn corrupt_signature(bytes: &[u8]) -> Vec<u8> {
    edit_json(bytes, |value| {
        let sig = value["signatures"][0]["sig"].as_str().unwrap().to_owned();
        let flipped = if sig.starts_with('0') { "1" } else { "0" };
        value["signatures"][0]["sig"] = Value::String(format!("{flipped}{}", &sig[1..]));
    })
}

/// Asserts that `result` is an error naming `attack`, and returns the error.
#[track_caller]
pub fn expect_attack<T: Debug>(result: Result<T>, attack: Attack) -> Error {
    let err = match result {
        Ok(value) => panic!("accepted ({value:?}); expected rejection as {attack}"),
        Err(err) => err,
    };
    assert_eq!(err.attack(), Some(attack), "wrong attack label for: {err}");
    err
}

/// The files of a store (for comparing before and after a cycle).
pub fn files(store: &MemStore) -> BTreeMap<String, Vec<u8>> {
    store.files.clone()
}
