//! Persistent state: the database (published metadata, target index, uploads, tokens) and the
//! content-addressed blob store.

mod blobs;
mod db;
mod records;
pub mod schema;

pub use blobs::{BlobInfo, BlobStore, is_sha256_hex};
pub use db::{AnyConnection, Backend, Db};
pub use records::{MetadataRow, TargetRow, UploadRow};
