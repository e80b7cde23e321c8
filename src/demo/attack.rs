//! A compromised Director (attack A3 of uptane-profile.md): the attacker controls the
//! Director's database and online keys, so the Director signs, for one vehicle, an image the
//! Image repository never released. The Primary's full verification looks every Director
//! target up in the Image repository and refuses the bundle as `arbitrary_software` before a
//! byte of the image is fetched; no ECU changes; the next manifest reports the attack.

use anyhow::{Context, Result};
use primary_client::cycle::{CycleReport, Outcome};
use serde_json::Value;
use uptane::metadata::{TargetCustom, TargetFile};
use uptane::names::HardwareId;

use crate::demo::vehicle::Vehicle;
use crate::system::System;

/// The image path the attacker makes the Director sign.
pub const BACKDOOR: &str = "oem/acme-bcm-2.0-hotfix.bin";

/// What became of the attack.
#[derive(Debug, Clone)]
pub struct Stopped {
    /// The attack label the Primary reported (`None`: the attack was not detected).
    pub label: Option<String>,
    /// The Director's record of the assignment afterwards (`failed` once reported).
    pub assignment_status: String,
    /// The attacks the vehicle's last accepted manifest reported to the Director.
    pub reported: String,
}

/// Mounts the attack on `vehicle`'s first full-verification Secondary and runs the cycles
/// that stop and report it.
pub fn compromised_director(system: &System, vehicle: &mut Vehicle) -> Result<Stopped> {
    let ecu = vehicle
        .fixture
        .secondaries
        .iter()
        .find(|e| e.hardware_id.as_str() == "acme-bcm")
        .context("the vehicle has no body controller")?;
    let vin = vehicle.fixture.vin.to_string();
    let malicious = b"#!/bin/sh\n# unlock every door on command\n".repeat(64);
    let mut file = TargetFile::describing(&malicious);
    file.set_uptane(&TargetCustom {
        hardware_ids: Some(vec![HardwareId::new(ecu.hardware_id.as_str())?]),
        release_counter: Some(3),
        ..TargetCustom::default()
    })?;
    let now = uptane::metadata::format_time(chrono::Utc::now());
    let row = director_repo::storage::AssignmentRow {
        id: format!("attacker-{}", uptane::crypto::sha256_hex(now.as_bytes())),
        vin: vin.clone(),
        ecu_serial: ecu.serial.to_string(),
        target_path: BACKDOOR.into(),
        target_json: serde_json::to_string(&file)?,
        status: director_repo::storage::PENDING.into(),
        created_at: now.clone(),
        updated_at: now,
        campaign_id: None,
        issued_version: None,
        reason: None,
    };
    // Straight into the database: the operator API would have refused it (the Director checks
    // assignments against the Image repository), but a compromised Director does not.
    system.director_state.db.add_assignment(&row)?;
    println!(
        "   the attacker makes the Director sign {BACKDOOR} ({} bytes) for {} of {vin}",
        malicious.len(),
        ecu.serial
    );
    let report = vehicle.cycle()?;
    print(&report);
    // The next cycle's manifest tells the Director what the Primary stopped.
    let next = vehicle.cycle()?;
    let state = system.operator()?.get(&format!("/api/v1/vehicles/{vin}"))?;
    let assignment_status = state["assignments"]
        .as_array()
        .and_then(|all| all.iter().find(|a| a["target_path"] == BACKDOOR))
        .and_then(|a| a["status"].as_str())
        .unwrap_or("absent")
        .to_owned();
    let reported = next.manifest.as_ref().map(receipt_attacks).unwrap_or_default();
    println!(
        "   next manifest: the Director recorded {reported}; the assignment is {assignment_status}"
    );
    Ok(Stopped { label: report.attack, assignment_status, reported })
}

fn print(report: &CycleReport) {
    match report.result {
        Outcome::Rejected => println!(
            "   the Primary refused the bundle at its {} step: {} [{}]",
            report.step.map_or("unknown".into(), |step| format!("{step:?}").to_lowercase()),
            report.error.as_deref().unwrap_or_default(),
            report.attack.as_deref().unwrap_or("no attack label")
        ),
        other => println!("   NOT STOPPED: the cycle ended {other:?}: {:?}", report.updated),
    }
}

/// The attacks a Director receipt lists, as `ECU: code`.
fn receipt_attacks(receipt: &Value) -> String {
    let Some(attacks) = receipt["attacks"].as_object() else { return "no attack".into() };
    let listed: Vec<String> = attacks
        .iter()
        .filter_map(|(ecu, a)| Some(format!("{ecu}: {}", a["code"].as_str()?)))
        .collect();
    if listed.is_empty() { "no attack".into() } else { listed.join(", ") }
}
