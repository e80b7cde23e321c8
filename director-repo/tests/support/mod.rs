//! Test support: a real Director over HTTPS on a loopback port with a temporary data directory
//! and SQLite (or a fresh PostgreSQL database), a trusting ureq client, a Director root made
//! with the uptane core, ECUs that sign version reports, and a real Image repository for the
//! Director to read ([`image_repo`]).

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

pub mod fleet;
pub mod image_repo;

use std::path::PathBuf;

use chrono::{Duration, Utc};
use director_repo::{AppState, Config};
use serde::Serialize;
use serde_json::{Map, Value, json};
use uptane::crypto::{PrivateKey, Signer};
use uptane::manifest::{
    EcuVersionReport, InstalledImage, SignedReport, VehicleManifest, sign_report,
};
use uptane::metadata::{Root, SignedMetadata, TargetCustom, TargetFile};
use uptane::names::{EcuSerial, HardwareId, Vin};
use uptane::repository::{Fetch, MemStore, Rules, Store, Updater};

use image_repo::ImageRepository;

pub use service_kit::test_support::{Backend, TempDatabase};
use service_kit::test_support::{RunningServer, fetch_metadata, trusting_agent};

pub const TOKEN: &str = "test-operator-token";
pub const VIN: &str = "WVWZZZ1JZXW000001";
pub const PRIMARY: &str = "TCU-SN-1";
pub const SECONDARY: &str = "BCM-SN-1";
pub const IMAGE: &[u8] = b"brake controller firmware 2.0";
pub const IMAGE_PATH: &str = "supplierA/bcm-2.0.bin";

pub struct TestKeys {
    pub root: PrivateKey,
    pub targets: PrivateKey,
    pub snapshot: PrivateKey,
    pub timestamp: PrivateKey,
    pub time: PrivateKey,
    pub primary: PrivateKey,
    pub secondary: PrivateKey,
    pub other: PrivateKey,
}

impl TestKeys {
    fn new() -> TestKeys {
        let key = |n: u8| PrivateKey::ed25519_from_seed(&[n; 32]).unwrap();
        TestKeys {
            root: key(1),
            targets: key(2),
            snapshot: key(3),
            timestamp: key(4),
            time: key(5),
            primary: key(6),
            secondary: key(7),
            other: key(8),
        }
    }
}

/// Everything a test needs: keys, a data directory, a database, and maybe a running server.
pub struct World {
    pub dir: tempfile::TempDir,
    pub database: Option<TempDatabase>,
    pub keys: TestKeys,
    /// Lists IMAGE at IMAGE_PATH for the Secondary's hardware.
    pub image_repo: ImageRepository,
    pub server: Option<TestServer>,
}

impl World {
    pub fn new(backend: &Backend) -> World {
        let dir = tempfile::tempdir().unwrap();
        let database = match backend {
            Backend::Sqlite => None,
            Backend::Postgres(admin) => Some(TempDatabase::create(admin)),
        };
        let keys = TestKeys::new();
        let given = dir.path().join("given-keys");
        std::fs::create_dir_all(&given).unwrap();
        for (name, key) in [
            ("targets", &keys.targets),
            ("snapshot", &keys.snapshot),
            ("timestamp", &keys.timestamp),
            ("time", &keys.time),
        ] {
            std::fs::write(given.join(format!("{name}.pem")), key.to_pem()).unwrap();
        }
        let image_repo = ImageRepository::start(&dir.path().join("image-repo"), IMAGE, IMAGE_PATH);
        World { dir, database, keys, image_repo, server: None }
    }

