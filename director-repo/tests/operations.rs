//! Running the Director: a flood of bad manifests cannot fill the disk (only the newest refused
//! ones are kept, all are counted, accepted ones are all kept); a poll with nothing new signs
//! nothing; the background task re-signs before expiry without any poll; `/metrics` and the
//! OpenAPI file are served.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::time::Duration;

use support::{Backend, VIN, World};

/// The value of the metric line `name` (labels included) in Prometheus text.
fn metric(text: &str, name: &str) -> u64 {
    text.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' '))
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no {name} in\n{text}"))
}

fn refused_manifests_are_capped(backend: &Backend) {
    let mut world = World::new(backend);
    let mut config = world.config();
    config.max_refused_manifests = 3;
    world.start_with(config.clone());
    world.bootstrap();
    let server = world.server();
    let good = |counter| world.full_manifest(("bcm-1.0.bin", b"bcm"), counter);
    assert_eq!(server.put_manifest(VIN, &good(1)).status, 200);
    let forged = world.manifest(
        &world.keys.other,
        &[world.report(support::PRIMARY, &world.keys.primary, ("tcu-1.0.bin", b"tcu"), 2)],
    );
    for _ in 0..10 {
        let reply = server.put_manifest(VIN, &forged);
        assert_eq!(reply.code(), "bad_signature", "{}", reply.text());
    }
    assert_eq!(server.put_manifest(VIN, &good(2)).status, 200);

    let db = director_repo::storage::Db::open(&config.database_url()).unwrap();
    let stored = db.manifests(VIN, 1000).unwrap();
    let accepted = stored.iter().filter(|m| m.outcome == "accepted").count();
    let refused: Vec<_> = stored.iter().filter(|m| m.outcome != "accepted").collect();
    assert_eq!((accepted, refused.len()), (2, 3), "accepted ones are all kept, refused capped");
    assert!(refused.iter().all(|m| m.outcome == "bad_signature"));

    let counts = server.get_admin(&format!("/api/v1/vehicles/{VIN}/rejections"));
    assert_eq!(counts.json()["refused"]["bad_signature"], 10, "{}", counts.text());
    assert_eq!(server.get(&format!("/api/v1/vehicles/{VIN}/rejections")).status, 401);
    let metrics = server.get("/metrics").text();
    assert_eq!(metric(&metrics, "director_repo_rejections_total{code=\"bad_signature\"}"), 10);
    assert_eq!(metric(&metrics, "director_repo_checkins_total"), 2);
}

fn polls_sign_nothing_and_resigning_needs_no_poll(backend: &Backend) {
    let mut world = World::new(backend);
    let mut config = world.config();
    config.metadata_lifetime = chrono::Duration::seconds(4);
    config.resign_interval = chrono::Duration::milliseconds(500);
    world.start_with(config);
    world.bootstrap();
    let server = world.server();
    let path = format!("/vehicles/{VIN}/metadata/timestamp.json");
    let first = server.vehicle_get(VIN, &path);
    for _ in 0..5 {
        assert_eq!(server.vehicle_get(VIN, &path).body, first.body);
    }
    let metrics = server.get("/metrics").text();
    assert_eq!(metric(&metrics, "director_repo_signatures_total{role=\"timestamp\"}"), 1);
    assert_eq!(metric(&metrics, "director_repo_polls_total{answer=\"cached\"}"), 5);

    // Past half the lifetime, the background task signs version 2 on its own; the next poll
    // serves it from memory.
    std::thread::sleep(Duration::from_millis(3200));
    let metrics = server.get("/metrics").text();
    assert!(metric(&metrics, "director_repo_resigned_total") >= 1, "{metrics}");
    let signed = metric(&metrics, "director_repo_signatures_total{role=\"timestamp\"}");
    assert!(signed >= 2);
    let next = server.vehicle_get(VIN, &path);
    assert!(next.json()["signed"]["version"].as_u64().unwrap() >= 2);
    let metrics = server.get("/metrics").text();
    assert_eq!(metric(&metrics, "director_repo_signatures_total{role=\"timestamp\"}"), signed);
}

fn the_api_description_is_served(backend: &Backend) {
    let mut world = World::new(backend);
    world.start();
    let reply = world.server().get("/api/v1/openapi.yaml");
    assert_eq!(reply.status, 200);
    assert!(reply.text().starts_with("openapi: 3"));
    assert!(reply.text().contains("/provisioning:"));
}

on_both_backends!(
    refused_manifests_are_capped,
    polls_sign_nothing_and_resigning_needs_no_poll,
    the_api_description_is_served
);
