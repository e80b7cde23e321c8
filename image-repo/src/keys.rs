//! The online snapshot and timestamp keys: given as files, or generated on first start into
//! DATA/keys (mode 0600). Signing goes through `uptane::crypto::Signer`, so an HSM can stand in.

use std::sync::Arc;

pub use service_kit::keys::write_private;
use uptane::crypto::Signer;

use crate::config::Config;
use crate::error::Result;

/// The service's online signers.
#[derive(Clone)]
pub struct OnlineKeys {
    pub snapshot: Arc<dyn Signer>,
    pub timestamp: Arc<dyn Signer>,
}

impl std::fmt::Debug for OnlineKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OnlineKeys")
            .field("snapshot", &self.snapshot.key_id())
            .field("timestamp", &self.timestamp.key_id())
            .finish()
    }
}

impl OnlineKeys {
    /// Loads the configured keys, or the ones in DATA/keys, generating those on first start.
    pub fn load_or_generate(config: &Config) -> Result<OnlineKeys> {
        let [snapshot, timestamp] = service_kit::keys::load_or_generate(
            &config.dir("keys"),
            [
                ("snapshot", config.snapshot_key.as_deref()),
                ("timestamp", config.timestamp_key.as_deref()),
            ],
        )?;
        Ok(OnlineKeys { snapshot: Arc::new(snapshot), timestamp: Arc::new(timestamp) })
    }

    /// The signer of `role` (snapshot or timestamp).
    pub fn for_role(&self, role: &str) -> &dyn Signer {
        if role == "snapshot" { &*self.snapshot } else { &*self.timestamp }
    }
}
