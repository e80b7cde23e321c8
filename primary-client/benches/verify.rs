//! The Primary's two budgets (issue 6), each against a baseline measured in the same run:
//!
//! 1. One full verification of both repositories (an Image repository of 1000 targets, a
//!    Director assigning images to a 5-ECU vehicle), from trust anchors alone, divided by the
//!    floor: parsing every file into the metadata types the verifier uses, and checking its
//!    signatures over canonical bytes computed beforehand. Goal: at most 1.5.
//! 2. The peak resident memory (VmHWM) of a child process that downloads a 256 MiB image over
//!    HTTPS from a local server, streaming it through sha256 and sha512 to disk, beside the
//!    same child's peak before it downloads. Goal: under 32 MiB.

#![allow(clippy::unwrap_used)] // a benchmark: any failure is a bug to see at once

use std::collections::BTreeMap;
use std::hint::black_box;
use std::io::{Read, Write};
use std::net::TcpListener;
use std::rc::Rc;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{Duration as Days, Utc};
use primary_client::download::download_image;
use primary_client::http::{HttpClient, HttpConfig};
use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use uptane::canonical;
use uptane::crypto::{PrivateKey, PublicKey, Signer};
use uptane::director::{Scope, Vehicle};
use uptane::metadata::{
    MetaFile, Root, SignedMetadata, Snapshot, TargetCustom, TargetFile, Targets, Timestamp,
};
use uptane::names::{EcuSerial, HardwareId, Vin};
use uptane::repository::{Fetch, MemStore, Rules, Store, Updater};
use uptane::verification::{InstalledImages, verify_full};

const TARGETS: usize = 1000;
const ECUS: usize = 5;
const IMAGE_MIB: u64 = 256;
const CHILD: &str = "PRIMARY_BENCH_DOWNLOAD";

fn main() {
    if let Ok(spec) = std::env::var(CHILD) {
        return download_child(&spec);
    }
    // `cargo bench -p primary-client --bench verify -- verification` (or `download`) runs one.
    let args: Vec<String> = std::env::args().skip(1).filter(|a| !a.starts_with('-')).collect();
    let wanted = |name: &str| args.is_empty() || args.iter().any(|a| a == name);
    if wanted("verification") {
        verification();
    }
    if wanted("download") {
        download_memory();
    }
}

/// The files of one repository, by the names the updater fetches; shared, so that handing a
/// copy to each verification copies no repository (each fetch copies its file, as a download).
#[derive(Clone)]
struct Files(Rc<BTreeMap<String, Vec<u8>>>);

impl Fetch for Files {
    fn fetch(&mut self, name: &str, max_bytes: u64) -> uptane::Result<Vec<u8>> {
        let bytes = self.0.get(name).ok_or(uptane::Error::NotFound { what: name.into() })?;
        if bytes.len() as u64 > max_bytes {
            return Err(uptane::Error::TooLarge { what: name.into(), limit: max_bytes });
        }
        Ok(bytes.clone())
    }
}

fn sign<M: serde::Serialize>(body: M, key: &PrivateKey) -> Vec<u8> {
    let signers: [&dyn Signer; 1] = [key];
    SignedMetadata::new(body).sign_to_bytes(&signers).unwrap()
}

/// A repository of `targets`, one key per role (`seed`..`seed+3`).
fn repository(seed: u8, targets: Targets) -> (Files, Vec<PrivateKey>) {
    let keys: Vec<PrivateKey> =
        (0..4).map(|i| PrivateKey::ed25519_from_seed(&[seed + i; 32]).unwrap()).collect();
    let expires = Utc::now() + Days::days(30);
    let mut root = Root::new(expires);
    for (role, key) in ["root", "targets", "snapshot", "timestamp"].iter().zip(&keys) {
        root.add_key(role, key.public_key()).unwrap();
    }
    let root = sign(root, &keys[0]);
    let targets = sign(targets, &keys[1]);
    let meta = BTreeMap::from([("targets.json".to_string(), MetaFile::describing(1, &targets))]);
    let snapshot = sign(Snapshot::new(1, expires, meta), &keys[2]);
    let timestamp = sign(Timestamp::new(1, expires, MetaFile::describing(1, &snapshot)), &keys[3]);
    let files = BTreeMap::from([
        ("root.json".to_string(), root),
        ("timestamp.json".to_string(), timestamp),
        ("1.snapshot.json".to_string(), snapshot),
        ("1.targets.json".to_string(), targets),
    ]);
    (Files(Rc::new(files)), keys)
}

