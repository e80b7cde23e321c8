//! End to end over one repository, and what the client keeps after success and failure
//! (profile §3: on failure keep the previously trusted file; persist exactly what was received).

mod support;

use std::collections::BTreeMap;

use support::*;
use uptane::repository::{MemStore, Rules, TimestampUpdate};
use uptane::{Attack, Error};

#[test]
fn fresh_client_refreshes_and_finds_its_target() {
    let repo = RepoFixture::new();
    let mut updater = repo.updater(repo.provision());

    let refresh = updater.refresh().expect("a fresh client verifies the repository");
    assert_eq!(refresh.root_version, 1);
    assert_eq!(refresh.timestamp, TimestampUpdate::Updated);
    assert!(refresh.snapshot_changed);

    let found = updater.find_target(APP, Some(HW_A)).expect("search").expect("found");
    assert_eq!(found.role, "targets");
    assert_eq!(found.path, APP);
    assert_eq!(found.file, repo.targets["targets"].targets[APP]);
    assert_eq!(found.file.length, APP_IMAGE.len() as u64);
    assert_eq!(found.file.hashes["sha256"], uptane::crypto::sha256_hex(APP_IMAGE));
    let custom = found.file.uptane(APP).expect("custom fields");
    assert_eq!(custom.release_counter, Some(1));
    assert_eq!(custom.hardware_ids.expect("hardware ids")[0].as_str(), HW_A);

    assert_eq!(updater.find_target("missing.bin", Some(HW_A)).expect("search"), None);

    // Fetched in the profile's order, each within its byte limit.
    let rules = Rules::uptane();
    let snapshot_length = repo.served("snapshot").len() as u64;
    assert_eq!(
        repo.server.requests_with_limits(),
        [
            ("2.root.json".to_string(), rules.max_root_bytes),
            ("timestamp.json".to_string(), rules.max_timestamp_bytes),
            ("1.snapshot.json".to_string(), snapshot_length),
            ("1.targets.json".to_string(), rules.max_targets_bytes),
        ]
    );
}

#[test]
fn successful_cycle_persists_the_exact_bytes_received() {
    let mut repo = RepoFixture::new();
    let mut store = repo.synced_store();
    let expected = |repo: &RepoFixture| {
        BTreeMap::from([
            ("root.json".to_string(), repo.roots[&repo.root.version].clone()),
            ("timestamp.json".to_string(), repo.served("timestamp")),
            ("snapshot.json".to_string(), repo.served("snapshot")),
            ("targets.json".to_string(), repo.served("targets")),
        ])
    };
    assert_eq!(files(&store), expected(&repo));

    // A second cycle after a new Root and a new release replaces every file.
    repo.rotate_root(|_| {});
    repo.add_target("targets", "app-2.bin", b"release 2", &[HW_A]);
    repo.release(&["targets"]);
    let refresh = repo.refresh(&mut store).expect("second cycle");
    assert_eq!(refresh.root_version, 2);
    assert_eq!(files(&store), expected(&repo));

    let mut updater = repo.updater(store);
    updater.refresh().expect("third cycle, nothing new");
    let found = updater.find_target("app-2.bin", Some(HW_A)).expect("search").expect("found");
    assert_eq!(found.file.length, b"release 2".len() as u64);
}

#[test]
fn stored_files_that_no_longer_verify_are_ignored_and_replaced() {
    let repo = RepoFixture::new();
    let mut store = repo.synced_store();
    for name in ["timestamp.json", "snapshot.json", "targets.json"] {
        let stored = store.files[name].clone();
        store.files.insert(name.into(), corrupt_signature(&stored));
    }
    repo.refresh(&mut store).expect("the repository is fine; the cache was not");
    assert_eq!(store.files["timestamp.json"], repo.served("timestamp"));
    assert_eq!(store.files["snapshot.json"], repo.served("snapshot"));
    assert_eq!(store.files["targets.json"], repo.served("targets"));
}

/// One failed cycle against a synced client: what the store holds afterwards.
fn after_failure(
    attack: impl FnOnce(&mut RepoFixture),
    label: Attack,
) -> (RepoFixture, MemStore, MemStore) {
    let mut repo = RepoFixture::new();
    let before = repo.synced_store();
    attack(&mut repo);
    let mut store = before.clone();
    expect_attack(repo.refresh(&mut store), label);
    (repo, before, store)
}

/// What an attacker does to the repository.
type Tamper = fn(&mut RepoFixture);

#[test]
fn failed_root_or_timestamp_leaves_the_store_exactly_as_it_was() {
    let attacks: [(Tamper, Attack); 3] = [
        (
            |repo| {
                repo.root.version = 2;
                let forged = repo.sign(&repo.root, &["evil"]);
                repo.serve_root(forged);
            },
            Attack::ArbitrarySoftware,
        ),
        (
            |repo| {
                repo.timestamp.version = 2;
                repo.timestamp.expires = past();
                repo.publish_timestamp();
            },
            Attack::Freeze,
        ),
        (|repo| repo.server.put("timestamp.json", vec![b'{'; 1 << 20]), Attack::EndlessData),
    ];
    for (attack, label) in attacks {
        let (_, before, after) = after_failure(attack, label);
        assert_eq!(files(&after), files(&before), "{label}");
    }
}

#[test]
fn failed_snapshot_keeps_the_stored_snapshot_and_targets() {
    // TUF 5.4.5 and 5.5.7: each file is persisted once it verified. A Timestamp that verified is
    // kept; the failing Snapshot and everything after it are the previous files, byte for byte.
    let (repo, before, after) = after_failure(
        |repo| {
            repo.snapshot.version = 2;
            let forged = repo.sign(&repo.snapshot_body(), &["evil"]);
            repo.serve_snapshot(forged);
            repo.timestamp.version = 2;
            repo.publish_timestamp();
        },
        Attack::ArbitrarySoftware,
    );
    let mut expected = files(&before);
    expected.insert("timestamp.json".into(), repo.served("timestamp"));
    assert_eq!(files(&after), expected);
}

#[test]
fn failed_targets_keeps_the_stored_targets() {
    let (repo, before, after) = after_failure(
        |repo| {
            repo.targets_mut("targets").expires = past();
            repo.release(&["targets"]);
        },
        Attack::Freeze,
    );
    let mut expected = files(&before);
    expected.insert("timestamp.json".into(), repo.served("timestamp"));
    expected.insert("snapshot.json".into(), repo.served("snapshot"));
    assert_eq!(files(&after), expected);
    assert_eq!(after.files["targets.json"], before.files["targets.json"]);
}

#[test]
fn client_recovers_on_the_next_cycle_after_a_failure() {
    let mut repo = RepoFixture::new();
    let mut store = repo.synced_store();
    repo.targets_mut("targets").version = 2;
    let forged = repo.sign(&repo.targets["targets"], &["evil"]);
    repo.serve_targets("targets", forged);
    repo.snapshot.version = 2;
    repo.timestamp.version = 2;
    repo.publish_snapshot();
    repo.publish_timestamp();
    let err = expect_attack(repo.refresh(&mut store), Attack::ArbitrarySoftware);
    assert!(matches!(err, Error::Threshold { .. }), "{err}");

    // The repository publishes properly signed metadata; the client catches up.
    repo.release(&["targets"]);
    repo.refresh(&mut store).expect("recovered");
    assert_eq!(store.files["targets.json"], repo.served("targets"));
}