    pub fn data_dir(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    /// The service configuration for this world (HTTPS, port 0, the given online keys).
    pub fn config(&self) -> Config {
        let given = self.dir.path().join("given-keys");
        let mut config = Config::new(self.data_dir());
        config.listen = "127.0.0.1:0".parse().unwrap();
        config.database_url = self.database.as_ref().map(|d| d.url.clone());
        config.operator_token = Some(TOKEN.into());
        config.workers = 2;
        config.targets_key = Some(given.join("targets.pem"));
        config.snapshot_key = Some(given.join("snapshot.pem"));
        config.timestamp_key = Some(given.join("timestamp.pem"));
        config.time_key = Some(given.join("time.pem"));
        config.image_repo_url = Some(self.image_repo.url.clone());
        config.image_repo_root = Some(self.image_repo.root.clone());
        config.image_repo_ca = Some(self.image_repo.ca.clone());
        config
    }

    pub fn start(&mut self) -> &TestServer {
        self.start_with(self.config())
    }

    pub fn start_with(&mut self, config: Config) -> &TestServer {
        self.stop();
        self.server = Some(TestServer::start(config));
        self.server.as_ref().unwrap()
    }

    pub fn stop(&mut self) {
        if let Some(mut server) = self.server.take() {
            server.stop();
        }
    }

    pub fn server(&self) -> &TestServer {
        self.server.as_ref().expect("server started")
    }

    /// Root v1 listing the online keys (time key in `time_attestation`).
    pub fn root_body(&self) -> Root {
        let mut root = Root::new(Utc::now() + Duration::days(365));
        root.add_key("root", self.keys.root.public_key()).unwrap();
        root.add_key("targets", self.keys.targets.public_key()).unwrap();
        root.add_key("snapshot", self.keys.snapshot.public_key()).unwrap();
        root.add_key("timestamp", self.keys.timestamp.public_key()).unwrap();
        uptane::time::add_time_key(&mut root, self.keys.time.public_key()).unwrap();
        root
    }

    pub fn root_v1(&self) -> Vec<u8> {
        sign(self.root_body(), &[&self.keys.root])
    }

    /// Uploads root v1 and registers the test vehicle (Primary + one Secondary).
    pub fn bootstrap(&self) -> Vec<u8> {
        let server = self.server();
        let root = self.root_v1();
        let reply = server.put_admin("/api/v1/root", &root);
        assert_eq!(reply.status, 200, "{}", reply.text());
        let reply = server.post_admin("/api/v1/vehicles", &self.registration());
        assert_eq!(reply.status, 201, "{}", reply.text());
        root
    }

    pub fn registration(&self) -> Value {
        json!({
            "vin": VIN,
            "primary": PRIMARY,
            "ecus": [
                {"serial": PRIMARY, "hardware_id": "acme-tcu", "public_key": self.keys.primary.public_key()},
                {"serial": SECONDARY, "hardware_id": "acme-bcm", "public_key": self.keys.secondary.public_key()},
            ],
        })
    }

    /// Assigns IMAGE to the Secondary.
    pub fn assign(&self) -> Value {
        let reply = self.server().post_admin(
            &format!("/api/v1/vehicles/{VIN}/assignments"),
            &json!({"ecu_serial": SECONDARY, "target_path": IMAGE_PATH}),
        );
        assert_eq!(reply.status, 201, "{}", reply.text());
        reply.json()
    }

    pub fn vehicle(&self) -> Vehicle {
        Vehicle {
            vin: Vin::new(VIN).unwrap(),
            ecus: [(PRIMARY, "acme-tcu"), (SECONDARY, "acme-bcm")]
                .into_iter()
                .map(|(s, h)| (EcuSerial::new(s).unwrap(), HardwareId::new(h).unwrap()))
                .collect(),
        }
    }

    /// An ECU version report.
    pub fn report(
        &self,
        serial: &str,
        key: &PrivateKey,
        image: (&str, &[u8]),
        counter: u64,
    ) -> SignedReport {
        let hardware = if serial == PRIMARY { "acme-tcu" } else { "acme-bcm" };
        let body = EcuVersionReport {
            ecu_serial: EcuSerial::new(serial).unwrap(),
            hardware_id: HardwareId::new(hardware).unwrap(),
            installed_image: InstalledImage::new(image.0, &TargetFile::describing(image.1)),
            attacks_detected: String::new(),
            attacks_detected_code: None,
            latest_time: Utc::now(),
            previous_time: Utc::now(),
            report_counter: counter,
            nonce: format!("{:032x}", counter as u128 * 7919 + serial.len() as u128),
            extra: Map::new(),
        };
        sign_report(body, key).unwrap()
    }

    /// A manifest signed by `signer` carrying `reports`.
    pub fn manifest(&self, signer: &PrivateKey, reports: &[SignedReport]) -> Vec<u8> {
        let body =
            VehicleManifest::new(Vin::new(VIN).unwrap(), EcuSerial::new(PRIMARY).unwrap(), reports)
                .unwrap();
        sign(body, &[signer])
    }

    /// The usual manifest: both ECUs, the Secondary running `secondary_image`.
    pub fn full_manifest(&self, secondary_image: (&str, &[u8]), counter: u64) -> Vec<u8> {
        let reports = [
            self.report(PRIMARY, &self.keys.primary, ("tcu-1.0.bin", b"tcu"), counter),
            self.report(SECONDARY, &self.keys.secondary, secondary_image, counter),
        ];
        self.manifest(&self.keys.primary, &reports)
    }
}

pub use uptane::director::Vehicle;

impl Drop for World {
    fn drop(&mut self) {
        self.stop();
    }
}

/// The Image repository's entry for IMAGE (as keytool lists it).
pub fn image_entry() -> TargetFile {
    let mut file = TargetFile::describing(IMAGE);
    let custom = TargetCustom {
        hardware_ids: Some(vec![HardwareId::new("acme-bcm").unwrap()]),
        release_counter: Some(3),
        ..TargetCustom::default()
    };
    file.set_uptane(&custom).unwrap();
    file
}

/// Signs a body and returns the file's bytes.
pub fn sign<M: Serialize>(body: M, keys: &[&PrivateKey]) -> Vec<u8> {
    let mut signed = SignedMetadata::new(body);
    let signers: Vec<&dyn Signer> = keys.iter().map(|k| *k as &dyn Signer).collect();
    signed.sign_to_bytes(&signers).unwrap()
}

/// A running server: its HTTPS base URL and a client trusting its generated CA.
pub struct TestServer {
    pub base: String,
    pub agent: ureq::Agent,
    pub config: Config,
    ca_pem: Vec<u8>,
    running: RunningServer,
}

/// A response: status and body.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub body: Vec<u8>,
}

