//! Profile §3.3.3: Snapshot (S1-S6), and Uptane 5.4.4.2 step 4 (nothing new, nothing fetched).

mod support;

use chrono::TimeDelta;
use support::*;
use uptane::repository::MemStore;
use uptane::{Attack, Error};

/// A repository with one delegated role, and a client synced to it.
fn delegated() -> (RepoFixture, MemStore) {
    let repo = RepoFixture::build(|repo| {
        repo.delegate("targets", "supplierA", &["supplierA"], &["supplierA/*"], false, None);
        repo.add_target("supplierA", "supplierA/bcm.bin", b"bcm", &["bcm"]);
    });
    let store = repo.synced_store();
    (repo, store)
}

/// Serves `snapshot` under the current Snapshot version and publishes a Timestamp one version
/// up that names it (so only the Snapshot checks can object).
fn serve_with_timestamp(repo: &mut RepoFixture, snapshot: Vec<u8>) {
    repo.serve_snapshot(snapshot);
    repo.timestamp.version += 1;
    repo.publish_timestamp();
}

/// Everything stored before, except the Timestamp, which verified and was persisted.
fn assert_only_timestamp_changed(repo: &RepoFixture, store: &MemStore, before: &Files) {
    let mut expected = before.clone();
    expected.insert("timestamp.json".into(), repo.served("timestamp"));
    assert_eq!(&files(store), &expected);
}

type Files = std::collections::BTreeMap<String, Vec<u8>>;

#[test]
fn s1_snapshot_not_matching_the_timestamp_hash_is_mix_and_match() {
    let mut repo = RepoFixture::new();
    let mut store = repo.synced_store();
    let before = files(&store);
    repo.release(&[]);
    // Another validly signed Snapshot 2, the same length, not the one the Timestamp names.
    repo.snapshot.expires = future() + TimeDelta::days(1);
    let other = repo.sign_role("snapshot", &repo.snapshot_body());
    assert_eq!(other.len(), repo.served("snapshot").len());
    repo.server.put("2.snapshot.json", other);

    let err = expect_attack(repo.refresh(&mut store), Attack::MixAndMatch);
    assert!(
        matches!(&err, Error::MetaHashMismatch { role, listed_by, algorithm }
            if role == "snapshot" && listed_by == "timestamp" && algorithm == "sha256"),
        "{err}"
    );
    assert_only_timestamp_changed(&repo, &store, &before);
}

#[test]
fn s1_snapshot_version_differing_from_the_timestamp_is_mix_and_match() {
    let mut repo = RepoFixture::new();
    let mut store = repo.synced_store();
    let before = files(&store);
    // Timestamp 2 names Snapshot 2, whose file is the (valid) Snapshot 1.
    let snapshot1 = repo.served("snapshot");
    repo.snapshot.version = 2;
    serve_with_timestamp(&mut repo, snapshot1);

    let err = expect_attack(repo.refresh(&mut store), Attack::MixAndMatch);
    assert!(
        matches!(&err, Error::MetaVersionMismatch { role, expected: 2, found: 1, .. } if role == "snapshot"),
        "{err}"
    );
    assert_only_timestamp_changed(&repo, &store, &before);
}

#[test]
fn s1_snapshot_length_differing_from_the_timestamp_is_mix_and_match() {
    let mut repo = RepoFixture::new();
    let mut store = repo.synced_store();
    let before = files(&store);
    repo.release(&[]);
    let mut body = repo.timestamp_body();
    let listed = body.meta.get_mut("snapshot.json").expect("snapshot entry");
    let actual = listed.length.expect("length");
    listed.length = Some(actual + 10);
    let timestamp = repo.sign_role("timestamp", &body);
    repo.serve_timestamp(timestamp);

    let err = expect_attack(repo.refresh(&mut store), Attack::MixAndMatch);
    assert!(
        matches!(&err, Error::MetaLengthMismatch { role, expected, found, .. }
            if role == "snapshot" && *expected == actual + 10 && *found == actual),
        "{err}"
    );
    assert_only_timestamp_changed(&repo, &store, &before);
}

#[test]
fn snapshot_longer_than_the_timestamp_says_is_endless_data() {
    let mut repo = RepoFixture::new();
    let mut store = repo.synced_store();
    let before = files(&store);
    repo.release(&[]);
    let mut body = repo.timestamp_body();
    let listed = body.meta.get_mut("snapshot.json").expect("snapshot entry");
    let short = listed.length.expect("length") - 1;
    listed.length = Some(short);
    let timestamp = repo.sign_role("timestamp", &body);
    repo.serve_timestamp(timestamp);
    repo.server.clear_requests();

    let err = expect_attack(repo.refresh(&mut store), Attack::EndlessData);
    assert!(matches!(err, Error::TooLarge { limit, .. } if limit == short), "{err}");
    assert!(repo.server.requests_with_limits().contains(&("2.snapshot.json".into(), short)));
    assert_only_timestamp_changed(&repo, &store, &before);
}

