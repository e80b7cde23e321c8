//! Every manifest rejection answers a stable code, is recorded with that outcome, and changes
//! nothing else.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use support::{Backend, IMAGE, IMAGE_PATH, PRIMARY, SECONDARY, VIN, World};

fn refused(world: &World, vin: &str, body: &[u8], status: u16, code: &str) {
    let reply = world.server().put_manifest(vin, body);
    assert_eq!((reply.status, reply.code().as_str()), (status, code), "{}", reply.text());
}

fn every_rejection_has_its_code(backend: &Backend) {
    let mut world = World::new(backend);
    world.start();
    world.bootstrap();
    world.assign();
    let keys = &world.keys;
    let image = (IMAGE_PATH, IMAGE);

    refused(&world, VIN, b"not json", 400, "malformed_manifest");
    refused(&world, "WVWZZZ1JZXW999999", &world.full_manifest(image, 1), 404, "unknown_vehicle");

    // The Primary's signature by another key.
    let reports = [
        world.report(PRIMARY, &keys.primary, ("tcu.bin", b"tcu"), 1),
        world.report(SECONDARY, &keys.secondary, image, 1),
    ];
    refused(&world, VIN, &world.manifest(&keys.other, &reports), 401, "bad_signature");
    // A Secondary report forged by the Primary.
    let forged = [
        world.report(PRIMARY, &keys.primary, ("tcu.bin", b"tcu"), 1),
        world.report(SECONDARY, &keys.primary, image, 1),
    ];
    refused(&world, VIN, &world.manifest(&keys.primary, &forged), 401, "bad_signature");
    // A Secondary missing.
    let missing = [world.report(PRIMARY, &keys.primary, ("tcu.bin", b"tcu"), 1)];
    refused(&world, VIN, &world.manifest(&keys.primary, &missing), 400, "missing_ecu");
    // An ECU the vehicle does not have.
    let unknown = [
        world.report(PRIMARY, &keys.primary, ("tcu.bin", b"tcu"), 1),
        world.report(SECONDARY, &keys.secondary, image, 1),
        world.report("XYZ-SN-9", &keys.other, image, 1),
    ];
    refused(&world, VIN, &world.manifest(&keys.primary, &unknown), 400, "unknown_ecu");

    // Nothing was applied by any of those.
    let state = world.server().state();
    assert_eq!(state["assignments"][0]["status"], "pending");
    assert!(state["ecus"].as_array().unwrap().iter().all(|e| e["installed"].is_null()));

    // Accepted once; the same manifest again, or an older counter, is a replay.
    let manifest = world.full_manifest(("old.bin", b"old"), 5);
    assert_eq!(world.server().put_manifest(VIN, &manifest).status, 200);
    refused(&world, VIN, &manifest, 400, "replayed_report");
    refused(&world, VIN, &world.full_manifest(image, 4), 400, "replayed_report");
    let state = world.server().state();
    assert_eq!(state["assignments"][0]["status"], "pending", "a replay is never applied");
    let bcm = state["ecus"].as_array().unwrap().iter().find(|e| e["serial"] == SECONDARY).unwrap();
    assert_eq!(bcm["installed"]["filepath"], "old.bin");
    assert_eq!(bcm["report_counter"], 5);

    // Every manifest of this vehicle is recorded with its outcome.
    let outcomes: Vec<String> = state["manifests"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["outcome"].as_str().unwrap().to_owned())
        .collect();
    for code in [
        "malformed_manifest",
        "bad_signature",
        "missing_ecu",
        "unknown_ecu",
        "replayed_report",
        "accepted",
    ] {
        assert!(outcomes.iter().any(|o| o == code), "{code} not recorded in {outcomes:?}");
    }
    assert_eq!(outcomes.len(), 8, "{outcomes:?}");

    // A later counter is accepted and confirms the assignment.
    let reply = world.server().put_manifest(VIN, &world.full_manifest(image, 6));
    assert_eq!(reply.status, 200, "{}", reply.text());
    assert_eq!(world.server().state()["assignments"][0]["status"], "done");
}

