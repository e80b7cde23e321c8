//! The hub's bus behaviour: filters, faults, error confinement, clock modes, closing.
#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test run

mod common;

use std::thread;
use std::time::{Duration, Instant};

use canbus::hub::ErrorState;
use canbus::id;
use canbus::{
    Babble, BusTiming, CanFrame, ClockMode, Error, FaultAction, FaultPlan, FaultRule, Filter, Hub,
    HubConfig, Timestamp, Trigger,
};
use common::*;

const TIMEOUT: Duration = Duration::from_secs(1);

fn frame(raw: u16, data: &[u8]) -> CanFrame {
    CanFrame::classic(id::standard(raw).unwrap(), data).unwrap()
}

fn hub_with_faults(faults: FaultPlan) -> Hub {
    let timing = BusTiming::classic(500_000).unwrap();
    Hub::new(HubConfig { faults, ..HubConfig::with_timing(timing) }).unwrap()
}

#[test]
fn broadcast_with_acceptance_filters() {
    let hub = classic_hub();
    let (sender, all, some, none) = (
        hub.attach().unwrap(),
        hub.attach().unwrap(),
        hub.attach().unwrap(),
        hub.attach().unwrap(),
    );
    some.set_filters(vec![Filter::masked(id::standard(0x100).unwrap(), 0x700)]).unwrap();
    none.set_filters(Vec::new()).unwrap();
    for raw in [0x100, 0x1FF, 0x200] {
        sender.transmit(&frame(raw, &[]), TIMEOUT).unwrap();
    }
    let ids = |node: &canbus::Node| {
        std::iter::from_fn(|| node.try_recv().unwrap())
            .map(|r| r.frame.raw_id())
            .collect::<Vec<_>>()
    };
    assert_eq!(ids(&all), [0x100, 0x1FF, 0x200]);
    assert_eq!(ids(&some), [0x100, 0x1FF]);
    assert_eq!(ids(&none), Vec::<u32>::new());
    assert_eq!(ids(&sender), Vec::<u32>::new(), "a node does not hear itself");
}

#[test]
fn corrupted_frame_is_retransmitted_after_an_error_frame() {
    let plan = FaultPlan::new(7).with(FaultRule::new(FaultAction::Corrupt, Trigger::Nth(0)));
    let hub = hub_with_faults(plan);
    let (a, b) = (hub.attach().unwrap(), hub.attach().unwrap());
    let message = frame(0x123, &[1, 2, 3, 4]);
    let sent = a.transmit(&message, TIMEOUT).unwrap();
    let time = hub.timing().frame_time(&message);
    // The broken attempt with its error frame, then the good one.
    assert_eq!(sent, Timestamp::ZERO + time.with_error_frame + time.until_eof);
    let received = b.recv(None).unwrap().unwrap();
    assert_eq!((received.frame, received.timestamp), (message, sent));
    assert!(b.try_recv().unwrap().is_none(), "the corrupted copy never arrives");
    let stats = a.stats().unwrap();
    assert_eq!((stats.tx_errors, stats.tx_frames, stats.counters.tec), (1, 1, 7));
    assert_eq!(b.stats().unwrap().counters.rec, 0);
    assert_eq!(hub.stats().error_frames, 1);
}

#[test]
fn repeated_errors_put_the_sender_bus_off_until_it_recovers() {
    let target = id::standard(0x321).unwrap();
    let plan = FaultPlan::new(1)
        .with(FaultRule::new(FaultAction::Corrupt, Trigger::Always).for_id(target));
    let hub = hub_with_faults(plan);
    let (a, b) = (hub.attach().unwrap(), hub.attach().unwrap());
    let doomed = CanFrame::classic(target, &[0; 8]).unwrap();
    assert!(matches!(a.transmit(&doomed, TIMEOUT), Err(Error::BusOff)));
    let stats = a.stats().unwrap();
    assert_eq!((stats.state, stats.tx_errors), (ErrorState::BusOff, 32));
    let receiver = b.stats().unwrap();
    assert_eq!((receiver.counters.rec, receiver.state), (32, ErrorState::Active));
    assert!(matches!(a.send(&frame(0x10, &[]), Duration::ZERO, TIMEOUT), Err(Error::BusOff)));
    // 128 x 11 recessive bits later it may try again.
    // (counted from the end of the last error frame, 3 bits after the flush reported it)
    a.sleep_until(a.now() + Duration::from_micros((128 * 11 + 3) * 2)).unwrap();
    assert_eq!(a.stats().unwrap().state, ErrorState::Active);
    a.transmit(&frame(0x10, &[]), TIMEOUT).unwrap();
    assert_eq!(b.recv(None).unwrap().unwrap().frame.raw_id(), 0x10);
}