fn verification() {
    let expires = Utc::now() + Days::days(30);
    let mut image_targets = Targets::new(1, expires);
    for i in 0..TARGETS {
        let mut file = TargetFile::describing(format!("image {i}").as_bytes());
        let custom = TargetCustom {
            hardware_ids: Some(vec![HardwareId::new(format!("hw-{}", i % ECUS)).unwrap()]),
            release_counter: Some(1),
            ..TargetCustom::default()
        };
        file.set_uptane(&custom).unwrap();
        image_targets.targets.insert(format!("supplier{}/fw-{i}.bin", i % 7), file);
    }
    let mut director_targets = Targets::new(1, expires);
    let mut ecus = BTreeMap::new();
    for e in 0..ECUS {
        let (serial, hw) = (format!("ECU-{e}"), format!("hw-{e}"));
        let path = format!("supplier{}/fw-{e}.bin", e % 7);
        let mut file = image_targets.targets[&path].clone();
        let mut custom = file.uptane(&path).unwrap();
        let id = json!({ serial.clone(): {"hardwareId": hw} });
        custom.ecu_identifiers = Some(serde_json::from_value(id).unwrap());
        file.set_uptane(&custom).unwrap();
        director_targets.targets.insert(path, file);
        ecus.insert(EcuSerial::new(serial).unwrap(), HardwareId::new(hw).unwrap());
    }
    let vin = "WVWZZZ1JZXW000001";
    director_targets.custom = Some(json!({ "vin": vin }).as_object().unwrap().clone());
    let vehicle = Vehicle { vin: Vin::new(vin).unwrap(), ecus };
    let (image, image_keys) = repository(10, image_targets);
    let (director, director_keys) = repository(20, director_targets);
    let sizes: usize = image.0.values().chain(director.0.values()).map(Vec::len).sum();
    println!("both repositories: {TARGETS} image targets, {ECUS} assigned, 8 files, {sizes} bytes");

    let mut checks = Vec::new();
    for (files, keys) in [(&image, &image_keys), (&director, &director_keys)] {
        for (name, bytes) in files.0.iter() {
            let value: Value = serde_json::from_slice(bytes).unwrap();
            let (role, key) = match name.as_str() {
                "root.json" => (Role::Root, &keys[0]),
                "1.targets.json" => (Role::Targets, &keys[1]),
                "1.snapshot.json" => (Role::Snapshot, &keys[2]),
                _ => (Role::Timestamp, &keys[3]),
            };
            checks.push(Check {
                bytes: bytes.clone(),
                role,
                message: canonical::to_vec(&value["signed"]).unwrap(),
                sig: hex::decode(value["signatures"][0]["sig"].as_str().unwrap()).unwrap(),
                key: key.public_key().clone(),
            });
        }
    }
    let installed = InstalledImages::new();
    let (full, floor) = measure_pair(
        || full_verification(&director, &image, &vehicle, &installed),
        || parse_and_check_signatures(&checks),
    );
    report("full verification, both repositories", full, floor);
}

/// What is measured: a Primary's full verification, from the provisioned Roots alone.
#[inline(never)] // a frame of its own, for profilers
fn full_verification(
    director: &Files,
    image: &Files,
    vehicle: &Vehicle,
    installed: &InstalledImages,
) {
    let anchor = |files: &Files| {
        let mut store = MemStore::default();
        store.save("root.json", &files.0["root.json"]).unwrap();
        store
    };
    let now = Utc::now();
    let mut d = Updater::new(director.clone(), anchor(director), now, Rules::uptane()).unwrap();
    let mut i = Updater::new(image.clone(), anchor(image), now, Rules::uptane()).unwrap();
    let bundle = verify_full(&mut d, &mut i, Scope::Vehicle(vehicle), None, installed).unwrap();
    assert_eq!(bundle.updates.len(), ECUS);
    black_box(bundle);
}

