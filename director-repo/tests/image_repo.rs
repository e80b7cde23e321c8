//! The Director reads the Image repository as a verifying client: it assigns only what the
//! verified metadata lists for the ECU's hardware (through the delegation that may sign it),
//! copies the entry exactly so a vehicle's full verification matches it (DR-13), follows new
//! releases, and assigns nothing while the repository is unreachable or attacked (rollback,
//! forged and endless metadata).

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use serde_json::{Value, json};
use support::image_repo::{BCM, TCU_IMAGE, TCU_IMAGE_PATH};
use support::{Backend, IMAGE_PATH, PRIMARY, SECONDARY, VIN, World};
use uptane::director::Scope;
use uptane::repository::{MemStore, Rules, Store, Updater};
use uptane::verification::{InstalledImages, verify_full};

const NEW_BCM: &[u8] = b"brake controller firmware 2.1";
const NEW_BCM_PATH: &str = "supplierA/bcm-2.1.bin";

fn assign(world: &World, serial: &str, path: &str) -> support::Reply {
    let request = json!({"ecu_serial": serial, "target_path": path});
    world.server().post_admin(&format!("/api/v1/vehicles/{VIN}/assignments"), &request)
}

fn refused(reply: support::Reply, status: u16, code: &str) -> String {
    assert_eq!((reply.status, reply.code().as_str()), (status, code), "{}", reply.text());
    reply.json()["message"].as_str().unwrap().to_owned()
}

fn only_listed_images_for_the_ecus_hardware(backend: &Backend) {
    let mut world = World::new(backend);
    world.start();
    let root = world.bootstrap();

    refused(assign(&world, SECONDARY, NEW_BCM_PATH), 404, "image_not_found");
    // The BCM image is signed by a supplier trusted for BCM hardware only; the TCU image is
    // listed for TCU hardware only.
    let message = refused(assign(&world, PRIMARY, IMAGE_PATH), 400, "hardware_id_mismatch");
    assert!(message.contains("supplier"), "{message}");
    refused(assign(&world, SECONDARY, TCU_IMAGE_PATH), 400, "hardware_id_mismatch");

    // Released after the Director's last look: every assignment refreshes first.
    world.image_repo.release(NEW_BCM, NEW_BCM_PATH, BCM, 4, "supplier");
    assert_eq!(assign(&world, SECONDARY, NEW_BCM_PATH).status, 201);
    assert_eq!(assign(&world, PRIMARY, TCU_IMAGE_PATH).status, 201);

    // What the Director signed passes a Primary's full verification against the Image
    // repository: every entry matches the Image repository's (length, hashes, hardwareIds,
    // releaseCounter).
    let mut director = world.server().updater(VIN, &root);
    let mut store = MemStore::default();
    store.save("root.json", &std::fs::read(&world.image_repo.root).unwrap()).unwrap();
    let fetch = keytool::verify::DirFetch::new(world.image_repo.dir.join("metadata"));
    let mut image = Updater::new(fetch, store, chrono::Utc::now(), Rules::uptane()).unwrap();
    let vehicle = world.vehicle();
    let bundle = verify_full(
        &mut director,
        &mut image,
        Scope::Vehicle(&vehicle),
        None,
        &InstalledImages::new(),
    )
    .unwrap();
    let mut paths: Vec<&str> = bundle.updates.iter().map(|a| a.path.as_str()).collect();
    paths.sort();
    assert_eq!(paths, [TCU_IMAGE_PATH, NEW_BCM_PATH]);
    let bcm = bundle.updates.iter().find(|a| a.path.as_str() == NEW_BCM_PATH).unwrap();
    assert_eq!(bcm.custom.release_counter, Some(4));
    assert_eq!(bcm.file.length, NEW_BCM.len() as u64);
    let tcu = bundle.updates.iter().find(|a| a.path.as_str() == TCU_IMAGE_PATH).unwrap();
    assert_eq!(tcu.file.hashes, uptane::metadata::TargetFile::describing(TCU_IMAGE).hashes);
}

fn an_attacked_or_unreachable_image_repo_assigns_nothing(backend: &Backend) {
    let mut world = World::new(backend);
    world.start();
    world.bootstrap();
    let replayed = world.image_repo.metadata("timestamp.json");
    world.image_repo.release(NEW_BCM, NEW_BCM_PATH, BCM, 4, "supplier");
    assert_eq!(assign(&world, SECONDARY, NEW_BCM_PATH).status, 201);
    let genuine = world.image_repo.metadata("timestamp.json");

    // The attacker replays the timestamp the Director trusted before (A4).
    world.image_repo.serve_instead("timestamp.json", &replayed);
    let message = refused(assign(&world, PRIMARY, TCU_IMAGE_PATH), 502, "image_repo_rejected");
    assert!(message.contains("rollback"), "{message}");
    // The trusted state survives a restart.
    world.start();
    let message = refused(assign(&world, PRIMARY, TCU_IMAGE_PATH), 502, "image_repo_rejected");
    assert!(message.contains("rollback"), "{message}");

    // A timestamp altered after signing (A1).
    let mut forged: Value = serde_json::from_slice(&genuine).unwrap();
    forged["signed"]["version"] = json!(forged["signed"]["version"].as_u64().unwrap() + 1);
    world.image_repo.serve_instead("timestamp.json", forged.to_string().as_bytes());
    let message = refused(assign(&world, PRIMARY, TCU_IMAGE_PATH), 502, "image_repo_rejected");
    assert!(message.contains("arbitrary_software"), "{message}");

    // An endless timestamp is cut at the verifier's limit (A11).
    world.image_repo.serve_instead("timestamp.json", &vec![b' '; 1 << 20]);
    let message = refused(assign(&world, PRIMARY, TCU_IMAGE_PATH), 502, "image_repo_rejected");
    assert!(message.contains("endless_data"), "{message}");

    world.image_repo.serve_instead("timestamp.json", &genuine);
    assert_eq!(assign(&world, PRIMARY, TCU_IMAGE_PATH).status, 201);
    let assigned = world.server().state()["assignments"].as_array().unwrap().len();

    world.image_repo.stop();
    refused(assign(&world, PRIMARY, TCU_IMAGE_PATH), 502, "image_repo_unavailable");

    let mut config = world.config();
    config.image_repo_url = None;
    config.image_repo_root = None;
    world.start_with(config);
    refused(assign(&world, PRIMARY, TCU_IMAGE_PATH), 503, "image_repo_not_configured");
    assert_eq!(world.server().state()["assignments"].as_array().unwrap().len(), assigned);
}

on_both_backends!(
    only_listed_images_for_the_ecus_hardware,
    an_attacked_or_unreachable_image_repo_assigns_nothing,
);
