//! Configuration: command-line flags, each also readable from the environment and from a
//! configuration file ([`file`]).

pub mod file;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use chrono::Duration;
use clap::{Args, Parser, Subcommand};
use service_kit::config::default_workers;
pub use service_kit::config::parse_duration;

/// The Uptane Image repository service.
#[derive(Debug, Parser)]
#[command(name = "image-repo", version, about)]
pub struct Cli {
    /// A TOML file of settings named like the long flags (`data-dir = "..."`); flags and
    /// environment variables take precedence over it.
    #[arg(long = "config", value_name = "FILE", env = "IMAGE_REPO_CONFIG", global = true)]
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
    /// Set root v1 from a keytool-made root.json (once, before serving).
    Init {
        /// The signed root.json (version 1).
        #[arg(long)]
        root: PathBuf,
    },
    /// Print the online snapshot and timestamp key ids (generating the keys if needed) and
    /// write their public-key JSON files for `keytool init --snapshot-key/--timestamp-key`.
    Keys,
}

/// Everything the service needs to start.
#[derive(Debug, Clone, Args)]
pub struct Config {
    /// Directory for the SQLite database, blobs, online keys and TLS material.
    #[arg(long, env = "IMAGE_REPO_DATA_DIR", default_value = "image-repo-data")]
    pub data_dir: PathBuf,
    /// Address to listen on (port 0 picks a free port).
    #[arg(long, env = "IMAGE_REPO_LISTEN", default_value = "127.0.0.1:8443")]
    pub listen: SocketAddr,
    /// `postgres://...` for PostgreSQL; anything else is a SQLite file path. Default:
    /// DATA_DIR/image-repo.sqlite.
    #[arg(long, env = "IMAGE_REPO_DATABASE_URL")]
    pub database_url: Option<String>,
    /// A bearer token allowed to upload (stored hashed). Without one, a token is generated on
    /// first start into DATA_DIR/upload-token.
    #[arg(long, env = "IMAGE_REPO_UPLOAD_TOKEN", hide_env_values = true)]
    pub upload_token: Option<String>,
    /// HTTP worker threads (event loops). Default: one per CPU core, since serving prepared
    /// bytes over TLS is CPU-bound.
    #[arg(long, env = "IMAGE_REPO_WORKERS", default_value_t = default_workers())]
    pub workers: usize,
    /// Serve plain HTTP instead of HTTPS (tests and local development only).
    #[arg(long, env = "IMAGE_REPO_INSECURE_HTTP")]
    pub insecure_http: bool,
    /// TLS certificate chain (PEM). Default: a development certificate in DATA_DIR/tls.
    #[arg(long, env = "IMAGE_REPO_TLS_CERT", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// TLS private key (PEM).
    #[arg(long, env = "IMAGE_REPO_TLS_KEY", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
    /// Online snapshot key (PKCS#8 PEM). Default: DATA_DIR/keys/snapshot.pem, generated.
    #[arg(long, env = "IMAGE_REPO_SNAPSHOT_KEY")]
    pub snapshot_key: Option<PathBuf>,
    /// Online timestamp key (PKCS#8 PEM). Default: DATA_DIR/keys/timestamp.pem, generated.
    #[arg(long, env = "IMAGE_REPO_TIMESTAMP_KEY")]
    pub timestamp_key: Option<PathBuf>,
    /// Lifetime of each timestamp (e.g. 1d, 12h, 300s); re-signed when less than half is left.
    #[arg(long, env = "IMAGE_REPO_TIMESTAMP_LIFETIME", default_value = "1d", value_parser = parse_duration)]
    pub timestamp_lifetime: Duration,
    /// Lifetime of each snapshot; re-signed when less than half is left.
    #[arg(long, env = "IMAGE_REPO_SNAPSHOT_LIFETIME", default_value = "7d", value_parser = parse_duration)]
    pub snapshot_lifetime: Duration,
    /// How often the background task checks expiries.
    #[arg(long, env = "IMAGE_REPO_RESIGN_INTERVAL", default_value = "60s", value_parser = parse_duration)]
    pub resign_interval: Duration,
    /// Largest image blob accepted, in bytes.
    #[arg(long, env = "IMAGE_REPO_MAX_BLOB_BYTES", default_value_t = 1 << 30)]
    pub max_blob_bytes: u64,
    /// Largest targets metadata accepted, in bytes (root: 512 KiB).
    #[arg(long, env = "IMAGE_REPO_MAX_METADATA_BYTES", default_value_t = 8 << 20)]
    pub max_metadata_bytes: u64,
    /// Test hook: fail every publish inside the database transaction, before commit.
    #[arg(skip)]
    pub fail_before_commit: bool,
}

impl Config {
    /// Defaults for a data directory (as if no flag were given).
    pub fn new(data_dir: impl Into<PathBuf>) -> Config {
        let mut cli = Cli::parse_from(["image-repo"]);
        cli.config.data_dir = data_dir.into();
        cli.config
    }

    pub fn database_url(&self) -> String {
        self.database_url.clone().unwrap_or_else(|| {
            self.data_dir.join("image-repo.sqlite").to_string_lossy().into_owned()
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
        assert_eq!(config.timestamp_lifetime, Duration::days(1));
        assert!(!config.insecure_http);
        assert_eq!(config.database_url(), "/tmp/x/image-repo.sqlite");
    }
}
