//! The Primary's update cycle against a real Director (HTTPS, mutual TLS) and a real Image
//! repository, with one full and one partial Secondary in process.

#![allow(clippy::unwrap_used)]

mod world;

use primary_client::cycle::{CycleReport, Outcome, Primary, Step};
use primary_client::download::image_file;
use primary_client::secondary::Secondary;
use primary_client::state::PrimaryState;
use uptane::names::EcuSerial;
use world::{FULL, PARTIAL, PRIMARY, TestSecondary, World, entry, image_bytes};

const TCU: &str = "oem/tcu-2.0.bin";
const BCM: &str = "oem/bcm-2.0.bin";

fn images() -> (Vec<u8>, Vec<u8>) {
    (image_bytes(1, 300_000), image_bytes(2, 70_000))
}

fn cycle(primary: &Primary, secondaries: &mut [TestSecondary]) -> CycleReport {
    let mut boxed: Vec<Box<dyn Secondary + '_>> =
        secondaries.iter_mut().map(|s| Box::new(s) as Box<dyn Secondary + '_>).collect();
    primary.run_cycle(&mut boxed, &mut |_| Ok(()))
}

/// The bundle reaches every ECU: the Primary installs its image, the full Secondary gets both
/// repositories' metadata and its image, the partial one the Director's Root chain and
/// Targets, all the same bytes; the next cycle confirms the installation to the Director and
/// finds nothing new.
#[test]
fn a_bundle_is_installed_end_to_end_and_confirmed() {
    let (tcu, bcm) = images();
    let world = World::new(&[(TCU, &tcu, PRIMARY), (BCM, &bcm, FULL)]);
    let primary = world.primary();
    let mut secondaries = world.secondaries();

    let report = cycle(&primary, &mut secondaries);
    assert_eq!(report.result, Outcome::Updated, "{report:?}");
    assert!(report.secondary_errors.is_empty(), "{report:?}");
    let updated: Vec<(&str, &str)> =
        report.updated.iter().map(|(s, p)| (s.as_str(), p.as_str())).collect();
    assert_eq!(updated, [(FULL.0, BCM), (PRIMARY.0, TCU)]);
    assert_eq!(std::fs::read(world.state_dir().join("installed.bin")).unwrap(), tcu);

    let full = secondaries[0].seen.lock().unwrap();
    let partial = secondaries[1].seen.lock().unwrap();
    assert_eq!(full.images.len(), 1);
    assert_eq!(full.images[0], bcm);
    assert!(partial.images.is_empty());
    assert_eq!(full.times.len(), 1);
    assert_eq!(full.times, partial.times, "one attestation over every nonce");
    let (full_md, partial_md) = (&full.metadata[0], &partial.metadata[0]);
    assert!(full_md.image.timestamp.is_some() && full_md.director.snapshot.is_some());
    assert!(full_md.image.targets.contains_key("targets"));
    assert_eq!(partial_md.director.targets, full_md.director.targets, "same bytes to all (A9)");
    assert_eq!(partial_md.director.roots, full_md.director.roots);
    assert!(partial_md.director.timestamp.is_none() && partial_md.image.roots.is_empty());
    drop((full, partial));

    // The next manifest reports the new images; the Director marks the assignments done.
    let report = cycle(&primary, &mut secondaries);
    assert_eq!(report.result, Outcome::NoUpdate, "{report:?}");
    let completed = report.manifest.as_ref().unwrap()["completed"].as_array().unwrap().len();
    assert_eq!(completed, 2, "{:?}", report.manifest);
    let report = cycle(&primary, &mut secondaries);
    assert_eq!(report.result, Outcome::NoUpdate, "{report:?}");
    assert_eq!(secondaries[0].seen.lock().unwrap().images.len(), 1, "nothing sent twice");
    let state = PrimaryState::load(&world.state_dir()).unwrap();
    let counter = |serial: &str| state.installed[&EcuSerial::new(serial).unwrap()].release_counter;
    assert_eq!((counter(PRIMARY.0), counter(FULL.0)), (1, 1));
    assert_eq!(state.reports.len(), 2, "the Secondaries' last reports are kept (PR-17)");
}

/// A restart before any step neither loses what was trusted nor reuses a nonce or counter the
/// Director saw. Interrupted before the metadata is fetched, the next cycle installs the
/// bundle; interrupted after, the Director has issued it, so the next manifest settles it:
/// done on every ECU that got its image, failed (and not issued again) on the others.
#[test]
fn an_interruption_at_any_step_resumes_cleanly() {
    let (tcu, bcm) = images();
    let steps = [
        Step::Reports,
        Step::Time,
        Step::Manifest,
        Step::Metadata,
        Step::Download,
        Step::Distribute,
        Step::Install,
    ];
    for stop in steps {
        let world = World::new(&[(TCU, &tcu, PRIMARY), (BCM, &bcm, FULL)]);
        let mut secondaries = world.secondaries();
        {
            let primary = world.primary();
            let mut boxed: Vec<Box<dyn Secondary + '_>> =
                secondaries.iter_mut().map(|s| Box::new(s) as Box<dyn Secondary + '_>).collect();
            let report = primary.run_cycle(&mut boxed, &mut |step| {
                if step == stop { Err(uptane::Error::Other("power lost".into())) } else { Ok(()) }
            });
            assert_eq!(report.result, Outcome::Rejected, "{stop:?}: {report:?}");
            assert_eq!(report.step, Some(stop));
            assert_eq!(report.attack, None, "an interruption is no attack");
        }
        let director = world.state_dir().join("director");
        assert!(director.join("root.json").exists(), "{stop:?}: the trust anchor survives");
        assert_eq!(director.join("targets.json").exists(), stop > Step::Metadata, "{stop:?}");

        // Restarted: a new Primary over the same state directory.
        let first = cycle(&world.primary(), &mut secondaries);
        let second = cycle(&world.primary(), &mut secondaries);
        assert_eq!(second.result, Outcome::NoUpdate, "{stop:?}: {second:?}");
        let receipt = |r: &CycleReport, key: &str| {
            r.manifest.as_ref().and_then(|m| m[key].as_array().map(Vec::len)).unwrap_or(0)
        };
        let installed = world.state_dir().join("installed.bin").exists();
        let bcm_sent = secondaries[0].seen.lock().unwrap().images.len();
        if stop <= Step::Metadata {
            assert_eq!(first.result, Outcome::Updated, "{stop:?}: {first:?}");
            assert!(installed && bcm_sent == 1, "{stop:?}");
            assert_eq!(receipt(&second, "completed"), 2, "{stop:?}: {second:?}");
        } else {
            // Settled by the first manifest after the restart; nothing is half-applied.
            assert_eq!(first.result, Outcome::NoUpdate, "{stop:?}: {first:?}");
            assert!(!installed, "{stop:?}");
            let sent_before = usize::from(stop == Step::Install);
            assert_eq!(bcm_sent, sent_before, "{stop:?}");
            assert_eq!(receipt(&first, "completed"), sent_before, "{stop:?}: {first:?}");
            assert_eq!(receipt(&first, "failed"), 2 - sent_before, "{stop:?}: {first:?}");
        }
        assert!(first.manifest.as_ref().unwrap().get("refused").is_none(), "{first:?}");
        assert!(second.manifest.as_ref().unwrap().get("refused").is_none(), "{second:?}");
    }
}

/// The partial file an interrupted download of the Primary's image left behind.
fn leave_partial(world: &World, image: &[u8], prefix: &[u8]) -> std::path::PathBuf {
    let dir = world.state_dir().join("images");
    std::fs::create_dir_all(&dir).unwrap();
    let part = image_file(&dir, &entry(image, PRIMARY.1, 1)).unwrap().with_extension("part");
    std::fs::write(&part, prefix).unwrap();
    part
}

/// An interrupted download resumes with a Range request and completes the image.
#[test]
fn an_interrupted_download_resumes() {
    let (tcu, _) = images();
    let world = World::new(&[(TCU, &tcu, PRIMARY)]);
    let part = leave_partial(&world, &tcu, &tcu[..123_456]);
    let report = cycle(&world.primary(), &mut world.secondaries());
    assert_eq!(report.result, Outcome::Updated, "{report:?}");
    assert_eq!(std::fs::read(world.state_dir().join("installed.bin")).unwrap(), tcu);
    assert!(!part.exists());
}

/// A corrupt prefix left behind is resumed too (so the server sent only the rest), and the
/// whole image then fails its hashes: rejected as arbitrary software, the bad part deleted,
/// nothing installed, and the attack reported to the Director in the next manifest.
#[test]
fn a_corrupt_partial_download_is_caught_and_reported() {
    let (tcu, _) = images();
    let world = World::new(&[(TCU, &tcu, PRIMARY)]);
    let mut corrupt = tcu[..100_000].to_vec();
    corrupt[10] ^= 1;
    let part = leave_partial(&world, &tcu, &corrupt);
    let primary = world.primary();
    let mut secondaries = world.secondaries();
    let report = cycle(&primary, &mut secondaries);
    assert_eq!(report.result, Outcome::Rejected, "{report:?}");
    assert_eq!(report.attack.as_deref(), Some("arbitrary_software"), "{report:?}");
    assert_eq!(report.step, Some(Step::Download));
    assert!(!part.exists(), "the corrupt part is gone");
    assert!(!world.state_dir().join("installed.bin").exists());

    let report = cycle(&primary, &mut secondaries);
    let receipt = report.manifest.as_ref().unwrap();
    assert_eq!(receipt["attacks"][PRIMARY.0]["code"], "arbitrary_software", "{receipt}");
    assert!(PrimaryState::load(&world.state_dir()).unwrap().attacks.is_empty(), "reported");
    assert!(!world.state_dir().join("installed.bin").exists());
}

/// Time never goes back (TM-5): an attestation older than the time already accepted is a
/// freeze attack; nothing is verified or installed, and it is reported next cycle.
#[test]
fn an_old_time_is_refused_as_freeze() {
    let (tcu, _) = images();
    let world = World::new(&[(TCU, &tcu, PRIMARY)]);
    let primary = world.primary();
    let mut state = PrimaryState::load(&world.state_dir()).unwrap();
    let future = chrono::Utc::now() + chrono::Duration::days(2);
    state.time = Some(primary_client::state::AttestedTime { latest: future, previous: future });
    state.save(&world.state_dir()).unwrap();
    let report = cycle(&primary, &mut []);
    assert_eq!(report.result, Outcome::Rejected);
    assert_eq!((report.step, report.attack.as_deref()), (Some(Step::Time), Some("freeze")));
    assert!(!world.state_dir().join("director/timestamp.json").exists());
    let state = PrimaryState::load(&world.state_dir()).unwrap();
    assert_eq!(state.time.unwrap().latest, future, "the clock did not move back");
    assert_eq!(state.attacks[0].code.as_deref(), Some("freeze"));
}

/// TM-5: a stolen time key pushed the Primary's clock a year ahead, so every attestation is
/// refused as freeze. The operator rotates the time key in Director root 2: the Primary walks
/// to root 2 before it checks the attestation the new key signed, forgets the time the old
/// key vouched for, and updates again.
#[test]
fn a_rotated_time_key_restarts_the_clock() {
    let (tcu, _) = images();
    let world = World::new(&[(TCU, &tcu, PRIMARY)]);
    let primary = world.primary();
    let mut state = PrimaryState::load(&world.state_dir()).unwrap();
    let ahead = chrono::Utc::now() + chrono::Duration::days(365);
    state.time = Some(primary_client::state::AttestedTime { latest: ahead, previous: ahead });
    state.save(&world.state_dir()).unwrap();
    let report = cycle(&primary, &mut []);
    assert_eq!((report.step, report.attack.as_deref()), (Some(Step::Time), Some("freeze")));

    world.rotate_time_key(&world::key(55));
    let report = cycle(&primary, &mut []);
    assert_eq!(report.result, Outcome::Updated, "{report:?}");
    let time = PrimaryState::load(&world.state_dir()).unwrap().time.unwrap().latest;
    assert!((chrono::Utc::now() - time).num_minutes().abs() < 5, "the clock restarted: {time}");
    assert!(world.state_dir().join("director/roots/2.root.json").exists(), "trusts root 2");
}

/// A Secondary that refuses the time still gets the update's metadata, which it judges at its
/// own time (and through which one that missed a time-key rotation catches up), and its
/// image; the refusal is named in the status.
#[test]
fn a_refused_time_does_not_hold_an_update_back() {
    let (tcu, bcm) = images();
    let world = World::new(&[(TCU, &tcu, PRIMARY), (BCM, &bcm, FULL)]);
    let mut secondaries = world.secondaries();
    secondaries[0].refuses_time = true;
    let report = cycle(&world.primary(), &mut secondaries);
    assert_eq!(report.result, Outcome::Updated, "{report:?}");
    let errors: Vec<&str> = report.secondary_errors.keys().map(EcuSerial::as_str).collect();
    assert_eq!(errors, [FULL.0], "{report:?}");
    let seen = secondaries[0].seen.lock().unwrap();
    assert_eq!((seen.metadata.len(), seen.images.len()), (1, 1));
}

/// With nothing to install, Secondaries get only the time; one that refuses it (it missed the
/// cycle that rotated the time key) is sent the metadata, to catch up with the Director Root,
/// and then the time once more.
#[test]
fn a_secondary_refusing_the_time_is_sent_the_metadata() {
    let (tcu, bcm) = images();
    let world = World::new(&[(TCU, &tcu, PRIMARY), (BCM, &bcm, FULL)]);
    let primary = world.primary();
    let mut secondaries = world.secondaries();
    assert_eq!(cycle(&primary, &mut secondaries).result, Outcome::Updated);
    assert_eq!(cycle(&primary, &mut secondaries).result, Outcome::NoUpdate);
    let metadata = |s: &TestSecondary| s.seen.lock().unwrap().metadata.len();
    let before = [metadata(&secondaries[0]), metadata(&secondaries[1])];

    secondaries[1].refuses_time = true;
    let report = cycle(&primary, &mut secondaries);
    assert_eq!(report.result, Outcome::NoUpdate, "{report:?}");
    assert_eq!([metadata(&secondaries[0]), metadata(&secondaries[1])], [before[0], before[1] + 1]);
    let errors: Vec<&str> = report.secondary_errors.keys().map(EcuSerial::as_str).collect();
    assert_eq!(errors, [PARTIAL.0], "refused twice: {report:?}");
}

/// A Secondary off the bus is left out of the manifest (so the Director, missing its report,
/// refuses the manifest and says why) and named in the status; the Primary and the other
/// Secondary still get their images, and the partial one no image it was not assigned.
#[test]
fn an_unreachable_secondary_does_not_block_the_others() {
    let (tcu, bcm) = images();
    let world = World::new(&[(TCU, &tcu, PRIMARY), (BCM, &bcm, FULL)]);
    let mut secondaries = world.secondaries();
    secondaries[1].offline = true;
    let report = cycle(&world.primary(), &mut secondaries);
    assert_eq!(report.result, Outcome::Updated, "{report:?}");
    assert_eq!(report.updated.len(), 2, "{report:?}");
    let errors: Vec<&str> = report.secondary_errors.keys().map(EcuSerial::as_str).collect();
    assert_eq!(errors, [PARTIAL.0]);
    let refused = report.manifest.as_ref().unwrap()["refused"].as_str().unwrap();
    assert!(refused.contains("missing_ecu") && refused.contains(PARTIAL.0), "{refused}");
    assert!(secondaries[1].seen.lock().unwrap().metadata.is_empty());
    assert_eq!(secondaries[0].seen.lock().unwrap().images, [bcm]);
}
