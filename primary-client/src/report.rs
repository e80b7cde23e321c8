//! Version reports and the vehicle version manifest (Standard 5.4.2.1; profile §2.6, §2.7):
//! the Primary's own report, and the manifest it signs around every ECU's report.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use ring::rand::SecureRandom;
use serde_json::{Map, Value};
use uptane::crypto::Signer;
use uptane::manifest::{EcuVersionReport, FileInfo, InstalledImage, VehicleManifest, sign_report};
use uptane::metadata::{Hashes, SignedMetadata};
use uptane::names::{EcuSerial, HardwareId, Vin};
use uptane::{Error, Result};

use crate::state::{DetectedAttack, InstalledRecord};

/// A fresh 128-bit nonce in hex (profile §2.6): what the time attestation must echo.
pub fn fresh_nonce() -> Result<String> {
    let mut raw = [0u8; 16];
    ring::rand::SystemRandom::new()
        .fill(&mut raw)
        .map_err(|_| Error::Other("the system has no randomness".into()))?;
    Ok(hex::encode(raw))
}

/// The attacks of the last cycle, as a report's text and code: all messages joined, the
/// first attack label as the code.
pub fn attack_fields(attacks: &[DetectedAttack]) -> (String, Option<String>) {
    let text = attacks.iter().map(|a| a.message.as_str()).collect::<Vec<_>>().join("; ");
    (text, attacks.iter().find_map(|a| a.code.clone()))
}

/// What identifies the reporting ECU.
#[derive(Clone, Copy)]
pub struct ReportingEcu<'a> {
    pub serial: &'a EcuSerial,
    pub hardware_id: &'a HardwareId,
    pub key: &'a dyn Signer,
}

impl std::fmt::Debug for ReportingEcu<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReportingEcu")
            .field("serial", self.serial)
            .field("hardware_id", self.hardware_id)
            .field("key_id", &self.key.key_id())
            .finish()
    }
}

/// The Primary's own signed report. An ECU that has never installed an image through Uptane
/// reports an empty path with no hashes.
pub fn own_report(
    ecu: ReportingEcu<'_>,
    installed: Option<&InstalledRecord>,
    attacks: &[DetectedAttack],
    time: (DateTime<Utc>, DateTime<Utc>),
    counter: u64,
    nonce: &str,
) -> Result<Value> {
    let installed_image = match installed {
        Some(r) => InstalledImage {
            filepath: r.path.clone(),
            fileinfo: FileInfo { length: r.length, hashes: r.hashes.clone() },
        },
        None => InstalledImage {
            filepath: String::new(),
            fileinfo: FileInfo { length: 0, hashes: Hashes::new() },
        },
    };
    let (attacks_detected, attacks_detected_code) = attack_fields(attacks);
    let body = EcuVersionReport {
        ecu_serial: ecu.serial.clone(),
        hardware_id: ecu.hardware_id.clone(),
        installed_image,
        attacks_detected,
        attacks_detected_code,
        latest_time: time.0,
        previous_time: time.1,
        report_counter: counter,
        nonce: nonce.to_owned(),
        extra: Map::new(),
    };
    serde_json::to_value(sign_report(body, ecu.key)?).map_err(|e| Error::Other(e.to_string()))
}

/// The vehicle version manifest, signed by the Primary, as sent.
pub fn vehicle_manifest(
    vin: &Vin,
    primary: ReportingEcu<'_>,
    reports: BTreeMap<EcuSerial, Value>,
    attacks: &[DetectedAttack],
) -> Result<Vec<u8>> {
    let body = VehicleManifest {
        vin: vin.clone(),
        primary_ecu_serial: primary.serial.clone(),
        ecu_version_manifests: reports,
        attacks_detected: attack_fields(attacks).0,
        extra: Map::new(),
    };
    SignedMetadata::new(body).sign_to_bytes(&[primary.key])
}

/// Checks that a Secondary's report is its own and fresh (it echoes this cycle's `challenge`
/// as `primary_nonce`), so a replayed or misdirected report is caught on the Primary already
/// (the Director checks signatures). Returns the ECU's own nonce, which the time attestation
/// must cover.
pub fn check_secondary_report(
    report: &Value,
    serial: &EcuSerial,
    challenge: &str,
) -> Result<String> {
    let signed = &report["signed"];
    let refuse = |reason: &str| Error::Malformed {
        role: format!("version report of {serial}"),
        reason: reason.into(),
    };
    if signed["ecu_serial"].as_str() != Some(serial.as_str()) {
        return Err(refuse("it names another ECU"));
    }
    if signed["primary_nonce"].as_str() != Some(challenge) {
        return Err(refuse("it does not answer this cycle's challenge"));
    }
    match signed["nonce"].as_str() {
        Some(nonce) if nonce.len() >= 32 && nonce.bytes().all(|b| b.is_ascii_hexdigit()) => {
            Ok(nonce.to_owned())
        }
        _ => Err(refuse("it carries no 128-bit hex nonce")),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use uptane::crypto::PrivateKey;
    use uptane::manifest::{EcuKeys, verify_manifest};

    #[test]
    fn the_director_accepts_what_the_primary_signs() {
        let key = PrivateKey::ed25519_from_seed(&[1; 32]).unwrap();
        let (serial, hw) = (EcuSerial::new("TCU-1").unwrap(), HardwareId::new("tcu").unwrap());
        let vin = Vin::new("WVWZZZ1JZXW000001").unwrap();
        let ecu = ReportingEcu { serial: &serial, hardware_id: &hw, key: &key };
        let attacks =
            [DetectedAttack { code: Some("freeze".into()), message: "timestamp expired".into() }];
        let nonce = fresh_nonce().unwrap();
        assert_eq!(nonce.len(), 32);
        assert_ne!(nonce, fresh_nonce().unwrap());
        let now = Utc::now();
        let report = own_report(ecu, None, &attacks, (now, now), 4, &nonce).unwrap();
        // A Secondary's answer echoes the challenge and brings its own nonce.
        let challenge = fresh_nonce().unwrap();
        let mut answer = report.clone();
        answer["signed"]["primary_nonce"] = challenge.clone().into();
        assert_eq!(check_secondary_report(&answer, &serial, &challenge).unwrap(), nonce);
        assert!(check_secondary_report(&answer, &serial, &fresh_nonce().unwrap()).is_err());
        assert!(check_secondary_report(&report, &serial, &challenge).is_err(), "no echo");
        let other = EcuSerial::new("BCM-1").unwrap();
        assert!(check_secondary_report(&answer, &other, &challenge).is_err());
        answer["signed"]["nonce"] = "short".into();
        assert!(check_secondary_report(&answer, &serial, &challenge).is_err());

        let bytes =
            vehicle_manifest(&vin, ecu, BTreeMap::from([(serial.clone(), report)]), &attacks)
                .unwrap();
        let keys = EcuKeys::from([(serial.clone(), key.public_key().clone())]);
        let (manifest, reports) = verify_manifest(&bytes, &vin, &serial, &keys).unwrap();
        assert_eq!(manifest.attacks_detected, "timestamp expired");
        assert_eq!(reports[&serial].attacks_detected_code.as_deref(), Some("freeze"));
        assert_eq!(reports[&serial].report_counter, 4);
        assert_eq!(reports[&serial].nonce, nonce);
    }
}
