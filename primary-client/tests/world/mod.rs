//! A vehicle's world for the Primary's cycle tests: a real Director and a real Image
//! repository over HTTPS (the Director with mutual TLS), both on loopback with SQLite, an
//! image release published and assigned, and in-process Secondaries that sign their reports
//! and check what they receive.
#![allow(dead_code, clippy::unwrap_used)]

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use chrono::{Duration, Utc};
use primary_client::cycle::{Primary, PrimaryIdentity};
use primary_client::director::DirectorApi;
use primary_client::http::{HttpClient, HttpConfig};
use primary_client::progress::Progress;
use primary_client::secondary::{ImageTransfer, MetadataBundle, Secondary, Verification};
use serde::Serialize;
use serde_json::{Map, Value, json};
use service_kit::test_support::{RunningServer, trusting_agent};
use uptane::crypto::{PrivateKey, PublicKey, Signer};
use uptane::director::Vehicle;
use uptane::image::ImageVerifier;
use uptane::manifest::{EcuVersionReport, InstalledImage, sign_report};
use uptane::metadata::{Root, SignedMetadata, TargetCustom, TargetFile, Targets};
use uptane::names::{EcuSerial, HardwareId, Vin};
use uptane::repository::Rules;

pub const VIN: &str = "WVWZZZ1JZXW000001";
pub const TOKEN: &str = "test-token";
pub const CREDENTIAL: &str = "fleet-provisioning-credential";
pub const PRIMARY: (&str, &str) = ("TCU-SN-1", "acme-tcu");
pub const FULL: (&str, &str) = ("BCM-SN-1", "acme-bcm");
pub const PARTIAL: (&str, &str) = ("DCU-SN-1", "acme-dcu");

pub fn key(n: u8) -> PrivateKey {
    PrivateKey::ed25519_from_seed(&[n; 32]).unwrap()
}

pub fn sign<M: Serialize>(body: M, key: &PrivateKey) -> Vec<u8> {
    let signers: [&dyn Signer; 1] = [key];
    SignedMetadata::new(body).sign_to_bytes(&signers).unwrap()
}

/// An image of `len` bytes that differ per `seed`.
pub fn image_bytes(seed: u8, len: usize) -> Vec<u8> {
    (0..len).map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed)).collect()
}

pub fn entry(bytes: &[u8], hardware: &str, counter: u64) -> TargetFile {
    let mut file = TargetFile::describing(bytes);
    let custom = TargetCustom {
        hardware_ids: Some(vec![HardwareId::new(hardware).unwrap()]),
        release_counter: Some(counter),
        ..TargetCustom::default()
    };
    file.set_uptane(&custom).unwrap();
    file
}

struct Service {
    base: String,
    ca_pem: Vec<u8>,
    running: RunningServer,
}

impl Service {
    fn admin(&self) -> ureq::Agent {
        trusting_agent(&self.ca_pem)
    }

    fn put(&self, path: &str, body: &[u8]) -> (u16, String) {
        let response = self
            .admin()
            .put(format!("{}{path}", self.base))
            .header("Authorization", format!("Bearer {TOKEN}"))
            .send(body)
            .unwrap();
        let status = response.status().as_u16();
        (status, response.into_body().read_to_string().unwrap_or_default())
    }

    fn post(&self, path: &str, body: &Value) -> (u16, String) {
        let response = self
            .admin()
            .post(format!("{}{path}", self.base))
            .header("Authorization", format!("Bearer {TOKEN}"))
            .send(body.to_string().as_bytes())
            .unwrap();
        let status = response.status().as_u16();
        (status, response.into_body().read_to_string().unwrap_or_default())
    }

    fn get(&self, path: &str) -> Value {
        let response = self
            .admin()
            .get(format!("{}{path}", self.base))
            .header("Authorization", format!("Bearer {TOKEN}"))
            .call()
            .unwrap();
        serde_json::from_slice(&response.into_body().read_to_vec().unwrap()).unwrap()
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        self.running.stop();
    }
}

