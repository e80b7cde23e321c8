//! `run`, `once` and `provision`: configuration from a TOML file with flags over it, status as
//! text or JSON lines on stdout, logs on stderr.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use primary_client::config::Config;
use primary_client::cycle::{CycleReport, Outcome};
use primary_client::progress::Progress;
use primary_client::provision::{EcuRegistration, ProvisionRequest, provision as provision_with};
use primary_client::secondary::Secondary;
use primary_client::setup;
use uptane::crypto::Signer;

#[derive(Debug, clap::Args)]
pub struct RunArgs {
    /// The TOML configuration (see the crate's `config` module); flags override it.
    #[arg(long, short, value_name = "FILE")]
    config: Option<PathBuf>,
    #[arg(long)]
    vin: Option<String>,
    #[arg(long, value_name = "SERIAL")]
    primary_serial: Option<String>,
    #[arg(long, value_name = "HWID")]
    hardware_id: Option<String>,
    /// The Primary's ECU key (PKCS#8 PEM).
    #[arg(long, value_name = "FILE")]
    primary_key: Option<PathBuf>,
    #[arg(long, value_name = "URL")]
    director_url: Option<String>,
    /// Has `metadata/` and `targets/` under it.
    #[arg(long, value_name = "URL")]
    image_url: Option<String>,
    /// A CA to trust for HTTPS (repeat for several).
    #[arg(long, value_name = "FILE")]
    ca: Vec<PathBuf>,
    #[arg(long, value_name = "FILE")]
    client_cert: Option<PathBuf>,
    #[arg(long, value_name = "FILE")]
    client_key: Option<PathBuf>,
    #[arg(long, value_name = "DIR")]
    state_dir: Option<PathBuf>,
    /// The provisioned Director root (copied into the state directory on first start).
    #[arg(long, value_name = "FILE")]
    director_root: Option<PathBuf>,
    #[arg(long, value_name = "FILE")]
    image_root: Option<PathBuf>,
    #[arg(long, value_name = "SECS")]
    poll_interval_secs: Option<u64>,
    /// The file holding the fleet provisioning credential.
    #[arg(long, value_name = "FILE")]
    provisioning_credential: Option<PathBuf>,
    /// The `canbus-hub` socket the Secondaries are on.
    #[arg(long, value_name = "SOCKET")]
    can_hub: Option<PathBuf>,
    /// One JSON line per cycle on stdout, no progress bars.
    #[arg(long)]
    json: bool,
}

impl RunArgs {
    fn config(&self) -> anyhow::Result<Config> {
        let mut flags = toml::Table::new();
        let mut set = |key: &str, value: Option<toml::Value>| {
            if let Some(value) = value {
                flags.insert(key.into(), value);
            }
        };
        // Flag paths are relative to the working directory, not to the configuration file.
        let absolute = |p: &PathBuf| {
            toml::Value::from(
                std::path::absolute(p).unwrap_or_else(|_| p.clone()).display().to_string(),
            )
        };
        let path = |p: &Option<PathBuf>| p.as_ref().map(absolute);
        set("vin", self.vin.clone().map(Into::into));
        set("primary_serial", self.primary_serial.clone().map(Into::into));
        set("hardware_id", self.hardware_id.clone().map(Into::into));
        set("primary_key", path(&self.primary_key));
        set("director_url", self.director_url.clone().map(Into::into));
        set("image_url", self.image_url.clone().map(Into::into));
        set("client_cert", path(&self.client_cert));
        set("client_key", path(&self.client_key));
        set("state_dir", path(&self.state_dir));
        set("director_root", path(&self.director_root));
        set("image_root", path(&self.image_root));
        set("provisioning_credential", path(&self.provisioning_credential));
        set("can_hub", path(&self.can_hub));
        set(
            "poll_interval_secs",
            self.poll_interval_secs.and_then(|s| i64::try_from(s).ok()).map(Into::into),
        );
        if !self.ca.is_empty() {
            let cas = self.ca.iter().map(absolute);
            set("ca", Some(toml::Value::Array(cas.collect())));
        }
        Ok(Config::load(self.config.as_deref(), flags)?)
    }
}

/// `run` or `once`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Loop,
    Once,
}

