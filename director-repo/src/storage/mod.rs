//! Persistent state: the inventory, manifests, assignments, the Director root and the signed
//! per-vehicle metadata.

mod campaigns;
mod checkin;
mod db;
mod provisioning;
mod records;
mod reporting;
pub mod schema;
mod statement;
mod upkeep;

pub use checkin::{CounterUpdate, Inventory, InventoryEcu, PollState};
pub use db::{AnyConnection, Backend, Db};
pub use provisioning::ProvisioningRow;
pub use records::{
    AssignmentRow, CANCELLED, CampaignRow, CampaignVehicleRow, DONE, EcuRow, FAILED, HoldRow,
    IN_FLIGHT, InstalledRow, ManifestRow, MetadataRow, PENDING, VehicleRow, to_hex,
};
