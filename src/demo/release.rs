//! Release 2.0, signed offline with keytool and pushed to the running Image repository: one
//! image per hardware type in the fleet, the OEM's signed with the offline targets key, the
//! supplier's with the supplier's own key through a delegation scoped to its paths and
//! hardware ids.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::{Context, Result};
use fixtures::vehicle::Vehicle as Fixture;

use crate::ceremony::{Keytool, text};
use crate::system::{System, push};

/// The release counter of release 2.0 (factory images have 0).
pub const RELEASE_COUNTER: u64 = 2;

/// One released image.
#[derive(Debug, Clone)]
pub struct Image {
    pub path: String,
    pub length: usize,
    /// The supplier's delegated role that signs it, if not the OEM's targets.
    pub supplier: Option<String>,
}

/// The image of each hardware id.
pub type Release = BTreeMap<String, Image>;

/// Image sizes (bytes) by hardware id: the Primary's comes over HTTPS, the others cross the
/// CAN bus.
fn size(hardware_id: &str) -> usize {
    match hardware_id {
        "acme-tcu" => 512 * 1024,
        "acme-bcm" => 256 * 1024,
        "supa-radar" => 192 * 1024,
        "acme-seat" => 96 * 1024,
        _ => 128 * 1024,
    }
}

/// Writes the images, lists them with keytool, signs and pushes.
pub fn publish(system: &System, keytool: &Keytool, fleet: &[Fixture]) -> Result<Release> {
    let images_dir = system.dir.join("images");
    std::fs::create_dir_all(&images_dir)?;
    let repo = text(&system.release);
    let mut release = Release::new();
    for vehicle in fleet {
        for ecu in vehicle.ecus() {
            let hardware = ecu.hardware_id.as_str();
            let supplier = vehicle.supplier_of(ecu);
            let path = match supplier {
                Some(s) => {
                    let pattern = s.paths.first().context("a supplier without paths")?;
                    pattern.replace('*', &format!("{hardware}-2.0.bin"))
                }
                None => format!("oem/{hardware}-2.0.bin"),
            };
            let image = Image {
                path,
                length: size(hardware),
                supplier: supplier.map(|s| s.name.as_str().to_owned()),
            };
            release.entry(hardware.to_owned()).or_insert(image);
        }
    }
    for vehicle in fleet {
        for supplier in &vehicle.suppliers {
            let name = supplier.name.as_str();
            keytool.gen_keys(&system.keys, &[name])?;
            let mut args = vec!["delegate", "--repo", &repo, "--to", name];
            let key = text(&system.keys.join(format!("{name}.pub.json")));
            args.extend(["--key", &key, "--threshold", "1", "--terminating"]);
            for path in &supplier.paths {
                args.extend(["--paths", path]);
            }
            for hardware in &supplier.hardware_ids {
                args.extend(["--hardware-id", hardware.as_str()]);
            }
            keytool.run(&args)?;
        }
    }
    for (hardware, image) in &release {
        let file = images_dir.join(format!("{hardware}-2.0.bin"));
        std::fs::write(&file, image_bytes(hardware, image.length))?;
        let counter = RELEASE_COUNTER.to_string();
        let mut args = vec!["add-target", "--repo", &repo];
        let file = text(&file);
        args.extend([file.as_str(), "--path", &image.path, "--hardware-id", hardware]);
        args.extend(["--release-counter", &counter]);
        if let Some(role) = &image.supplier {
            args.extend(["--role", role]);
        }
        keytool.run(&args)?;
    }
    sign(keytool, &repo, "targets", &system.keys.join("image-targets.pem"))?;
    let suppliers: std::collections::BTreeSet<_> =
        release.values().filter_map(|i| i.supplier.clone()).collect();
    for role in suppliers {
        sign(keytool, &repo, &role, &system.keys.join(format!("{role}.pem")))?;
    }
    push(keytool, &system.release, &system.image, &system.upload_token)?;
    Ok(release)
}

fn sign(keytool: &Keytool, repo: &str, role: &str, key: &Path) -> Result<()> {
    keytool.run(&["sign", "--repo", repo, "--role", role, "--key", &text(key)])
}

/// Firmware-looking bytes, different for each hardware id.
fn image_bytes(hardware: &str, length: usize) -> Vec<u8> {
    let seed = uptane::crypto::sha256_hex(hardware.as_bytes());
    seed.bytes().cycle().enumerate().map(|(i, b)| b ^ (i as u8)).take(length).collect()
}
