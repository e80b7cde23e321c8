//! Campaigns: one Image-repository target assigned to every ECU of one hardware id across a
//! list of vehicles (or all of them), in two stages. The first batch of vehicles is assigned
//! at once; the rest only when every first-batch assignment has settled and the share of
//! first-batch vehicles with a failed assignment is at most `max_failure_percent` (else the
//! campaign stops, `halted`). A campaign can be paused (its assignments not yet issued wait,
//! and it does not advance), resumed, or cancelled (its assignments not yet issued are
//! withdrawn; those in flight are still confirmed by the vehicles).
//!
//! States: `running` -> `paused` <-> `running`; `running` -> `halted` | `completed`;
//! `running` | `paused` -> `cancelled`.

mod stage;

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};
use uptane::names::{HardwareId, TargetPath, Vin};

pub use self::stage::advance;
use crate::error::{Error, Rejection, Rejections as _, Result};
use crate::state::AppState;
use crate::storage::{
    AssignmentRow, CANCELLED, CampaignRow, CampaignVehicleRow, DONE, EcuRow, FAILED, IN_FLIGHT,
    PENDING,
};

pub const RUNNING: &str = "running";
pub const PAUSED: &str = "paused";
pub const HALTED: &str = "halted";
pub const COMPLETED: &str = "completed";

/// How often a change lost to another process is retried on the re-read campaign.
const ATTEMPTS: usize = 8;

/// `POST /api/v1/campaigns`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CampaignRequest {
    pub name: String,
    pub target_path: String,
    /// Every ECU of this hardware id in the vehicles gets the image.
    pub hardware_id: String,
    /// A list of VINs (each must have such an ECU), or `"all"`: every vehicle that has one.
    pub vehicles: VehicleGroup,
    /// How many vehicles (from the start of the list; by VIN for `"all"`) form the first batch.
    pub first_batch: u64,
    /// The highest share of first-batch vehicles with a failed assignment (0-100) at which
    /// the campaign still goes on to the rest.
    pub max_failure_percent: u8,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum VehicleGroup {
    Vins(Vec<String>),
    Named(Group),
}

#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Group {
    All,
}

/// A campaign with its progress.
#[derive(Debug, Clone, Serialize)]
pub struct CampaignView {
    #[serde(flatten)]
    pub campaign: CampaignRow,
    pub vehicles: Batches,
    /// Assignments per status (`pending`, `in_flight`, `done`, `failed`, `cancelled`).
    pub progress: BTreeMap<&'static str, usize>,
    /// Vehicles with a failed assignment.
    pub failed_vehicles: usize,
}

#[derive(Debug, Clone, Serialize)]
pub struct Batches {
    pub first_batch: Vec<String>,
    pub rest: Vec<String>,
}

fn bad(code: &'static str, message: impl std::fmt::Display) -> Error {
    Rejection::bad_request(code, message).into()
}

/// Creates a campaign and assigns the image to the first batch.
pub fn create(state: &AppState, request: &CampaignRequest) -> Result<CampaignView> {
    let name = request.name.trim();
    if name.is_empty() || name.len() > 200 {
        return Err(bad("bad_campaign", "name: 1 to 200 characters"));
    }
    let path =
        TargetPath::new(request.target_path.as_str()).map_err(|e| bad("bad_target_path", e))?;
    let hardware =
        HardwareId::new(request.hardware_id.as_str()).map_err(|e| bad("bad_hardware_id", e))?;
    if request.first_batch == 0 {
        return Err(bad("bad_campaign", "first_batch must be at least 1"));
    }
    if request.max_failure_percent > 100 {
        return Err(bad("bad_campaign", "max_failure_percent is at most 100"));
    }
    let vehicles = targeted_ecus(state, &request.vehicles, &hardware)?;
    let entry = crate::inventory::image_repo(state)?.director_entry(&path, &hardware)?;
    let target_json = serde_json::to_string(&entry).map_err(|e| Error::Internal(e.to_string()))?;
    let now = crate::now_text();
    let campaign = CampaignRow {
        id: crate::random_id()?,
        name: name.to_owned(),
        target_path: path.to_string(),
        hardware_id: hardware.to_string(),
        target_json,
        first_batch: i64::try_from(request.first_batch).unwrap_or(i64::MAX),
        max_failure_percent: i64::from(request.max_failure_percent),
        state: RUNNING.into(),
        stage: 1,
        row_version: 1,
        reason: None,
        created_at: now.clone(),
        updated_at: now,
    };
    let mut members = Vec::with_capacity(vehicles.len());
    let mut first = Vec::new();
    for (position, (vin, ecus)) in vehicles.iter().enumerate() {
        let position = position as i64;
        let batch = if position < campaign.first_batch { 1 } else { 2 };
        members.push(CampaignVehicleRow {
            campaign_id: campaign.id.clone(),
            vin: vin.clone(),
            batch,
            position,
        });
        if batch == 1 {
            for ecu in ecus {
                first.push(assignment(&campaign, ecu)?);
            }
        }
    }
    state.db.insert_campaign(&campaign, &members, &first)?;
    tracing::info!(
        campaign = campaign.id,
        path = campaign.target_path,
        vehicles = members.len(),
        first = first.len(),
        "created a campaign"
    );
    view(state, &campaign.id)
}

