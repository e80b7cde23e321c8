//! `targets.json`: images with their lengths, hashes and Uptane custom fields (Standard 5.2.3).

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::fields::{deserialize_object, required, take, visit_fields};
use super::{Delegations, Hashes, Metadata, SPEC_VERSION, TufTime, check_version, tuf_time};
use crate::error::{Error, Result};
use crate::names::{EcuSerial, HardwareId};

/// The signed body of a Targets file, top-level or delegated, Image repository or Director.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Targets {
    #[serde(rename = "_type")]
    pub kind: String,
    pub spec_version: String,
    pub version: u64,
    #[serde(with = "tuf_time")]
    pub expires: DateTime<Utc>,
    pub targets: BTreeMap<String, TargetFile>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delegations: Option<Delegations>,
    /// Role-level custom data; the Director puts the vehicle's `vin` here.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub custom: Option<Map<String, Value>>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

deserialize_object!(Targets, "a targets object", |map| {
    let (mut kind, mut spec_version, mut version, mut expires) = (None, None, None, None);
    let (mut targets, mut delegations, mut custom) = (None, None, None);
    let extra = visit_fields(map, |key, map| match key {
        "_type" => take(map, "_type", &mut kind),
        "spec_version" => take(map, "spec_version", &mut spec_version),
        "version" => take(map, "version", &mut version),
        "expires" => take(map, "expires", &mut expires),
        "targets" => take(map, "targets", &mut targets),
        "delegations" => take(map, "delegations", &mut delegations),
        "custom" => take(map, "custom", &mut custom),
        _ => Ok(false),
    })?;
    let expires: TufTime = required(expires, "expires")?;
    Ok(Targets {
        kind: required(kind, "_type")?,
        spec_version: required(spec_version, "spec_version")?,
        version: required(version, "version")?,
        expires: expires.0,
        targets: required(targets, "targets")?,
        delegations: delegations.flatten(),
        custom: custom.flatten(),
        extra,
    })
});

deserialize_object!(TargetFile, "a target entry", |map| {
    let (mut length, mut hashes, mut custom) = (None, None, None);
    let extra = visit_fields(map, |key, map| match key {
        "length" => take(map, "length", &mut length),
        "hashes" => take(map, "hashes", &mut hashes),
        "custom" => take(map, "custom", &mut custom),
        _ => Ok(false),
    })?;
    Ok(TargetFile {
        length: required(length, "length")?,
        hashes: required(hashes, "hashes")?,
        custom,
        extra,
    })
});

impl Targets {
    pub fn new(version: u64, expires: DateTime<Utc>) -> Targets {
        Targets {
            kind: Self::TYPE.into(),
            spec_version: SPEC_VERSION.into(),
            version,
            expires,
            targets: BTreeMap::new(),
            delegations: None,
            custom: None,
            extra: Map::new(),
        }
    }

    /// `custom.vin`, which the Director always sets (profile D4).
    pub fn vin(&self) -> Option<&str> {
        self.custom.as_ref()?.get("vin")?.as_str()
    }

    /// Whether any delegation is defined (Director targets must have none, D1).
    pub fn delegates(&self) -> bool {
        self.delegations.as_ref().is_some_and(|d| !d.is_empty())
    }
}

impl Metadata for Targets {
    const TYPE: &'static str = "targets";

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
        for (path, target) in &self.targets {
            if target.hashes.is_empty() {
                return Err(Error::malformed(role, format!("{path}: no hashes")));
            }
        }
        if let Some(delegations) = &self.delegations {
            delegations.validate(role)?;
        }
        Ok(())
    }
}

/// One image entry: length, hashes, custom fields.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TargetFile {
    pub length: u64,
    pub hashes: Hashes,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub custom: Option<Value>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl TargetFile {
    /// An entry for `bytes`, with sha256 and sha512.
    pub fn describing(bytes: &[u8]) -> TargetFile {
        let mut hashes = Hashes::new();
        hashes.insert("sha256".into(), crate::crypto::sha256_hex(bytes));
        hashes.insert(
            "sha512".into(),
            hex::encode(ring::digest::digest(&ring::digest::SHA512, bytes)),
        );
        TargetFile { length: bytes.len() as u64, hashes, custom: None, extra: Map::new() }
    }

    /// The Uptane custom fields, parsed (missing custom means all fields absent).
    pub fn uptane(&self, path: &str) -> Result<TargetCustom> {
        match &self.custom {
            None | Some(Value::Null) => Ok(TargetCustom::default()),
            Some(value) => TargetCustom::deserialize(value)
                .map_err(|e| Error::malformed("targets", format!("{path}: custom: {e}"))),
        }
    }

    /// Replaces the custom fields.
    pub fn set_uptane(&mut self, custom: &TargetCustom) -> Result<()> {
        let value = serde_json::to_value(custom).map_err(|e| Error::Other(e.to_string()))?;
        self.custom = Some(value);
        Ok(())
    }
}

/// The profile's custom fields of an image entry (§2.4).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TargetCustom {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hardware_ids: Option<Vec<HardwareId>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub release_counter: Option<u64>,
    /// Director only: which ECUs install this image.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ecu_identifiers: Option<BTreeMap<EcuSerial, EcuIdentifier>>,
    /// Director only, optional: where to download the image.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uri: Option<String>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `ecuIdentifiers.<serial>`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EcuIdentifier {
    pub hardware_id: HardwareId,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}
