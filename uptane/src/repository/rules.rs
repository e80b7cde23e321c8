//! Which rules a verifier applies: Uptane's (the default) or plain TUF 1.0's.

/// Limits and switches of one repository verifier.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rules {
    /// Uptane 5.2.5: the Timestamp must carry the Snapshot's hashes (TUF makes them optional).
    pub timestamp_lists_snapshot_hashes: bool,
    /// Every target and every listed MetaFile hash set includes sha256 (profile).
    pub require_sha256: bool,
    /// Root must say `consistent_snapshot: true` (profile).
    pub require_consistent_snapshot: bool,
    /// T4: a Targets version may not go below the previously trusted one (Uptane 5.4.4.6).
    pub targets_version_monotonic: bool,
    /// Every key id must be the SHA-256 of its canonical key (profile; tough). TUF does not
    /// require it, and real repositories (sigstore) break it.
    pub verify_key_ids: bool,
    /// Every target path must be a valid [`crate::names::TargetPath`] (profile, A20).
    pub validate_target_paths: bool,
    /// Byte limits before parsing (A11): root, timestamp, and snapshot/targets when their
    /// length is not listed.
    pub max_root_bytes: u64,
    pub max_timestamp_bytes: u64,
    pub max_snapshot_bytes: u64,
    pub max_targets_bytes: u64,
    /// Root versions walked in one cycle at most.
    pub max_root_rotations: u64,
    /// Delegated roles visited in one target lookup at most.
    pub max_delegations: usize,
}

impl Rules {
    /// The profile's rules, for the Image repository, the Director and every ECU.
    pub fn uptane() -> Rules {
        Rules {
            timestamp_lists_snapshot_hashes: true,
            require_sha256: true,
            require_consistent_snapshot: true,
            targets_version_monotonic: true,
            verify_key_ids: true,
            validate_target_paths: true,
            max_root_bytes: 512 * 1024,
            max_timestamp_bytes: 64 * 1024,
            max_snapshot_bytes: 2 * 1024 * 1024,
            max_targets_bytes: 8 * 1024 * 1024,
            max_root_rotations: 1024,
            max_delegations: 32,
        }
    }

    /// Plain TUF 1.0.x, as the TUF conformance suite expects: the Uptane-only rules off.
    pub fn tuf() -> Rules {
        Rules {
            timestamp_lists_snapshot_hashes: false,
            require_sha256: false,
            require_consistent_snapshot: false,
            targets_version_monotonic: false,
            verify_key_ids: false,
            validate_target_paths: false,
            ..Rules::uptane()
        }
    }
}

impl Default for Rules {
    fn default() -> Rules {
        Rules::uptane()
    }
}
