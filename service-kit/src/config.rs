//! A configuration file: TOML whose keys are the long flag names (`data-dir = "/var/lib/..."`,
//! `insecure-http = true`). Precedence, highest first: flags, environment, file, defaults.
//!
//! clap knows only flags and environment, so each file entry that neither supplies becomes a
//! flag placed before the real ones.

use std::ffi::OsString;
use std::path::Path;

use chrono::Duration;

/// The flag that names the file (the environment variable is the service's own).
pub const FLAG: &str = "--config";

/// `args` (program name first) with the entries of the configuration file, if one is named by
/// `--config` or the environment variable `env_var`, inserted as flags after the program name.
/// `command` is the service's clap command, whose long flags are the settings.
pub fn with_file(
    command: &clap::Command,
    env_var: &str,
    args: Vec<OsString>,
    env: impl Fn(&str) -> Option<String>,
) -> Result<Vec<OsString>, String> {
    let named = args.windows(2).find(|w| w[0] == FLAG).map(|w| w[1].clone().into_string());
    let path = match named {
        Some(Ok(path)) => path,
        Some(Err(_)) => return Err("the --config path is not UTF-8".into()),
        None => match env(env_var) {
            Some(path) => path,
            None => return Ok(args),
        },
    };
    let entries = read(Path::new(&path))?;
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

/// The default number of HTTP workers: one per CPU core.
pub fn default_workers() -> usize {
    std::thread::available_parallelism().map_or(2, |n| n.get())
}

/// `90`, `90s`, `15m`, `12h`, `7d`.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let (number, unit) = match text.char_indices().find(|(_, c)| !c.is_ascii_digit()) {
        Some((i, _)) => text.split_at(i),
        None => (text, "s"),
    };
    let n: i64 = number.parse().map_err(|_| format!("{text:?} is not a duration like 12h"))?;
    let seconds = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86400,
        _ => return Err(format!("{text:?}: unit must be s, m, h or d")),
    };
    if n <= 0 {
        return Err(format!("{text:?}: must be positive"));
    }
    Ok(Duration::seconds(n * seconds))
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::{CommandFactory, Parser};
    use std::path::PathBuf;

    /// A service's flags, as the loader sees them.
    #[derive(Debug, Parser)]
    struct Cli {
        #[arg(long, env = "SVC_DATA_DIR", default_value = "data")]
        data_dir: PathBuf,
        #[arg(long, env = "SVC_LISTEN", default_value = "127.0.0.1:8443")]
        listen: std::net::SocketAddr,
        #[arg(long, env = "SVC_INSECURE_HTTP")]
        insecure_http: bool,
        #[arg(long, env = "SVC_WORKERS", default_value_t = 2)]
        workers: usize,
    }

    fn argv(file: &str, args: &[&str], env: &[(&str, &str)]) -> Result<Vec<OsString>, String> {
        let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
        let path = dir.path().join("svc.toml");
        std::fs::write(&path, file).map_err(|e| e.to_string())?;
        let mut argv: Vec<OsString> = vec!["svc".into(), "--config".into(), path.into()];
        argv.extend(args.iter().map(OsString::from));
        let env = |name: &str| env.iter().find(|(k, _)| *k == name).map(|(_, v)| v.to_string());
        with_file(
            &Cli::command().arg(clap::Arg::new("config").long("config")),
            "SVC_CONFIG",
            argv,
            env,
        )
    }

    fn parse(file: &str, args: &[&str]) -> Result<Cli, String> {
        Cli::command()
            .arg(clap::Arg::new("config").long("config"))
            .try_get_matches_from(argv(file, args, &[])?)
            .and_then(|m| <Cli as clap::FromArgMatches>::from_arg_matches(&m))
            .map_err(|e| e.to_string())
    }

    #[test]
    fn the_file_sets_what_flags_and_environment_leave_unset() {
        let file =
            "data-dir = \"/srv/x\"\nlisten = \"0.0.0.0:443\"\ninsecure-http = true\nworkers = 3\n";
        let cli = parse(file, &[]).unwrap();
        assert_eq!(cli.data_dir, Path::new("/srv/x"));
        assert_eq!(cli.listen.port(), 443);
        assert!(cli.insecure_http);
        assert_eq!(cli.workers, 3);
        let cli = parse(file, &["--listen", "127.0.0.1:9000"]).unwrap();
        assert_eq!(cli.listen.port(), 9000, "a flag beats the file");
    }

    #[test]
    fn the_environment_beats_the_file() {
        let argv =
            argv("data-dir = \"/file\"\nworkers = 3\n", &[], &[("SVC_DATA_DIR", "/env")]).unwrap();
        assert!(!argv.contains(&OsString::from("--data-dir")), "{argv:?}");
        assert!(argv.contains(&OsString::from("--workers")), "{argv:?}");
    }

    #[test]
    fn unknown_settings_and_bad_files_are_refused() {
        assert!(parse("datadir = \"x\"", &[]).unwrap_err().contains("unknown setting"));
        assert!(parse("listen = [1]", &[]).is_err());
        assert!(parse("not toml", &[]).is_err());
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("1d").unwrap(), Duration::days(1));
        assert_eq!(parse_duration("90").unwrap(), Duration::seconds(90));
        assert_eq!(parse_duration("12h").unwrap(), Duration::hours(12));
        assert!(parse_duration("0s").is_err());
        assert!(parse_duration("1w").is_err());
    }
}