fn secondaries(config: &Config) -> anyhow::Result<Vec<Box<dyn Secondary>>> {
    if config.secondaries.is_empty() {
        return Ok(Vec::new());
    }
    let hub = config
        .can_hub
        .as_ref()
        .context("Secondaries are configured but no CAN bus is (set can_hub)")?;
    Ok(primary_client::can::connect_all(hub, &config.secondaries, config.can_fd)?)
}

fn print(report: &CycleReport, json: bool) {
    if json {
        match serde_json::to_string(report) {
            Ok(line) => println!("{line}"),
            Err(e) => eprintln!("cannot encode the report: {e}"),
        }
        return;
    }
    match report.result {
        Outcome::Updated => println!("updated: {:?}", report.updated),
        Outcome::NoUpdate => println!("no update"),
        Outcome::Rejected => println!(
            "rejected at {:?}: {} [{}]",
            report.step,
            report.error.as_deref().unwrap_or_default(),
            report.attack.as_deref().unwrap_or("no attack")
        ),
    }
    for (serial, error) in &report.secondary_errors {
        println!("  Secondary {serial}: {error}");
    }
}

pub fn run(args: &RunArgs, mode: Mode) -> ExitCode {
    match run_inner(args, mode) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(1)
        }
    }
}

fn run_inner(args: &RunArgs, mode: Mode) -> anyhow::Result<ExitCode> {
    let config = args.config()?;
    let primary = setup::primary(&config, Progress::new(!args.json))?;
    let mut secondaries = secondaries(&config)?;
    let stop = Arc::new(AtomicBool::new(false));
    if mode == Mode::Loop {
        let flag = stop.clone();
        ctrlc::set_handler(move || flag.store(true, Ordering::SeqCst))
            .context("installing the ctrl-c handler")?;
    }
    loop {
        let started = Instant::now();
        let report = primary.run_cycle(&mut secondaries, &mut |_| Ok(()));
        print(&report, args.json);
        if mode == Mode::Once {
            return Ok(ExitCode::from(u8::from(report.result == Outcome::Rejected)));
        }
        // Sleep in short steps so ctrl-c ends the daemon promptly, never mid-cycle.
        while started.elapsed() < config.poll_interval() {
            if stop.load(Ordering::SeqCst) {
                tracing::info!("interrupted; stopping");
                return Ok(ExitCode::SUCCESS);
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        if stop.load(Ordering::SeqCst) {
            return Ok(ExitCode::SUCCESS);
        }
    }
}

pub fn provision(args: &RunArgs) -> ExitCode {
    match provision_inner(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(1)
        }
    }
}

fn provision_inner(args: &RunArgs) -> anyhow::Result<()> {
    let config = args.config()?;
    let credential_path =
        config.provisioning_credential.as_ref().context("no provisioning_credential configured")?;
    let credential = std::fs::read_to_string(credential_path)
        .with_context(|| format!("reading {}", credential_path.display()))?;
    let key = uptane::crypto::PrivateKey::read(&config.primary_key)?;
    let mut ecus = vec![EcuRegistration {
        serial: config.primary_serial.clone(),
        hardware_id: config.hardware_id.clone(),
        public_key: key.public_key().clone(),
    }];
    for mut secondary in secondaries(&config)? {
        let public_key = secondary
            .public_key()
            .with_context(|| format!("reading the key of Secondary {}", secondary.serial()))?;
        ecus.push(EcuRegistration {
            serial: secondary.serial().clone(),
            hardware_id: secondary.hardware_id().clone(),
            public_key,
        });
    }
    let request = ProvisionRequest {
        vin: config.vin.clone(),
        primary: config.primary_serial.clone(),
        ecus,
        csr: String::new(),
    };
    let (cert, key_path) = (config.client_cert_path(), config.client_key_path());
    if cert.exists() {
        bail!("{} exists: this vehicle is provisioned already", cert.display());
    }
    let client = setup::http_client(&config, false)?;
    let issued = provision_with(
        &client,
        &config.director_url,
        credential.trim(),
        request,
        &cert,
        &key_path,
    )?;
    setup::install_trust_anchors(&config)?;
    println!(
        "provisioned {} ({}): client certificate in {}",
        config.vin,
        issued.outcome,
        cert.display()
    );
    Ok(())
}
