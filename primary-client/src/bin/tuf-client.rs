//! `tuf-client`: the TUF conformance suite's client command line (CLIENT-CLI.md).
//!
//! ```text
//! tuf-client --metadata-dir MD init ROOT
//! tuf-client --metadata-url U --metadata-dir MD refresh
//! tuf-client --metadata-url U --metadata-dir MD --target-name P [...] --target-dir TD \
//!            --target-base-url TU download
//! ```
//!
//! Exit status 0 is success and 1 is any failure, argument errors and panics included: the
//! suite asserts exactly 1.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{ArgAction, Parser, Subcommand};
use primary_client::tuf_client;

#[derive(Debug, Parser)]
#[command(version, about = "A TUF 1.0 client for the TUF conformance suite")]
struct Cli {
    /// Directory of trusted metadata (exists; holds root.json after init).
    #[arg(long, global = true)]
    metadata_dir: Option<PathBuf>,
    /// Base URL of the repository's metadata.
    #[arg(long, global = true)]
    metadata_url: Option<String>,
    /// Target path to download; repeatable, downloaded in order.
    #[arg(long = "target-name", global = true, action = ArgAction::Append, allow_hyphen_values = true)]
    target_names: Vec<String>,
    /// Directory downloaded targets are stored in.
    #[arg(long, global = true)]
    target_dir: Option<PathBuf>,
    /// Base URL of the repository's targets.
    #[arg(long, global = true)]
    target_base_url: Option<String>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Stores ROOT as the trusted root (no network).
    Init { trusted_root: PathBuf },
    /// Updates the top-level metadata.
    Refresh,
    /// Refreshes, then downloads every --target-name.
    Download,
}

fn required<T>(value: Option<T>, flag: &str) -> Result<T, String> {
    value.ok_or_else(|| format!("{flag} is required"))
}

fn run(cli: Cli) -> Result<(), String> {
    // One clock reading for the whole run: every expiry check sees the same time.
    let now = chrono::Utc::now();
    let metadata_dir = required(cli.metadata_dir, "--metadata-dir")?;
    match cli.command {
        Command::Init { trusted_root } => {
            tuf_client::init(&metadata_dir, &trusted_root).map_err(|e| e.to_string())
        }
        Command::Refresh => {
            let url = required(cli.metadata_url, "--metadata-url")?;
            let refresh =
                tuf_client::refresh(&metadata_dir, &url, now).map_err(|e| e.to_string())?;
            tracing::info!(?refresh, "refreshed");
            Ok(())
        }
        Command::Download => {
            let url = required(cli.metadata_url, "--metadata-url")?;
            let target_dir = required(cli.target_dir, "--target-dir")?;
            let target_base_url = required(cli.target_base_url, "--target-base-url")?;
            if cli.target_names.is_empty() {
                return Err("--target-name is required".into());
            }
            tuf_client::download(
                &metadata_dir,
                &url,
                &cli.target_names,
                &target_dir,
                &target_base_url,
                now,
            )
            .map(drop)
            .map_err(|e| e.to_string())
        }
    }
}

fn main() -> ExitCode {
    // A panic is a failure like any other: report it and exit 1, never 101.
    let default_hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        default_hook(info);
        std::process::exit(1);
    }));
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .init();
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() { ExitCode::FAILURE } else { ExitCode::SUCCESS };
        }
    };
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("tuf-client: error: {e}");
            ExitCode::FAILURE
        }
    }
}
