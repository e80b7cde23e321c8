//! When each vehicle last reported: the newest accepted manifest per VIN (refused ones are no
//! report). One vehicle's is read through the `manifests_by_vin` index; the fleet listing
//! groups every accepted manifest, which is an operator's query, not a vehicle's.

use std::collections::BTreeMap;

use diesel::dsl::max;
use diesel::prelude::*;

use super::db::Db;
use super::records::VehicleRow;
use super::schema::{manifests, vehicles};
use crate::error::Result;

/// The outcome recorded for a manifest that was applied.
const ACCEPTED: &str = "accepted";

impl Db {
    /// Every registered vehicle, by VIN.
    pub fn vehicles(&self) -> Result<Vec<VehicleRow>> {
        Ok(vehicles::table.order(vehicles::vin).load::<VehicleRow>(&mut self.conn()?)?)
    }

    /// When `vin` last sent a manifest that was accepted.
    pub fn last_manifest_at(&self, vin: &str) -> Result<Option<String>> {
        Ok(manifests::table
            .filter(manifests::vin.eq(vin))
            .filter(manifests::outcome.eq(ACCEPTED))
            .select(max(manifests::received_at))
            .first::<Option<String>>(&mut self.conn()?)?)
    }

    /// When each vehicle that ever reported last sent a manifest that was accepted.
    pub fn last_manifests(&self) -> Result<BTreeMap<String, String>> {
        let rows = manifests::table
            .filter(manifests::outcome.eq(ACCEPTED))
            .group_by(manifests::vin)
            .select((manifests::vin, max(manifests::received_at)))
            .load::<(String, Option<String>)>(&mut self.conn()?)?;
        Ok(rows.into_iter().filter_map(|(vin, at)| Some((vin, at?))).collect())
    }
}
