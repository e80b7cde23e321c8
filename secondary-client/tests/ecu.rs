//! The Secondary without a bus: installation in both verification modes, and every attack of
//! the profile that reaches a Secondary, each refused with its label in the next report while
//! the running image stays.

#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test

mod support;

use chrono::TimeDelta;
use secondary_client::config::Mode;
use secondary_client::slots::{BOOT_FAILURE_MARKER, BootFailure};
use secondary_client::state::Slot;
use secondary_client::{Activation, Ecu, Verdict};
use support::{
    BCM, EcuSpec, FACTORY, FACTORY_IMAGE, Fleet, OTHER_VIN, director_entry, image_entry, labels,
    read_report, start,
};
use uptane::Attack;
use uptane::crypto::Signer;
use uptane::manifest::EcuVersionReport;

const MODES: [Mode; 2] = [Mode::Full, Mode::Partial];
const V2: &str = "fw/bcm-2.0.bin";
const V2_IMAGE: &[u8] = b"body control firmware 2.0, a little longer than the factory one";

fn open(fleet: &Fleet, ecu: &EcuSpec, mode: Mode) -> Ecu {
    Ecu::open(fleet.provision(ecu, mode)).unwrap()
}

/// Delivers what the Primary forwards and verifies it.
fn cycle(ecu: &mut Ecu, bundle: Vec<(String, Vec<u8>)>) -> secondary_client::Result<Verdict> {
    for (name, bytes) in bundle {
        ecu.receive_metadata(&name, bytes).unwrap();
    }
    ecu.verify_metadata()
}

/// Streams `image` in blocks and ends the transfer.
fn send(ecu: &mut Ecu, image: &[u8]) -> secondary_client::Result<()> {
    ecu.begin_image(image.len() as u64)?;
    for block in image.chunks(7) {
        ecu.image_data(block)?;
    }
    ecu.finish_image()
}

fn report(ecu: &mut Ecu) -> EcuVersionReport {
    read_report(&ecu.version_report(b"challenge").unwrap(), &BCM)
}

/// The fleet with [`V2`] released for the BCM and assigned to it.
fn fleet_with_v2(counter: u64) -> Fleet {
    let mut fleet = Fleet::new();
    fleet.release_image(V2, V2_IMAGE, &[BCM.hardware_id], counter);
    fleet.assign(&BCM, V2);
    fleet
}

/// Asserts the next report names `attack` and shows `image` installed.
#[track_caller]
fn assert_reported(ecu: &mut Ecu, attack: Attack, image: &str) {
    let report = report(ecu);
    assert_eq!(labels(&report), vec![attack.label().to_string()], "{}", report.attacks_detected);
    assert_eq!(report.installed_image.filepath, image);
    // Reported once: the next report is clean.
    assert_eq!(labels(&self::report(ecu)), Vec::<String>::new());
}

#[track_caller]
fn expect_attack<T: std::fmt::Debug>(result: secondary_client::Result<T>, attack: Attack) {
    match result {
        Ok(value) => panic!("accepted ({value:?}); expected {attack}"),
        Err(err) => assert_eq!(err.attack(), Some(attack), "wrong label for: {err}"),
    }
}

