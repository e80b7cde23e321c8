//! The Secondary on the in-process CAN hub (virtual time), driven by a Primary-side test driver
//! through the UDS client: a whole update in each verification mode, and the attacks that live
//! in the transport (endless data, slow retrieval) or end in a negative response.

#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test

mod support;

use std::thread::JoinHandle;
use std::time::Duration;

use canbus::uds::{Nrc, Stop, TransferTarget, UdsClient, UdsError};
use canbus::{CanLink, Hub, HubConfig, Node};
use secondary_client::Ecu;
use secondary_client::bus::{BusEcu, server};
use secondary_client::config::{Config, Mode};
use support::{
    BCM, FACTORY, Fleet, bus_report, client, deliver, json_status, labels, update_over_bus,
};
use uptane::Attack;

const V2: &str = "fw/bcm-2.0.bin";

fn v2_image() -> Vec<u8> {
    (0..20_000u32).flat_map(|i| i.to_le_bytes()).collect()
}

/// A Secondary serving on its own node until reset or the hub closes.
struct Served {
    hub: Hub,
    thread: Option<JoinHandle<(Ecu, Stop)>>,
}

impl Served {
    fn start(config: Config) -> (Served, UdsClient<Node>) {
        let hub = Hub::new(HubConfig::default()).unwrap();
        let ecu = Ecu::open(config.clone()).unwrap();
        let node = hub.attach().unwrap();
        // The ECU's thread listens before the Primary sends, however late the OS starts it.
        node.hold();
        let mut server = server(node, &config).unwrap();
        let thread = std::thread::spawn(move || {
            let mut handler = BusEcu::new(ecu);
            let stop = server.serve(&mut handler).unwrap();
            (handler.into_ecu(), stop)
        });
        let client = client(hub.attach().unwrap(), &config.bus);
        (Served { hub, thread: Some(thread) }, client)
    }

