//! Profile §3.3.2: Timestamp (TS1-TS3) and the Uptane rule that it carries the Snapshot hashes.

mod support;

use chrono::TimeDelta;
use serde_json::json;
use support::*;
use uptane::crypto::PublicKey;
use uptane::metadata::MetaFile;
use uptane::repository::{Rules, TimestampUpdate};
use uptane::{Attack, Error};

fn is_timestamp_threshold(err: &Error, valid: usize, threshold: u32) -> bool {
    matches!(err, Error::Threshold { role, valid: v, threshold: t }
        if role == "timestamp" && *v == valid && *t == threshold)
}

/// A synced client, and a repository whose next Timestamp is one version up.
fn synced() -> (RepoFixture, uptane::repository::MemStore) {
    let mut repo = RepoFixture::new();
    let store = repo.synced_store();
    repo.timestamp.version += 1;
    (repo, store)
}

#[test]
fn ts1_timestamp_signed_by_an_unknown_key_is_rejected() {
    let (mut repo, mut store) = synced();
    let before = files(&store);
    let forged = repo.sign(&repo.timestamp_body(), &["evil"]);
    repo.serve_timestamp(forged);

    let err = expect_attack(repo.refresh(&mut store), Attack::ArbitrarySoftware);
    assert!(is_timestamp_threshold(&err, 0, 1), "{err}");
    assert_eq!(files(&store), before);
}

#[test]
fn ts1_timestamp_with_a_corrupted_signature_is_rejected() {
    let (mut repo, mut store) = synced();
    let before = files(&store);
    let corrupted = corrupt_signature(&repo.publish_timestamp());
    repo.serve_timestamp(corrupted);

    let err = expect_attack(repo.refresh(&mut store), Attack::ArbitrarySoftware);
    assert!(is_timestamp_threshold(&err, 0, 1), "{err}");
    assert_eq!(files(&store), before);
}

#[test]
fn ts1_timestamp_with_a_tampered_body_is_rejected() {
    let (mut repo, mut store) = synced();
    let before = files(&store);
    let tampered = edit_json(&repo.publish_timestamp(), |v| v["signed"]["version"] = json!(99));
    repo.serve_timestamp(tampered);

    let err = expect_attack(repo.refresh(&mut store), Attack::ArbitrarySoftware);
    assert!(is_timestamp_threshold(&err, 0, 1), "{err}");
    assert_eq!(files(&store), before);
}

#[test]
fn ts1_timestamp_signed_by_other_roles_keys_is_rejected() {
    let (mut repo, mut store) = synced();
    let before = files(&store);
    let forged = repo.sign(&repo.timestamp_body(), &["root1", "targets1", "snapshot1"]);
    repo.serve_timestamp(forged);

    let err = expect_attack(repo.refresh(&mut store), Attack::ArbitrarySoftware);
    assert!(is_timestamp_threshold(&err, 0, 1), "{err}");
    assert_eq!(files(&store), before);
}

#[test]
fn ts1_timestamp_below_its_threshold_is_rejected() {
    // Two timestamp keys, one Ed25519 and one ECDSA, threshold 2: one stolen key is not enough.
    let mut repo =
        RepoFixture::build(|repo| repo.set_role("timestamp", &["timestamp1", "timestamp3"], 2));
    let mut store = repo.synced_store();
    let before = files(&store);
    repo.timestamp.version += 1;
    for signer in ["timestamp1", "timestamp3"] {
        let half = repo.sign(&repo.timestamp_body(), &[signer]);
        repo.serve_timestamp(half);
        let err = expect_attack(repo.refresh(&mut store), Attack::ArbitrarySoftware);
        assert!(is_timestamp_threshold(&err, 1, 2), "{err}");
        assert_eq!(files(&store), before);
    }
    repo.publish_timestamp();
    assert_eq!(repo.refresh(&mut store).expect("both keys").timestamp, TimestampUpdate::Updated);
}

#[test]
fn ts1_one_signature_repeated_is_malformed() {
    let mut repo =
        RepoFixture::build(|repo| repo.set_role("timestamp", &["timestamp1", "timestamp2"], 2));
    let mut store = repo.synced_store();
    let before = files(&store);
    repo.timestamp.version += 1;
    let id = repo.key_id("timestamp1");
    let repeated =
        repo.sign_raw(&repo.timestamp_body(), &[(&id, "timestamp1"), (&id, "timestamp1")]);
    repo.serve_timestamp(repeated);

    let err = expect_attack(repo.refresh(&mut store), Attack::ArbitrarySoftware);
    assert!(matches!(err, Error::DuplicateSignature { .. }), "{err}");
    assert_eq!(files(&store), before);
}

