//! The inventory a manifest is judged against: the vehicle's ECUs (keys, counters, installed
//! images) and its open assignments, read from the database or remembered from the vehicle's
//! last check-in. Remembering spares the next check-in a read and the parsing of every key,
//! and is safe however stale the memory: a manifest is applied only while the database still
//! holds the inventory it was judged against ([`crate::storage::Db::apply_manifest`]), and one
//! refused against a remembered inventory is judged again against the database.

use uptane::crypto::PublicKey;
use uptane::manifest::EcuKeys;
use uptane::names::EcuSerial;

use crate::error::{Error, Rejection, Rejections as _, Result};
use crate::state::AppState;
use crate::storage::{CounterUpdate, Inventory};

/// An inventory with its ECU keys parsed and its Primary found.
#[derive(Debug, Clone)]
pub struct Known {
    pub inventory: Inventory,
    pub keys: EcuKeys,
    pub primary: EcuSerial,
}

impl Known {
    /// The inventory of `vin` as the database holds it.
    pub fn read(state: &AppState, vin: &str) -> Result<Known> {
        let inventory = state.db.inventory(vin)?;
        if inventory.ecus.is_empty() {
            // Every registered vehicle has its Primary: this one is not registered.
            return Err(Rejection::unknown_vehicle(vin).into());
        }
        let mut keys = EcuKeys::new();
        let mut primary = None;
        for held in &inventory.ecus {
            let ecu = &held.ecu;
            let key: PublicKey = serde_json::from_str(&ecu.public_key)
                .map_err(|e| Error::Internal(format!("stored key of {}: {e}", ecu.serial)))?;
            let serial = EcuSerial::new(ecu.serial.as_str())?;
            if ecu.is_primary == 1 {
                primary = Some(serial.clone());
            }
            keys.insert(serial, key);
        }
        let primary =
            primary.ok_or_else(|| Error::Internal(format!("{vin} has no Primary ECU")))?;
        Ok(Known { inventory, keys, primary })
    }

    /// Becomes the inventory after a manifest that moved only `counters` on was applied.
    pub fn advance(&mut self, counters: &[CounterUpdate]) {
        for held in &mut self.inventory.ecus {
            if let Some(update) = counters.iter().find(|u| u.serial == held.ecu.serial) {
                held.ecu.last_counter = Some(update.counter);
                held.ecu.last_nonce = Some(update.nonce.clone());
            }
        }
    }
}