#[test]
fn a_full_and_a_partial_secondary_each_install_an_image_and_report_it() {
    for mode in MODES {
        let fleet = fleet_with_v2(2);
        let config = fleet.provision(&BCM, mode);
        let mut ecu = Ecu::open(config.clone()).unwrap();
        let before = report(&mut ecu);
        assert_eq!(before.installed_image.filepath, FACTORY);
        assert_eq!(before.installed_image.fileinfo.length, FACTORY_IMAGE.len() as u64);

        let verdict = cycle(&mut ecu, fleet.bundle()).unwrap();
        assert_eq!(verdict, Verdict::Update { target: V2.into(), length: V2_IMAGE.len() as u64 });
        send(&mut ecu, V2_IMAGE).unwrap();
        assert_eq!(ecu.activate().unwrap(), Activation::Installed, "{mode:?}");

        let after = report(&mut ecu);
        let entry = &fleet.image.targets.targets[V2];
        assert_eq!(after.installed_image.filepath, V2);
        assert_eq!(after.installed_image.fileinfo.hashes, entry.hashes);
        assert_eq!(after.installed_image.fileinfo.length, entry.length);
        assert_eq!(after.attacks_detected, "");
        assert!(after.report_counter > before.report_counter);
        assert_ne!(after.nonce, before.nonce);
        assert_eq!(after.extra["primary_nonce"], hex::encode("challenge"));
        assert_eq!(ecu.active_slot(), Slot::B);

        // After a restart it runs the new image, and the same bundle is no update.
        drop(ecu);
        let mut ecu = Ecu::open(config).unwrap();
        assert_eq!(ecu.running().unwrap().image.filepath, V2);
        assert_eq!(ecu.running().unwrap().release_counter, 2);
        assert_eq!(cycle(&mut ecu, fleet.bundle()).unwrap(), Verdict::NoUpdate);
        assert!(report(&mut ecu).report_counter > after.report_counter);
    }
}

#[test]
fn a_tampered_image_is_refused_and_the_old_one_keeps_running() {
    for mode in MODES {
        let fleet = fleet_with_v2(2);
        let mut ecu = open(&fleet, &BCM, mode);
        cycle(&mut ecu, fleet.bundle()).unwrap();
        let mut tampered = V2_IMAGE.to_vec();
        tampered[10] ^= 1;
        expect_attack(send(&mut ecu, &tampered), Attack::ArbitrarySoftware);
        assert!(ecu.activate().is_err(), "a refused image cannot be activated");
        assert_reported(&mut ecu, Attack::ArbitrarySoftware, FACTORY);
        assert_eq!(ecu.active_slot(), Slot::A);
    }
}

#[test]
fn an_image_for_other_hardware_is_refused() {
    let tcu_image: &[u8] = b"telematics firmware";
    for mode in MODES {
        // The image lists only other hardware, though the Director names the BCM's.
        let mut listed = Fleet::new();
        listed.release_image(V2, tcu_image, &["acme-tcu"], 2);
        listed.assign(&BCM, V2);
        // A compromised Director names other hardware for the BCM, matching the image.
        let mut named = Fleet::new();
        named.release_image(V2, tcu_image, &["acme-tcu"], 2);
        let image = named.image.targets.targets[V2].clone();
        named.assign_entry(&BCM, V2, director_entry(&image, BCM.serial, "acme-tcu"));
        for fleet in [listed, named] {
            let mut ecu = open(&fleet, &BCM, mode);
            let trusted = ecu.config().storage.join("metadata");
            let before = files(&trusted);
            expect_attack(cycle(&mut ecu, fleet.bundle()), Attack::HwIdMismatch);
            assert_eq!(files(&trusted), before, "{mode:?}: previous metadata kept");
            assert!(ecu.begin_image(tcu_image.len() as u64).is_err());
            assert_reported(&mut ecu, Attack::HwIdMismatch, FACTORY);
        }
    }
}

#[test]
fn a_lower_release_counter_is_refused() {
    for mode in MODES {
        let mut fleet = fleet_with_v2(5);
        let mut ecu = open(&fleet, &BCM, mode);
        cycle(&mut ecu, fleet.bundle()).unwrap();
        send(&mut ecu, V2_IMAGE).unwrap();
        ecu.activate().unwrap();
        // A validly signed older release (counter 4) assigned by a compromised Director.
        fleet.release_image("fw/bcm-1.9.bin", b"old but signed", &[BCM.hardware_id], 4);
        fleet.assign(&BCM, "fw/bcm-1.9.bin");
        expect_attack(cycle(&mut ecu, fleet.bundle()), Attack::Rollback);
        assert_reported(&mut ecu, Attack::Rollback, V2);
    }
}

