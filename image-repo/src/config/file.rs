//! The service's configuration file (see [`service_kit::config`]): TOML whose keys are the
//! long flag names. Precedence, highest first: flags, environment, file, defaults.

use std::ffi::OsString;

use clap::CommandFactory;

use super::Cli;

/// The flag and environment variable that name the file.
pub use service_kit::config::FLAG;
pub const ENV: &str = "IMAGE_REPO_CONFIG";

/// `args` (program name first) with the entries of the configuration file, if one is named,
/// inserted as flags after the program name.
pub fn with_file(
    args: Vec<OsString>,
    env: impl Fn(&str) -> Option<String>,
) -> Result<Vec<OsString>, String> {
    service_kit::config::with_file(&Cli::command(), ENV, args, env)
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;
    use std::path::Path;

    /// The loader is tested in service-kit; here, that it is wired to this service's flags.
    #[test]
    fn this_services_flags_are_its_settings() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("image-repo.toml");
        std::fs::write(&path, "data-dir = \"/srv/x\"\ninsecure-http = true\n").unwrap();
        let argv =
            with_file(vec!["image-repo".into(), "--config".into(), path.into()], |_| None).unwrap();
        let cli = Cli::try_parse_from(argv).unwrap();
        assert_eq!(cli.config.data_dir, Path::new("/srv/x"));
        assert!(cli.config.insecure_http);
    }
}
