//! The cloneable handle through which other tasks send a connection messages, as other Pony
//! actors call a `TCPConnection`'s behaviours.
//!
//! A notifier gets one inside a callback from [`TcpConnection::handle`], defined here rather
//! than in the sans-IO core: the core keeps the runtime's shared state only as an opaque
//! [`Attachment`] (it names no runtime type), and this module turns it back into a handle.

use super::mailbox::{Mailbox, Shared};
use crate::proto::{
    collect_chunks, Attachment, ConnectionStats, IntoBytes, Message, TcpConnection,
    TcpConnectionNotify,
};
use std::sync::Arc;

/// A handle to a running connection. Every call is queued in the connection's mailbox and
/// handled in order in a later turn; calls after the connection ended are dropped and counted.
#[derive(Clone)]
pub struct ConnectionHandle {
    shared: Arc<Shared>,
}

impl ConnectionHandle {
    /// A new connection's handle, its mailbox, and what its machine keeps for
    /// [`TcpConnection::handle`].
    pub(crate) fn channel() -> (ConnectionHandle, Mailbox, Attachment) {
        let (mailbox, shared) = Mailbox::new();
        let attachment: Attachment = shared.clone();
        (ConnectionHandle { shared }, mailbox, attachment)
    }

    /// A handle that reaches no task: what [`TcpConnection::handle`] gives for a connection no
    /// runtime runs (one driven by hand in a unit test). Its messages are dropped and counted,
    /// and it reports the connection as ended.
    fn detached() -> ConnectionHandle {
        let (mailbox, shared) = Mailbox::new();
        drop(mailbox);
        ConnectionHandle { shared }
    }

    fn send(&self, msg: Message) {
        self.shared.send(std::iter::once(msg));
    }

    /// Queues `data`; `sent` transforms it when handled (Pony's `write`). Takes what
    /// [`TcpConnection::write`] takes, moving in the same buffers without a copy.
    pub fn write(&self, data: impl IntoBytes) {
        self.send(Message::Write(data.into_bytes()));
    }

