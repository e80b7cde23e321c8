//! The assignment lifecycle over HTTPS: pending -> in flight (issued in a bundle) -> done or
//! failed by the next manifest; no new bundle before the last one is confirmed (DR-7); and a
//! partial bundle installation flagged, with the vehicle held (A10).

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use serde_json::{Value, json};
use support::fleet::{OLD_BCM, OLD_TCU, Report};
use support::image_repo::{TCU_IMAGE, TCU_IMAGE_PATH};
use support::{Backend, IMAGE, IMAGE_PATH, PRIMARY, SECONDARY, VIN, World};
use uptane::director::{Scope, check_director_targets};

const NEW_BCM: Report<'static> = Report { image: (IMAGE_PATH, IMAGE), attacks: "" };
const NEW_TCU: Report<'static> = Report { image: (TCU_IMAGE_PATH, TCU_IMAGE), attacks: "" };

/// The test vehicle's manifest (its ECUs reporting `tcu` and `bcm`).
fn manifest(world: &World, tcu: Report, bcm: Report, counter: u64) -> Value {
    let reports = [
        world.report(PRIMARY, &world.keys.primary, tcu.image, counter),
        attacked(world, bcm, counter),
    ];
    let reply = world.server().put_manifest(VIN, &world.manifest(&world.keys.primary, &reports));
    assert_eq!(reply.status, 200, "{}", reply.text());
    reply.json()
}

/// The Secondary's report, with the attacks it detected.
fn attacked(world: &World, bcm: Report, counter: u64) -> uptane::manifest::SignedReport {
    let signed = world.report(SECONDARY, &world.keys.secondary, bcm.image, counter);
    let mut body = signed.signed;
    body.attacks_detected = bcm.attacks.into();
    uptane::manifest::sign_report(body, &world.keys.secondary).unwrap()
}

/// The vehicle verifies its Director metadata: (targets version, paths listed).
fn poll(world: &World, root: &[u8]) -> (u64, Vec<String>) {
    let mut updater = world.server().updater(VIN, root);
    updater.refresh().unwrap();
    let targets = updater.trusted().targets("targets").unwrap();
    let vehicle = world.vehicle();
    let listed = check_director_targets(targets, Scope::Vehicle(&vehicle)).unwrap();
    let mut paths: Vec<String> = listed.iter().map(|a| a.path.to_string()).collect();
    paths.sort();
    (targets.version, paths)
}

fn assign(world: &World, serial: &str, path: &str) -> Value {
    let reply = world.server().post_admin(
        &format!("/api/v1/vehicles/{VIN}/assignments"),
        &json!({"ecu_serial": serial, "target_path": path}),
    );
    assert_eq!(reply.status, 201, "{}", reply.text());
    reply.json()
}

