//! Every refusal of the ECU protocol, each attacked from the Primary's side: the right NRC,
//! the handler told when a transfer is abandoned, and the next transfer working afterwards.
#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test run

mod uds_support;

use std::time::Duration;

use canbus::Error;
use canbus::uds::{AbortReason, ServerLimits, TransferTarget, UdsClient, UdsError};
use canbus::{Node, uds::Nrc};
use uds_support::*;

fn nrc<T: std::fmt::Debug>(result: Result<T, UdsError>) -> Nrc {
    match result {
        Err(UdsError::Negative { nrc, .. }) => nrc,
        other => panic!("expected a negative response, got {other:?}"),
    }
}

/// After any refusal a complete image still goes through.
fn transfer_works(client: &mut UdsClient<Node>) {
    client.transfer(TransferTarget::Image, 3000, &pattern(3000)[..], |_| {}).unwrap();
}

#[test]
fn malformed_requests_are_refused_strictly() {
    let (responses, _, _) = run(
        Setup::default(),
        |_| {},
        |client| {
            [
                raw(client, &[0x10, 0x02]),
                raw(client, &[0x22, 0xF1]),
                raw(client, &[0x22, 0xF1, 0x90]),
                raw(client, &[0x31, 0x03, 0x02, 0x01]),
                raw(client, &[0x34, 0x00, 0x44, 0, 0, 0, 1, 0, 0, 0]),
                raw(client, &[0x38, 0x03, 0xFF, 0xFF, b'a']),
            ]
        },
    );
    assert_eq!(
        responses,
        [
            [0x7F, 0x10, 0x11],
            [0x7F, 0x22, 0x13],
            [0x7F, 0x22, 0x31],
            [0x7F, 0x31, 0x12],
            [0x7F, 0x34, 0x13],
            [0x7F, 0x38, 0x13],
        ]
    );
}

#[test]
fn data_and_exit_out_of_sequence() {
    let (results, ecu, _) = run(
        Setup::default(),
        |_| {},
        |client| {
            let data_first = nrc(client.transfer_data(1, &[1, 2, 3]));
            let exit_first = nrc(client.transfer_exit());
            client.request_download(100).unwrap();
            client.transfer_data(1, &[0; 60]).unwrap();
            let early_exit = nrc(client.transfer_exit());
            // The transfer survives the early exit.
            client.transfer_data(2, &[0; 40]).unwrap();
            client.transfer_exit().unwrap();
            let exit_twice = nrc(client.transfer_exit());
            [data_first, exit_first, early_exit, exit_twice]
        },
    );
    assert_eq!(results, [Nrc::REQUEST_SEQUENCE_ERROR; 4]);
    assert_eq!(ecu.completed("image"), Some(&[0u8; 100][..]));
}

#[test]
fn wrong_block_sequence_counter() {
    let (results, ecu, _) = run(
        Setup::default(),
        |_| {},
        |client| {
            client.request_download(30).unwrap();
            let skipped = nrc(client.transfer_data(2, &[1; 10]));
            let zero = nrc(client.transfer_data(0, &[1; 10]));
            client.transfer_data(1, &[1; 10]).unwrap();
            // A repeat of the last block (its response was lost) is acknowledged, not written.
            client.transfer_data(1, &[1; 10]).unwrap();
            let backwards = nrc(client.transfer_data(0xFF, &[1; 10]));
            client.transfer_data(2, &[2; 10]).unwrap();
            client.transfer_data(3, &[3; 10]).unwrap();
            client.transfer_exit().unwrap();
            [skipped, zero, backwards]
        },
    );
    assert_eq!(results, [Nrc::WRONG_BLOCK_SEQUENCE_COUNTER; 3]);
    let expected: Vec<u8> = [[1u8; 10], [2; 10], [3; 10]].concat();
    assert_eq!(ecu.completed("image"), Some(&expected[..]));
    assert_eq!(ecu.writes, 3);
}

#[test]
fn counter_wraps_after_255_blocks() {
    let mut setup = Setup::default();
    setup.limits.max_block_len = 12;
    let image = pattern(10 * 300);
    let (_, ecu, _) = run(
        setup,
        |_| {},
        |client| {
            client.transfer(TransferTarget::Image, image.len() as u64, &image[..], |_| {}).unwrap();
        },
    );
    assert_eq!(ecu.writes, 300);
    assert!(ecu.completed("image") == Some(&image[..]));
}

#[test]
fn data_beyond_the_announced_size_is_endless_data() {
    let (results, ecu, _) = run(
        Setup::default(),
        |_| {},
        |client| {
            client.request_download(100).unwrap();
            client.transfer_data(1, &[0; 90]).unwrap();
            let over = nrc(client.transfer_data(2, &[0; 11]));
            let after = nrc(client.transfer_data(3, &[0; 1]));
            transfer_works(client);
            [over, after]
        },
    );
    assert_eq!(results, [Nrc::TRANSFER_DATA_SUSPENDED, Nrc::REQUEST_SEQUENCE_ERROR]);
    let aborts = ecu.aborts();
    assert_eq!(aborts, [AbortReason::SizeExceeded { announced: 100, attempted: 101 }]);
    assert!(aborts[0].is_endless_data());
    assert_eq!(ecu.completed("image"), Some(&pattern(3000)[..]));
}

