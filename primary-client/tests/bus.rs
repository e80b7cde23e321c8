//! The whole vehicle: the Primary against the real Director (mutual TLS) and Image repository,
//! and two real Secondary ECUs (`secondary-client`), one verifying in full and one partially,
//! each serving the ECU protocol on the in-process CAN hub.

#![allow(clippy::unwrap_used)]

mod world;

use std::thread::JoinHandle;

use canbus::uds::{ClientConfig, UdsClient};
use canbus::{Hub, HubConfig, IsoTpSocket, Node};
use chrono::Utc;
use primary_client::can::CanSecondary;
use primary_client::config::SecondaryConfig;
use primary_client::cycle::{Outcome, Primary};
use primary_client::secondary::{Secondary, Verification};
use secondary_client::Ecu;
use secondary_client::bus::{BusEcu, server};
use secondary_client::config::{BusConfig, Config, FactoryImage, Identity, Limits, Mode};
use uptane::names::{EcuSerial, HardwareId, Vin};
use uptane::repository::{MemStore, Rules, Store, Updater};
use world::{FULL, PARTIAL, PRIMARY, VIN, World, image_bytes, key};

const TCU: &str = "oem/tcu-3.0.bin";
const BCM: &str = "oem/bcm-3.0.bin";
const DCU: &str = "oem/dcu-3.0.bin";

/// One Secondary's ECU, provisioned with what the Director and Image repository serve now.
fn provision(world: &World, primary: &Primary, ecu: (&str, &str), n: u8, mode: Mode) -> Config {
    let base = world.dir.path().join(ecu.0);
    let provisioned = base.join("provisioned");
    let mut store = MemStore::default();
    store.save("root.json", &world.director_root).unwrap();
    let mut director =
        Updater::new(primary.director.metadata(), store, Utc::now(), Rules::uptane()).unwrap();
    director.refresh().unwrap();
    for (repo, files) in [
        ("director", vec![("root.json", world.director_root.clone())]),
        ("image", vec![("root.json", world.image_root.clone())]),
    ] {
        std::fs::create_dir_all(provisioned.join(repo)).unwrap();
        for (name, bytes) in files {
            std::fs::write(provisioned.join(repo).join(name), bytes).unwrap();
        }
    }
    for role in ["timestamp.json", "snapshot.json", "targets.json"] {
        let bytes = director.store().load(role).unwrap().unwrap();
        std::fs::write(provisioned.join("director").join(role), bytes).unwrap();
    }
    // The keys the operator registered (world::World::register).
    std::fs::write(base.join("ecu.pem"), key(21 + n).to_pem()).unwrap();
    std::fs::write(base.join("factory.bin"), format!("factory image of {}", ecu.0)).unwrap();
    Config {
        identity: Identity {
            serial: EcuSerial::new(ecu.0).unwrap(),
            hardware_id: HardwareId::new(ecu.1).unwrap(),
            vin: Vin::new(VIN).unwrap(),
        },
        key: base.join("ecu.pem"),
        mode,
        provisioned,
        storage: base.join("storage"),
        provisioned_time: Utc::now() - chrono::Duration::hours(1),
        factory_image: FactoryImage {
            path: base.join("factory.bin"),
            target: format!("factory/{}.bin", ecu.0),
            release_counter: 0,
        },
        bus: BusConfig {
            request_id: 0x7E0 + u32::from(n),
            response_id: 0x7E8 + u32::from(n),
            ..BusConfig::default()
        },
        limits: Limits::default(),
    }
}

/// Each ECU serving on its own node until the hub closes.
struct Bus {
    hub: Hub,
    servers: Vec<JoinHandle<Ecu>>,
}

impl Bus {
    fn start(configs: &[Config]) -> Bus {
        let hub = Hub::new(HubConfig::default()).unwrap();
        let mut servers = Vec::new();
        for config in configs {
            let ecu = Ecu::open(config.clone()).unwrap();
            let node = hub.attach().unwrap();
            node.hold();
            let mut server = server(node, config).unwrap();
            servers.push(std::thread::spawn(move || {
                let mut handler = BusEcu::new(ecu);
                let _ = server.serve(&mut handler);
                handler.into_ecu()
            }));
        }
        Bus { hub, servers }
    }

