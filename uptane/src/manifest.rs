//! ECU version reports and the vehicle version manifest (Standard 5.4.2.1; profile §2.6, §2.7).
//!
//! Each ECU signs its own report with a fresh nonce and an increasing counter; the Primary
//! collects them, signs the vehicle manifest around them, and the Director checks the manifest
//! against its inventory: the Primary's signature, each ECU's own signature, every ECU present.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use serde_json::{Map, Value, json};

use crate::crypto::{PublicKey, Signer, sha256_hex};
use crate::error::{Error, Result};
use crate::metadata::{Envelope, Hashes, SignedMetadata, TargetFile, tuf_time};
use crate::names::{EcuSerial, HardwareId, Vin};

/// The image an ECU runs: its Targets path and non-custom metadata.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InstalledImage {
    pub filepath: String,
    pub fileinfo: FileInfo,
}

/// Length and hashes of an installed image.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FileInfo {
    pub length: u64,
    pub hashes: Hashes,
}

impl InstalledImage {
    pub fn new(filepath: &str, file: &TargetFile) -> InstalledImage {
        InstalledImage {
            filepath: filepath.into(),
            fileinfo: FileInfo { length: file.length, hashes: file.hashes.clone() },
        }
    }
}

/// The signed body of an ECU version report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EcuVersionReport {
    pub ecu_serial: EcuSerial,
    pub hardware_id: HardwareId,
    pub installed_image: InstalledImage,
    /// Free text naming any attack detected since the last report; empty if none.
    pub attacks_detected: String,
    /// The attack label (profile §7), machine-readable.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attacks_detected_code: Option<String>,
    #[serde(with = "tuf_time")]
    pub latest_time: DateTime<Utc>,
    #[serde(with = "tuf_time")]
    pub previous_time: DateTime<Utc>,
    pub report_counter: u64,
    /// 128-bit random hex, fresh every cycle; the time attestation must echo it.
    pub nonce: String,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// A signed ECU version report.
pub type SignedReport = SignedMetadata<EcuVersionReport>;

/// Signs `report` with the ECU key. Each signature also carries the payload hash, as Standard
/// 5.4.2.1.2 asks; verifiers recompute it and never trust it.
pub fn sign_report(report: EcuVersionReport, key: &dyn Signer) -> Result<SignedReport> {
    let mut signed = SignedMetadata::new(report);
    signed.sign(key)?;
    let digest = sha256_hex(&signed.canonical_signed()?);
    for signature in &mut signed.signatures {
        signature.extra.insert("hash".into(), json!({"function": "sha256", "digest": digest}));
    }
    Ok(signed)
}

/// Verifies a report (as JSON) with the ECU's key and returns its body.
pub fn verify_report(report: &Value, key: &PublicKey) -> Result<EcuVersionReport> {
    const WHAT: &str = "ECU version report";
    let report = Envelope::from_value(report, WHAT)?.decode_document::<EcuVersionReport>(WHAT)?;
    report.verify_key(WHAT, key)?;
    Ok(report.into_body())
}

/// The signed body of a vehicle version manifest.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VehicleManifest {
    pub vin: Vin,
    pub primary_ecu_serial: EcuSerial,
    /// Each ECU's signed report, as that ECU produced it.
    pub ecu_version_manifests: BTreeMap<EcuSerial, Value>,
    #[serde(default)]
    pub attacks_detected: String,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl VehicleManifest {
    /// A manifest carrying `reports`, to be signed by the Primary.
    pub fn new(vin: Vin, primary: EcuSerial, reports: &[SignedReport]) -> Result<VehicleManifest> {
        let mut ecu_version_manifests = BTreeMap::new();
        for report in reports {
            let value = serde_json::to_value(report).map_err(|e| Error::Other(e.to_string()))?;
            ecu_version_manifests.insert(report.signed.ecu_serial.clone(), value);
        }
        Ok(VehicleManifest {
            vin,
            primary_ecu_serial: primary,
            ecu_version_manifests,
            attacks_detected: String::new(),
            extra: Map::new(),
        })
    }
}

/// The ECU keys the Director's inventory holds for one vehicle.
pub type EcuKeys = BTreeMap<EcuSerial, PublicKey>;

/// What a verified manifest says of the vehicle itself, besides its ECUs' reports.
#[derive(Debug, Clone, PartialEq)]
pub struct ManifestHeader {
    pub vin: Vin,
    pub primary_ecu_serial: EcuSerial,
    pub attacks_detected: String,
}

/// The manifest body as received, each report kept as its raw text: a report sent in
/// canonical form is then verified over those very bytes, neither parsed into a generic value
/// nor re-encoded. Unknown fields are covered by the Primary's signature and otherwise ignored.
#[derive(Deserialize)]
struct ReceivedManifest {
    vin: Vin,
    primary_ecu_serial: EcuSerial,
    ecu_version_manifests: BTreeMap<EcuSerial, Box<RawValue>>,
    #[serde(default)]
    attacks_detected: String,
}

