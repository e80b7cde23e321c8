//! The ECU protocol on a faulty bus: lost and corrupted frames end a request cleanly, block
//! retries recover, and a repeated block is never written twice.
#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test run

mod uds_support;

use canbus::uds::{ClientConfig, TransferTarget, UdsError};
use canbus::{FaultAction, FaultPlan, FaultRule, Trigger};
use uds_support::*;

const SIZE: usize = 40_000;

fn plan(action: FaultAction, trigger: Trigger, from_primary: bool) -> FaultPlan {
    let address = address();
    let id = if from_primary { address.request } else { address.response };
    FaultPlan::new(7).with(FaultRule::new(action, trigger).for_id(id))
}

fn no_retries() -> ClientConfig {
    ClientConfig { block_retries: 0, ..ClientConfig::default() }
}

#[test]
fn lost_frame_without_retries_fails_cleanly_then_a_new_transfer_works() {
    // Frame 100 from the Primary is a consecutive frame inside the first block.
    let faults = plan(FaultAction::Drop, Trigger::Nth(100), true);
    let setup = Setup { faults, client: no_retries(), ..Setup::default() };
    let image = pattern(SIZE);
    let (first, ecu, _) = run(
        setup,
        |_| {},
        |client| {
            let first = client.transfer(TransferTarget::Image, SIZE as u64, &image[..], |_| {});
            client.transfer(TransferTarget::Image, SIZE as u64, &image[..], |_| {}).unwrap();
            first
        },
    );
    assert!(matches!(first, Err(UdsError::NoResponse { service: 0x36, .. })), "{first:?}");
    assert_eq!(ecu.hub.stats().dropped, 1);
    assert!(first.as_ref().unwrap_err().is_transient());
    assert!(ecu.completed("image") == Some(&image[..]));
}

#[test]
fn lost_request_frames_are_recovered_by_block_retries() {
    // A lost consecutive frame, a lost last frame of a block, a lost first frame.
    let faults = FaultPlan::new(7)
        .with(FaultRule::new(FaultAction::Drop, Trigger::Nth(300)).for_id(address().request))
        .with(FaultRule::new(FaultAction::Drop, Trigger::Nth(1200)).for_id(address().request))
        .with(FaultRule::new(FaultAction::Drop, Trigger::Nth(2500)).for_id(address().request));
    let image = pattern(SIZE);
    let (_, ecu, _) = run(
        Setup { faults, ..Setup::default() },
        |_| {},
        |client| {
            client.transfer(TransferTarget::Image, SIZE as u64, &image[..], |_| {}).unwrap();
        },
    );
    assert!(ecu.completed("image") == Some(&image[..]));
    assert_eq!(ecu.writes, SIZE.div_ceil(4093));
    assert_eq!(ecu.hub.stats().dropped, 3);
}

#[test]
fn lost_responses_are_repeated_without_writing_twice() {
    // The Secondary's frames: RequestDownload response, then per block a flow control and a
    // response. Drop a few of each kind.
    let faults = FaultPlan::new(7)
        .with(FaultRule::new(FaultAction::Drop, Trigger::Nth(2)).for_id(address().response))
        .with(FaultRule::new(FaultAction::Drop, Trigger::Nth(5)).for_id(address().response))
        .with(FaultRule::new(FaultAction::Drop, Trigger::Nth(12)).for_id(address().response));
    let image = pattern(SIZE);
    let (_, ecu, _) = run(
        Setup { faults, ..Setup::default() },
        |_| {},
        |client| {
            client.transfer(TransferTarget::Image, SIZE as u64, &image[..], |_| {}).unwrap();
        },
    );
    assert!(ecu.completed("image") == Some(&image[..]));
    assert_eq!(ecu.hub.stats().dropped, 3);
    assert_eq!(ecu.writes, SIZE.div_ceil(4093), "a repeated block was written twice");
}

#[test]
fn corrupted_frames_are_retransmitted_by_the_controllers() {
    let faults = FaultPlan::new(11)
        .with(FaultRule::new(FaultAction::Corrupt, Trigger::Chance { per_million: 20_000 }));
    let image = pattern(SIZE);
    let setup = Setup { faults, timing: fd_timing(), fd: true, ..Setup::default() };
    let (_, ecu, _) = run(
        setup,
        |_| {},
        |client| {
            client.transfer(TransferTarget::Image, SIZE as u64, &image[..], |_| {}).unwrap();
            client.activate().unwrap();
        },
    );
    assert!(ecu.completed("image") == Some(&image[..]));
    assert!(ecu.hub.stats().error_frames > 10, "{:?}", ecu.hub.stats());
}

#[test]
fn a_lost_pending_answer_times_out_and_the_routine_can_be_asked_again() {
    // With no image the routine is refused; its "response pending" is the Secondary's first
    // frame. Losing the final answer instead leaves the client waiting out P2*.
    let faults = plan(FaultAction::Drop, Trigger::Nth(1), false);
    let (results, _, _) = run(
        Setup { faults, ..Setup::default() },
        |_| {},
        |client| (client.activate(), client.activate()),
    );
    match results.0 {
        Err(UdsError::NoResponse { service: 0x31, after }) => {
            assert_eq!(after, ClientConfig::default().p2_star);
        }
        other => panic!("{other:?}"),
    }
    assert!(matches!(results.1, Err(UdsError::Negative { .. })), "{:?}", results.1);
}