/// What an in-process Secondary has seen, for the test to inspect.
#[derive(Debug, Default)]
pub struct Seen {
    pub times: Vec<Vec<u8>>,
    pub metadata: Vec<MetadataBundle>,
    pub images: Vec<Vec<u8>>,
    pub refused: Vec<String>,
}

/// A Secondary ECU in the test process: it signs its reports with its own key, checks an image
/// against the Director Targets it was sent (ECU entry, length, every hash) before
/// "installing" it, and reports it from then on.
pub struct TestSecondary {
    serial: EcuSerial,
    hardware: HardwareId,
    mode: Verification,
    key: PrivateKey,
    installed: (String, TargetFile),
    counter: u64,
    /// Answers nothing (a Secondary off the bus).
    pub offline: bool,
    /// Refuses every time attestation (one that has not yet followed a time-key rotation).
    pub refuses_time: bool,
    pub seen: Arc<Mutex<Seen>>,
}

impl TestSecondary {
    /// What an ECU off the bus answers: nothing.
    fn reachable(&self) -> uptane::Result<()> {
        if self.offline {
            let what = format!("ECU {}", self.serial);
            return Err(uptane::Error::Transport { what, detail: "no response".into() });
        }
        Ok(())
    }

    pub fn new(ecu: (&str, &str), mode: Verification, key: PrivateKey) -> TestSecondary {
        TestSecondary {
            serial: EcuSerial::new(ecu.0).unwrap(),
            hardware: HardwareId::new(ecu.1).unwrap(),
            mode,
            key,
            installed: (format!("factory/{}.bin", ecu.0), TargetFile::describing(ecu.0.as_bytes())),
            counter: 0,
            offline: false,
            refuses_time: false,
            seen: Arc::default(),
        }
    }
}

impl Secondary for TestSecondary {
    fn serial(&self) -> &EcuSerial {
        &self.serial
    }
    fn hardware_id(&self) -> &HardwareId {
        &self.hardware
    }
    fn verification(&self) -> Verification {
        self.mode
    }
    fn public_key(&mut self) -> uptane::Result<PublicKey> {
        Ok(self.key.public_key().clone())
    }
    fn version_report(&mut self, challenge: &str) -> uptane::Result<Value> {
        self.reachable()?;
        self.counter += 1;
        let body = EcuVersionReport {
            ecu_serial: self.serial.clone(),
            hardware_id: self.hardware.clone(),
            installed_image: InstalledImage::new(&self.installed.0, &self.installed.1),
            attacks_detected: String::new(),
            attacks_detected_code: None,
            latest_time: Utc::now(),
            previous_time: Utc::now(),
            report_counter: self.counter,
            nonce: primary_client::report::fresh_nonce()?,
            extra: Map::from_iter([("primary_nonce".to_string(), Value::from(challenge))]),
        };
        Ok(serde_json::to_value(sign_report(body, &self.key)?).unwrap())
    }
    fn send_time(&mut self, attestation: &[u8]) -> uptane::Result<()> {
        self.reachable()?;
        if self.refuses_time {
            return Err(uptane::Error::Time(
                "signed by a key the trusted root does not name".into(),
            ));
        }
        self.seen.lock().unwrap().times.push(attestation.to_vec());
        Ok(())
    }
    fn send_metadata(&mut self, metadata: &MetadataBundle) -> uptane::Result<()> {
        self.reachable()?;
        self.seen.lock().unwrap().metadata.push(metadata.clone());
        Ok(())
    }
    fn send_image(
        &mut self,
        image: ImageTransfer<'_>,
        progress: &mut dyn FnMut(u64),
    ) -> uptane::Result<()> {
        let mut bytes = Vec::new();
        image.reader.read_to_end(&mut bytes).unwrap();
        progress(bytes.len() as u64);
        let seen = self.seen.clone();
        let mut seen = seen.lock().unwrap();
        let targets = seen.metadata.last().unwrap().director.targets["targets"].clone();
        let targets = SignedMetadata::<Targets>::from_bytes(&targets, "targets").unwrap().signed;
        let file = targets.targets[image.path].clone();
        let result = ImageVerifier::verify(image.path, &file, &bytes);
        if let Err(e) = &result {
            seen.refused.push(e.to_string());
        } else {
            self.installed = (image.path.to_owned(), file);
            seen.images.push(bytes);
        }
        result
    }
}

