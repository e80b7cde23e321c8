//! End-to-end check-ins per second: the release `director-repo serve` on PostgreSQL over
//! HTTPS with mutual TLS, and this load generator on the same machine. CONNECTIONS vehicles
//! (5 ECUs each), one keep-alive connection each, check in back to back: a manifest signed
//! ahead of time (so the generator signs nothing while measuring) in, the vehicle's
//! timestamp.json out. Goal: 1,000 check-ins per second or more on two cores.
//!
//! `UPTANE_TEST_DATABASE_URL=postgres://... cargo bench -p director-repo --bench load --
//! [SECONDS [CONNECTIONS]]`; without the URL it runs on SQLite and says so.

#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "../tests/synthetic/mod.rs"]
mod synthetic;

use std::io::Read;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use chrono::Utc;
use serde_json::json;
use service_kit::test_support::TempDatabase;
use synthetic::{ECUS, key};
use uptane::crypto::{PrivateKey, Signer};
use uptane::metadata::{Root, SignedMetadata};

const TOKEN: &str = "bench-operator-token";

fn vin(i: usize) -> String {
    synthetic::vin("WVWZZZ1JZXW4", i)
}

/// The service, killed when dropped.
struct Service(Child);

impl Drop for Service {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn agent(ca: &[u8], identity: Option<(&str, &str)>) -> ureq::Agent {
    let mut tls =
        ureq::tls::TlsConfig::builder().root_certs(ureq::tls::RootCerts::new_with_certs(&[
            ureq::tls::Certificate::from_pem(ca).unwrap(),
        ]));
    if let Some((cert, key)) = identity {
        let cert = ureq::tls::Certificate::from_pem(cert.as_bytes()).unwrap().to_owned();
        let key = ureq::tls::PrivateKey::from_pem(key.as_bytes()).unwrap().to_owned();
        tls = tls.client_cert(Some(ureq::tls::ClientCert::new_with_certs(&[cert], key)));
    }
    ureq::Agent::config_builder().tls_config(tls.build()).http_status_as_error(false).build().into()
}

fn main() {
    let mut args = std::env::args().skip(1).filter(|a| a != "--bench");
    let seconds: u64 = args.next().and_then(|n| n.parse().ok()).unwrap_or(10);
    let connections: usize = args.next().and_then(|n| n.parse().ok()).unwrap_or(32);
    let dir = tempfile::tempdir().unwrap();
    let database = std::env::var("UPTANE_TEST_DATABASE_URL")
        .ok()
        .filter(|u| !u.is_empty())
        .map(|admin| TempDatabase::create(&admin));
    let backend = if database.is_some() { "PostgreSQL" } else { "SQLite" };

    // Online keys given as files, so the root can be made here.
    let online: Vec<PrivateKey> = (2..6).map(key).collect();
    let mut flags: Vec<String> = vec![
        "--data-dir".into(),
        dir.path().join("data").display().to_string(),
        "--listen".into(),
        "127.0.0.1:0".into(),
        "--operator-token".into(),
        TOKEN.into(),
    ];
    for (name, k) in ["targets", "snapshot", "timestamp", "time"].iter().zip(&online) {
        let path = dir.path().join(format!("{name}.pem"));
        std::fs::write(&path, k.to_pem()).unwrap();
        flags.extend([format!("--{name}-key"), path.display().to_string()]);
    }
    if let Some(database) = &database {
        flags.extend(["--database-url".into(), database.url.clone()]);
    }
    let log = dir.path().join("service.log");
    let child = Command::new(env!("CARGO_BIN_EXE_director-repo"))
        .args(&flags)
        .arg("serve")
        .env("NO_COLOR", "1")
        .env("RUST_LOG", "warn,director_repo=info")
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    let service = Service(child);
    let deadline = Instant::now() + Duration::from_secs(30);
    let port = loop {
        let mut text = String::new();
        std::fs::File::open(&log).unwrap().read_to_string(&mut text).unwrap();
        let port = text
            .lines()
            .find(|l| l.contains("listening"))
            .and_then(|l| l.split("127.0.0.1:").nth(1))
            .map(|rest| rest.chars().take_while(char::is_ascii_digit).collect::<String>());
        if let Some(port) = port {
            break port;
        }
        assert!(Instant::now() < deadline, "the service did not start:\n{text}");
        std::thread::sleep(Duration::from_millis(50));
    };
    let base = format!("https://localhost:{port}");
    let config = {
        let mut config = director_repo::Config::new(dir.path().join("data"));
        config.operator_token = Some(TOKEN.into());
        config
    };
    let ca = std::fs::read(dir.path().join("data/tls/ca.pem")).unwrap();
    let admin = agent(&ca, None);
    let auth = format!("Bearer {TOKEN}");

    let root_key = key(1);
    let mut root = Root::new(Utc::now() + chrono::Duration::days(365));
    root.add_key("root", root_key.public_key()).unwrap();
    for (role, k) in ["targets", "snapshot", "timestamp"].iter().zip(&online) {
        root.add_key(role, k.public_key()).unwrap();
    }
    uptane::time::add_time_key(&mut root, online[3].public_key()).unwrap();
    let root = SignedMetadata::new(root).sign_to_bytes(&[&root_key as &dyn Signer]).unwrap();
    let reply = admin
        .put(format!("{base}/api/v1/root"))
        .header("Authorization", &auth)
        .send(&root[..])
        .unwrap();
    assert_eq!(reply.status(), 200);

    let ecus = synthetic::ecu_keys();
    let per_vehicle = (seconds as usize + 2) * 120;
    eprintln!("{connections} vehicles: registering, signing {per_vehicle} manifests each");
    let vehicles: Vec<(ureq::Agent, Vec<Vec<u8>>)> = (0..connections)
        .map(|i| {
            let body = synthetic::registration(&vin(i), i, &ecus).to_string();
            let reply = admin
                .post(format!("{base}/api/v1/vehicles"))
                .header("Authorization", &auth)
                .send(body.as_bytes())
                .unwrap();
            assert_eq!(reply.status(), 201);
            let issued = director_repo::tls::issue_client_certificate(&config, &vin(i)).unwrap();
            let agent = agent(&ca, Some((&issued.certificate, &issued.private_key)));
            let manifests = (1..=per_vehicle as u64)
                .map(|c| synthetic::manifest(&vin(i), i, &ecus, c))
                .collect();
            (agent, manifests)
        })
        .collect();

    let done = AtomicU64::new(0);
    let measuring = AtomicBool::new(false);
    let stop = AtomicBool::new(false);
    let exhausted = AtomicU64::new(0);
    let started = std::thread::scope(|scope| {
        for (i, (agent, manifests)) in vehicles.iter().enumerate() {
            let (done, measuring, stop, exhausted, base) =
                (&done, &measuring, &stop, &exhausted, &base);
            scope.spawn(move || {
                let manifest_url = format!("{base}/vehicles/{}/manifest", vin(i));
                let timestamp_url = format!("{base}/vehicles/{}/metadata/timestamp.json", vin(i));
                for bytes in manifests {
                    if stop.load(Ordering::Relaxed) {
                        return;
                    }
                    let reply = agent.put(&manifest_url).send(&bytes[..]).unwrap();
                    assert_eq!(reply.status(), 200);
                    // Read to the end, or the connection is not kept alive.
                    reply.into_body().read_to_vec().unwrap();
                    let reply = agent.get(&timestamp_url).call().unwrap();
                    assert_eq!(reply.status(), 200);
                    reply.into_body().read_to_vec().unwrap();
                    if measuring.load(Ordering::Relaxed) {
                        done.fetch_add(1, Ordering::Relaxed);
                    }
                }
                exhausted.fetch_add(1, Ordering::Relaxed);
            });
        }
        std::thread::sleep(Duration::from_secs(1));
        measuring.store(true, Ordering::Relaxed);
        let started = Instant::now();
        std::thread::sleep(Duration::from_secs(seconds));
        measuring.store(false, Ordering::Relaxed);
        let elapsed = started.elapsed();
        stop.store(true, Ordering::Relaxed);
        elapsed
    });
    let count = done.load(Ordering::Relaxed);
    println!(
        "director end to end ({backend}, HTTPS + mTLS keep-alive, {connections} vehicles of {ECUS} \
         ECUs, load generator on the same machine): {:.0} check-ins/s (goal >= 1000){}",
        count as f64 / started.as_secs_f64(),
        match exhausted.load(Ordering::Relaxed) {
            0 => String::new(),
            n => format!("; {n} vehicles ran out of manifests early: raise the per-vehicle count"),
        }
    );
    let line = json!({"figure": format!("director end to end check-ins ({backend})"),
        "value": count as f64 / started.as_secs_f64(), "unit": "check-ins/s", "goal": ">= 1000"});
    println!("BENCH {line}");
    drop(service);
}
