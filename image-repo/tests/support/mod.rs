//! Test support: a real server over HTTPS on a loopback port with a temporary data directory
//! and SQLite (or a fresh PostgreSQL database), a trusting ureq client, and metadata made with
//! the uptane core.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};

use chrono::{Duration, Utc};
use image_repo::{AppState, Config};
use serde::Serialize;
use serde_json::{Map, Value};
use uptane::crypto::{PrivateKey, Signer};
use uptane::metadata::{
    DelegatedRole, Delegations, Root, SignedMetadata, TargetCustom, TargetFile, Targets,
};
use uptane::names::{HardwareId, RoleName};
use uptane::repository::{Fetch, MemStore, Rules, Store, Updater};

pub use service_kit::test_support::{Backend, TempDatabase};
use service_kit::test_support::{RunningServer, fetch_metadata, trusting_agent};

pub const TOKEN: &str = "test-upload-token";

/// Everything a test needs: keys, a data directory, a database, and maybe a running server.
pub struct World {
    pub dir: tempfile::TempDir,
    pub database: Option<TempDatabase>,
    pub keys: TestKeys,
    pub server: Option<TestServer>,
}

pub struct TestKeys {
    pub root: PrivateKey,
    pub root2: PrivateKey,
    pub targets: PrivateKey,
    pub supplier: PrivateKey,
    pub snapshot: PrivateKey,
    pub timestamp: PrivateKey,
    pub other: PrivateKey,
}

impl TestKeys {
    fn new() -> TestKeys {
        let key = |n: u8| PrivateKey::ed25519_from_seed(&[n; 32]).unwrap();
        TestKeys {
            root: key(1),
            root2: key(2),
            targets: key(3),
            supplier: key(4),
            snapshot: key(5),
            timestamp: key(6),
            other: key(7),
        }
    }
}

impl World {
    pub fn new(backend: &Backend) -> World {
        let dir = tempfile::tempdir().unwrap();
        let database = match backend {
            Backend::Sqlite => None,
            Backend::Postgres(admin) => Some(TempDatabase::create(admin)),
        };
        let keys = TestKeys::new();
        let keys_dir = dir.path().join("given-keys");
        std::fs::create_dir_all(&keys_dir).unwrap();
        std::fs::write(keys_dir.join("snapshot.pem"), keys.snapshot.to_pem()).unwrap();
        std::fs::write(keys_dir.join("timestamp.pem"), keys.timestamp.to_pem()).unwrap();
        World { dir, database, keys, server: None }
    }

    pub fn data_dir(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    /// The service configuration for this world (HTTPS, port 0, the given online keys).
    pub fn config(&self) -> Config {
        let mut config = Config::new(self.data_dir());
        config.listen = "127.0.0.1:0".parse().unwrap();
        config.database_url = self.database.as_ref().map(|d| d.url.clone());
        config.upload_token = Some(TOKEN.into());
        config.snapshot_key = Some(self.dir.path().join("given-keys/snapshot.pem"));
        config.timestamp_key = Some(self.dir.path().join("given-keys/timestamp.pem"));
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

    /// A root of `version` with the given root keys (threshold 1 unless said otherwise).
    pub fn root(&self, version: u64, root_keys: &[&PrivateKey]) -> Root {
        let mut root = Root::new(Utc::now() + Duration::days(365));
        root.version = version;
        for key in root_keys {
            root.add_key("root", key.public_key()).unwrap();
        }
        root.add_key("targets", self.keys.targets.public_key()).unwrap();
        root.add_key("snapshot", self.keys.snapshot.public_key()).unwrap();
        root.add_key("timestamp", self.keys.timestamp.public_key()).unwrap();
        root
    }

    /// Root v1 signed by the first root key.
    pub fn root_v1(&self) -> Vec<u8> {
        sign(self.root(1, &[&self.keys.root]), &[&self.keys.root])
    }
}

impl Drop for World {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Signs a body and returns the file's bytes.
pub fn sign<M: Serialize>(body: M, keys: &[&PrivateKey]) -> Vec<u8> {
    let mut signed = SignedMetadata::new(body);
    let signers: Vec<&dyn Signer> = keys.iter().map(|k| *k as &dyn Signer).collect();
    signed.sign_to_bytes(&signers).unwrap()
}

/// A target entry for `bytes` (sha256 + sha512) for hardware `hw`.
pub fn entry(bytes: &[u8], hw: &str) -> TargetFile {
    let mut file = TargetFile::describing(bytes);
    let custom = TargetCustom {
        hardware_ids: Some(vec![HardwareId::new(hw).unwrap()]),
        release_counter: Some(1),
        ..TargetCustom::default()
    };
    file.set_uptane(&custom).unwrap();
    file
}

/// Targets of `version` listing `(path, bytes, hw)`.
pub fn targets(version: u64, images: &[(&str, &[u8], &str)]) -> Targets {
    let mut targets = Targets::new(version, Utc::now() + Duration::days(30));
    for (path, bytes, hw) in images {
        targets.targets.insert((*path).into(), entry(bytes, hw));
    }
    targets
}

/// A delegation of `paths` (and hardware ids) to role `name` with `key`.
pub fn delegate(targets: &mut Targets, name: &str, key: &PrivateKey, paths: &[&str], hw: &[&str]) {
    let delegations = targets.delegations.get_or_insert_with(Delegations::default);
    delegations.keys.insert(key.key_id().into(), key.public_key().clone());
    delegations.roles.push(DelegatedRole {
        name: RoleName::new(name).unwrap(),
        keyids: vec![key.key_id().into()],
        threshold: 1,
        terminating: false,
        paths: Some(paths.iter().map(|p| p.to_string()).collect()),
        path_hash_prefixes: None,
        hardware_ids: Some(hw.iter().map(|h| h.to_string()).collect()),
        extra: Map::new(),
    });
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    uptane::crypto::sha256_hex(bytes)
}

/// A running server: its HTTPS base URL, the generated CA, and a client trusting it.
pub struct TestServer {
    pub base: String,
    pub agent: ureq::Agent,
    pub ca_pem: Vec<u8>,
    running: RunningServer,
}

/// A response: status, headers of interest, body.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: http::HeaderMap,
    pub body: Vec<u8>,
}

impl Reply {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or(Value::Null)
    }

    /// The stable error code of a JSON error.
    pub fn code(&self) -> String {
        self.json()["error"].as_str().unwrap_or_default().to_owned()
    }

    pub fn header(&self, name: &str) -> Option<String> {
        self.headers.get(name).and_then(|v| v.to_str().ok()).map(str::to_owned)
    }
}

use ureq::http;

impl TestServer {
    pub fn start(config: Config) -> TestServer {
        let ca_path = config.data_dir.join("tls/ca.pem");
        let running = RunningServer::spawn(
            move || actix_web::web::Data::new(AppState::open(config).unwrap()),
            |state| image_repo::server::start(state).unwrap(),
        );
        let ca_pem = std::fs::read(&ca_path).unwrap();
        let agent = trusting_agent(&ca_pem);
        TestServer {
            base: format!("https://localhost:{}", running.addr.port()),
            agent,
            ca_pem,
            running,
        }
    }

