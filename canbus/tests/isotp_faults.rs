//! ISO-TP under faults and protocol violations: every failure is clean and distinct, and both
//! sides exchange the next message normally afterwards.
#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test run

mod common;

use std::thread;
use std::time::Duration;

use canbus::isotp::{StMin, Timer};
use canbus::{
    Babble, BusTiming, CanFrame, Error, FaultAction, FaultPlan, FaultRule, Hub, HubConfig,
    IsoTpConfig, IsoTpSocket, Node, Timestamp, Trigger,
};
use common::*;

fn hub_with_faults(faults: FaultPlan) -> Hub {
    let timing = BusTiming::classic(500_000).unwrap();
    Hub::new(HubConfig { faults, ..HubConfig::with_timing(timing) }).unwrap()
}

fn nth(action: FaultAction, n: u64, id: canbus::id::Id) -> FaultPlan {
    FaultPlan::new(1).with(FaultRule::new(action, Trigger::Nth(n)).for_id(id))
}

fn ok_afterwards(sender: &mut IsoTpSocket<Node>, receiver: &mut IsoTpSocket<Node>) {
    round_trip(sender, receiver, &pattern(300));
    round_trip(sender, receiver, b"short");
}

fn assert_timeout(result: &Result<impl std::fmt::Debug, Error>, expected: Timer) {
    assert!(
        matches!(result, Err(Error::Timeout { timer, .. }) if *timer == expected),
        "expected {expected} timeout, got {result:?}"
    );
}

#[test]
fn corrupted_frames_are_retransmitted() {
    let clean = {
        let hub = classic_hub();
        let (mut sender, mut receiver) = classic_pair(&hub);
        round_trip(&mut sender, &mut receiver, &pattern(100))
    };
    let hub = hub_with_faults(nth(FaultAction::Corrupt, 3, tester()));
    let (mut sender, mut receiver) = classic_pair(&hub);
    let faulty = round_trip(&mut sender, &mut receiver, &pattern(100));
    assert_eq!(hub.stats().error_frames, 1);
    // The broken frame up to its ACK delimiter plus the error frame: well over 50 bits.
    assert!(faulty.saturating_duration_since(clean) > Duration::from_micros(100));
    ok_afterwards(&mut sender, &mut receiver);
}

#[test]
fn random_corruption_is_survived() {
    let plan = FaultPlan::new(99)
        .with(FaultRule::new(FaultAction::Corrupt, Trigger::Chance { per_million: 50_000 }));
    let hub = hub_with_faults(plan);
    let (mut sender, mut receiver) = classic_pair(&hub);
    round_trip(&mut sender, &mut receiver, &pattern(64 << 10));
    assert!(hub.stats().error_frames > 100, "{:?}", hub.stats());
}

#[test]
fn lost_consecutive_frame_is_a_sequence_error() {
    // Frames from the tester: FF is #0, CF1 #1, CF2 #2.
    let hub = hub_with_faults(nth(FaultAction::Drop, 2, tester()));
    let (mut sender, mut receiver) = classic_pair(&hub);
    let (sent, received) = exchange(&mut sender, &mut receiver, &pattern(100));
    // Without blocks the sender gets no more feedback and believes it is done.
    assert!(sent.is_ok());
    assert!(matches!(received, Err(Error::WrongSequence { expected: 2, got: 3 })), "{received:?}");
    ok_afterwards(&mut sender, &mut receiver);
}

#[test]
fn lost_consecutive_frame_with_blocks_times_out_the_sender() {
    let hub = hub_with_faults(nth(FaultAction::Drop, 2, tester()));
    let mut ecu_config = IsoTpConfig::classic(ecu(), tester());
    ecu_config.block_size = 4;
    let (mut sender, mut receiver) =
        sockets(&hub, IsoTpConfig::classic(tester(), ecu()), ecu_config);
    let (sent, received) = exchange(&mut sender, &mut receiver, &pattern(100));
    assert!(matches!(received, Err(Error::WrongSequence { .. })), "{received:?}");
    assert_timeout(&sent, Timer::Bs);
    ok_afterwards(&mut sender, &mut receiver);
}

#[test]
fn lost_last_frame_times_out_the_receiver() {
    // 20 bytes: FF with 6, CFs with 7 and 7: the last CF is frame #2.
    let hub = hub_with_faults(nth(FaultAction::Drop, 2, tester()));
    let (mut sender, mut receiver) = classic_pair(&hub);
    let (sent, received) = exchange(&mut sender, &mut receiver, &pattern(20));
    assert!(sent.is_ok());
    assert_timeout(&received, Timer::Cr);
    ok_afterwards(&mut sender, &mut receiver);
}

