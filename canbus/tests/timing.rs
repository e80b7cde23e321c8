//! Frame timing on the hub against hand-computed bit counts and an independent bit-level
//! model of ISO 11898-1.
#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test run

mod common;

use std::time::Duration;

use canbus::id::{self, Id};
use canbus::{BusTiming, CanFrame, FdFlags, Stuffing};
use common::*;

/// Classic base frame, id 0, no data: SOF, 11 id, RTR, IDE, r0 and the 4-bit DLC are all
/// dominant (19 zeros), and the CRC-15 of zeros is zero: 34 zeros in the stuffed region. A
/// stuff bit follows each run of five (the stuff bit itself starts a run of ones), so stuff
/// bits go after zeros 5, 10, 15, 20, 25 and 30: 6 of them, 40 bits. Then CRC delimiter, ACK
/// slot, ACK delimiter, 7 EOF and 3 IFS: 53 bits, 50 of them before the end of EOF.
#[test]
fn classic_zero_frame_is_53_bits() {
    let hub = classic_hub();
    let (a, b) = (hub.attach().unwrap(), hub.attach().unwrap());
    let frame = CanFrame::classic(id::standard(0).unwrap(), &[]).unwrap();
    let time = hub.timing().frame_time(&frame);
    assert_eq!((time.nominal_bits, time.stuff_bits), (53, 6));

    let first = a.transmit(&frame, Duration::from_secs(1)).unwrap();
    let second = a.transmit(&frame, Duration::from_secs(1)).unwrap();
    // 2 us per bit at 500 kbit/s: EOF ends at bit 50; the next SOF follows the intermission.
    assert_eq!(first.as_nanos(), 50 * 2_000);
    assert_eq!(second.as_nanos(), (53 + 50) * 2_000);
    assert_eq!(b.recv(None).unwrap().unwrap().timestamp, first);
    assert_eq!(b.recv(None).unwrap().unwrap().timestamp, second);
}

/// Worst case per the closed form: 8 data bytes take 135 bits (base id) or 160 (extended).
#[test]
fn worst_case_eight_bytes() {
    let timing = BusTiming::classic(500_000).unwrap().with_stuffing(Stuffing::WorstCase);
    let base = CanFrame::classic(id::standard(0x7E0).unwrap(), &[0; 8]).unwrap();
    let extended = CanFrame::classic(id::extended(0x18DA_F110).unwrap(), &[0; 8]).unwrap();
    assert_eq!(timing.frame_time(&base).nominal_bits, 135);
    assert_eq!(timing.frame_time(&extended).nominal_bits, 160);
    assert_eq!(timing.frame_time(&base).duration, Duration::from_micros(270));
}

/// CAN FD base frame, id 0x2AA, 16 bytes of 0x55, BRS: every field alternates, so there are
/// no dynamic stuff bits. Nominal: SOF + 11 id + RRS + IDE + FDF + res + BRS = 17, then ACK
/// slot, ACK delimiter, 7 EOF, 3 IFS = 29 bits at 2 us. Data phase: ESI + 4 DLC + 128 data +
/// 4 stuff count + 17 CRC + 6 fixed stuff bits + CRC delimiter = 161 bits at 0.5 us.
#[test]
fn fd_frame_hand_count() {
    let hub = fd_hub();
    let (a, b) = (hub.attach().unwrap(), hub.attach().unwrap());
    let frame = CanFrame::fd(id::standard(0x2AA).unwrap(), &[0x55; 16], brs(), 0).unwrap();
    let time = hub.timing().frame_time(&frame);
    assert_eq!((time.nominal_bits, time.data_bits, time.stuff_bits), (29, 161, 6));
    let sent = a.transmit(&frame, Duration::from_secs(1)).unwrap();
    assert_eq!(sent.as_nanos(), (29 - 3) * 2_000 + 161 * 500);
    assert_eq!(b.recv(None).unwrap().unwrap().timestamp, sent);
}

fn brs() -> FdFlags {
    FdFlags { brs: true, esi: false }
}

// ---- an independent, deliberately naive model: one bool per bit ----

fn push(bits: &mut Vec<bool>, value: u64, n: u32) {
    for i in (0..n).rev() {
        bits.push((value >> i) & 1 == 1);
    }
}

fn arbitration(bits: &mut Vec<bool>, id: Id, rtr: bool) {
    bits.push(false);
    match id {
        Id::Standard(id) => {
            push(bits, id.as_raw().into(), 11);
            bits.push(rtr);
            bits.push(false);
        }
        Id::Extended(id) => {
            push(bits, (id.as_raw() >> 18).into(), 11);
            bits.extend([true, true]);
            push(bits, (id.as_raw() & 0x3FFFF).into(), 18);
            bits.push(rtr);
        }
    }
}