    pub fn stop(&mut self) {
        self.running.stop();
    }

    fn reply(response: Result<http::Response<ureq::Body>, ureq::Error>) -> Reply {
        let response = response.unwrap();
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let body = response.into_body().with_config().limit(64 << 20).read_to_vec().unwrap();
        Reply { status, headers, body }
    }

    pub fn get(&self, path: &str) -> Reply {
        Self::reply(self.agent.get(format!("{}{path}", self.base)).call())
    }

    pub fn get_with(&self, path: &str, header: (&str, &str)) -> Reply {
        Self::reply(
            self.agent.get(format!("{}{path}", self.base)).header(header.0, header.1).call(),
        )
    }

    pub fn head(&self, path: &str) -> Reply {
        Self::reply(self.agent.head(format!("{}{path}", self.base)).call())
    }

    /// GET with the upload token (the upload API's reads).
    pub fn get_authorized(&self, path: &str) -> Reply {
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

    pub fn put(&self, path: &str, body: &[u8]) -> Reply {
        self.put_as(path, Some(TOKEN), body)
    }

    pub fn put_blob(&self, bytes: &[u8]) -> Reply {
        self.put(&format!("/api/v1/blobs/{}", sha256_hex(bytes)), bytes)
    }

    pub fn put_metadata(&self, role: &str, bytes: &[u8]) -> Reply {
        self.put(&format!("/api/v1/metadata/{role}"), bytes)
    }

    /// The served timestamp.json (to check that a rejection changed nothing).
    pub fn timestamp(&self) -> Vec<u8> {
        self.get("/metadata/timestamp.json").body
    }

    /// A verifying client over HTTPS, trusting `root`.
    pub fn updater(&self, root: &[u8]) -> Updater<HttpFetch, MemStore> {
        let mut store = MemStore::default();
        store.save("root.json", root).unwrap();
        let fetch = HttpFetch { agent: self.agent.clone(), base: self.base.clone() };
        Updater::new(fetch, store, Utc::now(), Rules::uptane()).unwrap()
    }
}

/// The core's `Fetch` over HTTPS.
pub struct HttpFetch {
    agent: ureq::Agent,
    base: String,
}

impl Fetch for HttpFetch {
    fn fetch(&mut self, name: &str, max_bytes: u64) -> uptane::Result<Vec<u8>> {
        let url = format!("{}/metadata/{name}", self.base);
        fetch_metadata(&self.agent, url, name, max_bytes)
    }
}

/// Bootstraps root v1 and publishes one image in targets v1; returns (root bytes, image).
pub fn bootstrap(world: &World) -> (Vec<u8>, Vec<u8>) {
    let server = world.server();
    let root = world.root_v1();
    let reply = server.put_metadata("root", &root);
    assert_eq!(reply.status, 200, "{:?}", reply.json());
    let image = b"firmware image v1 for the brake controller".to_vec();
    assert_eq!(server.put_blob(&image).status, 201);
    let body = targets(1, &[("ecu/brake-1.0.bin", &image, "bcm")]);
    let reply = server.put_metadata("targets", &sign(body, &[&world.keys.targets]));
    assert_eq!(reply.status, 200, "{:?}", reply.json());
    (root, image)
}

pub fn exists(path: &Path) -> bool {
    path.exists()
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
