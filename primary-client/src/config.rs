//! The Primary's configuration: a TOML file, with command-line flags laid over it.
//!
//! ```toml
//! vin = "WVWZZZ1JZXW000001"
//! primary_serial = "TCU-SN-1"
//! hardware_id = "acme-tcu"
//! primary_key = "keys/primary.pem"      # the ECU key that signs reports and manifests
//! director_url = "https://director.example:8443"
//! image_url = "https://images.example:8444"
//! ca = ["tls/director-ca.pem", "tls/image-ca.pem"]
//! client_cert = "tls/client.pem"         # default: STATE_DIR/tls/client.pem (provisioning)
//! client_key = "tls/client.key"
//! state_dir = "/var/lib/uptane-primary"
//! director_root = "provisioned/director-root.json"   # trust anchors copied on first start
//! image_root = "provisioned/image-root.json"
//! poll_interval_secs = 300
//! provisioning_credential = "fleet-credential.txt"   # for `provision`
//! can_hub = "/run/canbus-hub.sock"       # the bus the Secondaries are on
//! can_fd = false
//!
//! [limits]                      # DESIGN.md defaults
//! max_root_bytes = 524288
//! stall_secs = 10
//! min_bytes_per_sec = 1024
//!
//! [[secondary]]
//! serial = "BCM-SN-1"
//! hardware_id = "acme-bcm"
//! mode = "partial"              # or "full"
//! request_id = 0x7E0             # CAN id the Primary sends on
//! response_id = 0x7E8           # CAN id the Secondary answers on
//! ```
//!
//! Relative paths are relative to the configuration file.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;
use uptane::names::{EcuSerial, HardwareId, Vin};
use uptane::repository::Rules;

use crate::http::SlowRetrievalGuard;
use crate::secondary::Verification;

/// Why a configuration cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{path}: {source}")]
    Read { path: PathBuf, source: std::io::Error },
    #[error("{path}: {message}")]
    Parse { path: PathBuf, message: String },
    #[error("configuration: {0}")]
    Invalid(String),
}

/// Everything `run`, `once` and `provision` need.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    pub vin: Vin,
    pub primary_serial: EcuSerial,
    pub hardware_id: HardwareId,
    pub primary_key: PathBuf,
    pub director_url: String,
    pub image_url: String,
    /// PEM files of the CAs to trust for HTTPS (empty: the public roots).
    #[serde(default)]
    pub ca: Vec<PathBuf>,
    pub client_cert: Option<PathBuf>,
    pub client_key: Option<PathBuf>,
    pub state_dir: PathBuf,
    pub director_root: Option<PathBuf>,
    pub image_root: Option<PathBuf>,
    #[serde(default = "default_poll")]
    pub poll_interval_secs: u64,
    pub provisioning_credential: Option<PathBuf>,
    #[serde(default)]
    pub limits: Limits,
    /// The `canbus-hub` daemon's socket, the bus the Secondaries are on.
    pub can_hub: Option<PathBuf>,
    /// CAN FD frames (64 bytes) instead of classic ones.
    #[serde(default)]
    pub can_fd: bool,
    #[serde(default, rename = "secondary")]
    pub secondaries: Vec<SecondaryConfig>,
}

fn default_poll() -> u64 {
    300
}

/// Byte limits and the slow-retrieval guard (DESIGN.md defaults).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Limits {
    pub max_root_bytes: u64,
    pub max_timestamp_bytes: u64,
    pub max_snapshot_bytes: u64,
    pub max_targets_bytes: u64,
    /// Longest wait for any byte.
    pub stall_secs: u64,
    /// The window the minimum download speed is averaged over.
    pub window_secs: u64,
    pub min_bytes_per_sec: u64,
}

impl Default for Limits {
    fn default() -> Limits {
        let rules = Rules::uptane();
        let guard = SlowRetrievalGuard::default();
        Limits {
            max_root_bytes: rules.max_root_bytes,
            max_timestamp_bytes: rules.max_timestamp_bytes,
            max_snapshot_bytes: rules.max_snapshot_bytes,
            max_targets_bytes: rules.max_targets_bytes,
            stall_secs: guard.stall.as_secs(),
            window_secs: guard.window.as_secs(),
            min_bytes_per_sec: guard.min_bytes_per_sec,
        }
    }
}

impl Limits {
    pub fn rules(&self) -> Rules {
        Rules {
            max_root_bytes: self.max_root_bytes,
            max_timestamp_bytes: self.max_timestamp_bytes,
            max_snapshot_bytes: self.max_snapshot_bytes,
            max_targets_bytes: self.max_targets_bytes,
            ..Rules::uptane()
        }
    }

    pub fn guard(&self) -> SlowRetrievalGuard {
        SlowRetrievalGuard {
            stall: Duration::from_secs(self.stall_secs),
            window: Duration::from_secs(self.window_secs),
            min_bytes_per_sec: self.min_bytes_per_sec,
        }
    }
}

/// A Secondary on the bus.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SecondaryConfig {
    pub serial: EcuSerial,
    pub hardware_id: HardwareId,
    pub mode: Verification,
    /// The CAN id the Primary sends requests on.
    pub request_id: u32,
    /// The CAN id the Secondary answers on.
    pub response_id: u32,
}

