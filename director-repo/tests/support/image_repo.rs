//! A real Image repository for the Director to read: made by keytool in an offline ceremony
//! (root, targets, and a supplier delegation scoped to one hardware id), published as a static
//! repository, and served over HTTPS from its `metadata/` directory by a minimal server that
//! reads the files on every request, so a test can publish more or play the attacker.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};

use actix_web::{App, HttpResponse, HttpServer, web};
use service_kit::test_support::RunningServer;

/// The ECU hardware ids and images the repository lists at first.
pub const BCM: &str = "acme-bcm";
pub const TCU: &str = "acme-tcu";
pub const TCU_IMAGE: &[u8] = b"telematics unit firmware 1.1";
pub const TCU_IMAGE_PATH: &str = "oem/tcu-1.1.bin";
/// Delegated to role `supplier`, for hardware BCM only.
pub const SUPPLIER_PATHS: &str = "supplierA/*";

pub struct ImageRepository {
    /// The keytool workspace (with `metadata/` published) and the keys beside it.
    pub dir: PathBuf,
    /// What the Director is provisioned with: the URL, the trusted root file, the server CA.
    pub url: String,
    pub root: PathBuf,
    pub ca: PathBuf,
    running: Option<RunningServer>,
}

fn keytool(args: &[&str]) {
    let cli = <keytool::cli::Cli as clap::Parser>::try_parse_from(
        std::iter::once("keytool").chain(args.iter().copied()),
    )
    .unwrap();
    let outcome = keytool::cli::run(cli).unwrap();
    assert_eq!(outcome.exit_code(), 0, "keytool {args:?}");
}

impl ImageRepository {
    /// Holds the ceremony in `dir` (TCU_IMAGE listed by targets for TCU, which also signs the
    /// delegation; `image` at `image_path` listed by the supplier for BCM) and starts serving.
    pub fn start(dir: &Path, image: &[u8], image_path: &str) -> ImageRepository {
        let repo = dir.join("workspace");
        let keys = dir.join("keys");
        std::fs::create_dir_all(&keys).unwrap();
        let k = |name: &str| keys.join(name).display().to_string();
        for name in ["root", "targets", "snapshot", "timestamp", "supplier"] {
            keytool(&["gen-key", "--out", &k(&format!("{name}.pem"))]);
        }
        let r = repo.display().to_string();
        #[rustfmt::skip]
        keytool(&["init", "--repo", &r, "--kind", "image", "--root-key", &k("root.pem"),
            "--targets-key", &k("targets.pem"), "--snapshot-key", &k("snapshot.pub.json"),
            "--timestamp-key", &k("timestamp.pub.json")]);
        #[rustfmt::skip]
        keytool(&["delegate", "--repo", &r, "--to", "supplier", "--key", &k("supplier.pub.json"),
            "--paths", SUPPLIER_PATHS, "--hardware-id", BCM, "--terminating"]);
        keytool(&["sign", "--repo", &r, "--role", "supplier", "--key", &k("supplier.pem")]);
        let repository = ImageRepository::serve(dir, repo);
        repository.release(TCU_IMAGE, TCU_IMAGE_PATH, TCU, 2, "targets");
        repository.release(image, image_path, BCM, 3, "supplier");
        repository
    }

    fn serve(dir: &Path, repo: PathBuf) -> ImageRepository {
        let files =
            service_kit::tls::ensure_server_files(None, None, &dir.join("tls"), "image-repo")
                .unwrap();
        let metadata = web::Data::new(repo.join("metadata"));
        let tls = service_kit::tls::server_config(&files.cert, &files.key, |_| Ok(None)).unwrap();
        let running = RunningServer::spawn(
            move || metadata,
            move |metadata| {
                let server = HttpServer::new(move || {
                    App::new()
                        .app_data(metadata.clone())
                        .route("/metadata/{name}", web::get().to(serve_file))
                })
                .workers(1)
                .bind_rustls_0_23("127.0.0.1:0", tls)
                .unwrap();
                let addrs = server.addrs();
                (server.run(), addrs)
            },
        );
        ImageRepository {
            url: format!("https://localhost:{}", running.addr.port()),
            root: repo.join("metadata/1.root.json"),
            ca: files.ca.unwrap(),
            dir: repo,
            running: Some(running),
        }
    }

    fn key(&self, name: &str) -> String {
        self.dir.parent().unwrap().join("keys").join(name).display().to_string()
    }

    /// Lists `bytes` at `path` for `hardware` in `role` (`targets` or `supplier`), signs and
    /// publishes a new snapshot and timestamp, as a release engineer would.
    pub fn release(&self, bytes: &[u8], path: &str, hardware: &str, counter: u64, role: &str) {
        let file = self.dir.parent().unwrap().join(format!("image-{counter}-{hardware}.bin"));
        std::fs::write(&file, bytes).unwrap();
        let r = self.dir.display().to_string();
        let counter = counter.to_string();
        let key = self.key(&format!("{role}.pem"));
        #[rustfmt::skip]
        keytool(&["add-target", "--repo", &r, &file.display().to_string(), "--path", path,
            "--hardware-id", hardware, "--release-counter", &counter, "--role", role]);
        keytool(&["sign", "--repo", &r, "--role", role, "--key", &key]);
        #[rustfmt::skip]
        keytool(&["publish", "--repo", &r, "--snapshot-key", &self.key("snapshot.pem"),
            "--timestamp-key", &self.key("timestamp.pem")]);
    }

    /// Stops serving (the repository becomes unreachable).
    pub fn stop(&mut self) {
        if let Some(mut running) = self.running.take() {
            running.stop();
        }
    }

    /// The published file `name` (e.g. `timestamp.json`).
    pub fn metadata(&self, name: &str) -> Vec<u8> {
        std::fs::read(self.dir.join("metadata").join(name)).unwrap()
    }

    /// Replaces the published `name` with `bytes`: what an attacker holding the server does.
    pub fn serve_instead(&self, name: &str, bytes: &[u8]) {
        std::fs::write(self.dir.join("metadata").join(name), bytes).unwrap();
    }
}

impl Drop for ImageRepository {
    fn drop(&mut self) {
        self.stop();
    }
}

/// `GET /metadata/{name}`: a published file, or 404.
async fn serve_file(dir: web::Data<PathBuf>, name: web::Path<String>) -> HttpResponse {
    let name = name.into_inner();
    if name.contains('/') || name.starts_with('.') {
        return HttpResponse::NotFound().finish();
    }
    match std::fs::read(dir.join(&name)) {
        Ok(bytes) => HttpResponse::Ok().content_type("application/json").body(bytes),
        Err(_) => HttpResponse::NotFound().finish(),
    }
}
