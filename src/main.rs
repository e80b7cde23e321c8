//! The umbrella binary: composes the crates of the workspace into one command for newcomers.

mod demo;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// An end-to-end Uptane over-the-air update system.
#[derive(Debug, Parser)]
#[command(name = "uptane-ota", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the system end to end on embedded defaults: an offline release ceremony, a vehicle
    /// verifying the release, and attacks on the repository being stopped.
    Demo {
        /// Keep the demo's files (keys, repository, mirror) in DIR instead of a temporary
        /// directory that is removed at the end.
        #[arg(long, value_name = "DIR")]
        dir: Option<PathBuf>,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Demo { dir } => demo::run(dir),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}