impl Reply {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or(Value::Null)
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The stable error code of a JSON error.
    pub fn code(&self) -> String {
        self.json()["error"].as_str().unwrap_or_default().to_owned()
    }
}

use ureq::http;

impl TestServer {
    pub fn start(config: Config) -> TestServer {
        let ca_path = config.data_dir.join("tls/ca.pem");
        let server_config = config.clone();
        let running = RunningServer::spawn(
            move || actix_web::web::Data::new(AppState::open(config).unwrap()),
            |state| director_repo::server::start(state).unwrap(),
        );
        let ca_pem = std::fs::read(&ca_path).unwrap();
        let agent = trusting_agent(&ca_pem);
        TestServer {
            base: format!("https://localhost:{}", running.addr.port()),
            agent,
            config: server_config,
            ca_pem,
            running,
        }
    }

    pub fn stop(&mut self) {
        self.running.stop();
    }

    pub fn reply(response: Result<http::Response<ureq::Body>, ureq::Error>) -> Reply {
        let response = response.unwrap();
        let status = response.status().as_u16();
        let body = response.into_body().with_config().limit(64 << 20).read_to_vec().unwrap();
        Reply { status, body }
    }

    /// A client presenting a fleet certificate naming `vin` (issued directly from the data
    /// directory's fleet CA, so any VIN works).
    pub fn vehicle_agent(&self, vin: &str) -> ureq::Agent {
        let issued = director_repo::tls::issue_client_certificate(&self.config, vin).unwrap();
        self.agent_with(&issued.certificate, &issued.private_key)
    }

    /// A client presenting the client certificate `certificate` (PEM) with its key.
    pub fn agent_with(&self, certificate: &str, private_key: &str) -> ureq::Agent {
        let server_ca = ureq::tls::Certificate::from_pem(&self.ca_pem).unwrap();
        let cert = ureq::tls::Certificate::from_pem(certificate.as_bytes()).unwrap();
        let key = ureq::tls::PrivateKey::from_pem(private_key.as_bytes()).unwrap();
        let tls = ureq::tls::TlsConfig::builder()
            .root_certs(ureq::tls::RootCerts::new_with_certs(&[server_ca]))
            .client_cert(Some(ureq::tls::ClientCert::new_with_certs(
                &[cert.to_owned()],
                key.to_owned(),
            )))
            .build();
        ureq::Agent::config_builder().tls_config(tls).http_status_as_error(false).build().into()
    }

