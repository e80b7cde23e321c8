//! A Director process remembers the inventory each vehicle's last manifest left, so the next
//! check-in needs no read. Here another process changes that inventory meanwhile (applies a
//! manifest, issues an assignment, re-keys an ECU, adds one, moves the Primary role), and the
//! first process must judge the vehicle's next manifest against the database as it stands:
//! never a replay accepted, an assignment left unsettled, a new key refused or an old key or
//! a missing ECU accepted.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use director_repo::inventory::{Registration, inventory_rows};
use director_repo::{AppState, Error};
use serde_json::json;
use support::{Backend, IMAGE, IMAGE_PATH, PRIMARY, SECONDARY, VIN, World};
use uptane::crypto::{PrivateKey, Signer};

/// Receives `manifest` at `state`: the receipt's completed assignments, or the refusal code.
fn receive(state: &AppState, manifest: &[u8]) -> Result<Vec<String>, String> {
    match director_repo::manifest::receive(state, VIN, manifest) {
        Ok(receipt) => Ok(receipt.completed),
        Err(Error::Rejected(r)) => Err(r.code.to_owned()),
        Err(e) => panic!("{e}"),
    }
}

/// `other` re-provisions the vehicle with `registration` (as `POST /provisioning` does after
/// the operator allowed it).
fn reprovision(other: &AppState, registration: serde_json::Value) {
    let registration: Registration = serde_json::from_value(registration).unwrap();
    let (vehicle, rows) = inventory_rows(&registration).unwrap();
    other.db.allow_reprovisioning(VIN, "2026-11-27T00:00:00Z").unwrap();
    assert!(other.db.reprovision(&vehicle, &rows).unwrap());
}

fn changes_made_elsewhere_are_seen(backend: &Backend) {
    let mut world = World::new(backend);
    world.start();
    world.bootstrap();
    let first = AppState::open(world.config()).unwrap();
    let other = AppState::open(world.config()).unwrap();
    let server = world.server();
    let remembers = || assert!(first.inventories.get(VIN).is_some(), "nothing remembered");
    let old = ("old.bin", &b"old"[..]);

    // The first manifest records the installed images; the second only moves counters on,
    // and what it left is remembered.
    assert_eq!(receive(&first, &world.full_manifest(old, 1)), Ok(vec![]));
    assert!(first.inventories.get(VIN).is_none(), "installed images changed: read again");
    assert_eq!(receive(&first, &world.full_manifest(old, 2)), Ok(vec![]));

    // Another process applies counter 3: its replay is still refused here.
    remembers();
    let third = world.full_manifest(old, 3);
    assert_eq!(server.put_manifest(VIN, &third).status, 200);
    assert_eq!(receive(&first, &third), Err("replayed_report".into()));
    assert_eq!(receive(&first, &world.full_manifest(old, 4)), Ok(vec![]));

    // Another process adds an assignment, then issues it: check-ins meanwhile are accepted,
    // and the manifest showing it installed completes it.
    remembers();
    let assignment = world.assign()["id"].as_str().unwrap().to_owned();
    assert_eq!(receive(&first, &world.full_manifest(old, 5)), Ok(vec![]), "still pending");
    remembers();
    let poll = server.vehicle_get(VIN, &format!("/vehicles/{VIN}/metadata/timestamp.json"));
    assert_eq!(poll.status, 200);
    let installed = world.full_manifest((IMAGE_PATH, IMAGE), 6);
    assert_eq!(receive(&first, &installed), Ok(vec![assignment]));

    // Another process re-keys the Secondary: its new key is accepted, the old one refused.
    let mut registration = world.registration();
    registration["ecus"][1]["public_key"] = json!(world.keys.other.public_key());
    assert_eq!(receive(&first, &world.full_manifest((IMAGE_PATH, IMAGE), 7)), Ok(vec![]));
    remembers();
    reprovision(&other, registration.clone());
    let rekeyed = |counter| {
        let reports = [
            world.report(PRIMARY, &world.keys.primary, ("tcu-1.0.bin", b"tcu"), counter),
            world.report(SECONDARY, &world.keys.other, (IMAGE_PATH, IMAGE), counter),
        ];
        world.manifest(&world.keys.primary, &reports)
    };
    assert_eq!(receive(&first, &rekeyed(8)), Ok(vec![]));
    assert_eq!(
        receive(&first, &world.full_manifest((IMAGE_PATH, IMAGE), 9)),
        Err("bad_signature".into())
    );

    // Another process adds an ECU: a manifest without its report is refused.
    assert_eq!(receive(&first, &rekeyed(10)), Ok(vec![]));
    remembers();
    let gateway = PrivateKey::ed25519_from_seed(&[42; 32]).unwrap();
    let mut grown = registration.clone();
    grown["ecus"].as_array_mut().unwrap().push(json!({
        "serial": "GW-SN-1", "hardware_id": "acme-bcm", "public_key": gateway.public_key(),
    }));
    reprovision(&other, grown);
    assert_eq!(receive(&first, &rekeyed(11)), Err("missing_ecu".into()));

    // Another process makes the Secondary the Primary: the old Primary's manifest is refused.
    let mut moved = registration;
    moved["ecus"].as_array_mut().unwrap().push(json!({
        "serial": "GW-SN-1", "hardware_id": "acme-bcm", "public_key": gateway.public_key(),
    }));
    let with_gateway = |counter| {
        let reports = [
            world.report(PRIMARY, &world.keys.primary, ("tcu-1.0.bin", b"tcu"), counter),
            world.report(SECONDARY, &world.keys.other, (IMAGE_PATH, IMAGE), counter),
            world.report("GW-SN-1", &gateway, ("gw.bin", b"gw"), counter),
        ];
        world.manifest(&world.keys.primary, &reports)
    };
    assert_eq!(receive(&first, &with_gateway(11)), Ok(vec![]));
    assert_eq!(receive(&first, &with_gateway(12)), Ok(vec![]));
    remembers();
    moved["primary"] = json!(SECONDARY);
    reprovision(&other, moved);
    assert_eq!(receive(&first, &with_gateway(13)), Err("bad_signature".into()));
}

on_both_backends!(changes_made_elsewhere_are_seen);
