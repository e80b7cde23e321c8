//! Rows of the database tables.

use diesel::prelude::*;
use serde::Serialize;

use super::schema::{assignments, ecus, installed_images, manifests, vehicle_metadata, vehicles};

#[derive(Debug, Clone, Queryable, Insertable, Serialize)]
#[diesel(table_name = vehicles)]
pub struct VehicleRow {
    pub vin: String,
    pub primary_serial: String,
    pub created_at: String,
}

/// One ECU of the inventory (Standard 5.3.2.2): its key (public JSON), key id, and whether it
/// is the Primary (1) or a Secondary (0).
#[derive(Debug, Clone, Queryable, Insertable, Serialize)]
#[diesel(table_name = ecus)]
pub struct EcuRow {
    pub serial: String,
    pub vin: String,
    pub hardware_id: String,
    pub public_key: String,
    pub key_id: String,
    pub is_primary: i16,
    pub last_counter: Option<i64>,
    pub last_nonce: Option<String>,
}

/// One received manifest (append-only) and its outcome code.
#[derive(Debug, Clone, Queryable, Insertable, Serialize)]
#[diesel(table_name = manifests)]
pub struct ManifestRow {
    pub id: String,
    pub vin: String,
    pub received_at: String,
    #[serde(skip)]
    pub bytes_hex: String,
    pub outcome: String,
    pub attacks: String,
}

/// What an ECU last reported installed.
#[derive(Debug, Clone, Queryable, Insertable, Serialize)]
#[diesel(table_name = installed_images)]
pub struct InstalledRow {
    pub ecu_serial: String,
    pub vin: String,
    pub filepath: String,
    pub length: i64,
    pub hashes: String,
    pub reported_at: String,
}

/// An image assigned to one ECU: `pending` until a manifest confirms it (`done`) or the ECU
/// reports a failure (`failed`).
#[derive(Debug, Clone, Queryable, Insertable, Serialize)]
#[diesel(table_name = assignments)]
pub struct AssignmentRow {
    pub id: String,
    pub vin: String,
    pub ecu_serial: String,
    pub target_path: String,
    pub target_json: String,
    pub status: String,
    pub created_at: String,
    pub updated_at: String,
}

/// One signed per-vehicle metadata file: exact bytes (hex).
#[derive(Debug, Clone, Queryable, Insertable)]
#[diesel(table_name = vehicle_metadata)]
pub struct MetadataRow {
    pub vin: String,
    pub role: String,
    pub version: i64,
    pub bytes_hex: String,
    pub expires: String,
    pub created_at: String,
}

impl MetadataRow {
    pub fn new(vin: &str, role: &str, version: u64, bytes: &[u8], expires: &str) -> MetadataRow {
        MetadataRow {
            vin: vin.into(),
            role: role.into(),
            version: version as i64,
            bytes_hex: hex::encode(bytes),
            expires: expires.into(),
            created_at: crate::now_text(),
        }
    }

    pub fn bytes(&self) -> Result<Vec<u8>, hex::FromHexError> {
        hex::decode(&self.bytes_hex)
    }
}

pub const PENDING: &str = "pending";
pub const DONE: &str = "done";
pub const FAILED: &str = "failed";