    /// The Primary's channel to the ECU configured as `config`.
    fn channel(&self, config: &Config, mode: Verification) -> CanSecondary<Node> {
        let mirrored = BusConfig {
            request_id: config.bus.response_id,
            response_id: config.bus.request_id,
            ..config.bus.clone()
        };
        let limits = Limits { max_message_bytes: 1 << 20, ..Limits::default() };
        let iso = secondary_client::bus::isotp_config(&mirrored, &limits).unwrap();
        let timers =
            ClientConfig { p2: std::time::Duration::from_secs(2), ..ClientConfig::default() };
        let client =
            UdsClient::new(IsoTpSocket::new(self.hub.attach().unwrap(), iso).unwrap(), timers);
        let secondary = SecondaryConfig {
            serial: config.identity.serial.clone(),
            hardware_id: config.identity.hardware_id.clone(),
            mode,
            request_id: config.bus.request_id,
            response_id: config.bus.response_id,
        };
        CanSecondary::new(secondary, client)
    }

    fn stop(self) -> Vec<Ecu> {
        self.hub.close();
        self.servers.into_iter().map(|t| t.join().unwrap()).collect()
    }
}

#[test]
fn a_vehicle_with_a_full_and_a_partial_secondary_installs_a_bundle() {
    let world = World::start();
    world.register();
    let primary = world.primary();
    let full = provision(&world, &primary, FULL, 1, Mode::Full);
    let partial = provision(&world, &primary, PARTIAL, 2, Mode::Partial);
    let (tcu, bcm, dcu) = (image_bytes(1, 40_000), image_bytes(2, 30_000), image_bytes(3, 20_000));
    world.release(1, &[(TCU, &tcu, PRIMARY), (BCM, &bcm, FULL), (DCU, &dcu, PARTIAL)]);

    let bus = Bus::start(&[full.clone(), partial.clone()]);
    let mut channels =
        [bus.channel(&full, Verification::Full), bus.channel(&partial, Verification::Partial)];
    let mut run = || {
        let mut boxed: Vec<Box<dyn Secondary + '_>> =
            channels.iter_mut().map(|c| Box::new(c) as Box<dyn Secondary + '_>).collect();
        primary.run_cycle(&mut boxed, &mut |_| Ok(()))
    };
    let report = run();
    assert_eq!(report.result, Outcome::Updated, "{report:?}");
    assert!(report.secondary_errors.is_empty(), "{report:?}");
    assert_eq!(report.updated.len(), 3, "{report:?}");
    assert!(report.manifest.as_ref().unwrap()["manifest_id"].is_string(), "{report:?}");
    // The next manifest carries the Secondaries' own reports of the new images.
    let report = run();
    assert_eq!(report.result, Outcome::NoUpdate, "{report:?}");
    let completed = report.manifest.as_ref().unwrap()["completed"].as_array().map(Vec::len);
    assert_eq!(completed, Some(3), "{report:?}");
    let report = run();
    assert_eq!(report.result, Outcome::NoUpdate, "{report:?}");

    // The operator rotates the Director's time key (root 2). The Primary walks to root 2 and
    // hands it to the Secondaries before the time the new key signed: they restart their
    // clocks (TM-5) and take that time, no refusal, no attack reported.
    world.rotate_time_key(&key(55));
    for _ in 0..2 {
        let report = run();
        assert_eq!(report.result, Outcome::NoUpdate, "{report:?}");
        assert!(report.secondary_errors.is_empty(), "{report:?}");
        let attacks = &report.manifest.as_ref().unwrap()["attacks"];
        assert_eq!(attacks, &serde_json::json!({}), "{report:?}");
    }
    drop(channels);

    let ecus = bus.stop();
    for (ecu, (path, image)) in ecus.iter().zip([(BCM, &bcm), (DCU, &dcu)]) {
        let running = ecu.running().unwrap();
        assert_eq!(running.image.filepath, path);
        assert_eq!(running.image.fileinfo.length, image.len() as u64);
        assert!((Utc::now() - ecu.time()).num_minutes() < 5, "attested by the new key");
    }
}
