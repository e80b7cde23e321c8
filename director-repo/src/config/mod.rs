//! Configuration: command-line flags, each also readable from the environment and from a
//! configuration file ([`file`]).

pub mod file;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use chrono::Duration;
use clap::{Args, Parser, Subcommand};
use service_kit::config::default_workers;
pub use service_kit::config::parse_duration;

/// The Uptane Director repository service.
#[derive(Debug, Parser)]
#[command(name = "director-repo", version, about)]
pub struct Cli {
    /// A TOML file of settings named like the long flags (`data-dir = "..."`); flags and
    /// environment variables take precedence over it.
    #[arg(long = "config", value_name = "FILE", env = "DIRECTOR_REPO_CONFIG", global = true)]
    pub config_file: Option<PathBuf>,
    #[command(flatten)]
    pub config: Config,
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the service (the default).
    Serve,
    /// Print the default online key ids (generating the keys if needed) and write their
    /// public-key JSON files, to be listed in the Director root made with keytool; `held`
    /// lists every key the service holds (a rotation's new keys included).
    Keys,
}

/// Everything the service needs to start.
#[derive(Debug, Clone, Args)]
pub struct Config {
    /// Directory for the SQLite database, online keys and TLS material.
    #[arg(long, env = "DIRECTOR_REPO_DATA_DIR", default_value = "director-repo-data")]
    pub data_dir: PathBuf,
    /// Address to listen on (port 0 picks a free port).
    #[arg(long, env = "DIRECTOR_REPO_LISTEN", default_value = "127.0.0.1:8444")]
    pub listen: SocketAddr,
    /// `postgres://...` for PostgreSQL; anything else is a SQLite file path. Default:
    /// DATA_DIR/director-repo.sqlite.
    #[arg(long, env = "DIRECTOR_REPO_DATABASE_URL")]
    pub database_url: Option<String>,
    /// The operator's bearer token for the admin API. Without one, a token is generated on
    /// first start into DATA_DIR/operator-token (0600).
    #[arg(long, env = "DIRECTOR_REPO_OPERATOR_TOKEN", hide_env_values = true)]
    pub operator_token: Option<String>,
    /// HTTP worker threads. Default: one per CPU core.
    #[arg(long, env = "DIRECTOR_REPO_WORKERS", default_value_t = default_workers())]
    pub workers: usize,
    /// Serve plain HTTP instead of HTTPS (tests and local development only).
    #[arg(long, env = "DIRECTOR_REPO_INSECURE_HTTP")]
    pub insecure_http: bool,
    /// TLS certificate chain (PEM). Default: a development certificate in DATA_DIR/tls.
    #[arg(long, env = "DIRECTOR_REPO_TLS_CERT", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// TLS private key (PEM).
    #[arg(long, env = "DIRECTOR_REPO_TLS_KEY", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
    /// The CA vehicles' client certificates chain to (PEM). Default: a development fleet CA
    /// in DATA_DIR/tls, generated, which can also issue vehicle certificates.
    #[arg(long, env = "DIRECTOR_REPO_CLIENT_CA")]
    pub client_ca: Option<PathBuf>,
    /// Online targets key (PKCS#8 PEM). Default: DATA_DIR/keys/targets.pem, generated.
    #[arg(long, env = "DIRECTOR_REPO_TARGETS_KEY")]
    pub targets_key: Option<PathBuf>,
    /// Online snapshot key (PKCS#8 PEM). Default: DATA_DIR/keys/snapshot.pem, generated.
    #[arg(long, env = "DIRECTOR_REPO_SNAPSHOT_KEY")]
    pub snapshot_key: Option<PathBuf>,
    /// Online timestamp key (PKCS#8 PEM). Default: DATA_DIR/keys/timestamp.pem, generated.
    #[arg(long, env = "DIRECTOR_REPO_TIMESTAMP_KEY")]
    pub timestamp_key: Option<PathBuf>,
    /// Time attestation key (PKCS#8 PEM). Default: DATA_DIR/keys/time.pem, generated.
    #[arg(long, env = "DIRECTOR_REPO_TIME_KEY")]
    pub time_key: Option<PathBuf>,
    /// Lifetime of per-vehicle metadata (targets, snapshot, timestamp); re-signed on a poll
    /// when less than half is left.
    #[arg(long, env = "DIRECTOR_REPO_METADATA_LIFETIME", default_value = "1d", value_parser = parse_duration)]
    pub metadata_lifetime: Duration,
    /// Versions of each per-vehicle role (targets, snapshot, timestamp) kept in the database:
    /// the newest, and older ones for vehicles still fetching the previous bundle. Older ones
    /// are deleted when a newer one is signed, so re-signing before expiry does not grow the
    /// database without end (assignments keep which targets version issued them). 0 keeps
    /// every version ever signed.
    #[arg(long, env = "DIRECTOR_REPO_METADATA_VERSIONS_KEPT", default_value_t = 2)]
    pub metadata_versions_kept: u32,
    /// Largest manifest accepted, in bytes.
    #[arg(long, env = "DIRECTOR_REPO_MAX_MANIFEST_BYTES", default_value_t = 1 << 20)]
    pub max_manifest_bytes: usize,
    /// More online keys (PKCS#8 PEM; repeat the flag), e.g. the new keys of a rotation. Every
    /// `*.pem` in DATA_DIR/keys is loaded too; the current Director root decides which key
    /// signs for which role.
    #[arg(long = "online-key", env = "DIRECTOR_REPO_ONLINE_KEYS", value_delimiter = ',')]
    pub online_keys: Vec<PathBuf>,
    /// The fleet provisioning credential Primaries present to `POST /provisioning` (as a
    /// bearer token). Without one, provisioning by Primaries is disabled.
    #[arg(long, env = "DIRECTOR_REPO_PROVISIONING_TOKEN", hide_env_values = true)]
    pub provisioning_token: Option<String>,
    /// How often the background task looks for per-vehicle metadata past half its lifetime
    /// and re-signs it (and a process lacking the newest root's keys looks for them again).
    #[arg(long, env = "DIRECTOR_REPO_RESIGN_INTERVAL", default_value = "60s", value_parser = parse_duration)]
    pub resign_interval: Duration,
    /// Refused manifests kept per vehicle (the newest; older ones are deleted and only
    /// counted). Accepted manifests are all kept.
    #[arg(long, env = "DIRECTOR_REPO_MAX_REFUSED_MANIFESTS", default_value_t = 50)]
    pub max_refused_manifests: u32,
    /// Vehicles whose signed metadata, and the inventory their last manifest left, are kept in
    /// memory.
    #[arg(long, env = "DIRECTOR_REPO_CACHED_VEHICLES", default_value_t = 100_000)]
    pub cached_vehicles: usize,
    /// Base URL of the Image repository (`URL/metadata/N.root.json`, ...). The Director reads
    /// it as a verifying client and assigns only images it lists for the ECU's hardware.
    #[arg(long, env = "DIRECTOR_REPO_IMAGE_REPO_URL", requires = "image_repo_root")]
    pub image_repo_url: Option<String>,
    /// The Image repository's trusted root.json, provisioned out of band (keytool's
    /// `metadata/1.root.json`). Later roots are reached by rotation and kept in
    /// DATA_DIR/image-repo with the rest of the trusted state.
    #[arg(long, env = "DIRECTOR_REPO_IMAGE_REPO_ROOT", requires = "image_repo_url")]
    pub image_repo_root: Option<PathBuf>,
    /// The CA (PEM) the Image repository's HTTPS certificate chains to. Default: the public
    /// (Mozilla) roots.
    #[arg(long, env = "DIRECTOR_REPO_IMAGE_REPO_CA")]
    pub image_repo_ca: Option<PathBuf>,
    /// A vehicle with no accepted manifest for this long (since its registration, before its
    /// first) is overdue: it stopped reporting, perhaps black-holed (A13). Shown by the admin
    /// API.
    #[arg(long, env = "DIRECTOR_REPO_OVERDUE_AFTER", default_value = "7d", value_parser = parse_duration)]
    pub overdue_after: Duration,
}

impl Config {
    /// Defaults for a data directory (as if no flag were given).
    pub fn new(data_dir: impl Into<PathBuf>) -> Config {
        let mut cli = Cli::parse_from(["director-repo"]);
        cli.config.data_dir = data_dir.into();
        cli.config
    }

    pub fn database_url(&self) -> String {
        self.database_url.clone().unwrap_or_else(|| {
            self.data_dir.join("director-repo.sqlite").to_string_lossy().into_owned()
        })
    }

    pub fn dir(&self, name: &str) -> PathBuf {
        self.data_dir.join(name)
    }

    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults() {
        let config = Config::new("/tmp/x");
        assert_eq!(config.metadata_lifetime, Duration::days(1));
        assert!(!config.insecure_http);
        assert_eq!(config.database_url(), "/tmp/x/director-repo.sqlite");
    }
}