    /// GET as the vehicle `vin` (mutual TLS).
    pub fn vehicle_get(&self, vin: &str, path: &str) -> Reply {
        Self::reply(self.vehicle_agent(vin).get(format!("{}{path}", self.base)).call())
    }

    /// POST as the vehicle `vin` (mutual TLS).
    pub fn vehicle_post(&self, vin: &str, path: &str, body: &[u8]) -> Reply {
        Self::reply(self.vehicle_agent(vin).post(format!("{}{path}", self.base)).send(body))
    }

    pub fn get(&self, path: &str) -> Reply {
        Self::reply(self.agent.get(format!("{}{path}", self.base)).call())
    }

    pub fn get_admin(&self, path: &str) -> Reply {
        let request = self.agent.get(format!("{}{path}", self.base));
        Self::reply(request.header("Authorization", format!("Bearer {TOKEN}")).call())
    }

    pub fn put_as(&self, path: &str, token: Option<&str>, body: &[u8]) -> Reply {
        let mut request = self.agent.put(format!("{}{path}", self.base));
        if let Some(token) = token {
            request = request.header("Authorization", format!("Bearer {token}"));
        }
        Self::reply(request.send(body))
    }

    pub fn put_admin(&self, path: &str, body: &[u8]) -> Reply {
        self.put_as(path, Some(TOKEN), body)
    }

    pub fn post_as(&self, path: &str, token: Option<&str>, body: &Value) -> Reply {
        let mut request = self.agent.post(format!("{}{path}", self.base));
        if let Some(token) = token {
            request = request.header("Authorization", format!("Bearer {token}"));
        }
        Self::reply(request.send(body.to_string().as_bytes()))
    }

    pub fn post_admin(&self, path: &str, body: &Value) -> Reply {
        self.post_as(path, Some(TOKEN), body)
    }

    /// PUT a manifest as the vehicle `vin` (mutual TLS).
    pub fn put_manifest(&self, vin: &str, body: &[u8]) -> Reply {
        self.put_manifest_as(vin, vin, body)
    }

    /// PUT a manifest to `vin`'s URL with a certificate naming `cert_vin`.
    pub fn put_manifest_as(&self, cert_vin: &str, vin: &str, body: &[u8]) -> Reply {
        let agent = self.vehicle_agent(cert_vin);
        Self::reply(agent.put(format!("{}/vehicles/{vin}/manifest", self.base)).send(body))
    }

    /// The vehicle's state from the admin API.
    pub fn state(&self) -> Value {
        let reply = self.get_admin(&format!("/api/v1/vehicles/{VIN}"));
        assert_eq!(reply.status, 200, "{}", reply.text());
        reply.json()
    }

    /// A verifying client of the vehicle's Director metadata over HTTPS, trusting `root`.
    pub fn updater(&self, vin: &str, root: &[u8]) -> Updater<HttpFetch, MemStore> {
        let mut store = MemStore::default();
        store.save("root.json", root).unwrap();
        let fetch = HttpFetch {
            agent: self.vehicle_agent(vin),
            base: format!("{}/vehicles/{vin}/metadata", self.base),
            fetched: Vec::new(),
        };
        Updater::new(fetch, store, Utc::now(), Rules::uptane()).unwrap()
    }
}

/// The core's `Fetch` over HTTPS, recording what it fetched.
pub struct HttpFetch {
    agent: ureq::Agent,
    base: String,
    pub fetched: Vec<String>,
}

impl Fetch for HttpFetch {
    fn fetch(&mut self, name: &str, max_bytes: u64) -> uptane::Result<Vec<u8>> {
        self.fetched.push(name.to_owned());
        let url = format!("{}/{name}", self.base);
        fetch_metadata(&self.agent, url, name, max_bytes)
    }
}

/// Declares each scenario twice: on SQLite, and on PostgreSQL when its URL is set.
#[macro_export]
macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $( #[test] fn $name() { super::$name(&$crate::support::Backend::Sqlite) } )*
        }
        mod postgres {
            $( #[test] fn $name() {
                if let Some(backend) = $crate::support::Backend::postgres() { super::$name(&backend) }
            } )*
        }
    };
}