#[test]
fn lost_first_frame_times_out_the_sender() {
    let hub = hub_with_faults(nth(FaultAction::Drop, 0, tester()));
    let (mut sender, mut receiver) = classic_pair(&hub);
    let deadline = Some(Timestamp::ZERO + Duration::from_secs(3));
    let (sent, received) = exchange_until(&mut sender, &mut receiver, &pattern(100), deadline);
    assert_timeout(&sent, Timer::Bs);
    assert!(matches!(received, Ok(None)), "{received:?}");
    ok_afterwards(&mut sender, &mut receiver);
}

#[test]
fn lost_flow_control_times_out_both_sides() {
    let hub = hub_with_faults(nth(FaultAction::Drop, 0, ecu()));
    let (mut sender, mut receiver) = classic_pair(&hub);
    let (sent, received) = exchange(&mut sender, &mut receiver, &pattern(100));
    assert_timeout(&sent, Timer::Bs);
    assert_timeout(&received, Timer::Cr);
    ok_afterwards(&mut sender, &mut receiver);
}

#[test]
fn oversized_message_gets_overflow() {
    let hub = classic_hub();
    let mut ecu_config = IsoTpConfig::classic(ecu(), tester());
    ecu_config.max_message_len = 1000;
    let (mut sender, mut receiver) =
        sockets(&hub, IsoTpConfig::classic(tester(), ecu()), ecu_config);
    let (sent, received) = exchange(&mut sender, &mut receiver, &pattern(2000));
    assert!(matches!(sent, Err(Error::PeerOverflow { len: 2000 })), "{sent:?}");
    assert!(
        matches!(received, Err(Error::MessageTooLarge { len: 2000, max: 1000 })),
        "{received:?}"
    );
    round_trip(&mut sender, &mut receiver, &pattern(1000));
}

#[test]
fn four_gigabyte_claim_is_refused_without_allocating() {
    let hub = classic_hub();
    let raw = node_for(&hub, ecu());
    let mut receiver =
        IsoTpSocket::new(node_for(&hub, tester()), IsoTpConfig::classic(ecu(), tester())).unwrap();
    receiver.link().hold();
    let handle = thread::spawn(move || (receiver.recv(None), receiver));
    let first = CanFrame::classic(tester(), &[0x10, 0, 0xFF, 0xFF, 0xFF, 0xFF, 1, 2]).unwrap();
    raw.transmit(&first, Duration::from_secs(1)).unwrap();
    let reply = raw.recv(None).unwrap().unwrap();
    assert_eq!(&reply.frame.data()[..3], &[0x32, 0, 0], "flow control: overflow");
    raw.release();
    let (received, _) = handle.join().unwrap();
    assert!(
        matches!(received, Err(Error::MessageTooLarge { len: 0xFFFF_FFFF, .. })),
        "{received:?}"
    );
}

#[test]
fn wait_frames_beyond_the_limit_abort_the_sender() {
    let hub = classic_hub();
    let mut ecu_config = IsoTpConfig::classic(ecu(), tester());
    ecu_config.wait_frames = 3;
    let mut tester_config = IsoTpConfig::classic(tester(), ecu());
    tester_config.max_wait_frames = 2;
    let (mut sender, mut receiver) = sockets(&hub, tester_config, ecu_config);
    let (sent, received) = exchange(&mut sender, &mut receiver, &pattern(100));
    assert!(matches!(sent, Err(Error::WaitLimit { max: 2 })), "{sent:?}");
    assert_timeout(&received, Timer::Cr);

    // Within the limit the waits only cost time: three waits 100 ms apart.
    let mut tester_config = IsoTpConfig::classic(tester(), ecu());
    tester_config.max_wait_frames = 3;
    let mut ecu_config = IsoTpConfig::classic(ecu(), tester());
    ecu_config.wait_frames = 3;
    let (mut sender, mut receiver) = sockets(&hub, tester_config, ecu_config);
    let start = hub.now();
    let done = round_trip(&mut sender, &mut receiver, &pattern(100));
    assert!(done.saturating_duration_since(start) > Duration::from_millis(300));
}

