//! The `primary-client` binary: `run` (the daemon loop), `once` (one update cycle),
//! `provision` (first start with the Director), and `check`, one verification cycle without a
//! bus (DESIGN.md: one JSON line, exit 0 for updated or no update, 1 for rejected or bad
//! arguments; it never panics).

use std::path::PathBuf;
use std::process::ExitCode;

mod cycle_cli;

use clap::{Parser, Subcommand};
use primary_client::check::{CheckOptions, CheckReport, check, parse_ecu};
use uptane::director::Vehicle;
use uptane::names::{EcuSerial, HardwareId, Vin};

#[derive(Debug, Parser)]
#[command(name = "primary-client", version, about = "The Uptane Primary ECU")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// One full verification of both repositories, downloading what the Director assigns to
    /// the given ECUs. Prints {"result": "updated"|"no_update"|"rejected", "error", "attack"}.
    Check(CheckArgs),
    /// Update cycles every poll interval until interrupted (ctrl-c ends after the cycle).
    Run(cycle_cli::RunArgs),
    /// One update cycle: reports, time, manifest, verification, downloads, Secondaries,
    /// install. Exits 0 (updated or no update) or 1 (rejected).
    Once(cycle_cli::RunArgs),
    /// First start: a TLS key and certificate request, the fleet provisioning credential, the
    /// vehicle's ECUs; stores the client certificate the Director issues.
    Provision(cycle_cli::RunArgs),
}

#[derive(Debug, clap::Args)]
struct CheckArgs {
    /// Base URL of this vehicle's Director metadata (`N.root.json`, `timestamp.json`, ...).
    #[arg(long, value_name = "URL")]
    director_url: String,
    /// Base URL of the Image repository (with `metadata/` and `targets/` under it).
    #[arg(long, value_name = "URL")]
    image_url: String,
    /// Trusted state: DIR/director/root.json and DIR/image/root.json are the trust anchors.
    #[arg(long, value_name = "DIR")]
    metadata_dir: PathBuf,
    /// The vehicle identification number.
    #[arg(long)]
    vin: Vin,
    /// An ECU of the vehicle, as SERIAL=HWID (repeat for each ECU).
    #[arg(long = "ecu", value_name = "SERIAL=HWID", value_parser = parse_ecu, required = true)]
    ecus: Vec<(EcuSerial, HardwareId)>,
    /// Where verified images are written (under their target paths).
    #[arg(long, value_name = "DIR")]
    target_dir: PathBuf,
    /// PEM certificates to trust for HTTPS.
    #[arg(long, value_name = "FILE")]
    ca: Option<PathBuf>,
}

fn main() -> ExitCode {
    // A panic is a bug, but must still honour the contract: a rejected line and exit 1.
    std::panic::set_hook(Box::new(|info| {
        eprintln!("internal error: {info}");
        let line = serde_json::json!({"result": "rejected", "error": "internal error"});
        println!("{line}");
        std::process::exit(1);
    }));
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .with_ansi(false)
        .init();
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) if !e.use_stderr() => {
            let _ = e.print();
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(1);
        }
    };
    let args = match cli.command {
        Command::Check(args) => args,
        Command::Run(args) => return cycle_cli::run(&args, cycle_cli::Mode::Loop),
        Command::Once(args) => return cycle_cli::run(&args, cycle_cli::Mode::Once),
        Command::Provision(args) => return cycle_cli::provision(&args),
    };
    let report = match options(args) {
        Ok(options) => check(&options, chrono::Utc::now()),
        Err(error) => CheckReport::rejected(&error),
    };
    match serde_json::to_string(&report) {
        Ok(line) => println!("{line}"),
        Err(e) => eprintln!("cannot encode the report: {e}"),
    }
    ExitCode::from(report.exit_code())
}

fn options(args: CheckArgs) -> uptane::Result<CheckOptions> {
    let ca_pem = match &args.ca {
        Some(path) => Some(
            std::fs::read(path)
                .map_err(|source| uptane::Error::Io { what: path.display().to_string(), source })?,
        ),
        None => None,
    };
    Ok(CheckOptions {
        director_url: args.director_url,
        image_url: args.image_url,
        metadata_dir: args.metadata_dir,
        vehicle: Vehicle { vin: args.vin, ecus: args.ecus.into_iter().collect() },
        target_dir: args.target_dir,
        ca_pem,
    })
}
