//! The inventory (Standard 5.3.2.2): vehicles and their ECUs, registered by the operator, and
//! the assignment of images to ECUs (the image as the verified Image repository lists it).

use serde::{Deserialize, Serialize};
use serde_json::Value;
use uptane::crypto::PublicKey;
use uptane::names::{EcuSerial, HardwareId, TargetPath, Vin};

use crate::error::{Error, Rejection, Rejections as _, Result};
use crate::image_repo::ImageRepo;
use crate::state::AppState;
use crate::storage::{
    AssignmentRow, EcuRow, HoldRow, InstalledRow, ManifestRow, PENDING, VehicleRow,
};

/// `POST /api/v1/vehicles`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Registration {
    pub vin: String,
    /// The Primary's ECU serial (one of `ecus`).
    pub primary: String,
    pub ecus: Vec<EcuRegistration>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct EcuRegistration {
    pub serial: String,
    pub hardware_id: String,
    /// The ECU's public key as a TUF key object.
    pub public_key: Value,
}

/// `POST /api/v1/vehicles/VIN/assignments`: an Image-repository target for one ECU. The
/// entry itself always comes from the verified Image repository, never from the request.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AssignmentRequest {
    pub ecu_serial: String,
    pub target_path: String,
}

fn bad(code: &'static str, error: impl std::fmt::Display) -> Error {
    Rejection::bad_request(code, error).into()
}

/// Registers a vehicle and its ECUs.
pub fn register(state: &AppState, request: &Registration) -> Result<VehicleRow> {
    let (vehicle, rows) = inventory_rows(request)?;
    state.db.register_vehicle(&vehicle, &rows)?;
    tracing::info!(vin = %vehicle.vin, ecus = rows.len(), "registered a vehicle");
    Ok(vehicle)
}

/// The inventory rows a registration asks for, after checking every name and key.
pub fn inventory_rows(request: &Registration) -> Result<(VehicleRow, Vec<EcuRow>)> {
    let vin = Vin::new(request.vin.as_str()).map_err(|e| bad("bad_vin", e))?;
    if request.ecus.is_empty() {
        return Err(bad("bad_registration", "a vehicle needs at least its Primary ECU"));
    }
    let mut rows = Vec::with_capacity(request.ecus.len());
    for ecu in &request.ecus {
        let serial = EcuSerial::new(ecu.serial.as_str()).map_err(|e| bad("bad_ecu", e))?;
        let hardware = HardwareId::new(ecu.hardware_id.as_str()).map_err(|e| bad("bad_ecu", e))?;
        let key: PublicKey = serde_json::from_value(ecu.public_key.clone())
            .map_err(|e| bad("bad_key", format!("ECU {serial}: public_key: {e}")))?;
        key.scheme().map_err(|e| bad("bad_key", format!("ECU {serial}: {e}")))?;
        let key_id = key.key_id().map_err(|e| bad("bad_key", e))?;
        if rows.iter().any(|r: &EcuRow| r.serial == serial.as_str()) {
            return Err(bad("bad_registration", format!("ECU {serial} listed twice")));
        }
        rows.push(EcuRow {
            serial: serial.to_string(),
            vin: vin.to_string(),
            hardware_id: hardware.to_string(),
            public_key: serde_json::to_string(&key).map_err(|e| Error::Internal(e.to_string()))?,
            key_id,
            is_primary: i16::from(ecu.serial == request.primary),
            last_counter: None,
            last_nonce: None,
        });
    }
    if !rows.iter().any(|r| r.is_primary == 1) {
        return Err(bad(
            "bad_registration",
            format!("the primary {:?} is not among the ECUs", request.primary),
        ));
    }
    let vehicle = VehicleRow {
        vin: vin.to_string(),
        primary_serial: request.primary.clone(),
        created_at: crate::now_text(),
    };
    Ok((vehicle, rows))
}

/// The configured Image repository, or `image_repo_not_configured` (503).
pub(crate) fn image_repo(state: &AppState) -> Result<&ImageRepo> {
    state.image_repo.as_ref().ok_or_else(|| {
        Rejection::new(
            503,
            "image_repo_not_configured",
            "no Image repository is configured (--image-repo-url, --image-repo-root): nothing \
             can be assigned",
        )
        .into()
    })
}

