//! Full verification of both repositories (Uptane 5.4.4.2, profile §3.1) and partial
//! verification of Director Targets (5.4.4.1, §3.2), each check attacked.

#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test

mod support;

use std::collections::BTreeMap;

use serde_json::json;
use support::{APP, APP_IMAGE, HW_A, RepoFixture, expect_attack, now};
use uptane::Attack;
use uptane::director::{Scope, Vehicle};
use uptane::metadata::{EcuIdentifier, TargetCustom, TargetFile};
use uptane::names::{EcuSerial, HardwareId, Vin};
use uptane::repository::{Rules, TrustedSet};
use uptane::verification::{Installed, InstalledImages, verify_full, verify_partial};

const VIN: &str = "WVWZZZ1JZXW000001";
const ECU: &str = "ECU-A-0001";
const OTHER_ECU: &str = "ECU-B-0001";

fn serial(s: &str) -> EcuSerial {
    EcuSerial::new(s).unwrap()
}

fn vehicle() -> Vehicle {
    Vehicle {
        vin: Vin::new(VIN).unwrap(),
        ecus: BTreeMap::from([
            (serial(ECU), HardwareId::new(HW_A).unwrap()),
            (serial(OTHER_ECU), HardwareId::new("ecu-b").unwrap()),
        ]),
    }
}

/// The Director's entry for `image` sent to `ecus` (serial, hardware id), copying the Image
/// repository's custom fields as the Director must.
fn director_entry(image: &TargetFile, ecus: &[(&str, &str)]) -> TargetFile {
    let mut entry = image.clone();
    let mut custom = image.uptane("x").unwrap();
    custom.ecu_identifiers = Some(
        ecus.iter()
            .map(|(s, hw)| {
                let id = EcuIdentifier {
                    hardware_id: HardwareId::new(*hw).unwrap(),
                    extra: Default::default(),
                };
                (serial(s), id)
            })
            .collect(),
    );
    entry.set_uptane(&custom).unwrap();
    entry
}

/// A Director repository for the vehicle, assigning `targets` (path, entry), with `vin`.
fn director(targets: Vec<(&str, TargetFile)>, vin: &str) -> RepoFixture {
    RepoFixture::build(|repo| {
        let body = repo.targets_mut("targets");
        body.targets = targets.into_iter().map(|(p, f)| (p.to_string(), f)).collect();
        body.custom = Some(json!({ "vin": vin }).as_object().unwrap().clone());
    })
}

fn image_repo() -> RepoFixture {
    RepoFixture::new()
}

fn app_entry(image: &RepoFixture) -> TargetFile {
    image.targets["targets"].targets[APP].clone()
}

/// Runs full verification as a Primary (or, with `own`, as a full-verification Secondary).
fn full(
    director: &RepoFixture,
    image: &RepoFixture,
    own: Option<&str>,
    installed: &InstalledImages,
) -> uptane::Result<uptane::verification::Bundle> {
    let mut d = director.updater(director.provision());
    let mut i = image.updater(image.provision());
    let v = vehicle();
    let own = own.map(serial);
    verify_full(&mut d, &mut i, Scope::Vehicle(&v), own.as_ref(), installed)
}

#[test]
fn a_matching_director_assignment_is_accepted() {
    let image = image_repo();
    let director = director(vec![(APP, director_entry(&app_entry(&image), &[(ECU, HW_A)]))], VIN);
    let bundle = full(&director, &image, None, &InstalledImages::new()).unwrap();
    assert_eq!(bundle.updates.len(), 1);
    assert_eq!(bundle.updates[0].path.as_str(), APP);
    assert_eq!(bundle.updates[0].file.length, APP_IMAGE.len() as u64);
}

#[test]
fn nothing_new_stops_before_the_image_repository() {
    let image = image_repo();
    let entry = app_entry(&image);
    let director = director(vec![(APP, director_entry(&entry, &[(ECU, HW_A)]))], VIN);
    let installed = BTreeMap::from([(
        serial(ECU),
        Installed { path: APP.into(), hashes: entry.hashes.clone(), release_counter: 1 },
    )]);
    let bundle = full(&director, &image, None, &installed).unwrap();
    assert!(bundle.is_empty());
    assert_eq!(bundle.all.len(), 1);
    assert!(image.server.requests().is_empty(), "step 6 stops before the Image repository");
}

