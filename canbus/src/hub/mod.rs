//! The in-process hub: a broadcast CAN bus that nodes (handles, usually one per thread) attach
//! to, with a virtual clock driven by the frames on it.
//!
//! # Scheduling
//!
//! One scheduler (the private `engine` module) owns the bus: every node's transmit queue, arbitration among the
//! frames pending when the bus turns idle (lowest identifier first, see [`crate::arbitration`]),
//! the frame on the wire, and the timestamps receivers see. Nodes run in their own threads and
//! talk to it through blocking calls ([`Node::recv`], [`Node::flush`], ...).
//!
//! In the default [`ClockMode::Virtual`] the clock runs in *lockstep* with the nodes: it only
//! advances when no node is running. A thread that calls a node (to send, receive, read the
//! clock) or is woken by the bus (a frame arrived, a frame was sent, a timer fired) *holds*
//! the clock for that node until it blocks in the hub again, on any node. Reactions therefore
//! take zero virtual time and land at the instant that caused them, whatever the OS scheduler
//! does, which makes every run identical: the same frames at the same virtual nanoseconds. The
//! last thread to block runs the scheduler itself, so a transfer between two threads costs
//! about one thread switch per few dozen frames, not one per frame.
//!
//! The rules that follow:
//!
//! - A thread that stops serving a node without blocking on the hub (it returns, or goes off to
//!   join another thread or read a channel) must drop the node or call [`Node::release`]
//!   first, or the clock stops.
//! - A node handed to a new thread should be [`Node::hold`]-ed first: a held node keeps the
//!   clock until its next blocking call, so nothing runs ahead of that thread's first `recv`
//!   however late the OS starts it. (A node neither held nor used is simply not listening:
//!   frames queue up for it and time moves on, as on a real bus.)
//! - Computation between bus calls takes no virtual time. To model processing time, call
//!   [`Node::sleep_until`].
//!
//! ```
//! use std::thread;
//! use std::time::Duration;
//! use canbus::{CanFrame, Hub, HubConfig, id};
//!
//! let hub = Hub::new(HubConfig::default())?;
//! let ecu = hub.attach()?;
//! ecu.hold(); // the ECU's thread listens before anyone sends
//! let server = thread::spawn(move || -> Result<(), canbus::Error> {
//!     let request = ecu.recv(None)?.expect("a request");
//!     let reply = CanFrame::classic(id::standard(0x7E8)?, request.frame.data())?;
//!     ecu.transmit(&reply, Duration::from_secs(1))?;
//!     Ok(()) // dropping `ecu` lets the clock go
//! });
//! let tester = hub.attach()?;
//! let request = CanFrame::classic(id::standard(0x7E0)?, &[0x3E, 0x00])?;
//! let sent = tester.transmit(&request, Duration::from_secs(1))?;
//! let reply = tester.recv(None)?.expect("a reply");
//! // The reply starts as soon as the request's intermission ends: reactions take no time.
//! let bus = hub.timing();
//! assert_eq!(reply.timestamp, sent + (bus.frame_time(&request).duration
//!     - bus.frame_time(&request).until_eof) + bus.frame_time(&reply.frame).until_eof);
//! tester.release(); // about to join another thread: let the clock go
//! server.join().expect("server thread")?;
//! # Ok::<(), canbus::Error>(())
//! ```
//!
//! [`ClockMode::Paced`] is the same schedule slowed down so virtual time never runs ahead of
//! wall time (for a demo someone watches). [`ClockMode::RealTime`] frees the clock from the
//! nodes: it follows the wall clock and a driver thread moves frames on time, which is what the
//! hub daemon needs since its nodes live in other processes.

mod engine;
mod error_state;
mod filter;
mod node;
mod stats;

use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError, Weak};
use std::thread;
use std::time::{Duration, Instant};

use crate::Error;
use crate::fault::FaultPlan;
use crate::time::Timestamp;
use crate::timing::BusTiming;
use engine::Engine;

pub use error_state::{ErrorCounters, ErrorState};
pub use filter::Filter;
pub use node::Node;
pub use stats::{BusStats, NodeStats};

/// How the hub's clock relates to wall time.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum ClockMode {
    /// Lockstep virtual time, as fast as the CPU allows. Deterministic.
    #[default]
    Virtual,
    /// Lockstep virtual time, slowed so it never runs ahead of wall time. Deterministic order.
    Paced,
    /// Virtual time follows the wall clock; nodes are not waited for.
    RealTime,
}

