//! A configuration file: TOML whose keys are the long flag names (`data-dir = "/var/lib/..."`,
//! `insecure-http = true`). Precedence, highest first: flags, environment, file, defaults.
//!
//! clap knows only flags and environment, so each file entry that neither supplies becomes a
//! flag placed before the real ones.

use std::ffi::OsString;
use std::path::Path;

use clap::CommandFactory;

use super::Cli;

/// The flag and environment variable that name the file.
pub const FLAG: &str = "--config";
pub const ENV: &str = "DIRECTOR_REPO_CONFIG";

/// `args` (program name first) with the entries of the configuration file, if one is named,
/// inserted as flags after the program name.
pub fn with_file(
    args: Vec<OsString>,
    env: impl Fn(&str) -> Option<String>,
) -> Result<Vec<OsString>, String> {
    let named = args.windows(2).find(|w| w[0] == FLAG).map(|w| w[1].clone().into_string());
    let path = match named {
        Some(Ok(path)) => path,
        Some(Err(_)) => return Err("the --config path is not UTF-8".into()),
        None => match env(ENV) {
            Some(path) => path,
            None => return Ok(args),
        },
    };
    let entries = read(Path::new(&path))?;
    let command = Cli::command();
    let mut injected = Vec::new();
    for (key, value) in entries {
        let arg = command.get_arguments().find(|a| a.get_long() == Some(key.as_str())).ok_or_else(
            || format!("{path}: unknown setting {key:?} (settings are the long flag names)"),
        )?;
        let flag = format!("--{key}");
        let given = args
            .iter()
            .any(|a| a.to_str().is_some_and(|a| a == flag || a.starts_with(&format!("{flag}="))));
        let from_env =
            arg.get_env().and_then(|name| name.to_str()).is_some_and(|name| env(name).is_some());
        if given || from_env {
            continue;
        }
        match value {
            toml::Value::Boolean(true) => injected.push(OsString::from(flag)),
            toml::Value::Boolean(false) => {}
            toml::Value::String(text) => injected.extend([flag.into(), text.into()]),
            toml::Value::Integer(n) => injected.extend([flag.into(), n.to_string().into()]),
            other => {
                return Err(format!(
                    "{path}: {key}: expected a string, number or boolean, found {other}"
                ));
            }
        }
    }
    let mut args = args.into_iter();
    Ok(args.next().into_iter().chain(injected).chain(args).collect())
}

fn read(path: &Path) -> Result<toml::Table, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    text.parse::<toml::Table>().map_err(|e| format!("{}: {e}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

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