    /// Resets the ECU over the bus and returns it as the server left it.
    fn stop(mut self, client: &mut UdsClient<Node>) -> Ecu {
        client.reset().unwrap();
        client.socket().link().release(); // about to join a thread: let the clock go
        let (ecu, stop) = self.thread.take().unwrap().join().unwrap();
        assert_eq!(stop, Stop::Reset);
        ecu
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        self.hub.close();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn fleet() -> Fleet {
    let mut fleet = Fleet::new();
    fleet.release_image(V2, &v2_image(), &[BCM.hardware_id], 2);
    fleet.assign(&BCM, V2);
    fleet
}

fn nrc(result: Result<impl std::fmt::Debug, UdsError>) -> Nrc {
    match result {
        Err(UdsError::Negative { nrc, .. }) => nrc,
        other => panic!("expected a negative response, got {other:?}"),
    }
}

#[test]
fn a_primary_updates_full_and_partial_secondaries_over_the_bus() {
    for (mode, fd) in [(Mode::Full, false), (Mode::Partial, true)] {
        let fleet = fleet();
        let mut config = fleet.provision(&BCM, mode);
        config.bus.fd = fd;
        let (served, mut client) = Served::start(config);

        let serial = client.read_identifier(canbus::uds::Identifier::EcuSerial).unwrap();
        assert_eq!(serial, BCM.serial.as_bytes());
        let hardware = client.read_identifier(canbus::uds::Identifier::HardwareId).unwrap();
        assert_eq!(hardware, BCM.hardware_id.as_bytes());
        let key = client.read_identifier(canbus::uds::Identifier::PublicKey).unwrap();
        let key: uptane::crypto::PublicKey = serde_json::from_slice(&key).unwrap();
        assert_eq!(key, BCM.public());

        let status = update_over_bus(&mut client, &fleet, &BCM, &v2_image());
        assert_eq!(status["result"], "installed", "{mode:?}");
        let report = bus_report(&mut client, &BCM);
        assert_eq!(report.installed_image.filepath, V2);
        assert_eq!(report.latest_time, support::start() + chrono::TimeDelta::hours(1));
        assert_eq!(report.attacks_detected, "");
        let ecu = served.stop(&mut client);
        assert_eq!(ecu.running().unwrap().image.filepath, V2);
    }
}

#[test]
fn refusals_are_negative_responses_and_attacks_are_reported() {
    let mut fleet = fleet();
    let (served, mut client) = Served::start(fleet.provision(&BCM, Mode::Partial));
    let image = v2_image();

    // Nothing verified yet: an image is out of sequence.
    assert_eq!(nrc(client.request_download(image.len() as u64)), Nrc::REQUEST_SEQUENCE_ERROR);
    // A name the ECU does not store.
    assert_eq!(nrc(client.request_file_transfer("../state.json", 2)), Nrc::REQUEST_OUT_OF_RANGE);
    // A time attestation for a nonce the ECU never issued.
    let forged = fleet.attest(support::start() + chrono::TimeDelta::days(1), &["00"]);
    assert_eq!(nrc(client.time_attestation(&forged)), Nrc::REQUEST_OUT_OF_RANGE);

    // Tampered image: refused at the end of the transfer, and cannot be activated.
    deliver(&mut client, &fleet.bundle());
    json_status(&client.verify_metadata().unwrap());
    let mut tampered = image.clone();
    tampered[40_000] ^= 0x80;
    let sent =
        client.transfer(TransferTarget::Image, image.len() as u64, tampered.as_slice(), |_| {});
    assert_eq!(nrc(sent), Nrc::GENERAL_PROGRAMMING_FAILURE);
    assert_eq!(nrc(client.activate()), Nrc::REQUEST_SEQUENCE_ERROR);

    // Another vehicle's metadata: verification refused.
    fleet.director.targets.custom =
        Some(serde_json::json!({ "vin": support::OTHER_VIN }).as_object().unwrap().clone());
    fleet.director.release();
    deliver(&mut client, &fleet.bundle());
    assert_eq!(nrc(client.verify_metadata()), Nrc::CONDITIONS_NOT_CORRECT);

    let report = bus_report(&mut client, &BCM);
    assert_eq!(labels(&report), vec!["freeze", "arbitrary_software", "vin_mismatch"]);
    assert_eq!(report.installed_image.filepath, FACTORY);
    served.stop(&mut client);
}

#[test]
fn oversized_transfers_are_endless_data() {
    let fleet = fleet();
    let (served, mut client) = Served::start(fleet.provision(&BCM, Mode::Full));
    let image = v2_image();
    deliver(&mut client, &fleet.bundle());
    json_status(&client.verify_metadata().unwrap());

    // Announced longer than the metadata allows.
    assert_eq!(
        nrc(client.request_download(image.len() as u64 + 1)),
        Nrc::UPLOAD_DOWNLOAD_NOT_ACCEPTED
    );
    assert_eq!(labels(&bus_report(&mut client, &BCM)), vec!["endless_data"]);

    // Announced right, then a block past the announced size.
    deliver(&mut client, &fleet.bundle());
    json_status(&client.verify_metadata().unwrap());
    client.request_download(image.len() as u64).unwrap();
    client.transfer_data(1, &image[..60_000]).unwrap();
    assert_eq!(nrc(client.transfer_data(2, &image[..30_000])), Nrc::TRANSFER_DATA_SUSPENDED);
    assert_eq!(nrc(client.transfer_exit()), Nrc::REQUEST_SEQUENCE_ERROR);
    assert_eq!(nrc(client.activate()), Nrc::REQUEST_SEQUENCE_ERROR);

    // A message over the per-message cap (64 KiB): ISO-TP refuses it before storing a byte.
    deliver(&mut client, &fleet.bundle());
    json_status(&client.verify_metadata().unwrap());
    client.request_download(image.len() as u64).unwrap();
    let overflow = client.transfer_data(1, &image[..70_000]).unwrap_err();
    assert!(matches!(overflow, UdsError::Transport(canbus::Error::PeerOverflow { .. })));
    assert_eq!(nrc(client.transfer_exit()), Nrc::TRANSFER_DATA_SUSPENDED);

    // A metadata file announced over the limit.
    let too_big = secondary_client::config::Limits::default().max_metadata_bytes + 1;
    let refused = client.request_file_transfer("director/targets.json", too_big);
    assert_eq!(nrc(refused), Nrc::UPLOAD_DOWNLOAD_NOT_ACCEPTED);

    let report = bus_report(&mut client, &BCM);
    assert_eq!(labels(&report), vec!["endless_data"]);
    assert_eq!(report.attacks_detected.matches("endless_data").count(), 3);
    assert_eq!(report.installed_image.filepath, FACTORY);
    served.stop(&mut client);
}

#[test]
fn a_stalled_transfer_is_slow_retrieval() {
    let fleet = fleet();
    let (served, mut client) = Served::start(fleet.provision(&BCM, Mode::Partial));
    let image = v2_image();
    deliver(&mut client, &fleet.bundle());
    json_status(&client.verify_metadata().unwrap());
    client.request_download(image.len() as u64).unwrap();
    client.transfer_data(1, &image[..2000]).unwrap();
    // The Primary (or a device in between) stalls for a minute of bus time.
    let link = client.socket_mut().link_mut();
    let later = link.now() + Duration::from_secs(60);
    link.sleep_until(later).unwrap();
    assert_eq!(nrc(client.transfer_data(2, &image[2000..4000])), Nrc::TRANSFER_DATA_SUSPENDED);
    assert_eq!(nrc(client.activate()), Nrc::REQUEST_SEQUENCE_ERROR);
    let report = bus_report(&mut client, &BCM);
    assert_eq!(labels(&report), vec![Attack::SlowRetrieval.label()]);
    assert_eq!(report.installed_image.filepath, FACTORY);
    served.stop(&mut client);
}
