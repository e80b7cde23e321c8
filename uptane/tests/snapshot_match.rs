//! T2 across one cycle: trusted Targets are current only while their bytes match what the
//! trusted Snapshot lists now. A match is remembered (Targets are asked about once per image),
//! so these tests attack the memory: another entry, or other bytes, must be hashed afresh.

#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test

mod support;

use chrono::TimeDelta;
use support::*;
use uptane::metadata::{MetaFile, Timestamp};
use uptane::repository::{Rules, TrustedSet};

/// A repository whose Snapshot lists Targets hashes, and another validly signed Targets of
/// the same version and length as the served one (the Snapshot does not describe it).
fn repository_and_other_targets() -> (RepoFixture, Vec<u8>) {
    let repo = RepoFixture::build(|repo| repo.snapshot_lists_hashes = true);
    let mut body = repo.targets["targets"].clone();
    body.expires = future() + TimeDelta::days(1);
    let other = repo.sign_role("targets", &body);
    assert_eq!(other.len(), repo.served("targets").len());
    assert_ne!(other, repo.served("targets"));
    (repo, other)
}

/// A client that trusts the repository as published.
fn trusting(repo: &RepoFixture) -> TrustedSet {
    let mut set = TrustedSet::new(&repo.roots[&1], now(), Rules::uptane()).unwrap();
    set.update_timestamp(&repo.served("timestamp")).unwrap();
    set.update_snapshot(&repo.served("snapshot")).unwrap();
    set
}

/// Snapshot `version` listing `targets` as Targets version 1, and a Timestamp naming it.
fn trust_snapshot_listing(repo: &RepoFixture, set: &mut TrustedSet, version: u64, targets: &[u8]) {
    let mut snapshot = repo.snapshot_body();
    snapshot.version = version;
    snapshot.meta.insert("targets.json".into(), MetaFile::describing(1, targets));
    let snapshot = repo.sign_role("snapshot", &snapshot);
    let timestamp = Timestamp::new(version, future(), MetaFile::describing(version, &snapshot));
    set.update_timestamp(&repo.sign_role("timestamp", &timestamp)).unwrap();
    set.update_snapshot(&snapshot).unwrap();
}

#[test]
fn targets_stop_being_current_when_a_new_snapshot_lists_other_bytes() {
    let (repo, other) = repository_and_other_targets();
    let mut set = trusting(&repo);
    set.update_targets("targets", "root", &repo.served("targets")).unwrap();
    assert!(set.targets_is_current("targets"));
    assert!(set.targets_is_current("targets"), "asked again, the answer is the same");

    // Same Targets version, other hashes: the bytes matched the old entry, not this one.
    trust_snapshot_listing(&repo, &mut set, 2, &other);
    assert!(!set.targets_is_current("targets"));

    // Listed again, the trusted bytes are current again.
    trust_snapshot_listing(&repo, &mut set, 3, &repo.served("targets"));
    assert!(set.targets_is_current("targets"));
}

#[test]
fn loaded_targets_are_current_only_if_their_own_bytes_match() {
    let (repo, other) = repository_and_other_targets();
    let mut set = trusting(&repo);
    set.update_targets("targets", "root", &repo.served("targets")).unwrap();
    assert!(set.targets_is_current("targets"));

    // Bytes the Snapshot does not describe replace the matching ones: nothing carries over.
    set.load_targets("targets", "root", &other).unwrap();
    assert!(!set.targets_is_current("targets"));
    set.load_targets("targets", "root", &repo.served("targets")).unwrap();
    assert!(set.targets_is_current("targets"));
}

#[test]
fn a_client_asked_for_several_images_still_fetches_what_the_snapshot_lists() {
    let (repo, other) = repository_and_other_targets();
    let mut store = repo.synced_store();
    // The stored Targets are replaced by other bytes of the same version: stale for T2.
    store.files.insert("targets.json".into(), other);
    repo.server.clear_requests();
    let mut updater = repo.updater(store);
    updater.refresh().unwrap();
    for _ in 0..3 {
        assert!(updater.find_target(APP, Some(HW_A)).unwrap().is_some());
    }
    assert_eq!(repo.server.requests(), ["2.root.json", "timestamp.json", "1.targets.json"]);
    assert_eq!(updater.trusted().targets("targets").unwrap().bytes(), repo.served("targets"));
}
