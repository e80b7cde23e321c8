//! The client against a misbehaving Secondary: late answers are skipped, malformed ones
//! refused, and neither silence nor endless "response pending" can hold it forever.
#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test run

mod uds_support;

use std::thread;
use std::time::Duration;

use canbus::uds::{ClientConfig, UdsClient, UdsError};
use canbus::{Filter, Hub, HubConfig, IsoTpSocket, Node, Timestamp};
use uds_support::*;

/// Runs `script` as the client against a Secondary that answers every request with `answers`
/// (each a list of messages to send back), in order.
fn against(answers: Vec<Vec<Vec<u8>>>, script: impl FnOnce(&mut UdsClient<Node>)) {
    let hub = Hub::new(HubConfig::with_timing(classic_timing())).unwrap();
    let address = address();
    let node = |rx| {
        let node = hub.attach().unwrap();
        node.set_filters(vec![Filter::exact(rx)]).unwrap();
        node
    };
    let mut server = IsoTpSocket::new(node(address.request), address.server_config(false)).unwrap();
    server.link().hold();
    let peer = thread::spawn(move || {
        for replies in answers {
            if server.recv(None).is_err() {
                return;
            }
            // The client may have its answer and close the bus before the last frame's
            // confirmation reaches us.
            for reply in replies {
                if server.send(&reply).is_err() {
                    return;
                }
            }
        }
        server.link().release();
    });
    let socket = IsoTpSocket::new(node(address.response), address.client_config(false)).unwrap();
    let config = ClientConfig { max_pending: 3, ..ClientConfig::default() };
    let mut client = UdsClient::new(socket, config);
    script(&mut client);
    hub.close();
    peer.join().unwrap();
}

#[test]
fn late_answers_to_earlier_requests_are_skipped() {
    let answers = vec![vec![
        vec![0x76, 0x05],             // a TransferData answer from before
        vec![0x7F, 0x36, 0x73],       // a refusal of another service
        vec![0x7F, 0x34, 0x78],       // pending
        vec![0x74, 0x20, 0x0F, 0xFF], // the answer
    ]];
    against(answers, |client| assert_eq!(client.request_download(100).unwrap(), 4095));
}

#[test]
fn malformed_positive_responses_are_refused() {
    let answers = vec![
        vec![vec![0x74, 0x20, 0x00, 0x02]],
        vec![vec![0x74, 0x30, 0x0F, 0xFF]],
        vec![vec![0x78, 0x03, 0x02, 0x0F, 0xFF, 0x01]],
        vec![vec![0x71, 0x01]],
    ];
    against(answers, |client| {
        let results = [
            client.request_download(100).unwrap_err(),
            client.request_download(100).unwrap_err(),
            client.request_file_transfer("image/root.json", 100).unwrap_err(),
            client.activate().unwrap_err(),
        ];
        for error in results {
            assert!(matches!(error, UdsError::MalformedResponse { .. }), "{error:?}");
        }
    });
}

#[test]
fn silence_and_endless_pending_time_out() {
    let pending = vec![0x7F, 0x31, 0x78];
    let answers = vec![vec![], vec![pending.clone(); 4]];
    against(answers, |client| {
        let start = now(client);
        match client.tester_present() {
            Err(UdsError::NoResponse { service: 0x3E, after }) => {
                assert_eq!(after, ClientConfig::default().p2);
            }
            other => panic!("{other:?}"),
        }
        let waited = now(client).saturating_duration_since(start);
        assert!(waited >= Duration::from_millis(100) && waited < Duration::from_millis(101));
        let error = client.activate().unwrap_err();
        assert!(matches!(error, UdsError::TooManyPending { service: 0x31, max: 3 }), "{error:?}");
        assert!(now(client) < Timestamp::ZERO + Duration::from_secs(1));
    });
}