#[test]
fn a3_an_image_only_the_director_signed_is_refused() {
    let image = image_repo();
    let forged = director_entry(&TargetFile::describing(b"malware"), &[(ECU, HW_A)]);
    let director = director(vec![("malware.bin", forged)], VIN);
    expect_attack(
        full(&director, &image, None, &InstalledImages::new()),
        Attack::ArbitrarySoftware,
    );
}

#[test]
fn a3_director_and_image_entries_must_match() {
    let image = image_repo();
    let mut entry = director_entry(&app_entry(&image), &[(ECU, HW_A)]);
    entry.hashes.insert("sha256".into(), "ab".repeat(32));
    let director = director(vec![(APP, entry)], VIN);
    expect_attack(
        full(&director, &image, None, &InstalledImages::new()),
        Attack::ArbitrarySoftware,
    );
}

#[test]
fn a16_an_image_for_other_hardware_is_refused() {
    let image = image_repo();
    // The Director sends the ecu-a image to the ecu-b ECU, naming its real hardware id.
    let director =
        director(vec![(APP, director_entry(&app_entry(&image), &[(OTHER_ECU, "ecu-b")]))], VIN);
    expect_attack(full(&director, &image, None, &InstalledImages::new()), Attack::HwIdMismatch);
}

#[test]
fn a5_a_lower_release_counter_is_refused() {
    let image = image_repo();
    let entry = app_entry(&image);
    let director = director(vec![(APP, director_entry(&entry, &[(ECU, HW_A)]))], VIN);
    let installed = BTreeMap::from([(
        serial(ECU),
        Installed { path: "app-newer.bin".into(), hashes: Default::default(), release_counter: 5 },
    )]);
    expect_attack(full(&director, &image, None, &installed), Attack::Rollback);
}

#[test]
fn a7_another_vehicles_director_metadata_is_refused() {
    let image = image_repo();
    let director = director(vec![], "WVWZZZ1JZXW000002");
    expect_attack(full(&director, &image, None, &InstalledImages::new()), Attack::VinMismatch);
}

#[test]
fn a17_director_abuse_is_refused() {
    let image = image_repo();
    let entry = app_entry(&image);
    let twice = director(
        vec![
            (APP, director_entry(&entry, &[(ECU, HW_A)])),
            ("b.bin", director_entry(&entry, &[(ECU, HW_A)])),
        ],
        VIN,
    );
    expect_attack(full(&twice, &image, None, &InstalledImages::new()), Attack::ArbitrarySoftware);
    let stranger = director(vec![(APP, director_entry(&entry, &[("ECU-X-9999", HW_A)]))], VIN);
    expect_attack(
        full(&stranger, &image, None, &InstalledImages::new()),
        Attack::ArbitrarySoftware,
    );
}

#[test]
fn a_full_verification_secondary_checks_its_own_image_only() {
    let image = image_repo();
    let entry = app_entry(&image);
    // Another ECU's assignment is broken; this Secondary's own is fine.
    let director = director(
        vec![
            (APP, director_entry(&entry, &[(ECU, HW_A)])),
            ("other.bin", director_entry(&TargetFile::describing(b"x"), &[(OTHER_ECU, "ecu-b")])),
        ],
        VIN,
    );
    let bundle = full(&director, &image, Some(ECU), &InstalledImages::new()).unwrap();
    assert_eq!(bundle.updates.len(), 1);
    expect_attack(
        full(&director, &image, None, &InstalledImages::new()),
        Attack::ArbitrarySoftware,
    );
}

/// A partial-verification ECU provisioned with the Director's Root.
fn partial_ecu(director: &RepoFixture) -> TrustedSet {
    TrustedSet::new(&director.roots[&1], now(), Rules::uptane()).unwrap()
}

