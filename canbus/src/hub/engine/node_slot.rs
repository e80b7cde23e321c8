//! What the bus keeps per attached controller.

use std::collections::VecDeque;
use std::sync::{Arc, Condvar};
use std::thread::ThreadId;
use std::time::Duration;

use crate::frame::CanFrame;
use crate::hub::error_state::ErrorCounters;
use crate::hub::filter::Filter;
use crate::link::Received;
use crate::time::Timestamp;

/// A frame waiting in a node's transmit queue.
#[derive(Clone, Copy, Debug)]
pub(super) struct TxEntry {
    pub(super) frame: CanFrame,
    /// Minimum time after the node's previous frame finished (ISO-TP STmin).
    pub(super) gap: Duration,
    /// Set once a delay fault held the frame back; it is not delayed twice.
    pub(super) delayed_until: Option<Timestamp>,
}

/// One attached controller.
#[derive(Debug)]
pub(super) struct NodeSlot {
    pub(super) filters: Vec<Filter>,
    pub(super) tx: VecDeque<TxEntry>,
    pub(super) rx: VecDeque<Received>,
    /// One of this node's frames is on the wire.
    pub(super) in_flight: bool,
    /// End of EOF of its last successful frame.
    pub(super) last_tx_end: Option<Timestamp>,
    /// Error-passive pause after transmitting.
    pub(super) suspend_until: Timestamp,
    /// Set while bus-off: the instant it may rejoin.
    pub(super) bus_off_until: Option<Timestamp>,
    /// Bumped by `abort_tx`, so a frame aborted while on the wire is not retransmitted.
    pub(super) abort_epoch: u64,
    pub(super) counters: ErrorCounters,
    pub(super) tx_frames: u64,
    pub(super) tx_errors: u64,
    pub(super) rx_frames: u64,
    pub(super) rx_overflows: u64,
    /// Who runs on this node's behalf, so the lockstep clock waits for it.
    pub(super) busy: Option<Holder>,
    /// Where this node's waiting threads sleep.
    pub(super) condvar: Arc<Condvar>,
}

/// Who holds the lockstep clock for a node.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Holder {
    /// Held on purpose ([`crate::hub::Node::hold`]) until the node's next blocking call, typically
    /// while the thread that will serve it starts up.
    Pinned,
    /// This thread, woken by the bus or calling the node, has not blocked again yet.
    Thread(ThreadId),
}

impl NodeSlot {
    /// A controller that accepts every frame and has never sent.
    pub(super) fn new(condvar: Arc<Condvar>) -> Self {
        Self {
            filters: vec![Filter::ACCEPT_ALL],
            tx: VecDeque::new(),
            rx: VecDeque::new(),
            in_flight: false,
            last_tx_end: None,
            suspend_until: Timestamp::ZERO,
            bus_off_until: None,
            abort_epoch: 0,
            counters: ErrorCounters::default(),
            tx_frames: 0,
            tx_errors: 0,
            rx_frames: 0,
            rx_overflows: 0,
            busy: None,
            condvar,
        }
    }
}
