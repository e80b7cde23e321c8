//! Online-key rotation through the Director root (profile §6.8 KM-1, KM-3, KM-6): the operator
//! uploads root 2 naming new targets, snapshot, timestamp and time keys; every Director process
//! then signs with them, and a vehicle that trusts root 1 walks to root 2 and verifies the new
//! metadata.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use chrono::{Duration, Utc};
use serde_json::json;
use support::{Backend, TestServer, VIN, World, sign};
use uptane::crypto::{PrivateKey, Signer};
use uptane::metadata::Root;

/// The new online keys of root 2: targets, snapshot, timestamp, time.
fn new_keys() -> [PrivateKey; 4] {
    [22u8, 23, 24, 25].map(|n| PrivateKey::ed25519_from_seed(&[n; 32]).unwrap())
}

/// Root 2: root 1 with every online key replaced (the root key stays, so its one signature
/// meets the thresholds of both roots).
fn root_v2(world: &World, keys: &[PrivateKey; 4]) -> Root {
    let mut root = world.root_body();
    root.version = 2;
    root.expires = Utc::now() + Duration::days(365);
    for (role, old) in [
        ("targets", &world.keys.targets),
        ("snapshot", &world.keys.snapshot),
        ("timestamp", &world.keys.timestamp),
    ] {
        root.remove_key(role, old.key_id()).unwrap();
    }
    root.keys.remove(world.keys.time.key_id());
    for (role, key) in ["targets", "snapshot", "timestamp"].iter().zip(keys) {
        root.add_key(role, key.public_key()).unwrap();
    }
    uptane::time::add_time_key(&mut root, keys[3].public_key()).unwrap();
    root
}

fn signer_of(bytes: &[u8]) -> String {
    let value: serde_json::Value = serde_json::from_slice(bytes).unwrap();
    value["signatures"][0]["keyid"].as_str().unwrap().to_owned()
}

fn rotating_the_online_keys(backend: &Backend) {
    let mut world = World::new(backend);
    world.start();
    let root1 = world.bootstrap();
    // A second process on the same database and data directory, started before the rotation.
    let mut second = TestServer::start(world.server().config.clone());
    let server = world.server();

    let mut updater = server.updater(VIN, &root1);
    updater.refresh().unwrap();
    let v1 = updater.trusted().targets("targets").unwrap().version;

    // Root 2 names keys the service does not hold yet: refused, nothing changes.
    let keys = new_keys();
    let root2 = sign(root_v2(&world, &keys), &[&world.keys.root]);
    let reply = server.put_admin("/api/v1/root", &root2);
    assert_eq!(
        (reply.status, reply.code().as_str()),
        (422, "online_keys_missing"),
        "{}",
        reply.text()
    );
    assert!(reply.text().contains(keys[0].key_id()), "{}", reply.text());
    assert_eq!(
        server.vehicle_get(VIN, &format!("/vehicles/{VIN}/metadata/2.root.json")).status,
        404
    );

    // The operator installs the new key files beside the running service and uploads again.
    for (name, key) in ["targets", "snapshot", "timestamp", "time"].iter().zip(&keys) {
        let path = world.data_dir().join(format!("keys/{name}-2.pem"));
        std::fs::write(path, key.to_pem()).unwrap();
    }
    let reply = server.put_admin("/api/v1/root", &root2);
    assert_eq!(reply.status, 200, "{}", reply.text());
    assert_eq!(reply.json()["version"], 2);

    // The vehicle, still trusting root 1, walks to root 2 and verifies metadata signed anew
    // with the new keys, from either process.
    for process in [world.server(), &second] {
        let mut updater = process.updater(VIN, &root1);
        updater.refresh().unwrap();
        assert_eq!(updater.trusted().root().version, 2);
        let targets = updater.trusted().targets("targets").unwrap();
        assert!(targets.version > v1, "new keys sign a new version");
        let timestamp =
            process.vehicle_get(VIN, &format!("/vehicles/{VIN}/metadata/timestamp.json"));
        assert_eq!(signer_of(&timestamp.body), keys[2].key_id());
    }

    // Time attestations are signed with the new time key, which root 2 names.
    let nonce = "ab".repeat(16);
    let reply =
        server.vehicle_post(VIN, "/time", json!({"nonces": [nonce]}).to_string().as_bytes());
    assert_eq!(reply.status, 200, "{}", reply.text());
    let root: Root = root_v2(&world, &keys);
    uptane::time::verify_attestation(&reply.body, &root, &nonce, None).unwrap();

    // Versions may only step by one, and a root once stored cannot be replaced.
    let mut skipping = root_v2(&world, &keys);
    skipping.version = 4;
    let reply = server.put_admin("/api/v1/root", &sign(skipping, &[&world.keys.root]));
    assert_eq!((reply.status, reply.code().as_str()), (400, "wrong_version"));
    let reply = server.put_admin("/api/v1/root", &root2);
    assert_eq!(reply.status / 100, 4, "{}", reply.text());

    // The metrics count the signatures each role made.
    let metrics = server.get("/metrics").text();
    assert!(metrics.contains("director_repo_signatures_total{role=\"time\"} 1"), "{metrics}");
    second.stop();
}

/// A process on another host that lacks the new keys keeps signing with the old ones (vehicles
/// still on root 1 accept those) and switches once the operator installs the key files there.
fn a_process_without_the_new_keys_follows_once_they_arrive(backend: &Backend) {
    let mut world = World::new(backend);
    let mut config = world.config();
    config.resign_interval = Duration::milliseconds(300);
    world.start_with(config.clone());
    let root1 = world.bootstrap();
    let mut elsewhere = config.clone();
    elsewhere.data_dir = world.dir.path().join("other-host");
    elsewhere.database_url = Some(config.database_url());
    let mut other = TestServer::start(elsewhere.clone());

    let keys = new_keys();
    for (name, key) in ["targets", "snapshot", "timestamp", "time"].iter().zip(&keys) {
        std::fs::write(world.data_dir().join(format!("keys/{name}-2.pem")), key.to_pem()).unwrap();
    }
    let root2 = sign(root_v2(&world, &keys), &[&world.keys.root]);
    assert_eq!(world.server().put_admin("/api/v1/root", &root2).status, 200);

    let path = format!("/vehicles/{VIN}/metadata/timestamp.json");
    let timestamp = other.vehicle_get(VIN, &path);
    assert_eq!(signer_of(&timestamp.body), world.keys.timestamp.key_id());
    let mut updater = other.updater(VIN, &root1);
    assert!(updater.refresh().is_err(), "root 2 does not trust the old timestamp key");

    for (name, key) in ["targets", "snapshot", "timestamp", "time"].iter().zip(&keys) {
        std::fs::write(elsewhere.data_dir.join(format!("keys/{name}-2.pem")), key.to_pem())
            .unwrap();
    }
    std::thread::sleep(std::time::Duration::from_millis(600));
    let timestamp = other.vehicle_get(VIN, &path);
    assert_eq!(signer_of(&timestamp.body), keys[2].key_id());
    let mut updater = other.updater(VIN, &root1);
    updater.refresh().unwrap();
    assert_eq!(updater.trusted().root().version, 2);
    other.stop();
}

on_both_backends!(
    rotating_the_online_keys,
    a_process_without_the_new_keys_follows_once_they_arrive
);
