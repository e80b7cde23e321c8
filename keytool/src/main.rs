//! keytool binary: parses arguments (clap exits 2 on bad usage), sets up logging on stderr,
//! and maps the result to the documented exit codes.

use std::process::ExitCode;

use clap::Parser;
use keytool::cli::{Cli, run};
use tracing_subscriber::EnvFilter;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let level = match cli.verbose {
        0 => "warn",
        1 => "info",
        _ => "debug",
    };
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(level));
    tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).init();
    let json = cli.json;
    match run(cli).map_err(anyhow::Error::from) {
        Ok(outcome) => ExitCode::from(outcome.exit_code()),
        Err(error) => {
            if json {
                println!("{}", serde_json::json!({ "error": error.to_string() }));
            }
            eprintln!("error: {error}");
            let usage = matches!(error.downcast_ref(), Some(keytool::Error::Usage(_)));
            ExitCode::from(if usage { 2 } else { 1 })
        }
    }
}
