//! Verifying a TUF repository as Uptane requires: the trusted state machine and the client
//! workflow around it.

mod rules;
mod store;
mod trusted;
mod updater;

pub use rules::Rules;
pub use store::{DirStore, MemStore, Store, role_file_name, write_atomically};
pub use trusted::{TimestampUpdate, Trusted, TrustedSet};
pub use updater::{Fetch, FoundTarget, Refresh, Updater, walk_root_chain};
