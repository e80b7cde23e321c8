//! The workspace operations behind the subcommands, usable as a library (fixtures can build
//! repositories the same way release engineers do).

pub mod canonical;
pub mod delegate;
pub mod expiry;
pub mod init;
pub mod roles;
pub mod rotate;
pub mod sign;
pub mod status;
pub mod targets;
