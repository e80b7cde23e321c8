//! The assignment lifecycle (Standard 5.3.2.1 step 5; BP 8.0.6.2). An assignment is `pending`
//! until a bundle lists it (`in_flight`); the vehicle's next manifest settles it: `done` when
//! the ECU reports the image installed, `failed` when it does not (attacks reported, an
//! installation failure, or simply still the old image). While a bundle is in flight the
//! vehicle gets no new one: later assignments wait (DR-7). A manifest showing a bundle installed
//! on some ECUs and not on others is a partial bundle installation (A10): it is recorded and the
//! vehicle is held, so no next bundle is built on top of a state nobody planned.

use std::collections::{BTreeMap, BTreeSet};

use uptane::metadata::TargetFile;

use crate::campaign::PAUSED;
use crate::error::Result;
use crate::state::AppState;
use crate::storage::{AssignmentRow, IN_FLIGHT, InstalledRow, PENDING};

/// What the next Director targets of a vehicle lists.
#[derive(Debug, Default)]
pub struct Bundle<'a> {
    pub listed: Vec<&'a AssignmentRow>,
    /// Pending assignments this bundle issues (they become in flight when it is committed).
    pub issuing: Vec<String>,
}

/// The bundle for a vehicle with these open assignments: the one in flight, unchanged, until a
/// manifest settles it; otherwise every pending assignment, unless the vehicle is held or the
/// assignment's campaign is paused.
pub fn next_bundle<'a>(
    open: &'a [AssignmentRow],
    held: bool,
    paused: &BTreeSet<String>,
) -> Bundle<'a> {
    let in_flight: Vec<_> = open.iter().filter(|a| a.status == IN_FLIGHT).collect();
    if !in_flight.is_empty() {
        return Bundle { listed: in_flight, issuing: Vec::new() };
    }
    if held {
        return Bundle::default();
    }
    let listed: Vec<_> = open
        .iter()
        .filter(|a| a.status == PENDING)
        .filter(|a| a.campaign_id.as_ref().is_none_or(|c| !paused.contains(c)))
        .collect();
    let issuing = listed.iter().map(|a| a.id.clone()).collect();
    Bundle { listed, issuing }
}

/// The assignments the next bundle of `vin` lists, and those of them it issues
/// ([`next_bundle`]), given its `open` assignments (oldest first). Holds and paused campaigns
/// are only looked up when something waits.
pub fn bundle(
    state: &AppState,
    vin: &str,
    open: Vec<AssignmentRow>,
) -> Result<(Vec<AssignmentRow>, Vec<String>)> {
    let waiting =
        open.iter().any(|a| a.status == PENDING) && !open.iter().any(|a| a.status == IN_FLIGHT);
    let (held, paused) = if waiting {
        let campaigns: BTreeSet<String> =
            open.iter().filter_map(|a| a.campaign_id.clone()).collect();
        let paused = if campaigns.is_empty() {
            BTreeSet::new()
        } else {
            let ids: Vec<String> = campaigns.into_iter().collect();
            let states = state.db.campaign_states(&ids)?;
            states.into_iter().filter(|(_, s)| s == PAUSED).map(|(id, _)| id).collect()
        };
        (state.db.hold(vin)?.is_some(), paused)
    } else {
        (false, BTreeSet::new())
    };
    let plan = next_bundle(&open, held, &paused);
    Ok((plan.listed.into_iter().cloned().collect(), plan.issuing))
}

/// What one ECU's report in an accepted manifest says.
#[derive(Debug, Clone)]
pub struct EcuOutcome {
    pub installed: InstalledRow,
    /// `attacks_detected` (and its code), when the ECU reported any.
    pub attacks: Option<String>,
}

/// How a manifest settles the open assignments of its vehicle.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Settlement {
    pub done: Vec<String>,
    /// (assignment id, reason).
    pub failed: Vec<(String, String)>,
    /// Set when a bundle was installed on some of its ECUs only.
    pub partial: Option<String>,
}

/// What a manifest shows of one bundle (the assignments issued in one targets version): the
/// ECUs updated, and those not (with their index in [`Settlement::failed`]).
#[derive(Debug, Default)]
struct BundleOutcome<'a> {
    updated: Vec<&'a str>,
    missed: Vec<(usize, &'a str)>,
}

/// Settles `open` against the reports of a manifest, keyed by ECU serial. A pending assignment
/// the ECU already runs is done too; a pending one it does not run just waits.
pub fn settle(open: &[AssignmentRow], reports: &BTreeMap<String, EcuOutcome>) -> Settlement {
    let mut settlement = Settlement::default();
    let mut bundles: BTreeMap<Option<i64>, BundleOutcome> = BTreeMap::new();
    for assignment in open {
        let Some(report) = reports.get(&assignment.ecu_serial) else { continue };
        let serial = assignment.ecu_serial.as_str();
        if installs(assignment, &report.installed) {
            settlement.done.push(assignment.id.clone());
            if assignment.status == IN_FLIGHT {
                bundles.entry(assignment.issued_version).or_default().updated.push(serial);
            }
        } else if assignment.status == IN_FLIGHT {
            let reason = match &report.attacks {
                Some(attacks) => format!("ECU {serial} reported: {attacks}"),
                None => format!(
                    "ECU {serial} reports {} installed, not {}",
                    report.installed.filepath, assignment.target_path
                ),
            };
            let missed = (settlement.failed.len(), serial);
            bundles.entry(assignment.issued_version).or_default().missed.push(missed);
            settlement.failed.push((assignment.id.clone(), reason));
        }
    }
    for (version, bundle) in bundles {
        if bundle.updated.is_empty() || bundle.missed.is_empty() {
            continue;
        }
        let missed: Vec<&str> = bundle.missed.iter().map(|(_, serial)| *serial).collect();
        let version = version.map_or_else(|| "?".to_string(), |v| v.to_string());
        settlement.partial = Some(format!(
            "partial bundle installation: the bundle of Director targets version {version} is \
             installed on {:?} but not on {missed:?}",
            bundle.updated
        ));
        for (i, _) in bundle.missed {
            let reason = &mut settlement.failed[i].1;
            *reason = format!("partial bundle installation: {reason}");
        }
    }
    settlement
}

