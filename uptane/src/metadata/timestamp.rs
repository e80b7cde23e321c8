//! `timestamp.json`: the current Snapshot's version and hashes (Standard 5.2.5).

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::{MetaFile, Metadata, SPEC_VERSION, check_version, tuf_time};
use crate::error::{Error, Result};

/// The signed body of `timestamp.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Timestamp {
    #[serde(rename = "_type")]
    pub kind: String,
    pub spec_version: String,
    pub version: u64,
    #[serde(with = "tuf_time")]
    pub expires: DateTime<Utc>,
    pub meta: BTreeMap<String, MetaFile>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl Timestamp {
    pub fn new(version: u64, expires: DateTime<Utc>, snapshot: MetaFile) -> Timestamp {
        Timestamp {
            kind: Self::TYPE.into(),
            spec_version: SPEC_VERSION.into(),
            version,
            expires,
            meta: BTreeMap::from([("snapshot.json".to_string(), snapshot)]),
            extra: Map::new(),
        }
    }

    /// The Snapshot this Timestamp names.
    pub fn snapshot_meta(&self) -> &MetaFile {
        // `validate` guarantees the entry exists.
        &self.meta["snapshot.json"]
    }
}

impl Metadata for Timestamp {
    const TYPE: &'static str = "timestamp";

    fn kind(&self) -> &str {
        &self.kind
    }

    fn spec_version(&self) -> &str {
        &self.spec_version
    }

    fn version(&self) -> u64 {
        self.version
    }

    fn expires(&self) -> DateTime<Utc> {
        self.expires
    }

    fn validate(&self, role: &str) -> Result<()> {
        check_version(role, self.version)?;
        if self.meta.len() != 1 {
            return Err(Error::malformed(role, "meta must list snapshot.json only"));
        }
        self.meta
            .get("snapshot.json")
            .ok_or_else(|| Error::malformed(role, "meta must list snapshot.json"))?
            .validate(role)
    }
}
