//! The service's embedded migrations and every query it makes, over the shared connection pool
//! ([`service_kit::db`]: SQLite or PostgreSQL through one diesel `MultiConnection`).

use diesel::prelude::*;
use diesel::result::{DatabaseErrorKind, Error as DieselError};
use diesel_migrations::{EmbeddedMigrations, embed_migrations};
pub use service_kit::db::{AnyConnection, Backend};
use service_kit::db::{Conn, Pool};

use super::records::{
    AssignmentRow, EcuRow, HoldRow, IN_FLIGHT, InstalledRow, ManifestRow, MetadataRow, PENDING,
    VehicleRow,
};
use super::schema::{
    assignments, director_roots, ecus, installed_images, manifests, vehicle_holds,
    vehicle_metadata, vehicles,
};
use crate::error::{Error, Rejection, Rejections as _, Result};

pub const MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations");

/// The database.
#[derive(Debug, Clone)]
pub struct Db {
    pool: Pool,
}

pub(super) fn is_unique_violation(error: &DieselError) -> bool {
    matches!(error, DieselError::DatabaseError(DatabaseErrorKind::UniqueViolation, _))
}

impl Db {
    /// Connects and runs pending migrations.
    pub fn open(url: &str) -> Result<Db> {
        Ok(Db { pool: Pool::open(url, MIGRATIONS)? })
    }

    pub fn backend(&self) -> Backend {
        self.pool.backend()
    }

    pub(super) fn conn(&self) -> Result<Conn> {
        self.pool.get()
    }

    // ---- the Director root ----

    /// The newest uploaded root: (version, bytes).
    pub fn latest_root(&self) -> Result<Option<(i64, String)>> {
        Ok(director_roots::table
            .select((director_roots::version, director_roots::bytes_hex))
            .order(director_roots::version.desc())
            .first::<(i64, String)>(&mut self.conn()?)
            .optional()?)
    }

    /// Whether any root was uploaded (cheap: no bytes read).
    pub fn has_root(&self) -> Result<bool> {
        let count: i64 = director_roots::table.count().get_result(&mut self.conn()?)?;
        Ok(count > 0)
    }

    pub fn root(&self, version: i64) -> Result<Option<String>> {
        Ok(director_roots::table
            .find(version)
            .select(director_roots::bytes_hex)
            .first::<String>(&mut self.conn()?)
            .optional()?)
    }

    pub fn insert_root(&self, version: i64, bytes_hex: &str) -> Result<()> {
        let result = diesel::insert_into(director_roots::table)
            .values((
                director_roots::version.eq(version),
                director_roots::bytes_hex.eq(bytes_hex),
                director_roots::created_at.eq(crate::now_text()),
            ))
            .execute(&mut self.conn()?);
        match result {
            Ok(_) => Ok(()),
            Err(e) if is_unique_violation(&e) => Err(Rejection::conflict(
                "root_exists",
                format!("root version {version} was uploaded concurrently"),
            )
            .into()),
            Err(e) => Err(e.into()),
        }
    }

    // ---- inventory ----

    /// Registers a vehicle and its ECUs in one transaction.
    pub fn register_vehicle(&self, vehicle: &VehicleRow, ecu_rows: &[EcuRow]) -> Result<()> {
        self.conn()?.transaction::<(), Error, _>(|conn| {
            match diesel::insert_into(vehicles::table).values(vehicle).execute(conn) {
                Ok(_) => {}
                Err(e) if is_unique_violation(&e) => {
                    return Err(Rejection::conflict(
                        "vehicle_exists",
                        format!("vehicle {} is already registered", vehicle.vin),
                    )
                    .into());
                }
                Err(e) => return Err(e.into()),
            }
            for row in ecu_rows {
                match diesel::insert_into(ecus::table).values(row).execute(conn) {
                    Ok(_) => {}
                    Err(e) if is_unique_violation(&e) => {
                        return Err(Rejection::conflict(
                            "ecu_exists",
                            format!("ECU {} is already registered", row.serial),
                        )
                        .into());
                    }
                    Err(e) => return Err(e.into()),
                }
            }
            Ok(())
        })
    }

    pub fn vehicle(&self, vin: &str) -> Result<Option<VehicleRow>> {
        Ok(vehicles::table.find(vin).first::<VehicleRow>(&mut self.conn()?).optional()?)
    }

    pub fn ecus(&self, vin: &str) -> Result<Vec<EcuRow>> {
        Ok(ecus::table
            .filter(ecus::vin.eq(vin))
            .order(ecus::serial)
            .load::<EcuRow>(&mut self.conn()?)?)
    }

    pub fn installed(&self, vin: &str) -> Result<Vec<InstalledRow>> {
        Ok(installed_images::table
            .filter(installed_images::vin.eq(vin))
            .order(installed_images::ecu_serial)
            .load::<InstalledRow>(&mut self.conn()?)?)
    }

    // ---- assignments ----