/// Whether an ECU reporting `installed` runs the assigned image: same path and length, and
/// every hash both list agrees (at least one in common).
pub fn installs(assignment: &AssignmentRow, installed: &InstalledRow) -> bool {
    if assignment.target_path != installed.filepath {
        return false;
    }
    let Ok(target) = serde_json::from_str::<TargetFile>(&assignment.target_json) else {
        return false;
    };
    let Ok(hashes) = serde_json::from_str::<BTreeMap<String, String>>(&installed.hashes) else {
        return false;
    };
    let common: Vec<_> = hashes.iter().filter(|(k, _)| target.hashes.contains_key(*k)).collect();
    target.length as i64 == installed.length
        && !common.is_empty()
        && common
            .iter()
            .all(|(k, v)| target.hashes.get(*k).is_some_and(|t| t.eq_ignore_ascii_case(v)))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn image(bytes: &[u8]) -> TargetFile {
        TargetFile::describing(bytes)
    }

    fn assignment(id: &str, serial: &str, status: &str, campaign: Option<&str>) -> AssignmentRow {
        AssignmentRow {
            id: id.into(),
            vin: "VIN".into(),
            ecu_serial: serial.into(),
            target_path: format!("{serial}.bin"),
            target_json: serde_json::to_string(&image(serial.as_bytes())).unwrap(),
            status: status.into(),
            created_at: String::new(),
            updated_at: String::new(),
            campaign_id: campaign.map(Into::into),
            issued_version: (status == IN_FLIGHT).then_some(4),
            reason: None,
        }
    }

    fn report(
        serial: &str,
        path: &str,
        bytes: &[u8],
        attacks: Option<&str>,
    ) -> (String, EcuOutcome) {
        let file = image(bytes);
        let installed = InstalledRow {
            ecu_serial: serial.into(),
            vin: "VIN".into(),
            filepath: path.into(),
            length: file.length as i64,
            hashes: serde_json::to_string(&file.hashes).unwrap(),
            reported_at: String::new(),
        };
        (serial.into(), EcuOutcome { installed, attacks: attacks.map(Into::into) })
    }

    #[test]
    fn a_bundle_in_flight_blocks_new_ones() {
        let open = [assignment("a", "E1", IN_FLIGHT, None), assignment("b", "E2", PENDING, None)];
        let bundle = next_bundle(&open, false, &BTreeSet::new());
        assert_eq!(bundle.listed.iter().map(|a| a.id.as_str()).collect::<Vec<_>>(), ["a"]);
        assert!(bundle.issuing.is_empty());

        let open =
            [assignment("b", "E2", PENDING, None), assignment("c", "E3", PENDING, Some("k"))];
        let bundle = next_bundle(&open, false, &BTreeSet::new());
        assert_eq!(bundle.issuing, ["b", "c"]);
        let paused = BTreeSet::from(["k".to_string()]);
        assert_eq!(next_bundle(&open, false, &paused).issuing, ["b"]);
        assert!(next_bundle(&open, true, &BTreeSet::new()).listed.is_empty());
    }

    #[test]
    fn reports_settle_assignments() {
        let open = [
            assignment("a", "E1", IN_FLIGHT, None),
            assignment("b", "E2", IN_FLIGHT, None),
            assignment("c", "E3", PENDING, None),
        ];
        // Everything installed: done, and the pending one the ECU does not run waits.
        let reports = BTreeMap::from([
            report("E1", "E1.bin", b"E1", None),
            report("E2", "E2.bin", b"E2", None),
            report("E3", "old.bin", b"old", None),
        ]);
        let all = settle(&open, &reports);
        assert_eq!(all, Settlement { done: vec!["a".into(), "b".into()], ..Default::default() });

        // Same path, other bytes: not installed.
        let reports = BTreeMap::from([
            report("E1", "E1.bin", b"forged", None),
            report("E2", "old.bin", b"old", Some("hash mismatch (arbitrary_software)")),
        ]);
        let none = settle(&open, &reports);
        assert!(none.done.is_empty() && none.partial.is_none());
        assert_eq!(none.failed.len(), 2);
        assert!(none.failed[1].1.contains("arbitrary_software"), "{:?}", none.failed);
    }

    #[test]
    fn a_partly_installed_bundle_is_flagged() {
        let open = [assignment("a", "E1", IN_FLIGHT, None), assignment("b", "E2", IN_FLIGHT, None)];
        let reports = BTreeMap::from([
            report("E1", "E1.bin", b"E1", None),
            report("E2", "old.bin", b"old", None),
        ]);
        let settled = settle(&open, &reports);
        assert_eq!(settled.done, ["a"]);
        assert_eq!(settled.failed.len(), 1);
        assert!(settled.failed[0].1.starts_with("partial bundle installation"));
        let partial = settled.partial.unwrap();
        assert!(partial.contains("version 4") && partial.contains("E2"), "{partial}");
    }
}
