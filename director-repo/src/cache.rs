//! Per-vehicle state kept in memory, bounded. Chiefly the signed bundles (Targets, Snapshot
//! and Timestamp bytes exactly as served), so a poll with nothing new costs no signature, no
//! encoding and no metadata read: only the cheap query that proves the bundle is still current
//! (the root version, the vehicle's pending assignments, its latest timestamp version, which
//! another process may have moved on). Also the inventory of each vehicle's last check-in
//! ([`crate::manifest::Known`]).

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, RwLock};

use actix_web::web::Bytes;
use chrono::{DateTime, Duration, Utc};
use uptane::metadata::TargetFile;

/// One signed file.
#[derive(Debug, Clone)]
pub struct SignedFile {
    pub version: u64,
    pub bytes: Bytes,
}

/// A vehicle's current Targets, Snapshot and Timestamp.
#[derive(Debug, Clone)]
pub struct Bundle {
    /// The epoch of the keys that signed it ([`crate::AppState::sync_keys`]).
    pub key_epoch: u64,
    /// What the Targets lists.
    pub targets_listed: BTreeMap<String, TargetFile>,
    pub targets: SignedFile,
    pub snapshot: SignedFile,
    pub timestamp: SignedFile,
    /// The earliest expiry of the three.
    pub expires: DateTime<Utc>,
}

impl Bundle {
    /// Whether this bundle may be served as it is: signed by the keys of `key_epoch`, still the
    /// newest timestamp in the database, listing exactly `desired`, and with more than
    /// `min_left` of its lifetime left.
    pub fn serves(
        &self,
        key_epoch: u64,
        latest_timestamp: Option<u64>,
        desired: &BTreeMap<String, TargetFile>,
        now: DateTime<Utc>,
        min_left: Duration,
    ) -> bool {
        self.key_epoch == key_epoch
            && latest_timestamp == Some(self.timestamp.version)
            && self.expires - now > min_left
            && self.targets_listed == *desired
    }

    /// The bytes of `role` at `version`, if this bundle holds them.
    pub fn file(&self, role: &str, version: u64) -> Option<Bytes> {
        let file = match role {
            "targets" => &self.targets,
            "snapshot" => &self.snapshot,
            _ => return None,
        };
        (file.version == version).then(|| file.bytes.clone())
    }
}

/// Up to `capacity` values, one per vehicle. When full, an arbitrary vehicle's value makes
/// room: whatever is kept here can be read back from the database.
#[derive(Debug)]
pub struct VehicleCache<T> {
    entries: RwLock<HashMap<String, T>>,
    capacity: usize,
}

/// The signed bundles kept per vehicle.
pub type BundleCache = VehicleCache<Arc<Bundle>>;

impl<T> VehicleCache<T> {
    pub fn new(capacity: usize) -> VehicleCache<T> {
        VehicleCache { entries: RwLock::new(HashMap::new()), capacity }
    }

    pub fn get(&self, vin: &str) -> Option<T>
    where
        T: Clone,
    {
        self.entries.read().unwrap_or_else(|e| e.into_inner()).get(vin).cloned()
    }

    /// Removes and returns the value of `vin`.
    pub fn take(&self, vin: &str) -> Option<T> {
        self.entries.write().unwrap_or_else(|e| e.into_inner()).remove(vin)
    }

    pub fn put(&self, vin: &str, value: T) {
        self.put_unless(vin, value, |_| false);
    }

    /// Keeps `value` unless `keep_held` says the value held for `vin` is to stay.
    fn put_unless(&self, vin: &str, value: T, keep_held: impl FnOnce(&T) -> bool) {
        if self.capacity == 0 {
            return;
        }
        let mut entries = self.entries.write().unwrap_or_else(|e| e.into_inner());
        if entries.get(vin).is_some_and(keep_held) {
            return;
        }
        if entries.len() >= self.capacity
            && !entries.contains_key(vin)
            && let Some(evicted) = entries.keys().next().cloned()
        {
            entries.remove(&evicted);
        }
        entries.insert(vin.to_owned(), value);
    }
}

impl BundleCache {
    /// Keeps `bundle` unless a newer one of the vehicle is already held.
    pub fn put_newest(&self, vin: &str, bundle: Arc<Bundle>) {
        let version = bundle.timestamp.version;
        self.put_unless(vin, bundle, |held| held.timestamp.version > version);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bundle(version: u64, expires: DateTime<Utc>) -> Arc<Bundle> {
        let file = |v| SignedFile { version: v, bytes: Bytes::from(format!("{v}")) };
        Arc::new(Bundle {
            key_epoch: 1,
            targets_listed: BTreeMap::new(),
            targets: file(version),
            snapshot: file(version),
            timestamp: file(version),
            expires,
        })
    }

    #[test]
    fn serves_only_what_is_still_current() {
        let now = Utc::now();
        let half = Duration::hours(12);
        let b = bundle(3, now + Duration::hours(20));
        let none = BTreeMap::new();
        assert!(b.serves(1, Some(3), &none, now, half));
        assert!(!b.serves(2, Some(3), &none, now, half), "new keys re-sign");
        assert!(!b.serves(1, Some(4), &none, now, half), "another process signed v4");
        assert!(!b.serves(1, Some(3), &none, now + Duration::hours(9), half), "past half life");
        let mut other = BTreeMap::new();
        other.insert("a.bin".to_string(), TargetFile::describing(b"a"));
        assert!(!b.serves(1, Some(3), &other, now, half), "new assignments re-sign");
        assert_eq!(b.file("targets", 3).as_deref(), Some(&b"3"[..]));
        assert_eq!(b.file("targets", 2), None);
        assert_eq!(b.file("timestamp", 3), None);
    }

    #[test]
    fn never_replaces_a_newer_bundle_and_stays_bounded() {
        let cache = BundleCache::new(2);
        let later = Utc::now() + Duration::days(1);
        cache.put_newest("A", bundle(5, later));
        cache.put_newest("A", bundle(4, later));
        assert_eq!(cache.get("A").map(|b| b.timestamp.version), Some(5));
        cache.put_newest("B", bundle(1, later));
        cache.put_newest("C", bundle(1, later));
        let held = ["A", "B", "C"].iter().filter(|v| cache.get(v).is_some()).count();
        assert_eq!(held, 2);
        assert!(cache.get("C").is_some());
        assert!(cache.take("C").is_some());
        assert!(cache.get("C").is_none(), "taken");
    }
}