    /// Adds an assignment, refusing a second pending one for the same ECU (no ECU may appear
    /// twice in Director Targets): the unique index on pending assignments per ECU decides,
    /// whichever process inserts.
    pub fn add_assignment(&self, row: &AssignmentRow) -> Result<()> {
        match diesel::insert_into(assignments::table).values(row).execute(&mut self.conn()?) {
            Ok(_) => Ok(()),
            Err(e) if is_unique_violation(&e) => Err(Rejection::conflict(
                "assignment_pending",
                format!("ECU {} already has a pending assignment", row.ecu_serial),
            )
            .into()),
            Err(e) => Err(e.into()),
        }
    }

    pub fn assignments(&self, vin: &str, status: Option<&str>) -> Result<Vec<AssignmentRow>> {
        let mut query = assignments::table.filter(assignments::vin.eq(vin)).into_boxed();
        if let Some(status) = status {
            query = query.filter(assignments::status.eq(status));
        }
        Ok(query
            .order((assignments::created_at, assignments::id))
            .load::<AssignmentRow>(&mut self.conn()?)?)
    }

    // ---- per-vehicle metadata ----

    pub fn latest_metadata(&self, vin: &str, role: &str) -> Result<Option<MetadataRow>> {
        Ok(vehicle_metadata::table
            .filter(vehicle_metadata::vin.eq(vin))
            .filter(vehicle_metadata::role.eq(role))
            .order(vehicle_metadata::version.desc())
            .first::<MetadataRow>(&mut self.conn()?)
            .optional()?)
    }

    pub fn metadata(&self, vin: &str, role: &str, version: i64) -> Result<Option<MetadataRow>> {
        Ok(vehicle_metadata::table
            .find((vin, role, version))
            .first::<MetadataRow>(&mut self.conn()?)
            .optional()?)
    }

    /// Writes one bundle (targets, snapshot, timestamp) and marks the pending assignments
    /// `issuing` in flight (issued in the targets version of `rows[0]`), in one transaction,
    /// deleting each role's versions beyond the newest `kept` (0: none). Returns false,
    /// committing nothing, when another process took one of these versions first (the caller
    /// re-reads and retries) or an assignment is no longer pending (cancelled meanwhile).
    pub fn commit_bundle(
        &self,
        rows: &[MetadataRow],
        issuing: &[String],
        kept: u32,
    ) -> Result<bool> {
        /// A database error, or an assignment no longer pending (rolls back, no error).
        enum Failure {
            Database(DieselError),
            Stale,
        }
        impl From<DieselError> for Failure {
            fn from(error: DieselError) -> Failure {
                Failure::Database(error)
            }
        }
        let result = self.conn()?.transaction::<(), Failure, _>(|conn| {
            for row in rows {
                diesel::insert_into(vehicle_metadata::table).values(row).execute(conn)?;
                if kept > 0 {
                    diesel::delete(
                        vehicle_metadata::table
                            .filter(vehicle_metadata::vin.eq(&row.vin))
                            .filter(vehicle_metadata::role.eq(&row.role))
                            .filter(vehicle_metadata::version.le(row.version - i64::from(kept))),
                    )
                    .execute(conn)?;
                }
            }
            let version = rows.first().map(|r| r.version);
            for id in issuing {
                let changed = diesel::update(assignments::table.find(id))
                    .filter(assignments::status.eq(PENDING))
                    .set((
                        assignments::status.eq(IN_FLIGHT),
                        assignments::issued_version.eq(version),
                        assignments::updated_at.eq(crate::now_text()),
                    ))
                    .execute(conn)?;
                if changed != 1 {
                    return Err(Failure::Stale);
                }
            }
            Ok(())
        });
        match result {
            Ok(()) => Ok(true),
            Err(Failure::Stale) => Ok(false),
            Err(Failure::Database(e)) if is_unique_violation(&e) => Ok(false),
            Err(Failure::Database(e)) => Err(e.into()),
        }
    }

    // ---- manifests ----

    /// Records a manifest that was refused (nothing else changes).
    pub fn record_manifest(&self, row: &ManifestRow) -> Result<()> {
        diesel::insert_into(manifests::table).values(row).execute(&mut self.conn()?)?;
        Ok(())
    }

    pub fn manifests(&self, vin: &str, limit: i64) -> Result<Vec<ManifestRow>> {
        Ok(manifests::table
            .filter(manifests::vin.eq(vin))
            .order((manifests::received_at.desc(), manifests::id))
            .limit(limit)
            .load::<ManifestRow>(&mut self.conn()?)?)
    }

    // ---- holds (partial bundle installations) ----

    pub fn hold(&self, vin: &str) -> Result<Option<HoldRow>> {
        Ok(vehicle_holds::table.find(vin).first::<HoldRow>(&mut self.conn()?).optional()?)
    }

    /// Lifts the hold of `vin`; false if there was none.
    pub fn release_hold(&self, vin: &str) -> Result<bool> {
        Ok(diesel::delete(vehicle_holds::table.find(vin)).execute(&mut self.conn()?)? == 1)
    }
}
