//! Command results: text for people, one JSON document (`--json`) for scripts, and the
//! outcome that decides the exit code.

use serde::Serialize;

/// How a command ended, beyond success or error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Exit 0.
    Ok,
    /// Exit 1: the command ran, and what it checked failed (`verify`).
    Failed,
    /// Exit 3: something expires within the warning window (`expiry`).
    ExpiresSoon,
}

impl Outcome {
    pub fn exit_code(self) -> u8 {
        match self {
            Outcome::Ok => 0,
            Outcome::Failed => 1,
            Outcome::ExpiresSoon => 3,
        }
    }
}

/// The result of a command.
pub trait Report: Serialize {
    /// The text shown without `--json`.
    fn human(&self) -> String;

    fn outcome(&self) -> Outcome {
        Outcome::Ok
    }
}

/// Prints `report` on stdout as text or JSON and returns its outcome.
pub fn emit(report: &impl Report, json: bool) -> Outcome {
    if json {
        match serde_json::to_string_pretty(report) {
            Ok(text) => println!("{text}"),
            Err(e) => tracing::error!("cannot encode the report: {e}"),
        }
    } else {
        print!("{}", report.human());
    }
    report.outcome()
}
