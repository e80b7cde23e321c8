//! Profile §3.3.4: top-level Targets (T2-T5) and the profile's rules on target entries.

mod support;

use chrono::TimeDelta;
use support::*;
use uptane::metadata::TargetFile;
use uptane::repository::{MemStore, Rules};
use uptane::{Attack, Error};

/// Everything stored before, except Timestamp and Snapshot, which verified and were persisted.
fn assert_targets_untouched(repo: &RepoFixture, store: &MemStore, before: &Files) {
    let mut expected = before.clone();
    expected.insert("timestamp.json".into(), repo.served("timestamp"));
    expected.insert("snapshot.json".into(), repo.served("snapshot"));
    assert_eq!(&files(store), &expected);
}

type Files = std::collections::BTreeMap<String, Vec<u8>>;

/// Publishes Snapshot and Timestamp one version up over whatever Targets were served last.
fn publish_snapshot_and_timestamp(repo: &mut RepoFixture) {
    repo.snapshot.version += 1;
    repo.timestamp.version += 1;
    repo.publish_snapshot();
    repo.publish_timestamp();
}

#[test]
fn t2_targets_version_differing_from_the_snapshot_is_mix_and_match() {
    let mut repo = RepoFixture::new();
    let mut store = repo.synced_store();
    let before = files(&store);
    // Targets 2 is signed, but `3.targets.json`, which Snapshot names, holds it.
    repo.targets_mut("targets").version = 2;
    let targets2 = repo.sign_role("targets", &repo.targets["targets"]);
    repo.targets_mut("targets").version = 3;
    repo.serve_targets("targets", targets2);
    publish_snapshot_and_timestamp(&mut repo);

    let err = expect_attack(repo.refresh(&mut store), Attack::MixAndMatch);
    assert!(
        matches!(&err, Error::MetaVersionMismatch { role, listed_by, expected: 3, found: 2 }
            if role == "targets" && listed_by == "snapshot"),
        "{err}"
    );
    assert_targets_untouched(&repo, &store, &before);
}

#[test]
fn t2_targets_not_matching_the_snapshot_hash_is_mix_and_match() {
    let mut repo = RepoFixture::build(|repo| repo.snapshot_lists_hashes = true);
    let mut store = repo.synced_store();
    let before = files(&store);
    repo.release(&["targets"]);
    // Another validly signed Targets 2 of the same length replaces the one Snapshot describes.
    repo.targets_mut("targets").expires = future() + TimeDelta::days(1);
    let other = repo.sign_role("targets", &repo.targets["targets"]);
    assert_eq!(other.len(), repo.served("targets").len());
    repo.server.put("2.targets.json", other);

    let err = expect_attack(repo.refresh(&mut store), Attack::MixAndMatch);
    assert!(
        matches!(&err, Error::MetaHashMismatch { role, listed_by, .. } if role == "targets" && listed_by == "snapshot"),
        "{err}"
    );
    assert_targets_untouched(&repo, &store, &before);
}

#[test]
fn t2_targets_length_differing_from_the_snapshot_is_mix_and_match() {
    let mut repo = RepoFixture::build(|repo| repo.snapshot_lists_hashes = true);
    let mut store = repo.synced_store();
    let before = files(&store);
    repo.release(&["targets"]);
    // A shorter Targets 2 (one target fewer), validly signed, in place of the listed one.
    repo.targets_mut("targets").targets.clear();
    let shorter = repo.sign_role("targets", &repo.targets["targets"]);
    repo.server.put("2.targets.json", shorter);

    let err = expect_attack(repo.refresh(&mut store), Attack::MixAndMatch);
    assert!(matches!(&err, Error::MetaLengthMismatch { role, .. } if role == "targets"), "{err}");
    assert_targets_untouched(&repo, &store, &before);
}

#[test]
fn t3_targets_not_signed_by_the_targets_role_is_rejected() {
    let mut repo = RepoFixture::new();
    let mut store = repo.synced_store();
    let before = files(&store);
    repo.targets_mut("targets").version = 2;
    repo.add_target("targets", "evil.bin", b"malware", &[HW_A]);
    for signers in [&["evil"][..], &["snapshot1", "timestamp1"], &["root1"]] {
        let forged = repo.sign(&repo.targets["targets"], signers);
        repo.serve_targets("targets", forged);
        publish_snapshot_and_timestamp(&mut repo);

        let err = expect_attack(repo.refresh(&mut store), Attack::ArbitrarySoftware);
        assert!(
            matches!(&err, Error::Threshold { role, valid: 0, threshold: 1 } if role == "targets"),
            "{err}"
        );
        assert_targets_untouched(&repo, &store, &before);
    }
}

#[test]
fn t3_targets_with_a_corrupted_signature_is_rejected() {
    let mut repo = RepoFixture::new();
    let mut store = repo.synced_store();
    let before = files(&store);
    repo.targets_mut("targets").version = 2;
    let corrupted = corrupt_signature(&repo.publish_targets("targets"));
    repo.serve_targets("targets", corrupted);
    publish_snapshot_and_timestamp(&mut repo);

    let err = expect_attack(repo.refresh(&mut store), Attack::ArbitrarySoftware);
    assert!(matches!(err, Error::Threshold { .. }), "{err}");
    assert_targets_untouched(&repo, &store, &before);
}

