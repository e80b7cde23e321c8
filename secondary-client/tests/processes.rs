//! The real `secondary-client` binary, in separate processes on the hub daemon: two Secondaries
//! and a Primary-side test driver exchange images, and a Secondary killed mid-install comes
//! back on a verified image.
//!
//! The daemon is `canbus::HubServer`, the code behind the `canbus-hub` binary, listening on a
//! Unix socket in this test process (Cargo builds only this crate's binaries for its tests);
//! each Secondary is its own process joining it through the socket, as in a vehicle simulation.

#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test

mod support;

use canbus::uds::UdsClient;
use canbus::{BusTiming, HubClient, HubConfig, HubServer};
use secondary_client::config::{BusConfig, Config, Mode};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use support::{
    BCM, EcuSpec, FACTORY, Fleet, TCU, bus_report, client, deliver, json_status, update_over_bus,
    write_config,
};

/// A hub daemon on a socket under `dir`. Its accept loop lives as long as the test process.
fn daemon(dir: &Path) -> PathBuf {
    let path = dir.join("can0.sock");
    let timing = BusTiming::fd(1_000_000, 5_000_000).unwrap();
    let server = HubServer::bind(&path, HubConfig::with_timing(timing)).unwrap();
    std::thread::spawn(move || server.run());
    path
}

/// A `secondary-client` process, killed on drop.
struct Secondary {
    child: Child,
}

impl Secondary {
    /// Starts the binary on `config` and waits for it to join the bus.
    fn start(config: &Path) -> Secondary {
        let log = std::fs::File::options()
            .create(true)
            .append(true)
            .open(config.with_extension("log"))
            .unwrap();
        let mut child = Command::new(env!("CARGO_BIN_EXE_secondary-client"))
            .arg("--config")
            .arg(config)
            .env("RUST_LOG", "debug")
            .stdout(Stdio::piped())
            .stderr(log)
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
        assert!(line.starts_with("ready "), "the Secondary did not start: {line:?}");
        Secondary { child }
    }

    /// SIGKILL: a power cut, as far as the process can tell.
    fn kill(mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }
}

impl Drop for Secondary {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `ecu` configured for CAN FD on channel `n` of the daemon at `socket`, storing under
/// `storage-NAME`, its config file written.
fn configure(
    fleet: &Fleet,
    ecu: &EcuSpec,
    mode: Mode,
    n: u32,
    socket: &Path,
    name: &str,
) -> (Config, PathBuf) {
    let mut config = fleet.provision(ecu, mode);
    config.storage = config.storage.with_file_name(format!("storage-{name}"));
    config.bus = BusConfig {
        socket: Some(socket.into()),
        request_id: 0x7E0 + n,
        response_id: 0x7E8 + n,
        fd: true,
        ..BusConfig::default()
    };
    let path = write_config(&config, socket);
    (config, path)
}

fn connect(socket: &Path, config: &Config) -> UdsClient<HubClient> {
    client(HubClient::connect(socket).unwrap(), &config.bus)
}

fn image(seed: u32, len: u32) -> Vec<u8> {
    (0..len / 4).flat_map(|i| (i ^ seed).to_le_bytes()).collect()
}

#[test]
fn two_secondary_processes_and_a_primary_exchange_images_on_the_hub_daemon() {
    let mut fleet = Fleet::new();
    let (bcm_image, tcu_image) = (image(1, 64_000), image(2, 48_000));
    fleet.release_image("fw/bcm-2.0.bin", &bcm_image, &[BCM.hardware_id], 2);
    fleet.release_image("fw/tcu-5.1.bin", &tcu_image, &[TCU.hardware_id], 7);
    fleet.assign(&BCM, "fw/bcm-2.0.bin");
    fleet.assign(&TCU, "fw/tcu-5.1.bin");
    let socket = daemon(fleet.dir.path());
    let (bcm, bcm_file) = configure(&fleet, &BCM, Mode::Partial, 0, &socket, "bcm");
    let (tcu, tcu_file) = configure(&fleet, &TCU, Mode::Full, 1, &socket, "tcu");
    let _processes = [Secondary::start(&bcm_file), Secondary::start(&tcu_file)];

    for (config, spec, image, path) in
        [(&bcm, &BCM, &bcm_image, "fw/bcm-2.0.bin"), (&tcu, &TCU, &tcu_image, "fw/tcu-5.1.bin")]
    {
        let mut client = connect(&socket, config);
        let status = update_over_bus(&mut client, &fleet, spec, image);
        assert_eq!(status["result"], "installed", "{}", spec.serial);
        // An ECUReset reboots the process's ECU from storage: the new image stays.
        client.reset().unwrap();
        let report = bus_report(&mut client, spec);
        assert_eq!(report.installed_image.filepath, path);
        assert_eq!(report.installed_image.fileinfo.length, image.len() as u64);
        assert_eq!(report.attacks_detected, "");
    }
}

/// Where the Secondary is killed.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Cut {
    /// With part of the image in the inactive slot.
    WhileStreaming,
    /// With the whole image written and verified, before activation.
    AfterSlotWrite,
    /// Right after the activation answer.
    AfterActivation,
}

