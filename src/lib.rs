//! The umbrella crate: composes the workspace into `demo` (the whole system end to end, in
//! one process) and `serve` (both repository services for real use).

pub mod ceremony;
pub mod demo;
pub mod serve;
pub mod services;
pub mod system;