fn crc15(bits: &[bool]) -> u64 {
    let mut crc = 0u64;
    for &bit in bits {
        let feedback = bit ^ (crc >> 14 & 1 == 1);
        crc = (crc << 1) & 0x7FFF;
        if feedback {
            crc ^= 0x4599;
        }
    }
    crc
}

/// Stuff bits needed for `bits` given the previous level and run; "after five equal bits".
/// Returns (stuff bits inserted before each index), plus whether a sixth would follow.
fn stuff_positions(bits: &[bool]) -> (Vec<usize>, bool) {
    let (mut level, mut run, mut stuffs) = (true, 0, Vec::new());
    for (index, &bit) in bits.iter().enumerate() {
        if run == 5 {
            stuffs.push(index);
            level = !level;
            run = 1;
        }
        if bit == level {
            run += 1;
        } else {
            level = bit;
            run = 1;
        }
    }
    (stuffs, run == 5)
}

/// (nominal bits, data bits) by the naive model.
fn naive(frame: &CanFrame) -> (u32, u32) {
    let mut bits = Vec::new();
    match frame.fd_flags() {
        None => {
            arbitration(&mut bits, frame.id(), frame.is_remote());
            let reserved = if frame.is_extended_id() { 2 } else { 1 };
            push(&mut bits, 0, reserved);
            push(&mut bits, frame.dlc_code().into(), 4);
            for &byte in frame.data() {
                push(&mut bits, byte.into(), 8);
            }
            let crc = crc15(&bits);
            push(&mut bits, crc, 15);
            let (stuffs, trailing) = stuff_positions(&bits);
            let total = bits.len() + stuffs.len() + usize::from(trailing) + 13;
            (total as u32, 0)
        }
        Some(flags) => {
            arbitration(&mut bits, frame.id(), false);
            bits.extend([true, false, flags.brs]);
            let switch = bits.len(); // bits before this index are nominal
            bits.push(flags.esi);
            push(&mut bits, frame.dlc_code().into(), 4);
            for &byte in frame.data() {
                push(&mut bits, byte.into(), 8);
            }
            let (stuffs, _) = stuff_positions(&bits);
            let before = stuffs.iter().filter(|&&index| index < switch).count();
            let after = stuffs.len() - before;
            let crc_len = if frame.len() > 16 { 21 } else { 17 };
            let fixed = if crc_len == 17 { 6 } else { 7 };
            let nominal = switch + before + 12;
            let data = bits.len() - switch + after + 4 + crc_len + fixed + 1;
            if flags.brs { (nominal as u32, data as u32) } else { ((nominal + data) as u32, 0) }
        }
    }
}

#[test]
fn matches_naive_bit_model() {
    let timing = BusTiming::fd(500_000, 2_000_000).unwrap();
    let ids = [
        id::standard(0).unwrap(),
        id::standard(0x7FF).unwrap(),
        id::standard(0x7E0).unwrap(),
        id::extended(0).unwrap(),
        id::extended(0x1FFF_FFFF).unwrap(),
        id::extended(0x18DA_F110).unwrap(),
    ];
    let mut checked = 0;
    for (n, &id) in ids.iter().enumerate() {
        for seed in 0..40usize {
            let fill: Vec<u8> = pattern(64 + seed)
                .into_iter()
                .skip(seed)
                .map(|b| {
                    // Mix in long runs of equal bits, which is where stuffing happens.
                    if (b as usize + n).is_multiple_of(3) {
                        0
                    } else if b.is_multiple_of(5) {
                        0xFF
                    } else {
                        b
                    }
                })
                .collect();
            let len = seed % 9;
            let mut frames = vec![
                CanFrame::classic(id, &fill[..len]).unwrap(),
                CanFrame::remote(id, len).unwrap(),
            ];
            for fd_len in [0, 5, 8, 12, 16, 20, 32, 48, 64] {
                for flags in [brs(), FdFlags::default(), FdFlags { brs: true, esi: true }] {
                    frames.push(CanFrame::fd(id, &fill[..fd_len], flags, 0).unwrap());
                }
            }
            for frame in frames {
                let time = timing.frame_time(&frame);
                assert_eq!((time.nominal_bits, time.data_bits), naive(&frame), "{frame:?}");
                checked += 1;
            }
        }
    }
    assert!(checked > 6000);
}
