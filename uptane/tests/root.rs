//! Profile §3.3.1: the Root rotation loop (R1-R4), attacked through `Updater::refresh`.

mod support;

use support::*;
use uptane::repository::{Rules, TimestampUpdate, Updater};
use uptane::{Attack, Error};

fn is_root_threshold(err: &Error, valid: usize, threshold: u32) -> bool {
    matches!(err, Error::Threshold { role, valid: v, threshold: t }
        if role == "root" && *v == valid && *t == threshold)
}

#[test]
fn r1_new_root_not_signed_by_the_old_root_threshold_is_rejected() {
    let mut repo = RepoFixture::new();
    let mut store = repo.synced_store();
    let before = files(&store);
    // Root 2 hands the root role to root2, but only root2 signs it: Root 1 never agreed.
    repo.root.version = 2;
    repo.set_role("root", &["root2"], 1);
    let forged = repo.sign(&repo.root, &["root2"]);
    repo.serve_root(forged);

    let err = expect_attack(repo.refresh(&mut store), Attack::ArbitrarySoftware);
    assert!(is_root_threshold(&err, 0, 1), "{err}");
    assert_eq!(files(&store), before, "a rejected root changes nothing");

    // The same Root 2 co-signed by the old key is fine.
    repo.publish_root();
    assert_eq!(repo.refresh(&mut store).expect("proper rotation").root_version, 2);
}

#[test]
fn r1_new_root_not_signed_by_its_own_threshold_is_rejected() {
    let mut repo = RepoFixture::new();
    let mut store = repo.synced_store();
    let before = files(&store);
    // Root 2 raises the root threshold to 2 of {root1, root2}; only root1 signs.
    repo.root.version = 2;
    repo.set_role("root", &["root1", "root2"], 2);
    let half_signed = repo.sign(&repo.root, &["root1"]);
    repo.serve_root(half_signed);

    let err = expect_attack(repo.refresh(&mut store), Attack::ArbitrarySoftware);
    assert!(is_root_threshold(&err, 1, 2), "{err}");
    assert_eq!(files(&store), before);

    // A root that moves to a key that never signed fails the new threshold too.
    repo.set_role("root", &["root2"], 1);
    let old_key_only = repo.sign(&repo.root, &["root1"]);
    repo.serve_root(old_key_only);
    let err = expect_attack(repo.refresh(&mut store), Attack::ArbitrarySoftware);
    assert!(is_root_threshold(&err, 0, 1), "{err}");
    assert_eq!(files(&store), before);
}

#[test]
fn r1_new_root_signed_by_keys_of_other_roles_is_rejected() {
    let mut repo = RepoFixture::new();
    let mut store = repo.synced_store();
    let before = files(&store);
    repo.root.version = 2;
    // Every online key of the repository signs, none of them a root key.
    let forged = repo.sign(&repo.root, &["targets1", "snapshot1", "timestamp1"]);
    repo.serve_root(forged);

    let err = expect_attack(repo.refresh(&mut store), Attack::ArbitrarySoftware);
    assert!(is_root_threshold(&err, 0, 1), "{err}");
    assert_eq!(files(&store), before);
}

#[test]
fn r1_one_valid_signature_duplicated_to_reach_the_threshold_is_rejected() {
    let mut repo = RepoFixture::build(|repo| repo.set_role("root", &["root1", "root2"], 2));
    let mut store = repo.synced_store();
    let before = files(&store);
    repo.root.version = 2;
    let root1 = repo.key_id("root1");
    let duplicated = repo.sign_raw(&repo.root, &[(&root1, "root1"), (&root1, "root1")]);
    repo.serve_root(duplicated);

    let err = expect_attack(repo.refresh(&mut store), Attack::ArbitrarySoftware);
    assert!(
        matches!(&err, Error::DuplicateSignature { role, keyid } if role == "root" && *keyid == root1)
    );
    assert_eq!(files(&store), before);
}

