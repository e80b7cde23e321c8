//! `snapshot.json`: the version of every Targets file (Standard 5.2.4).

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::{MetaFile, Metadata, SPEC_VERSION, check_version, tuf_time};
use crate::error::Result;

/// The signed body of `snapshot.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Snapshot {
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

impl Snapshot {
    pub fn new(version: u64, expires: DateTime<Utc>, meta: BTreeMap<String, MetaFile>) -> Snapshot {
        Snapshot {
            kind: Self::TYPE.into(),
            spec_version: SPEC_VERSION.into(),
            version,
            expires,
            meta,
            extra: Map::new(),
        }
    }

    /// The entry for a Targets role (`targets` or a delegated role name).
    pub fn targets_meta(&self, role: &str) -> Option<&MetaFile> {
        self.meta.get(&format!("{role}.json"))
    }
}

impl Metadata for Snapshot {
    const TYPE: &'static str = "snapshot";

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
        self.meta.values().try_for_each(|m| m.validate(role))
    }
}
