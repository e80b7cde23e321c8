//! The service's configuration file (see [`service_kit::config`]): TOML whose keys are the
//! long flag names. Precedence, highest first: flags, environment, file, defaults.

use std::ffi::OsString;

use clap::CommandFactory;

use super::Cli;

/// The flag and environment variable that name the file.
pub use service_kit::config::FLAG;
pub const ENV: &str = "DIRECTOR_REPO_CONFIG";

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

    fn parse(file: &str, args: &[&str], env: &[(&str, &str)]) -> Result<Cli, String> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("director-repo.toml");
        std::fs::write(&path, file).unwrap();
        let mut argv: Vec<OsString> =
            vec!["director-repo".into(), "--config".into(), path.clone().into()];
        argv.extend(args.iter().map(OsString::from));
        let env = |name: &str| env.iter().find(|(k, _)| *k == name).map(|(_, v)| v.to_string());
        let argv = with_file(argv, env)?;
        Cli::try_parse_from(argv).map_err(|e| e.to_string())
    }

    #[test]
    fn the_file_sets_what_flags_and_environment_leave_unset() {
        let file = "data-dir = \"/srv/director\"\nlisten = \"0.0.0.0:443\"\ninsecure-http = true\nworkers = 3\n";
        let cli = parse(file, &[], &[]).unwrap();
        assert_eq!(cli.config.data_dir, Path::new("/srv/director"));
        assert_eq!(cli.config.listen.port(), 443);
        assert!(cli.config.insecure_http);
        assert_eq!(cli.config.workers, 3);
        let cli = parse(file, &["--listen", "127.0.0.1:9000"], &[]).unwrap();
        assert_eq!(cli.config.listen.port(), 9000, "a flag beats the file");
    }

    #[test]
    fn the_environment_beats_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("director-repo.toml");
        std::fs::write(&path, "data-dir = \"/file\"\nworkers = 3\n").unwrap();
        let env = |name: &str| (name == "DIRECTOR_REPO_DATA_DIR").then(|| "/env".to_string());
        let argv =
            with_file(vec!["director-repo".into(), "--config".into(), path.into()], env).unwrap();
        assert!(!argv.contains(&OsString::from("--data-dir")), "{argv:?}");
        assert!(argv.contains(&OsString::from("--workers")), "{argv:?}");
    }

    #[test]
    fn unknown_settings_and_bad_files_are_refused() {
        assert!(parse("datadir = \"x\"", &[], &[]).unwrap_err().contains("unknown setting"));
        assert!(parse("listen = [1]", &[], &[]).is_err());
        assert!(parse("not toml", &[], &[]).is_err());
    }
}
