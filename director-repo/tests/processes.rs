//! Scale-out with the real binary: two `director-repo serve` processes on one PostgreSQL
//! database serve one fleet at once. Vehicles check in (a manifest to one process, their
//! metadata from the other) while pollers hammer both and the metadata re-signs every second;
//! no per-vehicle version may repeat with other bytes or go backwards, and no manifest may be
//! lost. PostgreSQL only (SQLite is one process's file); skipped without its URL.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;
mod synthetic;

use std::collections::BTreeMap;
use std::io::Read;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;
use support::{Backend, TOKEN, World};
use uptane::crypto::PrivateKey;

const VEHICLES: usize = 6;
const CHECKINS: u64 = 12;

/// A `director-repo serve` child process, killed when dropped.
struct Process {
    child: Child,
    base: String,
}

impl Process {
    fn start(args: &[String], log: &std::path::Path) -> Process {
        let file = std::fs::File::create(log).unwrap();
        let child = Command::new(env!("CARGO_BIN_EXE_director-repo"))
            .args(args)
            .arg("serve")
            .env("NO_COLOR", "1")
            .env("RUST_LOG", "info")
            .stdout(Stdio::null())
            .stderr(file)
            .spawn()
            .unwrap();
        let mut process = Process { child, base: String::new() };
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let mut text = String::new();
            std::fs::File::open(log).unwrap().read_to_string(&mut text).unwrap();
            if let Some(port) = text
                .lines()
                .find(|l| l.contains("listening"))
                .and_then(|l| l.split("127.0.0.1:").nth(1))
                .map(|rest| rest.chars().take_while(char::is_ascii_digit).collect::<String>())
            {
                process.base = format!("https://localhost:{port}");
                return process;
            }
            assert!(Instant::now() < deadline, "the service did not start:\n{text}");
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn vin(i: usize) -> String {
    synthetic::vin("WVWZZZ1JZXW2", i)
}

fn manifest(i: usize, keys: &[PrivateKey], counter: u64) -> Vec<u8> {
    synthetic::manifest(&vin(i), i, keys, counter)
}

fn call(request: Result<ureq::http::Response<ureq::Body>, ureq::Error>) -> (u16, Vec<u8>) {
    let response = request.unwrap();
    let status = response.status().as_u16();
    (status, response.into_body().read_to_vec().unwrap())
}

/// The timestamp version and bytes a process serves `vin`.
fn poll(agent: &ureq::Agent, base: &str, vin: &str) -> (u64, Vec<u8>) {
    let (status, body) =
        call(agent.get(format!("{base}/vehicles/{vin}/metadata/timestamp.json")).call());
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    let value: Value = serde_json::from_slice(&body).unwrap();
    (value["signed"]["version"].as_u64().unwrap(), body)
}

#[test]
fn two_processes_serve_one_fleet() {
    let Some(backend) = Backend::postgres() else { return };
    let world = World::new(&backend);
    let config = world.config();
    let key_flag = |flag: &str, path: &Option<std::path::PathBuf>| {
        [flag.to_owned(), path.as_ref().unwrap().display().to_string()]
    };
    let mut args: Vec<String> = vec![
        "--data-dir".into(),
        config.data_dir.display().to_string(),
        "--listen".into(),
        "127.0.0.1:0".into(),
        "--database-url".into(),
        config.database_url.clone().unwrap(),
        "--operator-token".into(),
        TOKEN.into(),
        "--workers".into(),
        "2".into(),
        // Re-signed whenever less than 1 s is left, by polls and by both background tasks.
        "--metadata-lifetime".into(),
        "2s".into(),
        "--resign-interval".into(),
        "1s".into(),
    ];
    args.extend(key_flag("--targets-key", &config.targets_key));
    args.extend(key_flag("--snapshot-key", &config.snapshot_key));
    args.extend(key_flag("--timestamp-key", &config.timestamp_key));
    args.extend(key_flag("--time-key", &config.time_key));
    // The second process starts once the first has made the data directory's TLS material.
    let first = Process::start(&args, &world.dir.path().join("first.log"));
    let second = Process::start(&args, &world.dir.path().join("second.log"));
    let processes = [&first, &second];

    let ca = std::fs::read(config.data_dir.join("tls/ca.pem")).unwrap();
    let admin = service_kit::test_support::trusting_agent(&ca);
    let admin_call = |method: &str, base: &str, path: &str, body: &[u8]| {
        let url = format!("{base}{path}");
        let auth = format!("Bearer {TOKEN}");
        call(match method {
            "PUT" => admin.put(url).header("Authorization", auth).send(body),
            _ => admin.post(url).header("Authorization", auth).send(body),
        })
    };
    let (status, body) = admin_call("PUT", &first.base, "/api/v1/root", &world.root_v1());
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    let keys = synthetic::ecu_keys();
    for i in 0..VEHICLES {
        let body = synthetic::registration(&vin(i), i, &keys).to_string();
        let (status, text) =
            admin_call("POST", processes[i % 2].base.as_str(), "/api/v1/vehicles", body.as_bytes());
        assert_eq!(status, 201, "{}", String::from_utf8_lossy(&text));
    }

    // Each vehicle checks in CHECKINS times (manifest to one process, metadata from the
    // other) while a poller reads its metadata from both processes in turn.
    let agent_of = |i: usize| {
        let issued = director_repo::tls::issue_client_certificate(&config, &vin(i)).unwrap();
        let cert = ureq::tls::Certificate::from_pem(issued.certificate.as_bytes()).unwrap();
        let key = ureq::tls::PrivateKey::from_pem(issued.private_key.as_bytes()).unwrap();
        let tls = ureq::tls::TlsConfig::builder()
            .root_certs(ureq::tls::RootCerts::new_with_certs(&[ureq::tls::Certificate::from_pem(
                &ca,
            )
            .unwrap()]))
            .client_cert(Some(ureq::tls::ClientCert::new_with_certs(
                &[cert.to_owned()],
                key.to_owned(),
            )))
            .build();
        ureq::Agent::from(
            ureq::Agent::config_builder().tls_config(tls).http_status_as_error(false).build(),
        )
    };
    let started = Instant::now();
    let seen: Vec<Vec<(u64, Vec<u8>)>> = std::thread::scope(|scope| {
        let mut handles = Vec::new();
        for i in 0..VEHICLES {
            let (agent, keys, processes) = (agent_of(i), &keys, &processes[..]);
            handles.push(scope.spawn(move || {
                let mut seen = Vec::new();
                for counter in 1..=CHECKINS {
                    let to = processes[(i + counter as usize) % 2];
                    let url = format!("{}/vehicles/{}/manifest", to.base, vin(i));
                    let (status, body) = call(agent.put(url).send(&manifest(i, keys, counter)));
                    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
                    let from = processes[(i + counter as usize + 1) % 2];
                    seen.push(poll(&agent, &from.base, &vin(i)));
                    std::thread::sleep(Duration::from_millis(250));
                }
                seen
            }));
            let agent = agent_of(i);
            handles.push(scope.spawn(move || {
                let mut seen = Vec::new();
                let deadline = Instant::now() + Duration::from_secs(3);
                while Instant::now() < deadline {
                    seen.push(poll(&agent, &processes[seen.len() % 2].base, &vin(i)));
                }
                seen
            }));
        }
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    assert!(started.elapsed() > Duration::from_secs(2), "the run must span re-signing");

    for (i, pair) in seen.chunks(2).enumerate() {
        let mut by_version: BTreeMap<u64, &Vec<u8>> = BTreeMap::new();
        for thread in pair {
            assert!(
                thread.windows(2).all(|w| w[0].0 <= w[1].0),
                "{}: a version went backwards: {:?}",
                vin(i),
                thread.iter().map(|s| s.0).collect::<Vec<_>>()
            );
            for (version, bytes) in thread {
                let first = by_version.entry(*version).or_insert(bytes);
                assert_eq!(*first, bytes, "{} timestamp {version} issued twice", vin(i));
            }
        }
        assert!(by_version.len() >= 2, "{}: never re-signed: {:?}", vin(i), by_version.keys());
    }

    // Every manifest is in the database, accepted; the check-ins were shared by both processes.
    let db = director_repo::storage::Db::open(config.database_url.as_deref().unwrap()).unwrap();
    for i in 0..VEHICLES {
        let stored = db.manifests(&vin(i), 1000).unwrap();
        let accepted = stored.iter().filter(|m| m.outcome == "accepted").count();
        assert_eq!(accepted as u64, CHECKINS, "{}: a manifest was lost", vin(i));
    }
    for process in processes {
        let (_, text) = call(admin.get(format!("{}/metrics", process.base)).call());
        let text = String::from_utf8(text).unwrap();
        let checkins: u64 = text
            .lines()
            .find_map(|l| l.strip_prefix("director_repo_checkins_total "))
            .and_then(|n| n.parse().ok())
            .unwrap();
        assert_eq!(checkins, VEHICLES as u64 * CHECKINS / 2, "{text}");
    }
}
