//! The full Director cycle over HTTPS: root upload, registration, assignment, verified
//! per-vehicle metadata, a manifest confirming the install, and polls that sign nothing new.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use serde_json::json;
use support::{
    Backend, IMAGE, IMAGE_PATH, PRIMARY, SECONDARY, TestServer, VIN, World, image_entry,
};
use uptane::crypto::Signer;
use uptane::director::{Scope, check_director_targets};

/// The HTTP status of the vehicle's `VERSION.snapshot.json`.
fn snapshot_status(server: &TestServer, version: u64) -> u16 {
    server.vehicle_get(VIN, &format!("/vehicles/{VIN}/metadata/{version}.snapshot.json")).status
}

fn assign_verify_confirm(backend: &Backend) {
    let mut world = World::new(backend);
    world.start();
    let root = world.bootstrap();
    let assignment = world.assign();
    let server = world.server();

    // The vehicle fetches and fully verifies its Director metadata.
    let mut updater = server.updater(VIN, &root);
    updater.refresh().unwrap();
    let targets = updater.trusted().targets("targets").unwrap();
    assert_eq!(targets.version, 1);
    let vehicle = world.vehicle();
    let assignments = check_director_targets(targets, Scope::Vehicle(&vehicle)).unwrap();
    assert_eq!(assignments.len(), 1);
    let only = &assignments[0];
    assert_eq!(only.path.as_str(), IMAGE_PATH);
    assert_eq!(only.ecus.keys().map(|s| s.as_str()).collect::<Vec<_>>(), [SECONDARY]);
    let expected = image_entry().uptane(IMAGE_PATH).unwrap();
    assert_eq!(only.custom.hardware_ids, expected.hardware_ids);
    assert_eq!(only.custom.release_counter, Some(3));
    assert_eq!(only.file.hashes, image_entry().hashes);
    assert_eq!(only.file.length, IMAGE.len() as u64);

    // A second poll with nothing new serves the same bytes.
    let first = server.vehicle_get(VIN, &format!("/vehicles/{VIN}/metadata/timestamp.json"));
    let again = server.vehicle_get(VIN, &format!("/vehicles/{VIN}/metadata/timestamp.json"));
    assert_eq!(first.body, again.body);
    assert_eq!(first.json()["signed"]["version"], 1);

    // The Secondary reports the image installed: the assignment is done.
    let reply = server.put_manifest(VIN, &world.full_manifest((IMAGE_PATH, IMAGE), 1));
    assert_eq!(reply.status, 200, "{}", reply.text());
    assert_eq!(reply.json()["completed"], json!([assignment["id"]]));
    let state = server.state();
    assert_eq!(state["assignments"][0]["status"], "done");
    let bcm = state["ecus"].as_array().unwrap().iter().find(|e| e["serial"] == SECONDARY).unwrap();
    assert_eq!(bcm["installed"]["filepath"], IMAGE_PATH);
    assert_eq!(state["manifests"][0]["outcome"], "accepted");

    // The next poll drops the confirmed image (one new version), later polls sign nothing.
    let mut updater = server.updater(VIN, &root);
    updater.refresh().unwrap();
    let targets = updater.trusted().targets("targets").unwrap();
    assert_eq!(targets.version, 2);
    assert!(check_director_targets(targets, Scope::Vehicle(&vehicle)).unwrap().is_empty());
    let timestamp = server.vehicle_get(VIN, &format!("/vehicles/{VIN}/metadata/timestamp.json"));
    assert_eq!(timestamp.json()["signed"]["version"], 2);
    let mut updater = server.updater(VIN, &root);
    updater.refresh().unwrap();
    assert_eq!(updater.trusted().targets("targets").unwrap().version, 2);
    assert_eq!(snapshot_status(server, 2), 200);
    assert_eq!(snapshot_status(server, 3), 404);
}

fn metadata_survives_a_restart(backend: &Backend) {
    let mut world = World::new(backend);
    world.start();
    let root = world.bootstrap();
    world.assign();
    let before =
        world.server().vehicle_get(VIN, &format!("/vehicles/{VIN}/metadata/timestamp.json"));
    world.start();
    let after =
        world.server().vehicle_get(VIN, &format!("/vehicles/{VIN}/metadata/timestamp.json"));
    assert_eq!(before.body, after.body, "a restart must not re-sign");
    let mut updater = world.server().updater(VIN, &root);
    updater.refresh().unwrap();
    assert_eq!(
        world.server().vehicle_get(VIN, &format!("/vehicles/{VIN}/metadata/1.root.json")).body,
        root
    );
}

