//! Campaign queries. Every change of a campaign's state or stage is a conditional update on its
//! `row_version`: of several Director processes acting on one campaign at once, exactly one
//! succeeds and the others see `false` and re-read.

use diesel::prelude::*;

use super::db::{Db, is_unique_violation};
use super::records::{AssignmentRow, CANCELLED, CampaignRow, CampaignVehicleRow, EcuRow, PENDING};
use super::schema::{assignments, campaign_vehicles, campaigns, ecus};
use crate::error::{Error, Rejection, Rejections as _, Result};
use service_kit::db::AnyConnection;

/// Why an assignment of a later stage is not made: its ECU already waits for another image.
const SUPERSEDED: &str = "the ECU had another pending assignment when the stage began";

/// Inserts `row` unless its ECU already has a pending assignment: then, if `skip_busy`, it is
/// recorded as cancelled; otherwise the whole transaction fails with `assignment_pending` (as
/// it does when another process inserts one at the same moment: the unique index).
fn insert_assignment(conn: &mut AnyConnection, row: &AssignmentRow, skip_busy: bool) -> Result<()> {
    let pending: i64 = assignments::table
        .filter(assignments::ecu_serial.eq(&row.ecu_serial))
        .filter(assignments::status.eq(PENDING))
        .count()
        .get_result(conn)?;
    if pending == 0 {
        match diesel::insert_into(assignments::table).values(row).execute(conn) {
            Err(e) if is_unique_violation(&e) => return Err(busy(row).into()),
            other => other?,
        };
    } else if skip_busy {
        let mut skipped = row.clone();
        skipped.status = CANCELLED.into();
        skipped.reason = Some(SUPERSEDED.into());
        diesel::insert_into(assignments::table).values(&skipped).execute(conn)?;
    } else {
        return Err(busy(row).into());
    }
    Ok(())
}

fn busy(row: &AssignmentRow) -> Rejection {
    Rejection::conflict(
        "assignment_pending",
        format!("ECU {} of {} already has a pending assignment", row.ecu_serial, row.vin),
    )
}

impl Db {
    /// Creates a campaign with its vehicles and the first batch's assignments, all or nothing.
    pub fn insert_campaign(
        &self,
        campaign: &CampaignRow,
        vehicles: &[CampaignVehicleRow],
        first: &[AssignmentRow],
    ) -> Result<()> {
        self.conn()?.transaction::<(), Error, _>(|conn| {
            match diesel::insert_into(campaigns::table).values(campaign).execute(conn) {
                Err(e) if is_unique_violation(&e) => {
                    return Err(Error::Internal("campaign id collision".into()));
                }
                other => other?,
            };
            for vehicle in vehicles {
                diesel::insert_into(campaign_vehicles::table).values(vehicle).execute(conn)?;
            }
            for row in first {
                insert_assignment(conn, row, false)?;
            }
            Ok(())
        })
    }

    pub fn campaign(&self, id: &str) -> Result<Option<CampaignRow>> {
        Ok(campaigns::table.find(id).first::<CampaignRow>(&mut self.conn()?).optional()?)
    }

    /// Every campaign, newest first.
    pub fn campaigns(&self) -> Result<Vec<CampaignRow>> {
        Ok(campaigns::table
            .order((campaigns::created_at.desc(), campaigns::id))
            .load::<CampaignRow>(&mut self.conn()?)?)
    }

    pub fn campaign_vehicles(&self, id: &str) -> Result<Vec<CampaignVehicleRow>> {
        Ok(campaign_vehicles::table
            .filter(campaign_vehicles::campaign_id.eq(id))
            .order(campaign_vehicles::position)
            .load::<CampaignVehicleRow>(&mut self.conn()?)?)
    }

    pub fn campaign_assignments(&self, id: &str) -> Result<Vec<AssignmentRow>> {
        Ok(assignments::table
            .filter(assignments::campaign_id.eq(id))
            .order((assignments::created_at, assignments::id))
            .load::<AssignmentRow>(&mut self.conn()?)?)
    }

    /// The state of each campaign in `ids`.
    pub fn campaign_states(&self, ids: &[String]) -> Result<Vec<(String, String)>> {
        Ok(campaigns::table
            .filter(campaigns::id.eq_any(ids))
            .select((campaigns::id, campaigns::state))
            .load::<(String, String)>(&mut self.conn()?)?)
    }

    /// Moves the campaign at `row_version` to `state`; false if it changed meanwhile.
    pub fn set_campaign_state(
        &self,
        campaign: &CampaignRow,
        state: &str,
        reason: Option<&str>,
    ) -> Result<bool> {
        let changed = diesel::update(campaigns::table.find(&campaign.id))
            .filter(campaigns::row_version.eq(campaign.row_version))
            .set((
                campaigns::state.eq(state),
                campaigns::reason.eq(reason),
                campaigns::row_version.eq(campaign.row_version + 1),
                campaigns::updated_at.eq(crate::now_text()),
            ))
            .execute(&mut self.conn()?)?;
        Ok(changed == 1)
    }

    /// Starts stage `stage` of the campaign at `row_version` with `rows` (an ECU already waiting
    /// for another image is skipped, recorded as cancelled); false, changing nothing, if the
    /// campaign changed meanwhile (another process advanced it).
    pub fn advance_campaign(
        &self,
        campaign: &CampaignRow,
        stage: i64,
        rows: &[AssignmentRow],
    ) -> Result<bool> {
        self.conn()?.transaction::<bool, Error, _>(|conn| {
            let changed = diesel::update(campaigns::table.find(&campaign.id))
                .filter(campaigns::row_version.eq(campaign.row_version))
                .set((
                    campaigns::stage.eq(stage),
                    campaigns::row_version.eq(campaign.row_version + 1),
                    campaigns::updated_at.eq(crate::now_text()),
                ))
                .execute(conn)?;
            if changed != 1 {
                return Ok(false);
            }
            for row in rows {
                insert_assignment(conn, row, true)?;
            }
            Ok(true)
        })
    }

    /// Cancels the campaign at `row_version` and withdraws its assignments not yet issued;
    /// those in flight stay, to be confirmed by the vehicles. False if it changed meanwhile.
    pub fn cancel_campaign(&self, campaign: &CampaignRow) -> Result<bool> {
        self.conn()?.transaction::<bool, Error, _>(|conn| {
            let now = crate::now_text();
            let changed = diesel::update(campaigns::table.find(&campaign.id))
                .filter(campaigns::row_version.eq(campaign.row_version))
                .set((
                    campaigns::state.eq(CANCELLED),
                    campaigns::row_version.eq(campaign.row_version + 1),
                    campaigns::updated_at.eq(&now),
                ))
                .execute(conn)?;
            if changed != 1 {
                return Ok(false);
            }
            diesel::update(assignments::table)
                .filter(assignments::campaign_id.eq(&campaign.id))
                .filter(assignments::status.eq(PENDING))
                .set((
                    assignments::status.eq(CANCELLED),
                    assignments::reason.eq("the campaign was cancelled"),
                    assignments::updated_at.eq(&now),
                ))
                .execute(conn)?;
            Ok(true)
        })
    }

    /// Every ECU of hardware `hardware_id`, by VIN and serial.
    pub fn ecus_of_hardware(&self, hardware_id: &str) -> Result<Vec<EcuRow>> {
        Ok(ecus::table
            .filter(ecus::hardware_id.eq(hardware_id))
            .order((ecus::vin, ecus::serial))
            .load::<EcuRow>(&mut self.conn()?)?)
    }
}
