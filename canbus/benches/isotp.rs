//! ISO-TP throughput on the simulated bus against the bus's theoretical limit.
//!
//! For each configuration a 1 MiB message goes from one node to another on the virtual-time
//! hub. The virtual time it takes is divided by a limit computed in closed form (module
//! `closed_form`, shared with the UDS bench), without the simulator's code: the frames ISO-TP
//! needs (first frame, consecutive frames, flow controls) times each frame's worst-case bit
//! length at the configured rates, plus the STmin gaps. The simulator runs with worst-case stuffing for the ratio, so the ratio measures what
//! the hub and ISO-TP add on top of the frames themselves (goal: at most 5 %); the run with
//! exact stuffing shows how much real frames undercut the worst case. The wall time says what
//! the simulation costs per MiB.
//!
//! Run with `cargo bench -p canbus --bench isotp`.
#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test run

use std::thread;
use std::time::{Duration, Instant};

mod closed_form;

use canbus::isotp::StMin;
use canbus::{BusTiming, Filter, Hub, HubConfig, IsoTpConfig, IsoTpSocket, Stuffing, id};

use closed_form::{Format, limit_seconds};

const MIB: usize = 1 << 20;

struct Case {
    name: &'static str,
    format: Format,
}

/// Transfers `len` bytes; returns (virtual seconds, wall time).
fn simulate(case: &Case, stuffing: Stuffing, len: usize) -> (f64, Duration) {
    let case = &case.format;
    let timing = BusTiming::fd(case.nominal, case.data).unwrap().with_stuffing(stuffing);
    let hub = Hub::new(HubConfig::with_timing(timing)).unwrap();
    let (tester, ecu) = (id::standard(0x7E0).unwrap(), id::standard(0x7E8).unwrap());
    let config =
        |tx, rx| if case.fd { IsoTpConfig::fd(tx, rx) } else { IsoTpConfig::classic(tx, rx) };
    let mut ecu_config = config(ecu, tester);
    ecu_config.block_size = case.block_size;
    ecu_config.st_min = case.st_min;
    let (a, b) = (hub.attach().unwrap(), hub.attach().unwrap());
    a.set_filters(vec![Filter::exact(ecu)]).unwrap();
    b.set_filters(vec![Filter::exact(tester)]).unwrap();
    let mut sender = IsoTpSocket::new(a, config(tester, ecu)).unwrap();
    let mut receiver = IsoTpSocket::new(b, ecu_config).unwrap();
    receiver.link().hold();
    let message: Vec<u8> = (0..len).map(|i| (i * 31 + (i >> 9)) as u8).collect();
    let started = Instant::now();
    let handle = thread::spawn(move || receiver.recv(None).unwrap().unwrap());
    let done = sender.send(&message).unwrap();
    drop(sender);
    let received = handle.join().unwrap();
    let wall = started.elapsed();
    assert!(received == message);
    (done.since_epoch().as_secs_f64(), wall)
}

fn main() {
    let cases = [
        Case {
            name: "classic 500k",
            format: Format {
                fd: false,
                nominal: 500_000,
                data: 500_000,
                block_size: 0,
                st_min: StMin::ZERO,
            },
        },
        Case {
            name: "FD 500k/2M",
            format: Format {
                fd: true,
                nominal: 500_000,
                data: 2_000_000,
                block_size: 0,
                st_min: StMin::ZERO,
            },
        },
        Case {
            name: "classic 500k BS 16 STmin 500us",
            format: Format {
                fd: false,
                nominal: 500_000,
                data: 500_000,
                block_size: 16,
                st_min: StMin::hundred_micros(5).unwrap(),
            },
        },
        Case {
            name: "FD 500k/2M BS 8 STmin 1ms",
            format: Format {
                fd: true,
                nominal: 500_000,
                data: 2_000_000,
                block_size: 8,
                st_min: StMin::millis(1).unwrap(),
            },
        },
    ];
    for case in &cases {
        let limit = limit_seconds(&case.format, MIB as u64);
        let (virtual_worst, wall) = simulate(case, Stuffing::WorstCase, MIB);
        let (virtual_exact, _) = simulate(case, Stuffing::Exact, MIB);
        let ratio = virtual_worst / limit;
        println!(
            "isotp 1MiB {}: virtual {virtual_worst:.4} s, limit {limit:.4} s, ratio {ratio:.4} \
             (goal <= 1.05); sim wall {:.0} ms/MiB; exact stuffing virtual {virtual_exact:.4} s \
             ({:.3} of limit)",
            case.name,
            wall.as_secs_f64() * 1000.0,
            virtual_exact / limit
        );
        let line = serde_json::json!({"figure": format!("isotp 1MiB {}", case.name), "value": virtual_worst,
            "unit": "s (virtual)", "baseline": limit, "ratio": ratio, "goal": "<= 1.05"});
        println!("BENCH {line}");
    }
}
