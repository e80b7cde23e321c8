//! `secondary-client`: a Secondary ECU joining the `canbus-hub` daemon.
//!
//! ```text
//! secondary-client --config ecu.toml [--socket PATH] [--mode full|partial] ...
//! ```
//!
//! Starts (provisioning the storage directory on first start, then booting), connects to the
//! hub, prints `ready SERIAL` on stdout, and serves the Primary's UDS requests until the hub
//! goes away. An ECUReset reboots: the ECU is opened again from storage, as after a power cut.

use std::io::Write;
use std::process::ExitCode;

use anyhow::Context;
use canbus::HubClient;
use canbus::uds::Stop;
use clap::Parser;
use secondary_client::Ecu;
use secondary_client::bus::{BusEcu, server};
use secondary_client::config::{Config, ConfigArgs};

#[derive(Debug, Parser)]
#[command(
    name = "secondary-client",
    version,
    about = "An Uptane Secondary ECU on the mock CAN bus"
)]
struct Cli {
    #[command(flatten)]
    config: ConfigArgs,
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    match run(&Cli::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("secondary-client: {}", describe(&error));
            ExitCode::FAILURE
        }
    }
}

/// The error and its causes, each said once (an error's message often repeats its source's).
fn describe(error: &anyhow::Error) -> String {
    let mut message = error.to_string();
    for cause in error.chain().skip(1) {
        let text = cause.to_string();
        if !message.contains(&text) {
            message = format!("{message}: {text}");
        }
    }
    message
}

fn run(cli: &Cli) -> anyhow::Result<()> {
    let config = Config::load(&cli.config)?;
    let socket = config
        .bus
        .socket
        .clone()
        .context("no bus to join: give --socket or [bus] socket in the config file")?;
    let mut ecu = Ecu::open(config.clone()).context("starting the ECU")?;
    let link = HubClient::connect(&socket)
        .with_context(|| format!("joining the hub at {}", socket.display()))?;
    let mut server = server(link, &config).context("setting up the UDS server")?;
    let serial = config.identity.serial.clone();
    tracing::info!(%serial, mode = ?config.mode, image = %ecu.running()?.image.filepath, "ready");
    let mut stdout = std::io::stdout();
    writeln!(stdout, "ready {serial}").and_then(|()| stdout.flush())?;
    loop {
        let mut handler = BusEcu::new(ecu);
        let stop = server.serve(&mut handler).context("serving the bus")?;
        ecu = handler.into_ecu();
        match stop {
            Stop::Reset => {
                tracing::info!("reset: rebooting from storage");
                drop(ecu);
                ecu = Ecu::open(config.clone()).context("rebooting the ECU")?;
            }
            Stop::Closed => return Ok(()),
            Stop::Deadline => {}
        }
    }
}