/// Rewrites a key object without changing the key.
type Respell = fn(&mut PublicKey);

#[test]
fn ts1_one_key_listed_under_two_key_ids_counts_once() {
    // The timestamp role lists one key twice, spelled differently, so under two key ids that
    // are each the true hash of their key object. Threshold 2 must need two distinct keys.
    let aliases: [(&str, Respell); 3] = [
        // Older Uptane tools write `keyid_hash_algorithms` into key objects.
        ("timestamp1", |key| {
            key.extra.insert("keyid_hash_algorithms".into(), json!(["sha256", "sha512"]));
        }),
        ("timestamp1", |key| key.keyval.public = key.keyval.public.to_uppercase()),
        ("timestamp3", |key| key.keytype = "ecdsa-sha2-nistp256".into()),
    ];
    for (name, respell) in aliases {
        let mut alias_id = String::new();
        let mut repo = RepoFixture::build(|repo| {
            let mut alias = repo.public(name);
            respell(&mut alias);
            alias_id = alias.key_id().expect("key id");
            repo.root.keys.insert(alias_id.clone(), alias);
            repo.set_role("timestamp", &[name, "timestamp2"], 2);
            repo.root.roles.get_mut("timestamp").expect("role").keyids.push(alias_id.clone());
        });
        assert_ne!(alias_id, repo.key_id(name));
        let mut store = repo.synced_store();
        let before = files(&store);
        repo.timestamp.version += 1;
        let id = repo.key_id(name);
        let one_key_twice =
            repo.sign_raw(&repo.timestamp_body(), &[(&id, name), (&alias_id, name)]);
        repo.serve_timestamp(one_key_twice);

        let err = expect_attack(repo.refresh(&mut store), Attack::ArbitrarySoftware);
        assert!(is_timestamp_threshold(&err, 1, 2), "{err}");
        assert_eq!(files(&store), before);
    }
}

#[test]
fn ts1_extra_signatures_from_unknown_keys_or_invalid_ones_are_ignored() {
    let (mut repo, mut store) = synced();
    let body = repo.timestamp_body();
    let (good, evil, other) =
        (repo.key_id("timestamp1"), repo.key_id("evil"), repo.key_id("timestamp2"));
    // A valid signature, one by an unknown key, and one claiming an untrusted key id.
    let noisy = repo.sign_raw(&body, &[(&evil, "evil"), (&good, "timestamp1"), (&other, "evil")]);
    repo.serve_timestamp(noisy.clone());

    let refresh = repo.refresh(&mut store).expect("threshold met (BP 9.0.4)");
    assert_eq!(refresh.timestamp, TimestampUpdate::Updated);
    assert_eq!(store.files["timestamp.json"], noisy);
}

#[test]
fn ts2_older_timestamp_is_a_rollback() {
    let mut repo = RepoFixture::new();
    let mut store = repo.synced_store();
    let old = repo.served("timestamp");
    repo.bump_timestamp();
    repo.refresh(&mut store).expect("timestamp 2");
    let before = files(&store);
    repo.serve_timestamp(old);

    let err = expect_attack(repo.refresh(&mut store), Attack::Rollback);
    assert!(
        matches!(&err, Error::VersionRollback { role, trusted: 2, new: 1 } if role == "timestamp"),
        "{err}"
    );
    assert_eq!(files(&store), before);
}

#[test]
fn ts2_equal_timestamp_is_no_update_not_an_error() {
    let mut repo = RepoFixture::new();
    let mut store = repo.synced_store();
    let before = files(&store);
    repo.server.clear_requests();

    let refresh = repo.refresh(&mut store).expect("nothing new is not an error");
    assert_eq!(refresh.timestamp, TimestampUpdate::Unchanged);
    assert!(!refresh.snapshot_changed);
    // Nothing beyond the Root probe and the Timestamp was fetched.
    assert_eq!(repo.server.requests(), ["2.root.json", "timestamp.json"]);
    assert_eq!(files(&store), before);

    // A different file with the same version (re-signed with another expiry) is no update
    // either: the trusted one stays.
    repo.timestamp.expires = future() + TimeDelta::days(1);
    repo.publish_timestamp();
    let refresh = repo.refresh(&mut store).expect("same version");
    assert_eq!(refresh.timestamp, TimestampUpdate::Unchanged);
    assert_eq!(files(&store), before);
}

