//! Provisioning records: the operator's allowance to change a provisioned vehicle's ECUs, the
//! change itself, and the history of certificates issued to Primaries.

use diesel::prelude::*;
use serde::Serialize;

use super::db::{Db, is_unique_violation};
use super::records::{EcuRow, VehicleRow};
use super::schema::{ecus, provisioning_allowances, provisionings, vehicles};
use crate::error::{Error, Rejection, Rejections as _, Result};

/// One client certificate issued to a Primary.
#[derive(Debug, Clone, Queryable, Insertable, Serialize)]
#[diesel(table_name = provisionings)]
pub struct ProvisioningRow {
    pub id: String,
    pub vin: String,
    pub provisioned_at: String,
    /// `registered`, `reissued` or `reprovisioned`.
    pub outcome: String,
    pub certificate_sha256: String,
}

impl Db {
    /// Lets the next provisioning of `vin` change its ECUs and keys (once).
    pub fn allow_reprovisioning(&self, vin: &str, at: &str) -> Result<()> {
        self.conn()?.transaction::<(), Error, _>(|conn| {
            diesel::delete(provisioning_allowances::table.find(vin)).execute(conn)?;
            diesel::insert_into(provisioning_allowances::table)
                .values((
                    provisioning_allowances::vin.eq(vin),
                    provisioning_allowances::allowed_at.eq(at),
                ))
                .execute(conn)?;
            Ok(())
        })
    }

    /// When the operator allowed the next provisioning of `vin` to change it, if they did.
    pub fn reprovisioning_allowed(&self, vin: &str) -> Result<Option<String>> {
        Ok(provisioning_allowances::table
            .find(vin)
            .select(provisioning_allowances::allowed_at)
            .first::<String>(&mut self.conn()?)
            .optional()?)
    }

    /// Replaces the inventory of `vehicle` with `rows`, consuming the operator's allowance in
    /// the same transaction (false, changing nothing, without one). ECUs keep their serials;
    /// a changed key restarts the ECU's anti-replay state. An ECU cannot be dropped (its
    /// history references it): refused as `ecu_removed`.
    pub fn reprovision(&self, vehicle: &VehicleRow, rows: &[EcuRow]) -> Result<bool> {
        self.conn()?.transaction::<bool, Error, _>(|conn| {
            let consumed =
                diesel::delete(provisioning_allowances::table.find(&vehicle.vin)).execute(conn)?;
            if consumed != 1 {
                return Ok(false);
            }
            let held: Vec<EcuRow> =
                ecus::table.filter(ecus::vin.eq(&vehicle.vin)).load::<EcuRow>(conn)?;
            if let Some(gone) = held.iter().find(|h| !rows.iter().any(|r| r.serial == h.serial)) {
                return Err(Rejection::conflict(
                    "ecu_removed",
                    format!(
                        "ECU {} of {} is missing from the request; ECUs cannot be removed by \
                         provisioning",
                        gone.serial, vehicle.vin
                    ),
                )
                .into());
            }
            for row in rows {
                match held.iter().find(|h| h.serial == row.serial) {
                    Some(old) if old.key_id == row.key_id => {
                        diesel::update(ecus::table.find(&row.serial))
                            .set((
                                ecus::hardware_id.eq(&row.hardware_id),
                                ecus::is_primary.eq(row.is_primary),
                            ))
                            .execute(conn)?;
                    }
                    Some(_) => {
                        diesel::update(ecus::table.find(&row.serial))
                            .set((
                                ecus::hardware_id.eq(&row.hardware_id),
                                ecus::public_key.eq(&row.public_key),
                                ecus::key_id.eq(&row.key_id),
                                ecus::is_primary.eq(row.is_primary),
                                ecus::last_counter.eq(None::<i64>),
                                ecus::last_nonce.eq(None::<String>),
                            ))
                            .execute(conn)?;
                    }
                    None => match diesel::insert_into(ecus::table).values(row).execute(conn) {
                        Ok(_) => {}
                        Err(e) if is_unique_violation(&e) => {
                            return Err(Rejection::conflict(
                                "ecu_exists",
                                format!("ECU {} belongs to another vehicle", row.serial),
                            )
                            .into());
                        }
                        Err(e) => return Err(e.into()),
                    },
                }
            }
            diesel::update(vehicles::table.find(&vehicle.vin))
                .set(vehicles::primary_serial.eq(&vehicle.primary_serial))
                .execute(conn)?;
            Ok(true)
        })
    }

    pub fn record_provisioning(&self, row: &ProvisioningRow) -> Result<()> {
        diesel::insert_into(provisionings::table).values(row).execute(&mut self.conn()?)?;
        Ok(())
    }

    /// The certificates issued to `vin`'s Primary, newest first.
    pub fn provisionings(&self, vin: &str) -> Result<Vec<ProvisioningRow>> {
        Ok(provisionings::table
            .filter(provisionings::vin.eq(vin))
            .order((provisionings::provisioned_at.desc(), provisionings::id))
            .load::<ProvisioningRow>(&mut self.conn()?)?)
    }
}
