//! The `primary-client` binary's `once` and `run` against the real services, configured by a
//! TOML file: one JSON status line per cycle, exit codes, and a clean stop on SIGINT.

#![allow(clippy::unwrap_used)]

mod world;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use serde_json::Value;
use world::{PRIMARY, World, image_bytes};

const TCU: &str = "oem/tcu-2.0.bin";

fn primary_client() -> Command {
    Command::new(env!("CARGO_BIN_EXE_primary-client"))
}

fn once(config: &std::path::Path) -> (Option<i32>, Value) {
    let output =
        primary_client().arg("once").arg("--config").arg(config).arg("--json").output().unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let line = stdout.lines().next().unwrap_or_else(|| {
        panic!("no output; stderr: {}", String::from_utf8_lossy(&output.stderr))
    });
    (output.status.code(), serde_json::from_str(line).unwrap())
}

#[test]
fn once_installs_then_finds_nothing_new() {
    let tcu = image_bytes(7, 50_000);
    let world = World::new(&[(TCU, &tcu, PRIMARY)]);
    let config = world.write_config();
    let (code, status) = once(&config);
    assert_eq!((code, status["result"].as_str()), (Some(0), Some("updated")), "{status}");
    assert_eq!(status["updated"][PRIMARY.0], TCU);
    assert_eq!(std::fs::read(world.state_dir().join("installed.bin")).unwrap(), tcu);
    // The vehicle has Secondaries this configuration cannot reach: the Director refuses the
    // manifest that lacks them, and says why.
    assert!(status["manifest"]["refused"].as_str().unwrap().contains("missing_ecu"), "{status}");
    let (code, status) = once(&config);
    assert_eq!((code, status["result"].as_str()), (Some(0), Some("no_update")), "{status}");
}

#[test]
fn bad_configuration_and_missing_certificates_exit_1() {
    let tcu = image_bytes(7, 1000);
    let world = World::new(&[(TCU, &tcu, PRIMARY)]);
    let config = world.write_config();
    let output = primary_client()
        .args(["once", "--json", "--client-cert", "/nonexistent/client.pem", "--config"])
        .arg(&config)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&output.stderr).contains("provision"));
    let output = primary_client().args(["once", "--vin", "x"]).output().unwrap();
    assert_eq!(output.status.code(), Some(1));
}

#[test]
fn run_polls_until_interrupted() {
    let tcu = image_bytes(7, 1000);
    let world = World::new(&[(TCU, &tcu, PRIMARY)]);
    let config = world.write_config();
    let mut child = primary_client()
        .args(["run", "--json", "--config"])
        .arg(&config)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let first: Value = serde_json::from_str(&lines.next().unwrap().unwrap()).unwrap();
    assert_eq!(first["result"], "updated", "{first}");
    let kill = Command::new("kill").arg("-INT").arg(child.id().to_string()).status().unwrap();
    assert!(kill.success());
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(0), "a clean stop on SIGINT");
}

/// First start: `provision` registers the vehicle with the fleet credential and a CSR and
/// stores the issued certificate under the state directory; `once` then runs over mutual TLS
/// with it, and the Director accepts the manifest of the inventory the Primary registered.
#[test]
fn provision_then_update() {
    let world = World::start();
    let config = world.write_config_with(false);
    let output = primary_client().arg("provision").arg("--config").arg(&config).output().unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(0), "{}", String::from_utf8_lossy(&output.stderr));
    assert!(stdout.contains("registered"), "{stdout}");
    let key = world.state_dir().join("tls/client.key");
    assert!(world.state_dir().join("tls/client.pem").exists());
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(std::fs::metadata(&key).unwrap().permissions().mode() & 0o777, 0o600);
    }
    // Provisioned already: refused locally, nothing overwritten.
    let before = std::fs::read(&key).unwrap();
    let output = primary_client().arg("provision").arg("--config").arg(&config).output().unwrap();
    assert_eq!(output.status.code(), Some(1));
    assert_eq!(std::fs::read(&key).unwrap(), before);

    let tcu = image_bytes(9, 20_000);
    world.release(1, &[(TCU, &tcu, PRIMARY)]);
    let (code, status) = once(&config);
    assert_eq!((code, status["result"].as_str()), (Some(0), Some("updated")), "{status}");
    assert!(status["manifest"]["manifest_id"].is_string(), "accepted: {status}");
    let (_, status) = once(&config);
    assert_eq!(status["result"], "no_update", "{status}");
    assert_eq!(status["manifest"]["completed"].as_array().unwrap().len(), 1, "{status}");
}

#[test]
fn a_wrong_fleet_credential_is_refused() {
    let world = World::start();
    let config = world.write_config_with(false);
    std::fs::write(config.parent().unwrap().join("credential.txt"), "guess").unwrap();
    let output = primary_client().arg("provision").arg("--config").arg(&config).output().unwrap();
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("HTTP 401"), "{stderr}");
    assert!(!world.state_dir().join("tls/client.pem").exists());
    assert!(!world.state_dir().join("tls/client.key").exists());
}
