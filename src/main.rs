//! The umbrella binary: `demo` runs the whole system end to end in one process; `serve` keeps
//! both repository services up for real use.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use uptane_ota::{demo, serve};

/// An end-to-end Uptane over-the-air update system.
#[derive(Debug, Parser)]
#[command(name = "uptane-ota", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Bring the whole system up on embedded defaults (both services on loopback HTTPS, two
    /// fixture vehicles with their Secondaries on simulated CAN buses), roll a release signed
    /// offline with keytool out through Director campaigns, stop an attack, show the fleet.
    Demo {
        /// Keep every file (keys, databases, vehicles) in DIR, which must be empty or absent,
        /// instead of a temporary directory removed at the end.
        #[arg(long, value_name = "DIR")]
        dir: Option<PathBuf>,
        /// Run the CAN buses as fast as the CPU allows instead of at their bit rate.
        #[arg(long)]
        virtual_clock: bool,
    },
    /// Keep the Image repository and the Director up (HTTPS on loopback) until ctrl-c, and
    /// print how to release with keytool and point a Primary at them.
    Serve {
        /// Data directory (databases, keys, certificates, tokens); reused on the next start.
        #[arg(long, value_name = "DIR", default_value = "uptane-ota-data")]
        dir: PathBuf,
        #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:8443")]
        image_listen: SocketAddr,
        #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:8444")]
        director_listen: SocketAddr,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Demo { dir, virtual_clock } => {
            let clock =
                if virtual_clock { canbus::ClockMode::Virtual } else { canbus::ClockMode::Paced };
            demo::run(&demo::Options { dir, clock, progress: true }).map(drop)
        }
        Command::Serve { dir, image_listen, director_listen } => {
            serve::run(&serve::Options { dir, image_listen, director_listen })
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}
