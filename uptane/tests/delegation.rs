//! Profile §3.3.5: delegation resolution through `Updater::find_target` (Image repository).

mod support;

use std::sync::mpsc;
use std::thread;
use std::time::Duration;

use support::*;
use uptane::repository::{FoundTarget, Rules};
use uptane::{Attack, Error};

const BCM: &str = "supplierA/bcm.bin";
const BCM_IMAGE: &[u8] = b"bcm firmware 2.1.0";

/// Top-level Targets delegates `supplierA/*` for hardware `bcm` to supplierA, which signs BCM.
fn supplier_repo() -> RepoFixture {
    RepoFixture::build(|repo| {
        repo.delegate(
            "targets",
            "supplierA",
            &["supplierA"],
            &["supplierA/*"],
            false,
            Some(&["bcm"]),
        );
        repo.add_target("supplierA", BCM, BCM_IMAGE, &["bcm"]);
    })
}

/// The role that signs `path` for `hardware`, after a refresh (None if not found).
fn find(
    repo: &RepoFixture,
    path: &str,
    hardware: Option<&str>,
) -> uptane::Result<Option<FoundTarget>> {
    let mut updater = repo.updater(repo.provision());
    updater.refresh()?;
    updater.find_target(path, hardware)
}

fn found_role(result: uptane::Result<Option<FoundTarget>>) -> Option<String> {
    result.expect("search completes").map(|found| found.role)
}

fn fetched(repo: &RepoFixture, name: &str) -> bool {
    repo.server.requests().iter().any(|r| r == name)
}

#[test]
fn target_found_through_a_delegation() {
    let repo = supplier_repo();
    let found = find(&repo, BCM, Some("bcm")).expect("search").expect("found");
    assert_eq!(found.role, "supplierA");
    assert_eq!(found.path, BCM);
    assert_eq!(found.file, repo.targets["supplierA"].targets[BCM]);
    assert_eq!(found.file.length, BCM_IMAGE.len() as u64);
    assert!(fetched(&repo, "1.supplierA.json"));
}

#[test]
fn delegated_role_is_persisted_with_its_exact_bytes() {
    let repo = supplier_repo();
    let mut updater = repo.updater(repo.provision());
    updater.refresh().expect("refresh");
    updater.find_target(BCM, Some("bcm")).expect("search").expect("found");
    assert_eq!(updater.store().files["supplierA.json"], repo.served("supplierA"));
}

#[test]
fn target_outside_the_roles_paths_is_not_found() {
    let repo = RepoFixture::build(|repo| {
        repo.delegate("targets", "supplierA", &["supplierA"], &["supplierA/*"], false, None);
        repo.add_target("supplierA", BCM, BCM_IMAGE, &["bcm"]);
        // supplierA also signs names it was never trusted for.
        repo.add_target("supplierA", "other/evil.bin", b"evil", &["bcm"]);
        repo.add_target("supplierA", "supplierA/sub/deep.bin", b"deep", &["bcm"]);
    });
    assert_eq!(found_role(find(&repo, "other/evil.bin", None)), None);
    assert!(!fetched(&repo, "1.supplierA.json"), "no role covers the path: nothing to fetch");
    // TUF patterns: `*` does not cross `/`.
    assert_eq!(found_role(find(&repo, "supplierA/sub/deep.bin", None)), None);
    assert_eq!(found_role(find(&repo, BCM, None)).as_deref(), Some("supplierA"));
}

#[test]
fn delegation_scoped_to_other_hardware_is_not_searched() {
    let repo = supplier_repo();
    assert_eq!(found_role(find(&repo, BCM, Some("telematics"))), None);
    assert!(!fetched(&repo, "1.supplierA.json"));
    assert_eq!(found_role(find(&repo, BCM, Some("bcm"))).as_deref(), Some("supplierA"));
}

#[test]
fn terminating_delegation_stops_the_search() {
    let build = |terminating: bool| {
        RepoFixture::build(|repo| {
            repo.delegate("targets", "supplierA", &["supplierA"], &["shared/*"], terminating, None);
            repo.delegate("targets", "supplierB", &["supplierB"], &["shared/*"], false, None);
            repo.add_target("supplierB", "shared/x.bin", b"from B", &["bcm"]);
        })
    };
    // supplierA comes first and does not sign the image; being terminating, B is never asked.
    let repo = build(true);
    assert_eq!(found_role(find(&repo, "shared/x.bin", None)), None);
    assert!(fetched(&repo, "1.supplierA.json"));
    assert!(!fetched(&repo, "1.supplierB.json"));
    // Non-terminating, the search goes on to B.
    let repo = build(false);
    assert_eq!(found_role(find(&repo, "shared/x.bin", None)).as_deref(), Some("supplierB"));
}

