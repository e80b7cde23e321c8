//! Threads blocked on the bus, and who holds the lockstep clock.
//!
//! A blocking call registers a [`Wait`]; after every event the engine wakes the waits whose
//! condition holds or whose deadline passed, and marks their nodes busy until their threads
//! block again. The lockstep clock only moves while no node is busy.

use std::thread::ThreadId;
use std::time::Duration;

use super::Engine;
use super::node_slot::Holder;
use crate::time::Timestamp;

/// What a blocked thread waits for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum WaitKind {
    /// A frame in the receive queue.
    Recv,
    /// An empty transmit queue.
    Flush,
    /// Room in the transmit queue (woken at half full, so a pipelining sender is woken once
    /// per half queue rather than once per frame).
    Space,
    /// Nothing but its deadline.
    Sleep,
}

/// When a wait gives up.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Deadline {
    /// Never.
    None,
    /// At this instant.
    At(Timestamp),
    /// After `timeout` without one of the node's frames being transmitted (N_As-style).
    Stall(Duration),
}

#[derive(Clone, Copy, Debug)]
pub(super) struct Wait {
    id: u64,
    node: usize,
    thread: ThreadId,
    kind: WaitKind,
    deadline: Deadline,
    /// For stall deadlines: the time the wait began.
    since: Timestamp,
    woken: bool,
}

impl Engine {
    pub(crate) fn busy_count(&self) -> usize {
        self.busy_count
    }

    pub(crate) fn set_busy(&mut self, node: usize, thread: ThreadId) {
        if let Some(Some(slot)) = self.nodes.get_mut(node) {
            if slot.busy.is_none() {
                self.busy_count += 1;
            }
            slot.busy = Some(Holder::Thread(thread));
        }
    }

    /// A thread is about to use `node`: unless someone already holds it, the thread does,
    /// until it blocks. (Without this a thread that sends on an idle node could be overtaken
    /// by the clock between two calls, and the run would depend on OS scheduling.)
    pub(crate) fn claim(&mut self, node: usize, thread: ThreadId) {
        if let Some(Some(slot)) = self.nodes.get_mut(node)
            && slot.busy.is_none()
        {
            slot.busy = Some(Holder::Thread(thread));
            self.busy_count += 1;
        }
    }

    /// Holds the clock for `node` until its next blocking call.
    pub(crate) fn pin(&mut self, node: usize) {
        if let Some(Some(slot)) = self.nodes.get_mut(node) {
            if slot.busy.is_none() {
                self.busy_count += 1;
            }
            slot.busy = Some(Holder::Pinned);
        }
    }

    pub(crate) fn clear_busy(&mut self, node: usize) {
        if let Some(Some(slot)) = self.nodes.get_mut(node)
            && slot.busy.take().is_some()
        {
            self.busy_count -= 1;
        }
    }

    /// A thread that blocks cannot be running on behalf of any node: release them all.
    pub(crate) fn release_thread(&mut self, thread: ThreadId) {
        for node in 0..self.nodes.len() {
            let held = Some(Holder::Thread(thread));
            if self.nodes[node].as_ref().is_some_and(|slot| slot.busy == held) {
                self.clear_busy(node);
            }
        }
    }

    /// Wakes every thread waiting on the bus, so one of them can run the scheduler.
    pub(crate) fn notify_waiters(&self) {
        for wait in &self.waits {
            if let Some(Some(slot)) = self.nodes.get(wait.node) {
                slot.condvar.notify_all();
            }
        }
    }

    pub(crate) fn add_wait(
        &mut self,
        node: usize,
        thread: ThreadId,
        kind: WaitKind,
        deadline: Deadline,
        since: Timestamp,
    ) -> u64 {
        let id = self.next_wait_id;
        self.next_wait_id += 1;
        self.waits.push(Wait { id, node, thread, kind, deadline, since, woken: false });
        id
    }

    pub(crate) fn remove_wait(&mut self, id: u64) {
        if let Some(index) = self.waits.iter().position(|wait| wait.id == id) {
            self.waits.swap_remove(index);
        }
    }

    pub(crate) fn is_woken(&self, id: u64) -> bool {
        self.waits.iter().find(|wait| wait.id == id).is_none_or(|wait| wait.woken)
    }

    /// The instant `deadline` falls at for `node`, for a wait that began at `since`.
    fn deadline_at(&self, node: usize, deadline: Deadline, since: Timestamp) -> Option<Timestamp> {
        match deadline {
            Deadline::None => None,
            Deadline::At(at) => Some(at),
            Deadline::Stall(timeout) => {
                let progress = self.slot(node).ok().and_then(|slot| slot.last_tx_end);
                Some(progress.map_or(since, |end| end.max(since)) + timeout)
            }
        }
    }

    /// The earliest deadline of a wait not yet woken.
    pub(super) fn next_deadline(&self) -> Option<Timestamp> {
        self.waits
            .iter()
            .filter(|wait| !wait.woken)
            .filter_map(|wait| self.deadline_at(wait.node, wait.deadline, wait.since))
            .min()
    }

    /// Forgets the waits of a detached node.
    pub(super) fn drop_waits(&mut self, node: usize) {
        self.waits.retain(|wait| wait.node != node);
    }

    /// True when `deadline`, for a wait that began at `since`, has passed.
    pub(crate) fn expired(&self, node: usize, deadline: Deadline, since: Timestamp) -> bool {
        self.deadline_at(node, deadline, since).is_some_and(|at| at <= self.now)
    }

    /// True when a wait's condition holds.
    fn satisfied(&self, wait: &Wait) -> bool {
        let Ok(slot) = self.slot(wait.node) else { return true };
        match wait.kind {
            WaitKind::Recv => !slot.rx.is_empty(),
            WaitKind::Flush => {
                slot.bus_off_until.is_some() || (slot.tx.is_empty() && !slot.in_flight)
            }
            WaitKind::Space => {
                slot.bus_off_until.is_some() || slot.tx.len() <= self.tx_capacity / 2
            }
            WaitKind::Sleep => false,
        }
    }

    /// Wakes the waits whose condition holds or whose deadline passed. True if any woke.
    /// The `stepper` thread is running this very step and needs no signal (a condvar signal is
    /// a system call, and the stepper is usually the thread the step woke).
    pub(super) fn check_waits(&mut self, stepper: Option<ThreadId>) -> bool {
        let mut woke = false;
        for index in 0..self.waits.len() {
            let wait = self.waits[index];
            if wait.woken {
                continue;
            }
            if self.closed
                || self.satisfied(&wait)
                || self.expired(wait.node, wait.deadline, wait.since)
            {
                self.waits[index].woken = true;
                self.set_busy(wait.node, wait.thread);
                if let Some(Some(slot)) = self.nodes.get(wait.node)
                    && stepper != Some(wait.thread)
                {
                    slot.condvar.notify_all();
                }
                woke = true;
            }
        }
        woke
    }
}