/// Verifies a vehicle manifest against the inventory (Standard 5.3.2.1 step 3): the Primary's
/// signature, each report's signature by its own ECU's key with the serial it is filed under,
/// and every inventory ECU present. Returns the header and the reports by ECU.
pub fn verify_manifest(
    bytes: &[u8],
    vin: &Vin,
    primary: &EcuSerial,
    keys: &EcuKeys,
) -> Result<(ManifestHeader, BTreeMap<EcuSerial, EcuVersionReport>)> {
    const WHAT: &str = "vehicle manifest";
    let primary_key =
        keys.get(primary).ok_or_else(|| Error::UnknownEcu { serial: primary.to_string() })?;
    let manifest = Envelope::parse(bytes, WHAT)?.decode_document::<ReceivedManifest>(WHAT)?;
    manifest.verify_key(WHAT, primary_key)?;
    let manifest = manifest.into_body();
    if manifest.vin != *vin {
        return Err(Error::VinMismatch {
            expected: vin.to_string(),
            found: Some(manifest.vin.to_string()),
        });
    }
    if manifest.primary_ecu_serial != *primary {
        return Err(Error::malformed(WHAT, "signed by a different Primary"));
    }
    let mut reports = BTreeMap::new();
    for (serial, raw) in &manifest.ecu_version_manifests {
        let key =
            keys.get(serial).ok_or_else(|| Error::UnknownEcu { serial: serial.to_string() })?;
        let report = verify_report_text(raw.get(), key)?;
        if report.ecu_serial != *serial {
            return Err(Error::malformed(
                WHAT,
                format!("report of {} filed under {serial}", report.ecu_serial),
            ));
        }
        reports.insert(serial.clone(), report);
    }
    if let Some(missing) = keys.keys().find(|serial| !reports.contains_key(*serial)) {
        return Err(Error::MissingReport { serial: missing.to_string() });
    }
    let header = ManifestHeader {
        vin: manifest.vin,
        primary_ecu_serial: manifest.primary_ecu_serial,
        attacks_detected: manifest.attacks_detected,
    };
    Ok((header, reports))
}

