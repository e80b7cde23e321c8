//! Provisioning by the vehicle itself (the way production fleets are built): on first start a
//! Primary presents the fleet provisioning credential (`Authorization: Bearer TOKEN`, the
//! Director's `--provisioning-token`), its inventory (VIN, its serial, every ECU's serial,
//! hardware id and public key) and a certificate signing request for its TLS key. The Director
//! records the inventory and returns a client certificate naming the VIN, signed by the fleet
//! CA; the private key never leaves the vehicle.
//!
//! Provisioning again with the same inventory issues a new certificate (a Primary that lost its
//! answer retries; the ECU keys, not the certificate, authenticate manifests). A different
//! inventory for a provisioned VIN is refused (`already_provisioned`) unless the operator
//! allowed it for that VIN (`POST /api/v1/vehicles/VIN/reprovisioning`), e.g. after an ECU
//! was replaced. The operator's own registration (`POST /api/v1/vehicles`) remains for
//! vehicles built without the credential; a Primary of such a vehicle provisions with the
//! registered inventory and receives its certificate.

use serde::{Deserialize, Serialize};

use crate::error::{Error, Rejection, Rejections as _, Result};
use crate::inventory::{Registration, inventory_rows};
use crate::state::AppState;
use crate::storage::{EcuRow, ProvisioningRow, VehicleRow};

/// `POST /provisioning`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ProvisioningRequest {
    #[serde(flatten)]
    pub inventory: Registration,
    /// A PEM PKCS#10 certificate signing request for the Primary's TLS key.
    pub csr: String,
}

/// What a provisioned Primary receives.
#[derive(Debug, Clone, Serialize)]
pub struct Provisioned {
    pub vin: String,
    /// `registered`, `reissued` or `reprovisioned`.
    pub outcome: &'static str,
    /// The client certificate (PEM) naming the VIN.
    pub certificate: String,
    /// The fleet CA (PEM) the certificate chains to.
    pub fleet_ca: String,
}

/// Records (or checks) the inventory and issues the Primary's certificate.
pub fn provision(state: &AppState, request: &ProvisioningRequest) -> Result<Provisioned> {
    let (vehicle, rows) = inventory_rows(&request.inventory)?;
    let vin = vehicle.vin.clone();
    // The CSR is checked before anything is written.
    let issued = crate::tls::issue_for_csr(&state.config, &vin, &request.csr)?;
    let outcome = match state.db.register_vehicle(&vehicle, &rows) {
        Ok(()) => "registered",
        Err(Error::Rejected(r)) if r.code == "vehicle_exists" => existing(state, &vehicle, &rows)?,
        Err(e) => return Err(e),
    };
    state.db.record_provisioning(&ProvisioningRow {
        id: crate::random_id()?,
        vin: vin.clone(),
        provisioned_at: crate::now_text(),
        outcome: outcome.into(),
        certificate_sha256: hex::encode(crate::state::sha256(issued.certificate.as_bytes())),
    })?;
    tracing::info!(vin, outcome, ecus = rows.len(), "provisioned a Primary");
    Ok(Provisioned { vin, outcome, certificate: issued.certificate, fleet_ca: issued.fleet_ca })
}

/// A VIN already in the inventory: the same inventory is re-issued a certificate; another one
/// needs the operator's allowance.
fn existing(state: &AppState, vehicle: &VehicleRow, rows: &[EcuRow]) -> Result<&'static str> {
    let held =
        state.db.vehicle(&vehicle.vin)?.ok_or_else(|| Rejection::unknown_vehicle(&vehicle.vin))?;
    let held_ecus = state.db.ecus(&vehicle.vin)?;
    let same = held.primary_serial == vehicle.primary_serial
        && held_ecus.len() == rows.len()
        && rows.iter().all(|r| {
            held_ecus.iter().any(|h| {
                h.serial == r.serial && h.hardware_id == r.hardware_id && h.key_id == r.key_id
            })
        });
    if same {
        return Ok("reissued");
    }
    if state.db.reprovision(vehicle, rows)? {
        tracing::warn!(
            vin = vehicle.vin,
            "re-provisioned with a changed inventory (allowed by the operator)"
        );
        return Ok("reprovisioned");
    }
    Err(Rejection::conflict(
        "already_provisioned",
        format!(
            "{} is provisioned with other ECUs or keys; the operator must allow re-provisioning \
             (POST /api/v1/vehicles/{}/reprovisioning)",
            vehicle.vin, vehicle.vin
        ),
    )
    .into())
}

/// `POST /api/v1/vehicles/VIN/reprovisioning`: what the operator allowed.
#[derive(Debug, Clone, Serialize)]
pub struct Allowance {
    pub vin: String,
    pub allowed_at: String,
}

/// Lets the next provisioning of `vin` change its inventory.
pub fn allow(state: &AppState, vin: &str) -> Result<Allowance> {
    if state.db.vehicle(vin)?.is_none() {
        return Err(Rejection::unknown_vehicle(vin).into());
    }
    let allowed_at = crate::now_text();
    state.db.allow_reprovisioning(vin, &allowed_at)?;
    tracing::info!(vin, "the operator allowed re-provisioning");
    Ok(Allowance { vin: vin.into(), allowed_at })
}

/// `GET /api/v1/vehicles/VIN/provisioning`: the certificates issued and a pending allowance.
#[derive(Debug, Clone, Serialize)]
pub struct History {
    pub vin: String,
    pub reprovisioning_allowed_at: Option<String>,
    pub certificates: Vec<ProvisioningRow>,
}

pub fn history(state: &AppState, vin: &str) -> Result<History> {
    if state.db.vehicle(vin)?.is_none() {
        return Err(Rejection::unknown_vehicle(vin).into());
    }
    Ok(History {
        vin: vin.into(),
        reprovisioning_allowed_at: state.db.reprovisioning_allowed(vin)?,
        certificates: state.db.provisionings(vin)?,
    })
}
