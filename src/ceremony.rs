//! The offline side, with keytool's own library, echoed as a release engineer would type it:
//! the Image repository's root and targets keys, and the Director root that names the
//! Director's online keys and its time-attestation key (`time_attestation`, uptane-profile.md).

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use clap::Parser;

/// Runs keytool commands in-process.
#[derive(Debug, Clone)]
pub struct Keytool {
    /// Paths under it are shown relative to it.
    pub base: PathBuf,
}

impl Keytool {
    /// Runs one command, echoing it first; keytool prints its own report.
    pub fn run(&self, args: &[&str]) -> Result<()> {
        let prefix = format!("{}/", self.base.display());
        let shown: Vec<&str> = args.iter().map(|a| a.strip_prefix(&prefix).unwrap_or(a)).collect();
        println!("$ keytool {}", shown.join(" "));
        let cli = keytool::cli::Cli::try_parse_from(
            std::iter::once("keytool").chain(args.iter().copied()),
        )?;
        let outcome = keytool::cli::run(cli).with_context(|| format!("keytool {}", args[0]))?;
        if outcome.exit_code() != 0 {
            bail!("keytool {} exited {}", args[0], outcome.exit_code());
        }
        Ok(())
    }

    /// `gen-key` for each name not generated yet: DIR/NAME.pem and DIR/NAME.pub.json.
    pub fn gen_keys(&self, dir: &Path, names: &[&str]) -> Result<()> {
        std::fs::create_dir_all(dir)?;
        for name in names {
            let key = dir.join(format!("{name}.pem"));
            if !key.exists() {
                self.run(&["gen-key", "--out", &text(&key)])?;
            }
        }
        Ok(())
    }

    /// `init` of an Image repository workspace: offline root and targets keys from `keys`,
    /// snapshot and timestamp the Image repository service's online keys (`online`).
    pub fn init_image(&self, workspace: &Path, keys: &Path, online: &Path) -> Result<()> {
        self.run(&[
            "init",
            "--repo",
            &text(workspace),
            "--kind",
            "image",
            "--root-key",
            &text(&keys.join("image-root.pem")),
            "--targets-key",
            &text(&keys.join("image-targets.pem")),
            "--snapshot-key",
            &text(&online.join("snapshot.pub.json")),
            "--timestamp-key",
            &text(&online.join("timestamp.pub.json")),
        ])
    }

    /// The Director root ceremony: the Director's online keys (`online`, from its key
    /// directory) and its time key listed, signed with the offline `director-root` key;
    /// returns the published `1.root.json` to upload.
    pub fn director_root(&self, workspace: &Path, keys: &Path, online: &Path) -> Result<PathBuf> {
        let published = workspace.join("metadata/1.root.json");
        if published.exists() {
            return Ok(published);
        }
        let online_key = |role: &str| text(&online.join(format!("{role}.pub.json")));
        self.run(&[
            "init",
            "--repo",
            &text(workspace),
            "--kind",
            "director",
            "--root-key",
            &text(&keys.join("director-root.pub.json")),
            "--targets-key",
            &online_key("targets"),
            "--snapshot-key",
            &online_key("snapshot"),
            "--timestamp-key",
            &online_key("timestamp"),
            "--time-key",
            &online_key("time"),
        ])?;
        let root_key = text(&keys.join("director-root.pem"));
        self.run(&["sign", "--repo", &text(workspace), "--role", "root", "--key", &root_key])?;
        self.run(&["publish", "--repo", &text(workspace)])?;
        Ok(published)
    }
}

/// A path as a command-line argument.
pub fn text(path: &Path) -> String {
    path.display().to_string()
}