#[test]
fn nested_terminating_delegation_ends_the_whole_search() {
    // targets -> [supplierA, supplierB]; supplierA -> supplierC (terminating), which does not
    // sign the image. TUF: the search stops there; supplierB, next at the top, is never asked.
    let repo = RepoFixture::build(|repo| {
        repo.delegate("targets", "supplierA", &["supplierA"], &["x/*"], false, None);
        repo.delegate("targets", "supplierB", &["supplierB"], &["x/*"], false, None);
        repo.delegate("supplierA", "supplierC", &["supplierC"], &["x/*"], true, None);
        repo.add_target("supplierB", "x/1.bin", b"from B", &["bcm"]);
    });
    assert_eq!(found_role(find(&repo, "x/1.bin", None)), None);
    assert!(fetched(&repo, "1.supplierC.json"));
    assert!(!fetched(&repo, "1.supplierB.json"));
}

#[test]
fn delegations_are_searched_depth_first_in_listed_order() {
    let repo = RepoFixture::build(|repo| {
        repo.delegate("targets", "supplierA", &["supplierA"], &["x/*"], false, None);
        repo.delegate("targets", "supplierB", &["supplierB"], &["x/*"], false, None);
        repo.delegate("supplierA", "supplierC", &["supplierC"], &["x/*"], false, None);
        repo.add_target("supplierB", "x/1.bin", b"from B", &["bcm"]);
        repo.add_target("supplierC", "x/1.bin", b"from C", &["bcm"]);
    });
    // Pre-order: targets, supplierA, supplierC (A's child) before supplierB.
    let found = find(&repo, "x/1.bin", None).expect("search").expect("found");
    assert_eq!(found.role, "supplierC");
    assert_eq!(found.file.length, b"from C".len() as u64);
    assert!(!fetched(&repo, "1.supplierB.json"));
}

#[test]
fn delegation_cycle_terminates_and_the_search_goes_on() {
    // targets -> [supplierA, supplierC]; supplierA -> supplierB -> supplierA (a cycle).
    // supplierC, after the cycle, signs the image: each role in the cycle is visited once, so
    // the search reaches it well within the visit cap. (In a thread: a broken cycle check
    // would loop forever, and must fail this test rather than hang it.)
    let (done, result) = mpsc::channel();
    thread::spawn(move || {
        let repo = RepoFixture::build(|repo| {
            repo.delegate("targets", "supplierA", &["supplierA"], &["loop/*"], false, None);
            repo.delegate("targets", "supplierC", &["supplierC"], &["loop/*"], false, None);
            repo.delegate("supplierA", "supplierB", &["supplierB"], &["loop/*"], false, None);
            repo.delegate("supplierB", "supplierA", &["supplierA"], &["loop/*"], false, None);
            repo.add_target("supplierC", "loop/x.bin", b"from C", &["bcm"]);
        });
        let found = found_role(find(&repo, "loop/x.bin", None));
        let missing = found_role(find(&repo, "loop/y.bin", None));
        done.send((found, missing, repo.server.requests())).expect("send");
    });
    let (found, missing, requests) =
        result.recv_timeout(Duration::from_secs(60)).expect("the search terminates");
    assert_eq!(found.as_deref(), Some("supplierC"));
    assert_eq!(missing, None);
    for role in ["1.supplierA.json", "1.supplierB.json"] {
        assert_eq!(
            requests.iter().filter(|r| *r == role).count(),
            2,
            "once a search: {requests:?}"
        );
    }
}

#[test]
fn delegation_search_visits_a_bounded_number_of_roles() {
    // targets -> supplierA -> B -> C -> D -> E, which signs the image.
    let repo = RepoFixture::build(|repo| {
        let chain = ["targets", "supplierA", "supplierB", "supplierC", "supplierD", "supplierE"];
        for pair in chain.windows(2) {
            repo.delegate(pair[0], pair[1], &[pair[1]], &["deep/*"], false, None);
        }
        repo.add_target("supplierE", "deep/x.bin", b"deep", &["bcm"]);
    });
    assert_eq!(found_role(find(&repo, "deep/x.bin", None)).as_deref(), Some("supplierE"));

    repo.server.clear_requests();
    let mut updater =
        repo.updater_with(repo.provision(), Rules { max_delegations: 3, ..Rules::uptane() });
    updater.refresh().expect("refresh");
    assert_eq!(updater.find_target("deep/x.bin", None).expect("bounded search"), None);
    // Three roles visited: targets, supplierA, supplierB.
    assert!(fetched(&repo, "1.supplierB.json"));
    assert!(!fetched(&repo, "1.supplierC.json"));
}

#[test]
fn delegated_role_signed_by_the_wrong_key_is_rejected() {
    let mut repo = supplier_repo();
    repo.targets_mut("supplierA").version = 2;
    repo.delegated_signers.insert("supplierA".into(), vec!["evil"]);
    repo.publish_targets("supplierA");
    repo.snapshot.version += 1;
    repo.timestamp.version += 1;
    repo.publish_snapshot();
    repo.publish_timestamp();

    let mut updater = repo.updater(repo.provision());
    updater.refresh().expect("top-level metadata is fine");
    let err = expect_attack(updater.find_target(BCM, Some("bcm")), Attack::ArbitrarySoftware);
    assert!(
        matches!(&err, Error::Threshold { role, valid: 0, threshold: 1 } if role == "supplierA"),
        "{err}"
    );
    assert!(!updater.store().files.contains_key("supplierA.json"));
}

