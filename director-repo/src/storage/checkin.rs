//! The queries of a vehicle's check-in, its manifest in and its timestamp out, kept to few
//! round trips: on a busy Director each one costs both processes a context switch, and those,
//! not the queries, dominate. A manifest reads the vehicle's inventory (ECUs with what they
//! run, the open assignments) in one statement, or not at all when the process remembers it,
//! and is applied in one transaction (on PostgreSQL usually one statement) that first checks
//! the inventory is still as read; a poll reads everything it decides on in one statement.

use diesel::prelude::*;
use diesel::result::{DatabaseErrorKind, Error as DieselError};
use diesel::sql_types::{BigInt, Nullable, Text};

use super::db::Db;
use super::records::{
    AssignmentRow, DONE, EcuRow, FAILED, HoldRow, IN_FLIGHT, InstalledRow, ManifestRow, PENDING,
};
use super::schema::{assignments, ecus, installed_images, manifests, vehicle_holds};
use super::statement::{Bind, Statement};
use crate::assignment::Settlement;
use crate::error::{Error, Rejection, Rejections as _, Result};
use service_kit::db::Backend;

/// A vehicle's ECUs and its open (pending or in flight) assignments, oldest first.
#[derive(Debug, Clone)]
pub struct Inventory {
    pub ecus: Vec<InventoryEcu>,
    pub open: Vec<AssignmentRow>,
}

impl Inventory {
    /// The open assignments as `id:status`, by id, comma-separated: what the database must
    /// still hold for a manifest judged against this inventory to be applied.
    fn open_fingerprint(&self) -> String {
        let open: Vec<String> =
            self.open_ids().into_iter().map(|(id, status)| format!("{id}:{status}")).collect();
        open.join(",")
    }

    /// The open assignments as (id, status), by id.
    fn open_ids(&self) -> Vec<(String, String)> {
        let mut open: Vec<_> = self.open.iter().map(|a| (a.id.clone(), a.status.clone())).collect();
        open.sort_unstable();
        open
    }
}

/// One ECU of the inventory and what it last reported installed.
#[derive(Debug, Clone)]
pub struct InventoryEcu {
    pub ecu: EcuRow,
    pub installed: Option<InstalledRow>,
}

/// One ECU's anti-replay state after an accepted report, and the row it was checked against:
/// the update applies only while the row still holds the counter, key, hardware id and role
/// read, so a manifest applied or an ECU re-provisioned meanwhile sends this one back to be
/// checked again.
#[derive(Debug, Clone)]
pub struct CounterUpdate {
    pub serial: String,
    pub counter: i64,
    pub nonce: String,
    pub seen_counter: Option<i64>,
    pub seen_key_id: String,
    pub seen_hardware_id: String,
    pub seen_is_primary: i16,
}

/// What a poll decides on: the newest root, the vehicle's newest timestamp, whether the
/// vehicle is registered, and its open (pending or in flight) assignments, oldest first.
#[derive(Debug, Clone)]
pub struct PollState {
    pub root_version: Option<i64>,
    pub timestamp_version: Option<i64>,
    pub registered: bool,
    pub open: Vec<AssignmentRow>,
}

/// A row of the poll query: the three figures repeated on each open assignment (or once, with
/// no assignment, when there is none).
#[derive(Debug, QueryableByName)]
struct PollRow {
    #[diesel(sql_type = Nullable<BigInt>)]
    root_version: Option<i64>,
    #[diesel(sql_type = Nullable<BigInt>)]
    timestamp_version: Option<i64>,
    #[diesel(sql_type = BigInt)]
    ecu_count: i64,
    #[diesel(sql_type = Nullable<Text>)]
    id: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    ecu_serial: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    target_path: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    target_json: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    status: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    created_at: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    updated_at: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    campaign_id: Option<String>,
    #[diesel(sql_type = Nullable<BigInt>)]
    issued_version: Option<i64>,
    #[diesel(sql_type = Nullable<Text>)]
    reason: Option<String>,
}

