//! A connection's mailbox: the FIFO of messages its task handles one per turn, the waker of
//! that task, its published counters and whether it finished, all in one allocation shared
//! with the connection's handles ([`ConnectionHandle`](super::handle::ConnectionHandle)).
//! Sending, waking and locking happen here; the sans-IO machine only sees messages.

use crate::proto::{
    write_size, ConnectionStats, DropObserver, DroppedWrite, Message, Messages, Phase,
};
use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicU8, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Wake, Waker};
use tokio::sync::futures::Notified;
use tokio::sync::Notify;

/// Everything a connection's task shares with its handles and its socket's readiness, in one
/// allocation: a connection is set up once per accept or connect, and several `Arc`s and a
/// channel (whose first block is allocated up front) cost more than the connection's own work.
#[derive(Default)]
pub(super) struct Shared {
    inbox: Mutex<Inbox>,
    /// Whether the inbox's queue holds messages: set with the lock held by whoever queues one,
    /// cleared with it held by the task as it takes the last. The task reads it without the
    /// lock, so its own messages and its empty polls of the mailbox need no lock (see
    /// [`Mailbox`]).
    queued: AtomicBool,
    stats: PublishedStats,
    /// [`RUNNING`], [`FINISHED`] or [`GONE`]; it leaves `RUNNING` once and never returns.
    state: AtomicU8,
    /// Wakes `finished()` waiters. One `Notify` rather than a `watch` channel: a connection
    /// finishes once, and a `watch` send and sender drop each wake eight internal `Notify`s.
    changed: Notify,
}

/// The mailbox proper, and the task to wake when a message or socket readiness arrives.
#[derive(Default)]
struct Inbox {
    queue: VecDeque<Message>,
    /// Set when the task winds up: later messages are refused (writes counted as dropped).
    closed: bool,
    /// The waker of the task's current poll; taken by the first wake after it.
    waker: Option<Waker>,
    /// Told of each write refused once the task ended, with the phase the connection ended
    /// in (W1): the machine's observers, handed over as the task winds up.
    refused_observer: Option<(DropObserver, Phase)>,
}

/// The machine's counters as its task last published them, and the writes handles sent after
/// the task ended, which no machine saw.
#[derive(Default)]
struct PublishedStats {
    writes_dropped: AtomicU64,
    bytes_sent: AtomicU64,
    bytes_received: AtomicU64,
    expect_rejected: AtomicU64,
    bytes_discarded: AtomicU64,
    writes_refused: AtomicU64,
}

/// The task is still running the connection.
const RUNNING: u8 = 0;
/// `closed` or `connect_failed` ran and the task wound up: what `is_finished` reports.
const FINISHED: u8 = 1;
/// The task is gone without finishing (a notifier panicked, the runtime shut down).
const GONE: u8 = 2;

impl Shared {
    fn inbox(&self) -> MutexGuard<'_, Inbox> {
        self.inbox.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Queues `messages` in order and wakes the task; refused (writes counted as dropped) once
    /// the task wound up.
    pub(super) fn send(&self, mut messages: impl Iterator<Item = Message>) {
        let Some(first) = messages.next() else {
            return;
        };
        let mut inbox = self.inbox();
        if inbox.closed {
            let observer = inbox.refused_observer.clone();
            drop(inbox);
            // Dropped outside the lock: a message's notifier may send from its `Drop`.
            let refused = std::iter::once(first).chain(messages);
            for (kind, bytes) in refused.filter_map(|msg| write_size(&msg)) {
                let refused = self.stats.writes_refused.fetch_add(1, Ordering::Relaxed) + 1;
                if let Some((observer, phase)) = &observer {
                    let dropped = self.stats.writes_dropped.load(Ordering::Relaxed);
                    observer(&DroppedWrite {
                        kind,
                        bytes,
                        phase: *phase,
                        after_end: true,
                        total: dropped + refused,
                    });
                }
            }
            return;
        }
        inbox.queue.push_back(first);
        inbox.queue.extend(messages);
        self.queued.store(true, Ordering::Release);
        let waker = inbox.waker.take();
        drop(inbox);
        if let Some(waker) = waker {
            waker.wake();
        }
    }

