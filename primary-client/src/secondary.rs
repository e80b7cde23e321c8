//! The Primary's view of its Secondaries (Standard 5.4.2.5-5.4.2.7): what it asks of each over
//! the in-vehicle network and what it hands each. The CAN implementation speaks the ECU
//! protocol over ISO-TP; tests use in-process doubles. Every Secondary verifies what it
//! receives itself (BP 7.3): nothing sent here is trusted by the receiver because the Primary
//! sent it.

use std::collections::BTreeMap;
use std::io::Read;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use uptane::Result;
use uptane::crypto::PublicKey;
use uptane::names::{EcuSerial, HardwareId};

/// How much of the metadata a Secondary verifies (Standard 5.4.4.1, 5.4.4.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Verification {
    /// Both repositories, every role.
    Full,
    /// The Director's Targets, checked with the Director Root.
    Partial,
}

/// One repository's metadata as the Primary trusts it: the exact bytes it accepted.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RepoMetadata {
    /// Every Root version the Primary holds, by version, so a Secondary can walk the
    /// rotation chain from whatever version it trusts.
    pub roots: BTreeMap<u64, Vec<u8>>,
    pub timestamp: Option<Vec<u8>>,
    pub snapshot: Option<Vec<u8>>,
    /// Targets files by role name (`targets`, and delegated roles).
    pub targets: BTreeMap<String, Vec<u8>>,
}

/// What one cycle sends every Secondary: built once, so each receives the same bytes
/// (mixed-bundles, A9; BP 8.0.5).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MetadataBundle {
    pub director: RepoMetadata,
    pub image: RepoMetadata,
}

impl MetadataBundle {
    /// The part a Secondary of `mode` needs (Standard 5.4.2.6): everything for full
    /// verification; the Director Root chain and Targets for partial verification.
    pub fn for_mode(&self, mode: Verification) -> MetadataBundle {
        match mode {
            Verification::Full => self.clone(),
            Verification::Partial => MetadataBundle {
                director: RepoMetadata {
                    roots: self.director.roots.clone(),
                    targets: self.director.targets.clone(),
                    ..RepoMetadata::default()
                },
                image: RepoMetadata::default(),
            },
        }
    }
}

/// An image to hand over: its Targets path and length, and a reader of its verified bytes.
pub struct ImageTransfer<'a> {
    pub path: &'a str,
    pub length: u64,
    pub reader: &'a mut dyn Read,
}

impl std::fmt::Debug for ImageTransfer<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ImageTransfer")
            .field("path", &self.path)
            .field("length", &self.length)
            .finish()
    }
}

/// A Secondary ECU as the Primary reaches it. Each call is one exchange; an error aborts the
/// exchange with that Secondary only.
pub trait Secondary {
    fn serial(&self) -> &EcuSerial;
    fn hardware_id(&self) -> &HardwareId;
    fn verification(&self) -> Verification;
    /// The ECU key the Secondary signs its reports with (for registering it with the Director).
    fn public_key(&mut self) -> Result<PublicKey>;
    /// A signed ECU version report (as JSON; the Director verifies it) that echoes
    /// `challenge` (128-bit hex) as `primary_nonce` and carries the ECU's own fresh `nonce`,
    /// the one the time attestation must cover.
    fn version_report(&mut self, challenge: &str) -> Result<Value>;
    /// A time attestation over every ECU's nonce (Standard 5.4.2.5).
    fn send_time(&mut self, attestation: &[u8]) -> Result<()>;
    /// The metadata of this cycle (already cut to what the Secondary's mode needs).
    fn send_metadata(&mut self, metadata: &MetadataBundle) -> Result<()>;
    /// Streams an image; `progress` is called with the bytes acknowledged so far.
    fn send_image(&mut self, image: ImageTransfer<'_>, progress: &mut dyn FnMut(u64))
    -> Result<()>;
}

/// A borrowed Secondary is one too (so callers keep ownership between cycles).
impl<T: Secondary + ?Sized> Secondary for &mut T {
    fn serial(&self) -> &EcuSerial {
        (**self).serial()
    }
    fn hardware_id(&self) -> &HardwareId {
        (**self).hardware_id()
    }
    fn verification(&self) -> Verification {
        (**self).verification()
    }
    fn public_key(&mut self) -> Result<PublicKey> {
        (**self).public_key()
    }
    fn version_report(&mut self, challenge: &str) -> Result<Value> {
        (**self).version_report(challenge)
    }
    fn send_time(&mut self, attestation: &[u8]) -> Result<()> {
        (**self).send_time(attestation)
    }
    fn send_metadata(&mut self, metadata: &MetadataBundle) -> Result<()> {
        (**self).send_metadata(metadata)
    }
    fn send_image(
        &mut self,
        image: ImageTransfer<'_>,
        progress: &mut dyn FnMut(u64),
    ) -> Result<()> {
        (**self).send_image(image, progress)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn partial_secondaries_get_the_director_root_chain_and_targets_only() {
        let repo = |tag: &str| RepoMetadata {
            roots: BTreeMap::from([(1, format!("{tag}1").into_bytes()), (2, b"2".to_vec())]),
            timestamp: Some(b"ts".to_vec()),
            snapshot: Some(b"sn".to_vec()),
            targets: BTreeMap::from([("targets".into(), format!("{tag}t").into_bytes())]),
        };
        let bundle = MetadataBundle { director: repo("d"), image: repo("i") };
        assert_eq!(bundle.for_mode(Verification::Full), bundle);
        let partial = bundle.for_mode(Verification::Partial);
        assert_eq!(partial.director.roots, bundle.director.roots);
        assert_eq!(partial.director.targets, bundle.director.targets);
        assert_eq!(partial.director.timestamp, None);
        assert_eq!(partial.director.snapshot, None);
        assert_eq!(partial.image, RepoMetadata::default());
    }
}