#[test]
fn ts2_timestamp_listing_an_older_snapshot_is_a_rollback() {
    let mut repo = RepoFixture::new();
    let old_snapshot = repo.served("snapshot");
    repo.release(&[]);
    let mut store = repo.synced_store();
    let before = files(&store);
    // Timestamp 3 (new) names Snapshot 1 (old, still on the server).
    repo.snapshot.version = 1;
    repo.serve_snapshot(old_snapshot);
    repo.timestamp.version = 3;
    repo.publish_timestamp();

    let err = expect_attack(repo.refresh(&mut store), Attack::Rollback);
    assert!(
        matches!(&err, Error::MetaRollback { role, file, trusted: 2, new: 1 }
            if role == "timestamp" && file == "snapshot.json"),
        "{err}"
    );
    assert_eq!(files(&store), before);
}

#[test]
fn ts3_expired_timestamp_is_a_freeze() {
    let (mut repo, mut store) = synced();
    let before = files(&store);
    repo.timestamp.expires = past();
    repo.publish_timestamp();

    let err = expect_attack(repo.refresh(&mut store), Attack::Freeze);
    assert!(matches!(&err, Error::Expired { role, .. } if role == "timestamp"), "{err}");
    assert_eq!(files(&store), before);
}

#[test]
fn ts3_the_same_timestamp_served_past_its_expiry_is_a_freeze() {
    // The attacker keeps serving the last Timestamp: "no update" must not hide that it expired.
    let mut repo = RepoFixture::new();
    repo.timestamp.expires = now() + TimeDelta::hours(1);
    repo.publish_timestamp();
    let mut store = repo.synced_store();
    let before = files(&store);

    let later = now() + TimeDelta::hours(2);
    let err = expect_attack(repo.refresh_at(&mut store, later), Attack::Freeze);
    assert!(matches!(&err, Error::Expired { role, .. } if role == "timestamp"), "{err}");
    assert_eq!(files(&store), before);
}

#[test]
fn timestamp_without_snapshot_hashes_is_rejected_by_uptane_rules_only() {
    let (mut repo, mut store) = synced();
    let before = files(&store);
    let mut body = repo.timestamp_body();
    body.meta.insert("snapshot.json".into(), MetaFile::version_only(1));
    let without_hashes = repo.sign_role("timestamp", &body);
    repo.serve_timestamp(without_hashes.clone());

    let err = expect_attack(repo.refresh(&mut store), Attack::ArbitrarySoftware);
    assert!(matches!(&err, Error::Malformed { role, .. } if role == "timestamp"), "{err}");
    assert_eq!(files(&store), before);

    // TUF makes the hashes optional.
    let refresh = repo.refresh_with(&mut store, Rules::tuf()).expect("TUF accepts");
    assert_eq!(refresh.timestamp, TimestampUpdate::Updated);
    assert_eq!(store.files["timestamp.json"], without_hashes);
}

#[test]
fn oversized_timestamp_is_endless_data() {
    let (mut repo, mut store) = synced();
    let limit = Rules::uptane().max_timestamp_bytes as usize;
    let mut padded = repo.publish_timestamp();
    // Trailing whitespace keeps it valid JSON: exactly at the limit it is still accepted ...
    padded.resize(limit, b' ');
    repo.serve_timestamp(padded.clone());
    repo.refresh(&mut store).expect("a timestamp of exactly the limit");
    assert_eq!(store.files["timestamp.json"], padded);
    let before = files(&store);

    // ... one byte more is endless data, whatever it contains.
    repo.timestamp.version += 1;
    let mut endless = repo.publish_timestamp();
    endless.resize(limit + 1, b' ');
    repo.serve_timestamp(endless);
    repo.server.clear_requests();

    let err = expect_attack(repo.refresh(&mut store), Attack::EndlessData);
    assert!(matches!(err, Error::TooLarge { .. }), "{err}");
    assert!(repo.server.requests_with_limits().contains(&("timestamp.json".into(), limit as u64)));
    assert_eq!(files(&store), before);
}

#[test]
fn snapshot_served_as_timestamp_is_rejected_by_type() {
    let (repo, mut store) = synced();
    let before = files(&store);
    repo.server.put("timestamp.json", repo.served("snapshot"));

    let err = expect_attack(repo.refresh(&mut store), Attack::ArbitrarySoftware);
    assert!(
        matches!(&err, Error::WrongType { expected, found, .. } if expected == "timestamp" && found == "snapshot"),
        "{err}"
    );
    assert_eq!(files(&store), before);
}