impl Config {
    /// Reads `path` (if given) and lays `overrides` (a table of flag values) over it.
    pub fn load(path: Option<&Path>, overrides: toml::Table) -> Result<Config, ConfigError> {
        let (mut table, base) = match path {
            Some(path) => {
                let text = std::fs::read_to_string(path)
                    .map_err(|source| ConfigError::Read { path: path.into(), source })?;
                let table: toml::Table = toml::from_str(&text).map_err(|e| ConfigError::Parse {
                    path: path.into(),
                    message: e.message().to_owned(),
                })?;
                (table, path.parent().map(Path::to_path_buf).unwrap_or_default())
            }
            None => (toml::Table::new(), PathBuf::new()),
        };
        table.extend(overrides);
        let mut config: Config = toml::Value::Table(table)
            .try_into()
            .map_err(|e: toml::de::Error| ConfigError::Invalid(e.message().to_owned()))?;
        config.resolve_paths(&base);
        config.validate()?;
        Ok(config)
    }

    fn resolve_paths(&mut self, base: &Path) {
        let at = |p: &mut PathBuf| {
            if p.is_relative() {
                *p = base.join(&*p);
            }
        };
        at(&mut self.primary_key);
        at(&mut self.state_dir);
        self.ca.iter_mut().for_each(at);
        for p in [
            &mut self.client_cert,
            &mut self.client_key,
            &mut self.director_root,
            &mut self.image_root,
            &mut self.provisioning_credential,
            &mut self.can_hub,
        ]
        .into_iter()
        .flatten()
        {
            at(p);
        }
    }

    fn validate(&self) -> Result<(), ConfigError> {
        let mut serials = vec![&self.primary_serial];
        for secondary in &self.secondaries {
            if serials.contains(&&secondary.serial) {
                return Err(ConfigError::Invalid(format!(
                    "ECU serial {} is listed twice",
                    secondary.serial
                )));
            }
            serials.push(&secondary.serial);
        }
        if self.poll_interval_secs == 0 {
            return Err(ConfigError::Invalid("poll_interval_secs must be at least 1".into()));
        }
        if self.limits.stall_secs == 0 || self.limits.window_secs == 0 {
            return Err(ConfigError::Invalid(
                "stall_secs and window_secs must be at least 1".into(),
            ));
        }
        Ok(())
    }

    /// The client certificate: configured, else where provisioning stores it.
    pub fn client_cert_path(&self) -> PathBuf {
        self.client_cert.clone().unwrap_or_else(|| self.state_dir.join("tls/client.pem"))
    }

    pub fn client_key_path(&self) -> PathBuf {
        self.client_key.clone().unwrap_or_else(|| self.state_dir.join("tls/client.key"))
    }

    pub fn poll_interval(&self) -> Duration {
        Duration::from_secs(self.poll_interval_secs)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    const FILE: &str = r#"
        vin = "WVWZZZ1JZXW000001"
        primary_serial = "TCU-1"
        hardware_id = "acme-tcu"
        primary_key = "keys/primary.pem"
        director_url = "https://director:8443"
        image_url = "https://images:8444"
        ca = ["ca.pem"]
        state_dir = "/var/lib/primary"
        [limits]
        min_bytes_per_sec = 4096
        [[secondary]]
        serial = "BCM-1"
        hardware_id = "acme-bcm"
        mode = "partial"
        request_id = 0x7E0
        response_id = 0x7E8
    "#;

    fn write(text: &str) -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("primary.toml");
        std::fs::write(&path, text).unwrap();
        (dir, path)
    }

    #[test]
    fn a_file_with_flags_over_it() {
        let (dir, path) = write(FILE);
        let mut flags = toml::Table::new();
        flags.insert("poll_interval_secs".into(), 5.into());
        let config = Config::load(Some(&path), flags).unwrap();
        assert_eq!(config.poll_interval(), Duration::from_secs(5));
        assert_eq!(config.primary_key, dir.path().join("keys/primary.pem"));
        assert_eq!(config.ca, [dir.path().join("ca.pem")]);
        assert_eq!(config.state_dir, Path::new("/var/lib/primary"));
        assert_eq!(config.client_cert_path(), Path::new("/var/lib/primary/tls/client.pem"));
        assert_eq!(config.limits.guard().min_bytes_per_sec, 4096);
        assert_eq!(config.limits.rules().max_root_bytes, 512 * 1024);
        assert_eq!(config.secondaries[0].mode, Verification::Partial);
        assert_eq!(config.secondaries[0].request_id, 0x7E0);
    }

    #[test]
    fn bad_configurations_are_refused_with_a_reason() {
        let cases = [
            (FILE.replace("vin = \"WVWZZZ1JZXW000001\"", ""), "vin"),
            (FILE.replace("\"BCM-1\"", "\"TCU-1\""), "listed twice"),
            (FILE.replace("\"partial\"", "\"sometimes\""), "sometimes"),
            (format!("{FILE}\nsurprise = 1"), "surprise"),
            (FILE.replace("\"TCU-1\"", "\"../x\""), "../x"),
        ];
        for (text, expected) in cases {
            let (_dir, path) = write(&text);
            let err = Config::load(Some(&path), toml::Table::new()).unwrap_err().to_string();
            assert!(err.contains(expected), "{expected}: {err}");
        }
    }
}