#[test]
fn r2_replayed_root_under_the_next_version_name_is_a_rollback() {
    let mut repo = RepoFixture::new();
    repo.rotate_root(|_| {});
    let mut store = repo.synced_store();
    let before = files(&store);
    // `3.root.json` is a validly signed copy of Root 2.
    let root2 = repo.roots[&2].clone();
    repo.server.put("3.root.json", root2);

    let err = expect_attack(repo.refresh(&mut store), Attack::Rollback);
    assert!(matches!(err, Error::RootVersion { expected: 3, found: 2 }), "{err}");
    assert_eq!(files(&store), before);
}

#[test]
fn r2_root_skipping_a_version_is_rejected() {
    let mut repo = RepoFixture::new();
    repo.rotate_root(|_| {});
    let mut store = repo.synced_store();
    let before = files(&store);
    // Root 4, properly signed, served as `3.root.json`.
    repo.root.version = 4;
    let root4 = repo.sign_role("root", &repo.root);
    repo.server.put("3.root.json", root4);

    let err = expect_attack(repo.refresh(&mut store), Attack::Rollback);
    assert!(matches!(err, Error::RootVersion { expected: 3, found: 4 }), "{err}");
    assert_eq!(files(&store), before);
}

#[test]
fn r3_expired_final_root_freezes_the_cycle_but_is_persisted() {
    let mut repo = RepoFixture::new();
    let mut store = repo.synced_store();
    let root2 = repo.rotate_root(|repo| repo.root.expires = past());
    repo.server.clear_requests();

    let err = expect_attack(repo.refresh(&mut store), Attack::Freeze);
    assert!(matches!(&err, Error::Expired { role, .. } if role == "root"), "{err}");
    // Root 2 was validly signed: it is trusted and stored, and the cycle stops before Timestamp.
    assert_eq!(store.files["root.json"], root2);
    assert_eq!(repo.server.requests(), ["2.root.json", "3.root.json"]);

    // The repository recovers by publishing a fresh Root 3.
    repo.rotate_root(|repo| repo.root.expires = future());
    assert_eq!(repo.refresh(&mut store).expect("fresh root").root_version, 3);
}

#[test]
fn r3_expired_intermediate_roots_are_fine() {
    let mut repo = RepoFixture::new();
    let mut store = repo.provision();
    repo.rotate_root(|repo| repo.root.expires = past());
    repo.rotate_root(|repo| repo.root.expires = past());
    let root4 = repo.rotate_root(|repo| repo.root.expires = future());

    assert_eq!(repo.refresh(&mut store).expect("the final root is fresh").root_version, 4);
    assert_eq!(store.files["root.json"], root4);
}

#[test]
fn root_rotation_over_several_versions_with_changing_thresholds() {
    let mut repo = RepoFixture::new();
    let mut store = repo.synced_store();
    // 2: root threshold 2 of {root1, root2, root3 (ECDSA)}; Root 1's threshold is root1 alone.
    repo.root.version = 2;
    repo.set_role("root", &["root1", "root2", "root3"], 2);
    let root2 = repo.sign(&repo.root, &["root1", "root2"]);
    repo.serve_root(root2);
    // 3: root1 retired, 2 of {root2, root3}.
    repo.root.version = 3;
    repo.set_role("root", &["root2", "root3"], 2);
    let root3 = repo.sign(&repo.root, &["root2", "root3"]);
    repo.serve_root(root3.clone());
    // 4: down to root3 alone; signed only by root3, Root 3's threshold (2) is not met.
    repo.root.version = 4;
    repo.set_role("root", &["root3"], 1);
    let under_signed = repo.sign(&repo.root, &["root3"]);
    repo.serve_root(under_signed);
    repo.server.clear_requests();

    let err = expect_attack(repo.refresh(&mut store), Attack::ArbitrarySoftware);
    assert!(is_root_threshold(&err, 1, 2), "{err}");
    assert_eq!(store.files["root.json"], root3, "versions 2 and 3 were trusted and kept");
    assert_eq!(repo.server.requests(), ["2.root.json", "3.root.json", "4.root.json"]);

    let root4 = repo.sign(&repo.root, &["root2", "root3"]);
    repo.serve_root(root4.clone());
    let refresh = repo.refresh(&mut store).expect("rotation to root 4");
    assert_eq!(refresh.root_version, 4);
    assert_eq!(store.files["root.json"], root4);
}

