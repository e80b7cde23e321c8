//! Signed per-vehicle bundles kept in memory (Targets, Snapshot and Timestamp bytes exactly as
//! served), so a poll with nothing new costs no signature, no encoding and no metadata read:
//! only the cheap queries that prove the bundle is still current (the root version, the
//! vehicle's pending assignments, its latest timestamp version, which another process may have
//! moved on).

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

/// The bundles of up to `capacity` vehicles.
#[derive(Debug)]
pub struct BundleCache {
    bundles: RwLock<HashMap<String, Arc<Bundle>>>,
    capacity: usize,
}

impl BundleCache {
    pub fn new(capacity: usize) -> BundleCache {
        BundleCache { bundles: RwLock::new(HashMap::new()), capacity }
    }

    pub fn get(&self, vin: &str) -> Option<Arc<Bundle>> {
        self.bundles.read().unwrap_or_else(|e| e.into_inner()).get(vin).cloned()
    }

    /// Keeps `bundle` unless a newer one of the vehicle is already held. When full, an
    /// arbitrary vehicle's bundle makes room (it is read back from the database when needed).
    pub fn put(&self, vin: &str, bundle: Arc<Bundle>) {
        if self.capacity == 0 {
            return;
        }
        let mut bundles = self.bundles.write().unwrap_or_else(|e| e.into_inner());
        if let Some(held) = bundles.get(vin)
            && held.timestamp.version > bundle.timestamp.version
        {
            return;
        }
        if bundles.len() >= self.capacity
            && !bundles.contains_key(vin)
            && let Some(evicted) = bundles.keys().next().cloned()
        {
            bundles.remove(&evicted);
        }
        bundles.insert(vin.to_owned(), bundle);
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
        cache.put("A", bundle(5, later));
        cache.put("A", bundle(4, later));
        assert_eq!(cache.get("A").map(|b| b.timestamp.version), Some(5));
        cache.put("B", bundle(1, later));
        cache.put("C", bundle(1, later));
        let held = ["A", "B", "C"].iter().filter(|v| cache.get(v).is_some()).count();
        assert_eq!(held, 2);
        assert!(cache.get("C").is_some());
    }
}
