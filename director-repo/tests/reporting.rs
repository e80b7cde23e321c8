//! Vehicles that stopped reporting (A13): the fleet listing and the vehicle view say when each
//! vehicle's last accepted manifest arrived, and flag it overdue once `--overdue-after` has
//! passed without one; a refused manifest does not count as a report.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::time::Duration;

use serde_json::Value;
use support::{Backend, VIN, World};

/// The listing's row for VIN.
fn listed(world: &World, query: &str) -> Option<Value> {
    let reply = world.server().get_admin(&format!("/api/v1/vehicles{query}"));
    assert_eq!(reply.status, 200, "{}", reply.text());
    reply.json().as_array().unwrap().iter().find(|v| v["vin"] == VIN).cloned()
}

fn a_vehicle_that_stops_reporting_becomes_overdue(backend: &Backend) {
    let mut world = World::new(backend);
    let mut config = world.config();
    config.overdue_after = chrono::Duration::seconds(1);
    world.start_with(config);
    world.bootstrap();
    let server = world.server();

    // Just registered: not overdue, never reported.
    let fresh = listed(&world, "").unwrap();
    assert_eq!(
        (fresh["overdue"].as_bool(), fresh["last_manifest_at"].is_null()),
        (Some(false), true)
    );
    assert!(listed(&world, "?overdue=true").is_none());

    let manifest = world.full_manifest(("bcm-1.0.bin", b"bcm"), 1);
    assert_eq!(server.put_manifest(VIN, &manifest).status, 200);
    let reported = listed(&world, "").unwrap();
    let at = reported["last_manifest_at"].as_str().unwrap().to_owned();
    assert_eq!(reported["overdue"], false);
    assert_eq!(world.server().state()["last_manifest_at"], at.as_str());

    // Silence past the interval (times are stored to the second): overdue in both views. A
    // replayed manifest meanwhile is refused and is no report.
    std::thread::sleep(Duration::from_millis(2100));
    assert_eq!(server.put_manifest(VIN, &manifest).code(), "replayed_report");
    let overdue = listed(&world, "?overdue=true").expect("listed as overdue");
    assert_eq!(overdue["last_manifest_at"], at.as_str());
    let state = world.server().state();
    assert_eq!(
        (state["overdue"].as_bool(), state["last_manifest_at"].as_str()),
        (Some(true), Some(at.as_str()))
    );

    // Reporting again clears it.
    let manifest = world.full_manifest(("bcm-1.0.bin", b"bcm"), 2);
    assert_eq!(server.put_manifest(VIN, &manifest).status, 200);
    assert!(listed(&world, "?overdue=true").is_none());
    assert_eq!(world.server().state()["overdue"], false);
}

fn the_listing_is_for_the_operator_only(backend: &Backend) {
    let mut world = World::new(backend);
    world.start();
    world.bootstrap();
    let server = world.server();
    assert_eq!(server.get("/api/v1/vehicles").code(), "unauthorized");
    assert_eq!(server.get_admin("/api/v1/vehicles?overdue=maybe").code(), "bad_request");
    assert_eq!(server.get_admin("/api/v1/vehicles?stale=true").code(), "bad_request");
    assert_eq!(listed(&world, "").unwrap()["overdue"], false, "the default interval is days");
}

on_both_backends!(
    a_vehicle_that_stops_reporting_becomes_overdue,
    the_listing_is_for_the_operator_only
);
