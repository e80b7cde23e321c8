//! Campaigns over HTTPS: a staged rollout that completes, one that halts at its failure
//! threshold, pause, resume and cancel, the refusals, and a stage that advances exactly once
//! when several Director processes see it settle at the same moment.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use serde_json::{Value, json};
use support::fleet::{OLD_BCM, OLD_TCU, Report};
use support::image_repo::{BCM, TCU};
use support::{Backend, IMAGE, IMAGE_PATH, PRIMARY, VIN, World};

const INSTALLED: Report<'static> = Report { image: (IMAGE_PATH, IMAGE), attacks: "" };

fn request(vehicles: Value, first_batch: u64, max_failure_percent: u8) -> Value {
    json!({
        "name": "BCM 2.0 rollout",
        "target_path": IMAGE_PATH,
        "hardware_id": BCM,
        "vehicles": vehicles,
        "first_batch": first_batch,
        "max_failure_percent": max_failure_percent,
    })
}

fn create(world: &World, request: &Value) -> Value {
    let reply = world.server().post_admin("/api/v1/campaigns", request);
    assert_eq!(reply.status, 201, "{}", reply.text());
    reply.json()
}

fn campaign(world: &World, id: &Value) -> Value {
    let reply = world.server().get_admin(&format!("/api/v1/campaigns/{}", id.as_str().unwrap()));
    assert_eq!(reply.status, 200, "{}", reply.text());
    reply.json()
}

fn act(world: &World, id: &Value, action: &str) -> support::Reply {
    let path = format!("/api/v1/campaigns/{}/{action}", id.as_str().unwrap());
    world.server().post_admin(&path, &Value::Null)
}

/// (pending, in_flight, done, failed, cancelled).
fn progress(campaign: &Value) -> [u64; 5] {
    ["pending", "in_flight", "done", "failed", "cancelled"]
        .map(|status| campaign["progress"][status].as_u64().unwrap())
}

fn started(backend: &Backend, vehicles: usize) -> (World, Vec<String>) {
    let mut world = World::new(backend);
    world.start();
    world.bootstrap();
    let vins = world.register_fleet(vehicles);
    (world, vins)
}

fn a_staged_campaign_completes(backend: &Backend) {
    let (world, vins) = started(backend, 4);
    let created = create(&world, &request(json!(vins), 2, 0));
    let id = &created["id"];
    assert_eq!((created["state"].as_str(), created["stage"].as_u64()), (Some("running"), Some(1)));
    assert_eq!(created["vehicles"]["first_batch"], json!(vins[..2]));
    assert_eq!(created["vehicles"]["rest"], json!(vins[2..]));
    assert_eq!(progress(&created), [2, 0, 0, 0, 0]);

    // Only the first batch is assigned; polling issues its bundles.
    assert!(world.fleet_polls(3).is_empty());
    assert_eq!(world.fleet_polls(1), [IMAGE_PATH]);
    assert_eq!(world.fleet_polls(2), [IMAGE_PATH]);
    assert_eq!(progress(&campaign(&world, id)), [0, 2, 0, 0, 0]);

    let receipt = world.fleet_reports(1, OLD_TCU, INSTALLED, 1);
    assert_eq!(receipt["completed"].as_array().unwrap().len(), 1);
    let halfway = campaign(&world, id);
    assert_eq!((halfway["stage"].as_u64(), progress(&halfway)), (Some(1), [0, 1, 1, 0, 0]));

    // The last first-batch vehicle confirms: the rest is assigned, once.
    world.fleet_reports(2, OLD_TCU, INSTALLED, 1);
    let second = campaign(&world, id);
    assert_eq!((second["stage"].as_u64(), progress(&second)), (Some(2), [2, 0, 2, 0, 0]));
    for i in [3, 4] {
        assert_eq!(world.fleet_polls(i), [IMAGE_PATH]);
        world.fleet_reports(i, OLD_TCU, INSTALLED, 1);
    }
    let done = campaign(&world, id);
    assert_eq!((done["state"].as_str(), progress(&done)), (Some("completed"), [0, 0, 4, 0, 0]));
    assert!(world.fleet_polls(4).is_empty(), "a confirmed image leaves the targets");

    let listed = world.server().get_admin("/api/v1/campaigns").json();
    assert_eq!(listed["campaigns"][0]["id"], *id);
    assert_eq!(listed["campaigns"][0]["state"], "completed");
}

