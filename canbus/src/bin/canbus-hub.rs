//! `canbus-hub`: the mock CAN bus as a daemon that processes join over a Unix socket.
//!
//! ```text
//! canbus-hub --socket PATH [--bitrate 500000] [--data-bitrate 2000000] [--stuffing exact|worst]
//! ```
//!
//! Runs until killed. Clients connect with `canbus::HubClient` (or anything that writes
//! SocketCAN `can_frame` / `canfd_frame` records, see `canbus::wire`).

use std::process::ExitCode;

use canbus::{BusTiming, HubConfig, HubServer, Stuffing};

const USAGE: &str = "usage: canbus-hub --socket PATH [--bitrate BPS] [--data-bitrate BPS] \
                     [--stuffing exact|worst]";

struct Args {
    socket: String,
    bitrate: u32,
    data_bitrate: u32,
    stuffing: Stuffing,
}

fn parse(mut args: impl Iterator<Item = String>) -> Result<Args, String> {
    let mut parsed = Args {
        socket: String::new(),
        bitrate: 500_000,
        data_bitrate: 2_000_000,
        stuffing: Stuffing::Exact,
    };
    while let Some(flag) = args.next() {
        let value = args.next().ok_or_else(|| format!("{flag} needs a value"))?;
        let number = || value.parse::<u32>().map_err(|_| format!("{flag}: not a number: {value}"));
        match flag.as_str() {
            "--socket" => parsed.socket = value.clone(),
            "--bitrate" => parsed.bitrate = number()?,
            "--data-bitrate" => parsed.data_bitrate = number()?,
            "--stuffing" => {
                parsed.stuffing = match value.as_str() {
                    "exact" => Stuffing::Exact,
                    "worst" => Stuffing::WorstCase,
                    _ => return Err(format!("--stuffing: exact or worst, not {value}")),
                }
            }
            _ => return Err(format!("unknown option {flag}")),
        }
    }
    if parsed.socket.is_empty() {
        return Err("--socket is required".into());
    }
    Ok(parsed)
}

fn main() -> ExitCode {
    let args = match parse(std::env::args().skip(1)) {
        Ok(args) => args,
        Err(message) => {
            eprintln!("canbus-hub: {message}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    let result = BusTiming::fd(args.bitrate, args.data_bitrate)
        .map(|timing| HubConfig::with_timing(timing.with_stuffing(args.stuffing)))
        .and_then(|config| HubServer::bind(&args.socket, config))
        .and_then(|server| {
            eprintln!(
                "canbus-hub: listening on {} ({} / {} bit/s)",
                args.socket, args.bitrate, args.data_bitrate
            );
            server.run()
        });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("canbus-hub: {error}");
            ExitCode::FAILURE
        }
    }
}