/// A peer that speaks ISO-TP by hand: `raw` sends as the tester and hears the ECU.
fn scripted_reception(
    config: IsoTpConfig,
    script: impl FnOnce(&Node),
) -> (Result<Option<Vec<u8>>, Error>, IsoTpSocket<Node>) {
    let hub = classic_hub();
    let raw = node_for(&hub, ecu());
    let mut receiver = IsoTpSocket::new(node_for(&hub, tester()), config).unwrap();
    receiver.link().hold();
    let handle = thread::spawn(move || {
        let received = receiver.recv(None);
        receiver.link().release();
        (received, receiver)
    });
    script(&raw);
    raw.release();
    handle.join().unwrap()
}

fn send_raw(raw: &Node, bytes: &[u8]) {
    raw.transmit(&CanFrame::classic(tester(), bytes).unwrap(), Duration::from_secs(1)).unwrap();
}

#[test]
fn new_single_frame_interrupts_a_reception() {
    let (received, mut receiver) =
        scripted_reception(IsoTpConfig::classic(ecu(), tester()), |raw| {
            send_raw(raw, &[0x10, 20, 1, 2, 3, 4, 5, 6]);
            assert_eq!(raw.recv(None).unwrap().unwrap().frame.data()[0], 0x30);
            send_raw(raw, &[0x21, 7, 8, 9, 10, 11, 12, 13]);
            send_raw(raw, &[0x05, b'h', b'e', b'l', b'l', b'o']);
        });
    assert!(
        matches!(received, Err(Error::UnexpectedFrame { kind: "single frame" })),
        "{received:?}"
    );
    // The interrupting frame is the next message.
    assert_eq!(receiver.recv(None).unwrap().unwrap(), b"hello");
}

#[test]
fn wrong_sequence_number_aborts() {
    let (received, _) = scripted_reception(IsoTpConfig::classic(ecu(), tester()), |raw| {
        send_raw(raw, &[0x10, 20, 1, 2, 3, 4, 5, 6]);
        raw.recv(None).unwrap();
        send_raw(raw, &[0x22, 7, 8, 9, 10, 11, 12, 13]);
    });
    assert!(matches!(received, Err(Error::WrongSequence { expected: 1, got: 2 })), "{received:?}");
}

#[test]
fn stray_frames_are_ignored_while_idle() {
    let (received, _) = scripted_reception(IsoTpConfig::classic(ecu(), tester()), |raw| {
        send_raw(raw, &[0x21, 1, 2, 3, 4, 5, 6, 7]); // consecutive frame, no transfer
        send_raw(raw, &[0x30, 0, 0]); // flow control, not sending
        send_raw(raw, &[0x00, 1]); // single frame with length 0: malformed
        send_raw(raw, &[0x02, 0xAB, 0xCD]);
    });
    assert_eq!(received.unwrap().unwrap(), [0xAB, 0xCD]);
}

#[test]
fn slow_sender_trips_the_throughput_guard() {
    let mut config = IsoTpConfig::classic(ecu(), tester());
    config.guard.min_bytes_per_sec = Some(100);
    config.guard.grace = Duration::from_secs(2);
    let (received, _) = scripted_reception(config, |raw| {
        send_raw(raw, &[0x10, 200, 1, 2, 3, 4, 5, 6]);
        raw.recv(None).unwrap();
        // A consecutive frame every 900 ms keeps N_Cr (1 s) happy but moves 8 bytes/s.
        for sn in 1..=4u8 {
            let deadline = raw.now() + Duration::from_millis(900);
            raw.sleep_until(deadline).unwrap();
            send_raw(raw, &[0x20 | sn, 0, 0, 0, 0, 0, 0, 0]);
        }
    });
    assert!(matches!(received, Err(Error::TooSlow { .. })), "{received:?}");
}

#[test]
fn transfer_deadline_is_enforced() {
    let mut config = IsoTpConfig::classic(ecu(), tester());
    config.guard.deadline = Some(Duration::from_millis(1500));
    let (received, _) = scripted_reception(config, |raw| {
        send_raw(raw, &[0x10, 200, 1, 2, 3, 4, 5, 6]);
        raw.recv(None).unwrap();
        for sn in 1..=2u8 {
            let deadline = raw.now() + Duration::from_millis(900);
            raw.sleep_until(deadline).unwrap();
            send_raw(raw, &[0x20 | sn, 0, 0, 0, 0, 0, 0, 0]);
        }
    });
    assert!(matches!(received, Err(Error::DeadlineExceeded { .. })), "{received:?}");
}