#[test]
fn blocks_longer_than_announced_and_oversized_messages() {
    let mut setup = Setup::default();
    setup.limits.max_block_len = 100;
    setup.limits.max_message_len = 200;
    let (results, ecu, _) = run(
        setup,
        |_| {},
        |client| {
            assert_eq!(client.request_download(1000).unwrap(), 100);
            let long_block = nrc(client.transfer_data(1, &[0; 99]));
            client.transfer_data(1, &[7; 98]).unwrap();
            // Over the per-message cap: ISO-TP refuses it before the server stores a byte.
            let oversized = client.transfer_data(2, &[0; 250]);
            let after = nrc(client.transfer_data(2, &[0; 10]));
            client.tester_present().unwrap();
            (long_block, oversized, after)
        },
    );
    assert_eq!(results.0, Nrc::INCORRECT_LENGTH);
    assert!(
        matches!(results.1, Err(UdsError::Transport(Error::PeerOverflow { len: 252 }))),
        "{:?}",
        results.1
    );
    assert_eq!(results.2, Nrc::TRANSFER_DATA_SUSPENDED);
    let aborts = ecu.aborts();
    assert_eq!(aborts, [AbortReason::MessageTooLarge { len: 252, max: 200 }]);
    assert!(aborts[0].is_endless_data());
}

#[test]
fn stalled_transfer_is_aborted_at_its_deadline() {
    let limits = ServerLimits {
        transfer_deadline: Some(Duration::from_secs(2)),
        min_bytes_per_sec: None,
        ..ServerLimits::default()
    };
    let setup = Setup { limits, ..Setup::default() };
    let (results, ecu, _) = run(
        setup,
        |_| {},
        |client| {
            client.request_download(1000).unwrap();
            let started = now(client);
            client.transfer_data(1, &[0; 100]).unwrap();
            sleep_until(client, started + Duration::from_secs(3));
            let late = nrc(client.transfer_data(2, &[0; 100]));
            let again = nrc(client.transfer_data(2, &[0; 100]));
            transfer_works(client);
            (started, late, again)
        },
    );
    let (started, late, again) = results;
    assert_eq!((late, again), (Nrc::TRANSFER_DATA_SUSPENDED, Nrc::REQUEST_SEQUENCE_ERROR));
    let deadline = Duration::from_secs(2);
    let aborted = ecu.events.iter().find_map(|event| match event {
        Event::Aborted(reason, at) => Some((*reason, *at)),
        _ => None,
    });
    let (reason, at) = aborted.unwrap();
    assert_eq!(reason, AbortReason::DeadlineExceeded { deadline });
    assert!(reason.is_slow_retrieval());
    // The server acted at the deadline itself, not when the client came back. (It began the
    // transfer a frame time before the client saw the response.)
    let early = (started + deadline).saturating_duration_since(at);
    assert!(at <= started + deadline && early < Duration::from_millis(1), "aborted at {at}");
    assert!(ecu.completed("image").is_some());
}

#[test]
fn trickling_transfer_is_aborted_under_the_minimum_rate() {
    let mut setup = Setup::default();
    setup.limits.min_bytes_per_sec = Some(1000);
    setup.limits.grace = Duration::from_secs(1);
    let (results, ecu, _) = run(
        setup,
        |_| {},
        |client| {
            client.request_download(10_000).unwrap();
            let started = now(client);
            // 100 bytes every 400 ms: 250 B/s, a quarter of the minimum.
            let mut refusals = Vec::new();
            for (counter, at) in (1u8..).zip([0, 400, 800, 1200]) {
                sleep_until(client, started + Duration::from_millis(at));
                if let Err(error) = client.transfer_data(counter, &[0; 100]) {
                    refusals.push((counter, nrc::<()>(Err(error))));
                }
            }
            transfer_works(client);
            refusals
        },
    );
    assert_eq!(results, [(4, Nrc::TRANSFER_DATA_SUSPENDED)]);
    match ecu.aborts()[..] {
        [AbortReason::TooSlow { bytes: 300, elapsed }] => {
            assert_eq!(elapsed, Duration::from_secs(1));
        }
        ref other => panic!("{other:?}"),
    }
    assert!(ecu.completed("image").is_some());
}

#[test]
fn a_new_transfer_supersedes_an_open_one() {
    let (_, ecu, _) = run(
        Setup::default(),
        |_| {},
        |client| {
            client.request_download(1000).unwrap();
            client.transfer_data(1, &[9; 500]).unwrap();
            transfer_works(client);
        },
    );
    assert_eq!(ecu.aborts(), [AbortReason::Superseded]);
    assert_eq!(ecu.completed("image"), Some(&pattern(3000)[..]));
}

#[test]
fn a_failed_write_ends_the_transfer() {
    let (results, ecu, _) = run(
        Setup::default(),
        |ecu| ecu.fail_write_at = Some(5000),
        |client| {
            let failed = client.transfer(TransferTarget::Image, 8000, &pattern(8000)[..], |_| {});
            let after = nrc(client.transfer_data(3, &[0; 10]));
            (nrc(failed), after)
        },
    );
    assert_eq!(results, (Nrc::GENERAL_PROGRAMMING_FAILURE, Nrc::REQUEST_SEQUENCE_ERROR));
    // The handler refused the write itself: it is not told of an abort.
    assert!(ecu.aborts().is_empty());
    assert_eq!(ecu.completed("image"), None);
}

#[test]
fn an_interrupted_transfer_is_reported_when_the_bus_closes() {
    let (_, ecu, _) = run(
        Setup::default(),
        |_| {},
        |client| {
            client.request_download(1000).unwrap();
            client.transfer_data(1, &[0; 100]).unwrap();
        },
    );
    assert_eq!(ecu.aborts(), [AbortReason::Interrupted]);
}