#[test]
fn role_delegated_by_two_parents_must_satisfy_each_parents_keys() {
    // supplierC is delegated by A (key supplierC) and by B (key evil). The file is signed by
    // supplierC: reached through B, it must still be refused.
    let build = |b_trusts: &'static str| {
        RepoFixture::build(move |repo| {
            repo.delegate("targets", "supplierA", &["supplierA"], &["a/*"], false, None);
            repo.delegate("targets", "supplierB", &["supplierB"], &["b/*"], false, None);
            repo.delegate("supplierA", "supplierC", &["supplierC"], &["a/*"], false, None);
            repo.delegate("supplierB", "supplierC", &[b_trusts], &["b/*"], false, None);
            repo.add_target("supplierC", "a/1.bin", b"a", &["bcm"]);
            repo.add_target("supplierC", "b/2.bin", b"b", &["bcm"]);
        })
    };
    let repo = build("evil");
    let mut updater = repo.updater(repo.provision());
    updater.refresh().expect("refresh");
    // First reached through A, whose keys it meets: trusted.
    let found = updater.find_target("a/1.bin", None).expect("via A").expect("found");
    assert_eq!(found.role, "supplierC");
    // Then through B: the trusted copy is re-verified against B's keys, and fails.
    let err = expect_attack(updater.find_target("b/2.bin", None), Attack::ArbitrarySoftware);
    assert!(matches!(&err, Error::Threshold { role, .. } if role == "supplierC"), "{err}");

    // Where B delegates to the same key, both paths resolve.
    let repo = build("supplierC");
    let mut updater = repo.updater(repo.provision());
    updater.refresh().expect("refresh");
    updater.find_target("a/1.bin", None).expect("via A").expect("found");
    let found = updater.find_target("b/2.bin", None).expect("via B").expect("found");
    assert_eq!(found.role, "supplierC");
}

#[test]
fn role_reached_first_through_the_untrusting_parent_is_rejected_too() {
    let repo = RepoFixture::build(|repo| {
        repo.delegate("targets", "supplierA", &["supplierA"], &["a/*"], false, None);
        repo.delegate("targets", "supplierB", &["supplierB"], &["b/*"], false, None);
        repo.delegate("supplierA", "supplierC", &["supplierC"], &["a/*"], false, None);
        repo.delegate("supplierB", "supplierC", &["evil"], &["b/*"], false, None);
        repo.add_target("supplierC", "b/2.bin", b"b", &["bcm"]);
    });
    let err = expect_attack(find(&repo, "b/2.bin", None), Attack::ArbitrarySoftware);
    assert!(matches!(&err, Error::Threshold { role, .. } if role == "supplierC"), "{err}");
}

#[test]
fn delegated_role_missing_from_the_snapshot_is_mix_and_match() {
    let mut repo = supplier_repo();
    let mut body = repo.snapshot_body();
    body.meta.remove("supplierA.json");
    let snapshot = repo.sign_role("snapshot", &body);
    repo.serve_snapshot(snapshot);
    repo.publish_timestamp();

    let mut updater = repo.updater(repo.provision());
    updater.refresh().expect("top-level metadata is fine");
    let err = expect_attack(updater.find_target(BCM, Some("bcm")), Attack::MixAndMatch);
    assert!(
        matches!(&err, Error::NotListed { role, listed_by } if role == "supplierA" && listed_by == "snapshot"),
        "{err}"
    );
    assert!(!fetched(&repo, "1.supplierA.json"), "an unlisted role is never fetched");
}

#[test]
fn delegated_role_version_differing_from_the_snapshot_is_mix_and_match() {
    let mut repo = supplier_repo();
    let supplier1 = repo.served("supplierA");
    repo.targets_mut("supplierA").version = 2;
    repo.serve_targets("supplierA", supplier1);
    repo.snapshot.version += 1;
    repo.timestamp.version += 1;
    repo.publish_snapshot();
    repo.publish_timestamp();

    let err = expect_attack(find(&repo, BCM, Some("bcm")), Attack::MixAndMatch);
    assert!(
        matches!(&err, Error::MetaVersionMismatch { role, expected: 2, found: 1, .. } if role == "supplierA"),
        "{err}"
    );
}

#[test]
fn expired_delegated_role_is_a_freeze() {
    let mut repo = supplier_repo();
    repo.targets_mut("supplierA").expires = past();
    repo.release(&["supplierA"]);
    let err = expect_attack(find(&repo, BCM, Some("bcm")), Attack::Freeze);
    assert!(matches!(&err, Error::Expired { role, .. } if role == "supplierA"), "{err}");
}
