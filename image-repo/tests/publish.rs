//! Bootstrap, publish and read back over HTTPS; delegated supplier publish; root rotation;
//! crash safety; re-signing; on SQLite and (when configured) PostgreSQL.

#![allow(clippy::unwrap_used)]

mod support;

use chrono::{Duration, Utc};
use support::*;

on_both_backends!(
    publish_and_read_back,
    delegated_supplier_publish,
    root_rotation,
    interrupted_publish_keeps_the_old_state,
    timestamp_is_resigned_before_expiry,
);

fn publish_and_read_back(backend: &Backend) {
    let mut world = World::new(backend);
    world.start();
    let (root, image) = bootstrap(&world);
    let server = world.server();

    // A vehicle's view: full verification through the core, over HTTPS.
    let mut updater = server.updater(&root);
    let refresh = updater.refresh().unwrap();
    assert_eq!(refresh.root_version, 1);
    let found = updater.find_target("ecu/brake-1.0.bin", Some("bcm")).unwrap().unwrap();
    assert_eq!(found.role, "targets");

    // One copy per listed hash: DIR/HASH.BASENAME.
    for hash in found.file.hashes.values() {
        let reply = server.get(&format!("/targets/ecu/{hash}.brake-1.0.bin"));
        assert_eq!(reply.status, 200);
        assert_eq!(reply.body, image);
        assert_eq!(reply.header("content-type").as_deref(), Some("application/octet-stream"));
    }
    let sha256 = sha256_hex(&image);
    let path = format!("/targets/ecu/{sha256}.brake-1.0.bin");

    // The upload API says which blobs it holds (keytool skips those), to uploaders only.
    let blob = format!("/api/v1/blobs/{sha256}");
    let held = server.get_authorized(&blob).json();
    assert_eq!(
        (held["sha256"].as_str(), held["length"].as_u64()),
        (Some(&*sha256), Some(image.len() as u64))
    );
    assert_eq!(held["hashes"]["sha256"], sha256.as_str());
    assert!(held["hashes"]["sha512"].is_string());
    let unknown = server.get_authorized(&format!("/api/v1/blobs/{}", "0".repeat(64)));
    assert_eq!((unknown.status, unknown.code().as_str()), (404, "not_found"));
    assert_eq!(server.get_authorized("/api/v1/blobs/not-a-hash").code(), "bad_path");
    assert_eq!(server.get(&blob).code(), "unauthorized");

    // HEAD, ranges, ETags.
    let head = server.head(&path);
    assert_eq!(head.status, 200);
    assert_eq!(head.header("content-length"), Some(image.len().to_string()));
    assert!(head.body.is_empty());
    let part = server.get_with(&path, ("Range", "bytes=9-13"));
    assert_eq!(part.status, 206);
    assert_eq!(part.body, &image[9..14]);
    assert_eq!(part.header("content-range"), Some(format!("bytes 9-13/{}", image.len())));
    let tail = server.get_with(&path, ("Range", "bytes=-2"));
    assert_eq!(tail.body, &image[image.len() - 2..]);
    let bad = server.get_with(&path, ("Range", "bytes=9999-"));
    assert_eq!(bad.status, 416);
    let etag = server.get(&path).header("etag").unwrap();
    assert_eq!(server.get_with(&path, ("If-None-Match", &etag)).status, 304);

    // Metadata: exact bytes, JSON, cache headers.
    let timestamp = server.get("/metadata/timestamp.json");
    assert_eq!(timestamp.header("content-type").as_deref(), Some("application/json"));
    assert_eq!(timestamp.header("cache-control").as_deref(), Some("no-cache"));
    let etag = timestamp.header("etag").unwrap();
    assert_eq!(server.get_with("/metadata/timestamp.json", ("If-None-Match", &etag)).status, 304);
    let root_reply = server.get("/metadata/1.root.json");
    assert_eq!(root_reply.body, root);
    assert!(root_reply.header("cache-control").unwrap().contains("immutable"));
    assert_eq!(server.head("/metadata/1.targets.json").status, 200);
    assert_eq!(server.get("/metadata/2.targets.json").code(), "not_found");
    assert_eq!(server.get("/targets/ecu/nothing.bin").status, 404);

    // The snapshot lists targets with version, length and sha256.
    let snapshot: serde_json::Value =
        serde_json::from_slice(&server.get("/metadata/1.snapshot.json").body).unwrap();
    let meta = &snapshot["signed"]["meta"]["targets.json"];
    assert_eq!(meta["version"], 1);
    assert!(meta["length"].as_u64().unwrap() > 0);
    assert!(meta["hashes"]["sha256"].is_string());

    // A second release: the client moves on.
    let image2 = b"firmware image v2".to_vec();
    assert_eq!(server.put_blob(&image2).status, 201);
    let body =
        targets(2, &[("ecu/brake-1.0.bin", &image, "bcm"), ("ecu/brake-2.0.bin", &image2, "bcm")]);
    let reply = server.put_metadata("targets", &sign(body, &[&world.keys.targets]));
    assert_eq!(reply.status, 200, "{:?}", reply.json());
    assert_eq!(reply.json()["snapshot_version"], 2);
    updater.refresh().unwrap();
    assert!(updater.find_target("ecu/brake-2.0.bin", Some("bcm")).unwrap().is_some());

    let metrics = String::from_utf8(server.get("/metrics").body).unwrap();
    assert!(
        metrics.contains("image_repo_publish_total{role=\"targets\",result=\"accepted\"} 2"),
        "{metrics}"
    );
    assert!(metrics.contains("image_repo_requests_total{kind=\"metadata\",status=\"200\"}"));
    assert!(metrics.contains("image_repo_published_version{role=\"targets\"} 2"));

    // Everything survives a restart (state rebuilt from the database).
    let before = server.timestamp();
    world.start();
    assert_eq!(world.server().timestamp(), before);
    assert_eq!(world.server().get(&path).body, image);
}

