//! The four TUF roles as Uptane uses them, with the profile's custom fields.
//!
//! Typed structs keep every field they do not know in `extra`, so metadata read, edited and
//! re-signed by keytool or a service loses nothing. Verification never relies on them: it runs
//! over the canonical form of the JSON as received ([`Envelope`]).

mod delegation;
mod envelope;
mod fields;
mod root;
mod snapshot;
mod targets;
mod timestamp;

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

pub use delegation::{DelegatedRole, Delegations};
pub use envelope::{Envelope, Signature, SignedMetadata, Unverified};
pub use root::{RoleKeys, Root};
pub use snapshot::Snapshot;
pub use targets::{EcuIdentifier, TargetCustom, TargetFile, Targets};
pub use timestamp::Timestamp;

use crate::error::{Error, Result};

/// The spec version we write.
pub const SPEC_VERSION: &str = "1.0.31";

/// What every role's `signed` body has in common.
pub trait Metadata: Serialize + DeserializeOwned {
    /// The exact `_type`.
    const TYPE: &'static str;
    /// The `_type` as received.
    fn kind(&self) -> &str;
    fn spec_version(&self) -> &str;
    fn version(&self) -> u64;
    fn expires(&self) -> DateTime<Utc>;
    /// Structural rules beyond the schema (thresholds, unique names, ...).
    fn validate(&self, role: &str) -> Result<()>;

    /// Fails with [`Error::Expired`] if expired at `now`.
    fn check_fresh(&self, role: &str, now: DateTime<Utc>) -> Result<()> {
        if self.expires() <= now {
            return Err(Error::Expired { role: role.into(), expires: format_time(self.expires()) });
        }
        Ok(())
    }
}

/// Checks the version is positive (TUF).
fn check_version(role: &str, version: u64) -> Result<()> {
    if version == 0 {
        return Err(Error::malformed(role, "version must be at least 1"));
    }
    Ok(())
}

/// Formats a time as TUF writes it: `YYYY-MM-DDTHH:MM:SSZ`. (chrono's RFC 3339 writer, not a
/// `format` string: every check-in formats and parses several times, and a format string is
/// interpreted anew each call.)
pub fn format_time(time: DateTime<Utc>) -> String {
    time.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// Parses exactly `YYYY-MM-DDTHH:MM:SSZ`: no fractions, no offsets (independent clients
/// reject anything else, so we never accept what we would not write).
pub fn parse_time(text: &str) -> Option<DateTime<Utc>> {
    let bytes = text.as_bytes();
    if bytes.len() != 20 || bytes[10] != b'T' || bytes[19] != b'Z' {
        return None;
    }
    DateTime::parse_from_rfc3339(text).ok().map(|t| t.with_timezone(&Utc))
}

/// Serde for `expires`-like fields in the TUF time format.
pub mod tuf_time {
    use super::*;
    use serde::{Deserializer, Serializer};

    pub fn serialize<S: Serializer>(time: &DateTime<Utc>, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&format_time(*time))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<DateTime<Utc>, D::Error> {
        let text = String::deserialize(d)?;
        parse_time(&text).ok_or_else(|| {
            serde::de::Error::custom(format!("{text:?} is not YYYY-MM-DDTHH:MM:SSZ"))
        })
    }
}

/// A TUF time as a standalone value (for hand-written deserialisers).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
struct TufTime(#[serde(with = "tuf_time")] DateTime<Utc>);

/// Hashes by algorithm name, hex-encoded.
pub type Hashes = BTreeMap<String, String>;

/// A Snapshot or Timestamp `meta` entry.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MetaFile {
    pub version: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub length: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hashes: Option<Hashes>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl MetaFile {
    /// An entry describing `bytes` at `version`, with length and sha256.
    pub fn describing(version: u64, bytes: &[u8]) -> MetaFile {
        let mut hashes = Hashes::new();
        hashes.insert("sha256".into(), crate::crypto::sha256_hex(bytes));
        MetaFile {
            version,
            length: Some(bytes.len() as u64),
            hashes: Some(hashes),
            extra: Map::new(),
        }
    }

    /// An entry with the version only.
    pub fn version_only(version: u64) -> MetaFile {
        MetaFile { version, length: None, hashes: None, extra: Map::new() }
    }

    fn validate(&self, role: &str) -> Result<()> {
        check_version(role, self.version)?;
        if let Some(hashes) = &self.hashes
            && hashes.is_empty()
        {
            return Err(Error::malformed(role, "empty hashes"));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_are_exactly_the_tuf_form() {
        let time = parse_time("2030-01-02T03:04:05Z").unwrap();
        assert_eq!(time.timestamp(), 1_893_553_445);
        assert_eq!(format_time(time), "2030-01-02T03:04:05Z");
        let fraction = time + chrono::Duration::milliseconds(500);
        assert_eq!(format_time(fraction), "2030-01-02T03:04:05Z", "fractions are not written");
        for refused in [
            "2030-01-02T03:04:05.5Z",
            "2030-01-02T03:04:05+00:00",
            "2030-01-02t03:04:05Z",
            "2030-01-02 03:04:05Z",
            "2030-01-02T03:04:05z",
            "2030-1-02T03:04:05ZZ",
            "2030-01-32T03:04:05Z",
            "2030-01-02T24:04:05Z",
            "+030-01-02T03:04:05Z",
            "",
        ] {
            assert_eq!(parse_time(refused), None, "{refused}");
        }
    }
}