/// A peer that answers the tester's first frame by hand.
fn scripted_flow_control(
    tester_config: IsoTpConfig,
    reply: &'static [u8],
    len: usize,
) -> Result<Timestamp, Error> {
    let hub = classic_hub();
    let raw = node_for(&hub, tester());
    let mut sender = IsoTpSocket::new(node_for(&hub, ecu()), tester_config).unwrap();
    raw.hold();
    let peer = thread::spawn(move || {
        let first = raw.recv(None).unwrap().unwrap();
        assert_eq!(first.frame.data()[0] >> 4, 1);
        let frame = CanFrame::classic(ecu(), reply).unwrap();
        raw.transmit(&frame, Duration::from_secs(1)).unwrap();
    });
    let sent = sender.send(&pattern(len));
    sender.link().release();
    peer.join().unwrap();
    sent
}

#[test]
fn invalid_flow_status_aborts_the_sender() {
    let sent = scripted_flow_control(IsoTpConfig::classic(tester(), ecu()), &[0x35, 0, 0], 100);
    assert!(matches!(sent, Err(Error::InvalidFlowStatus { status: 5 })), "{sent:?}");
}

#[test]
fn slow_receiver_trips_the_senders_guard() {
    let mut config = IsoTpConfig::classic(tester(), ecu());
    config.guard.min_bytes_per_sec = Some(100);
    config.guard.grace = Duration::from_secs(1);
    // The peer grants everything with STmin 127 ms: 7 bytes per 127 ms is about 55 B/s. The
    // sender checks its guard every 256 frames, about 33 s in.
    let sent = scripted_flow_control(config, &[0x30, 0, 0x7F], 4000);
    assert!(matches!(sent, Err(Error::TooSlow { .. })), "{sent:?}");
}

#[test]
fn babbling_node_times_out_the_sender() {
    let babble = Babble {
        start: Duration::ZERO,
        duration: Duration::from_secs(5),
        frame: CanFrame::classic(canbus::id::standard(0).unwrap(), &[0; 8]).unwrap(),
    };
    let hub = hub_with_faults(FaultPlan::new(1).with_babble(babble));
    let (mut sender, mut receiver) = classic_pair(&hub);
    let deadline = Some(Timestamp::ZERO + Duration::from_secs(2));
    let (sent, received) = exchange_until(&mut sender, &mut receiver, &pattern(100), deadline);
    assert_timeout(&sent, Timer::As);
    assert!(matches!(received, Ok(None)));
    // After the babbling stops the bus works again.
    receiver.link().sleep_until(Timestamp::ZERO + Duration::from_secs(6)).unwrap();
    ok_afterwards(&mut sender, &mut receiver);
}

#[test]
fn block_size_and_stmin_pace_consecutive_frames() {
    for (st_min, gap) in [
        (StMin::hundred_micros(5).unwrap(), Duration::from_micros(500)),
        (StMin::millis(2).unwrap(), Duration::from_millis(2)),
    ] {
        let hub = classic_hub();
        let monitor = hub.attach().unwrap();
        let mut ecu_config = IsoTpConfig::classic(ecu(), tester());
        ecu_config.block_size = 4;
        ecu_config.st_min = st_min;
        let (mut sender, mut receiver) =
            sockets(&hub, IsoTpConfig::classic(tester(), ecu()), ecu_config);
        // 6 + 14 * 7 = 104 bytes: FF and 14 CFs in blocks of 4, 4, 4, 2.
        round_trip(&mut sender, &mut receiver, &pattern(104));
        let trace: Vec<_> = std::iter::from_fn(|| monitor.try_recv().unwrap()).collect();
        let kinds: String = trace
            .iter()
            .map(|r| match r.frame.data()[0] >> 4 {
                1 => 'F',
                2 => 'C',
                3 => 'W',
                _ => '?',
            })
            .collect();
        assert_eq!(kinds, "FWCCCCWCCCCWCCCCWCC");
        for pair in trace.windows(2) {
            if pair[0].frame.data()[0] >> 4 == 2 && pair[1].frame.data()[0] >> 4 == 2 {
                let frame_time = hub.timing().frame_time(&pair[1].frame).until_eof;
                let spacing = pair[1].timestamp.saturating_duration_since(pair[0].timestamp);
                assert_eq!(spacing, gap + frame_time);
            }
        }
    }
}