/// Assigns an image to one ECU of a vehicle: the ECU must exist, and the freshly refreshed
/// Image repository must list the image for the ECU's hardware id (`image_not_found`,
/// `hardware_id_mismatch`). A vehicle with a bundle in flight gets it in its next bundle.
pub fn assign(state: &AppState, vin: &str, request: &AssignmentRequest) -> Result<AssignmentRow> {
    let vehicle = state.db.vehicle(vin)?.ok_or_else(|| Rejection::unknown_vehicle(vin))?;
    let path =
        TargetPath::new(request.target_path.as_str()).map_err(|e| bad("bad_target_path", e))?;
    let ecu = state
        .db
        .ecus(&vehicle.vin)?
        .into_iter()
        .find(|e| e.serial == request.ecu_serial)
        .ok_or_else(|| {
            Rejection::not_found(
                "unknown_ecu",
                format!("vehicle {vin} has no ECU {:?}", request.ecu_serial),
            )
        })?;
    let hardware = HardwareId::new(ecu.hardware_id.as_str())?;
    let target = image_repo(state)?.director_entry(&path, &hardware)?;
    let now = crate::now_text();
    let row = AssignmentRow {
        id: crate::random_id()?,
        vin: vehicle.vin,
        ecu_serial: ecu.serial,
        target_path: path.to_string(),
        target_json: serde_json::to_string(&target).map_err(|e| Error::Internal(e.to_string()))?,
        status: PENDING.into(),
        created_at: now.clone(),
        updated_at: now,
        campaign_id: None,
        issued_version: None,
        reason: None,
    };
    state.db.add_assignment(&row)?;
    tracing::info!(vin, ecu = row.ecu_serial, path = row.target_path, "assigned an image");
    Ok(row)
}

/// `DELETE /api/v1/vehicles/VIN/hold`: lets a vehicle held after a partial installation get
/// bundles again (`not_held` if it was not held).
pub fn release_hold(state: &AppState, vin: &str) -> Result<()> {
    state.db.vehicle(vin)?.ok_or_else(|| Rejection::unknown_vehicle(vin))?;
    if !state.db.release_hold(vin)? {
        return Err(Rejection::conflict("not_held", format!("vehicle {vin} is not held")).into());
    }
    tracing::info!(vin, "released the vehicle's hold");
    Ok(())
}

/// `GET /api/v1/vehicles/VIN`: the inventory, what each ECU runs, assignments and the latest
/// manifests.
#[derive(Debug, Clone, Serialize)]
pub struct VehicleState {
    pub vin: String,
    pub primary: String,
    pub ecus: Vec<EcuState>,
    pub assignments: Vec<AssignmentView>,
    pub manifests: Vec<ManifestRow>,
    /// Set while the vehicle is held after a partial bundle installation.
    pub hold: Option<HoldRow>,
    /// When its last accepted manifest arrived ([`crate::reporting`]).
    pub last_manifest_at: Option<String>,
    /// No accepted manifest for `--overdue-after`: it stopped reporting.
    pub overdue: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct EcuState {
    pub serial: String,
    pub hardware_id: String,
    pub key_id: String,
    pub primary: bool,
    pub report_counter: Option<i64>,
    pub installed: Option<InstalledRow>,
}

#[derive(Debug, Clone, Serialize)]
pub struct AssignmentView {
    pub id: String,
    pub ecu_serial: String,
    pub target_path: String,
    pub target: Value,
    pub status: String,
    pub created_at: String,
    pub updated_at: String,
    pub campaign_id: Option<String>,
    /// The Director targets version that first listed it.
    pub issued_version: Option<i64>,
    /// Why it failed or was cancelled.
    pub reason: Option<String>,
}

pub fn vehicle_state(state: &AppState, vin: &str) -> Result<VehicleState> {
    let vehicle = state.db.vehicle(vin)?.ok_or_else(|| Rejection::unknown_vehicle(vin))?;
    let installed = state.db.installed(vin)?;
    let ecus = state
        .db
        .ecus(vin)?
        .into_iter()
        .map(|e| EcuState {
            installed: installed.iter().find(|i| i.ecu_serial == e.serial).cloned(),
            serial: e.serial,
            hardware_id: e.hardware_id,
            key_id: e.key_id,
            primary: e.is_primary == 1,
            report_counter: e.last_counter,
        })
        .collect();
    let assignments = state
        .db
        .assignments(vin, None)?
        .into_iter()
        .map(|a| AssignmentView {
            target: serde_json::from_str(&a.target_json).unwrap_or(Value::Null),
            id: a.id,
            ecu_serial: a.ecu_serial,
            target_path: a.target_path,
            status: a.status,
            created_at: a.created_at,
            updated_at: a.updated_at,
            campaign_id: a.campaign_id,
            issued_version: a.issued_version,
            reason: a.reason,
        })
        .collect();
    let reporting = crate::reporting::vehicle(state, vin)?;
    Ok(VehicleState {
        vin: vehicle.vin,
        primary: vehicle.primary_serial,
        ecus,
        assignments,
        manifests: state.db.manifests(vin, 20)?,
        hold: state.db.hold(vin)?,
        last_manifest_at: reporting.last_manifest_at,
        overdue: reporting.overdue,
    })
}
