//! Rows of the database tables.

use diesel::prelude::*;
use serde::Serialize;

use super::schema::{
    assignments, campaign_vehicles, campaigns, ecus, installed_images, manifests, vehicle_holds,
    vehicle_metadata, vehicles,
};

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
    /// The manifest as received, when it is UTF-8 (as any JSON is)...
    #[serde(skip)]
    pub body: Option<String>,
    /// ...else its bytes in hex; rows stored before 2026-11-27 are all hex.
    #[serde(skip)]
    pub bytes_hex: Option<String>,
    pub outcome: String,
    pub attacks: String,
}

impl ManifestRow {
    /// The row of a manifest just received, its outcome not known yet.
    pub fn received(id: String, vin: &str, bytes: &[u8]) -> ManifestRow {
        let (body, bytes_hex) = match std::str::from_utf8(bytes) {
            Ok(text) => (Some(text.to_owned()), None),
            Err(_) => (None, Some(to_hex(bytes))),
        };
        ManifestRow {
            id,
            vin: vin.to_owned(),
            received_at: crate::now_text(),
            body,
            bytes_hex,
            outcome: String::new(),
            attacks: "{}".into(),
        }
    }

    /// The bytes as received.
    pub fn bytes(&self) -> Result<Vec<u8>, hex::FromHexError> {
        match (&self.body, &self.bytes_hex) {
            (Some(text), _) => Ok(text.as_bytes().to_vec()),
            (None, Some(hex)) => hex::decode(hex),
            (None, None) => Ok(Vec::new()),
        }
    }
}

/// What an ECU last reported installed, and since when (`reported_at`: the first manifest that
/// reported this image).
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

/// An image assigned to one ECU: `pending` until issued in a bundle (`in_flight`), then `done`
/// when a manifest shows it installed or `failed` when one does not; a pending one may be
/// `cancelled` (see [`crate::assignment`]).
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
    /// The campaign that made it, if any.
    pub campaign_id: Option<String>,
    /// The Director targets version that first listed it.
    pub issued_version: Option<i64>,
    /// Why it failed or was cancelled.
    pub reason: Option<String>,
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
            bytes_hex: to_hex(bytes),
            expires: expires.into(),
            created_at: crate::now_text(),
        }
    }

    pub fn bytes(&self) -> Result<Vec<u8>, hex::FromHexError> {
        hex::decode(&self.bytes_hex)
    }
}

/// Lowercase hex of stored bytes (the `bytes_hex` columns), as `hex::encode` writes it but
/// through a table: a manifest of a few KiB is encoded on every check-in.
pub fn to_hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for byte in bytes {
        out.push(char::from(DIGITS[usize::from(byte >> 4)]));
        out.push(char::from(DIGITS[usize::from(byte & 0x0f)]));
    }
    out
}

pub const PENDING: &str = "pending";
pub const IN_FLIGHT: &str = "in_flight";
pub const DONE: &str = "done";
pub const FAILED: &str = "failed";
pub const CANCELLED: &str = "cancelled";

/// A campaign (see [`crate::campaign`]); `row_version` guards every change.
#[derive(Debug, Clone, Queryable, Insertable, Serialize)]
#[diesel(table_name = campaigns)]
pub struct CampaignRow {
    pub id: String,
    pub name: String,
    pub target_path: String,
    pub hardware_id: String,
    #[serde(skip)]
    pub target_json: String,
    pub first_batch: i64,
    pub max_failure_percent: i64,
    pub state: String,
    pub stage: i64,
    pub row_version: i64,
    pub reason: Option<String>,
    pub created_at: String,
    pub updated_at: String,
}

/// A vehicle of a campaign: its batch (1 first, 2 the rest) and position in the request.
#[derive(Debug, Clone, Queryable, Insertable, Serialize)]
#[diesel(table_name = campaign_vehicles)]
pub struct CampaignVehicleRow {
    pub campaign_id: String,
    pub vin: String,
    pub batch: i64,
    pub position: i64,
}

/// A vehicle held after a partial bundle installation.
#[derive(Debug, Clone, Queryable, Insertable, Serialize)]
#[diesel(table_name = vehicle_holds)]
pub struct HoldRow {
    pub vin: String,
    pub reason: String,
    pub manifest_id: String,
    pub created_at: String,
}

#[cfg(test)]
mod tests {
    #[test]
    fn hex_is_what_the_hex_crate_writes() {
        let bytes: Vec<u8> = (0..=255).collect();
        assert_eq!(super::to_hex(&bytes), hex::encode(&bytes));
        assert_eq!(super::to_hex(b""), "");
    }

    /// A manifest reads back byte for byte however it was stored: JSON as text, anything else
    /// (a refused manifest need not even be UTF-8) as hex, as were all rows before.
    #[test]
    fn stored_manifests_read_back_as_received() {
        let dir = tempfile::tempdir().unwrap();
        let db = crate::storage::Db::open(&dir.path().join("d.sqlite").to_string_lossy()).unwrap();
        let json = br#"{"signed":{"vin":"V"},"signatures":[]}"#.as_slice();
        let binary = [0xff, 0xfe, b'{'].as_slice();
        for (id, bytes) in [("a", json), ("b", binary)] {
            let mut row = super::ManifestRow::received(id.into(), "V", bytes);
            row.received_at = id.into();
            row.outcome = "malformed_manifest".into();
            db.record_manifest(&row).unwrap();
        }
        let rows = db.manifests("V", 10).unwrap();
        let stored: Vec<_> = rows.iter().map(|r| (r.body.is_some(), r.bytes().unwrap())).collect();
        assert_eq!(stored, [(false, binary.to_vec()), (true, json.to_vec())]);
    }
}
