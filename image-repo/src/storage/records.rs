//! Rows of the database tables.

use diesel::prelude::*;

use super::schema::{metadata_versions, targets, uploads};

/// One published metadata file: exact bytes (hex), with their sha256 and length.
#[derive(Debug, Clone, Queryable, Insertable)]
#[diesel(table_name = metadata_versions)]
pub struct MetadataRow {
    pub role: String,
    pub version: i64,
    pub bytes_hex: String,
    pub sha256: String,
    pub length: i64,
    pub created_at: String,
}

impl MetadataRow {
    pub fn new(role: &str, version: u64, bytes: &[u8]) -> MetadataRow {
        MetadataRow {
            role: role.into(),
            version: version as i64,
            bytes_hex: hex::encode(bytes),
            sha256: uptane::crypto::sha256_hex(bytes),
            length: bytes.len() as i64,
            created_at: crate::now_text(),
        }
    }

    pub fn bytes(&self) -> Result<Vec<u8>, hex::FromHexError> {
        hex::decode(&self.bytes_hex)
    }
}

/// One image listed by the current version of a Targets role.
#[derive(Debug, Clone, Queryable, Insertable)]
#[diesel(table_name = targets)]
pub struct TargetRow {
    pub role: String,
    pub path: String,
    pub length: i64,
    pub hashes: String,
    pub custom: Option<String>,
    pub blob_sha256: String,
}

/// One uploaded blob: its length and every hash computed while it streamed in.
#[derive(Debug, Clone, Queryable, Insertable)]
#[diesel(table_name = uploads)]
pub struct UploadRow {
    pub sha256: String,
    pub length: i64,
    pub hashes: String,
    pub created_at: String,
}

impl UploadRow {
    pub fn hashes(&self) -> uptane::metadata::Hashes {
        serde_json::from_str(&self.hashes).unwrap_or_default()
    }
}
