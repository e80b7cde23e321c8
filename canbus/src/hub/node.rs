//! A node's handle on the hub: its controller, transmit and receive queues.

use std::sync::{Arc, Condvar, MutexGuard, PoisonError};
use std::thread::{self, ThreadId};
use std::time::{Duration, Instant};

use super::engine::{Deadline, Engine, FlushState, WaitKind};
use super::filter::Filter;
use super::stats::NodeStats;
use super::{ClockMode, Shared};
use crate::Error;
use crate::frame::CanFrame;
use crate::link::{CanLink, Received};
use crate::time::Timestamp;

/// One controller on the hub. `Send + Sync`; blocking calls are meant for one thread at a time
/// (see the scheduling rule in [`crate::hub`]). Dropping it detaches it from the bus.
#[derive(Debug)]
pub struct Node {
    shared: Arc<Shared>,
    index: usize,
    condvar: Arc<Condvar>,
}

impl Node {
    pub(super) fn attach(shared: Arc<Shared>) -> Result<Self, Error> {
        let condvar = Arc::new(Condvar::new());
        let index = {
            let mut engine = shared.lock();
            if engine.is_closed() {
                return Err(Error::Closed);
            }
            shared.catch_up(&mut engine);
            engine.attach(Arc::clone(&condvar))
        };
        Ok(Self { shared, index, condvar })
    }

    fn lock(&self) -> MutexGuard<'_, Engine> {
        let mut engine = self.shared.lock();
        self.shared.catch_up(&mut engine);
        engine
    }

    /// Locks the bus on behalf of the calling thread, which from now on holds the clock for
    /// this node until it blocks (see [`crate::hub`]).
    fn lock_as_user(&self, me: ThreadId) -> MutexGuard<'_, Engine> {
        let mut engine = self.lock();
        engine.claim(self.index, me);
        engine
    }

    /// Runs `attempt` until it produces a result, blocking on the bus in between. `attempt`
    /// is told whether the wait's deadline has passed.
    fn wait_for<T>(
        &self,
        kind: WaitKind,
        deadline: Deadline,
        mut attempt: impl FnMut(&mut Engine, bool) -> Option<Result<T, Error>>,
    ) -> Result<T, Error> {
        let me = thread::current().id();
        let mut engine = self.lock_as_user(me);
        if engine.is_closed() {
            return Err(Error::Closed);
        }
        let since = engine.now();
        let expired = engine.expired(self.index, deadline, since);
        if let Some(result) = attempt(&mut engine, expired) {
            return result;
        }
        let lockstep = self.shared.lockstep();
        if lockstep {
            engine.release_thread(me);
            engine.clear_busy(self.index);
        }
        let mut wait = engine.add_wait(self.index, me, kind, deadline, since);
        loop {
            if engine.is_woken(wait) {
                engine.remove_wait(wait);
                engine.set_busy(self.index, me);
                if engine.is_closed() {
                    return Err(Error::Closed);
                }
                let expired = engine.expired(self.index, deadline, since);
                if let Some(result) = attempt(&mut engine, expired) {
                    return result;
                }
                // Woken for something another thread consumed: wait again.
                engine.clear_busy(self.index);
                wait = engine.add_wait(self.index, me, kind, deadline, since);
            }
            engine = if !lockstep {
                self.wait_on_condvar(engine, Some(Duration::from_millis(100)))
            } else if engine.busy_count() > 0 {
                self.wait_on_condvar(engine, None)
            } else if let Some(at) = engine.next_event() {
                let ahead = match self.shared.clock {
                    ClockMode::Paced => {
                        self.shared.wall(at).saturating_duration_since(Instant::now())
                    }
                    _ => Duration::ZERO,
                };
                if ahead.is_zero() {
                    engine.step(at, Some(me));
                    engine
                } else {
                    self.wait_on_condvar(engine, Some(ahead))
                }
            } else {
                // Nothing will ever happen unless another thread acts.
                self.wait_on_condvar(engine, None)
            };
            self.shared.catch_up(&mut engine);
        }
    }

    fn wait_on_condvar<'a>(
        &self,
        engine: MutexGuard<'a, Engine>,
        timeout: Option<Duration>,
    ) -> MutexGuard<'a, Engine> {
        match timeout {
            Some(timeout) => self
                .condvar
                .wait_timeout(engine, timeout)
                .map(|(guard, _)| guard)
                .unwrap_or_else(|poisoned| poisoned.into_inner().0),
            None => self.condvar.wait(engine).unwrap_or_else(PoisonError::into_inner),
        }
    }

    /// The bus's clock.
    pub fn now(&self) -> Timestamp {
        self.lock_as_user(thread::current().id()).now()
    }

    /// Queues `frame` to start at least `gap` after this node's previous frame ended. Blocks
    /// while the transmit queue is full; fails with [`Error::TxTimeout`] after `timeout` without
    /// one of this node's frames going out, or [`Error::BusOff`].
    pub fn send(&self, frame: &CanFrame, gap: Duration, timeout: Duration) -> Result<(), Error> {
        let shared = &*self.shared;
        let index = self.index;
        self.wait_for(WaitKind::Space, Deadline::Stall(timeout), |engine, expired| {
            match engine.try_enqueue(index, frame, gap) {
                Ok(true) => {
                    // In lockstep the sender holds the clock and schedules when it blocks; the
                    // free-running driver must be told.
                    if !shared.lockstep() {
                        shared.kick(engine);
                    }
                    Some(Ok(()))
                }
                Ok(false) => expired.then_some(Err(Error::TxTimeout { timeout })),
                Err(error) => Some(Err(error)),
            }
        })
    }

    /// Waits until this node's queued frames are all sent; returns when the last one ended.
    pub fn flush(&self, timeout: Duration) -> Result<Timestamp, Error> {
        let index = self.index;
        self.wait_for(WaitKind::Flush, Deadline::Stall(timeout), |engine, expired| {
            match engine.flush_state(index) {
                Ok(FlushState::Done(at)) => Some(Ok(at)),
                Ok(FlushState::BusOff) => Some(Err(Error::BusOff)),
                Ok(FlushState::Pending) => expired.then_some(Err(Error::TxTimeout { timeout })),
                Err(error) => Some(Err(error)),
            }
        })
    }

    /// Queues one frame and waits until it is sent; returns when it ended.
    pub fn transmit(&self, frame: &CanFrame, timeout: Duration) -> Result<Timestamp, Error> {
        self.send(frame, Duration::ZERO, timeout)?;
        self.flush(timeout)
    }

    /// The next received frame, waiting until `deadline` (`None`: forever). `Ok(None)` when the
    /// deadline passed first.
    pub fn recv(&self, deadline: Option<Timestamp>) -> Result<Option<Received>, Error> {
        let index = self.index;
        let deadline = deadline.map_or(Deadline::None, Deadline::At);
        self.wait_for(WaitKind::Recv, deadline, |engine, expired| match engine.take_rx(index) {
            Ok(Some(received)) => Some(Ok(Some(received))),
            Ok(None) => expired.then_some(Ok(None)),
            Err(error) => Some(Err(error)),
        })
    }

    /// A received frame if one is queued, without waiting.
    pub fn try_recv(&self) -> Result<Option<Received>, Error> {
        self.lock_as_user(thread::current().id()).take_rx(self.index)
    }

    /// Waits until the bus clock reads `until`.
    pub fn sleep_until(&self, until: Timestamp) -> Result<(), Error> {
        self.wait_for(WaitKind::Sleep, Deadline::At(until), |_, expired| expired.then_some(Ok(())))
    }

    /// Drops the frames queued but not yet on the wire.
    pub fn abort_tx(&self) -> Result<(), Error> {
        self.lock_as_user(thread::current().id()).abort_tx(self.index)
    }

    /// Replaces the acceptance filters. An empty list receives nothing.
    pub fn set_filters(&self, filters: Vec<Filter>) -> Result<(), Error> {
        self.lock().set_filters(self.index, filters)
    }

    /// This node's counters.
    pub fn stats(&self) -> Result<NodeStats, Error> {
        self.lock().node_stats(self.index)
    }

    /// Makes the lockstep clock wait for this node's next blocking call. Call it before handing
    /// the node to a thread that will serve it, so no frame or timer runs ahead of that thread's
    /// first `recv` however late the OS starts it (see [`crate::hub`]).
    pub fn hold(&self) {
        self.lock().pin(self.index);
    }

    /// Tells the lockstep scheduler this node's thread is done reacting: the clock may move on
    /// without waiting for its next blocking call. Needed before the thread blocks on something
    /// other than the hub while keeping the node (see [`crate::hub`]).
    pub fn release(&self) {
        let mut engine = self.lock();
        engine.clear_busy(self.index);
        self.shared.kick(&engine);
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        let mut engine = self.shared.lock();
        engine.detach(self.index);
        self.shared.kick(&engine);
    }
}

