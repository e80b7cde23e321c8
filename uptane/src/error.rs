//! One error type for the whole core, each variant naming the attack it stopped.
//!
//! The attack labels are the stable strings of the profile (§7): they appear in ECU version
//! reports (`attacks_detected_code`), in `primary-client check` output, and in tests.

use std::fmt;

use serde::{Deserialize, Serialize};

/// The attack a failed check defeated (profile §7). Failures that are no attack have none.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Attack {
    /// Forged, unsigned, tampered or malformed metadata or images (A1-A3, A17, A18, A20, A21).
    ArbitrarySoftware,
    /// Old metadata or an old image presented as new (A4, A5).
    Rollback,
    /// Stale, expired metadata or time (A6).
    Freeze,
    /// Another vehicle's Director metadata (A7).
    VinMismatch,
    /// Metadata that never coexisted (A8, A9).
    MixAndMatch,
    /// More bytes than the limit allows (A11).
    EndlessData,
    /// A transfer too slow to finish in time (A12).
    SlowRetrieval,
    /// An image for another hardware type (A16).
    HwIdMismatch,
}

impl Attack {
    /// The profile's stable label.
    pub fn label(self) -> &'static str {
        match self {
            Attack::ArbitrarySoftware => "arbitrary_software",
            Attack::Rollback => "rollback",
            Attack::Freeze => "freeze",
            Attack::VinMismatch => "vin_mismatch",
            Attack::MixAndMatch => "mix_and_match",
            Attack::EndlessData => "endless_data",
            Attack::SlowRetrieval => "slow_retrieval",
            Attack::HwIdMismatch => "hw_id_mismatch",
        }
    }

    /// Parses a label back (e.g. from a version report).
    pub fn from_label(label: &str) -> Option<Attack> {
        ALL_ATTACKS.into_iter().find(|a| a.label() == label)
    }
}

/// Every attack label, in the profile's order.
pub const ALL_ATTACKS: [Attack; 8] = [
    Attack::ArbitrarySoftware,
    Attack::Rollback,
    Attack::Freeze,
    Attack::VinMismatch,
    Attack::MixAndMatch,
    Attack::EndlessData,
    Attack::SlowRetrieval,
    Attack::HwIdMismatch,
];

impl fmt::Display for Attack {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.label())
    }
}

