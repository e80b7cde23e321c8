//! Every rejection: a 4xx JSON error with a stable code, and the published state unchanged.

#![allow(clippy::unwrap_used)]

mod support;

use support::*;
use uptane::crypto::Signer;

on_both_backends!(
    each_rejection_has_a_stable_code_and_changes_nothing,
    bootstrap_refusals,
    concurrent_uploads_of_one_version,
);

fn each_rejection_has_a_stable_code_and_changes_nothing(backend: &Backend) {
    let mut world = World::new(backend);
    let mut config = world.config();
    config.max_metadata_bytes = 64 * 1024;
    config.max_blob_bytes = 1024;
    world.start_with(config);
    let (_, image) = bootstrap(&world);
    let server = world.server();
    let keys = &world.keys;
    let before = server.timestamp();
    let v2 = |images: &[(&str, &[u8], &str)]| targets(2, images);
    let good = sign(v2(&[("ecu/a.bin", &image, "bcm")]), &[&keys.targets]);

    let check = |reply: Reply, status: u16, code: &str| {
        assert_eq!((reply.status, reply.code().as_str()), (status, code), "{:?}", reply.json());
        assert!(!reply.json()["message"].as_str().unwrap().is_empty());
        assert_eq!(server.timestamp(), before, "{code} changed the published state");
    };

    // Authentication.
    check(server.put_as("/api/v1/metadata/targets", None, &good), 401, "unauthorized");
    check(server.put_as("/api/v1/metadata/targets", Some("wrong"), &good), 401, "unauthorized");
    check(
        server.put_as(&format!("/api/v1/blobs/{}", sha256_hex(b"x")), None, b"x"),
        401,
        "unauthorized",
    );

    // Shape and size.
    check(server.put_metadata("targets", b"{not json"), 400, "malformed_json");
    check(server.put_metadata("targets", br#"{"signed": 1}"#), 400, "malformed_metadata");
    check(server.put_metadata("targets", &vec![b' '; 65 * 1024]), 413, "too_large");
    check(server.put_blob(&[7u8; 2048]), 413, "too_large");
    check(server.put_metadata("root", &vec![b' '; 600 * 1024]), 413, "too_large");
    check(server.put_metadata("..%2Fx", &good), 400, "bad_role_name");

    // Signatures and versions.
    let forged = sign(v2(&[("ecu/a.bin", &image, "bcm")]), &[&keys.other]);
    check(server.put_metadata("targets", &forged), 403, "bad_signature");
    let mut tampered: serde_json::Value = serde_json::from_slice(&good).unwrap();
    tampered["signed"]["version"] = 3.into();
    check(
        server.put_metadata("targets", &serde_json::to_vec(&tampered).unwrap()),
        403,
        "bad_signature",
    );
    let skip = sign(targets(3, &[]), &[&keys.targets]);
    check(server.put_metadata("targets", &skip), 400, "wrong_version");
    let same = sign(targets(1, &[]), &[&keys.targets]);
    check(server.put_metadata("targets", &same), 409, "conflict");
    let mut expired = v2(&[]);
    expired.expires = chrono::Utc::now() - chrono::Duration::days(1);
    check(server.put_metadata("targets", &sign(expired, &[&keys.targets])), 400, "expired");

    // Images.
    let missing = sign(v2(&[("ecu/b.bin", b"never uploaded", "bcm")]), &[&keys.targets]);
    check(server.put_metadata("targets", &missing), 400, "missing_blob");
    let mut wrong_hash = v2(&[("ecu/a.bin", &image, "bcm")]);
    wrong_hash
        .targets
        .get_mut("ecu/a.bin")
        .unwrap()
        .hashes
        .insert("sha512".into(), "00".repeat(64));
    check(
        server.put_metadata("targets", &sign(wrong_hash, &[&keys.targets])),
        400,
        "hash_mismatch",
    );
    let mut wrong_length = v2(&[("ecu/a.bin", &image, "bcm")]);
    wrong_length.targets.get_mut("ecu/a.bin").unwrap().length += 1;
    check(
        server.put_metadata("targets", &sign(wrong_length, &[&keys.targets])),
        400,
        "length_mismatch",
    );
    let traversal = sign(v2(&[("../etc/passwd", &image, "bcm")]), &[&keys.targets]);
    check(server.put_metadata("targets", &traversal), 400, "bad_path");
    let url = format!("/api/v1/blobs/{}", sha256_hex(b"other bytes"));
    check(server.put(&url, b"these bytes"), 400, "hash_mismatch");
    check(server.put("/api/v1/blobs/not-a-hash", b"x"), 400, "bad_path");

    // A root that skips a version, or is not signed by the trusted root.
    let v3 = sign(world.root(3, &[&keys.root]), &[&keys.root]);
    check(server.put_metadata("root", &v3), 400, "wrong_version");
    let forged_root = sign(world.root(2, &[&keys.other]), &[&keys.other]);
    check(server.put_metadata("root", &forged_root), 403, "bad_signature");

    // Nothing half-published: the good upload still goes through as version 2.
    assert_eq!(server.put_metadata("targets", &good).status, 200);
    let metrics = String::from_utf8(server.get("/metrics").body).unwrap();
    assert!(
        metrics.contains("image_repo_publish_total{role=\"targets\",result=\"bad_signature\"} 2"),
        "{metrics}"
    );
}

fn bootstrap_refusals(backend: &Backend) {
    let mut world = World::new(backend);
    world.start();
    let server = world.server();
    let keys = &world.keys;

    // No root yet: targets cannot be published.
    let body = sign(targets(1, &[]), &[&keys.targets]);
    let reply = server.put_metadata("targets", &body);
    assert_eq!((reply.status, reply.code().as_str()), (409, "no_root"));
    assert_eq!(server.get("/metadata/timestamp.json").status, 404);

    // A root that does not name the service's online keys: the error says which ids to use.
    let mut root = world.root(1, &[&keys.root]);
    root.remove_key("timestamp", keys.timestamp.key_id()).unwrap();
    root.add_key("timestamp", keys.other.public_key()).unwrap();
    let reply = server.put_metadata("root", &sign(root, &[&keys.root]));
    assert_eq!((reply.status, reply.code().as_str()), (422, "online_keys_missing"));
    let message = reply.json()["message"].as_str().unwrap().to_owned();
    assert!(message.contains(keys.timestamp.key_id()), "{message}");
    assert!(message.contains(keys.snapshot.key_id()), "{message}");

    // The first root must be version 1 and signed by itself.
    let reply = server.put_metadata("root", &sign(world.root(2, &[&keys.root]), &[&keys.root]));
    assert_eq!(reply.code(), "wrong_version");
    let reply = server.put_metadata("root", &sign(world.root(1, &[&keys.root]), &[&keys.other]));
    assert_eq!(reply.code(), "bad_signature");
    assert_eq!(server.get("/metadata/1.root.json").status, 404);

    // `image-repo init --root FILE` sets root v1 offline; the server then serves it. The root
    // is made once: `root_v1()` stamps `expires` from the clock to the second, so a second call
    // made after a slow init and restart (a loaded machine) would differ from the file.
    world.stop();
    let root_v1 = world.root_v1();
    let root_file = world.dir.path().join("root.json");
    std::fs::write(&root_file, &root_v1).unwrap();
    let config = world.config();
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_image-repo"));
    command
        .arg("--data-dir")
        .arg(&config.data_dir)
        .arg("--snapshot-key")
        .arg(config.snapshot_key.as_ref().unwrap())
        .arg("--timestamp-key")
        .arg(config.timestamp_key.as_ref().unwrap());
    if let Some(url) = &config.database_url {
        command.arg("--database-url").arg(url);
    }
    let output = command.arg("init").arg("--root").arg(&root_file).output().unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    world.start();
    assert_eq!(world.server().get("/metadata/1.root.json").body, root_v1);
}

fn concurrent_uploads_of_one_version(backend: &Backend) {
    let mut world = World::new(backend);
    world.start();
    let (_, image) = bootstrap(&world);
    let server = world.server();
    // Different bodies with the same version: exactly one wins.
    let bodies: Vec<Vec<u8>> = (0..6)
        .map(|i| {
            let path = format!("ecu/brake-{i}.bin");
            sign(targets(2, &[(&path, &image, "bcm")]), &[&world.keys.targets])
        })
        .collect();
    let statuses: Vec<(u16, String)> = std::thread::scope(|scope| {
        let handles: Vec<_> = bodies
            .iter()
            .map(|body| {
                scope.spawn(|| {
                    let reply = server.put_metadata("targets", body);
                    (reply.status, reply.code())
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let won = statuses.iter().filter(|(s, _)| *s == 200).count();
    let conflicts = statuses.iter().filter(|(s, c)| *s == 409 && c == "conflict").count();
    assert_eq!((won, conflicts), (1, 5), "{statuses:?}");
    let snapshot: serde_json::Value =
        serde_json::from_slice(&server.get("/metadata/2.snapshot.json").body).unwrap();
    assert_eq!(snapshot["signed"]["meta"]["targets.json"]["version"], 2);
    assert_eq!(server.get("/metadata/3.snapshot.json").status, 404);
}
