//! `keytool publish --server` against the real Image repository service, run in this process
//! over HTTPS with the development CA it generates: a first release with a supplier delegation,
//! a re-publish that sends nothing, a second release that sends only its new image, refusals
//! surfaced with the service's code and message, and the workspace mirroring the service (so
//! `keytool verify` checks what vehicles read).

#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test

mod support;

use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::thread::JoinHandle;

use serde_json::Value;
use support::Bench;

const TOKEN: &str = "release-engineering-token";

/// The real service on a loopback port, with its own data directory and SQLite database.
struct Service {
    base: String,
    ca: PathBuf,
    keys: PathBuf,
    agent: ureq::Agent,
    handle: actix_web::dev::ServerHandle,
    thread: Option<JoinHandle<()>>,
}

impl Service {
    fn start(data_dir: &Path) -> Service {
        let mut config = image_repo::Config::new(data_dir);
        config.listen = "127.0.0.1:0".parse().unwrap();
        config.upload_token = Some(TOKEN.into());
        let (tx, rx) = mpsc::channel();
        let thread = std::thread::spawn(move || {
            let state = actix_web::web::Data::new(image_repo::AppState::open(config).unwrap());
            actix_web::rt::System::new().block_on(async move {
                let (server, addrs) = image_repo::server::start(state).unwrap();
                tx.send((addrs[0], server.handle())).unwrap();
                server.await.unwrap();
            });
        });
        let (addr, handle) = rx.recv().expect("the service did not start");
        let ca = data_dir.join("tls/ca.pem");
        let cert = ureq::tls::Certificate::from_pem(&std::fs::read(&ca).unwrap()).unwrap();
        let tls = ureq::tls::TlsConfig::builder()
            .root_certs(ureq::tls::RootCerts::new_with_certs(&[cert.to_owned()]))
            .build();
        let agent = ureq::Agent::config_builder()
            .tls_config(tls)
            .http_status_as_error(false)
            .build()
            .into();
        Service {
            base: format!("https://localhost:{}", addr.port()),
            ca,
            keys: data_dir.join("keys"),
            agent,
            handle,
            thread: Some(thread),
        }
    }

    /// (status, body) of a public GET.
    fn get(&self, path: &str) -> (u16, Vec<u8>) {
        let response = self.agent.get(format!("{}{path}", self.base)).call().unwrap();
        let status = response.status().as_u16();
        (status, response.into_body().with_config().limit(16 << 20).read_to_vec().unwrap())
    }

