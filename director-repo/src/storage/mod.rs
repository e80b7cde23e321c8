//! Persistent state: the inventory, manifests, assignments, the Director root and the signed
//! per-vehicle metadata.

mod campaigns;
mod db;
mod provisioning;
mod records;
pub mod schema;
mod upkeep;

pub use db::{AnyConnection, Backend, CounterUpdate, Db};
pub use provisioning::ProvisioningRow;
pub use records::{
    AssignmentRow, CANCELLED, CampaignRow, CampaignVehicleRow, DONE, EcuRow, FAILED, HoldRow,
    IN_FLIGHT, InstalledRow, ManifestRow, MetadataRow, PENDING, VehicleRow,
};