#[test]
fn s2_snapshot_not_signed_by_the_snapshot_role_is_rejected() {
    let mut repo = RepoFixture::new();
    let mut store = repo.synced_store();
    let before = files(&store);
    repo.snapshot.version = 2;
    // The timestamp key holder names a Snapshot the snapshot key never signed.
    for signers in [&["evil"][..], &["timestamp1", "targets1"]] {
        let forged = repo.sign(&repo.snapshot_body(), signers);
        serve_with_timestamp(&mut repo, forged);

        let err = expect_attack(repo.refresh(&mut store), Attack::ArbitrarySoftware);
        assert!(
            matches!(&err, Error::Threshold { role, valid: 0, threshold: 1 } if role == "snapshot"),
            "{err}"
        );
        assert_only_timestamp_changed(&repo, &store, &before);
    }
}

#[test]
fn s3_older_snapshot_is_a_rollback_even_when_the_stored_timestamp_is_lost() {
    let mut repo = RepoFixture::new();
    let snapshot1 = repo.served("snapshot");
    repo.release(&[]);
    let mut store = repo.synced_store();
    // The stored Timestamp is corrupted (so TS2 has no baseline); the stored Snapshot 2 is not.
    let stored = store.files["timestamp.json"].clone();
    store.files.insert("timestamp.json".into(), corrupt_signature(&stored));
    let before = files(&store);
    // Timestamp 3 names Snapshot 1.
    repo.snapshot.version = 1;
    repo.serve_snapshot(snapshot1);
    repo.timestamp.version = 3;
    repo.publish_timestamp();

    let err = expect_attack(repo.refresh(&mut store), Attack::Rollback);
    assert!(
        matches!(&err, Error::VersionRollback { role, trusted: 2, new: 1 } if role == "snapshot"),
        "{err}"
    );
    assert_only_timestamp_changed(&repo, &store, &before);
}

#[test]
fn s4_snapshot_lowering_a_targets_version_is_a_rollback() {
    let mut repo = RepoFixture::new();
    repo.release(&["targets"]);
    let mut store = repo.synced_store();
    let before = files(&store);
    // Snapshot 3 points back at Targets 1 (still on the server).
    repo.snapshot.version = 3;
    let mut body = repo.snapshot_body();
    body.meta.get_mut("targets.json").expect("targets entry").version = 1;
    let lowered = repo.sign_role("snapshot", &body);
    serve_with_timestamp(&mut repo, lowered);

    let err = expect_attack(repo.refresh(&mut store), Attack::Rollback);
    assert!(
        matches!(&err, Error::MetaRollback { role, file, trusted: 2, new: 1 }
            if role == "snapshot" && file == "targets.json"),
        "{err}"
    );
    assert_only_timestamp_changed(&repo, &store, &before);
}

#[test]
fn s5_snapshot_dropping_a_listed_file_is_a_rollback() {
    let (mut repo, mut store) = delegated();
    let before = files(&store);
    repo.snapshot.version = 2;
    let mut body = repo.snapshot_body();
    body.meta.remove("supplierA.json");
    let dropped = repo.sign_role("snapshot", &body);
    serve_with_timestamp(&mut repo, dropped);

    let err = expect_attack(repo.refresh(&mut store), Attack::Rollback);
    assert!(matches!(&err, Error::MetaRemoved { file } if file == "supplierA.json"), "{err}");
    assert_only_timestamp_changed(&repo, &store, &before);
}

#[test]
fn s6_expired_snapshot_is_a_freeze() {
    let mut repo = RepoFixture::new();
    let mut store = repo.synced_store();
    let before = files(&store);
    repo.snapshot.version = 2;
    repo.snapshot.expires = past();
    repo.publish_snapshot();
    repo.timestamp.version = 2;
    repo.publish_timestamp();

    let err = expect_attack(repo.refresh(&mut store), Attack::Freeze);
    assert!(matches!(&err, Error::Expired { role, .. } if role == "snapshot"), "{err}");
    assert_only_timestamp_changed(&repo, &store, &before);
}

#[test]
fn new_timestamp_naming_the_stored_snapshot_fetches_nothing_more() {
    let mut repo = RepoFixture::new();
    let mut store = repo.synced_store();
    repo.bump_timestamp();
    repo.server.clear_requests();

    let refresh = repo.refresh(&mut store).expect("new timestamp, same snapshot");
    assert!(!refresh.snapshot_changed);
    assert_eq!(repo.server.requests(), ["2.root.json", "timestamp.json"]);
}

#[test]
fn stored_snapshot_that_expired_is_fetched_again() {
    // The stored Snapshot is the one the Timestamp names, but it has expired meanwhile: it is
    // not "current", so the client fetches it and the freeze is detected (S6).
    let mut repo = RepoFixture::new();
    repo.snapshot.expires = now() + TimeDelta::hours(1);
    repo.publish_snapshot();
    repo.publish_timestamp();
    let mut store = repo.synced_store();
    repo.timestamp.expires = future() + TimeDelta::days(1);
    repo.bump_timestamp();
    repo.server.clear_requests();

    let err =
        expect_attack(repo.refresh_at(&mut store, now() + TimeDelta::hours(2)), Attack::Freeze);
    assert!(matches!(&err, Error::Expired { role, .. } if role == "snapshot"), "{err}");
    assert!(repo.server.requests().contains(&"1.snapshot.json".to_string()));
}