impl CanLink for Node {
    fn now(&self) -> Timestamp {
        Node::now(self)
    }

    fn send(&mut self, frame: &CanFrame, gap: Duration, timeout: Duration) -> Result<(), Error> {
        Node::send(self, frame, gap, timeout)
    }

    fn flush(&mut self, timeout: Duration) -> Result<Timestamp, Error> {
        Node::flush(self, timeout)
    }

    fn recv(&mut self, deadline: Option<Timestamp>) -> Result<Option<Received>, Error> {
        Node::recv(self, deadline)
    }

    fn sleep_until(&mut self, until: Timestamp) -> Result<(), Error> {
        Node::sleep_until(self, until)
    }

    fn abort_tx(&mut self) {
        // Only fails for a detached node, which has nothing queued.
        let _ = Node::abort_tx(self);
    }
}

/// The `embedded-can` view: transmit waits for the frame to be sent (at most one second, the
/// usual N_As), receive waits for the next frame.
impl embedded_can::blocking::Can for Node {
    type Frame = CanFrame;
    type Error = Error;

    fn transmit(&mut self, frame: &CanFrame) -> Result<(), Error> {
        Node::transmit(self, frame, Duration::from_secs(1)).map(drop)
    }

    fn receive(&mut self) -> Result<CanFrame, Error> {
        loop {
            if let Some(received) = Node::recv(self, None)? {
                return Ok(received.frame);
            }
        }
    }
}
