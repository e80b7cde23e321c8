//! The arguments of each subcommand.

use std::path::PathBuf;

use chrono::Duration;
use clap::{Args, ValueEnum};

use crate::expires;
use crate::workspace::RepoKind;

fn duration(text: &str) -> Result<Duration, String> {
    expires::parse(text)
}

/// The workspace directory, which every repository command takes.
#[derive(Debug, Args)]
pub struct Repo {
    /// Repository workspace directory (created by `init`).
    #[arg(long, short = 'r', value_name = "DIR", env = "KEYTOOL_REPO")]
    pub repo: PathBuf,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum KeyTypeArg {
    Ed25519,
    #[value(name = "ecdsa-p256")]
    EcdsaP256,
}

#[derive(Debug, Args)]
pub struct GenKeyArgs {
    /// Signature scheme of the new key.
    #[arg(long = "type", value_enum, default_value = "ed25519")]
    pub keytype: KeyTypeArg,
    /// Private key file to create (PKCS#8 PEM, mode 0600). The public key is written beside
    /// it as NAME.pub.json. Existing files are never overwritten.
    #[arg(long, value_name = "FILE")]
    pub out: PathBuf,
}

#[derive(Debug, Args)]
pub struct InitArgs {
    #[command(flatten)]
    pub repo: Repo,
    /// Image repository (offline targets, delegations) or Director (root only).
    #[arg(long, value_enum)]
    pub kind: RepoKind,
    /// Root key: a private key file (signs now) or a public-key JSON file (signs later).
    #[arg(long = "root-key", value_name = "KEY", required = true)]
    pub root_keys: Vec<PathBuf>,
    #[arg(long, value_name = "N", default_value_t = 1)]
    pub root_threshold: u32,
    /// Targets key (private or public file); Director targets keys are its online keys.
    #[arg(long = "targets-key", value_name = "KEY", required = true)]
    pub targets_keys: Vec<PathBuf>,
    #[arg(long, value_name = "N", default_value_t = 1)]
    pub targets_threshold: u32,
    #[arg(long = "snapshot-key", value_name = "KEY", required = true)]
    pub snapshot_keys: Vec<PathBuf>,
    #[arg(long, value_name = "N", default_value_t = 1)]
    pub snapshot_threshold: u32,
    #[arg(long = "timestamp-key", value_name = "KEY", required = true)]
    pub timestamp_keys: Vec<PathBuf>,
    #[arg(long, value_name = "N", default_value_t = 1)]
    pub timestamp_threshold: u32,
    /// Director only: a key that signs time attestations for ECUs (an online key). Named by the
    /// root's `time_attestation` field, not as a role, so stock TUF clients still load the root.
    #[arg(long = "time-key", value_name = "KEY")]
    pub time_keys: Vec<PathBuf>,
    #[arg(long, value_name = "N", default_value_t = 1, requires = "time_keys")]
    pub time_threshold: u32,
    /// Root validity, e.g. 365d (the default) or 2y.
    #[arg(long, value_name = "DURATION", value_parser = duration)]
    pub expires: Option<Duration>,
}

#[derive(Debug, Args)]
pub struct AddTargetArgs {
    #[command(flatten)]
    pub repo: Repo,
    /// The image file.
    #[arg(value_name = "FILE")]
    pub file: PathBuf,
    /// Target path clients ask for, e.g. ecu/bcm/app-1.0.bin.
    #[arg(long, value_name = "TARGETPATH")]
    pub path: String,
    /// Hardware id of ECUs that may install the image (repeat for several).
    #[arg(long = "hardware-id", value_name = "HW", required = true)]
    pub hardware_ids: Vec<String>,
    /// Uptane release counter: ECUs refuse images with a lower counter than installed.
    #[arg(long, value_name = "N")]
    pub release_counter: u64,
    /// The Targets role to list it in: targets, or a delegated role.
    #[arg(long, default_value = "targets")]
    pub role: String,
    /// Validity of the edited role (default 90d when its edit cycle opens).
    #[arg(long, value_name = "DURATION", value_parser = duration)]
    pub expires: Option<Duration>,
}

#[derive(Debug, Args)]
pub struct RemoveTargetArgs {
    #[command(flatten)]
    pub repo: Repo,
    #[arg(long, value_name = "TARGETPATH")]
    pub path: String,
    #[arg(long, default_value = "targets")]
    pub role: String,
}

#[derive(Debug, Args)]
pub struct DelegateArgs {
    #[command(flatten)]
    pub repo: Repo,
    /// Name of the delegated role, e.g. supplierA.
    #[arg(long = "to", value_name = "NAME")]
    pub name: String,
    /// The delegating role.
    #[arg(long, default_value = "targets")]
    pub from: String,
    /// The delegatee's keys: public-key JSON files (or private keys) of its key holders.
    #[arg(long = "key", value_name = "KEY", required = true)]
    pub keys: Vec<PathBuf>,
    #[arg(long, value_name = "N", default_value_t = 1)]
    pub threshold: u32,
    /// Target path patterns the role may sign ('*' does not cross '/'), e.g. 'supplierA/*'.
    #[arg(long, value_name = "PATTERN", required = true)]
    pub paths: Vec<String>,
    /// Hardware ids the role may sign images for (repeat; none means any).
    #[arg(long = "hardware-id", value_name = "HW")]
    pub hardware_ids: Vec<String>,
    /// Clients stop searching at this role for matching paths.
    #[arg(long)]
    pub terminating: bool,
    /// Validity of the new role's first metadata (default 90d).
    #[arg(long, value_name = "DURATION", value_parser = duration)]
    pub expires: Option<Duration>,
}

#[derive(Debug, Args)]
pub struct SignArgs {
    #[command(flatten)]
    pub repo: Repo,
    /// root, targets, or a delegated role.
    #[arg(long)]
    pub role: String,
    /// Private key file of this key holder (repeat to sign with several).
    #[arg(long = "key", value_name = "KEY", required = true)]
    pub keys: Vec<PathBuf>,
}

#[derive(Debug, Args)]
pub struct MergeArgs {
    #[command(flatten)]
    pub repo: Repo,
    #[arg(long)]
    pub role: String,
    /// Other key holders' copies of the staged file (their DIR/staged/ROLE.json).
    #[arg(value_name = "FILE", required = true)]
    pub files: Vec<PathBuf>,
    /// Adopt a file whose body differs from the staged one, discarding the staged one.
    #[arg(long)]
    pub replace: bool,
}

#[derive(Debug, Args)]
pub struct RenewArgs {
    #[command(flatten)]
    pub repo: Repo,
    #[arg(long)]
    pub role: String,
    #[arg(long, value_name = "DURATION", value_parser = duration)]
    pub expires: Option<Duration>,
    /// Sign right away with these private keys.
    #[arg(long = "key", value_name = "KEY")]
    pub keys: Vec<PathBuf>,
}

#[derive(Debug, Args)]
pub struct RotateRootArgs {
    #[command(flatten)]
    pub repo: Repo,
    /// The new root's complete set of root keys (private files sign right away).
    #[arg(long = "root-key", value_name = "KEY")]
    pub root_keys: Vec<PathBuf>,
    #[arg(long, value_name = "N")]
    pub root_threshold: Option<u32>,
    #[arg(long = "targets-key", value_name = "KEY")]
    pub targets_keys: Vec<PathBuf>,
    #[arg(long, value_name = "N")]
    pub targets_threshold: Option<u32>,
    #[arg(long = "snapshot-key", value_name = "KEY")]
    pub snapshot_keys: Vec<PathBuf>,
    #[arg(long, value_name = "N")]
    pub snapshot_threshold: Option<u32>,
    #[arg(long = "timestamp-key", value_name = "KEY")]
    pub timestamp_keys: Vec<PathBuf>,
    #[arg(long, value_name = "N")]
    pub timestamp_threshold: Option<u32>,
    /// Director only: new time attestation keys (see `init --time-key`).
    #[arg(long = "time-key", value_name = "KEY")]
    pub time_keys: Vec<PathBuf>,
    #[arg(long, value_name = "N")]
    pub time_threshold: Option<u32>,
    /// Validity of the new root (default 365d).
    #[arg(long, value_name = "DURATION", value_parser = duration)]
    pub expires: Option<Duration>,
}

#[derive(Debug, Args)]
pub struct PublishArgs {
    #[command(flatten)]
    pub repo: Repo,
    /// Private snapshot key (repeat for a threshold above 1). Image repositories only.
    #[arg(long = "snapshot-key", value_name = "KEY")]
    pub snapshot_keys: Vec<PathBuf>,
    /// Private timestamp key (repeat for a threshold above 1). Image repositories only.
    #[arg(long = "timestamp-key", value_name = "KEY")]
    pub timestamp_keys: Vec<PathBuf>,
    /// Snapshot validity (default 7d).
    #[arg(long, value_name = "DURATION", value_parser = duration)]
    pub snapshot_expires: Option<Duration>,
    /// Timestamp validity (default 1d).
    #[arg(long, value_name = "DURATION", value_parser = duration)]
    pub timestamp_expires: Option<Duration>,
    /// Push to a running Image repository service at this base URL instead of writing a static
    /// repository; the service signs snapshot and timestamp with its online keys.
    #[arg(
        long,
        value_name = "URL",
        requires = "token",
        conflicts_with_all = ["snapshot_keys", "timestamp_keys", "snapshot_expires", "timestamp_expires"],
    )]
    pub server: Option<String>,
    /// The service's upload token (sent as a bearer token).
    #[arg(
        long,
        value_name = "TOKEN",
        env = "KEYTOOL_UPLOAD_TOKEN",
        hide_env_values = true,
        requires = "server"
    )]
    pub token: Option<String>,
    /// PEM CA certificate(s) to trust for the service instead of the public roots.
    #[arg(long, value_name = "FILE", requires = "server")]
    pub ca: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct VerifyArgs {
    #[command(flatten)]
    pub repo: Repo,
    /// The trusted root to start from (default DIR/metadata/1.root.json).
    #[arg(long, value_name = "FILE")]
    pub root: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct ExpiryArgs {
    #[command(flatten)]
    pub repo: Repo,
    /// Warn (exit 3) if anything published expires within this period.
    #[arg(long, value_name = "DURATION", value_parser = duration, default_value = "30d")]
    pub warn_within: Duration,
    /// Check only the offline roles (root, targets, delegated roles), leaving out snapshot and
    /// timestamp, which every publish renews.
    #[arg(long)]
    pub offline_only: bool,
}

#[derive(Debug, Args)]
pub struct CanonicalArgs {
    /// A metadata file, or any JSON with --whole; '-' reads stdin.
    #[arg(value_name = "FILE", required_unless_present = "batch")]
    pub file: Option<PathBuf>,
    /// Encode the whole document instead of its `signed` object.
    #[arg(long)]
    pub whole: bool,
    /// Encode each JSON text in FILE (a JSON array of strings); print a JSON array of
    /// {"hex": CANONICAL-BYTES-IN-HEX} or {"error": WHY}.
    #[arg(long, value_name = "FILE", conflicts_with_all = ["file", "whole"])]
    pub batch: Option<PathBuf>,
}