/// The services, the release, and the vehicle's directories.
pub struct World {
    pub dir: tempfile::TempDir,
    director: Service,
    image: Service,
    director_config: director_repo::Config,
    pub director_root: Vec<u8>,
    pub image_root: Vec<u8>,
}

impl World {
    /// Starts both services, publishes the images in `release` (path, bytes, ECU) on the
    /// Image repository, registers the vehicle and assigns each image to its ECU.
    pub fn new(release: &[(&str, &[u8], (&str, &str))]) -> World {
        let world = World::start();
        world.register();
        world.release(1, release);
        world
    }

    /// Both services with their roots, the Director accepting the fleet credential
    /// [`CREDENTIAL`]; no vehicle registered, nothing released.
    pub fn start() -> World {
        let dir = tempfile::tempdir().unwrap();
        let keys_dir = dir.path().join("keys");
        std::fs::create_dir_all(&keys_dir).unwrap();
        // Director: root 1, targets 2, snapshot 3, timestamp 4, time 5.
        for (name, n) in [
            ("targets", 2),
            ("snapshot", 3),
            ("timestamp", 4),
            ("time", 5),
            ("isnap", 13),
            ("its", 14),
        ] {
            std::fs::write(keys_dir.join(format!("{name}.pem")), key(n).to_pem()).unwrap();
        }
        let mut image_config = image_repo::Config::new(dir.path().join("image"));
        image_config.listen = "127.0.0.1:0".parse().unwrap();
        image_config.upload_token = Some(TOKEN.into());
        image_config.snapshot_key = Some(keys_dir.join("isnap.pem"));
        image_config.timestamp_key = Some(keys_dir.join("its.pem"));
        let image = start_image(image_config);

        let mut root = Root::new(Utc::now() + Duration::days(365));
        for (role, n) in [("root", 11), ("targets", 12), ("snapshot", 13), ("timestamp", 14)] {
            root.add_key(role, key(n).public_key()).unwrap();
        }
        let image_root = sign(root, &key(11));
        let (status, text) = image.put("/api/v1/metadata/root", &image_root);
        assert_eq!(status, 200, "{text}");

        let mut config = director_repo::Config::new(dir.path().join("director"));
        config.listen = "127.0.0.1:0".parse().unwrap();
        config.operator_token = Some(TOKEN.into());
        config.workers = 2;
        config.targets_key = Some(keys_dir.join("targets.pem"));
        config.snapshot_key = Some(keys_dir.join("snapshot.pem"));
        config.timestamp_key = Some(keys_dir.join("timestamp.pem"));
        config.time_key = Some(keys_dir.join("time.pem"));
        config.provisioning_token = Some(CREDENTIAL.into());
        std::fs::write(keys_dir.join("image-root.json"), &image_root).unwrap();
        std::fs::write(keys_dir.join("image-ca.pem"), &image.ca_pem).unwrap();
        config.image_repo_url = Some(image.base.clone());
        config.image_repo_root = Some(keys_dir.join("image-root.json"));
        config.image_repo_ca = Some(keys_dir.join("image-ca.pem"));
        let director = start_director(config.clone());

        let mut root = Root::new(Utc::now() + Duration::days(365));
        for (role, n) in [("root", 1), ("targets", 2), ("snapshot", 3), ("timestamp", 4)] {
            root.add_key(role, key(n).public_key()).unwrap();
        }
        uptane::time::add_time_key(&mut root, key(5).public_key()).unwrap();
        let director_root = sign(root, &key(1));
        let (status, text) = director.put("/api/v1/root", &director_root);
        assert_eq!(status, 200, "{text}");

        World { dir, director, image, director_config: config, director_root, image_root }
    }