/// T4 needs a stored Targets newer than the one Snapshot names. S4 stops that while the stored
/// Snapshot is a baseline; after a snapshot key rotation (R4) it is gone, and only T4 is left.
fn rollback_after_snapshot_key_rotation() -> (RepoFixture, MemStore, Files) {
    let mut repo = RepoFixture::new();
    let targets1 = repo.served("targets");
    repo.release(&["targets"]);
    let store = repo.synced_store();
    let before = files(&store);
    repo.rotate_root(|repo| repo.set_role("snapshot", &["snapshot2"], 1));
    repo.targets_mut("targets").version = 1;
    repo.serve_targets("targets", targets1);
    repo.snapshot.version = 1;
    repo.timestamp.version = 1;
    repo.publish_snapshot();
    repo.publish_timestamp();
    (repo, store, before)
}

#[test]
fn t4_older_targets_than_trusted_is_a_rollback_under_uptane_rules() {
    let (repo, mut store, before) = rollback_after_snapshot_key_rotation();

    let err = expect_attack(repo.refresh(&mut store), Attack::Rollback);
    assert!(
        matches!(&err, Error::VersionRollback { role, trusted: 2, new: 1 } if role == "targets"),
        "{err}"
    );
    assert_eq!(store.files["targets.json"], before["targets.json"]);
    assert_eq!(store.files["snapshot.json"], repo.served("snapshot"));
}

#[test]
fn t4_is_an_uptane_rule_that_plain_tuf_does_not_apply() {
    let (repo, mut store, _) = rollback_after_snapshot_key_rotation();
    repo.refresh_with(&mut store, Rules::tuf()).expect("TUF has no T4");
    assert_eq!(store.files["targets.json"], repo.served("targets"));
}

#[test]
fn t5_expired_targets_is_a_freeze() {
    let mut repo = RepoFixture::new();
    let mut store = repo.synced_store();
    let before = files(&store);
    repo.targets_mut("targets").expires = past();
    repo.release(&["targets"]);

    let err = expect_attack(repo.refresh(&mut store), Attack::Freeze);
    assert!(matches!(&err, Error::Expired { role, .. } if role == "targets"), "{err}");
    assert_targets_untouched(&repo, &store, &before);
}

#[test]
fn target_without_sha256_is_rejected_by_uptane_rules_only() {
    let mut repo = RepoFixture::new();
    let mut store = repo.synced_store();
    let before = files(&store);
    let mut entry = TargetFile::describing(b"firmware");
    entry.hashes.remove("sha256");
    repo.targets_mut("targets").targets.insert("sha512-only.bin".into(), entry);
    repo.release(&["targets"]);

    let err = expect_attack(repo.refresh(&mut store), Attack::ArbitrarySoftware);
    assert!(
        matches!(&err, Error::NoUsableHash { target, required: "sha256" } if target == "sha512-only.bin"),
        "{err}"
    );
    assert_targets_untouched(&repo, &store, &before);

    repo.refresh_with(&mut store, Rules::tuf()).expect("TUF takes any hash");
    assert_eq!(store.files["targets.json"], repo.served("targets"));
}

#[test]
fn traversal_target_path_is_rejected_by_uptane_rules() {
    for path in ["../../etc/x", "/etc/passwd", "a\\b.bin"] {
        let mut repo = RepoFixture::new();
        let mut store = repo.synced_store();
        let before = files(&store);
        repo.add_target("targets", path, b"payload", &[HW_A]);
        repo.release(&["targets"]);

        let err = expect_attack(repo.refresh(&mut store), Attack::ArbitrarySoftware);
        assert!(
            matches!(&err, Error::InvalidName { what: "target path", value, .. } if value == path),
            "{path}: {err}"
        );
        assert_targets_untouched(&repo, &store, &before);

        // The rule that rejects it is the profile's, not TUF's.
        repo.refresh_with(&mut store, Rules::tuf()).expect("TUF does not check paths");
    }
}

#[test]
fn targets_served_as_snapshot_is_rejected_by_type() {
    let mut repo = RepoFixture::new();
    let mut store = repo.synced_store();
    let before = files(&store);
    repo.snapshot.version = 2;
    repo.serve_snapshot(repo.served("targets"));
    repo.timestamp.version = 2;
    repo.publish_timestamp();

    let err = expect_attack(repo.refresh(&mut store), Attack::ArbitrarySoftware);
    assert!(
        matches!(&err, Error::WrongType { expected, found, .. } if expected == "snapshot" && found == "targets"),
        "{err}"
    );
    assert_eq!(files(&store)["snapshot.json"], before["snapshot.json"]);
}

#[test]
fn stored_targets_that_expired_is_a_freeze() {
    // Snapshot still names the stored Targets, but they expired: not current, so fetched again
    // and refused (T5), while the new Timestamp is fine.
    let mut repo = RepoFixture::new();
    repo.targets_mut("targets").expires = now() + TimeDelta::hours(1);
    repo.publish();
    let mut store = repo.synced_store();
    repo.bump_timestamp();
    repo.server.clear_requests();

    let err =
        expect_attack(repo.refresh_at(&mut store, now() + TimeDelta::hours(2)), Attack::Freeze);
    assert!(matches!(&err, Error::Expired { role, .. } if role == "targets"), "{err}");
    assert!(repo.server.requests().contains(&"1.targets.json".to_string()));
}