#[test]
fn r4_fast_forward_recovery_after_timestamp_key_rotation() {
    let mut repo = RepoFixture::new();
    let mut store = repo.synced_store();
    // An attacker holding the timestamp key publishes version 1000; the client takes it.
    repo.timestamp.version = 1000;
    let inflated = repo.publish_timestamp();
    assert_eq!(
        repo.refresh(&mut store).expect("validly signed").timestamp,
        TimestampUpdate::Updated
    );
    assert_eq!(store.files["timestamp.json"], inflated);

    // Without a key rotation the repository's real Timestamp 2 now looks like a rollback.
    repo.timestamp.version = 2;
    repo.publish_timestamp();
    let err = expect_attack(repo.refresh(&mut store), Attack::Rollback);
    assert!(matches!(err, Error::VersionRollback { trusted: 1000, new: 2, .. }), "{err}");

    // Recovery: Root 2 replaces the timestamp key (by an ECDSA key). R4: trusting it makes the
    // client forget the inflated Timestamp and the Snapshot, even if this cycle fails later
    // (here: the server still has the Timestamp signed by the old key).
    let root2 = repo.rotate_root(|repo| repo.set_role("timestamp", &["timestamp3"], 1));
    let err = expect_attack(repo.refresh(&mut store), Attack::ArbitrarySoftware);
    assert!(matches!(&err, Error::Threshold { role, .. } if role == "timestamp"), "{err}");
    assert_eq!(store.files["root.json"], root2);
    assert!(!store.files.contains_key("timestamp.json"));
    assert!(!store.files.contains_key("snapshot.json"));

    // The repository starts over at Timestamp 1 under the new key; the client accepts it.
    repo.timestamp.version = 1;
    let fresh = repo.publish_timestamp();
    let refresh = repo.refresh(&mut store).expect("fast-forward recovery");
    assert_eq!((refresh.root_version, refresh.timestamp), (2, TimestampUpdate::Updated));
    assert_eq!(store.files["timestamp.json"], fresh);
    assert_eq!(store.files["snapshot.json"], repo.served("snapshot"));
}

#[test]
fn r4_snapshot_key_rotation_also_resets_timestamp_and_snapshot() {
    let mut repo = RepoFixture::new();
    repo.release(&[]);
    let mut store = repo.synced_store();
    repo.rotate_root(|repo| repo.set_role("snapshot", &["snapshot2"], 1));
    // The repository restarts Snapshot and Timestamp at version 1 under the new key.
    repo.snapshot.version = 1;
    repo.timestamp.version = 1;
    repo.publish_snapshot();
    repo.publish_timestamp();
    let refresh = repo.refresh(&mut store).expect("recovery after snapshot key rotation");
    assert!(refresh.snapshot_changed);
    assert_eq!(store.files["snapshot.json"], repo.served("snapshot"));
}

#[test]
fn root_served_as_timestamp_is_rejected_by_type() {
    let repo = RepoFixture::new();
    let mut store = repo.synced_store();
    let before = files(&store);
    repo.server.put("timestamp.json", repo.roots[&1].clone());

    let err = expect_attack(repo.refresh(&mut store), Attack::ArbitrarySoftware);
    assert!(
        matches!(&err, Error::WrongType { expected, found, .. } if expected == "timestamp" && found == "root"),
        "{err}"
    );
    assert_eq!(files(&store), before);
}

