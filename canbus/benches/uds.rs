//! A whole UDS image delivery on the simulated bus against the ISO-TP limit.
//!
//! For each bus a 1 MiB image goes from the Primary's client to a Secondary's server as the
//! protocol does it: RequestDownload, TransferData blocks of the server's announced length
//! (each its own ISO-TP message with its own flow control and response), RequestTransferExit
//! (with its "response pending") and the activate routine. The virtual time of the whole
//! exchange is divided by the closed-form time of a single 1 MiB ISO-TP message at the same
//! rates and frame format (module `closed_form`, shared with the ISO-TP bench; worst-case
//! stuffing on both sides), so the ratio is what UDS framing, block turnarounds and the
//! simulator add (goal: at most 1.05). The wall time says what the simulation costs per MiB.
//!
//! Run with `cargo bench -p canbus --bench uds`.
#![allow(clippy::unwrap_used)] // a failed unwrap is a failed run

mod closed_form;

use std::thread;
use std::time::{Duration, Instant};

use canbus::isotp::StMin;
use canbus::uds::{
    AbortReason, ClientConfig, EcuAddress, EcuHandler, Identifier, Nrc, ServerLimits,
    TransferTarget, UdsClient, UdsServer,
};
use canbus::{BusTiming, Filter, Hub, HubConfig, IsoTpSocket, Node, Stuffing, Timestamp};
use closed_form::{Format, limit_seconds};

const MIB: usize = 1 << 20;

struct Case {
    name: &'static str,
    format: Format,
    max_block_len: usize,
}

/// A Secondary that writes the image into a slot and activates it if it is complete.
#[derive(Default)]
struct Slot {
    expected: u64,
    data: Vec<u8>,
    complete: bool,
}

impl EcuHandler for Slot {
    fn read_identifier(&mut self, _: Identifier) -> Result<Vec<u8>, Nrc> {
        Err(Nrc::REQUEST_OUT_OF_RANGE)
    }
    fn version_report(&mut self, _: &[u8]) -> Result<Vec<u8>, Nrc> {
        Err(Nrc::CONDITIONS_NOT_CORRECT)
    }
    fn time_attestation(&mut self, _: &[u8]) -> Result<(), Nrc> {
        Err(Nrc::CONDITIONS_NOT_CORRECT)
    }
    fn begin_file(&mut self, _: &str, _: u64) -> Result<(), Nrc> {
        Err(Nrc::UPLOAD_DOWNLOAD_NOT_ACCEPTED)
    }
    fn begin_image(&mut self, size: u64) -> Result<(), Nrc> {
        *self = Self { expected: size, data: Vec::with_capacity(size as usize), complete: false };
        Ok(())
    }
    fn write(&mut self, chunk: &[u8]) -> Result<(), Nrc> {
        self.data.extend_from_slice(chunk);
        Ok(())
    }
    fn end_transfer(&mut self) -> Result<(), Nrc> {
        self.complete = self.data.len() as u64 == self.expected;
        Ok(())
    }
    fn verify_metadata(&mut self) -> Result<Vec<u8>, Nrc> {
        Err(Nrc::CONDITIONS_NOT_CORRECT)
    }
    fn activate(&mut self) -> Result<Vec<u8>, Nrc> {
        if self.complete { Ok(Vec::new()) } else { Err(Nrc::CONDITIONS_NOT_CORRECT) }
    }
    fn transfer_aborted(&mut self, reason: AbortReason) {
        panic!("transfer aborted: {reason:?}");
    }
}

/// Delivers and activates a `len`-byte image; returns (virtual seconds, wall time).
fn simulate(case: &Case, stuffing: Stuffing, len: usize) -> (f64, Duration) {
    let format = &case.format;
    let timing = BusTiming::fd(format.nominal, format.data).unwrap().with_stuffing(stuffing);
    let hub = Hub::new(HubConfig::with_timing(timing)).unwrap();
    let address = EcuAddress::standard(0).unwrap();
    let node = |rx| {
        let node: Node = hub.attach().unwrap();
        node.set_filters(vec![Filter::exact(rx)]).unwrap();
        node
    };
    let mut server_config = address.server_config(format.fd);
    server_config.block_size = format.block_size;
    server_config.st_min = format.st_min;
    let server_node = node(address.request);
    server_node.hold();
    let limits = ServerLimits {
        max_block_len: case.max_block_len,
        max_message_len: case.max_block_len,
        ..ServerLimits::default()
    };
    let mut server =
        UdsServer::new(IsoTpSocket::new(server_node, server_config).unwrap(), limits).unwrap();
    let client_socket =
        IsoTpSocket::new(node(address.response), address.client_config(format.fd)).unwrap();
    let mut client = UdsClient::new(client_socket, ClientConfig::default());
    let image: Vec<u8> = (0..len).map(|i| (i * 31 + (i >> 9)) as u8).collect();

    let started = Instant::now();
    let handle = thread::spawn(move || {
        let mut slot = Slot::default();
        server.serve(&mut slot).unwrap();
        slot
    });
    assert_eq!(client.socket().link().now(), Timestamp::ZERO);
    client.transfer(TransferTarget::Image, len as u64, &image[..], |_| {}).unwrap();
    client.activate().unwrap();
    let done = client.socket().link().now();
    hub.close();
    let slot = handle.join().unwrap();
    let wall = started.elapsed();
    assert!(slot.data == image);
    (done.since_epoch().as_secs_f64(), wall)
}

fn main() {
    let classic =
        Format { fd: false, nominal: 500_000, data: 500_000, block_size: 0, st_min: StMin::ZERO };
    let fd = Format { fd: true, data: 2_000_000, ..classic };
    let cases = [
        Case { name: "classic 500k", format: classic, max_block_len: 4095 },
        Case { name: "FD 500k/2M", format: fd, max_block_len: 4095 },
        Case { name: "FD 500k/2M, 64 KiB blocks", format: fd, max_block_len: 64 << 10 },
    ];
    for case in &cases {
        let limit = limit_seconds(&case.format, MIB as u64);
        let (virtual_worst, wall) = simulate(case, Stuffing::WorstCase, MIB);
        let (virtual_exact, _) = simulate(case, Stuffing::Exact, MIB);
        let ratio = virtual_worst / limit;
        println!(
            "uds 1MiB image {} ({}-byte blocks): virtual {virtual_worst:.4} s, ISO-TP limit \
             {limit:.4} s, ratio {ratio:.4} (goal <= 1.05); sim wall {:.0} ms/MiB; exact \
             stuffing virtual {virtual_exact:.4} s ({:.3} of limit)",
            case.name,
            case.max_block_len,
            wall.as_secs_f64() * 1000.0,
            virtual_exact / limit
        );
        let line = serde_json::json!({"figure": format!("uds 1MiB image {} ({}-byte blocks)", case.name, case.max_block_len), "value": virtual_worst,
            "unit": "s (virtual)", "baseline": limit, "ratio": ratio, "goal": "<= 1.05"});
        println!("BENCH {line}");
    }
}
