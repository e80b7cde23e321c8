//! The ECU protocol end to end on the in-process bus: every service, and image and metadata
//! transfers on classic CAN and CAN FD.
#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test run

mod uds_support;

use canbus::uds::{Identifier, Nrc, Stop, TransferTarget, UdsError};
use uds_support::*;

#[test]
fn every_service_round_trips() {
    let metadata = pattern(1500);
    let image = pattern(10_000);
    let (reports, ecu, stop) = run(
        Setup::default(),
        |_| {},
        |client| {
            assert_eq!(client.read_identifier(Identifier::EcuSerial).unwrap(), SERIAL);
            assert_eq!(client.read_identifier(Identifier::HardwareId).unwrap(), HARDWARE_ID);
            assert_eq!(client.read_identifier(Identifier::PublicKey).unwrap(), PUBLIC_KEY);
            client.tester_present().unwrap();
            let report = client.version_report(b"nonce-1").unwrap();
            client.time_attestation(b"signed time").unwrap();
            client
                .transfer(
                    TransferTarget::File("director/targets.json"),
                    1500,
                    &metadata[..],
                    |_| {},
                )
                .unwrap();
            assert_eq!(client.verify_metadata().unwrap(), [1]);
            client.transfer(TransferTarget::Image, 10_000, &image[..], |_| {}).unwrap();
            assert_eq!(client.activate().unwrap(), b"slot B");
            let second = client.version_report(b"nonce-2").unwrap();
            client.reset().unwrap();
            (report, second)
        },
    );
    assert!(reports.0.starts_with(b"signed report over nonce nonce-1"));
    assert!(reports.1.starts_with(b"signed report over nonce nonce-2"));
    assert_eq!(stop, Stop::Reset);
    assert_eq!(
        ecu.events,
        [
            Event::Attestation(b"signed time".to_vec()),
            Event::BeginFile("director/targets.json".into(), 1500),
            Event::Completed("director/targets.json".into(), metadata),
            Event::Verified,
            Event::BeginImage(10_000),
            Event::Completed("image".into(), image),
            Event::Activated,
            Event::Reset,
        ]
    );
}

#[test]
fn handler_refusals_reach_the_client() {
    let (results, ecu, _) = run(
        Setup::default(),
        |ecu| ecu.slot_size = 1000,
        |client| {
            [
                client.activate().err(),
                client.verify_metadata().err(),
                client.time_attestation(b"bad time").err(),
                client.request_download(1001).err(),
                client.request_file_transfer("../etc/passwd", 10).err(),
            ]
        },
    );
    let nrcs: Vec<_> = results
        .iter()
        .map(|error| match error {
            Some(UdsError::Negative { nrc, .. }) => *nrc,
            other => panic!("expected a negative response, got {other:?}"),
        })
        .collect();
    assert_eq!(
        nrcs,
        [
            Nrc::CONDITIONS_NOT_CORRECT,
            Nrc::CONDITIONS_NOT_CORRECT,
            Nrc::CONDITIONS_NOT_CORRECT,
            Nrc::UPLOAD_DOWNLOAD_NOT_ACCEPTED,
            Nrc::UPLOAD_DOWNLOAD_NOT_ACCEPTED,
        ]
    );
    assert!(ecu.events.is_empty(), "{:?}", ecu.events);
}

/// A 1 MiB image with progress reports, and the virtual time it took.
fn megabyte_image(setup: Setup) -> std::time::Duration {
    const SIZE: usize = 1 << 20;
    let image = pattern(SIZE);
    let block = setup.limits.max_block_len as u64 - 2;
    let ((progress, elapsed), ecu, _) = run(
        setup,
        |_| {},
        |client| {
            let start = now(client);
            let mut progress = Vec::new();
            client
                .transfer(TransferTarget::Image, SIZE as u64, &image[..], |done| {
                    progress.push(done)
                })
                .unwrap();
            client.activate().unwrap();
            (progress, now(client).saturating_duration_since(start))
        },
    );
    assert!(ecu.completed("image") == Some(&image[..]), "image differs");
    assert_eq!(progress.len() as u64, (SIZE as u64).div_ceil(block));
    assert!(progress.windows(2).all(|pair| pair[1] - pair[0] == block || pair[1] == SIZE as u64));
    assert_eq!(progress.last(), Some(&(SIZE as u64)));
    assert_eq!(ecu.writes, progress.len());
    elapsed
}

#[test]
fn megabyte_image_on_classic_can() {
    let elapsed = megabyte_image(Setup::default());
    // 1 MiB at 500 kbit/s in 8-byte frames needs at least 30 s of bus time.
    assert!(elapsed.as_secs_f64() > 30.0 && elapsed.as_secs_f64() < 40.0, "{elapsed:?}");
}

#[test]
fn megabyte_image_on_can_fd() {
    let setup = Setup { timing: fd_timing(), fd: true, ..Setup::default() };
    let elapsed = megabyte_image(setup);
    assert!(elapsed.as_secs_f64() > 4.0 && elapsed.as_secs_f64() < 8.0, "{elapsed:?}");
}

#[test]
fn large_blocks_use_the_isotp_length_escape() {
    let mut setup = Setup { timing: fd_timing(), fd: true, ..Setup::default() };
    setup.limits.max_block_len = 16 << 10;
    setup.limits.max_message_len = 16 << 10;
    let image = pattern(100_000);
    let (blocks, ecu, _) = run(
        setup,
        |_| {},
        |client| {
            let mut blocks = 0;
            client.transfer(TransferTarget::Image, 100_000, &image[..], |_| blocks += 1).unwrap();
            blocks
        },
    );
    assert_eq!(blocks, 100_000usize.div_ceil((16 << 10) - 2));
    assert!(ecu.completed("image") == Some(&image[..]));
}

#[test]
fn metadata_files_in_sequence() {
    let files = [
        ("image/3.root.json", 700),
        ("image/timestamp.json", 400),
        ("director/targets.json", 5000),
    ];
    let (_, ecu, _) = run(
        Setup::default(),
        |_| {},
        |client| {
            for (name, len) in files {
                client
                    .transfer(TransferTarget::File(name), len as u64, &pattern(len)[..], |_| {})
                    .unwrap();
            }
            client.verify_metadata().unwrap()
        },
    );
    for (name, len) in files {
        assert_eq!(ecu.completed(name), Some(&pattern(len)[..]), "{name}");
    }
}

#[test]
fn source_shorter_or_longer_than_announced_is_caught() {
    let (results, ecu, _) = run(
        Setup::default(),
        |_| {},
        |client| {
            let short = client.transfer(TransferTarget::Image, 100, &[0u8; 60][..], |_| {});
            let long = client.transfer(TransferTarget::Image, 100, &[0u8; 101][..], |_| {});
            (short, long)
        },
    );
    assert!(
        matches!(results.0, Err(UdsError::SourceLength { announced: 100, actual: 60 })),
        "{:?}",
        results.0
    );
    assert!(
        matches!(results.1, Err(UdsError::SourceLength { announced: 100, actual: 101 })),
        "{:?}",
        results.1
    );
    assert_eq!(ecu.completed("image"), None);
}
