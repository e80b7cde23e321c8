//! `canbus-isotp`: send or receive one ISO-TP message through the hub daemon, like can-utils'
//! `isotpsend` / `isotprecv` on a real interface.
//!
//! ```text
//! canbus-isotp send --socket PATH --tx 7E0 --rx 7E8 [--extended] [--fd] < message
//! canbus-isotp recv --socket PATH --tx 7E8 --rx 7E0 [--extended] [--fd]
//!                   [--block-size N] [--st-min BYTE] > message
//! ```
//!
//! Identifiers are hexadecimal. `recv` prints `ready` on stderr once it has joined the bus.

use std::io::{Read, Write};
use std::process::ExitCode;

use canbus::isotp::StMin;
use canbus::{HubClient, IsoTpConfig, IsoTpSocket, id};

const USAGE: &str = "usage: canbus-isotp send|recv --socket PATH --tx HEX --rx HEX [--extended] \
                     [--fd] [--block-size N] [--st-min BYTE]";

struct Args {
    receive: bool,
    socket: String,
    config: IsoTpConfig,
}

fn parse(mut args: impl Iterator<Item = String>) -> Result<Args, String> {
    let receive = match args.next().as_deref() {
        Some("send") => false,
        Some("recv") => true,
        _ => return Err("first argument must be send or recv".into()),
    };
    let (mut socket, mut tx, mut rx) = (None, None, None);
    let (mut extended, mut fd, mut block_size, mut st_min) = (false, false, 0u8, 0u8);
    while let Some(flag) = args.next() {
        match flag.as_str() {
            "--extended" => extended = true,
            "--fd" => fd = true,
            _ => {
                let value = args.next().ok_or_else(|| format!("{flag} needs a value"))?;
                let hex =
                    || u32::from_str_radix(&value, 16).map_err(|_| format!("{flag}: {value}"));
                let byte = || value.parse::<u8>().map_err(|_| format!("{flag}: {value}"));
                match flag.as_str() {
                    "--socket" => socket = Some(value.clone()),
                    "--tx" => tx = Some(hex()?),
                    "--rx" => rx = Some(hex()?),
                    "--block-size" => block_size = byte()?,
                    "--st-min" => st_min = byte()?,
                    _ => return Err(format!("unknown option {flag}")),
                }
            }
        }
    }
    let make_id = |raw: Option<u32>, name: &str| {
        let raw = raw.ok_or_else(|| format!("--{name} is required"))?;
        let id = if extended {
            id::extended(raw)
        } else {
            u16::try_from(raw).map_err(|_| canbus::Error::InvalidId { raw }).and_then(id::standard)
        };
        id.map_err(|error| error.to_string())
    };
    let (tx, rx) = (make_id(tx, "tx")?, make_id(rx, "rx")?);
    let mut config = if fd { IsoTpConfig::fd(tx, rx) } else { IsoTpConfig::classic(tx, rx) };
    config.block_size = block_size;
    config.st_min = StMin::from_raw(st_min);
    Ok(Args { receive, socket: socket.ok_or("--socket is required")?, config })
}

fn run(args: Args) -> Result<(), String> {
    let client = HubClient::connect(&args.socket).map_err(|error| error.to_string())?;
    let mut socket = IsoTpSocket::new(client, args.config).map_err(|error| error.to_string())?;
    if args.receive {
        eprintln!("ready");
        let message = socket.recv(None).map_err(|error| error.to_string())?.unwrap_or_default();
        std::io::stdout().write_all(&message).map_err(|error| error.to_string())
    } else {
        let mut message = Vec::new();
        std::io::stdin().read_to_end(&mut message).map_err(|error| error.to_string())?;
        socket.send(&message).map(drop).map_err(|error| error.to_string())
    }
}

fn main() -> ExitCode {
    let args = match parse(std::env::args().skip(1)) {
        Ok(args) => args,
        Err(message) => {
            eprintln!("canbus-isotp: {message}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    match run(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("canbus-isotp: {message}");
            ExitCode::FAILURE
        }
    }
}
