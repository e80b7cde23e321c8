//! The rollout: one Director campaign per hardware type of the release, every vehicle that
//! carries it in one batch; and the campaigns' progress as the Director counts it.

use anyhow::{Context, Result};
use fixtures::vehicle::Vehicle as Fixture;
use serde_json::{Value, json};

use crate::demo::release::Release;
use crate::services::Admin;

/// Creates the campaigns; returns their ids.
pub fn launch(operator: &Admin, release: &Release, fleet: &[Fixture]) -> Result<Vec<String>> {
    let mut ids = Vec::new();
    for (hardware, image) in release {
        let vins: Vec<&str> = fleet
            .iter()
            .filter(|v| v.ecus().any(|e| e.hardware_id.as_str() == hardware))
            .map(|v| v.vin.as_str())
            .collect();
        let request = json!({
            "name": format!("release 2.0 / {hardware}"),
            "target_path": image.path,
            "hardware_id": hardware,
            "vehicles": vins,
            "first_batch": vins.len(),
            "max_failure_percent": 0,
        });
        let created = operator.post("/api/v1/campaigns", &request)?;
        ids.push(created["id"].as_str().context("a campaign without an id")?.to_owned());
    }
    Ok(ids)
}

/// One line per campaign: its state and its ECU assignments by status.
pub fn show(operator: &Admin, ids: &[String]) -> Result<()> {
    println!(
        "   {:<28} {:<10} {:>7} {:>9} {:>4} {:>6}",
        "campaign", "state", "pending", "in_flight", "done", "failed"
    );
    for id in ids {
        let view = operator.get(&format!("/api/v1/campaigns/{id}"))?;
        let count = |status: &str| view["progress"][status].as_u64().unwrap_or(0);
        println!(
            "   {:<28} {:<10} {:>7} {:>9} {:>4} {:>6}",
            view["name"].as_str().unwrap_or("?"),
            view["state"].as_str().unwrap_or("?"),
            count("pending"),
            count("in_flight"),
            count("done"),
            count("failed"),
        );
    }
    Ok(())
}

/// Whether every campaign's assignments are all done.
pub fn all_done(operator: &Admin, ids: &[String]) -> Result<bool> {
    for id in ids {
        let view: Value = operator.get(&format!("/api/v1/campaigns/{id}"))?;
        let progress = view["progress"].as_object().context("a campaign without progress")?;
        let open = progress.iter().any(|(status, n)| status != "done" && n.as_u64() != Some(0));
        if open {
            return Ok(false);
        }
    }
    Ok(true)
}
