//! `serve`: both repository services kept up for real use, on fixed loopback ports and a data
//! directory that survives restarts (see [`crate::system`] for its layout), with what an
//! operator, a release engineer and a Primary need printed on start. Ctrl-C stops both.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use anyhow::{Context, Result};

use crate::ceremony::{Keytool, text};
use crate::system::{Ports, System};

/// Where and from what to serve.
#[derive(Debug, Clone)]
pub struct Options {
    pub dir: PathBuf,
    pub image_listen: SocketAddr,
    pub director_listen: SocketAddr,
}

pub fn run(options: &Options) -> Result<()> {
    std::fs::create_dir_all(&options.dir)?;
    let dir = std::path::absolute(&options.dir)?;
    let keytool = Keytool { base: dir.clone() };
    let ports = Ports { image: options.image_listen, director: options.director_listen };
    let system = System::start(&dir, ports, &keytool)?;
    // After the servers start: their runtimes register signal handlers of their own, which
    // would take SIGINT from this one.
    let stop = Arc::new(AtomicBool::new(false));
    let flag = stop.clone();
    ctrlc::set_handler(move || flag.store(true, Ordering::SeqCst))
        .context("installing the ctrl-c handler")?;
    print!("{}", usage(&system, &dir));
    while !stop.load(Ordering::SeqCst) && system.image.is_running() && system.director.is_running()
    {
        std::thread::sleep(Duration::from_millis(200));
    }
    println!("stopping");
    system.stop()
}

/// The URLs, files and commands to use the services.
fn usage(system: &System, dir: &Path) -> String {
    let d = |p: &Path| text(p);
    let (image, director) = (&system.image.url, &system.director.url);
    let release = d(&system.release);
    format!(
        "\
Image repository  {image}   (TUF layout: {image}/metadata/, {image}/targets/)
Director          {director}   (vehicles: mutual TLS, fleet-CA client certificates)
CA certificates   {image_ca}
                  {director_ca}
Upload token      {upload}   (image-repo/upload-token)
Operator token    {operator}   (director-repo/operator-token)
Fleet credential  {fleet}
Trusted roots     {image_root}
                  {director_root}
Data directory    {dir}

Release with keytool (workspace {release}, offline keys in {keys}):
  keytool add-target --repo {release} app.bin --path oem/app-1.0.bin --hardware-id acme-bcm --release-counter 1
  keytool sign --repo {release} --role targets --key {keys}/image-targets.pem
  keytool publish --repo {release} --server {image} --token {upload} --ca {image_ca}

Assign it (operator API; see {director}/api/v1/openapi.yaml):
  curl --cacert {director_ca} -H 'Authorization: Bearer {operator}' \\
    -d '{{\"name\": \"app 1.0\", \"target_path\": \"oem/app-1.0.bin\", \"hardware_id\": \"acme-bcm\", \"vehicles\": \"all\", \"first_batch\": 1, \"max_failure_percent\": 0}}' \\
    {director}/api/v1/campaigns

A Primary (primary.toml; then `primary-client provision --config primary.toml` once, and
`primary-client run --config primary.toml`):
  vin = \"WVWZZZ1JZXW000001\"
  primary_serial = \"TCU-1\"
  hardware_id = \"acme-tcu\"
  primary_key = \"primary.pem\"          # keytool gen-key --out primary.pem
  director_url = \"{director}\"
  image_url = \"{image}\"
  ca = [\"{director_ca}\", \"{image_ca}\"]
  state_dir = \"state\"
  director_root = \"{director_root}\"
  image_root = \"{image_root}\"
  provisioning_credential = \"{fleet}\"

Ctrl-C stops both services.
",
        image_ca = d(&system.image.ca),
        director_ca = d(&system.director.ca),
        upload = system.upload_token,
        operator = system.operator_token,
        fleet = d(&dir.join("fleet-credential")),
        image_root = d(&system.image_root),
        director_root = d(&system.director_root),
        dir = d(dir),
        keys = d(&system.keys),
    )
}