    /// Registers the vehicle through the operator's API: the Primary and both Secondaries.
    pub fn register(&self) {
        let director = &self.director;
        let mut ecus = vec![
            json!({"serial": PRIMARY.0, "hardware_id": PRIMARY.1, "public_key": key(21).public_key()}),
        ];
        for (ecu, key) in [(FULL, key(22)), (PARTIAL, key(23))] {
            ecus.push(
                json!({"serial": ecu.0, "hardware_id": ecu.1, "public_key": key.public_key()}),
            );
        }
        let (status, text) = director
            .post("/api/v1/vehicles", &json!({"vin": VIN, "primary": PRIMARY.0, "ecus": ecus}));
        assert_eq!(status, 201, "{text}");
    }

    /// Publishes `release` as Image targets `version` and assigns each image to its ECU.
    pub fn release(&self, version: u64, release: &[(&str, &[u8], (&str, &str))]) {
        let mut targets = Targets::new(version, Utc::now() + Duration::days(30));
        for (path, bytes, ecu) in release {
            let hash = uptane::crypto::sha256_hex(bytes);
            let (status, text) = self.image.put(&format!("/api/v1/blobs/{hash}"), bytes);
            assert!(status == 201 || status == 200, "{status} {text}");
            targets.targets.insert((*path).into(), entry(bytes, ecu.1, version));
        }
        let (status, text) =
            self.image.put("/api/v1/metadata/targets", &sign(targets.clone(), &key(12)));
        assert_eq!(status, 200, "{text}");
        for (path, _, ecu) in release {
            let body = json!({"ecu_serial": ecu.0, "target_path": path});
            let (status, text) =
                self.director.post(&format!("/api/v1/vehicles/{VIN}/assignments"), &body);
            assert_eq!(status, 201, "{text}");
        }
    }

    /// The operator replaces the Director's time key by `new` in root 2, signed by the
    /// unchanged root key, after installing the key file beside the service.
    pub fn rotate_time_key(&self, new: &PrivateKey) {
        let keys = self.director_config.data_dir.join("keys");
        std::fs::write(keys.join("time-2.pem"), new.to_pem()).unwrap();
        let mut root =
            SignedMetadata::<Root>::from_bytes(&self.director_root, "root").unwrap().signed;
        root.keys.remove(key(5).key_id());
        uptane::time::add_time_key(&mut root, new.public_key()).unwrap();
        root.version = 2;
        let (status, text) = self.director.put("/api/v1/root", &sign(root, &key(1)));
        assert_eq!(status, 200, "{text}");
    }

    /// The Director's view of the vehicle (admin API).
    pub fn vehicle_state(&self) -> Value {
        self.director.get(&format!("/api/v1/vehicles/{VIN}"))
    }

    pub fn state_dir(&self) -> PathBuf {
        self.dir.path().join("primary")
    }

    /// The Primary as `once` would build it, with a client certificate from the fleet CA and
    /// its trust anchors installed.
    pub fn primary(&self) -> Primary {
        let issued =
            director_repo::tls::issue_client_certificate(&self.director_config, VIN).unwrap();
        let mut ca = self.director.ca_pem.clone();
        ca.extend_from_slice(&self.image.ca_pem);
        let client = HttpClient::new(&HttpConfig {
            ca_pem: Some(ca),
            client_identity: Some((
                issued.certificate.into_bytes(),
                issued.private_key.into_bytes(),
            )),
            https_only: true,
            ..HttpConfig::default()
        })
        .unwrap();
        let state = self.state_dir();
        for (repo, root) in [("director", &self.director_root), ("image", &self.image_root)] {
            let path = state.join(repo).join("root.json");
            if !path.exists() {
                std::fs::create_dir_all(path.parent().unwrap()).unwrap();
                std::fs::write(path, root).unwrap();
            }
        }
        let ecus = [PRIMARY, FULL, PARTIAL]
            .iter()
            .map(|(s, h)| (EcuSerial::new(*s).unwrap(), HardwareId::new(*h).unwrap()))
            .collect();
        Primary {
            identity: PrimaryIdentity {
                vehicle: Vehicle { vin: Vin::new(VIN).unwrap(), ecus },
                serial: EcuSerial::new(PRIMARY.0).unwrap(),
                hardware_id: HardwareId::new(PRIMARY.1).unwrap(),
                key: key(21),
            },
            director: DirectorApi::new(client.clone(), &self.director.base, Vin::new(VIN).unwrap()),
            client,
            image_url: self.image.base.clone(),
            state_dir: state,
            rules: Rules::uptane(),
            progress: Progress::hidden(),
        }
    }