/// Verifies a report given as the text it was received in.
fn verify_report_text(text: &str, key: &PublicKey) -> Result<EcuVersionReport> {
    const WHAT: &str = "ECU version report";
    let report =
        Envelope::parse(text.as_bytes(), WHAT)?.decode_document::<EcuVersionReport>(WHAT)?;
    report.verify_key(WHAT, key)?;
    Ok(report.into_body())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Attack;
    use crate::crypto::PrivateKey;

    struct Ecu {
        serial: EcuSerial,
        key: PrivateKey,
    }

    fn ecu(name: &str, seed: u8) -> Ecu {
        Ecu {
            serial: EcuSerial::new(name).unwrap(),
            key: PrivateKey::ed25519_from_seed(&[seed; 32]).unwrap(),
        }
    }

    fn report(ecu: &Ecu, counter: u64) -> SignedReport {
        let body = EcuVersionReport {
            ecu_serial: ecu.serial.clone(),
            hardware_id: HardwareId::new("hw").unwrap(),
            installed_image: InstalledImage::new("app.bin", &TargetFile::describing(b"app")),
            attacks_detected: String::new(),
            attacks_detected_code: None,
            latest_time: Utc::now(),
            previous_time: Utc::now(),
            report_counter: counter,
            nonce: "00112233445566778899aabbccddeeff".into(),
            extra: Map::new(),
        };
        sign_report(body, &ecu.key).unwrap()
    }

    fn vin() -> Vin {
        Vin::new("WVWZZZ1JZXW000001").unwrap()
    }

    fn keys(ecus: &[&Ecu]) -> EcuKeys {
        ecus.iter().map(|e| (e.serial.clone(), e.key.public_key().clone())).collect()
    }

    fn manifest(primary: &Ecu, signer: &dyn Signer, reports: &[SignedReport]) -> Vec<u8> {
        let body = VehicleManifest::new(vin(), primary.serial.clone(), reports).unwrap();
        let mut signed = SignedMetadata::new(body);
        signed.sign(signer).unwrap();
        signed.to_bytes().unwrap()
    }

    #[test]
    fn a_complete_manifest_verifies() {
        let (p, s) = (ecu("TCU-1", 1), ecu("BCM-1", 2));
        let bytes = manifest(&p, &p.key, &[report(&p, 1), report(&s, 1)]);
        let (_, reports) = verify_manifest(&bytes, &vin(), &p.serial, &keys(&[&p, &s])).unwrap();
        assert_eq!(reports.len(), 2);
    }

    #[test]
    fn report_signatures_carry_the_payload_hash() {
        let p = ecu("TCU-1", 1);
        let signed = report(&p, 1);
        let hash = &signed.signatures[0].extra["hash"];
        assert_eq!(hash["digest"], sha256_hex(&signed.canonical_signed().unwrap()));
    }

    #[test]
    fn a_manifest_not_signed_by_the_primary_is_refused() {
        let (p, s) = (ecu("TCU-1", 1), ecu("BCM-1", 2));
        let bytes = manifest(&p, &s.key, &[report(&p, 1), report(&s, 1)]);
        let err = verify_manifest(&bytes, &vin(), &p.serial, &keys(&[&p, &s])).unwrap_err();
        assert_eq!(err.attack(), Some(Attack::ArbitrarySoftware));
    }

    #[test]
    fn a_secondary_report_forged_by_the_primary_is_refused() {
        let (p, s) = (ecu("TCU-1", 1), ecu("BCM-1", 2));
        let forged =
            Ecu { serial: s.serial.clone(), key: PrivateKey::ed25519_from_seed(&[1; 32]).unwrap() };
        let bytes = manifest(&p, &p.key, &[report(&p, 1), report(&forged, 1)]);
        let err = verify_manifest(&bytes, &vin(), &p.serial, &keys(&[&p, &s])).unwrap_err();
        assert_eq!(err.attack(), Some(Attack::ArbitrarySoftware));
    }

    #[test]
    fn missing_and_unknown_ecus_are_refused() {
        let (p, s, x) = (ecu("TCU-1", 1), ecu("BCM-1", 2), ecu("XXX-1", 3));
        let missing = manifest(&p, &p.key, &[report(&p, 1)]);
        let err = verify_manifest(&missing, &vin(), &p.serial, &keys(&[&p, &s])).unwrap_err();
        assert!(matches!(err, Error::MissingReport { .. }));
        let unknown = manifest(&p, &p.key, &[report(&p, 1), report(&s, 1), report(&x, 1)]);
        let err = verify_manifest(&unknown, &vin(), &p.serial, &keys(&[&p, &s])).unwrap_err();
        assert!(matches!(err, Error::UnknownEcu { .. }));
    }

    /// The same JSON value spelled differently from canonical form: keys in reverse order,
    /// indented, with spaces after colons.
    fn respelled(value: &Value, indent: usize) -> String {
        let pad = "  ".repeat(indent + 1);
        match value {
            Value::Object(map) => {
                let fields: Vec<String> = map
                    .iter()
                    .rev()
                    .map(|(k, v)| {
                        format!("{pad}{} : {}", Value::from(k.as_str()), respelled(v, indent + 1))
                    })
                    .collect();
                format!("{{\n{}\n{}}}", fields.join(",\n"), "  ".repeat(indent))
            }
            Value::Array(items) => {
                let items: Vec<String> = items.iter().map(|v| respelled(v, indent + 1)).collect();
                format!("[ {} ]", items.join(", "))
            }
            other => other.to_string(),
        }
    }

    /// A manifest whose body and reports are signed over their canonical form but sent in
    /// another spelling (as a Primary with a different JSON library might): verified all the
    /// same, and tampering with it is still caught.
    #[test]
    fn a_non_canonical_manifest_is_verified_over_its_canonical_form() {
        let (p, s) = (ecu("TCU-1", 1), ecu("BCM-1", 2));
        let keys = keys(&[&p, &s]);
        let canonical = manifest(&p, &p.key, &[report(&p, 7), report(&s, 9)]);
        let value: Value = serde_json::from_slice(&canonical).unwrap();
        let text = respelled(&value, 0);
        assert!(text.find("\"signed\"").unwrap() < text.find("\"signatures\"").unwrap());
        assert_ne!(text.as_bytes(), canonical.as_slice());
        let (header, reports) = verify_manifest(text.as_bytes(), &vin(), &p.serial, &keys).unwrap();
        assert_eq!(header.vin, vin());
        assert_eq!((reports[&p.serial].report_counter, reports[&s.serial].report_counter), (7, 9));

        // The Primary's signature covers the whole body, reports included.
        let mut tampered = value.clone();
        tampered["signed"]["ecu_version_manifests"]["BCM-1"]["signed"]["report_counter"] =
            10.into();
        let err = verify_manifest(respelled(&tampered, 0).as_bytes(), &vin(), &p.serial, &keys)
            .unwrap_err();
        assert!(matches!(err, Error::Threshold { .. }), "{err}");

        // A Primary re-signing a Secondary's altered report does not make it the ECU's.
        let mut report = value["signed"]["ecu_version_manifests"]["BCM-1"].clone();
        report["signed"]["report_counter"] = 10.into();
        let mut body: VehicleManifest = serde_json::from_value(value["signed"].clone()).unwrap();
        body.ecu_version_manifests.insert(s.serial.clone(), report);
        let mut signed = SignedMetadata::new(body);
        signed.sign(&p.key).unwrap();
        let resigned = serde_json::to_value(&signed).unwrap();
        let err = verify_manifest(respelled(&resigned, 0).as_bytes(), &vin(), &p.serial, &keys)
            .unwrap_err();
        assert!(err.to_string().contains("ECU version report"), "{err}");
        assert_eq!(err.attack(), Some(Attack::ArbitrarySoftware));
    }

    #[test]
    fn another_vehicles_manifest_is_refused() {
        let p = ecu("TCU-1", 1);
        let bytes = manifest(&p, &p.key, &[report(&p, 1)]);
        let other = Vin::new("WVWZZZ1JZXW000002").unwrap();
        let err = verify_manifest(&bytes, &other, &p.serial, &keys(&[&p])).unwrap_err();
        assert_eq!(err.attack(), Some(Attack::VinMismatch));
    }
}
