//! Arbitration on the hub: lowest identifier first, base before extended on an equal base id,
//! data before remote, and no pre-emption of a frame already on the wire.
#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test run

mod common;

use std::time::Duration;

use canbus::id;
use canbus::{CanFrame, Timestamp};
use common::*;

const TIMEOUT: Duration = Duration::from_secs(1);

#[test]
fn pending_frames_go_in_priority_order() {
    let hub = classic_hub();
    let frames = [
        CanFrame::classic(id::standard(0x200).unwrap(), &[1]).unwrap(),
        CanFrame::classic(id::extended(0x100 << 18).unwrap(), &[2]).unwrap(),
        CanFrame::remote(id::standard(0x100).unwrap(), 1).unwrap(),
        CanFrame::classic(id::standard(0x100).unwrap(), &[3]).unwrap(),
        CanFrame::classic(id::extended(0x0FF << 18 | 0x3_FFFF).unwrap(), &[4]).unwrap(),
    ];
    let senders: Vec<_> = frames.iter().map(|_| hub.attach().unwrap()).collect();
    let monitor = hub.attach().unwrap();
    for (node, frame) in senders.iter().zip(&frames) {
        node.send(frame, Duration::ZERO, TIMEOUT).unwrap();
    }
    let order = [4, 3, 2, 1, 0];
    let mut bus_free = Timestamp::ZERO;
    for index in order {
        let received = monitor.recv(None).unwrap().unwrap();
        assert_eq!(received.frame, frames[index]);
        // Each frame starts when the previous one's intermission ends: the bus never idles.
        let time = hub.timing().frame_time(&frames[index]);
        assert_eq!(received.timestamp, bus_free + time.until_eof);
        bus_free += time.duration;
    }
    assert_eq!(hub.stats().frames, 5);
}

#[test]
fn a_frame_on_the_wire_is_not_preempted() {
    let hub = classic_hub();
    let (low, high, monitor) =
        (hub.attach().unwrap(), hub.attach().unwrap(), hub.attach().unwrap());
    let slow = CanFrame::classic(id::standard(0x700).unwrap(), &[0xAA; 8]).unwrap();
    let urgent = CanFrame::classic(id::standard(0x001).unwrap(), &[]).unwrap();
    low.send(&slow, Duration::ZERO, TIMEOUT).unwrap();
    // The urgent frame is queued 20 us into the slow one: it waits for the bus to go idle.
    high.sleep_until(Timestamp::from_nanos(20_000)).unwrap();
    high.send(&urgent, Duration::ZERO, TIMEOUT).unwrap();
    let first = monitor.recv(None).unwrap().unwrap();
    let second = monitor.recv(None).unwrap().unwrap();
    assert_eq!((first.frame, second.frame), (slow, urgent));
    let slow_time = hub.timing().frame_time(&slow);
    let urgent_time = hub.timing().frame_time(&urgent);
    assert_eq!(second.timestamp, Timestamp::ZERO + slow_time.duration + urgent_time.until_eof);
}

#[test]
fn losers_retry_when_the_bus_is_idle() {
    // Two nodes keep the bus busy with a stream each; the lower identifier always wins, so
    // the other node's frames go only in the gaps its queue leaves.
    let hub = classic_hub();
    let (a, b, monitor) = (hub.attach().unwrap(), hub.attach().unwrap(), hub.attach().unwrap());
    let high = CanFrame::classic(id::standard(0x010).unwrap(), &[1]).unwrap();
    let low = CanFrame::classic(id::standard(0x020).unwrap(), &[2]).unwrap();
    for _ in 0..3 {
        a.send(&high, Duration::ZERO, TIMEOUT).unwrap();
        b.send(&low, Duration::ZERO, TIMEOUT).unwrap();
    }
    let ids: Vec<u32> =
        (0..6).map(|_| monitor.recv(None).unwrap().unwrap().frame.raw_id()).collect();
    assert_eq!(ids, [0x10, 0x10, 0x10, 0x20, 0x20, 0x20]);
}
