//! The fleet table: what each ECU runs, as the Director knows it from the vehicles' signed
//! manifests (`GET /api/v1/vehicles/VIN`).

use anyhow::{Context, Result};
use fixtures::vehicle::{Vehicle as Fixture, Verification};

use crate::services::Admin;

/// One ECU's row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row {
    pub vehicle: String,
    pub vin: String,
    pub serial: String,
    pub hardware_id: String,
    /// `primary`, `full` or `partial`.
    pub role: &'static str,
    /// The installed image the Director last confirmed, and its length.
    pub image: Option<(String, u64)>,
}

/// Reads every vehicle's state from the Director.
pub fn fleet(operator: &Admin, fleet: &[Fixture]) -> Result<Vec<Row>> {
    let mut rows = Vec::new();
    for vehicle in fleet {
        let state = operator.get(&format!("/api/v1/vehicles/{}", vehicle.vin))?;
        for ecu in vehicle.ecus() {
            let reported = state["ecus"]
                .as_array()
                .and_then(|all| all.iter().find(|e| e["serial"] == ecu.serial.as_str()))
                .with_context(|| format!("the Director does not know ECU {}", ecu.serial))?;
            let installed = &reported["installed"];
            let image = installed["filepath"]
                .as_str()
                .map(|path| (path.to_owned(), installed["length"].as_u64().unwrap_or(0)));
            let role = match ecu.verification {
                None => "primary",
                Some(Verification::Full) => "full",
                Some(Verification::Partial) => "partial",
            };
            rows.push(Row {
                vehicle: vehicle.name.clone(),
                vin: vehicle.vin.to_string(),
                serial: ecu.serial.to_string(),
                hardware_id: ecu.hardware_id.to_string(),
                role,
                image,
            });
        }
    }
    Ok(rows)
}

/// The table as text.
pub fn render(rows: &[Row]) -> String {
    let mut out = format!(
        "   {:<8} {:<18} {:<12} {:<11} {:<8} {:<38} {:>8}\n",
        "vehicle", "VIN", "ECU", "hardware", "verifies", "running", "bytes"
    );
    for row in rows {
        let (image, length) = match &row.image {
            Some((path, length)) => (path.as_str(), length.to_string()),
            None => ("(nothing reported)", String::new()),
        };
        out.push_str(&format!(
            "   {:<8} {:<18} {:<12} {:<11} {:<8} {:<38} {:>8}\n",
            row.vehicle, row.vin, row.serial, row.hardware_id, row.role, image, length
        ));
    }
    out
}