/// The role of a file, for parsing it as the verifier does.
#[derive(Clone, Copy)]
enum Role {
    Root,
    Timestamp,
    Snapshot,
    Targets,
}

/// One file of the floor, with what checking its one signature needs, made beforehand.
struct Check {
    bytes: Vec<u8>,
    role: Role,
    message: Vec<u8>,
    sig: Vec<u8>,
    key: PublicKey,
}

/// The floor: every file parsed once into its metadata type (a generic JSON value would cost
/// more than the verifier needs to spend), and its signature checked.
#[inline(never)] // a frame of its own, for profilers
fn parse_and_check_signatures(checks: &[Check]) {
    fn parse<M: DeserializeOwned>(bytes: &[u8]) {
        black_box(serde_json::from_slice::<SignedMetadata<M>>(black_box(bytes)).unwrap());
    }
    for check in checks {
        match check.role {
            Role::Root => parse::<Root>(&check.bytes),
            Role::Timestamp => parse::<Timestamp>(&check.bytes),
            Role::Snapshot => parse::<Snapshot>(&check.bytes),
            Role::Targets => parse::<Targets>(&check.bytes),
        }
        assert!(check.key.verify(&check.message, &check.sig));
    }
}

/// Median times of `a` and `b`, run alternately for about 3 s so both see the same load.
fn measure_pair(mut a: impl FnMut(), mut b: impl FnMut()) -> (Duration, Duration) {
    let (mut sa, mut sb) = (Vec::new(), Vec::new());
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(3) || sa.len() < 20 {
        let t = Instant::now();
        a();
        sa.push(t.elapsed());
        let t = Instant::now();
        b();
        sb.push(t.elapsed());
    }
    (median(sa), median(sb))
}

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

fn report(name: &str, value: Duration, floor: Duration) {
    let ratio = value.as_secs_f64() / floor.as_secs_f64();
    println!(
        "{name}: {:.2} ms, floor (parse + signature checks) {:.2} ms, ratio {ratio:.2} (goal <= 1.5)",
        value.as_secs_f64() * 1e3,
        floor.as_secs_f64() * 1e3
    );
    let (value, floor) = (value.as_secs_f64() * 1e3, floor.as_secs_f64() * 1e3);
    let line = json!({"figure": name, "value": value, "unit": "ms", "baseline": floor,
        "ratio": ratio, "goal": "<= 1.5"});
    println!("BENCH {line}");
}

/// The byte at `offset` of the benchmark image.
fn image_chunk(offset: u64, buf: &mut [u8]) {
    for (i, b) in buf.iter_mut().enumerate() {
        let x = offset + i as u64;
        *b = (x ^ (x >> 11) ^ (x >> 23)) as u8;
    }
}