fn a_campaign_halts_at_its_failure_threshold(backend: &Backend) {
    let (world, vins) = started(backend, 4);
    let created = create(&world, &request(json!(vins), 2, 40));
    let id = &created["id"];
    for i in [1, 2] {
        assert_eq!(world.fleet_polls(i), [IMAGE_PATH]);
    }
    world.fleet_reports(1, OLD_TCU, INSTALLED, 1);
    // Vehicle 2's BCM refused the image and still runs the old one.
    let attacked = Report { attacks: "image hash mismatch (arbitrary_software)", ..OLD_BCM };
    let receipt = world.fleet_reports(2, OLD_TCU, attacked, 1);
    let reason = receipt["failed"][0]["reason"].as_str().unwrap();
    assert!(reason.contains("arbitrary_software"), "{reason}");

    // One of two first-batch vehicles failed: 50% > 40%, the rest is never assigned.
    let halted = campaign(&world, id);
    assert_eq!(halted["state"], "halted");
    assert_eq!(halted["failed_vehicles"], 1);
    assert!(halted["reason"].as_str().unwrap().contains("1 of the 2"), "{halted}");
    assert_eq!(progress(&halted), [0, 0, 1, 1, 0]);
    assert!(world.fleet_polls(3).is_empty() && world.fleet_polls(4).is_empty());
    assert_eq!(act(&world, id, "resume").code(), "campaign_state");

    // At exactly the threshold it goes on: a TCU campaign where 1 of 2 fails, 50% allowed.
    let mut tcu = request(json!(vins), 2, 50);
    tcu["target_path"] = support::image_repo::TCU_IMAGE_PATH.into();
    tcu["hardware_id"] = TCU.into();
    let created = create(&world, &tcu);
    let new_tcu =
        Report::running(support::image_repo::TCU_IMAGE_PATH, support::image_repo::TCU_IMAGE);
    for i in [1, 2] {
        assert_eq!(world.fleet_polls(i), [support::image_repo::TCU_IMAGE_PATH]);
    }
    world.fleet_reports(1, new_tcu, INSTALLED, 2);
    world.fleet_reports(2, OLD_TCU, OLD_BCM, 2);
    let next = campaign(&world, &created["id"]);
    assert_eq!((next["state"].as_str(), next["stage"].as_u64()), (Some("running"), Some(2)));
}

fn pause_resume_and_cancel(backend: &Backend) {
    let (world, vins) = started(backend, 3);
    let created = create(&world, &request(json!(vins), 2, 0));
    let id = &created["id"];

    // Paused: its assignments are not issued.
    assert_eq!(act(&world, id, "pause").json()["state"], "paused");
    assert!(world.fleet_polls(1).is_empty());
    assert_eq!(progress(&campaign(&world, id)), [2, 0, 0, 0, 0]);
    assert_eq!(act(&world, id, "pause").code(), "campaign_state");
    assert_eq!(act(&world, id, "resume").json()["state"], "running");
    assert_eq!(world.fleet_polls(1), [IMAGE_PATH]);

    // Cancelled: what was not issued is withdrawn; what is in flight is still confirmed.
    let cancelled = act(&world, id, "cancel").json();
    assert_eq!(cancelled["state"], "cancelled");
    assert_eq!(progress(&cancelled), [0, 1, 0, 0, 1]);
    assert!(world.fleet_polls(2).is_empty());
    assert_eq!(world.fleet_polls(1), [IMAGE_PATH]);
    world.fleet_reports(1, OLD_TCU, INSTALLED, 1);
    let after = campaign(&world, id);
    assert_eq!((after["state"].as_str(), after["stage"].as_u64()), (Some("cancelled"), Some(1)));
    assert_eq!(progress(&after), [0, 0, 1, 0, 1]);
    assert!(world.fleet_polls(3).is_empty(), "a cancelled campaign never goes on");
    for action in ["pause", "resume", "cancel"] {
        let reply = act(&world, id, action);
        assert_eq!((reply.status, reply.code().as_str()), (409, "campaign_state"));
    }
    assert_eq!(act(&world, id, "explode").status, 404);
    let reply = world.server().get_admin("/api/v1/campaigns/0123");
    assert_eq!((reply.status, reply.code().as_str()), (404, "unknown_campaign"));
}

