//! Counters for tests and the demo: what the bus carried and what went wrong.

use std::time::Duration;

use super::error_state::{ErrorCounters, ErrorState};

/// Bus-wide counters.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct BusStats {
    /// Frames transmitted successfully (including dropped ones and babble).
    pub frames: u64,
    /// Frames destroyed by a CRC error and answered with an error frame.
    pub error_frames: u64,
    /// Frames the fault plan dropped after transmission.
    pub dropped: u64,
    /// Frames the fault plan held back.
    pub delayed: u64,
    /// Frames sent by babbling nodes.
    pub babble_frames: u64,
    /// Total time the bus was busy (frames, error frames, intermissions).
    pub busy: Duration,
}

/// Per-node counters.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NodeStats {
    /// Frames this node transmitted successfully.
    pub tx_frames: u64,
    /// Transmission attempts that ended in an error frame.
    pub tx_errors: u64,
    /// Frames accepted into the receive queue.
    pub rx_frames: u64,
    /// Frames lost because the receive queue was full.
    pub rx_overflows: u64,
    /// Error counters.
    pub counters: ErrorCounters,
    /// Confinement state.
    pub state: ErrorState,
}
