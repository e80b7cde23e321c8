//! ISO-TP throughput on the simulated bus against the bus's theoretical limit.
//!
//! For each configuration a 1 MiB message goes from one node to another on the virtual-time
//! hub. The virtual time it takes is divided by a limit computed here in closed form, without
//! the simulator's code: the frames ISO-TP needs (first frame, consecutive frames, flow
//! controls) times each frame's worst-case bit length at the configured rates, plus the STmin
//! gaps. The simulator runs with worst-case stuffing for the ratio, so the ratio measures what
//! the hub and ISO-TP add on top of the frames themselves (goal: at most 5 %); the run with
//! exact stuffing shows how much real frames undercut the worst case. The wall time says what
//! the simulation costs per MiB.
//!
//! Run with `cargo bench -p canbus --bench isotp`.
#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test run

use std::thread;
use std::time::{Duration, Instant};

use canbus::isotp::StMin;
use canbus::{BusTiming, Filter, Hub, HubConfig, IsoTpConfig, IsoTpSocket, Stuffing, id};

const MIB: usize = 1 << 20;

struct Case {
    name: &'static str,
    fd: bool,
    nominal: u32,
    data: u32,
    block_size: u8,
    st_min: StMin,
}

// ---- the closed form ----

/// Worst-case bits of a classic base-format data frame with `n` bytes, intermission included:
/// 34 + 8n stuffed bits, floor((34 + 8n - 1) / 4) stuff bits, 13 fixed bits.
fn classic_bits(n: u64) -> u64 {
    let stuffed = 34 + 8 * n;
    stuffed + (stuffed - 1) / 4 + 13
}

/// Worst-case (nominal, data) bits of a CAN FD base-format frame with BRS and `n` bytes (a
/// valid FD length). Nominal: SOF..BRS (17) and its stuff bits, ACK, delimiters, EOF, IFS (12).
/// Data: ESI, DLC, data, their stuff bits, stuff count, CRC, fixed stuff bits, CRC delimiter.
fn fd_bits(n: u64) -> (u64, u64) {
    let arbitration = 17;
    let dynamic = arbitration + 5 + 8 * n;
    let stuff_nominal = (arbitration - 2) / 4;
    let stuff_data = (dynamic - 2) / 4 - stuff_nominal;
    let crc_field = if n > 16 { 4 + 21 + 7 } else { 4 + 17 + 6 };
    (arbitration + stuff_nominal + 12, 5 + 8 * n + stuff_data + crc_field + 1)
}

/// Smallest CAN FD length holding `n` bytes.
fn fd_len(n: u64) -> u64 {
    [0, 1, 2, 3, 4, 5, 6, 7, 8, 12, 16, 20, 24, 32, 48, 64]
        .into_iter()
        .find(|&l| l >= n)
        .unwrap_or(64)
}

/// Seconds a frame carrying `n` payload bytes (before padding) occupies the bus. ISO-TP pads
/// with 0xCC by default: classic frames to 8 bytes, FD frames to at least 8 and then to the
/// next valid length.
fn frame_seconds(case: &Case, n: u64) -> f64 {
    if case.fd {
        let (nominal, data) = fd_bits(fd_len(n.max(8)));
        nominal as f64 / f64::from(case.nominal) + data as f64 / f64::from(case.data)
    } else {
        classic_bits(8) as f64 / f64::from(case.nominal)
    }
}

/// The transfer's lower bound in seconds: first frame, flow controls and consecutive frames
/// back to back, consecutive frames within a block at least STmin apart, ending at the last
/// frame's end of frame (its intermission does not count).
fn limit_seconds(case: &Case, len: u64) -> f64 {
    let tx_dl: u64 = if case.fd { 64 } else { 8 };
    let first_payload = if len > 4095 { tx_dl - 6 } else { tx_dl - 2 };
    let per_cf = tx_dl - 1;
    let rest = len - first_payload;
    let full_cfs = rest / per_cf;
    let last = rest % per_cf;
    let cfs = full_cfs + u64::from(last > 0);
    let blocks = if case.block_size == 0 { 1 } else { cfs.div_ceil(case.block_size.into()) };
    let gaps_in_blocks = cfs - blocks;

    let ff = frame_seconds(case, tx_dl);
    let fc = frame_seconds(case, 3);
    let cf = frame_seconds(case, tx_dl);
    let last_cf = if last > 0 { frame_seconds(case, last + 1) } else { cf };
    let intermission = 3.0 / f64::from(case.nominal);
    let st_min = case.st_min.duration().as_secs_f64();
    // Within a block the next frame starts STmin after the previous one's end of frame, or
    // when its intermission ends, whichever is later.
    let gap_extra = (st_min - intermission).max(0.0);
    ff + fc * blocks as f64
        + cf * full_cfs as f64
        + if last > 0 { last_cf } else { 0.0 }
        + gap_extra * gaps_in_blocks as f64
        - intermission
}

// ---- the simulation ----

/// Transfers `len` bytes; returns (virtual seconds, wall time).
fn simulate(case: &Case, stuffing: Stuffing, len: usize) -> (f64, Duration) {
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
            fd: false,
            nominal: 500_000,
            data: 500_000,
            block_size: 0,
            st_min: StMin::ZERO,
        },
        Case {
            name: "FD 500k/2M",
            fd: true,
            nominal: 500_000,
            data: 2_000_000,
            block_size: 0,
            st_min: StMin::ZERO,
        },
        Case {
            name: "classic 500k BS 16 STmin 500us",
            fd: false,
            nominal: 500_000,
            data: 500_000,
            block_size: 16,
            st_min: StMin::hundred_micros(5).unwrap(),
        },
        Case {
            name: "FD 500k/2M BS 8 STmin 1ms",
            fd: true,
            nominal: 500_000,
            data: 2_000_000,
            block_size: 8,
            st_min: StMin::millis(1).unwrap(),
        },
    ];
    for case in &cases {
        let limit = limit_seconds(case, MIB as u64);
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
    }
}