    /// A configuration file for the `primary-client` binary (no Secondaries: they would need a
    /// CAN hub), with the client certificate, the roots and the key written beside it.
    pub fn write_config(&self) -> PathBuf {
        self.write_config_with(true)
    }

    /// As [`World::write_config`]; without a client certificate when `!with_certificate`
    /// (the Primary provisions and keeps it under its state directory), with the fleet
    /// credential instead.
    pub fn write_config_with(&self, with_certificate: bool) -> PathBuf {
        let dir = self.dir.path().join("etc");
        std::fs::create_dir_all(&dir).unwrap();
        let identity = if with_certificate {
            let issued =
                director_repo::tls::issue_client_certificate(&self.director_config, VIN).unwrap();
            std::fs::write(dir.join("client.pem"), issued.certificate).unwrap();
            std::fs::write(dir.join("client.key"), issued.private_key).unwrap();
            "client_cert = \"client.pem\"\nclient_key = \"client.key\""
        } else {
            std::fs::write(dir.join("credential.txt"), format!("{CREDENTIAL}\n")).unwrap();
            "provisioning_credential = \"credential.txt\""
        };
        std::fs::write(dir.join("director-ca.pem"), &self.director.ca_pem).unwrap();
        std::fs::write(dir.join("image-ca.pem"), &self.image.ca_pem).unwrap();
        std::fs::write(dir.join("director-root.json"), &self.director_root).unwrap();
        std::fs::write(dir.join("image-root.json"), &self.image_root).unwrap();
        std::fs::write(dir.join("primary.pem"), key(21).to_pem()).unwrap();
        let config = format!(
            r#"
vin = "{VIN}"
primary_serial = "{}"
hardware_id = "{}"
primary_key = "primary.pem"
director_url = "{}"
image_url = "{}"
ca = ["director-ca.pem", "image-ca.pem"]
{}
state_dir = "{}"
director_root = "director-root.json"
image_root = "image-root.json"
poll_interval_secs = 3600
"#,
            PRIMARY.0,
            PRIMARY.1,
            self.director.base,
            self.image.base,
            identity,
            self.state_dir().display()
        );
        let path = dir.join("primary.toml");
        std::fs::write(&path, config).unwrap();
        path
    }

    /// The two Secondaries: one full, one partial.
    pub fn secondaries(&self) -> Vec<TestSecondary> {
        vec![
            TestSecondary::new(FULL, Verification::Full, key(22)),
            TestSecondary::new(PARTIAL, Verification::Partial, key(23)),
        ]
    }
}

fn start_director(config: director_repo::Config) -> Service {
    let ca_path = config.data_dir.join("tls/ca.pem");
    let running = RunningServer::spawn(
        move || actix_web::web::Data::new(director_repo::AppState::open(config).unwrap()),
        |state| director_repo::server::start(state).unwrap(),
    );
    let ca_pem = std::fs::read(ca_path).unwrap();
    Service { base: format!("https://localhost:{}", running.addr.port()), ca_pem, running }
}

fn start_image(config: image_repo::Config) -> Service {
    let ca_path = config.data_dir.join("tls/ca.pem");
    let running = RunningServer::spawn(
        move || actix_web::web::Data::new(image_repo::AppState::open(config).unwrap()),
        |state| image_repo::server::start(state).unwrap(),
    );
    let ca_pem = std::fs::read(ca_path).unwrap();
    Service { base: format!("https://localhost:{}", running.addr.port()), ca_pem, running }
}
