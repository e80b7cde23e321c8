//! The demo end to end with the buses on a virtual clock: both services, the keytool release,
//! the campaigns, two fixture vehicles with their Secondaries on CAN, the attack.

#![allow(clippy::unwrap_used)]

use canbus::ClockMode;
use uptane_ota::demo::{Options, run, table};

#[test]
fn the_demo_rolls_the_release_out_to_every_ecu_and_stops_the_compromised_director() {
    let scratch = tempfile::tempdir().unwrap();
    let dir = scratch.path().join("demo");
    let options = Options { dir: Some(dir.clone()), clock: ClockMode::Virtual, progress: false };
    let summary = run(&options).unwrap();

    // compact: the Primary and 2 Secondaries; premium: the Primary and 6.
    assert_eq!(summary.fleet.len(), 10, "{:#?}", summary.fleet);
    for row in &summary.fleet {
        let image = &summary.release[&row.hardware_id];
        let expected = Some((image.path.clone(), image.length as u64));
        assert_eq!(row.image, expected, "the Director's view of {row:?}");
    }
    let radars = summary.fleet.iter().filter(|r| r.hardware_id == "supa-radar");
    assert!(
        radars
            .map(|r| r.image.as_ref().unwrap().0.as_str())
            .all(|p| p.starts_with("supplier-radar/"))
    );
    let rendered = table::render(&summary.fleet);
    for row in &summary.fleet {
        assert!(rendered.contains(&row.serial), "{rendered}");
    }

    // The compromised Director's image was refused by the Primary, reported, and settled as
    // failed; the body controller still runs the release (checked above).
    assert_eq!(summary.attack.label.as_deref(), Some("arbitrary_software"), "{:?}", summary.attack);
    assert!(summary.attack.reported.contains("arbitrary_software"), "{:?}", summary.attack);
    assert_eq!(summary.attack.assignment_status, "failed", "{:?}", summary.attack);

    // Nothing is left listening; the files stay with --dir.
    for url in &summary.services {
        let port = url.rsplit(':').next().unwrap().parse::<u16>().unwrap();
        assert!(std::net::TcpStream::connect(("127.0.0.1", port)).is_err(), "{url} still serves");
    }
    assert!(dir.join("vehicles/premium/primary.toml").exists());
    assert!(dir.join("image-release/metadata/1.root.json").exists());

    // The demo refuses to start over a directory holding a previous run.
    let error = run(&options).unwrap_err().to_string();
    assert!(error.contains("is not empty"), "{error}");
}