fn delegated_supplier_publish(backend: &Backend) {
    let mut world = World::new(backend);
    world.start();
    let root = world.root_v1();
    let server = world.server();
    assert_eq!(server.put_metadata("root", &root).status, 200);
    let mut top = targets(1, &[]);
    delegate(&mut top, "supplierA", &world.keys.supplier, &["supplierA/*"], &["bcm"]);
    let reply = server.put_metadata("targets", &sign(top, &[&world.keys.targets]));
    assert_eq!(reply.status, 200, "{:?}", reply.json());

    let image = b"supplier A body controller firmware".to_vec();
    assert_eq!(server.put_blob(&image).status, 201);
    let body = targets(1, &[("supplierA/bcm-2.1.0.bin", &image, "bcm")]);
    let reply = server.put_metadata("supplierA", &sign(body, &[&world.keys.supplier]));
    assert_eq!(reply.status, 200, "{:?}", reply.json());

    let mut updater = server.updater(&root);
    updater.refresh().unwrap();
    let found = updater.find_target("supplierA/bcm-2.1.0.bin", Some("bcm")).unwrap().unwrap();
    assert_eq!(found.role, "supplierA");
    let sha256 = sha256_hex(&image);
    assert_eq!(server.get(&format!("/targets/supplierA/{sha256}.bcm-2.1.0.bin")).body, image);
    assert_eq!(server.get("/metadata/1.supplierA.json").status, 200);

    // The supplier's key cannot sign the top-level role, nor the targets key the supplier's.
    let before = server.timestamp();
    let body = targets(2, &[("supplierA/bcm-2.1.0.bin", &image, "bcm")]);
    let reply = server.put_metadata("supplierA", &sign(body, &[&world.keys.targets]));
    assert_eq!(reply.code(), "bad_signature");
    // Outside the delegated paths, or another hardware id.
    let body = targets(2, &[("supplierB/x.bin", &image, "bcm")]);
    let reply = server.put_metadata("supplierA", &sign(body, &[&world.keys.supplier]));
    assert_eq!((reply.status, reply.code().as_str()), (403, "outside_delegation"));
    let body = targets(2, &[("supplierA/x.bin", &image, "tcu")]);
    let reply = server.put_metadata("supplierA", &sign(body, &[&world.keys.supplier]));
    assert_eq!(reply.code(), "outside_delegation");
    // A role nobody delegates.
    let body = targets(1, &[]);
    let reply = server.put_metadata("supplierZ", &sign(body, &[&world.keys.supplier]));
    assert_eq!((reply.status, reply.code().as_str()), (404, "unknown_role"));
    assert_eq!(server.timestamp(), before);
}