/// Why verification, parsing or signing failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    // --- structure (A20) ---
    #[error("{role}: malformed metadata: {reason}")]
    Malformed { role: String, reason: String },
    #[error("{role}: expected _type {expected:?}, found {found:?}")]
    WrongType { role: String, expected: String, found: String },
    #[error("{role}: unsupported spec_version {found:?}")]
    SpecVersion { role: String, found: String },
    #[error("key id {listed} does not match its key (computed {computed})")]
    KeyIdMismatch { listed: String, computed: String },
    #[error("invalid {what} {value:?}: {reason}")]
    InvalidName { what: &'static str, value: String, reason: &'static str },
    #[error("canonical JSON: {0}")]
    Canonical(String),
    #[error("key: {0}")]
    Key(String),

    // --- signatures (A1, A21) ---
    #[error("{role}: signatures list key id {keyid} more than once")]
    DuplicateSignature { role: String, keyid: String },
    #[error("{role}: {valid} valid signature(s) from trusted keys, threshold is {threshold}")]
    Threshold { role: String, valid: usize, threshold: u32 },

    // --- rollback (A4, A5) ---
    #[error("root: expected version {expected}, found {found}")]
    RootVersion { expected: u64, found: u64 },
    #[error("{role}: version {new} is lower than trusted version {trusted}")]
    VersionRollback { role: String, trusted: u64, new: u64 },
    #[error("{role}: {file} version {new} is lower than trusted version {trusted}")]
    MetaRollback { role: String, file: String, trusted: u64, new: u64 },
    #[error("snapshot: {file} was listed before and is missing now")]
    MetaRemoved { file: String },
    #[error("{target}: release counter {new} is lower than installed {installed}")]
    ReleaseCounterRollback { target: String, installed: u64, new: u64 },

    // --- freeze (A6) ---
    #[error("{role}: expired at {expires}")]
    Expired { role: String, expires: String },
    #[error("time attestation: {0}")]
    Time(String),

    // --- mix-and-match (A8, A9) ---
    #[error("{role}: version {found} differs from {expected} listed by {listed_by}")]
    MetaVersionMismatch { role: String, listed_by: String, expected: u64, found: u64 },
    #[error("{role}: {algorithm} hash differs from the one listed by {listed_by}")]
    MetaHashMismatch { role: String, listed_by: String, algorithm: String },
    #[error("{role}: not listed by {listed_by}")]
    NotListed { role: String, listed_by: String },
    #[error("{role}: length {found} differs from {expected} listed by {listed_by}")]
    MetaLengthMismatch { role: String, listed_by: String, expected: u64, found: u64 },

    // --- Director (A7, A17, A3, A16) ---
    #[error("Director targets carry delegations")]
    DirectorDelegates,
    #[error("Director targets name ECU {serial} more than once")]
    DuplicateEcu { serial: String },
    #[error("Director targets name ECU {serial}, which is not in this vehicle")]
    UnknownEcu { serial: String },
    #[error("Director targets are for VIN {found:?}, this vehicle is {expected}")]
    VinMismatch { expected: String, found: Option<String> },
    #[error("{target}: Director and Image repository disagree on {field}")]
    DirectorImageMismatch { target: String, field: &'static str },
    #[error("{target}: hardware id {ecu} of ECU {serial} is not among {listed:?}")]
    HardwareIdMismatch { target: String, serial: String, ecu: String, listed: Vec<String> },
    #[error("manifest lacks the report of ECU {serial}")]
    MissingReport { serial: String },
    #[error("{target}: no signed entry in {repository}")]
    TargetNotFound { target: String, repository: String },

    // --- images (A2, A11) ---
    #[error("{target}: {algorithm} hash of the image does not match")]
    ImageHash { target: String, algorithm: String },
    #[error("{target}: image is {found} bytes, metadata says {expected}")]
    ImageLength { target: String, expected: u64, found: u64 },
    #[error("{target}: no supported hash listed (need {required})")]
    NoUsableHash { target: String, required: &'static str },

    // --- transport (A11, A12, A22) ---
    #[error("{what}: more than {limit} bytes")]
    TooLarge { what: String, limit: u64 },
    #[error("{what}: transfer too slow: {detail}")]
    SlowRetrieval { what: String, detail: String },
    #[error("{what}: not found")]
    NotFound { what: String },
    #[error("{what}: {detail}")]
    Transport { what: String, detail: String },
    #[error("{what}: {source}")]
    Io { what: String, source: std::io::Error },
    #[error("{0}")]
    Other(String),
}

impl Error {
    /// The attack this failure defeated, if it was one.
    pub fn attack(&self) -> Option<Attack> {
        use Error::*;
        Some(match self {
            Malformed { .. }
            | WrongType { .. }
            | SpecVersion { .. }
            | KeyIdMismatch { .. }
            | InvalidName { .. }
            | Canonical(_)
            | Key(_)
            | DuplicateSignature { .. }
            | Threshold { .. }
            | DirectorDelegates
            | DuplicateEcu { .. }
            | UnknownEcu { .. }
            | DirectorImageMismatch { .. }
            | TargetNotFound { .. }
            | ImageHash { .. }
            | ImageLength { .. }
            | NoUsableHash { .. } => Attack::ArbitrarySoftware,
            RootVersion { .. }
            | VersionRollback { .. }
            | MetaRollback { .. }
            | MetaRemoved { .. }
            | ReleaseCounterRollback { .. } => Attack::Rollback,
            Expired { .. } | Time(_) => Attack::Freeze,
            MetaVersionMismatch { .. }
            | NotListed { .. }
            | MetaHashMismatch { .. }
            | MetaLengthMismatch { .. } => Attack::MixAndMatch,
            VinMismatch { .. } => Attack::VinMismatch,
            HardwareIdMismatch { .. } => Attack::HwIdMismatch,
            TooLarge { .. } => Attack::EndlessData,
            SlowRetrieval { .. } => Attack::SlowRetrieval,
            // A missing report is what a partial-bundle attack (A10) or a broken ECU looks like:
            // detected and recorded, not attributable.
            MissingReport { .. } | NotFound { .. } | Transport { .. } | Io { .. } | Other(_) => {
                return None;
            }
        })
    }

    pub(crate) fn malformed(role: impl Into<String>, reason: impl fmt::Display) -> Error {
        Error::Malformed { role: role.into(), reason: reason.to_string() }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