#[test]
fn metadata_expired_at_the_attested_time_is_refused() {
    for mode in MODES {
        let mut fleet = Fleet::new();
        fleet.release_image(V2, V2_IMAGE, &[BCM.hardware_id], 2);
        let expiry = start() + TimeDelta::days(30);
        fleet.director.targets.expires = expiry;
        fleet.director.expires = expiry;
        fleet.assign(&BCM, V2);
        let mut ecu = open(&fleet, &BCM, mode);
        let nonce = report(&mut ecu).nonce;
        let later = expiry + TimeDelta::days(1);
        assert_eq!(ecu.time_attestation(&fleet.attest(later, &[&nonce])).unwrap(), later);
        expect_attack(cycle(&mut ecu, fleet.bundle()), Attack::Freeze);
        assert_reported(&mut ecu, Attack::Freeze, FACTORY);
    }
}

#[test]
fn replayed_older_metadata_is_refused() {
    // The whole earlier bundle (Director and Image repository) after a newer one was trusted.
    for mode in MODES {
        let mut fleet = Fleet::new();
        let old = fleet.bundle();
        fleet.release_image(V2, V2_IMAGE, &[BCM.hardware_id], 2);
        fleet.assign(&BCM, V2);
        let mut ecu = open(&fleet, &BCM, mode);
        cycle(&mut ecu, fleet.bundle()).unwrap();
        expect_attack(cycle(&mut ecu, old), Attack::Rollback);
        assert_reported(&mut ecu, Attack::Rollback, FACTORY);
    }
}

#[test]
fn mixed_bundles_director_targets_n_then_n_minus_1_are_refused() {
    for mode in MODES {
        let mut fleet = fleet_with_v2(2);
        let vn_minus_1 = fleet.bundle();
        let mut ecu = open(&fleet, &BCM, mode);
        fleet.release_image("fw/bcm-2.1.bin", b"2.1", &[BCM.hardware_id], 3);
        fleet.assign(&BCM, "fw/bcm-2.1.bin");
        assert!(matches!(cycle(&mut ecu, fleet.bundle()).unwrap(), Verdict::Update { .. }));
        let err = cycle(&mut ecu, vn_minus_1).unwrap_err();
        assert_eq!(err.attack(), Some(Attack::Rollback), "{mode:?}: {err}");
        assert_reported(&mut ecu, Attack::Rollback, FACTORY);
    }
}

#[test]
fn another_vehicles_metadata_is_refused_and_the_previous_metadata_stays_trusted() {
    for mode in MODES {
        let mut fleet = fleet_with_v2(2);
        let mut ecu = open(&fleet, &BCM, mode);
        let trusted = ecu.config().storage.join("metadata");
        let before = files(&trusted);
        fleet.director.targets.custom =
            Some(serde_json::json!({ "vin": OTHER_VIN }).as_object().unwrap().clone());
        fleet.director.release();
        expect_attack(cycle(&mut ecu, fleet.bundle()), Attack::VinMismatch);
        assert_eq!(files(&trusted), before, "{mode:?}: previous metadata kept");
        assert_reported(&mut ecu, Attack::VinMismatch, FACTORY);
    }
}

/// The SHA-256 of every file under `dir`, by path.
fn files(dir: &std::path::Path) -> std::collections::BTreeMap<std::path::PathBuf, String> {
    let mut found = std::collections::BTreeMap::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            found.extend(files(&path));
        } else {
            let digest = uptane::crypto::sha256_hex(&std::fs::read(&path).unwrap());
            found.insert(path, digest);
        }
    }
    found
}

