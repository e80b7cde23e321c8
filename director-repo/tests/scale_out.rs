//! Two Director processes on one database: per-vehicle versions never repeat with different
//! bytes and never go backwards, whichever process signs.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::collections::BTreeMap;

use support::{Backend, TestServer, VIN, World};

fn two_processes_never_repeat_a_version(backend: &Backend) {
    let mut world = World::new(backend);
    let mut config = world.config();
    // Re-signed whenever less than 1 s is left: polls over a few seconds race to re-sign.
    config.metadata_lifetime = chrono::Duration::seconds(2);
    world.start_with(config.clone());
    world.bootstrap();
    world.assign();
    let mut second = TestServer::start(config);
    let servers = [world.server(), &second];
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(4);
    let seen: Vec<Vec<(u64, Vec<u8>)>> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..4)
            .map(|i| {
                let server = servers[i % 2];
                let agent = server.vehicle_agent(VIN);
                let url = format!("{}/vehicles/{VIN}/metadata/timestamp.json", server.base);
                scope.spawn(move || {
                    let mut seen = Vec::new();
                    while std::time::Instant::now() < deadline {
                        let response = agent.get(&url).call().unwrap();
                        assert_eq!(response.status().as_u16(), 200);
                        let body = response.into_body().read_to_vec().unwrap();
                        let json: serde_json::Value = serde_json::from_slice(&body).unwrap();
                        seen.push((json["signed"]["version"].as_u64().unwrap(), body));
                    }
                    seen
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    second.stop();
    let mut by_version: BTreeMap<u64, Vec<u8>> = BTreeMap::new();
    for thread in &seen {
        assert!(thread.windows(2).all(|w| w[0].0 <= w[1].0), "a version went backwards");
        for (version, bytes) in thread {
            let first = by_version.entry(*version).or_insert_with(|| bytes.clone());
            assert_eq!(first, bytes, "version {version} was issued twice with different bytes");
        }
    }
    assert!(by_version.len() >= 3, "expected several re-signs, saw {:?}", by_version.keys());
    let versions: Vec<u64> = by_version.keys().copied().collect();
    assert_eq!(versions[0], 1);
}

on_both_backends!(two_processes_never_repeat_a_version);
