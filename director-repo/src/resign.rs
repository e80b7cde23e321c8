//! Re-signing before expiry (profile §4.2: per-vehicle versions strictly increase, expiry
//! refreshes included): a background task signs a new bundle for every vehicle whose newest
//! timestamp has less than half its lifetime left, so a vehicle that polls rarely still finds
//! metadata that is not about to expire, and its poll costs no signature. Several processes
//! may run it at once: the database key lets only one of them issue each version.

use chrono::Utc;
use uptane::metadata::format_time;

use crate::error::Result;
use crate::state::AppState;

/// Vehicles re-signed per database round.
const BATCH: i64 = 256;

/// Re-signs every vehicle bundle past half its lifetime (with the keys of the newest root).
/// Returns how many vehicles were re-signed.
pub fn resign_due(state: &AppState) -> Result<usize> {
    if state.sync_keys()?.is_none() {
        return Ok(0);
    }
    let cutoff = format_time(Utc::now() + state.config.metadata_lifetime / 2);
    let mut done = 0;
    loop {
        let due = state.db.timestamps_expiring(&cutoff, BATCH)?;
        let mut progressed = false;
        for vin in &due {
            let before = state.db.latest_metadata_version(vin, "timestamp")?;
            match crate::bundle::current(state, vin) {
                Ok(bundle) if Some(bundle.timestamp.version as i64) != before => {
                    state.metrics.count_resigned();
                    done += 1;
                    progressed = true;
                }
                Ok(_) => {}
                Err(e) => tracing::error!(vin, error = %e, "re-signing a vehicle's metadata"),
            }
        }
        // A batch that changed nothing (failures, or clock skew between processes) would be
        // found again: stop until the next round.
        if (due.len() as i64) < BATCH || !progressed {
            break;
        }
    }
    if done > 0 {
        tracing::info!(vehicles = done, "re-signed per-vehicle metadata before expiry");
    }
    Ok(done)
}