#[test]
fn timestamp_served_as_next_root_is_rejected_by_type() {
    let repo = RepoFixture::new();
    let mut store = repo.synced_store();
    let before = files(&store);
    repo.server.put("2.root.json", repo.served("timestamp"));

    let err = expect_attack(repo.refresh(&mut store), Attack::ArbitrarySoftware);
    assert!(matches!(&err, Error::WrongType { expected, .. } if expected == "root"), "{err}");
    assert_eq!(files(&store), before);
}

#[test]
fn key_id_not_matching_its_key_is_rejected_by_uptane_rules_only() {
    let mut repo = RepoFixture::new();
    let mut store = repo.synced_store();
    let before = files(&store);
    // Root 2 lists the timestamp key under a made-up id, and the Timestamp is signed so.
    repo.rotate_root(|repo| {
        let key = repo.public("timestamp1");
        repo.root.keys.insert("timestamp-key".into(), key);
        repo.root.roles.get_mut("timestamp").expect("role").keyids = vec!["timestamp-key".into()];
    });
    repo.timestamp.version += 1;
    let timestamp = repo.sign_raw(&repo.timestamp_body(), &[("timestamp-key", "timestamp1")]);
    repo.serve_timestamp(timestamp.clone());

    let err = expect_attack(repo.refresh(&mut store), Attack::ArbitrarySoftware);
    assert!(
        matches!(&err, Error::KeyIdMismatch { listed, .. } if listed == "timestamp-key"),
        "{err}"
    );
    assert_eq!(files(&store), before);

    // Plain TUF does not require key ids to be hashes (sigstore's are not).
    let refresh = repo.refresh_with(&mut store, Rules::tuf()).expect("TUF accepts any key id");
    assert_eq!(refresh.root_version, 2);
    assert_eq!(store.files["timestamp.json"], timestamp);
}

#[test]
fn provisioned_root_with_a_mismatched_key_id_is_refused_by_uptane_rules() {
    let repo = RepoFixture::build(|repo| {
        let key = repo.public("snapshot1");
        let id = repo.key_id("snapshot1");
        repo.root.keys.remove(&id);
        repo.root.keys.insert("snapshot-key".into(), key);
        repo.root.roles.get_mut("snapshot").expect("role").keyids = vec!["snapshot-key".into()];
    });
    let err = expect_attack(
        Updater::new(repo.server.clone(), repo.provision(), now(), Rules::uptane()).map(|_| ()),
        Attack::ArbitrarySoftware,
    );
    assert!(matches!(err, Error::KeyIdMismatch { .. }), "{err}");
    Updater::new(repo.server.clone(), repo.provision(), now(), Rules::tuf()).expect("TUF rules");
}

#[test]
fn oversized_root_is_endless_data() {
    let repo = RepoFixture::new();
    let mut store = repo.synced_store();
    let before = files(&store);
    let limit = Rules::uptane().max_root_bytes;
    repo.server.put("2.root.json", vec![b' '; limit as usize + 1]);
    repo.server.clear_requests();

    let err = expect_attack(repo.refresh(&mut store), Attack::EndlessData);
    assert!(matches!(err, Error::TooLarge { .. }), "{err}");
    assert_eq!(repo.server.requests_with_limits(), [("2.root.json".to_string(), limit)]);
    assert_eq!(files(&store), before);
}

#[test]
fn root_hops_per_cycle_are_capped() {
    let mut repo = RepoFixture::new();
    let mut store = repo.synced_store();
    for _ in 0..4 {
        repo.rotate_root(|_| {});
    }
    let rules = Rules { max_root_rotations: 2, ..Rules::uptane() };
    assert_eq!(repo.refresh_with(&mut store, rules.clone()).expect("cycle").root_version, 3);
    assert_eq!(repo.refresh_with(&mut store, rules).expect("next cycle").root_version, 5);
}