fn download_memory() {
    let length = IMAGE_MIB << 20;
    let file = {
        let mut sha256 = ring::digest::Context::new(&ring::digest::SHA256);
        let mut sha512 = ring::digest::Context::new(&ring::digest::SHA512);
        let mut buf = vec![0u8; 1 << 20];
        for chunk in 0..IMAGE_MIB {
            image_chunk(chunk << 20, &mut buf);
            sha256.update(&buf);
            sha512.update(&buf);
        }
        let hashes = BTreeMap::from([
            ("sha256".to_string(), hex::encode(sha256.finish())),
            ("sha512".to_string(), hex::encode(sha512.finish())),
        ]);
        TargetFile { length, hashes, custom: None, extra: Default::default() }
    };
    let (url, ca) = serve_tls(length);
    let dir = tempfile::tempdir().unwrap();
    let ca_path = dir.path().join("ca.pem");
    std::fs::write(&ca_path, ca).unwrap();
    let spec = json!({"url": url, "ca": ca_path, "file": file, "dir": dir.path()}).to_string();
    let started = Instant::now();
    let output = std::process::Command::new(std::env::current_exe().unwrap())
        .env(CHILD, spec)
        .output()
        .unwrap();
    let elapsed = started.elapsed();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let answer: Value = serde_json::from_slice(&output.stdout).unwrap();
    let (before, peak) =
        (answer["before_kib"].as_u64().unwrap(), answer["peak_kib"].as_u64().unwrap());
    println!(
        "download {IMAGE_MIB} MiB over HTTPS (sha256 + sha512, to disk): {:.0} MiB/s, peak RSS {:.1} MiB \
         (goal < 32 MiB); the same process before downloading: {:.1} MiB; growth {:.1} MiB",
        IMAGE_MIB as f64 / elapsed.as_secs_f64(),
        peak as f64 / 1024.0,
        before as f64 / 1024.0,
        (peak - before) as f64 / 1024.0
    );
    let figure = format!("download {IMAGE_MIB} MiB over HTTPS: peak RSS");
    let line = json!({"figure": figure, "value": peak as f64 / 1024.0, "unit": "MiB",
        "goal": "< 32"});
    println!("BENCH {line}");
}

/// The child: build the client, note VmHWM, download, verify, note VmHWM again.
fn download_child(spec: &str) {
    let spec: Value = serde_json::from_str(spec).unwrap();
    let file: TargetFile = serde_json::from_value(spec["file"].clone()).unwrap();
    let ca = std::fs::read(spec["ca"].as_str().unwrap()).unwrap();
    let client =
        HttpClient::new(&HttpConfig { ca_pem: Some(ca), ..HttpConfig::default() }).unwrap();
    let before = vm_hwm_kib();
    let dir = std::path::Path::new(spec["dir"].as_str().unwrap()).join("images");
    let url = spec["url"].as_str().unwrap();
    let path = download_image(&client, url, "bench.bin", &file, &dir, &mut |_| {}).unwrap();
    assert_eq!(std::fs::metadata(path).unwrap().len(), file.length);
    println!("{}", json!({"before_kib": before, "peak_kib": vm_hwm_kib()}));
}

fn vm_hwm_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status.lines().find(|l| l.starts_with("VmHWM:")).unwrap();
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

/// An HTTPS server (its own CA) streaming the benchmark image to every request.
fn serve_tls(length: u64) -> (String, String) {
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let key = rcgen::KeyPair::generate().unwrap();
    let cert = rcgen::CertificateParams::new(vec!["localhost".to_string()])
        .unwrap()
        .self_signed(&key)
        .unwrap();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(
            vec![CertificateDer::from(cert.der().to_vec())],
            PrivateKeyDer::Pkcs8(key.serialize_der().into()),
        )
        .unwrap();
    let config = Arc::new(config);
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("https://localhost:{}/image.bin", listener.local_addr().unwrap().port());
    std::thread::spawn(move || {
        for tcp in listener.incoming().flatten() {
            let connection = rustls::ServerConnection::new(config.clone()).unwrap();
            let mut tls = rustls::StreamOwned::new(connection, tcp);
            let mut request = Vec::new();
            let mut byte = [0u8; 1];
            while !request.ends_with(b"\r\n\r\n") && tls.read(&mut byte).unwrap_or(0) == 1 {
                request.push(byte[0]);
            }
            let head =
                format!("HTTP/1.1 200 OK\r\nContent-Length: {length}\r\nConnection: close\r\n\r\n");
            tls.write_all(head.as_bytes()).unwrap();
            let mut buf = vec![0u8; 1 << 16];
            let mut sent = 0;
            while sent < length {
                image_chunk(sent, &mut buf);
                if tls.write_all(&buf).is_err() {
                    break;
                }
                sent += buf.len() as u64;
            }
            tls.conn.send_close_notify();
            let _ = tls.flush();
        }
    });
    (url, cert.pem())
}
