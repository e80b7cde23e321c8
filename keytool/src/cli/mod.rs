//! The command line: clap definitions, and the dispatch from subcommands to operations.

mod args;

use std::io::{Read, Write};
use std::path::Path;

use clap::{Parser, Subcommand};
use serde::Serialize;
use uptane::crypto::KeyType;

use crate::edit::EditOptions;
use crate::error::{Error, Result};
use crate::keys::{self, GeneratedKey};
use crate::ops::delegate::{NewDelegation, delegate};
use crate::ops::init::{InitOptions, init};
use crate::ops::roles::{RoleSpec, TIME};
use crate::ops::rotate::{RoleChange, Rotation, renew, rotate_root};
use crate::ops::targets::{NewTarget, add_target, remove_target};
use crate::ops::{canonical, expiry, sign, status};
use crate::publish::{PublishOptions, ServerOptions, publish, push};
use crate::report::{Outcome, Report, emit};
use crate::workspace::Workspace;
use args::*;

const ABOUT: &str = "Offline keys and signing for Uptane repositories";

const LONG_ABOUT: &str = "\
Offline keys and signing for Uptane repositories.

A workspace (--repo DIR) is a directory of plain JSON files: DIR/staged/ROLE.json holds metadata
being prepared together with the signatures collected so far, so key holders can each sign a copy
on their own machine and the copies are merged. Editing a role (add-target, delegate, rotate-root,
renew) stages it at the next version and clears its signatures; signing only adds signatures.
`publish` writes the repository to DIR/metadata and DIR/targets once every threshold is met, and
`verify` checks it the way a vehicle does.

A typical Image repository ceremony:
  keytool gen-key --out root1.pem            (each key holder, on their own machine)
  keytool init --repo R --kind image --root-key root1.pem --root-key root2.pub.json \\
      --root-threshold 2 --targets-key t.pem --snapshot-key s.pem --timestamp-key ts.pem
  keytool sign --repo R --role root --key root2.pem     (second holder, on a copy of R)
  keytool merge --repo R --role root COPY/staged/root.json
  keytool add-target --repo R app.bin --path ecu/app-1.0.bin --hardware-id bcm --release-counter 1
  keytool sign --repo R --role targets --key t.pem
  keytool publish --repo R --snapshot-key s.pem --timestamp-key ts.pem
  keytool verify --repo R

With the Image repository service, its online keys sign snapshot and timestamp: list them at init
(`image-repo keys` writes snapshot.pub.json and timestamp.pub.json) and push instead:
  keytool publish --repo R --server https://images.example:8443 --token TOKEN [--ca ca.pem]";

const EXIT_CODES: &str = "\
Exit codes:
  0  success
  1  failure: an error, a refused operation, or `verify` found a problem
  2  usage: bad arguments
  3  `expiry`: something published expires within the warning window";