    /// The counters as last published.
    pub(super) fn stats(&self) -> ConnectionStats {
        let s = &self.stats;
        ConnectionStats {
            writes_dropped: s.writes_dropped.load(Ordering::Relaxed)
                + s.writes_refused.load(Ordering::Relaxed),
            bytes_sent: s.bytes_sent.load(Ordering::Relaxed),
            bytes_received: s.bytes_received.load(Ordering::Relaxed),
            expect_rejected: s.expect_rejected.load(Ordering::Relaxed),
            bytes_discarded: s.bytes_discarded.load(Ordering::Relaxed),
        }
    }

    pub(super) fn is_finished(&self) -> bool {
        self.state.load(Ordering::SeqCst) == FINISHED
    }

    /// Whether the task still runs the connection (neither finished nor gone).
    pub(super) fn is_running(&self) -> bool {
        self.state.load(Ordering::SeqCst) == RUNNING
    }

    /// Wakes the awaiting when the task ends; create it before reading
    /// [`is_running`](Self::is_running), so an end after the read still wakes it.
    pub(super) fn ended(&self) -> Notified<'_> {
        self.changed.notified()
    }
}

/// A message or the socket woke the connection: poll its task again.
impl Wake for Shared {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }
    fn wake_by_ref(self: &Arc<Self>) {
        let waker = self.inbox().waker.take();
        if let Some(waker) = waker {
            waker.wake();
        }
    }
}

/// The receiving end of a connection's mailbox, owned by its task.
///
/// The messages the task sends itself (its outbox, its resumes) are most of the traffic, and
/// while no other task's message waits they stay here, in `own`, with no lock: everything in
/// `own` was queued before everything in the shared queue, so the order is that of one FIFO.
/// A message of its own queued while another task's waits goes behind it, into the shared
/// queue. A poll that queued messages of its own wakes itself once as it ends, where another
/// task's message would have woken it at once: the same polls, without the inbox's lock.
pub(crate) struct Mailbox {
    shared: Arc<Shared>,
    /// Inline while it holds one message, as it nearly always does (see [`Messages`]).
    own: Messages,
    /// The task queued messages of its own since its current poll registered. Another task's
    /// message would have woken that poll; so that the task is polled just as often, the poll
    /// wakes itself once as it ends ([`take_wake_owed`](Self::take_wake_owed)), with no lock
    /// here and no waker taken from the inbox and cloned back at the next poll.
    wake_owed: bool,
    /// [`close`](Self::close) ran: nothing can arrive any more, so dropping has nothing to do.
    closed: bool,
}

impl Mailbox {
    /// A new mailbox, and the state its handles share.
    pub(super) fn new() -> (Mailbox, Arc<Shared>) {
        let shared = Arc::new(Shared::default());
        (
            Mailbox {
                shared: shared.clone(),
                own: Messages::default(),
                wake_owed: false,
                closed: false,
            },
            shared,
        )
    }

    /// Records the task's current waker, for messages and for socket readiness.
    pub(crate) fn register(&mut self, waker: &Waker) {
        self.wake_owed = false;
        let mut inbox = self.shared.inbox();
        match inbox.waker.as_ref() {
            Some(current) if current.will_wake(waker) => {}
            _ => inbox.waker = Some(waker.clone()),
        }
    }

    /// A waker for the connection's socket: it wakes whichever poll registered last.
    pub(crate) fn waker(&self) -> Waker {
        Waker::from(self.shared.clone())
    }

    /// The next message, if any.
    pub(crate) fn try_recv(&mut self) -> Option<Message> {
        if let Some(msg) = self.own.pop_front() {
            return Some(msg);
        }
        if !self.shared.queued.load(Ordering::Acquire) {
            return None;
        }
        let mut inbox = self.shared.inbox();
        let msg = inbox.queue.pop_front();
        if inbox.queue.is_empty() {
            self.shared.queued.store(false, Ordering::Release);
        }
        msg
    }

