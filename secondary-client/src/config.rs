//! The ECU's configuration: a TOML file, each setting overridable by a command-line flag.
//!
//! ```toml
//! ecu_serial = "BCM-SN-000123"
//! hardware_id = "acme-bcm-rev3"
//! vin = "WVWZZZ1JZXW000001"
//! key = "ecu.pem"                     # PKCS#8 PEM, this ECU's identity key
//! mode = "partial"                    # or "full"
//! provisioned = "provisioned"         # metadata installed at manufacture (see the crate docs)
//! storage = "state"                   # slots, trusted metadata, state.json
//! provisioned_time = "2030-01-01T00:00:00Z"
//!
//! [factory_image]                     # what slot A holds when the ECU leaves the factory
//! path = "bcm-1.0.bin"
//! target = "acme/bcm-1.0.bin"
//! release_counter = 1
//!
//! [bus]
//! socket = "/run/can0.sock"           # the canbus-hub daemon
//! request_id = 0x7E0                  # the Primary sends on this identifier
//! response_id = 0x7E8                 # this ECU answers on this one
//! fd = true
//!
//! [limits]
//! max_message_bytes = 65536           # any one bus message (an image block, say)
//! max_metadata_bytes = 8454144        # any one metadata file
//! transfer_deadline_secs = 600        # any one transfer (metadata file, image)
//! min_bytes_per_sec = 1024            # averaged over a transfer, after the grace period
//! grace_secs = 10
//! ```
//!
//! Relative paths are taken relative to the configuration file.

use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::Deserialize;
use uptane::metadata::parse_time;
use uptane::names::{EcuSerial, HardwareId, Vin};

use crate::error::{Error, Result};

/// How the ECU verifies metadata (Uptane 5.4.4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// Both repositories, in full (5.4.4.2).
    Full,
    /// Director Targets only (5.4.4.1).
    Partial,
}

/// Who the ECU is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    pub serial: EcuSerial,
    pub hardware_id: HardwareId,
    /// The vehicle: Director Targets for any other VIN are refused (D4).
    pub vin: Vin,
}

/// The image flashed at the factory, installed into slot A on first start.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FactoryImage {
    pub path: PathBuf,
    /// Its target path in the repositories.
    pub target: String,
    #[serde(default)]
    pub release_counter: u64,
}

/// Where the ECU joins the bus.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BusConfig {
    /// The `canbus-hub` socket.
    pub socket: Option<PathBuf>,
    /// The identifier the Primary sends requests on.
    pub request_id: u32,
    /// The identifier this ECU answers on.
    pub response_id: u32,
    /// Whether to use 29-bit identifiers.
    pub extended: bool,
    /// CAN FD frames (64 bytes) rather than classic ones (8 bytes).
    pub fd: bool,
}

impl Default for BusConfig {
    fn default() -> BusConfig {
        BusConfig {
            socket: None,
            request_id: 0x7E0,
            response_id: 0x7E8,
            extended: false,
            fd: false,
        }
    }
}

/// Defences against endless data and slow retrieval (A11, A12).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// The largest single bus message (one TransferData block included); longer ones are
    /// refused by ISO-TP before any byte is stored.
    pub max_message_bytes: usize,
    /// The largest metadata file accepted.
    pub max_metadata_bytes: u64,
    /// The longest a whole transfer (a metadata file, an image) may take.
    pub transfer_deadline: Duration,
    /// The lowest average rate of a transfer, once `grace` has passed.
    pub min_bytes_per_sec: u64,
    pub grace: Duration,
}