#[test]
fn oversized_transfers_are_refused_and_never_reach_the_slot() {
    let fleet = fleet_with_v2(2);
    let mut ecu = open(&fleet, &BCM, Mode::Partial);
    cycle(&mut ecu, fleet.bundle()).unwrap();
    // Announced longer than the metadata says.
    expect_attack(ecu.begin_image(V2_IMAGE.len() as u64 + 1), Attack::EndlessData);
    assert_reported(&mut ecu, Attack::EndlessData, FACTORY);

    // Announced right, then more bytes than announced.
    cycle(&mut ecu, fleet.bundle()).unwrap();
    ecu.begin_image(V2_IMAGE.len() as u64).unwrap();
    ecu.image_data(V2_IMAGE).unwrap();
    expect_attack(ecu.image_data(b"and more"), Attack::EndlessData);
    assert!(ecu.finish_image().is_err(), "the transfer was abandoned");
    let slot = std::fs::read(ecu.config().storage.join("slots/b.img")).unwrap();
    assert_eq!(slot.len(), V2_IMAGE.len());
    assert_reported(&mut ecu, Attack::EndlessData, FACTORY);

    // An oversized metadata file.
    let limit = ecu.config().limits.max_metadata_bytes as usize;
    expect_attack(
        ecu.receive_metadata("director/targets.json", vec![b' '; limit + 1]),
        Attack::EndlessData,
    );
    assert_reported(&mut ecu, Attack::EndlessData, FACTORY);
}

#[test]
fn a_transfer_the_bus_aborted_is_reported_and_cannot_be_activated() {
    let fleet = fleet_with_v2(2);
    let mut ecu = open(&fleet, &BCM, Mode::Full);
    cycle(&mut ecu, fleet.bundle()).unwrap();
    ecu.begin_image(V2_IMAGE.len() as u64).unwrap();
    ecu.image_data(&V2_IMAGE[..10]).unwrap();
    ecu.abort_transfer(Some(Attack::SlowRetrieval), "3 bytes/s".into()).unwrap();
    assert!(ecu.image_data(&V2_IMAGE[10..]).is_err());
    assert!(ecu.activate().is_err());
    assert_reported(&mut ecu, Attack::SlowRetrieval, FACTORY);
}

#[test]
fn a3_a_director_only_image_is_an_expected_accept_for_partial_and_refused_by_full() {
    // The Director's keys are compromised: it signs an image the Image repository never
    // listed. Full verification finds no matching Image repository entry; partial
    // verification cannot know (documented limitation, profile A3).
    let evil: &[u8] = b"malware signed by a stolen Director key";
    let mut fleet = Fleet::new();
    let entry =
        director_entry(&image_entry(evil, &[BCM.hardware_id], 9), BCM.serial, BCM.hardware_id);
    fleet.assign_entry(&BCM, "fw/evil.bin", entry);

    let mut full = open(&fleet, &BCM, Mode::Full);
    expect_attack(cycle(&mut full, fleet.bundle()), Attack::ArbitrarySoftware);
    assert_reported(&mut full, Attack::ArbitrarySoftware, FACTORY);

    let mut partial = open(&fleet, &BCM, Mode::Partial);
    assert!(matches!(cycle(&mut partial, fleet.bundle()).unwrap(), Verdict::Update { .. }));
    send(&mut partial, evil).unwrap();
    assert_eq!(partial.activate().unwrap(), Activation::Installed);
    assert_eq!(report(&mut partial).installed_image.filepath, "fw/evil.bin");
}

