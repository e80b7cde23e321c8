//! Persistent state: the inventory, manifests, assignments, the Director root and the signed
//! per-vehicle metadata.

mod db;
mod records;
pub mod schema;

pub use db::{AnyConnection, Backend, CounterUpdate, Db};
pub use records::{
    AssignmentRow, DONE, EcuRow, FAILED, InstalledRow, ManifestRow, MetadataRow, PENDING,
    VehicleRow,
};