fn unknown_vehicles_read_nothing(backend: &Backend) {
    let mut world = World::new(backend);
    world.start();
    world.bootstrap();
    let reply = world
        .server()
        .vehicle_get("WVWZZZ1JZXW999999", "/vehicles/WVWZZZ1JZXW999999/metadata/timestamp.json");
    assert_eq!((reply.status, reply.code().as_str()), (404, "unknown_vehicle"));
    let reply =
        world.server().vehicle_get(VIN, &format!("/vehicles/{VIN}/metadata/9.targets.json"));
    assert_eq!(reply.status, 404);
    let reply = world.server().vehicle_get(VIN, &format!("/vehicles/{VIN}/metadata/../x.json"));
    assert_eq!(reply.status, 404);
}

fn vehicles_read_and_write_only_their_own_vin(backend: &Backend) {
    let mut world = World::new(backend);
    world.start();
    world.bootstrap();
    let other = "WVWZZZ1JZXW000002";
    let mut registration = world.registration();
    registration["vin"] = other.into();
    registration["primary"] = "TCU-SN-2".into();
    registration["ecus"][0]["serial"] = "TCU-SN-2".into();
    registration["ecus"][1]["serial"] = "BCM-SN-2".into();
    assert_eq!(world.server().post_admin("/api/v1/vehicles", &registration).status, 201);
    let server = world.server();
    let timestamp = format!("/vehicles/{VIN}/metadata/timestamp.json");

    let reply = server.get(&timestamp);
    assert_eq!((reply.status, reply.code().as_str()), (401, "client_certificate_required"));
    let reply = server.put_as(&format!("/vehicles/{VIN}/manifest"), None, b"{}");
    assert_eq!((reply.status, reply.code().as_str()), (401, "client_certificate_required"));

    let reply = server.vehicle_get(other, &timestamp);
    assert_eq!((reply.status, reply.code().as_str()), (403, "wrong_vehicle"));
    let reply = server.put_manifest_as(other, VIN, &world.full_manifest((IMAGE_PATH, IMAGE), 1));
    assert_eq!((reply.status, reply.code().as_str()), (403, "wrong_vehicle"));
    // Nothing was recorded or applied for VIN.
    assert!(server.state()["manifests"].as_array().unwrap().is_empty());

    assert_eq!(server.vehicle_get(VIN, &timestamp).status, 200);
    assert_eq!(
        server.vehicle_get(other, "/vehicles/WVWZZZ1JZXW000002/metadata/timestamp.json").status,
        200
    );
}

fn provisioned_certificates_work(backend: &Backend) {
    let mut world = World::new(backend);
    world.start();
    world.bootstrap();
    let server = world.server();
    let path = format!("/api/v1/vehicles/{VIN}/client-certificate");
    assert_eq!(server.post_as(&path, None, &serde_json::Value::Null).status, 401);
    let reply = server.post_admin(
        "/api/v1/vehicles/WVWZZZ1JZXW999999/client-certificate",
        &serde_json::Value::Null,
    );
    assert_eq!(reply.code(), "unknown_vehicle");
    let reply = server.post_admin(&path, &serde_json::Value::Null);
    assert_eq!(reply.status, 201, "{}", reply.text());
    let issued = reply.json();
    let cert = ureq::tls::Certificate::from_pem(issued["certificate"].as_str().unwrap().as_bytes())
        .unwrap();
    let key = ureq::tls::PrivateKey::from_pem(issued["private_key"].as_str().unwrap().as_bytes())
        .unwrap();
    let server_ca = std::fs::read(world.data_dir().join("tls/ca.pem")).unwrap();
    let tls = ureq::tls::TlsConfig::builder()
        .root_certs(ureq::tls::RootCerts::new_with_certs(&[ureq::tls::Certificate::from_pem(
            &server_ca,
        )
        .unwrap()]))
        .client_cert(Some(ureq::tls::ClientCert::new_with_certs(&[cert], key)))
        .build();
    let agent: ureq::Agent =
        ureq::Agent::config_builder().tls_config(tls).http_status_as_error(false).build().into();
    let response = agent
        .get(format!("{}/vehicles/{VIN}/metadata/timestamp.json", server.base))
        .call()
        .unwrap();
    assert_eq!(response.status().as_u16(), 200);
}

on_both_backends!(
    every_rejection_has_its_code,
    unknown_vehicles_read_nothing,
    vehicles_read_and_write_only_their_own_vin,
    provisioned_certificates_work,
);
