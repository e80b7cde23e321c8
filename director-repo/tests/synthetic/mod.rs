//! Synthetic vehicles of five ECUs, for load: the two-process test and the check-in
//! benchmarks (`#[path]`-included there). ECU `e` of every vehicle signs with `keys[e]`; the
//! Primary is ECU 0.

use chrono::Utc;
use serde_json::{Map, Value, json};
use uptane::crypto::{PrivateKey, Signer};
use uptane::manifest::{EcuVersionReport, InstalledImage, VehicleManifest, sign_report};
use uptane::metadata::{SignedMetadata, TargetFile};
use uptane::names::{EcuSerial, HardwareId, Vin};

pub const ECUS: usize = 5;

/// The deterministic key number `n`.
pub fn key(n: usize) -> PrivateKey {
    PrivateKey::ed25519_from_seed(&[n as u8; 32]).expect("a seed of 32 bytes")
}

/// The ECU keys every synthetic vehicle shares.
pub fn ecu_keys() -> Vec<PrivateKey> {
    (0..ECUS).map(|e| key(10 + e)).collect()
}

/// Vehicle `i` of a fleet whose VINs start with `prefix` (12 characters).
pub fn vin(prefix: &str, i: usize) -> String {
    format!("{prefix}{i:05}")
}

pub fn serial(i: usize, e: usize) -> String {
    format!("ECU-{i}-{e}")
}

/// The admin API's registration of vehicle `vin` (number `i`).
pub fn registration(vin: &str, i: usize, keys: &[PrivateKey]) -> Value {
    let ecus: Vec<Value> = (0..ECUS)
        .map(|e| {
            let key = keys[e].public_key();
            json!({"serial": serial(i, e), "hardware_id": format!("hw-{e}"), "public_key": key})
        })
        .collect();
    json!({"vin": vin, "primary": serial(i, 0), "ecus": ecus})
}

/// Vehicle `vin`'s (number `i`) signed manifest for report counter `counter`: every ECU on
/// its factory image.
pub fn manifest(vin: &str, i: usize, keys: &[PrivateKey], counter: u64) -> Vec<u8> {
    let reports: Vec<_> = (0..ECUS)
        .map(|e| {
            let body = EcuVersionReport {
                ecu_serial: EcuSerial::new(serial(i, e).as_str()).expect("a valid serial"),
                hardware_id: HardwareId::new(format!("hw-{e}").as_str()).expect("a valid id"),
                installed_image: InstalledImage::new(
                    &format!("ecu-{e}/firmware-1.0.bin"),
                    &TargetFile::describing(format!("firmware {e}").as_bytes()),
                ),
                attacks_detected: String::new(),
                attacks_detected_code: None,
                latest_time: Utc::now(),
                previous_time: Utc::now(),
                report_counter: counter,
                nonce: format!("{:032x}", u128::from(counter) << 8 | e as u128),
                extra: Map::new(),
            };
            sign_report(body, &keys[e]).expect("signing a report")
        })
        .collect();
    let vin = Vin::new(vin).expect("a valid VIN");
    let primary = EcuSerial::new(serial(i, 0).as_str()).expect("a valid serial");
    let body = VehicleManifest::new(vin, primary, &reports).expect("a manifest");
    let signers: [&dyn Signer; 1] = [&keys[0]];
    SignedMetadata::new(body).sign_to_bytes(&signers).expect("signing a manifest")
}
