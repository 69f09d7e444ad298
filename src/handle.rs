//! The cloneable handle through which other tasks send a connection messages, as other Pony
//! actors call a `TCPConnection`'s behaviours.

use crate::connection::Message;
use crate::notify::TcpConnectionNotify;
use crate::stats::{ConnectionStats, SharedStats};
use std::collections::VecDeque;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Wake, Waker};
use tokio::sync::Notify;

/// A handle to a running connection. Every call is queued in the connection's mailbox and
/// handled in order in a later turn; calls after the connection ended are dropped and counted.
#[derive(Clone)]
pub struct ConnectionHandle {
    shared: Arc<Shared>,
}

/// Everything a connection's task shares with its handles and its socket's readiness, in one
/// allocation: a connection is set up once per accept or connect, and several `Arc`s and a
/// channel (whose first block is allocated up front) cost more than the connection's own work.
#[derive(Default)]
struct Shared {
    inbox: Mutex<Inbox>,
    stats: SharedStats,
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
    /// The waker of the driver's current poll; taken by the first wake after it.
    waker: Option<Waker>,
}

impl Shared {
    fn inbox(&self) -> MutexGuard<'_, Inbox> {
        self.inbox.lock().unwrap_or_else(|e| e.into_inner())
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

/// The driver is still running the connection.
const RUNNING: u8 = 0;
/// `closed` or `connect_failed` ran and the task wound up: what `is_finished` reports.
const FINISHED: u8 = 1;
/// The driver is gone without finishing (a notifier panicked, the runtime shut down).
const GONE: u8 = 2;

/// The receiving end of a connection's mailbox, owned by its driver.
pub(crate) struct Mailbox {
    shared: Arc<Shared>,
}

impl Mailbox {
    /// Records the driver's current waker, for messages and for socket readiness.
    pub(crate) fn register(&self, waker: &Waker) {
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
    pub(crate) fn try_recv(&self) -> Option<Message> {
        self.shared.inbox().queue.pop_front()
    }

    /// Refuses further messages and returns those that arrived too late to be handled in a turn.
    pub(crate) fn close(&self) -> VecDeque<Message> {
        let mut inbox = self.shared.inbox();
        inbox.closed = true;
        // The task is ending; its waker must not outlive it here.
        let waker = inbox.waker.take();
        let late = std::mem::take(&mut inbox.queue);
        drop(inbox);
        drop(waker);
        late
    }

    /// Marks the connection finished and wakes every `finished()` waiter.
    pub(crate) fn finish(&self) {
        self.shared.state.store(FINISHED, Ordering::SeqCst);
        self.shared.changed.notify_waiters();
    }
}

impl Drop for Mailbox {
    fn drop(&mut self) {
        let shared = &self.shared;
        // Whatever is still queued goes now, not when the last handle goes: a queued notifier
        // may hold a handle to this very connection. `close` hands it back outside the lock,
        // as a notifier's `Drop` may send.
        drop(self.close());
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

impl ConnectionHandle {
    pub(crate) fn channel() -> (ConnectionHandle, Mailbox) {
        let shared = Arc::new(Shared::default());
        let handle = ConnectionHandle {
            shared: shared.clone(),
        };
        (handle, Mailbox { shared })
    }

    pub(crate) fn counters(&self) -> &SharedStats {
        &self.shared.stats
    }

    pub(crate) fn send(&self, msg: Message) {
        let mut inbox = self.shared.inbox();
        if inbox.closed {
            drop(inbox);
            if matches!(msg, Message::Write(_) | Message::Writev(_)) {
                self.shared.stats.write_dropped();
            }
            return;
        }
        inbox.queue.push_back(msg);
        let waker = inbox.waker.take();
        drop(inbox);
        if let Some(waker) = waker {
            waker.wake();
        }
    }

    /// Queues `data`; `sent` transforms it when handled (Pony's `write`).
    pub fn write(&self, data: impl Into<Vec<u8>>) {
        self.send(Message::Write(data.into()));
    }

    /// Queues several buffers; `sentv` transforms them when handled (Pony's `writev`).
    pub fn writev(&self, chunks: Vec<Vec<u8>>) {
        self.send(Message::Writev(chunks));
    }

    /// Queues a mute: stop reading from the turn that handles it.
    pub fn mute(&self) {
        self.send(Message::Mute);
    }

    /// Queues an unmute: buffered data is delivered first.
    pub fn unmute(&self) {
        self.send(Message::Unmute);
    }

    /// Queues a close: graceful unless muted, in which case it is a hard close.
    pub fn dispose(&self) {
        self.send(Message::Dispose);
    }

    /// Queues a swap of the notifier.
    pub fn set_notify(&self, notify: Box<dyn TcpConnectionNotify>) {
        self.send(Message::SetNotify(notify));
    }

    /// The connection's counters.
    pub fn stats(&self) -> ConnectionStats {
        self.shared.stats.snapshot()
    }

    /// Whether the connection's task has ended (after `closed` or `connect_failed`).
    pub fn is_finished(&self) -> bool {
        self.shared.state.load(Ordering::SeqCst) == FINISHED
    }

    /// Waits until the connection's task has ended.
    pub async fn finished(&self) {
        let state = &*self.shared;
        loop {
            // Created before the state is read, so a `notify_waiters` after the read still
            // wakes it.
            let changed = state.changed.notified();
            // The driver being gone without finishing is finished too.
            if state.state.load(Ordering::SeqCst) != RUNNING {
                return;
            }
            changed.await;
        }
    }
}

impl std::fmt::Debug for ConnectionHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConnectionHandle")
            .field("finished", &self.is_finished())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::connection::TcpConnection;
    use std::sync::atomic::{AtomicBool, AtomicUsize};

    /// Counts its wakes.
    #[derive(Default)]
    struct CountingWaker(AtomicUsize);

    impl Wake for CountingWaker {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }

    #[test]
    fn a_message_wakes_the_registered_poll_once_and_arrives_in_order() {
        let (handle, mailbox) = ConnectionHandle::channel();
        let counter = Arc::new(CountingWaker::default());
        mailbox.register(&Waker::from(counter.clone()));
        handle.write("a");
        handle.mute();
        // The first wake takes the waker; the poll it causes registers again.
        assert_eq!(counter.0.load(Ordering::SeqCst), 1);
        assert!(matches!(mailbox.try_recv(), Some(Message::Write(d)) if d == b"a"));
        assert!(matches!(mailbox.try_recv(), Some(Message::Mute)));
        assert!(mailbox.try_recv().is_none());
        // The socket's waker wakes the same registered poll.
        mailbox.register(&Waker::from(counter.clone()));
        mailbox.waker().wake_by_ref();
        assert_eq!(counter.0.load(Ordering::SeqCst), 2);
    }

    /// A notifier that holds a handle to its own connection and records being dropped.
    struct HoldsHandle(#[allow(dead_code)] ConnectionHandle, Arc<AtomicBool>);

    impl crate::notify::TcpConnectionNotify for HoldsHandle {
        fn connect_failed(&mut self, _: &mut TcpConnection, _: crate::ConnectFailure) {}
    }

    impl Drop for HoldsHandle {
        fn drop(&mut self) {
            self.1.store(true, Ordering::SeqCst);
            // Sending from a `Drop` while the mailbox empties must not deadlock.
            self.0.write("late");
        }
    }

    #[test]
    fn messages_left_when_the_task_goes_are_dropped_then_and_later_writes_are_counted() {
        let (handle, mailbox) = ConnectionHandle::channel();
        let dropped = Arc::new(AtomicBool::new(false));
        handle.set_notify(Box::new(HoldsHandle(handle.clone(), dropped.clone())));
        drop(mailbox);
        // Not kept alive by the handle it holds (a cycle through the queue).
        assert!(dropped.load(Ordering::SeqCst));
        handle.write("after");
        assert_eq!(
            handle.stats().writes_dropped,
            2,
            "the Drop's write and this one"
        );
        // Gone without finishing: not reported as finished, but `finished()` returns.
        assert!(!handle.is_finished());
        assert_eq!(handle.shared.state.load(Ordering::SeqCst), GONE);
    }
}