#[test]
fn dropped_frame_is_sent_but_never_received() {
    let plan = FaultPlan::new(1).with(FaultRule::new(FaultAction::Drop, Trigger::Nth(1)));
    let hub = hub_with_faults(plan);
    let (a, b) = (hub.attach().unwrap(), hub.attach().unwrap());
    for raw in 1..=3 {
        a.transmit(&frame(raw, &[]), TIMEOUT).unwrap();
    }
    let ids: Vec<u32> =
        std::iter::from_fn(|| b.try_recv().unwrap()).map(|r| r.frame.raw_id()).collect();
    assert_eq!(ids, [1, 3]);
    assert_eq!((hub.stats().dropped, a.stats().unwrap().tx_frames), (1, 3));
}

#[test]
fn delayed_frame_waits_and_lets_others_pass() {
    let delayed = id::standard(0x001).unwrap();
    let plan = FaultPlan::new(1).with(
        FaultRule::new(FaultAction::Delay(Duration::from_millis(5)), Trigger::Always)
            .for_id(delayed),
    );
    let hub = hub_with_faults(plan);
    let (a, b, monitor) = (hub.attach().unwrap(), hub.attach().unwrap(), hub.attach().unwrap());
    a.send(&CanFrame::classic(delayed, &[]).unwrap(), Duration::ZERO, TIMEOUT).unwrap();
    b.send(&frame(0x700, &[]), Duration::ZERO, TIMEOUT).unwrap();
    let first = monitor.recv(None).unwrap().unwrap();
    let second = monitor.recv(None).unwrap().unwrap();
    assert_eq!((first.frame.raw_id(), second.frame.raw_id()), (0x700, 0x001));
    assert!(second.timestamp >= Timestamp::ZERO + Duration::from_millis(5));
    assert_eq!(hub.stats().delayed, 1);
}

#[test]
fn babbling_node_starves_lower_priorities_for_its_period() {
    let babble = Babble {
        start: Duration::from_millis(1),
        duration: Duration::from_millis(20),
        frame: frame(0x000, &[0xFF; 8]),
    };
    let hub = hub_with_faults(FaultPlan::new(1).with_babble(babble));
    let (a, b) = (hub.attach().unwrap(), hub.attach().unwrap());
    b.set_filters(vec![Filter::exact(id::standard(0x100).unwrap())]).unwrap();
    a.sleep_until(Timestamp::ZERO + Duration::from_millis(2)).unwrap();
    let blocked = a.transmit(&frame(0x100, &[1]), Duration::from_millis(5));
    assert!(matches!(blocked, Err(Error::TxTimeout { .. })), "{blocked:?}");
    a.abort_tx().unwrap();
    a.sleep_until(Timestamp::ZERO + Duration::from_millis(25)).unwrap();
    let sent = a.transmit(&frame(0x100, &[2]), Duration::from_millis(5)).unwrap();
    assert!(sent > Timestamp::ZERO + Duration::from_millis(21));
    let received = b.recv(None).unwrap().unwrap();
    assert_eq!(received.frame.data(), &[2], "the aborted frame never went out");
    let babbled = hub.stats().babble_frames;
    // 20 ms of back-to-back 8-byte frames at 500 kbit/s, each at most 135 bits.
    assert!(babbled >= 20_000 / 270, "{babbled}");
}

#[test]
fn stmin_gap_spaces_a_nodes_frames() {
    let hub = classic_hub();
    let (a, monitor) = (hub.attach().unwrap(), hub.attach().unwrap());
    let gap = Duration::from_micros(900);
    for raw in 1..=3 {
        a.send(&frame(raw, &[0; 8]), gap, TIMEOUT).unwrap();
    }
    let stamps: Vec<Timestamp> =
        (0..3).map(|_| monitor.recv(None).unwrap().unwrap().timestamp).collect();
    let time = |raw| hub.timing().frame_time(&frame(raw, &[0; 8])).until_eof;
    // The first frame goes at once; each next one starts `gap` after the previous ended.
    assert_eq!(stamps[0], Timestamp::ZERO + time(1));
    assert_eq!(stamps[1].saturating_duration_since(stamps[0]), gap + time(2));
    assert_eq!(stamps[2].saturating_duration_since(stamps[1]), gap + time(3));
}