/// Why a manifest's transaction rolled back.
enum Abort {
    Failed(Error),
    /// The inventory changed since it was read: check the manifest again.
    Changed,
}

impl<E: Into<Error>> From<E> for Abort {
    fn from(error: E) -> Abort {
        Abort::Failed(error.into())
    }
}

impl Db {
    /// The ECUs of `vin` (by serial) with what each last reported installed, and the
    /// vehicle's open assignments (oldest first), in one query.
    pub fn inventory(&self, vin: &str) -> Result<Inventory> {
        // Not `eq_any`: diesel prepares (and PostgreSQL plans) a query with an `IN` list anew
        // every time.
        let open_assignment = assignments::ecu_serial
            .eq(ecus::serial)
            .and(assignments::status.eq(PENDING).or(assignments::status.eq(IN_FLIGHT)));
        let rows = ecus::table
            .left_join(installed_images::table.on(installed_images::ecu_serial.eq(ecus::serial)))
            .left_join(assignments::table.on(open_assignment))
            .filter(ecus::vin.eq(vin))
            .order(ecus::serial)
            .select((
                ecus::all_columns,
                installed_images::all_columns.nullable(),
                assignments::all_columns.nullable(),
            ))
            .load::<(EcuRow, Option<InstalledRow>, Option<AssignmentRow>)>(&mut self.conn()?)?;
        let mut inventory = Inventory { ecus: Vec::new(), open: Vec::new() };
        for (ecu, installed, assignment) in rows {
            // An ECU with several open assignments comes once per assignment.
            if inventory.ecus.last().is_none_or(|last| last.ecu.serial != ecu.serial) {
                inventory.ecus.push(InventoryEcu { ecu, installed });
            }
            inventory.open.extend(assignment);
        }
        inventory.open.sort_by(|a, b| (&a.created_at, &a.id).cmp(&(&b.created_at, &b.id)));
        Ok(inventory)
    }

    /// Applies a manifest verified against `inventory` in one transaction, only if the
    /// database still holds that inventory (every ECU row as read, no ECU added, the same open
    /// assignments): the anti-replay counters of every ECU (one statement), the installed
    /// images that changed, the `settlement` of the open assignments (a partial installation
    /// also holds the vehicle), and the manifest itself. Returns false, with nothing applied,
    /// when the inventory changed: however old it is, a manifest is applied only against the
    /// inventory as it stands.
    pub fn apply_manifest(
        &self,
        manifest: &ManifestRow,
        counters: &[CounterUpdate],
        changed_images: &[InstalledRow],
        inventory: &Inventory,
        settlement: &Settlement,
    ) -> Result<bool> {
        let settles = !settlement.done.is_empty()
            || !settlement.failed.is_empty()
            || settlement.partial.is_some();
        if self.backend() == Backend::Postgres && changed_images.is_empty() && !settles {
            return self.record_checkin(manifest, counters, inventory);
        }
        let mut update = Statement::default();
        counters_update(&mut update, &manifest.vin, counters);
        let open = &inventory.open;
        let result = self.conn()?.transaction::<_, Abort, _>(|conn| {
            if update.execute(conn)? != counters.len() {
                return Err(Abort::Changed);
            }
            let ecu_count: i64 =
                ecus::table.filter(ecus::vin.eq(&manifest.vin)).count().get_result(conn)?;
            let open_now: Vec<(String, String)> = assignments::table
                .filter(assignments::vin.eq(&manifest.vin))
                .filter(assignments::status.eq(PENDING).or(assignments::status.eq(IN_FLIGHT)))
                .select((assignments::id, assignments::status))
                .order(assignments::id)
                .load(conn)?;
            if ecu_count != counters.len() as i64 || open_now != inventory.open_ids() {
                return Err(Abort::Changed);
            }
            for row in changed_images {
                diesel::delete(installed_images::table.find(&row.ecu_serial)).execute(conn)?;
                diesel::insert_into(installed_images::table).values(row).execute(conn)?;
            }
            let outcomes = settlement
                .done
                .iter()
                .map(|id| (id, DONE, None))
                .chain(settlement.failed.iter().map(|(id, why)| (id, FAILED, Some(why))));
            for (id, status, reason) in outcomes {
                let Some(before) = open.iter().find(|a| &a.id == id) else { continue };
                let changed = diesel::update(assignments::table.find(id))
                    .filter(assignments::status.eq(&before.status))
                    .set((
                        assignments::status.eq(status),
                        assignments::reason.eq(reason),
                        assignments::updated_at.eq(&manifest.received_at),
                    ))
                    .execute(conn)?;
                if changed != 1 {
                    // Cancelled or issued concurrently: the caller sees a conflict, nothing
                    // of this manifest is applied, and the vehicle sends it again.
                    return Err(Rejection::conflict(
                        "assignment_changed",
                        format!("assignment {id} changed while the manifest was applied"),
                    )
                    .into());
                }
            }
            if let Some(reason) = &settlement.partial {
                diesel::delete(vehicle_holds::table.find(&manifest.vin)).execute(conn)?;
                let hold = HoldRow {
                    vin: manifest.vin.clone(),
                    reason: reason.clone(),
                    manifest_id: manifest.id.clone(),
                    created_at: manifest.received_at.clone(),
                };
                diesel::insert_into(vehicle_holds::table).values(&hold).execute(conn)?;
            }
            diesel::insert_into(manifests::table).values(manifest).execute(conn)?;
            Ok(())
        });
        match result {
            Ok(()) => Ok(true),
            Err(Abort::Changed) => Ok(false),
            Err(Abort::Failed(e)) => Err(e),
        }
    }