    /// Blobs the service stored: uploads are the only API requests answered 201.
    fn blobs_stored(&self) -> u64 {
        let metrics = String::from_utf8(self.get("/metrics").1).unwrap();
        let line = metrics
            .lines()
            .find(|l| l.starts_with("image_repo_requests_total{kind=\"api\",status=\"201\"}"));
        line.map_or(0, |l| l.rsplit(' ').next().unwrap().parse().unwrap())
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        actix_web::rt::System::new().block_on(self.handle.stop(true));
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// `keytool publish --server` with `--json`; returns the exit code and the report.
fn push(bench: &Bench, service: &Service, token: &str) -> (i32, Value) {
    let ca = service.ca.to_str().unwrap();
    let args = ["publish", "--repo", "repo", "--server", &service.base, "--token", token];
    let output = bench.run(&[&args[..], &["--ca", ca, "--json"]].concat());
    let stdout = String::from_utf8_lossy(&output.stdout);
    let report = serde_json::from_str(&stdout).unwrap_or_else(|e| {
        let stderr = String::from_utf8_lossy(&output.stderr);
        panic!("{e}\n--- stdout\n{stdout}\n--- stderr\n{stderr}")
    });
    (output.status.code().unwrap(), report)
}

fn roles(report: &Value, field: &str) -> Vec<String> {
    report[field]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| format!("{} v{}", r["role"].as_str().unwrap(), r["version"]))
        .collect()
}

#[test]
fn publish_to_the_service_resume_and_refusals() {
    let bench = Bench::new();
    let service = Service::start(&bench.path("service-data"));
    let snapshot_key = service.keys.join("snapshot.pub.json");
    let timestamp_key = service.keys.join("timestamp.pub.json");
    bench.keys(&["root", "targets", "supplier", "other"]);
    bench.ok(&[
        "init",
        "--repo",
        "repo",
        "--kind",
        "image",
        "--root-key",
        "root.pem",
        "--targets-key",
        "targets.pem",
        "--snapshot-key",
        snapshot_key.to_str().unwrap(),
        "--timestamp-key",
        timestamp_key.to_str().unwrap(),
    ]);
    let app: Vec<u8> = (0..300_000u32).map(|i| (i * 7 % 251) as u8).collect();
    bench.write("build/app-1.0.bin", &app);
    bench.write("build/tcu-1.0.bin", b"supplier telematics firmware 1.0");
    bench.ok(&[
        "add-target",
        "--repo",
        "repo",
        "build/app-1.0.bin",
        "--path",
        "ecu/bcm/app-1.0.bin",
        "--hardware-id",
        "acme-bcm",
        "--release-counter",
        "1",
    ]);
    bench.ok(&[
        "delegate",
        "--repo",
        "repo",
        "--to",
        "supplierA",
        "--key",
        "supplier.pub.json",
        "--paths",
        "supplierA/*",
        "--hardware-id",
        "acme-tcu",
    ]);
    bench.ok(&[
        "add-target",
        "--repo",
        "repo",
        "build/tcu-1.0.bin",
        "--path",
        "supplierA/tcu-1.0.bin",
        "--role",
        "supplierA",
        "--hardware-id",
        "acme-tcu",
        "--release-counter",
        "1",
    ]);
    bench.ok(&["sign", "--repo", "repo", "--role", "targets", "--key", "targets.pem"]);
    bench.ok(&["sign", "--repo", "repo", "--role", "supplierA", "--key", "supplier.pem"]);

    // The first release: both images, then root, then targets before the role it delegates to.
    let (code, report) = push(&bench, &service, TOKEN);
    assert_eq!(code, 0, "{report:#}");
    assert_eq!(roles(&report, "accepted"), ["root v1", "targets v1", "supplierA v1"]);
    assert_eq!(report["blobs_uploaded"].as_array().unwrap().len(), 2, "{report:#}");
    assert_eq!(report["bytes_uploaded"], app.len() + 32);
    assert_eq!(report["refused"], Value::Null);
    assert_eq!(service.blobs_stored(), 2);
    let sha256 = uptane::crypto::sha256_hex(&app);
    assert_eq!(service.get(&format!("/targets/ecu/bcm/{sha256}.app-1.0.bin")), (200, app.clone()));
    assert_eq!(service.get("/metadata/1.supplierA.json").0, 200);

    // The workspace now mirrors the service: its snapshot and timestamp, the edit cycles closed,
    // and the repository verifies as vehicles see it.
    let timestamp = service.get("/metadata/timestamp.json").1;
    assert_eq!(std::fs::read(bench.path("repo/metadata/timestamp.json")).unwrap(), timestamp);
    assert!(!bench.path("repo/staged/targets.json").exists());
    bench.ok(&["verify", "--repo", "repo"]);

    // Publishing again sends nothing.
    let (code, report) = push(&bench, &service, TOKEN);
    assert_eq!(code, 0, "{report:#}");
    assert_eq!(report["accepted"], serde_json::json!([]));
    assert_eq!(report["blobs_uploaded"], serde_json::json!([]));
    assert_eq!(service.blobs_stored(), 2);

    // The second release keeps app 1.0 listed and adds 1.1: only the new image is sent.
    let app2: Vec<u8> = app.iter().rev().copied().collect();
    bench.write("build/app-1.1.bin", &app2);
    bench.ok(&[
        "add-target",
        "--repo",
        "repo",
        "build/app-1.1.bin",
        "--path",
        "ecu/bcm/app-1.1.bin",
        "--hardware-id",
        "acme-bcm",
        "--release-counter",
        "2",
    ]);
    bench.ok(&["sign", "--repo", "repo", "--role", "targets", "--key", "targets.pem"]);
    // A wrong token: the service's own code and message, exit 1, nothing changes.
    let (code, report) = push(&bench, &service, "not-the-token");
    assert_eq!(code, 1, "{report:#}");
    assert_eq!(report["refused"]["error"], "unauthorized", "{report:#}");
    assert_eq!(report["refused"]["status"], 401);
    assert!(!report["refused"]["message"].as_str().unwrap().is_empty());
    assert_eq!(service.get("/metadata/timestamp.json").1, timestamp);
    let (code, report) = push(&bench, &service, TOKEN);
    assert_eq!(code, 0, "{report:#}");
    assert_eq!(roles(&report, "accepted"), ["targets v2"]);
    let sent: Vec<&str> = report["blobs_uploaded"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["path"].as_str().unwrap())
        .collect();
    assert_eq!(sent, ["ecu/bcm/app-1.1.bin"]);
    assert_eq!(report["blobs_already_held"], 1);
    assert_eq!(service.blobs_stored(), 3);
    bench.ok(&["verify", "--repo", "repo"]);

    // A root that drops the service's online timestamp key: refused by the service, which says
    // why and which key ids it needs; the human report shows the code, and nothing changes.
    bench.ok(&[
        "rotate-root",
        "--repo",
        "repo",
        "--timestamp-key",
        "other.pub.json",
        "--root-key",
        "root.pem",
    ]);
    let (code, report) = push(&bench, &service, TOKEN);
    assert_eq!(code, 1, "{report:#}");
    let refused = &report["refused"];
    assert_eq!(refused["request"], "PUT /api/v1/metadata/root");
    assert_eq!(refused["status"], 422);
    assert_eq!(refused["error"], "online_keys_missing");
    let online: uptane::crypto::PublicKey =
        serde_json::from_slice(&std::fs::read(&timestamp_key).unwrap()).unwrap();
    let message = refused["message"].as_str().unwrap();
    assert!(message.contains(&online.key_id().unwrap()), "{message}");
    assert_eq!(service.get("/metadata/2.root.json").0, 404);
    let ca = service.ca.to_str().unwrap();
    let args =
        ["publish", "--repo", "repo", "--server", &service.base, "--token", TOKEN, "--ca", ca];
    let (stdout, _) = bench.expect(1, &args);
    assert!(stdout.contains("online_keys_missing"), "{stdout}");
    assert!(bench.path("repo/staged/root.json").exists(), "a refused edit cycle stays open");
}