/// The vehicles of the group, in order, each with its ECUs of `hardware`.
fn targeted_ecus(
    state: &AppState,
    group: &VehicleGroup,
    hardware: &HardwareId,
) -> Result<Vec<(String, Vec<EcuRow>)>> {
    let mut by_vin: BTreeMap<String, Vec<EcuRow>> = BTreeMap::new();
    for ecu in state.db.ecus_of_hardware(hardware.as_str())? {
        by_vin.entry(ecu.vin.clone()).or_default().push(ecu);
    }
    let vehicles: Vec<(String, Vec<EcuRow>)> = match group {
        VehicleGroup::Named(Group::All) => by_vin.into_iter().collect(),
        VehicleGroup::Vins(vins) => {
            let mut seen = BTreeSet::new();
            let mut out = Vec::with_capacity(vins.len());
            for vin in vins {
                let vin = Vin::new(vin.as_str()).map_err(|e| bad("bad_vin", e))?.to_string();
                if !seen.insert(vin.clone()) {
                    return Err(bad("bad_campaign", format!("vehicle {vin} is listed twice")));
                }
                if state.db.vehicle(&vin)?.is_none() {
                    return Err(Rejection::unknown_vehicle(&vin).into());
                }
                let ecus = by_vin.remove(&vin).ok_or_else(|| {
                    bad(
                        "no_matching_ecu",
                        format!("vehicle {vin} has no ECU of hardware {hardware}"),
                    )
                })?;
                out.push((vin, ecus));
            }
            out
        }
    };
    if vehicles.is_empty() {
        return Err(bad(
            "no_matching_ecu",
            format!("no vehicle has an ECU of hardware {hardware}"),
        ));
    }
    Ok(vehicles)
}

/// The campaign's (pending) assignment for `ecu`.
fn assignment(campaign: &CampaignRow, ecu: &EcuRow) -> Result<AssignmentRow> {
    let now = crate::now_text();
    Ok(AssignmentRow {
        id: crate::random_id()?,
        vin: ecu.vin.clone(),
        ecu_serial: ecu.serial.clone(),
        target_path: campaign.target_path.clone(),
        target_json: campaign.target_json.clone(),
        status: PENDING.into(),
        created_at: now.clone(),
        updated_at: now,
        campaign_id: Some(campaign.id.clone()),
        issued_version: None,
        reason: None,
    })
}

fn find(state: &AppState, id: &str) -> Result<CampaignRow> {
    state
        .db
        .campaign(id)?
        .ok_or_else(|| Rejection::not_found("unknown_campaign", format!("no campaign {id}")).into())
}

/// A campaign and its progress.
pub fn view(state: &AppState, id: &str) -> Result<CampaignView> {
    let campaign = find(state, id)?;
    let members = state.db.campaign_vehicles(id)?;
    let assignments = state.db.campaign_assignments(id)?;
    let mut progress: BTreeMap<&'static str, usize> =
        [PENDING, IN_FLIGHT, DONE, FAILED, CANCELLED].into_iter().map(|s| (s, 0)).collect();
    for assignment in &assignments {
        if let Some(count) = progress.get_mut(assignment.status.as_str()) {
            *count += 1;
        }
    }
    let failed_vehicles: BTreeSet<&str> =
        assignments.iter().filter(|a| a.status == FAILED).map(|a| a.vin.as_str()).collect();
    let (first, rest): (Vec<_>, Vec<_>) = members.into_iter().partition(|m| m.batch == 1);
    Ok(CampaignView {
        failed_vehicles: failed_vehicles.len(),
        vehicles: Batches {
            first_batch: first.into_iter().map(|m| m.vin).collect(),
            rest: rest.into_iter().map(|m| m.vin).collect(),
        },
        progress,
        campaign,
    })
}

/// Every campaign, newest first.
pub fn list(state: &AppState) -> Result<Vec<CampaignView>> {
    state.db.campaigns()?.iter().map(|c| view(state, &c.id)).collect()
}

/// What an operator does to a campaign.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Pause,
    Resume,
    Cancel,
}

impl Action {
    const ALL: [Action; 3] = [Action::Pause, Action::Resume, Action::Cancel];

    /// The name in the URL.
    pub fn name(self) -> &'static str {
        match self {
            Action::Pause => "pause",
            Action::Resume => "resume",
            Action::Cancel => "cancel",
        }
    }

    pub fn parse(name: &str) -> Option<Action> {
        Action::ALL.into_iter().find(|action| action.name() == name)
    }
}

/// Pauses, resumes or cancels a campaign; `campaign_state` (409) if it is not in a state the
/// action applies to.
pub fn act(state: &AppState, id: &str, action: Action) -> Result<CampaignView> {
    for _ in 0..ATTEMPTS {
        let campaign = find(state, id)?;
        let allowed = match action {
            Action::Pause => campaign.state == RUNNING,
            Action::Resume => campaign.state == PAUSED,
            Action::Cancel => campaign.state == RUNNING || campaign.state == PAUSED,
        };
        if !allowed {
            return Err(Rejection::conflict(
                "campaign_state",
                format!("campaign {id} is {}: cannot {} it", campaign.state, action.name()),
            )
            .into());
        }
        let changed = match action {
            Action::Pause => state.db.set_campaign_state(&campaign, PAUSED, None)?,
            Action::Resume => state.db.set_campaign_state(&campaign, RUNNING, None)?,
            Action::Cancel => state.db.cancel_campaign(&campaign)?,
        };
        if changed {
            tracing::info!(
                campaign = id,
                action = action.name(),
                "the operator acted on a campaign"
            );
            if action == Action::Resume {
                // The first batch may have settled while paused.
                advance(state, id)?;
            }
            return view(state, id);
        }
    }
    Err(Error::Internal(format!("campaign {id} kept changing")))
}