fn partial(
    ecu: &mut TrustedSet,
    bytes: &[u8],
    hardware: &str,
    installed: &InstalledImages,
) -> uptane::Result<Option<uptane::director::Assignment>> {
    let vin = Vin::new(VIN).unwrap();
    verify_partial(
        ecu,
        bytes,
        Scope::Ecu(&vin),
        &serial(ECU),
        &HardwareId::new(hardware).unwrap(),
        installed,
    )
}

#[test]
fn partial_verification_accepts_its_assignment_without_a_snapshot() {
    let image = image_repo();
    let director = director(vec![(APP, director_entry(&app_entry(&image), &[(ECU, HW_A)]))], VIN);
    let mut ecu = partial_ecu(&director);
    let assignment =
        partial(&mut ecu, &director.served("targets"), HW_A, &InstalledImages::new()).unwrap();
    assert_eq!(assignment.unwrap().path.as_str(), APP);
    assert!(ecu.snapshot().is_none());
}

#[test]
fn partial_verification_refuses_forgery_rollback_hardware_and_vin() {
    let image = image_repo();
    let mut director =
        director(vec![(APP, director_entry(&app_entry(&image), &[(ECU, HW_A)]))], VIN);
    let v1 = director.served("targets");
    let mut ecu = partial_ecu(&director);
    // Forged: signed by a key the Director Root does not list.
    let forged = director.sign(&director.targets["targets"].clone(), &["evil"]);
    expect_attack(
        partial(&mut ecu, &forged, HW_A, &InstalledImages::new()),
        Attack::ArbitrarySoftware,
    );
    // Wrong hardware.
    expect_attack(partial(&mut ecu, &v1, "ecu-b", &InstalledImages::new()), Attack::HwIdMismatch);
    // A newer version is accepted, then the older one is a rollback (T4).
    director.release(&["targets"]);
    partial(&mut ecu, &director.served("targets"), HW_A, &InstalledImages::new()).unwrap();
    expect_attack(partial(&mut ecu, &v1, HW_A, &InstalledImages::new()), Attack::Rollback);
    // Another vehicle's targets.
    let other = self::director(vec![], "WVWZZZ1JZXW000002");
    let mut other_ecu = partial_ecu(&other);
    expect_attack(
        partial(&mut other_ecu, &other.served("targets"), HW_A, &InstalledImages::new()),
        Attack::VinMismatch,
    );
}

#[test]
fn partial_verification_keeps_its_trusted_targets_after_a_failure() {
    let image = image_repo();
    let director = director(vec![(APP, director_entry(&app_entry(&image), &[(ECU, HW_A)]))], VIN);
    let mut ecu = partial_ecu(&director);
    partial(&mut ecu, &director.served("targets"), HW_A, &InstalledImages::new()).unwrap();
    let before = ecu.targets("targets").unwrap().bytes().to_vec();
    let forged = director.sign(&director.targets["targets"].clone(), &["evil"]);
    assert!(partial(&mut ecu, &forged, HW_A, &InstalledImages::new()).is_err());
    assert_eq!(ecu.targets("targets").unwrap().bytes(), before.as_slice());
}

/// A3, documented accept: a partial-verification Secondary cannot see the Image repository,
/// so an image signed only by a compromised Director passes its checks (profile §5 A3). The
/// Primary's full verification is what refuses it (`a3_an_image_only_the_director_signed_is_refused`).
#[test]
fn a3_partial_verification_is_vulnerable_by_design_to_a_compromised_director() {
    let mut malicious = TargetFile::describing(b"malware");
    let custom = TargetCustom {
        hardware_ids: Some(vec![HardwareId::new(HW_A).unwrap()]),
        release_counter: Some(9),
        ..TargetCustom::default()
    };
    malicious.set_uptane(&custom).unwrap();
    let director = director(vec![("malware.bin", director_entry(&malicious, &[(ECU, HW_A)]))], VIN);
    let mut ecu = partial_ecu(&director);
    let accepted =
        partial(&mut ecu, &director.served("targets"), HW_A, &InstalledImages::new()).unwrap();
    assert_eq!(accepted.unwrap().path.as_str(), "malware.bin");
}