/// Everything a hub is built from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HubConfig {
    /// Bit rates and stuffing.
    pub timing: BusTiming,
    /// Clock mode.
    pub clock: ClockMode,
    /// Faults to inject.
    pub faults: FaultPlan,
    /// Frames a node may queue for transmission before `send` blocks.
    pub tx_queue_len: usize,
    /// Frames a node's receive queue holds before new ones are lost (counted as overflows).
    pub rx_queue_len: usize,
}

impl Default for HubConfig {
    fn default() -> Self {
        Self {
            timing: BusTiming::default(),
            clock: ClockMode::Virtual,
            faults: FaultPlan::default(),
            tx_queue_len: 256,
            rx_queue_len: 4096,
        }
    }
}

impl HubConfig {
    /// The default configuration on a bus with this timing.
    pub fn with_timing(timing: BusTiming) -> Self {
        Self { timing, ..Self::default() }
    }
}

/// State shared by the hub handle, its nodes and (in real-time mode) the driver thread.
#[derive(Debug)]
struct Shared {
    engine: Mutex<Engine>,
    clock: ClockMode,
    /// Wall-clock instant of virtual time zero.
    epoch: Instant,
    /// Where the real-time driver sleeps.
    driver: Condvar,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Engine> {
        // A panic in another node's thread must not take the bus down for the others.
        self.engine.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn lockstep(&self) -> bool {
        self.clock != ClockMode::RealTime
    }

    /// The wall-clock instant at which virtual time `at` falls.
    fn wall(&self, at: Timestamp) -> Instant {
        self.epoch + at.since_epoch()
    }

    /// In real-time mode, brings the engine up to the wall clock.
    fn catch_up(&self, engine: &mut Engine) {
        if self.clock == ClockMode::RealTime {
            let elapsed = u64::try_from(self.epoch.elapsed().as_nanos()).unwrap_or(u64::MAX);
            engine.catch_up(Timestamp::from_nanos(elapsed));
        }
    }

    /// Makes sure someone runs the scheduler after a change made outside a blocking call.
    fn kick(&self, engine: &Engine) {
        if self.lockstep() {
            engine.notify_waiters();
        } else {
            self.driver.notify_all();
        }
    }
}

/// A handle on a bus. Cheap to clone; nodes keep the bus alive after the handle is dropped.
#[derive(Clone, Debug)]
pub struct Hub {
    shared: Arc<Shared>,
}

impl Hub {
    /// A new bus, idle at virtual time zero.
    pub fn new(config: HubConfig) -> Result<Self, Error> {
        if config.tx_queue_len == 0 || config.rx_queue_len == 0 {
            return Err(Error::InvalidConfig { reason: "queue lengths must be at least 1" });
        }
        let engine =
            Engine::new(config.timing, &config.faults, config.tx_queue_len, config.rx_queue_len);
        let shared = Arc::new(Shared {
            engine: Mutex::new(engine),
            clock: config.clock,
            epoch: Instant::now(),
            driver: Condvar::new(),
        });
        if config.clock == ClockMode::RealTime {
            let weak = Arc::downgrade(&shared);
            thread::Builder::new()
                .name("canbus-driver".into())
                .spawn(move || drive(&weak))
                .map_err(|source| Error::Io { context: "starting the bus driver", source })?;
        }
        Ok(Self { shared })
    }

    /// Attaches a new node that receives every frame (see [`Node::set_filters`]).
    pub fn attach(&self) -> Result<Node, Error> {
        Node::attach(Arc::clone(&self.shared))
    }

    /// The bus's clock.
    pub fn now(&self) -> Timestamp {
        let mut engine = self.shared.lock();
        self.shared.catch_up(&mut engine);
        engine.now()
    }

    /// The bus's timing.
    pub fn timing(&self) -> BusTiming {
        self.shared.lock().timing()
    }

    /// Bus-wide counters.
    pub fn stats(&self) -> BusStats {
        self.shared.lock().stats()
    }

    /// Closes the bus: blocked calls and all later ones fail with [`Error::Closed`].
    pub fn close(&self) {
        let mut engine = self.shared.lock();
        engine.close();
        self.shared.driver.notify_all();
    }
}

/// Moves frames on wall-clock time until the bus is closed or no handle is left.
fn drive(shared: &Weak<Shared>) {
    const POLL: Duration = Duration::from_millis(100);
    while let Some(shared) = shared.upgrade() {
        let mut engine = shared.lock();
        if engine.is_closed() {
            return;
        }
        shared.catch_up(&mut engine);
        let sleep = engine
            .next_event()
            .map_or(POLL, |at| shared.wall(at).saturating_duration_since(Instant::now()).min(POLL));
        drop(shared.driver.wait_timeout(engine, sleep).unwrap_or_else(PoisonError::into_inner));
    }
}