#[test]
fn time_comes_only_from_attestations_for_our_nonce_and_never_goes_back() {
    let fleet = Fleet::new();
    let mut ecu = open(&fleet, &BCM, Mode::Partial);
    assert_eq!(ecu.time(), start());
    // Before any report there is no nonce to attest.
    let early = start() + TimeDelta::hours(1);
    expect_attack(ecu.time_attestation(&fleet.attest(early, &["00"])), Attack::Freeze);

    let first = report(&mut ecu);
    assert_eq!(labels(&first), vec!["freeze"]);
    let nonce = first.nonce;
    let t1 = start() + TimeDelta::days(2);
    let evil = uptane::crypto::PrivateKey::ed25519_from_seed(&[66; 32]).unwrap();
    let refused = [
        fleet.attest(t1, &["another ECU's nonce"]),
        fleet.attest_with(&evil, t1, &[&nonce]),
        fleet.attest(start() - TimeDelta::days(1), &[&nonce]),
    ];
    for attestation in refused {
        expect_attack(ecu.time_attestation(&attestation), Attack::Freeze);
        assert_eq!(ecu.time(), start());
    }
    assert_eq!(ecu.time_attestation(&fleet.attest(t1, &["x", &nonce])).unwrap(), t1);
    // The nonce is spent: the same attestation replayed is refused.
    expect_attack(ecu.time_attestation(&fleet.attest(t1, &[&nonce])), Attack::Freeze);
    let report = report(&mut ecu);
    assert_eq!((report.latest_time, report.previous_time), (t1, start()));
    assert_eq!(labels(&report), vec!["freeze"]);
    assert_eq!(report.attacks_detected.matches("freeze").count(), 4);
}

#[test]
fn a_failed_trial_boot_rolls_back_to_the_previous_slot() {
    for mode in MODES {
        let crashing = [BOOT_FAILURE_MARKER, b" but validly signed"].concat();
        let mut fleet = Fleet::new();
        fleet.release_image(V2, &crashing, &[BCM.hardware_id], 2);
        fleet.assign(&BCM, V2);
        let config = fleet.provision(&BCM, mode);
        let mut ecu = Ecu::open(config.clone()).unwrap();
        cycle(&mut ecu, fleet.bundle()).unwrap();
        send(&mut ecu, &crashing).unwrap();
        assert_eq!(ecu.activate().unwrap(), Activation::RolledBack(BootFailure::Crashed));
        assert_eq!(ecu.active_slot(), Slot::A);
        assert_eq!(report(&mut ecu).installed_image.filepath, FACTORY);
        drop(ecu);
        let ecu = Ecu::open(config).unwrap();
        assert_eq!((ecu.active_slot(), ecu.running().unwrap().release_counter), (Slot::A, 1));
    }
}

#[test]
fn a_corrupted_active_slot_falls_back_to_the_verified_previous_image() {
    let fleet = fleet_with_v2(2);
    let config = fleet.provision(&BCM, Mode::Full);
    let mut ecu = Ecu::open(config.clone()).unwrap();
    cycle(&mut ecu, fleet.bundle()).unwrap();
    send(&mut ecu, V2_IMAGE).unwrap();
    ecu.activate().unwrap();
    drop(ecu);
    std::fs::write(config.storage.join("slots/b.img"), b"flash bit rot").unwrap();
    let ecu = Ecu::open(config).unwrap();
    assert_eq!(ecu.active_slot(), Slot::A);
    assert_eq!(ecu.running().unwrap().image.filepath, FACTORY);
}

#[test]
fn requests_out_of_order_are_refused_without_an_attack() {
    let fleet = Fleet::new();
    let mut ecu = open(&fleet, &BCM, Mode::Partial);
    for err in [
        ecu.begin_image(10).unwrap_err(),
        ecu.image_data(b"x").unwrap_err(),
        ecu.finish_image().unwrap_err(),
        ecu.activate().unwrap_err(),
        ecu.receive_metadata("../state.json", vec![]).unwrap_err(),
    ] {
        assert_eq!(err.attack(), None, "{err}");
    }
    // No Director targets delivered: a failure, but no attack.
    assert_eq!(ecu.verify_metadata().unwrap_err().attack(), None);
    assert!(ecu.detected().is_empty());
}

#[test]
fn repeated_attacks_between_reports_are_bounded_but_every_label_is_kept() {
    let fleet = Fleet::new();
    let mut ecu = open(&fleet, &BCM, Mode::Partial);
    for _ in 0..secondary_client::ecu::MAX_DETECTED + 10 {
        let _ = ecu.receive_metadata("director/targets.json", vec![0; 9 << 20]);
    }
    let _ = ecu.time_attestation(b"{}");
    assert_eq!(ecu.detected().len(), secondary_client::ecu::MAX_DETECTED + 1);
    assert_eq!(labels(&report(&mut ecu)), vec!["endless_data", "freeze"]);
}