#[test]
fn receive_queue_overflow_is_counted() {
    let timing = BusTiming::classic(1_000_000).unwrap();
    let hub = Hub::new(HubConfig { rx_queue_len: 2, ..HubConfig::with_timing(timing) }).unwrap();
    let (a, b) = (hub.attach().unwrap(), hub.attach().unwrap());
    for raw in 1..=4 {
        a.transmit(&frame(raw, &[]), TIMEOUT).unwrap();
    }
    assert_eq!(b.stats().unwrap().rx_overflows, 2);
    assert_eq!(b.try_recv().unwrap().unwrap().frame.raw_id(), 1);
}

/// Same seed, same traffic: the same frames at the same virtual instants, thread timing aside.
#[test]
fn faulty_runs_are_reproducible() {
    fn run() -> (Vec<(Timestamp, CanFrame)>, canbus::hub::BusStats) {
        let plan = FaultPlan::new(0xC0FFEE)
            .with(FaultRule::new(FaultAction::Corrupt, Trigger::Chance { per_million: 50_000 }))
            .with(FaultRule::new(
                FaultAction::Delay(Duration::from_micros(300)),
                Trigger::Chance { per_million: 50_000 },
            ));
        let hub = hub_with_faults(plan);
        let monitor = hub.attach().unwrap();
        let (mut sender, mut receiver) = classic_pair(&hub);
        for len in [100, 3000, 10] {
            round_trip(&mut sender, &mut receiver, &pattern(len));
        }
        let trace = std::iter::from_fn(|| monitor.try_recv().unwrap())
            .map(|r| (r.timestamp, r.frame))
            .collect();
        (trace, hub.stats())
    }
    let (first, second) = (run(), run());
    assert!(first.1.error_frames > 0 && first.1.delayed > 0, "{:?}", first.1);
    assert_eq!(first, second);
}

#[test]
fn paced_clock_keeps_up_with_wall_time() {
    let timing = BusTiming::classic(125_000).unwrap();
    let hub =
        Hub::new(HubConfig { clock: ClockMode::Paced, ..HubConfig::with_timing(timing) }).unwrap();
    let (a, b) = (hub.attach().unwrap(), hub.attach().unwrap());
    let started = Instant::now();
    for raw in 0..40 {
        a.send(&frame(raw, &[0; 8]), Duration::ZERO, TIMEOUT).unwrap();
    }
    let last = a.flush(TIMEOUT).unwrap();
    // 40 frames of about 1 ms each: wall time may not run behind virtual time.
    assert!(started.elapsed() >= last.since_epoch(), "{:?} < {last}", started.elapsed());
    assert_eq!(std::iter::from_fn(|| b.try_recv().unwrap()).count(), 40);
}

#[test]
fn real_time_clock_moves_frames_between_threads() {
    let timing = BusTiming::classic(1_000_000).unwrap();
    let hub = Hub::new(HubConfig { clock: ClockMode::RealTime, ..HubConfig::with_timing(timing) })
        .unwrap();
    let (a, b) = (hub.attach().unwrap(), hub.attach().unwrap());
    let echo = thread::spawn(move || {
        let request = b.recv(Some(b.now() + Duration::from_secs(5))).unwrap().unwrap();
        b.transmit(&frame(0x200, request.frame.data()), TIMEOUT).unwrap();
    });
    let started = a.now();
    a.transmit(&frame(0x100, &[42]), TIMEOUT).unwrap();
    let reply = a.recv(Some(a.now() + Duration::from_secs(5))).unwrap().unwrap();
    echo.join().unwrap();
    assert_eq!((reply.frame.raw_id(), reply.frame.data()), (0x200, &[42][..]));
    assert!(reply.timestamp > started);
    assert!(a.recv(Some(a.now() + Duration::from_millis(20))).unwrap().is_none());
}

#[test]
fn closing_the_hub_wakes_blocked_calls() {
    let hub = classic_hub();
    let node = hub.attach().unwrap();
    node.hold();
    let waiter = thread::spawn(move || node.recv(None));
    // Nothing is pending and no deadline is set: only closing ends the wait.
    thread::sleep(Duration::from_millis(50));
    hub.close();
    assert!(matches!(waiter.join().unwrap(), Err(Error::Closed)));
    assert!(matches!(hub.attach(), Err(Error::Closed)));
}
