//! Both repository services brought up on embedded defaults under one directory: SQLite
//! databases, generated online keys, development TLS certificates and tokens, the offline
//! roots made with keytool. Used by `demo` (ports the OS picks) and `serve` (fixed ports);
//! a second start on the same directory reuses everything.
//!
//! Layout: `image-repo/` and `director-repo/` (each service's data directory: database, online
//! keys, `tls/ca.pem`, the generated token), `offline-keys/` (the keys an OEM and its suppliers keep offline),
//! `image-release/` (the keytool workspace release engineers push from), `director-root/`
//! (the Director root's keytool workspace), `fleet-credential` (what Primaries provision with).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use actix_web::web::Data;
use anyhow::{Context, Result};

use crate::ceremony::{Keytool, text};
use crate::services::{Admin, Service};

/// The offline keys: both roots and the Image repository's targets key (suppliers' keys are
/// made when they are delegated to).
pub const OFFLINE_KEYS: [&str; 3] = ["image-root", "image-targets", "director-root"];

/// Where the services listen.
#[derive(Debug, Clone, Copy)]
pub struct Ports {
    pub image: SocketAddr,
    pub director: SocketAddr,
}

/// The running services and what an operator needs to use them.
#[derive(Debug)]
pub struct System {
    pub dir: PathBuf,
    pub image: Service,
    pub director: Service,
    /// The Director's state, shared with its server (the demo's compromised-Director attack
    /// writes to its database directly).
    pub director_state: Data<director_repo::AppState>,
    pub upload_token: String,
    pub operator_token: String,
    pub fleet_credential: String,
    pub keys: PathBuf,
    /// The keytool workspace of the Image repository.
    pub release: PathBuf,
    /// The Image and Director roots, as provisioned into vehicles.
    pub image_root: PathBuf,
    pub director_root: PathBuf,
}

impl System {
    /// Starts the Image repository, holds its root ceremony (first start), starts the
    /// Director reading it, and installs the Director root (first start).
    pub fn start(dir: &Path, ports: Ports, keytool: &Keytool) -> Result<System> {
        let keys = dir.join("offline-keys");
        keytool.gen_keys(&keys, &OFFLINE_KEYS)?;

        let mut image_config = image_repo::Config::new(dir.join("image-repo"));
        image_config.listen = ports.image;
        image_config.workers = 2;
        let image_state = Data::new(image_repo::AppState::open(image_config.clone())?);
        let upload_token = read_token(&image_config.dir("upload-token"))?;
        let image = Service::spawn(
            "image-repo",
            image_state,
            image_config.dir("tls/ca.pem"),
            image_repo::server::start,
        )?;

        let release = dir.join("image-release");
        let image_root = release.join("metadata/1.root.json");
        if !image_root.exists() {
            keytool.init_image(&release, &keys, &image_config.dir("keys"))?;
            push(keytool, &release, &image, &upload_token)?;
        }

        let fleet_credential = fleet_credential(&dir.join("fleet-credential"))?;
        let mut config = director_repo::Config::new(dir.join("director-repo"));
        config.listen = ports.director;
        config.workers = 2;
        config.provisioning_token = Some(fleet_credential.clone());
        config.image_repo_url = Some(image.url.clone());
        config.image_repo_root = Some(image_root.clone());
        config.image_repo_ca = Some(image.ca.clone());
        let director_state = Data::new(director_repo::AppState::open(config.clone())?);
        let operator_token = read_token(&config.dir("operator-token"))?;
        let director_root =
            keytool.director_root(&dir.join("director-root"), &keys, &config.dir("keys"))?;
        let needs_root = !director_state.db.has_root()?;
        let director = Service::spawn(
            "director-repo",
            director_state.clone(),
            config.dir("tls/ca.pem"),
            director_repo::server::start,
        )?;
        if needs_root {
            director.admin(&operator_token)?.put("/api/v1/root", std::fs::read(&director_root)?)?;
        }
        Ok(System {
            dir: dir.to_path_buf(),
            image,
            director,
            director_state,
            upload_token,
            operator_token,
            fleet_credential,
            keys,
            release,
            image_root,
            director_root,
        })
    }

    /// The operator's client for the Director's admin API.
    pub fn operator(&self) -> Result<Admin> {
        self.director.admin(&self.operator_token)
    }

    /// Stops the Director, then the Image repository.
    pub fn stop(self) -> Result<()> {
        let System { image, director, director_state, .. } = self;
        let stopped = director.stop();
        drop(director_state);
        image.stop()?;
        stopped
    }
}

/// `keytool publish --server`: the workspace's staged roles to the running Image repository.
pub fn push(keytool: &Keytool, workspace: &Path, image: &Service, token: &str) -> Result<()> {
    let repo = text(workspace);
    let ca = text(&image.ca);
    keytool
        .run(&["publish", "--repo", &repo, "--server", &image.url, "--token", token, "--ca", &ca])
}

fn read_token(path: &Path) -> Result<String> {
    let token = std::fs::read_to_string(path).with_context(|| path.display().to_string())?;
    Ok(token.trim().to_owned())
}

/// The fleet provisioning credential, generated (0600) on first start.
fn fleet_credential(path: &Path) -> Result<String> {
    if path.exists() {
        return read_token(path);
    }
    let mut raw = [0u8; 16];
    ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut raw)
        .map_err(|_| anyhow::anyhow!("no randomness"))?;
    let token = hex::encode(raw);
    director_repo::keys::write_private(path, token.as_bytes())?;
    Ok(token)
}
