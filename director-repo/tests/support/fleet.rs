//! More vehicles for campaigns: vehicle `i` has a Primary `TCU-F{i}` (TCU hardware) and a
//! Secondary `BCM-F{i}` (BCM hardware), keyed like the test vehicle's, and sends manifests with
//! whatever each ECU reports.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use chrono::Utc;
use serde_json::{Map, Value, json};
use uptane::crypto::Signer as _;
use uptane::manifest::{EcuVersionReport, InstalledImage, VehicleManifest, sign_report};
use uptane::metadata::TargetFile;
use uptane::names::{EcuSerial, HardwareId, Vin};

use super::image_repo::{BCM, TCU};
use super::{World, sign};

pub fn vin(i: usize) -> String {
    format!("WVWZZZ1JZXW1{i:05}")
}

pub fn primary(i: usize) -> String {
    format!("TCU-F{i}")
}

pub fn secondary(i: usize) -> String {
    format!("BCM-F{i}")
}

/// What one ECU reports: its installed image and any attacks it detected.
#[derive(Debug, Clone, Copy)]
pub struct Report<'a> {
    pub image: (&'a str, &'a [u8]),
    pub attacks: &'a str,
}

impl<'a> Report<'a> {
    pub fn running(path: &'a str, bytes: &'a [u8]) -> Report<'a> {
        Report { image: (path, bytes), attacks: "" }
    }
}

pub const OLD_TCU: Report<'static> = Report { image: ("tcu-1.0.bin", b"tcu"), attacks: "" };
pub const OLD_BCM: Report<'static> = Report { image: ("bcm-1.0.bin", b"bcm"), attacks: "" };

impl World {
    /// Registers vehicles `1..=n` and returns their VINs.
    pub fn register_fleet(&self, n: usize) -> Vec<String> {
        (1..=n)
            .map(|i| {
                let registration = json!({
                    "vin": vin(i),
                    "primary": primary(i),
                    "ecus": [
                        {"serial": primary(i), "hardware_id": TCU, "public_key": self.keys.primary.public_key()},
                        {"serial": secondary(i), "hardware_id": BCM, "public_key": self.keys.secondary.public_key()},
                    ],
                });
                let reply = self.server().post_admin("/api/v1/vehicles", &registration);
                assert_eq!(reply.status, 201, "{}", reply.text());
                vin(i)
            })
            .collect()
    }

    /// The manifest of vehicle `i` (report counter `counter`).
    pub fn fleet_manifest(&self, i: usize, tcu: Report, bcm: Report, counter: u64) -> Vec<u8> {
        let reports = [
            ecu_report(&primary(i), TCU, tcu, counter, &self.keys.primary),
            ecu_report(&secondary(i), BCM, bcm, counter, &self.keys.secondary),
        ];
        let body = VehicleManifest::new(
            Vin::new(vin(i).as_str()).unwrap(),
            EcuSerial::new(primary(i).as_str()).unwrap(),
            &reports,
        )
        .unwrap();
        sign(body, &[&self.keys.primary])
    }

    /// Vehicle `i` sends a manifest; returns the receipt.
    pub fn fleet_reports(&self, i: usize, tcu: Report, bcm: Report, counter: u64) -> Value {
        let reply = self.server().put_manifest(&vin(i), &self.fleet_manifest(i, tcu, bcm, counter));
        assert_eq!(reply.status, 200, "{}", reply.text());
        reply.json()
    }

    /// Vehicle `i` polls its timestamp (signing, and so issuing, its next bundle); returns the
    /// paths its Director targets lists.
    pub fn fleet_polls(&self, i: usize) -> Vec<String> {
        let server = self.server();
        let vin = vin(i);
        let reply = server.vehicle_get(&vin, &format!("/vehicles/{vin}/metadata/timestamp.json"));
        assert_eq!(reply.status, 200, "{}", reply.text());
        let snapshot = reply.json()["signed"]["meta"]["snapshot.json"]["version"].as_u64().unwrap();
        let snapshot =
            server.vehicle_get(&vin, &format!("/vehicles/{vin}/metadata/{snapshot}.snapshot.json"));
        let targets =
            snapshot.json()["signed"]["meta"]["targets.json"]["version"].as_u64().unwrap();
        let targets =
            server.vehicle_get(&vin, &format!("/vehicles/{vin}/metadata/{targets}.targets.json"));
        let listed = targets.json()["signed"]["targets"].as_object().cloned().unwrap_or_default();
        listed.keys().cloned().collect()
    }
}

fn ecu_report(
    serial: &str,
    hardware: &str,
    report: Report,
    counter: u64,
    key: &uptane::crypto::PrivateKey,
) -> uptane::manifest::SignedReport {
    let body = EcuVersionReport {
        ecu_serial: EcuSerial::new(serial).unwrap(),
        hardware_id: HardwareId::new(hardware).unwrap(),
        installed_image: InstalledImage::new(
            report.image.0,
            &TargetFile::describing(report.image.1),
        ),
        attacks_detected: report.attacks.into(),
        attacks_detected_code: None,
        latest_time: Utc::now(),
        previous_time: Utc::now(),
        report_counter: counter,
        // Anti-replay is per ECU: a nonce that changes with the counter is enough.
        nonce: format!("{counter:032x}"),
        extra: Map::new(),
    };
    sign_report(body, key).unwrap()
}
