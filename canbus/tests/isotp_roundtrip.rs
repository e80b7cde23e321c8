//! ISO-TP round trips over the virtual-time hub, classic CAN and CAN FD, with and without
//! flow-control restrictions.
#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test run

mod common;

use std::time::{Duration, Instant};

use canbus::isotp::StMin;
use canbus::{IsoTpConfig, Timestamp};
use common::*;

const SIZES: [usize; 8] = [1, 7, 8, 62, 4095, 4096, 1 << 20, 16 << 20];

fn sizes(fd: bool, sizes: &[usize]) {
    let hub = if fd { fd_hub() } else { classic_hub() };
    let (mut sender, mut receiver) = if fd { fd_pair(&hub) } else { classic_pair(&hub) };
    for &len in sizes {
        let started = Instant::now();
        let before = hub.now();
        let done = round_trip(&mut sender, &mut receiver, &pattern(len));
        eprintln!(
            "{} {len:>9} B: virtual {:?}, wall {:?}",
            if fd { "fd" } else { "classic" },
            done.saturating_duration_since(before),
            started.elapsed()
        );
    }
}

#[test]
fn classic_sizes() {
    sizes(false, &SIZES[..7]);
}

/// 2.4 million frames: the slowest test in debug builds (about 15 s), well under a second of
/// CPU per MiB in release.
#[test]
fn classic_16_mib() {
    sizes(false, &SIZES[7..]);
}

#[test]
fn fd_sizes() {
    sizes(true, &SIZES);
}

/// 1 MiB at 500 kbit/s takes about 35 s of bus time (40 s with worst-case stuffing).
#[test]
fn virtual_time_is_bus_time() {
    let hub = classic_hub();
    let (mut sender, mut receiver) = classic_pair(&hub);
    let done = round_trip(&mut sender, &mut receiver, &pattern(1 << 20));
    let seconds = done.since_epoch().as_secs_f64();
    assert!((33.0..40.5).contains(&seconds), "{seconds}");
}

/// Flow control restrictions and other channel shapes, each checked against its own timing.
#[test]
fn flow_control_variants() {
    let cases: [(&str, bool, u8, StMin, Option<u8>); 5] = [
        ("classic BS 8 STmin 1 ms", false, 8, StMin::millis(1).unwrap(), Some(0xCC)),
        (
            "classic BS 1 STmin 300 us, no padding",
            false,
            1,
            StMin::hundred_micros(3).unwrap(),
            None,
        ),
        ("fd BS 3 STmin 900 us", true, 3, StMin::hundred_micros(9).unwrap(), Some(0x55)),
        ("fd BS 0 STmin 0, no padding", true, 0, StMin::ZERO, None),
        ("fd BS 255 STmin 20 ms", true, 255, StMin::millis(20).unwrap(), Some(0xAA)),
    ];
    for (name, fd, block_size, st_min, padding) in cases {
        let hub = if fd { fd_hub() } else { classic_hub() };
        let make = |tx, rx| {
            let mut config =
                if fd { IsoTpConfig::fd(tx, rx) } else { IsoTpConfig::classic(tx, rx) };
            config.padding = padding;
            config
        };
        let mut ecu_config = make(ecu(), tester());
        ecu_config.block_size = block_size;
        ecu_config.st_min = st_min;
        let (mut sender, mut receiver) = sockets(&hub, make(tester(), ecu()), ecu_config);
        for len in [5, 100, 5000] {
            let start = hub.now();
            let done = round_trip(&mut sender, &mut receiver, &pattern(len));
            // Every gap between consecutive frames of a block is at least STmin.
            let per_frame = if fd { 63 } else { 7 };
            let frames = (len.saturating_sub(per_frame - 1)).div_ceil(per_frame) as u32;
            let blocks = if block_size == 0 { 1 } else { frames.div_ceil(block_size.into()) };
            let min_gaps = frames.saturating_sub(blocks);
            let elapsed = done.saturating_duration_since(start);
            assert!(elapsed >= st_min.duration() * min_gaps, "{name}, {len} B: {elapsed:?}");
        }
    }
}

#[test]
fn extended_identifiers() {
    let hub = fd_hub();
    let (tx, rx) =
        (canbus::id::extended(0x18DA_F1A0).unwrap(), canbus::id::extended(0x18DA_A0F1).unwrap());
    let (mut sender, mut receiver) =
        sockets(&hub, IsoTpConfig::fd(tx, rx), IsoTpConfig::fd(rx, tx));
    round_trip(&mut sender, &mut receiver, &pattern(10_000));
    // The reverse direction over the same sockets.
    let done = {
        let (sent, received) = exchange(&mut receiver, &mut sender, b"reply");
        assert_eq!(received.unwrap().unwrap(), b"reply");
        sent.unwrap()
    };
    assert!(done > Timestamp::ZERO + Duration::from_millis(1));
}
