//! The cloneable handle through which other tasks send a connection messages, as other Pony
//! actors call a `TCPConnection`'s behaviours.

use crate::connection::Message;
use crate::notify::TcpConnectionNotify;
use crate::stats::{ConnectionStats, SharedStats};
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::Arc;
use tokio::sync::{mpsc, Notify};

/// A handle to a running connection. Every call is queued in the connection's mailbox and
/// handled in order in a later turn; calls after the connection ended are dropped and counted.
#[derive(Clone)]
pub struct ConnectionHandle {
    tx: mpsc::UnboundedSender<Message>,
    pub(crate) stats: Arc<SharedStats>,
    finished: Arc<FinishState>,
}

/// Whether a connection's task has ended, shared by its handles and its driver. One state
/// and one `Notify` rather than a `watch` channel: a connection finishes once, and a `watch`
/// send and sender drop each wake eight internal `Notify`s, on every connection's way out.
#[derive(Default)]
struct FinishState {
    /// [`RUNNING`], [`FINISHED`] or [`GONE`]; it leaves `RUNNING` once and never returns.
    state: AtomicU8,
    changed: Notify,
}

/// The driver is still running the connection.
const RUNNING: u8 = 0;
/// `closed` or `connect_failed` ran and the task wound up: what `is_finished` reports.
const FINISHED: u8 = 1;
/// The driver is gone without finishing (a notifier panicked, the runtime shut down).
const GONE: u8 = 2;

/// The receiving end of a connection's mailbox, owned by its driver.
pub(crate) struct Mailbox {
    pub(crate) rx: mpsc::UnboundedReceiver<Message>,
    finished: Arc<FinishState>,
}

impl Mailbox {
    /// Marks the connection finished and wakes every `finished()` waiter.
    pub(crate) fn finish(&self) {
        self.finished.state.store(FINISHED, Ordering::SeqCst);
        self.finished.changed.notify_waiters();
    }
}

impl Drop for Mailbox {
    fn drop(&mut self) {
        let state = &self.finished.state;
        // Gone without finishing: waiters return all the same, as the task ended.
        if state
            .compare_exchange(RUNNING, GONE, Ordering::SeqCst, Ordering::SeqCst)
            .is_ok()
        {
            self.finished.changed.notify_waiters();
        }
    }
}

impl ConnectionHandle {
    pub(crate) fn channel() -> (ConnectionHandle, Mailbox) {
        let (tx, rx) = mpsc::unbounded_channel();
        let finished = Arc::new(FinishState::default());
        let handle = ConnectionHandle {
            tx,
            stats: Arc::new(SharedStats::default()),
            finished: finished.clone(),
        };
        (handle, Mailbox { rx, finished })
    }

    pub(crate) fn send(&self, msg: Message) {
        if let Err(mpsc::error::SendError(msg)) = self.tx.send(msg) {
            if matches!(msg, Message::Write(_) | Message::Writev(_)) {
                self.stats.write_dropped();
            }
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
        self.stats.snapshot()
    }

    /// Whether the connection's task has ended (after `closed` or `connect_failed`).
    pub fn is_finished(&self) -> bool {
        self.finished.state.load(Ordering::SeqCst) == FINISHED
    }

    /// Waits until the connection's task has ended.
    pub async fn finished(&self) {
        let state = &*self.finished;
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