fn campaigns_are_checked(backend: &Backend) {
    let (world, vins) = started(backend, 2);
    let server = world.server();
    let refused = |request: Value, status: u16, code: &str| {
        let reply = server.post_admin("/api/v1/campaigns", &request);
        assert_eq!((reply.status, reply.code().as_str()), (status, code), "{}", reply.text());
    };
    assert_eq!(server.post_as("/api/v1/campaigns", None, &request(json!("all"), 1, 0)).status, 401);
    refused(request(json!(["WVWZZZ1JZXW999999"]), 1, 0), 404, "unknown_vehicle");
    refused(request(json!([vins[0], vins[0]]), 1, 0), 400, "bad_campaign");
    refused(request(json!(vins), 0, 0), 400, "bad_campaign");
    refused(request(json!(vins), 1, 101), 400, "bad_campaign");
    let mut other = request(json!("all"), 1, 0);
    other["hardware_id"] = "acme-gateway".into();
    refused(other, 400, "no_matching_ecu");
    let mut absent = request(json!(vins), 1, 0);
    absent["target_path"] = "supplierA/bcm-9.9.bin".into();
    refused(absent, 404, "image_not_found");
    let mut wrong = request(json!(vins), 1, 0);
    wrong["hardware_id"] = TCU.into();
    refused(wrong, 400, "hardware_id_mismatch");

    // An ECU already waiting for an image: nothing of the campaign is created.
    world.assign();
    refused(request(json!("all"), 3, 0), 409, "assignment_pending");
    assert_eq!(server.get_admin("/api/v1/campaigns").json()["campaigns"], json!([]));

    // "all": every vehicle with such an ECU, by VIN; the first batch only is assigned.
    let mut all = request(json!("all"), 1, 0);
    all["target_path"] = support::image_repo::TCU_IMAGE_PATH.into();
    all["hardware_id"] = TCU.into();
    let created = create(&world, &all);
    let mut every = [VIN.to_string(), vins[0].clone(), vins[1].clone()];
    every.sort();
    assert_eq!(created["vehicles"]["first_batch"], json!(every[..1]));
    assert_eq!(created["vehicles"]["rest"], json!(every[1..]));
    assert_eq!(progress(&created), [1, 0, 0, 0, 0]);
    let assignments = world.server().state()["assignments"].as_array().unwrap().clone();
    assert!(
        assignments.iter().any(|a| a["ecu_serial"] == PRIMARY && a["campaign_id"] == created["id"])
    );
}

fn a_stage_advances_exactly_once(backend: &Backend) {
    let (world, vins) = started(backend, 3);
    let created = create(&world, &request(json!(vins), 1, 0));
    let id = created["id"].as_str().unwrap().to_owned();
    // The first batch settles while the campaign is paused, so nothing advances it yet.
    act(&world, &created["id"], "pause");
    world.fleet_reports(1, OLD_TCU, INSTALLED, 1);
    assert_eq!(progress(&campaign(&world, &created["id"])), [0, 0, 1, 0, 0]);

    // Two more Director processes on the database; it becomes running without advancing.
    let processes = [
        director_repo::AppState::open(world.config()).unwrap(),
        director_repo::AppState::open(world.config()).unwrap(),
    ];
    let paused = processes[0].db.campaign(&id).unwrap().unwrap();
    assert!(processes[0].db.set_campaign_state(&paused, "running", None).unwrap());

    // Eight advances at once, four per process.
    let barrier = std::sync::Barrier::new(8);
    std::thread::scope(|scope| {
        for i in 0..8 {
            let (state, barrier, id) = (&processes[i % 2], &barrier, &id);
            scope.spawn(move || {
                barrier.wait();
                director_repo::campaign::advance(state, id).unwrap();
            });
        }
    });
    let after = campaign(&world, &created["id"]);
    assert_eq!((after["stage"].as_u64(), progress(&after)), (Some(2), [2, 0, 1, 0, 0]));
    assert_eq!(after["row_version"].as_i64(), Some(paused.row_version + 2), "advanced once");
    for i in [2, 3] {
        assert_eq!(world.fleet_polls(i), [IMAGE_PATH]);
    }
}

on_both_backends!(
    a_staged_campaign_completes,
    a_campaign_halts_at_its_failure_threshold,
    pause_resume_and_cancel,
    campaigns_are_checked,
    a_stage_advances_exactly_once,
);