impl Default for Limits {
    /// 64 KiB messages; room for the largest Targets file the core accepts (8 MiB) plus its
    /// envelope; the Primary's own slow-retrieval floor (1 KiB/s after 10 s); ten minutes.
    fn default() -> Limits {
        Limits {
            max_message_bytes: 64 * 1024,
            max_metadata_bytes: 8 * 1024 * 1024 + 64 * 1024,
            transfer_deadline: Duration::from_secs(600),
            min_bytes_per_sec: 1024,
            grace: Duration::from_secs(10),
        }
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
struct LimitsFile {
    max_message_bytes: Option<usize>,
    max_metadata_bytes: Option<u64>,
    transfer_deadline_secs: Option<u64>,
    min_bytes_per_sec: Option<u64>,
    grace_secs: Option<u64>,
}

/// The configuration file as written; every field may also come from a flag.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct ConfigFile {
    ecu_serial: Option<EcuSerial>,
    hardware_id: Option<HardwareId>,
    vin: Option<Vin>,
    key: Option<PathBuf>,
    mode: Option<Mode>,
    provisioned: Option<PathBuf>,
    storage: Option<PathBuf>,
    provisioned_time: Option<String>,
    factory_image: Option<FactoryImage>,
    #[serde(default)]
    bus: BusConfig,
    #[serde(default)]
    limits: LimitsFile,
}

/// Command-line settings; each overrides the file's.
#[derive(Debug, Default, clap::Args)]
pub struct ConfigArgs {
    /// The TOML configuration file.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// This ECU's serial.
    #[arg(long)]
    pub serial: Option<EcuSerial>,
    /// This ECU's hardware id.
    #[arg(long)]
    pub hardware_id: Option<HardwareId>,
    /// The vehicle's VIN.
    #[arg(long)]
    pub vin: Option<Vin>,
    /// This ECU's private key (PKCS#8 PEM).
    #[arg(long, value_name = "FILE")]
    pub key: Option<PathBuf>,
    /// Verification mode.
    #[arg(long, value_enum)]
    pub mode: Option<Mode>,
    /// Metadata provisioned at manufacture.
    #[arg(long, value_name = "DIR")]
    pub provisioned: Option<PathBuf>,
    /// Where the ECU keeps its slots, trusted metadata and state.
    #[arg(long, value_name = "DIR")]
    pub storage: Option<PathBuf>,
    /// The hub daemon's socket.
    #[arg(long, value_name = "PATH")]
    pub socket: Option<PathBuf>,
    /// CAN identifier of requests from the Primary (hex, e.g. 7E0).
    #[arg(long, value_parser = parse_hex)]
    pub request_id: Option<u32>,
    /// CAN identifier of this ECU's responses (hex, e.g. 7E8).
    #[arg(long, value_parser = parse_hex)]
    pub response_id: Option<u32>,
    /// Use CAN FD frames.
    #[arg(long)]
    pub fd: bool,
    /// The largest single bus message accepted, in bytes.
    #[arg(long)]
    pub max_message_bytes: Option<usize>,
    /// The longest an image transfer may take, in seconds.
    #[arg(long)]
    pub transfer_deadline_secs: Option<u64>,
    /// The lowest average image transfer rate, in bytes per second.
    #[arg(long)]
    pub min_bytes_per_sec: Option<u64>,
}

fn parse_hex(text: &str) -> Result<u32, String> {
    let digits = text.trim_start_matches("0x").trim_start_matches("0X");
    u32::from_str_radix(digits, 16).map_err(|e| format!("{text:?} is not a hex identifier: {e}"))
}

/// Everything the ECU needs, resolved.
#[derive(Debug, Clone)]
pub struct Config {
    pub identity: Identity,
    pub key: PathBuf,
    pub mode: Mode,
    pub provisioned: PathBuf,
    pub storage: PathBuf,
    /// The time the ECU trusts until its first attestation (TM-2).
    pub provisioned_time: DateTime<Utc>,
    pub factory_image: FactoryImage,
    pub bus: BusConfig,
    pub limits: Limits,
}

impl Config {
    /// Reads the file named by `args` (if any) and applies the flags over it.
    pub fn load(args: &ConfigArgs) -> Result<Config> {
        let (file, base) = match &args.config {
            Some(path) => {
                let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
                let file: ConfigFile = toml::from_str(&text)
                    .map_err(|e| Error::Config(format!("{}: {e}", path.display())))?;
                (file, path.parent().map(Path::to_path_buf).unwrap_or_default())
            }
            None => (ConfigFile::default(), PathBuf::new()),
        };
        let required = |what: &str, flag: &str| {
            Error::Config(format!("{what} is required (--{flag}, or {what} in the config file)"))
        };
        let path = |flag: &Option<PathBuf>, file: Option<PathBuf>, name: &str| {
            flag.clone().or_else(|| file.map(|p| base.join(p))).ok_or_else(|| required(name, name))
        };
        let time = file.provisioned_time.ok_or_else(|| {
            Error::Config("provisioned_time is required in the config file".into())
        })?;
        let provisioned_time = parse_time(&time).ok_or_else(|| {
            Error::Config(format!("provisioned_time {time:?} is not YYYY-MM-DDTHH:MM:SSZ"))
        })?;
        let mut factory_image = file.factory_image.ok_or_else(|| {
            Error::Config("[factory_image] is required in the config file".into())
        })?;
        factory_image.path = base.join(&factory_image.path);
        let mut bus = file.bus;
        bus.socket = args.socket.clone().or(bus.socket.map(|p| base.join(p)));
        bus.request_id = args.request_id.unwrap_or(bus.request_id);
        bus.response_id = args.response_id.unwrap_or(bus.response_id);
        bus.fd |= args.fd;
        let defaults = Limits::default();
        let secs = Duration::from_secs;
        let limits = Limits {
            max_message_bytes: args
                .max_message_bytes
                .or(file.limits.max_message_bytes)
                .unwrap_or(defaults.max_message_bytes),
            max_metadata_bytes: file
                .limits
                .max_metadata_bytes
                .unwrap_or(defaults.max_metadata_bytes),
            transfer_deadline: args
                .transfer_deadline_secs
                .or(file.limits.transfer_deadline_secs)
                .map_or(defaults.transfer_deadline, secs),
            min_bytes_per_sec: args
                .min_bytes_per_sec
                .or(file.limits.min_bytes_per_sec)
                .unwrap_or(defaults.min_bytes_per_sec),
            grace: file.limits.grace_secs.map_or(defaults.grace, secs),
        };
        Ok(Config {
            identity: Identity {
                serial: args
                    .serial
                    .clone()
                    .or(file.ecu_serial)
                    .ok_or_else(|| required("ecu_serial", "serial"))?,
                hardware_id: args
                    .hardware_id
                    .clone()
                    .or(file.hardware_id)
                    .ok_or_else(|| required("hardware_id", "hardware-id"))?,
                vin: args.vin.clone().or(file.vin).ok_or_else(|| required("vin", "vin"))?,
            },
            key: path(&args.key, file.key, "key")?,
            mode: args.mode.or(file.mode).ok_or_else(|| required("mode", "mode"))?,
            provisioned: path(&args.provisioned, file.provisioned, "provisioned")?,
            storage: path(&args.storage, file.storage, "storage")?,
            provisioned_time,
            factory_image,
            bus,
            limits,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_settings_resolve_relative_to_the_file_and_flags_override_them() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ecu.toml");
        std::fs::write(
            &path,
            r#"
            ecu_serial = "BCM-1"
            hardware_id = "bcm"
            vin = "WVWZZZ1JZXW000001"
            key = "ecu.pem"
            mode = "partial"
            provisioned = "prov"
            storage = "state"
            provisioned_time = "2030-01-01T00:00:00Z"
            [factory_image]
            path = "f.bin"
            target = "bcm-1.bin"
            [bus]
            request_id = 0x7E2
            [limits]
            transfer_deadline_secs = 30
            "#,
        )
        .unwrap();
        let args = ConfigArgs {
            config: Some(path),
            mode: Some(Mode::Full),
            response_id: Some(0x7EA),
            ..ConfigArgs::default()
        };
        let config = Config::load(&args).unwrap();
        assert_eq!(config.mode, Mode::Full);
        assert_eq!(config.key, dir.path().join("ecu.pem"));
        assert_eq!(config.factory_image.path, dir.path().join("f.bin"));
        assert_eq!((config.bus.request_id, config.bus.response_id), (0x7E2, 0x7EA));
        assert_eq!(config.limits.transfer_deadline, Duration::from_secs(30));
        assert_eq!(config.limits.min_bytes_per_sec, Limits::default().min_bytes_per_sec);
    }

    #[test]
    fn missing_and_unknown_settings_are_named() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ecu.toml");
        std::fs::write(&path, "ecu_serial = \"BCM-1\"\nserial_number = 3\n").unwrap();
        let args = ConfigArgs { config: Some(path.clone()), ..ConfigArgs::default() };
        let err = Config::load(&args).unwrap_err().to_string();
        assert!(err.contains("serial_number"), "{err}");
        std::fs::write(&path, "provisioned_time = \"2030-01-01T00:00:00Z\"\n").unwrap();
        let err = Config::load(&args).unwrap_err().to_string();
        assert!(err.contains("factory_image"), "{err}");
    }
}