    /// [`Self::apply_manifest`] on PostgreSQL for the usual check-in, one that only moves the
    /// counters on and is recorded: one statement, atomic on its own, instead of a transaction
    /// of several round trips. The manifest row's id is NULL (a NOT NULL violation, rolling
    /// the counters back) unless the inventory is still as read.
    fn record_checkin(
        &self,
        manifest: &ManifestRow,
        counters: &[CounterUpdate],
        inventory: &Inventory,
    ) -> Result<bool> {
        let ecu_count = counters.len() as i64;
        let mut statement = Statement::default();
        statement.sql("WITH counted AS (");
        counters_update(&mut statement, &manifest.vin, counters);
        statement
            .sql(
                " RETURNING 1) INSERT INTO manifests (id, vin, received_at, body, bytes_hex, \
                 outcome, attacks) SELECT CASE WHEN (SELECT count(*) FROM counted) = ",
            )
            .bind(Bind::BigInt(ecu_count))
            .sql(" AND (SELECT count(*) FROM ecus WHERE vin = ")
            .text(&manifest.vin)
            .sql(") = ")
            .bind(Bind::BigInt(ecu_count))
            .sql(
                " AND (SELECT coalesce(string_agg(id || ':' || status, ',' ORDER BY id COLLATE \
                 \"C\"), '') FROM assignments WHERE vin = ",
            )
            .text(&manifest.vin)
            .sql(" AND status IN (")
            .text(PENDING)
            .sql(", ")
            .text(IN_FLIGHT)
            .sql(")) = ")
            .text(&inventory.open_fingerprint())
            .sql(" THEN ")
            .text(&manifest.id)
            .sql(" END, ")
            .text(&manifest.vin)
            .sql(", ")
            .text(&manifest.received_at)
            .sql(", ")
            .bind(Bind::NullableText(manifest.body.clone()))
            .sql(", ")
            .bind(Bind::NullableText(manifest.bytes_hex.clone()))
            .sql(", ")
            .text(&manifest.outcome)
            .sql(", ")
            .text(&manifest.attacks);
        match statement.execute(&mut self.conn()?) {
            Ok(_) => Ok(true),
            Err(DieselError::DatabaseError(DatabaseErrorKind::NotNullViolation, _)) => Ok(false),
            Err(e) => Err(e.into()),
        }
    }

