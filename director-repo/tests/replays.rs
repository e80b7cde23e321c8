//! Anti-replay under concurrency: one manifest sent several times at once, to two Director
//! processes on one database, is applied exactly once; every other copy is refused as a
//! replay, never applied twice and never lost to a conflict.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use director_repo::Error;
use support::{Backend, SECONDARY, VIN, World};

fn a_manifest_raced_against_itself_is_applied_once(backend: &Backend) {
    let mut world = World::new(backend);
    world.start();
    world.bootstrap();
    let processes = [
        director_repo::AppState::open(world.config()).unwrap(),
        director_repo::AppState::open(world.config()).unwrap(),
    ];
    for counter in 1..=3 {
        let manifest = world.full_manifest(("old.bin", b"old"), counter);
        let barrier = std::sync::Barrier::new(8);
        let outcomes: Vec<Result<(), String>> = std::thread::scope(|scope| {
            let handles: Vec<_> = (0..8)
                .map(|i| {
                    let (state, barrier, manifest) = (&processes[i % 2], &barrier, &manifest);
                    scope.spawn(move || {
                        barrier.wait();
                        match director_repo::manifest::receive(state, VIN, manifest) {
                            Ok(_) => Ok(()),
                            Err(Error::Rejected(r)) => Err(r.code.to_owned()),
                            Err(e) => panic!("{e}"),
                        }
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        let accepted = outcomes.iter().filter(|o| o.is_ok()).count();
        assert_eq!(accepted, 1, "{outcomes:?}");
        assert!(
            outcomes.iter().filter_map(|o| o.as_ref().err()).all(|code| code == "replayed_report"),
            "{outcomes:?}"
        );
        let state = world.server().state();
        let ecu = state["ecus"].as_array().unwrap().iter().find(|e| e["serial"] == SECONDARY);
        assert_eq!(ecu.unwrap()["report_counter"], counter);
        let stored = processes[0].db.manifests(VIN, 1000).unwrap();
        let stored = stored.iter().filter(|m| m.outcome == "accepted").count();
        assert_eq!(stored, counter as usize, "applied once");
    }
}

on_both_backends!(a_manifest_raced_against_itself_is_applied_once);
