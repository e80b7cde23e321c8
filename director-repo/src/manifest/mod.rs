//! Vehicle version manifests (Standard 5.3.2.1 steps 1-5): verified against the inventory
//! (the Primary's signature, each ECU's report with that ECU's key, every ECU present),
//! anti-replay (each ECU's report counter must increase and its nonce change), then applied
//! atomically (one transaction, or on PostgreSQL one statement when only the counters move):
//! installed images, assignments settled ([`crate::assignment`]), the manifest recorded;
//! campaigns whose assignments settled may then advance. Every manifest is recorded with its
//! outcome, refused ones included; a refused one changes nothing else.

mod inventory;

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;
use serde_json::{Value, json};
use uptane::manifest::{EcuVersionReport, verify_manifest};
use uptane::names::{EcuSerial, Vin};

use crate::assignment::{EcuOutcome, settle};
use crate::error::{Error, Rejection, Rejections as _, Result};
use crate::state::AppState;
use crate::storage::{CounterUpdate, InstalledRow, InventoryEcu, ManifestRow};
pub use inventory::Known;

/// What an accepted manifest did.
#[derive(Debug, Clone, Serialize)]
pub struct Receipt {
    pub manifest_id: String,
    /// Assignments this manifest confirmed installed.
    pub completed: Vec<String>,
    /// Assignments in flight this manifest shows not installed, with the reason.
    pub failed: Vec<FailedAssignment>,
    /// Set when the manifest shows a bundle installed on some of its ECUs only (the vehicle
    /// is then held: no new bundle until the operator releases it).
    pub partial_installation: Option<String>,
    /// Attacks reported by ECUs (serial, or `vehicle`, to text and code).
    pub attacks: Value,
}

#[derive(Debug, Clone, Serialize)]
pub struct FailedAssignment {
    pub id: String,
    pub reason: String,
}

/// Receives the manifest of `vin` and records it with its outcome.
pub fn receive(state: &AppState, vin: &str, bytes: &[u8]) -> Result<Receipt> {
    let mut row = ManifestRow::received(crate::random_id()?, vin, bytes);
    let result = apply(state, vin, bytes, &mut row);
    let outcome = match &result {
        Ok(_) => "accepted",
        Err(Error::Rejected(r)) => r.code,
        Err(_) => return result,
    };
    if let Err(Error::Rejected(rejection)) = &result {
        row.outcome = outcome.into();
        state.db.record_manifest(&row)?;
        tracing::warn!(
            vin,
            code = rejection.code,
            message = rejection.message,
            "refused a manifest"
        );
    }
    result
}

/// How often a manifest is checked again when its vehicle's inventory changed while it was
/// applied (another manifest of the vehicle, or a re-provisioned ECU).
const ATTEMPTS: usize = 4;

/// Judges the manifest against the inventory remembered from the vehicle's last check-in, or
/// else as read, and applies it while the database still holds that inventory. A manifest
/// refused against a remembered inventory is judged again against the database.
fn apply(state: &AppState, vin: &str, bytes: &[u8], row: &mut ManifestRow) -> Result<Receipt> {
    let mut remembered = state.inventories.take(vin);
    for _ in 0..ATTEMPTS {
        let from_memory = remembered.is_some();
        let mut known = match remembered.take() {
            Some(known) => known,
            None => Known::read(state, vin)?,
        };
        match try_apply(state, vin, bytes, row, &known) {
            Ok(Some(Applied { receipt, counters_only })) => {
                if let Some(counters) = counters_only {
                    known.advance(&counters);
                    state.inventories.put(vin, known);
                }
                return Ok(receipt);
            }
            Ok(None) | Err(Error::Rejected(_)) if from_memory => {}
            Ok(None) => {}
            Err(e) => return Err(e),
        }
    }
    Err(Rejection::conflict(
        "vehicle_changed",
        "the vehicle's inventory kept changing while the manifest was applied; send it again",
    )
    .into())
}

/// An applied manifest: its receipt, and its counter updates when they were all it changed
/// besides being recorded.
struct Applied {
    receipt: Receipt,
    counters_only: Option<Vec<CounterUpdate>>,
}