#[derive(Debug, Parser)]
#[command(name = "keytool", version, about = ABOUT, long_about = LONG_ABOUT, after_help = EXIT_CODES)]
pub struct Cli {
    /// Print the result as one JSON document on stdout, for scripts.
    #[arg(long, global = true)]
    pub json: bool,
    /// Log more on stderr (-v: info, -vv: debug); RUST_LOG overrides.
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    pub verbose: u8,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Generate a signing key (PKCS#8 PEM, mode 0600) and its public-key JSON file.
    GenKey(GenKeyArgs),
    /// Create a workspace with root v1 (and, for an Image repository, an empty targets v1).
    Init(InitArgs),
    /// List an image in targets or a delegated role (sha256, sha512, length, hardware ids,
    /// release counter) and store it for publishing.
    AddTarget(AddTargetArgs),
    /// Remove an image from a role.
    RemoveTarget(RemoveTargetArgs),
    /// Delegate target paths (and hardware ids) to a supplier's role and its keys.
    Delegate(DelegateArgs),
    /// Add this key holder's signature to a staged role.
    ///
    /// Signing never changes the staged body, version or expiry: each holder adds a signature,
    /// on the shared workspace or on their own copy (then `merge`). The key must belong to the
    /// role; for a staged root rotation, keys of the old root and of the new one are accepted.
    Sign(SignArgs),
    /// Merge signatures from other key holders' copies of a staged role.
    ///
    /// Only valid signatures by keys of the role are kept. A file whose body differs from the
    /// staged one is refused (the staged file stays as it was) unless --replace is given; with
    /// nothing staged, the file's body is adopted if it is the next version.
    Merge(MergeArgs),
    /// Show each role's version and valid signatures against its thresholds.
    Status(Repo),
    /// Stage an unchanged role again: to extend its expiry, or for new keys to sign it.
    Renew(RenewArgs),
    /// Stage the next root with changed keys or thresholds; it needs a threshold of the old and
    /// of the new root keys before it can be published.
    RotateRoot(RotateRootArgs),
    /// Check every threshold and write the repository to DIR/metadata and DIR/targets, with a
    /// new snapshot and timestamp signed by the given keys.
    ///
    /// Nothing is written unless every staged role meets its thresholds (a new root: both the
    /// old and the new root's), every image is at hand, and the core verifier accepts the
    /// result. Layout: metadata/N.root.json (all versions kept), metadata/V.ROLE.json,
    /// metadata/V.snapshot.json, metadata/timestamp.json, targets/DIR/HASH.BASENAME once per
    /// listed hash. Publishing with nothing staged renews snapshot and timestamp.
    ///
    /// With --server URL --token TOKEN the release goes to a running Image repository service
    /// instead: images it does not hold yet (with a progress bar), then each new root version,
    /// then Targets roles, delegators first. The service signs snapshot and timestamp. A refusal
    /// is printed with the service's error code and message (exit 1); what it accepted before
    /// stays published, and running the command again resumes. Afterwards DIR/metadata and
    /// DIR/targets mirror what the service serves.
    Publish(PublishArgs),
    /// Verify the published repository as a vehicle would, and every stored image copy.
    ///
    /// Runs the Uptane verifier from a trusted root through the root chain, timestamp,
    /// snapshot, targets and every delegated role, resolves every target through the
    /// delegations (paths and hardware ids), and checks each stored image copy's length and all
    /// its hashes. Exits 1 on any problem, naming the attack it would be (e.g.
    /// arbitrary_software, rollback, freeze, mix_and_match, endless_data).
    Verify(VerifyArgs),
    /// Show when each role expires; exit 3 if anything published expires soon.
    ///
    /// Exit 0: nothing published expires within --warn-within; exit 3: something does (or has
    /// expired), listed in `warnings`. Staged roles are shown but never warned about.
    Expiry(ExpiryArgs),
    /// Print the canonical JSON signatures are computed over.
    ///
    /// OLPC canonical JSON as securesystemslib writes it: keys sorted by code point, no
    /// whitespace, only '"' and '\' escaped, integers only. Printed raw, without a newline.
    Canonical(CanonicalArgs),
}

/// Runs a parsed command, printing its result; the outcome decides the exit code.
pub fn run(cli: Cli) -> Result<Outcome> {
    let json = cli.json;
    match cli.command {
        Command::GenKey(a) => {
            let keytype = match a.keytype {
                KeyTypeArg::Ed25519 => KeyType::Ed25519,
                KeyTypeArg::EcdsaP256 => KeyType::EcdsaP256,
            };
            let key = keys::generate(keytype, &a.out)?;
            Ok(emit(&key, json))
        }
        Command::Init(a) => {
            let options = InitOptions {
                kind: a.kind,
                root: RoleSpec::read("root", &a.root_keys, a.root_threshold)?,
                targets: RoleSpec::read("targets", &a.targets_keys, a.targets_threshold)?,
                snapshot: RoleSpec::read("snapshot", &a.snapshot_keys, a.snapshot_threshold)?,
                timestamp: RoleSpec::read("timestamp", &a.timestamp_keys, a.timestamp_threshold)?,
                time: if a.time_keys.is_empty() {
                    None
                } else {
                    Some(RoleSpec::read(TIME, &a.time_keys, a.time_threshold)?)
                },
                expires: a.expires,
            };
            Ok(emit(&init(&a.repo.repo, options)?, json))
        }
        Command::AddTarget(a) => {
            let target = NewTarget {
                file: a.file,
                path: a.path,
                hardware_ids: a.hardware_ids,
                release_counter: a.release_counter,
            };
            let options = EditOptions { expires: a.expires, renew: false };
            let report = add_target(&open(&a.repo)?, &a.role, &target, options)?;
            Ok(emit(&report, json))
        }
        Command::RemoveTarget(a) => {
            let report = remove_target(&open(&a.repo)?, &a.role, &a.path, EditOptions::default())?;
            Ok(emit(&report, json))
        }
        Command::Delegate(a) => {
            let delegation = NewDelegation {
                name: a.name,
                from: a.from,
                keys: keys::read_all(&a.keys)?,
                threshold: a.threshold,
                paths: a.paths,
                hardware_ids: a.hardware_ids,
                terminating: a.terminating,
            };
            let role_options = EditOptions { expires: a.expires, renew: true };
            let report =
                delegate(&open(&a.repo)?, &delegation, EditOptions::default(), role_options)?;
            Ok(emit(&report, json))
        }
        Command::Sign(a) => {
            let keys = read_private(&a.keys)?;
            Ok(emit(&sign::sign(&open(&a.repo)?, &a.role, &keys)?, json))
        }
        Command::Merge(a) => {
            let workspace = open(&a.repo)?;
            let mut reports = Vec::new();
            for file in &a.files {
                reports.push(sign::merge(&workspace, &a.role, file, a.replace)?);
            }
            Ok(emit(&Many(reports), json))
        }
        Command::Status(repo) => Ok(emit(&status::status(&open(&repo)?)?, json)),
        Command::Renew(a) => {
            let keys = read_private(&a.keys)?;
            Ok(emit(&renew(&open(&a.repo)?, &a.role, a.expires, &keys)?, json))
        }
        Command::RotateRoot(a) => {
            let change = |keys, threshold| RoleChange { keys, threshold };
            let rotation = Rotation {
                root: change(a.root_keys, a.root_threshold),
                targets: change(a.targets_keys, a.targets_threshold),
                snapshot: change(a.snapshot_keys, a.snapshot_threshold),
                timestamp: change(a.timestamp_keys, a.timestamp_threshold),
                time: change(a.time_keys, a.time_threshold),
                expires: a.expires,
            };
            Ok(emit(&rotate_root(&open(&a.repo)?, &rotation)?, json))
        }
        Command::Publish(a) => {
            if let Some(url) = a.server {
                let options = ServerOptions {
                    url,
                    token: a.token.unwrap_or_default(),
                    ca: a.ca,
                    progress: !json,
                };
                return Ok(emit(&push(&open(&a.repo)?, &options)?, json));
            }
            let options = PublishOptions {
                snapshot_keys: read_private(&a.snapshot_keys)?,
                timestamp_keys: read_private(&a.timestamp_keys)?,
                snapshot_expires: a.snapshot_expires,
                timestamp_expires: a.timestamp_expires,
            };
            Ok(emit(&publish(&open(&a.repo)?, &options)?, json))
        }
        Command::Verify(a) => {
            Ok(emit(&crate::verify::verify(&a.repo.repo, a.root.as_deref())?, json))
        }
        Command::Expiry(a) => {
            Ok(emit(&expiry::expiry(&a.repo.repo, a.warn_within, a.offline_only)?, json))
        }
        Command::Canonical(a) => run_canonical(&a),
    }
}

fn open(repo: &Repo) -> Result<Workspace> {
    Workspace::open(&repo.repo)
}

fn read_private(paths: &[std::path::PathBuf]) -> Result<Vec<uptane::crypto::PrivateKey>> {
    paths.iter().map(|p| keys::read_private(p)).collect()
}

fn run_canonical(args: &CanonicalArgs) -> Result<Outcome> {
    let mut stdout = std::io::stdout().lock();
    let written = if let Some(batch) = &args.batch {
        let results = canonical::batch(&read_input(batch)?)?;
        serde_json::to_writer(&mut stdout, &results).map_err(std::io::Error::from)
    } else {
        let file = args.file.as_deref().unwrap_or(Path::new("-"));
        stdout.write_all(&canonical::canonical(&read_input(file)?, args.whole)?)
    };
    written.and_then(|()| stdout.flush()).map_err(|e| Error::io(Path::new("<stdout>"), e))?;
    Ok(Outcome::Ok)
}

/// A file, or stdin for `-`.
fn read_input(path: &Path) -> Result<Vec<u8>> {
    if path == Path::new("-") {
        let mut bytes = Vec::new();
        std::io::stdin().read_to_end(&mut bytes).map_err(|e| Error::io(path, e))?;
        return Ok(bytes);
    }
    crate::fsutil::read(path)
}

/// Several reports of one kind (one per merged file).
#[derive(Debug, Serialize)]
#[serde(transparent)]
struct Many<R>(Vec<R>);

impl<R: Report> Report for Many<R> {
    fn human(&self) -> String {
        self.0.iter().map(Report::human).collect()
    }
}

impl Report for GeneratedKey {
    fn human(&self) -> String {
        let public = serde_json::to_string(&self.public_key).unwrap_or_default();
        format!(
            "key id      {}\nprivate key {} (mode 0600, keep it offline)\npublic key  {}\n{public}\n",
            self.key_id,
            self.private_key_file.display(),
            self.public_key_file.display()
        )
    }
}
