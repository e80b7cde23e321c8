//! Vehicles that stopped reporting (A13): an attacker who black-holes a vehicle's traffic can
//! keep it from updating, which no vehicle-side check prevents, so the Director shows it. A
//! vehicle is overdue when its last accepted manifest (before its first one, its
//! registration) is older than `--overdue-after`.

use chrono::{DateTime, Duration, Utc};
use serde::Serialize;
use uptane::metadata::parse_time;

use crate::error::{Rejection, Rejections as _, Result};
use crate::state::AppState;
use crate::storage::VehicleRow;

/// How recently one vehicle reported.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Reporting {
    pub vin: String,
    pub registered_at: String,
    /// When its last accepted manifest arrived, if one ever did.
    pub last_manifest_at: Option<String>,
    pub overdue: bool,
}

impl Reporting {
    fn of(vehicle: VehicleRow, last: Option<String>, now: DateTime<Utc>, after: Duration) -> Self {
        let since = last.as_deref().unwrap_or(&vehicle.created_at);
        // A time the database holds but cannot be read is treated as long ago: better flagged.
        let overdue = parse_time(since).is_none_or(|at| now - at > after);
        Reporting {
            vin: vehicle.vin,
            registered_at: vehicle.created_at,
            last_manifest_at: last,
            overdue,
        }
    }
}

/// `vin`'s reporting (`unknown_vehicle` if it is not registered).
pub fn vehicle(state: &AppState, vin: &str) -> Result<Reporting> {
    let vehicle = state.db.vehicle(vin)?.ok_or_else(|| Rejection::unknown_vehicle(vin))?;
    let last = state.db.last_manifest_at(vin)?;
    Ok(Reporting::of(vehicle, last, Utc::now(), state.config.overdue_after))
}

/// Every vehicle's reporting, by VIN; only the overdue ones if `only_overdue`.
pub fn fleet(state: &AppState, only_overdue: bool) -> Result<Vec<Reporting>> {
    let mut last = state.db.last_manifests()?;
    let now = Utc::now();
    let fleet = state.db.vehicles()?.into_iter().map(|vehicle| {
        let at = last.remove(&vehicle.vin);
        Reporting::of(vehicle, at, now, state.config.overdue_after)
    });
    Ok(fleet.filter(|r| r.overdue || !only_overdue).collect())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn registered(at: &str) -> VehicleRow {
        VehicleRow { vin: "VIN".into(), primary_serial: "P".into(), created_at: at.into() }
    }

    #[test]
    fn overdue_counts_from_the_last_report_or_else_the_registration() {
        let now = parse_time("2026-01-02T00:00:00Z").unwrap();
        let day = Duration::days(1);
        let old = "2025-12-31T00:00:00Z";
        let recent = "2026-01-01T12:00:00Z";
        assert!(Reporting::of(registered(old), None, now, day).overdue);
        assert!(!Reporting::of(registered(recent), None, now, day).overdue);
        assert!(!Reporting::of(registered(old), Some(recent.into()), now, day).overdue);
        assert!(Reporting::of(registered(old), Some(old.into()), now, day).overdue);
        assert!(Reporting::of(registered(recent), Some("garbage".into()), now, day).overdue);
    }
}