    /// Queues several buffers, each anything [`write`](Self::write) takes; `sentv`
    /// transforms them when handled (Pony's `writev`).
    pub fn writev<I>(&self, chunks: I)
    where
        I: IntoIterator,
        I::Item: IntoBytes,
    {
        self.send(Message::Writev(collect_chunks(chunks)));
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

    /// The connection's counters, as of the end of its last turn.
    pub fn stats(&self) -> ConnectionStats {
        self.shared.stats()
    }

    /// Whether the connection's task has ended (after `closed` or `connect_failed`).
    pub fn is_finished(&self) -> bool {
        self.shared.is_finished()
    }

    /// Waits until the connection's task has ended.
    pub async fn finished(&self) {
        loop {
            let ended = self.shared.ended();
            // The task being gone without finishing is finished too.
            if !self.shared.is_running() {
                return;
            }
            ended.await;
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

impl TcpConnection {
    /// A handle other tasks can use to send this connection messages. Inside a callback, use
    /// `self`'s own `write`, `mute`, ...: its messages are queued when the callback's turn ends,
    /// and one sent through a handle meanwhile is queued before them.
    pub fn handle(&self) -> ConnectionHandle {
        let shared = self
            .attachment()
            .and_then(|attachment| attachment.clone().downcast::<Shared>().ok());
        match shared {
            Some(shared) => ConnectionHandle { shared },
            None => ConnectionHandle::detached(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::{ConnectFailure, ConnectionConfig, ConnectionMachine};
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
    use std::task::{Wake, Waker};

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
        let (handle, mut mailbox, _) = ConnectionHandle::channel();
        let counter = Arc::new(CountingWaker::default());
        mailbox.register(&Waker::from(counter.clone()));
        handle.write("a");
        handle.mute();
        // The first wake takes the waker; the poll it causes registers again.
        assert_eq!(counter.0.load(Ordering::SeqCst), 1);
        assert!(matches!(mailbox.try_recv(), Some(Message::Write(d)) if d == b"a"[..]));
        assert!(matches!(mailbox.try_recv(), Some(Message::Mute)));
        assert!(mailbox.try_recv().is_none());
        // The socket's waker wakes the same registered poll.
        mailbox.register(&Waker::from(counter.clone()));
        mailbox.waker().wake_by_ref();
        assert_eq!(counter.0.load(Ordering::SeqCst), 2);
    }

    /// The names of the messages in `mailbox`, in the order the task would handle them.
    fn drain(mailbox: &mut Mailbox) -> Vec<String> {
        std::iter::from_fn(|| mailbox.try_recv())
            .map(|msg| format!("{msg:?}"))
            .collect()
    }

    #[test]
    fn the_tasks_own_messages_and_other_tasks_messages_keep_one_fifo() {
        let (handle, mut mailbox, _) = ConnectionHandle::channel();
        mailbox.push([Message::Mute].into_iter());
        handle.write("other");
        // Queued while another task's message waits: behind it.
        mailbox.push([Message::Unmute].into_iter());
        handle.dispose();
        assert_eq!(
            drain(&mut mailbox),
            ["Mute", "Write(5 bytes)", "Unmute", "Dispose"]
        );
        mailbox.push([Message::ReadAgain].into_iter());
        handle.mute();
        mailbox.push([Message::WriteAgain].into_iter());
        let late: Vec<String> = (mailbox.close().into_iter().flatten())
            .map(|m| format!("{m:?}"))
            .collect();
        assert_eq!(
            late,
            ["ReadAgain", "Mute", "WriteAgain"],
            "late ones in order"
        );
    }

    #[test]
    fn the_tasks_own_messages_owe_its_poll_one_wake_where_another_tasks_message_wakes_it() {
        let (handle, mut mailbox, _) = ConnectionHandle::channel();
        let counter = Arc::new(CountingWaker::default());
        mailbox.register(&Waker::from(counter.clone()));
        mailbox.push([Message::Mute].into_iter());
        mailbox.push([Message::Unmute].into_iter());
        assert_eq!(counter.0.load(Ordering::SeqCst), 0, "no wake, no lock");
        assert!(mailbox.take_wake_owed(), "one wake owed for the poll");
        assert!(!mailbox.take_wake_owed(), "paid off");
        mailbox.push(std::iter::empty());
        assert!(!mailbox.take_wake_owed(), "nothing queued, nothing owed");
        mailbox.push([Message::ReadAgain].into_iter());
        mailbox.register(&Waker::from(counter.clone()));
        assert!(
            !mailbox.take_wake_owed(),
            "a new poll starts with nothing owed"
        );
        handle.dispose();
        assert_eq!(
            counter.0.load(Ordering::SeqCst),
            1,
            "another task's message"
        );
        // Queued behind another task's message: a send, which wakes the registered poll.
        mailbox.register(&Waker::from(counter.clone()));
        mailbox.push([Message::WriteAgain].into_iter());
        assert_eq!(counter.0.load(Ordering::SeqCst), 2);
        assert_eq!(
            drain(&mut mailbox),
            ["Mute", "Unmute", "ReadAgain", "Dispose", "WriteAgain"]
        );
    }

    #[test]
    fn finished_wakes_a_waiter_at_the_end_and_the_gone_task_and_later_waiters_return_at_once() {
        use std::future::Future;
        use std::task::Context;
        for gone in [false, true] {
            let (handle, mailbox, _) = ConnectionHandle::channel();
            let counter = Arc::new(CountingWaker::default());
            let waker = Waker::from(counter.clone());
            let mut cx = Context::from_waker(&waker);
            let mut waiting = std::pin::pin!(handle.finished());
            assert!(waiting.as_mut().poll(&mut cx).is_pending());
            match gone {
                false => mailbox.finish(),
                true => drop(mailbox),
            }
            assert_eq!(counter.0.load(Ordering::SeqCst), 1, "woken (gone: {gone})");
            assert!(waiting.as_mut().poll(&mut cx).is_ready());
            let mut later = std::pin::pin!(handle.finished());
            assert!(later.as_mut().poll(&mut cx).is_ready(), "gone: {gone}");
        }
    }

    /// A notifier that holds a handle to its own connection and records being dropped.
    struct HoldsHandle(ConnectionHandle, Arc<AtomicBool>);

    impl TcpConnectionNotify for HoldsHandle {
        fn connect_failed(&mut self, _: &mut TcpConnection, _: ConnectFailure) {}
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
        let (handle, mailbox, _) = ConnectionHandle::channel();
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
        assert!(handle.shared.is_gone());
    }

    /// A client machine with a notifier that does nothing, attached to `attachment`.
    fn quiet_client(attachment: Option<Attachment>) -> ConnectionMachine {
        struct Quiet;
        impl TcpConnectionNotify for Quiet {
            fn connect_failed(&mut self, _: &mut TcpConnection, _: ConnectFailure) {}
        }
        ConnectionMachine::client(Box::new(Quiet), ConnectionConfig::default(), attachment)
    }

    #[test]
    fn a_handle_of_a_connection_no_runtime_runs_drops_and_counts_its_writes() {
        let handle = quiet_client(None).connection().handle();
        handle.write("nowhere");
        assert_eq!(handle.stats().writes_dropped, 1);
        assert!(handle.shared.is_gone());
    }

    #[test]
    fn the_handle_a_callback_gets_reaches_its_own_connections_mailbox() {
        let (_, mut mailbox, attachment) = ConnectionHandle::channel();
        quiet_client(Some(attachment)).connection().handle().mute();
        assert!(matches!(mailbox.try_recv(), Some(Message::Mute)));
    }
}