    /// Queues messages the connection's own task sends (its resumes; its outbox goes through
    /// [`push_from`](Self::push_from)), behind what is there.
    pub(crate) fn push(&mut self, messages: impl Iterator<Item = Message>) {
        if self.shared.queued.load(Ordering::Acquire) {
            // Another task's message waits: these go behind it (and wake the poll, as a send).
            self.shared.send(messages);
            return;
        }
        for msg in messages {
            // One at a time: `extend` costs more for the one or two messages of a turn.
            self.own.push_back(msg);
            self.wake_owed = true;
        }
    }

    /// Takes every message of `outbox`, the machine's, in order, behind what is there, and
    /// leaves it empty. While no message of its own waits, the outbox becomes the queue and
    /// the queue, empty, the outbox: a connection that sends itself messages turn after turn
    /// moves them without allocating, and needs no second buffer for them.
    pub(crate) fn push_from(&mut self, outbox: &mut Messages) {
        if outbox.is_empty() {
            return;
        }
        if self.own.is_empty() && !self.shared.queued.load(Ordering::Acquire) {
            self.wake_owed = true;
            std::mem::swap(&mut self.own, outbox);
            return;
        }
        self.push(outbox.drain());
    }

    /// Whether the current poll owes itself a wake for messages of its own (see
    /// [`Mailbox`]); asking pays it off.
    pub(crate) fn take_wake_owed(&mut self) -> bool {
        std::mem::take(&mut self.wake_owed)
    }

    /// Makes the machine's counters what the handles report.
    pub(crate) fn publish(&self, stats: ConnectionStats) {
        let s = &self.shared.stats;
        s.writes_dropped
            .store(stats.writes_dropped, Ordering::Relaxed);
        s.bytes_sent.store(stats.bytes_sent, Ordering::Relaxed);
        s.bytes_received
            .store(stats.bytes_received, Ordering::Relaxed);
        s.expect_rejected
            .store(stats.expect_rejected, Ordering::Relaxed);
        s.bytes_discarded
            .store(stats.bytes_discarded, Ordering::Relaxed);
    }

    /// Reports the writes refused from now on, once the task ended, to `observer`, with
    /// `phase`, the phase the connection ended in.
    pub(crate) fn report_refused_writes(&self, observer: DropObserver, phase: Phase) {
        self.shared.inbox().refused_observer = Some((observer, phase));
    }

    /// Refuses further messages and returns those that arrived too late to be handled in a
    /// turn, in order: `None` for none, the usual case, which then has no queue to drop.
    pub(crate) fn close(&mut self) -> Option<VecDeque<Message>> {
        self.closed = true;
        let mut inbox = self.shared.inbox();
        inbox.closed = true;
        // The task is ending; its waker must not outlive it here.
        let waker = inbox.waker.take();
        let queued = (!inbox.queue.is_empty()).then(|| std::mem::take(&mut inbox.queue));
        self.shared.queued.store(false, Ordering::Release);
        drop(inbox);
        drop(waker);
        if self.own.is_empty() {
            return queued;
        }
        let mut late: VecDeque<Message> = self.own.drain().collect();
        late.extend(queued.into_iter().flatten());
        Some(late)
    }

    /// Marks the connection finished and wakes every `finished()` waiter.
    pub(crate) fn finish(&self) {
        self.shared.state.store(FINISHED, Ordering::SeqCst);
        self.shared.changed.notify_waiters();
    }
}

impl Drop for Mailbox {
    fn drop(&mut self) {
        // Whatever is still queued goes now, not when the last handle goes: a queued notifier
        // may hold a handle to this very connection. `close` hands it back outside the lock,
        // as a notifier's `Drop` may send.
        if !self.closed {
            drop(self.close());
        }
        let shared = &self.shared;
        // Gone without finishing: waiters return all the same, as the task ended.
        if shared
            .state
            .compare_exchange(RUNNING, GONE, Ordering::SeqCst, Ordering::SeqCst)
            .is_ok()
        {
            shared.changed.notify_waiters();
        }
    }
}

#[cfg(test)]
impl Shared {
    pub(super) fn is_gone(&self) -> bool {
        self.state.load(Ordering::SeqCst) == GONE
    }
}
