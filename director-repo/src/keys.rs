//! The online keys (targets, snapshot, timestamp, time): given as files, or generated on first
//! start into DATA/keys (mode 0600). Signing goes through `uptane::crypto::Signer`, so an HSM
//! can stand in.

use std::sync::Arc;

pub use service_kit::keys::write_private;
use uptane::crypto::Signer;

use crate::config::Config;
use crate::error::Result;

/// The service's online signers.
#[derive(Clone)]
pub struct OnlineKeys {
    pub targets: Arc<dyn Signer>,
    pub snapshot: Arc<dyn Signer>,
    pub timestamp: Arc<dyn Signer>,
    pub time: Arc<dyn Signer>,
}

impl std::fmt::Debug for OnlineKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OnlineKeys")
            .field("targets", &self.targets.key_id())
            .field("snapshot", &self.snapshot.key_id())
            .field("timestamp", &self.timestamp.key_id())
            .field("time", &self.time.key_id())
            .finish()
    }
}

impl OnlineKeys {
    /// Loads the configured keys, or the ones in DATA/keys, generating those on first start,
    /// and writes each public key as DATA/keys/NAME.pub.json.
    pub fn load_or_generate(config: &Config) -> Result<OnlineKeys> {
        let [targets, snapshot, timestamp, time] = service_kit::keys::load_or_generate(
            &config.dir("keys"),
            [
                ("targets", config.targets_key.as_deref()),
                ("snapshot", config.snapshot_key.as_deref()),
                ("timestamp", config.timestamp_key.as_deref()),
                ("time", config.time_key.as_deref()),
            ],
        )?;
        Ok(OnlineKeys {
            targets: Arc::new(targets),
            snapshot: Arc::new(snapshot),
            timestamp: Arc::new(timestamp),
            time: Arc::new(time),
        })
    }

    /// Each key with its name (`targets`, `snapshot`, `timestamp`, `time`).
    pub fn named(&self) -> [(&'static str, &dyn Signer); 4] {
        [
            ("targets", &*self.targets),
            ("snapshot", &*self.snapshot),
            ("timestamp", &*self.timestamp),
            ("time", &*self.time),
        ]
    }
}