/// Verifies the manifest against `known`, and applies it unless the database no longer holds
/// that inventory (`None`).
fn try_apply(
    state: &AppState,
    vin: &str,
    bytes: &[u8],
    row: &mut ManifestRow,
    known: &Known,
) -> Result<Option<Applied>> {
    let inventory = &known.inventory.ecus;
    let open = &known.inventory.open;
    let vin_name = Vin::new(vin)?;
    let (manifest, reports) =
        verify_manifest(bytes, &vin_name, &known.primary, &known.keys).map_err(rejection)?;

    let mut counters = Vec::with_capacity(reports.len());
    let mut changed = Vec::new();
    let mut attacks = serde_json::Map::new();
    let mut outcomes = BTreeMap::new();
    if !manifest.attacks_detected.is_empty() {
        attacks.insert("vehicle".into(), json!({ "attacks_detected": manifest.attacks_detected }));
    }
    for (serial, report) in &reports {
        let held = check_report(serial, report, inventory)?;
        counters.push(fresh_counter(serial, report, &held.ecu)?);
        let image = InstalledRow {
            ecu_serial: serial.to_string(),
            vin: vin.to_owned(),
            filepath: report.installed_image.filepath.clone(),
            length: report.installed_image.fileinfo.length as i64,
            hashes: serde_json::to_string(&report.installed_image.fileinfo.hashes)
                .map_err(|e| Error::Internal(e.to_string()))?,
            reported_at: row.received_at.clone(),
        };
        let mut reported = None;
        if !report.attacks_detected.is_empty() || report.attacks_detected_code.is_some() {
            reported = Some(match &report.attacks_detected_code {
                Some(code) => format!("{} ({code})", report.attacks_detected),
                None => report.attacks_detected.clone(),
            });
            attacks.insert(
                serial.to_string(),
                json!({
                    "attacks_detected": report.attacks_detected,
                    "code": report.attacks_detected_code,
                }),
            );
        }
        // Only what changed is written: most check-ins report the same images again.
        let unchanged = held.installed.as_ref().is_some_and(|k| {
            k.filepath == image.filepath && k.length == image.length && k.hashes == image.hashes
        });
        if !unchanged {
            changed.push(image.clone());
        }
        outcomes.insert(serial.to_string(), EcuOutcome { installed: image, attacks: reported });
    }
    row.attacks = Value::Object(attacks.clone()).to_string();
    row.outcome = "accepted".into();
    let settlement = settle(open, &outcomes);
    if !state.db.apply_manifest(row, &counters, &changed, &known.inventory, &settlement)? {
        tracing::debug!(vin, "the inventory changed while a manifest was applied; again");
        return Ok(None);
    }
    if !attacks.is_empty() {
        tracing::warn!(vin, attacks = %row.attacks, "ECUs reported attacks");
    }
    if let Some(partial) = &settlement.partial {
        tracing::warn!(vin, manifest = row.id, partial, "held the vehicle");
    }
    tracing::debug!(
        vin,
        completed = settlement.done.len(),
        failed = settlement.failed.len(),
        "accepted a manifest"
    );
    let settled: BTreeSet<&str> = settlement
        .done
        .iter()
        .chain(settlement.failed.iter().map(|(id, _)| id))
        .map(String::as_str)
        .collect();
    let campaigns: BTreeSet<&str> = open
        .iter()
        .filter(|a| settled.contains(a.id.as_str()))
        .filter_map(|a| a.campaign_id.as_deref())
        .collect();
    for campaign in campaigns {
        // The manifest is applied; a campaign that cannot advance now does on its next event.
        if let Err(e) = crate::campaign::advance(state, campaign) {
            tracing::error!(campaign, error = %e, "advancing a campaign");
        }
    }
    let counters_only = (changed.is_empty() && settled.is_empty() && settlement.partial.is_none())
        .then_some(counters);
    let receipt = Receipt {
        manifest_id: row.id.clone(),
        completed: settlement.done,
        failed: settlement
            .failed
            .into_iter()
            .map(|(id, reason)| FailedAssignment { id, reason })
            .collect(),
        partial_installation: settlement.partial,
        attacks: Value::Object(attacks),
    };
    Ok(Some(Applied { receipt, counters_only }))
}

/// The report's own serial and hardware id must match the inventory, and the nonce must be a
/// 128-bit (or longer) hex string. Returns the ECU.
fn check_report<'a>(
    serial: &EcuSerial,
    report: &EcuVersionReport,
    inventory: &'a [InventoryEcu],
) -> Result<&'a InventoryEcu> {
    let held = inventory.iter().find(|e| e.ecu.serial == serial.as_str()).ok_or_else(|| {
        Rejection::bad_request("unknown_ecu", format!("ECU {serial} is not in the vehicle"))
    })?;
    let ecu = &held.ecu;
    if report.hardware_id.as_str() != ecu.hardware_id {
        return Err(Rejection::bad_request(
            "malformed_manifest",
            format!(
                "ECU {serial} reports hardware {} but the inventory has {}",
                report.hardware_id, ecu.hardware_id
            ),
        )
        .into());
    }
    let nonce_ok = report.nonce.len() >= 32 && report.nonce.bytes().all(|b| b.is_ascii_hexdigit());
    if !nonce_ok {
        return Err(Rejection::bad_request(
            "malformed_manifest",
            format!("ECU {serial}: the nonce must be at least 128 bits of hex"),
        )
        .into());
    }
    Ok(held)
}

/// Anti-replay (Standard 5.3.2.1 step 4): the report counter must exceed the last accepted one
/// and the nonce differ from it. The update is written only if the ECU still holds what was
/// checked here ([`crate::storage::Db::apply_manifest`]).
fn fresh_counter(
    serial: &EcuSerial,
    report: &EcuVersionReport,
    ecu: &crate::storage::EcuRow,
) -> Result<CounterUpdate> {
    let counter = i64::try_from(report.report_counter)
        .map_err(|_| Rejection::bad_request("malformed_manifest", "report_counter out of range"))?;
    let fresh = ecu.last_counter.is_none_or(|last| last < counter)
        && ecu.last_nonce.as_deref() != Some(report.nonce.as_str());
    if !fresh {
        return Err(Rejection::bad_request(
            "replayed_report",
            format!(
                "the report of ECU {serial} repeats a nonce or does not increase its report \
                 counter ({counter})"
            ),
        )
        .into());
    }
    Ok(CounterUpdate {
        serial: serial.to_string(),
        counter,
        nonce: report.nonce.clone(),
        seen_counter: ecu.last_counter,
        seen_key_id: ecu.key_id.clone(),
        seen_hardware_id: ecu.hardware_id.clone(),
        seen_is_primary: ecu.is_primary,
    })
}

/// Maps a verification failure onto a stable code.
fn rejection(error: uptane::Error) -> Error {
    use uptane::Error as E;
    let (status, code) = match &error {
        E::DuplicateSignature { .. } | E::Threshold { .. } => (401, "bad_signature"),
        E::UnknownEcu { .. } => (400, "unknown_ecu"),
        E::MissingReport { .. } => (400, "missing_ecu"),
        E::VinMismatch { .. } => (400, "vin_mismatch"),
        _ => (400, "malformed_manifest"),
    };
    Rejection::new(status, code, error).into()
}