fn the_root_must_list_the_online_keys(backend: &Backend) {
    let mut world = World::new(backend);
    world.start();
    let server = world.server();
    let root = world.root_v1();
    assert_eq!(server.put_as("/api/v1/root", None, &root).status, 401);
    assert_eq!(server.put_as("/api/v1/root", Some("wrong"), &root).status, 401);

    let mut body = world.root_body();
    body.remove_key("snapshot", world.keys.snapshot.key_id()).unwrap();
    body.add_key("snapshot", world.keys.other.public_key()).unwrap();
    let reply = server.put_admin("/api/v1/root", &support::sign(body, &[&world.keys.root]));
    assert_eq!(reply.status, 422, "{}", reply.text());
    assert_eq!(reply.code(), "online_keys_missing");
    assert!(reply.json()["message"].as_str().unwrap().contains(world.keys.snapshot.key_id()));

    let mut body = world.root_body();
    body.extra.remove(uptane::time::TIME_KEYS_FIELD);
    let reply = server.put_admin("/api/v1/root", &support::sign(body, &[&world.keys.root]));
    assert_eq!(reply.code(), "online_keys_missing");
    assert!(reply.json()["message"].as_str().unwrap().contains(world.keys.time.key_id()));

    let unsigned = support::sign(world.root_body(), &[&world.keys.other]);
    assert_eq!(server.put_admin("/api/v1/root", &unsigned).code(), "bad_signature");

    // Before any root, vehicles get no metadata.
    assert_eq!(server.post_admin("/api/v1/vehicles", &world.registration()).status, 201);
    let reply = server.vehicle_get(VIN, &format!("/vehicles/{VIN}/metadata/timestamp.json"));
    assert_eq!(reply.code(), "no_root");

    assert_eq!(server.put_admin("/api/v1/root", &root).status, 200);
    assert_eq!(server.put_admin("/api/v1/root", &root).code(), "wrong_version");
}

fn assignments_are_checked(backend: &Backend) {
    let mut world = World::new(backend);
    world.start();
    world.bootstrap();
    let server = world.server();
    let path = format!("/api/v1/vehicles/{VIN}/assignments");
    let request = |serial: &str| json!({"ecu_serial": serial, "target_path": IMAGE_PATH});
    assert_eq!(server.post_as(&path, None, &request(SECONDARY)).status, 401);
    let reply = server.post_admin(&path, &request("NOPE-1"));
    assert_eq!((reply.status, reply.code().as_str()), (404, "unknown_ecu"));
    let reply = server.post_admin(&path, &request(PRIMARY));
    assert_eq!((reply.status, reply.code().as_str()), (400, "hardware_id_mismatch"));
    let reply =
        server.post_admin("/api/v1/vehicles/WVWZZZ1JZXW999999/assignments", &request(SECONDARY));
    assert_eq!((reply.status, reply.code().as_str()), (404, "unknown_vehicle"));
    // The entry always comes from the Image repository, never from the operator.
    let mut forged = request(SECONDARY);
    forged["target"] = serde_json::to_value(image_entry()).unwrap();
    let reply = server.post_admin(&path, &forged);
    assert_eq!((reply.status, reply.code().as_str()), (400, "bad_request"));
    assert_eq!(server.post_admin(&path, &request(SECONDARY)).status, 201);
    let reply = server.post_admin(&path, &request(SECONDARY));
    assert_eq!((reply.status, reply.code().as_str()), (409, "assignment_pending"));
    let reply = server.post_admin("/api/v1/vehicles", &world.registration());
    assert_eq!((reply.status, reply.code().as_str()), (409, "vehicle_exists"));
}

fn time_attestations_echo_the_nonces(backend: &Backend) {
    let mut world = World::new(backend);
    world.start();
    world.bootstrap();
    let server = world.server();
    let nonce = "00112233445566778899aabbccddeeff";
    let body = json!({"nonces": [nonce, "ffeeddccbbaa99887766554433221100"]}).to_string();
    let url = format!("{}/time", server.base);
    let unauthenticated = server.agent.post(&url).send(body.as_bytes()).unwrap();
    assert_eq!(unauthenticated.status().as_u16(), 401);
    let agent = server.vehicle_agent(VIN);
    let response = agent.post(&url).send(body.as_bytes()).unwrap();
    assert_eq!(response.status().as_u16(), 200);
    let bytes = response.into_body().read_to_vec().unwrap();
    let root = world.root_body();
    let time = uptane::time::verify_attestation(&bytes, &root, nonce, None).unwrap();
    assert!((chrono::Utc::now() - time).num_seconds().abs() < 60);
    let bad = agent.post(&url).send(br#"{"nonces": ["xyz"]}"#.as_slice()).unwrap();
    assert_eq!(bad.status().as_u16(), 400);
}

/// Re-signing before expiry adds a version of each role every half lifetime; only the newest
/// two of each are kept (the previous one for a vehicle still fetching it), so the database
/// does not grow without end.
fn old_versions_are_deleted(backend: &Backend) {
    let mut world = World::new(backend);
    world.start();
    world.bootstrap();
    let mut config = world.config();
    config.metadata_lifetime = chrono::Duration::seconds(2);
    assert_eq!(config.metadata_versions_kept, 2);
    let state = director_repo::AppState::open(config).unwrap();
    for version in 1..=4 {
        let bundle = director_repo::bundle::current(&state, VIN).unwrap();
        assert_eq!(bundle.timestamp.version, version);
        // Past half of the lifetime (expiry is kept to the second): the next poll re-signs.
        std::thread::sleep(std::time::Duration::from_millis(1200));
    }
    for role in ["targets", "snapshot", "timestamp"] {
        let kept: Vec<i64> =
            (1..=4).filter(|&v| state.db.metadata(VIN, role, v).unwrap().is_some()).collect();
        assert_eq!(kept, [3, 4], "{role}");
    }
    let server = world.server();
    assert_eq!(snapshot_status(server, 3), 200);
    assert_eq!(snapshot_status(server, 2), 404);
}

on_both_backends!(
    old_versions_are_deleted,
    assign_verify_confirm,
    metadata_survives_a_restart,
    the_root_must_list_the_online_keys,
    assignments_are_checked,
    time_attestations_echo_the_nonces,
);