fn statuses(world: &World) -> Vec<(String, String)> {
    let state = world.server().state();
    state["assignments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| (a["target_path"].as_str().unwrap().into(), a["status"].as_str().unwrap().into()))
        .collect()
}

fn no_new_bundle_before_the_last_is_confirmed(backend: &Backend) {
    let mut world = World::new(backend);
    world.start();
    let root = world.bootstrap();
    assign(&world, SECONDARY, IMAGE_PATH);
    assert_eq!(poll(&world, &root), (1, vec![IMAGE_PATH.to_string()]));
    assert_eq!(statuses(&world), [(IMAGE_PATH.into(), "in_flight".into())]);

    // A new assignment while the bundle is in flight waits: the vehicle sees the same bundle.
    let waiting = assign(&world, PRIMARY, TCU_IMAGE_PATH);
    assert_eq!(waiting["status"], "pending");
    assert_eq!(poll(&world, &root), (1, vec![IMAGE_PATH.to_string()]));
    // The Secondary confirms the first bundle.
    let receipt = manifest(&world, OLD_TCU, NEW_BCM, 1);
    assert_eq!(receipt["completed"].as_array().unwrap().len(), 1, "{receipt}");
    assert!(receipt["partial_installation"].is_null());

    // Confirmed: the next bundle carries the waiting assignment, and only it.
    assert_eq!(poll(&world, &root), (2, vec![TCU_IMAGE_PATH.to_string()]));
    manifest(&world, NEW_TCU, NEW_BCM, 2);
    assert_eq!(poll(&world, &root), (3, vec![]));
    let done = statuses(&world).into_iter().filter(|(_, s)| s == "done").count();
    assert_eq!(done, 2);
}

fn an_image_not_installed_fails_its_assignment(backend: &Backend) {
    let mut world = World::new(backend);
    world.start();
    let root = world.bootstrap();
    let assignment = assign(&world, SECONDARY, IMAGE_PATH);
    // Not yet issued: a manifest without the image changes nothing.
    manifest(&world, OLD_TCU, OLD_BCM, 1);
    assert_eq!(statuses(&world), [(IMAGE_PATH.into(), "pending".into())]);

    assert_eq!(poll(&world, &root).1, [IMAGE_PATH]);
    let refused =
        Report { attacks: "image length exceeds its targets entry (endless_data)", ..OLD_BCM };
    let receipt = manifest(&world, OLD_TCU, refused, 2);
    assert_eq!(receipt["failed"][0]["id"], assignment["id"]);
    let reason = receipt["failed"][0]["reason"].as_str().unwrap();
    assert!(reason.contains("endless_data"), "{reason}");
    let state = world.server().state();
    assert_eq!(state["assignments"][0]["status"], "failed");
    assert_eq!(state["assignments"][0]["reason"], reason);
    assert!(state["hold"].is_null(), "a whole bundle failing is no partial installation");
    // The failed image leaves the vehicle's targets.
    assert_eq!(poll(&world, &root), (2, vec![]));
}

fn a_partial_installation_holds_the_vehicle(backend: &Backend) {
    let mut world = World::new(backend);
    world.start();
    let root = world.bootstrap();
    assign(&world, SECONDARY, IMAGE_PATH);
    assign(&world, PRIMARY, TCU_IMAGE_PATH);
    // One bundle for both ECUs.
    let mut both = vec![TCU_IMAGE_PATH.to_string(), IMAGE_PATH.to_string()];
    both.sort();
    assert_eq!(poll(&world, &root), (1, both));

    // The image for the Secondary was dropped on the way (A10): the TCU updated, the BCM not.
    let receipt = manifest(&world, NEW_TCU, OLD_BCM, 1);
    assert_eq!(receipt["completed"].as_array().unwrap().len(), 1);
    let partial = receipt["partial_installation"].as_str().unwrap();
    assert!(partial.contains(SECONDARY) && partial.contains("version 1"), "{partial}");
    let state = world.server().state();
    assert_eq!(state["hold"]["manifest_id"], receipt["manifest_id"]);
    let failed = state["assignments"].as_array().unwrap().iter().find(|a| a["status"] == "failed");
    assert!(failed.unwrap()["reason"].as_str().unwrap().starts_with("partial bundle installation"));

    // Held: a new assignment is accepted but no bundle carries it.
    assert_eq!(assign(&world, SECONDARY, IMAGE_PATH)["status"], "pending");
    assert_eq!(poll(&world, &root), (2, vec![]));
    assert_eq!(poll(&world, &root), (2, vec![]));

    // The operator releases the vehicle: the waiting assignment is issued.
    let server = world.server();
    let hold = format!("/api/v1/vehicles/{VIN}/hold");
    let unauthenticated = server.agent.delete(format!("{}{hold}", server.base)).call().unwrap();
    assert_eq!(unauthenticated.status().as_u16(), 401);
    let release = |expected: u16| {
        let request = server.agent.delete(format!("{}{hold}", server.base));
        let reply = request.header("Authorization", format!("Bearer {}", support::TOKEN)).call();
        assert_eq!(reply.unwrap().status().as_u16(), expected);
    };
    release(204);
    release(409);
    assert_eq!(poll(&world, &root), (3, vec![IMAGE_PATH.to_string()]));
    assert!(world.server().state()["hold"].is_null());
}

on_both_backends!(
    no_new_bundle_before_the_last_is_confirmed,
    an_image_not_installed_fails_its_assignment,
    a_partial_installation_holds_the_vehicle,
);