#[test]
fn director_root_rotations_passed_on_by_the_primary_are_followed() {
    for mode in MODES {
        let mut fleet = Fleet::new();
        let mut ecu = open(&fleet, &BCM, mode);
        // The Director's Targets key is compromised and replaced in Root version 2.
        let old_targets_key = fleet.director.keys["targets"].key_id().to_owned();
        let stolen = uptane::crypto::PrivateKey::ed25519_from_seed(&[21; 32]).unwrap();
        fleet.director.rotate_key("targets", 77);
        fleet.release_image(V2, V2_IMAGE, &[BCM.hardware_id], 2);
        fleet.assign(&BCM, V2);
        assert_eq!(stolen.key_id(), old_targets_key);

        // Targets signed with the old key after the rotation are refused.
        let mut forged = fleet.bundle();
        let body = fleet.director.targets.clone();
        let name = "director/targets.json".to_string();
        let position = forged.iter().position(|(n, _)| *n == name).unwrap();
        forged[position].1 = support::sign_body(&body, &stolen);
        // Partial verification finds too few signatures by the new key; full verification
        // already finds Targets other than the Snapshot lists.
        let expected =
            if mode == Mode::Partial { Attack::ArbitrarySoftware } else { Attack::MixAndMatch };
        expect_attack(cycle(&mut ecu, forged), expected);

        assert!(matches!(cycle(&mut ecu, fleet.bundle()).unwrap(), Verdict::Update { .. }));
        let root = ecu.config().storage.join("metadata/director/root.json");
        assert_eq!(std::fs::read(root).unwrap(), fleet.director.files["2.root.json"], "{mode:?}");
    }
}

/// TM-5: a stolen time key pushed the clock a century ahead, so every metadata has expired.
/// Director Root 2 rotates the time key: the Secondary refuses the new key's time until it
/// trusts Root 2, then judges the metadata carrying it at its provisioned time, restarts its
/// clock there, and takes the next attestation of the new key; the old key no longer counts.
#[test]
fn a_rotated_time_key_restarts_the_clock() {
    for mode in MODES {
        let mut fleet = Fleet::new();
        let mut ecu = open(&fleet, &BCM, mode);
        let ahead = start() + TimeDelta::days(36_500);
        let nonce = report(&mut ecu).nonce;
        assert_eq!(ecu.time_attestation(&fleet.attest(ahead, &[&nonce])).unwrap(), ahead);
        expect_attack(cycle(&mut ecu, fleet.bundle()), Attack::Freeze);

        let new_key = uptane::crypto::PrivateKey::ed25519_from_seed(&[91; 32]).unwrap();
        let stolen = std::mem::replace(&mut fleet.time_key, new_key);
        let root = &mut fleet.director.root;
        root.keys.remove(stolen.key_id());
        uptane::time::add_time_key(root, fleet.time_key.public_key()).unwrap();
        root.version += 1;
        fleet.director.publish_root();
        let now = start() + TimeDelta::days(2);
        let nonce = report(&mut ecu).nonce;
        expect_attack(ecu.time_attestation(&fleet.attest(now, &[&nonce])), Attack::Freeze);

        assert_eq!(cycle(&mut ecu, fleet.bundle()).unwrap(), Verdict::NoUpdate, "{mode:?}");
        assert_eq!(ecu.time(), start(), "the clock restarts at the provisioned time");
        let nonce = report(&mut ecu).nonce;
        expect_attack(
            ecu.time_attestation(&fleet.attest_with(&stolen, ahead, &[&nonce])),
            Attack::Freeze,
        );
        assert_eq!(ecu.time_attestation(&fleet.attest(now, &[&nonce])).unwrap(), now);
    }
}
