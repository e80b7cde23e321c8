//! Advancing a campaign once its current stage has settled. Every step is a conditional update
//! on the campaign's `row_version`, so when several Director processes (or several manifests of
//! one process) see the same settled stage at once, exactly one advances it, halts it or
//! completes it; the others find the campaign changed and re-read it.

use std::collections::BTreeSet;

use super::{ATTEMPTS, COMPLETED, HALTED, RUNNING, assignment};
use crate::error::{Error, Result};
use crate::state::AppState;
use crate::storage::{CampaignRow, FAILED, IN_FLIGHT, PENDING};

/// Moves campaign `id` on if its stage has settled: after the first batch, to the rest (or
/// `halted` when too many first-batch vehicles failed, `completed` when there is no rest);
/// after the rest, to `completed`. Does nothing for a campaign that is not running.
pub fn advance(state: &AppState, id: &str) -> Result<()> {
    for _ in 0..ATTEMPTS {
        let Some(campaign) = state.db.campaign(id)? else { return Ok(()) };
        if campaign.state != RUNNING {
            return Ok(());
        }
        let assignments = state.db.campaign_assignments(id)?;
        if assignments.iter().any(|a| a.status == PENDING || a.status == IN_FLIGHT) {
            return Ok(());
        }
        // Whether this process or another changed it, the next round sees the new state (a
        // second stage with nothing to assign completes there).
        if campaign.stage == 1 {
            let failed: BTreeSet<&str> =
                assignments.iter().filter(|a| a.status == FAILED).map(|a| a.vin.as_str()).collect();
            next_stage(state, &campaign, failed.len())?;
        } else {
            state.db.set_campaign_state(&campaign, COMPLETED, None)?;
        }
    }
    Err(Error::Internal(format!("campaign {id} kept changing")))
}

/// After a settled first batch with `failed` failed vehicles: halt, complete, or assign the
/// rest. False if another process changed the campaign first.
fn next_stage(state: &AppState, campaign: &CampaignRow, failed: usize) -> Result<bool> {
    let members = state.db.campaign_vehicles(&campaign.id)?;
    let first = members.iter().filter(|m| m.batch == 1).count();
    // failed / first > max_failure_percent / 100, in integers.
    if failed as i64 * 100 > campaign.max_failure_percent * first as i64 {
        let reason = format!(
            "{failed} of the {first} first-batch vehicles failed, more than {}%",
            campaign.max_failure_percent
        );
        let changed = state.db.set_campaign_state(campaign, HALTED, Some(&reason))?;
        if changed {
            tracing::warn!(campaign = campaign.id, reason, "halted a campaign");
        }
        return Ok(changed);
    }
    let rest: BTreeSet<&str> =
        members.iter().filter(|m| m.batch == 2).map(|m| m.vin.as_str()).collect();
    if rest.is_empty() {
        return state.db.set_campaign_state(campaign, COMPLETED, None);
    }
    let mut rows = Vec::new();
    for ecu in state.db.ecus_of_hardware(&campaign.hardware_id)? {
        if rest.contains(ecu.vin.as_str()) {
            rows.push(assignment(campaign, &ecu)?);
        }
    }
    let changed = state.db.advance_campaign(campaign, 2, &rows)?;
    if changed {
        tracing::info!(campaign = campaign.id, assignments = rows.len(), "campaign stage 2");
    }
    Ok(changed)
}
