//! Queries of the hot poll path, the background re-signing task and the cap on stored refused
//! manifests.

use diesel::dsl::max;
use diesel::prelude::*;

use super::db::Db;
use super::schema::{director_roots, manifest_rejections, manifests, vehicle_metadata};
use crate::error::Result;

/// The outcome recorded for an accepted manifest (every other outcome is a rejection code).
const ACCEPTED: &str = "accepted";

impl Db {
    /// The newest Director root's version (one index lookup, no bytes).
    pub fn latest_root_version(&self) -> Result<Option<i64>> {
        Ok(director_roots::table
            .select(max(director_roots::version))
            .first::<Option<i64>>(&mut self.conn()?)?)
    }

    /// The newest version of `role` for `vin` (no bytes).
    pub fn latest_metadata_version(&self, vin: &str, role: &str) -> Result<Option<i64>> {
        Ok(vehicle_metadata::table
            .filter(vehicle_metadata::vin.eq(vin))
            .filter(vehicle_metadata::role.eq(role))
            .select(max(vehicle_metadata::version))
            .first::<Option<i64>>(&mut self.conn()?)?)
    }

    /// Up to `limit` vehicles whose newest timestamp expires before `cutoff` (times in the
    /// stored `YYYY-MM-DDTHH:MM:SSZ` form compare as text).
    pub fn timestamps_expiring(&self, cutoff: &str, limit: i64) -> Result<Vec<String>> {
        Ok(vehicle_metadata::table
            .filter(vehicle_metadata::role.eq("timestamp"))
            .group_by(vehicle_metadata::vin)
            .having(max(vehicle_metadata::expires).lt(cutoff))
            .select(vehicle_metadata::vin)
            .order(vehicle_metadata::vin)
            .limit(limit)
            .load::<String>(&mut self.conn()?)?)
    }

    /// After a manifest of `vin` was refused with `code` (and recorded): counts it, and deletes
    /// the vehicle's refused manifests beyond the newest `keep`, so a flood of bad manifests
    /// cannot fill the disk. Accepted manifests are never deleted.
    pub fn cap_refused_manifests(&self, vin: &str, code: &str, keep: i64) -> Result<()> {
        // Two first refusals of one code at once: one insert loses, and counts again.
        match self.count_and_cap(vin, code, keep) {
            Err(crate::Error::Database(e)) if super::db::is_unique_violation(&e) => {
                self.count_and_cap(vin, code, keep)
            }
            other => other,
        }
    }

    fn count_and_cap(&self, vin: &str, code: &str, keep: i64) -> Result<()> {
        let now = crate::now_text();
        self.conn()?.transaction::<(), crate::Error, _>(|conn| {
            let counted = diesel::update(manifest_rejections::table.find((vin, code)))
                .set((
                    manifest_rejections::total.eq(manifest_rejections::total + 1),
                    manifest_rejections::last_at.eq(&now),
                ))
                .execute(conn)?;
            if counted == 0 {
                diesel::insert_into(manifest_rejections::table)
                    .values((
                        manifest_rejections::vin.eq(vin),
                        manifest_rejections::code.eq(code),
                        manifest_rejections::total.eq(1),
                        manifest_rejections::last_at.eq(&now),
                    ))
                    .execute(conn)?;
            }
            let beyond: Vec<String> = manifests::table
                .filter(manifests::vin.eq(vin))
                .filter(manifests::outcome.ne(ACCEPTED))
                .order((manifests::received_at.desc(), manifests::id.desc()))
                .offset(keep)
                .limit(1000)
                .select(manifests::id)
                .load(conn)?;
            if !beyond.is_empty() {
                diesel::delete(manifests::table.filter(manifests::id.eq_any(&beyond)))
                    .execute(conn)?;
            }
            Ok(())
        })
    }

    /// How many manifests of `vin` were refused, by code, ever (stored or not).
    pub fn refused_manifest_counts(&self, vin: &str) -> Result<Vec<(String, i64)>> {
        Ok(manifest_rejections::table
            .filter(manifest_rejections::vin.eq(vin))
            .select((manifest_rejections::code, manifest_rejections::total))
            .order(manifest_rejections::code)
            .load(&mut self.conn()?)?)
    }
}