#[test]
fn a_secondary_killed_mid_install_comes_back_on_a_verified_image() {
    let mut fleet = Fleet::new();
    let new = image(3, 400_000);
    fleet.release_image("fw/bcm-2.0.bin", &new, &[BCM.hardware_id], 2);
    fleet.assign(&BCM, "fw/bcm-2.0.bin");
    let socket = daemon(fleet.dir.path());
    let cuts = [
        (Cut::WhileStreaming, Mode::Partial),
        (Cut::AfterSlotWrite, Mode::Full),
        (Cut::AfterActivation, Mode::Partial),
    ];
    for (n, (cut, mode)) in cuts.into_iter().enumerate() {
        let (config, file) = configure(&fleet, &BCM, mode, 2, &socket, &n.to_string());
        let secondary = Secondary::start(&file);
        let mut client = connect(&socket, &config);
        deliver(&mut client, &fleet.bundle());
        assert_eq!(json_status(&client.verify_metadata().unwrap())["verdict"], "update");
        let block_len = client.request_download(new.len() as u64).unwrap() as usize - 2;
        let blocks: Vec<&[u8]> = new.chunks(block_len.min(4000)).collect();
        let sent = if cut == Cut::WhileStreaming { blocks.len() / 2 } else { blocks.len() };
        for (i, block) in blocks[..sent].iter().enumerate() {
            client.transfer_data((i + 1) as u8, block).unwrap();
        }
        if cut != Cut::WhileStreaming {
            client.transfer_exit().unwrap();
        }
        if cut == Cut::AfterActivation {
            assert_eq!(json_status(&client.activate().unwrap())["result"], "installed");
        }
        secondary.kill();
        let written = std::fs::metadata(config.storage.join("slots/b.img")).unwrap().len();
        match cut {
            Cut::WhileStreaming => assert!(0 < written && written < new.len() as u64),
            _ => assert_eq!(written, new.len() as u64),
        }

        let _restarted = Secondary::start(&file);
        let expected = if cut == Cut::AfterActivation { "fw/bcm-2.0.bin" } else { FACTORY };
        let report = bus_report(&mut client, &BCM);
        assert_eq!(report.installed_image.filepath, expected, "{cut:?}");
        assert_eq!(report.attacks_detected, "", "{cut:?}");
        if cut != Cut::AfterActivation {
            // Nothing half-done blocks the next attempt.
            let status = update_over_bus(&mut client, &fleet, &BCM, &new);
            assert_eq!(status["result"], "installed", "{cut:?}");
            let report = bus_report(&mut client, &BCM);
            assert_eq!(report.installed_image.filepath, "fw/bcm-2.0.bin", "{cut:?}");
        }
    }
}