    /// Everything a poll of `vin` decides on, in one query.
    pub fn poll_state(&self, vin: &str) -> Result<PollState> {
        let mut statement = Statement::default();
        statement
            .sql(
                "SELECT r.v AS root_version, t.v AS timestamp_version, e.n AS ecu_count, a.id, \
                 a.ecu_serial, a.target_path, a.target_json, a.status, a.created_at, \
                 a.updated_at, a.campaign_id, a.issued_version, a.reason \
                 FROM (SELECT max(version) AS v FROM director_roots) r \
                 CROSS JOIN (SELECT max(version) AS v FROM vehicle_metadata WHERE vin = ",
            )
            .text(vin)
            .sql(" AND role = 'timestamp') t CROSS JOIN (SELECT count(*) AS n FROM ecus WHERE vin = ")
            .text(vin)
            .sql(") e LEFT JOIN assignments a ON a.vin = ")
            .text(vin)
            .sql(" AND a.status IN (")
            .text(PENDING)
            .sql(", ")
            .text(IN_FLIGHT)
            .sql(") ORDER BY a.created_at, a.id");
        let rows = statement.load::<PollRow>(&mut self.conn()?)?;
        let first = rows.first().ok_or_else(|| Error::Internal("the poll query: no row".into()))?;
        let mut state = PollState {
            root_version: first.root_version,
            timestamp_version: first.timestamp_version,
            registered: first.ecu_count > 0,
            open: Vec::new(),
        };
        for row in rows {
            let Some(id) = row.id else { continue };
            let missing = || Error::Internal(format!("assignment {id}: a column is NULL"));
            state.open.push(AssignmentRow {
                vin: vin.to_owned(),
                ecu_serial: row.ecu_serial.ok_or_else(missing)?,
                target_path: row.target_path.ok_or_else(missing)?,
                target_json: row.target_json.ok_or_else(missing)?,
                status: row.status.ok_or_else(missing)?,
                created_at: row.created_at.ok_or_else(missing)?,
                updated_at: row.updated_at.ok_or_else(missing)?,
                campaign_id: row.campaign_id,
                issued_version: row.issued_version,
                reason: row.reason,
                id,
            });
        }
        Ok(state)
    }
}

/// `UPDATE ecus SET last_counter = CASE serial WHEN .. END, last_nonce = CASE .. END WHERE
/// vin = .. AND ((serial = .. AND <the row as read>) OR ..)`.
fn counters_update(statement: &mut Statement, vin: &str, counters: &[CounterUpdate]) {
    statement.sql("UPDATE ecus SET last_counter = CASE serial");
    for update in counters {
        statement
            .sql(" WHEN ")
            .text(&update.serial)
            .sql(" THEN ")
            .bind(Bind::BigInt(update.counter));
    }
    statement.sql(" END, last_nonce = CASE serial");
    for update in counters {
        statement.sql(" WHEN ").text(&update.serial).sql(" THEN ").text(&update.nonce);
    }
    statement.sql(" END WHERE vin = ").text(vin).sql(" AND (");
    for (i, update) in counters.iter().enumerate() {
        if i > 0 {
            statement.sql(" OR ");
        }
        statement
            .sql("(serial = ")
            .text(&update.serial)
            .sql(" AND key_id = ")
            .text(&update.seen_key_id)
            .sql(" AND hardware_id = ")
            .text(&update.seen_hardware_id)
            .sql(" AND is_primary = ")
            .bind(Bind::SmallInt(update.seen_is_primary))
            .sql(" AND last_counter ");
        match update.seen_counter {
            Some(counter) => statement.sql("= ").bind(Bind::BigInt(counter)),
            None => statement.sql("IS NULL"),
        };
        statement.sql(")");
    }
    if counters.is_empty() {
        statement.sql("1 = 0");
    }
    statement.sql(")");
}