fn root_rotation(backend: &Backend) {
    let mut world = World::new(backend);
    world.start();
    let (root1, _) = bootstrap(&world);
    let server = world.server();
    let mut updater = server.updater(&root1);
    updater.refresh().unwrap();

    // v2 moves root to a new key: it needs the old and the new threshold.
    let body = world.root(2, &[&world.keys.root2]);
    let only_new = sign(body.clone(), &[&world.keys.root2]);
    let before = server.timestamp();
    assert_eq!(server.put_metadata("root", &only_new).code(), "bad_signature");
    assert_eq!(server.timestamp(), before);
    let both = sign(body, &[&world.keys.root, &world.keys.root2]);
    let reply = server.put_metadata("root", &both);
    assert_eq!(reply.status, 200, "{:?}", reply.json());
    assert_eq!(server.get("/metadata/2.root.json").body, both);
    assert_eq!(server.get("/metadata/1.root.json").body, root1);
    assert_eq!(server.put_metadata("root", &both).status, 409);

    // Vehicles trusting v1 walk to v2.
    assert_eq!(updater.refresh().unwrap().root_version, 2);

    // v3 signed by the old root key only is refused; skipping a version too.
    let v3 = sign(world.root(3, &[&world.keys.root2]), &[&world.keys.root]);
    assert_eq!(server.put_metadata("root", &v3).code(), "bad_signature");
    let v4 = sign(world.root(4, &[&world.keys.root2]), &[&world.keys.root2]);
    assert_eq!(server.put_metadata("root", &v4).code(), "wrong_version");
}

fn interrupted_publish_keeps_the_old_state(backend: &Backend) {
    let mut world = World::new(backend);
    world.start();
    let (root, image) = bootstrap(&world);
    let before = world.server().timestamp();

    // A publish that dies inside the transaction, before commit.
    let mut failing = world.config();
    failing.fail_before_commit = true;
    world.start_with(failing);
    let server = world.server();
    let body = targets(2, &[("ecu/brake-1.0.bin", &image, "bcm")]);
    let v2 = sign(body, &[&world.keys.targets]);
    let reply = server.put_metadata("targets", &v2);
    assert_eq!((reply.status, reply.code().as_str()), (500, "internal"));
    assert_eq!(server.timestamp(), before);
    assert_eq!(server.get("/metadata/2.targets.json").status, 404);

    // After a restart the old state is served, and the same release publishes cleanly.
    world.start();
    let server = world.server();
    assert_eq!(server.timestamp(), before);
    let mut updater = server.updater(&root);
    updater.refresh().unwrap();
    assert_eq!(server.put_metadata("targets", &v2).status, 200);
    updater.refresh().unwrap();
    assert_eq!(updater.trusted().targets("targets").unwrap().version, 2);
}

fn timestamp_is_resigned_before_expiry(backend: &Backend) {
    let mut world = World::new(backend);
    let mut config = world.config();
    config.timestamp_lifetime = Duration::seconds(4);
    config.resign_interval = Duration::seconds(1);
    world.start_with(config);
    let (root, _) = bootstrap(&world);
    let server = world.server();
    let first: serde_json::Value = serde_json::from_slice(&server.timestamp()).unwrap();
    let first_version = first["signed"]["version"].as_u64().unwrap();
    let deadline = Utc::now() + Duration::seconds(15);
    loop {
        let now: serde_json::Value = serde_json::from_slice(&server.timestamp()).unwrap();
        if now["signed"]["version"].as_u64().unwrap() > first_version {
            break;
        }
        assert!(Utc::now() < deadline, "the timestamp was never re-signed");
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    server.updater(&root).refresh().unwrap();
}
