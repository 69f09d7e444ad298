//! The connection as a notifier sees it: its state, its buffers, and the operations a callback
//! may call. It knows nothing of sockets, clocks or tasks: I/O goes through a [`Transport`],
//! every callback it causes is queued as a [`Deferred`] for the state machine to deliver, and
//! every message it sends itself (`write`, `mute`, ...) waits in its outbox until the runtime
//! takes it into the mailbox.
//!
//! Reading (the read buffer, `expect` framing) is in [`reading`], writing (the write queue,
//! throttling, the graceful shut) in [`writing`].

mod dropped;
mod final_writes;
mod muting;
mod observer;
mod reading;
mod writing;

pub(crate) use dropped::{write_size, DropObserver};
pub use dropped::{DroppedWrite, WriteKind};
pub(crate) use final_writes::FinalWrites;
pub use muting::Muting;
pub(crate) use reading::ReadOutcome;

use super::config::ConnectionConfig;
use super::dial::Dials;
use super::into_bytes::IntoBytes;
use super::message::Message;
use super::messages::Messages;
use super::notify::{ConnectFailure, TcpConnectionNotify};
use super::stats::ConnectionStats;
use super::transport::Transport;
use bytes::Bytes;
use observer::{chain, Observer};
use smallvec::SmallVec;
use std::any::Any;
use std::cell::OnceCell;
use std::fmt;
use std::io::{self, ErrorKind};
use std::net::SocketAddr;
use std::sync::Arc;
use writing::WriteQueue;

/// Where a connection is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// A client before `proxy_via` ran.
    New,
    /// A client waiting for its host name to resolve.
    Resolving,
    /// A client with `outstanding` connect attempts in flight.
    Connecting {
        /// Attempts not yet failed.
        outstanding: u32,
    },
    /// Connected or accepted; reading and writing.
    Open,
    /// Closing gracefully: the queue drains, then the write side is shut, and reading goes on
    /// until the peer closes.
    Closing {
        /// The write side was shut (FIN sent).
        write_shut: bool,
    },
    /// Terminal after `closed`.
    Closed,
    /// Terminal after `connect_failed`.
    ConnectFailed,
}

impl fmt::Display for Phase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Phase::New => f.write_str("new"),
            Phase::Resolving => f.write_str("resolving"),
            Phase::Connecting { outstanding } => write!(f, "connecting({outstanding})"),
            Phase::Open => f.write_str("open"),
            Phase::Closing { write_shut: false } => f.write_str("closing(draining)"),
            Phase::Closing { write_shut: true } => f.write_str("closing(shut)"),
            Phase::Closed => f.write_str("closed"),
            Phase::ConnectFailed => f.write_str("connect-failed"),
        }
    }
}

/// Which side created the connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Dialled by `TcpConnection::connect`.
    Client,
    /// Accepted by a `TcpListener`.
    Server,
}

/// A callback that Pony would make nested inside the caller. In Rust the notifier is borrowed
/// by the running callback, so these run as soon as it returns, before anything else happens.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Deferred {
    Expect(usize),
    Throttled,
    Unthrottled,
    Closed,
    ConnectFailed(ConnectFailure),
}

/// Why `expect` refused a framing size (rule R2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("expect({requested}) exceeds the read buffer size {read_buffer_size}")]
pub struct ExpectError {
    /// The size asked for.
    pub requested: usize,
    /// The connection's read buffer size, the largest allowed.
    pub read_buffer_size: usize,
}

/// What the runtime attaches to a connection it runs: its own shared state (the mailbox), so
/// that `TcpConnection::handle`, which the runtime defines, can give other tasks a way in. The
/// core only keeps it; `Any` because the core names no runtime type.
pub(crate) type Attachment = Arc<dyn Any + Send + Sync>;

/// A TCP connection as its notifier sees it inside a callback (Pony's `TCPConnection ref`).
///
/// `expect`, `close`, `hard_close`, `write_final` and the socket options act at once;
/// `write`, `writev`, `mute`, `unmute`, `dispose` and `set_notify` are queued messages,
/// handled in later turns in order, exactly as if another task had sent them.
pub struct TcpConnection {
    phase: Phase,
    role: Role,
    config: ConnectionConfig,
    transport: Option<Box<dyn Transport>>,
    /// The transport's addresses (local, remote), each asked of it once, on first use, while
    /// it is held: they do not change meanwhile, a recorder asks for both on every callback
    /// (two calls through the transport, some 45 instructions, where reading these is a
    /// few), and on real sockets each ask is a system call. Not asked up front: most
    /// connections on real sockets never ask.
    addresses: (OnceCell<Option<SocketAddr>>, OnceCell<Option<SocketAddr>>),
    attachment: Option<Attachment>,
    /// Messages the connection sent itself, in order, until the runtime takes them all.
    outbox: Messages,
    /// Connections its notifier asked for, until the runtime starts them.
    pub(super) dials: Dials,
    stats: ConnectionStats,
    /// Told of every write W1 drops (see [`on_write_dropped`](Self::on_write_dropped)).
    drop_observer: Option<DropObserver>,
    /// Told of every mute and unmute that changed `muted` (see
    /// [`on_mute_changed`](Self::on_mute_changed)).
    mute_observer: Option<Observer<Muting>>,
    /// What `write_final` queued since the notifier last took it, once it asked to keep it
    /// (see [`keep_final_writes`](Self::keep_final_writes)).
    final_writes: FinalWrites,
    /// The same for the recorder that wraps the notifier (`crate::record`), kept apart: a
    /// notifier that takes its own must not take the recorder's.
    pub(crate) recorded_final_writes: FinalWrites,
    /// Bytes read and not delivered yet; handed to the notifier whole when it takes them all.
    read_buf: Vec<u8>,
    read_start: usize,
    expect: usize,
    muted: bool,
    throttled: bool,
    write_queue: WriteQueue,
    /// Bytes of the queue's head already written.
    head_written: usize,
    /// Bytes `sent` or `sentv` returned that wait to be queued while the callbacks deferred
    /// inside it run first (Pony nests them): a `hard_close` among those discards them with
    /// the queue, and counts them before `closed` tells of its discarded bytes (L5).
    pub(crate) sent_result_pending: usize,
    pub(crate) read_again_pending: bool,
    pub(crate) write_again_pending: bool,
    /// The last write found the task's cooperative budget spent ([`Transport::gave_way`]): the
    /// task gives its thread back before its next pass, which writes again.
    pub(crate) gave_way: bool,
    /// Inline: a connection defers one or two callbacks in its life (`closed`, a throttle
    /// change), and a heap queue for them was an allocation per connection.
    pub(crate) deferred: SmallVec<[Deferred; 4]>,
}

impl TcpConnection {
    #[inline]
    pub(crate) fn new(
        role: Role,
        config: ConnectionConfig,
        attachment: Option<Attachment>,
    ) -> Self {
        TcpConnection {
            phase: Phase::New,
            role,
            config,
            transport: None,
            addresses: Default::default(),
            attachment,
            outbox: Messages::default(),
            dials: Dials::default(),
            stats: ConnectionStats::default(),
            drop_observer: None,
            mute_observer: None,
            final_writes: FinalWrites::default(),
            recorded_final_writes: FinalWrites::default(),
            read_buf: Vec::new(),
            read_start: 0,
            expect: 0,
            muted: false,
            throttled: false,
            write_queue: WriteQueue::default(),
            head_written: 0,
            sent_result_pending: 0,
            read_again_pending: false,
            write_again_pending: false,
            gave_way: false,
            deferred: SmallVec::new(),
        }
    }

    // ---- queued operations (messages) ----

    /// Queues `data` for sending; `sent` transforms it when the message is handled. Dropped
    /// and counted (W1) unless the connection is open and not closing by then.
    ///
    /// `data` is anything that becomes the [`Bytes`] that `sent` receives ([`IntoBytes`]): a
    /// `Bytes`, shared or not, a `BytesMut`, `Vec<u8>`, `String` or `Box<[u8]>` moves in as
    /// it is, so the same `Bytes` written again and again is never copied; a slice or `&str`
    /// is copied once. Once written, a buffer of about the read buffer's size that nothing
    /// else shares becomes the connection's next read buffer.
    pub fn write(&mut self, data: impl IntoBytes) {
        self.outbox.push_back(Message::Write(data.into_bytes()));
    }

    /// Queues several buffers for sending, each anything [`write`](Self::write) takes;
    /// `sentv` transforms them when handled.
    pub fn writev<I>(&mut self, chunks: I)
    where
        I: IntoIterator,
        I::Item: IntoBytes,
    {
        self.outbox
            .push_back(Message::Writev(collect_chunks(chunks)));
    }

    /// Queues a mute: from the turn that handles it, nothing is read or delivered.
    pub fn mute(&mut self) {
        self.outbox.push_back(Message::Mute);
    }

    /// Queues an unmute: the turn that handles it first delivers what was already buffered.
    pub fn unmute(&mut self) {
        self.outbox.push_back(Message::Unmute);
    }

    /// Queues a `close` (graceful unless muted).
    pub fn dispose(&mut self) {
        self.outbox.push_back(Message::Dispose);
    }

    /// Queues a swap of the notifier; the new one gets no initial callback.
    pub fn set_notify(&mut self, notify: Box<dyn TcpConnectionNotify>) {
        self.outbox.push_back(Message::SetNotify(notify));
    }

    // ---- immediate operations ----

    /// Sets the framing size: with `qty > 0` every `received` carries exactly `qty` bytes; with
    /// 0, whatever is available. The notifier's `expect` hook may rewrite the size; it runs as
    /// soon as the calling callback returns, before the next delivery.
    ///
    /// Errors, leaving the framing unchanged, when `qty` exceeds the read buffer size (R2).
    pub fn expect(&mut self, qty: usize) -> Result<(), ExpectError> {
        if qty > self.config.read_buffer_size() {
            return Err(ExpectError {
                requested: qty,
                read_buffer_size: self.config.read_buffer_size(),
            });
        }
        self.deferred.push(Deferred::Expect(qty));
        Ok(())
    }

    /// Closes the connection. While connecting: abandons every attempt and reports
    /// `connect_failed(Aborted)`. Muted: as `hard_close`. Otherwise graceful: no new writes,
    /// the queue drains, the write side is shut, and data is delivered until the peer closes.
    pub fn close(&mut self) {
        match self.phase {
            Phase::New | Phase::Resolving | Phase::Connecting { .. } => self.abort_connect(),
            Phase::Open if self.muted => self.hard_close(),
            Phase::Open => {
                self.phase = Phase::Closing { write_shut: false };
                self.shut_if_drained();
            }
            Phase::Closing { .. } if self.muted => self.hard_close(),
            Phase::Closing { .. } | Phase::Closed | Phase::ConnectFailed => {}
        }
    }

    /// Closes at once: queued writes and unread data are dropped and `closed` follows.
    /// While connecting it abandons every attempt, as `close` does.
    pub fn hard_close(&mut self) {
        match self.phase {
            Phase::New | Phase::Resolving | Phase::Connecting { .. } => self.abort_connect(),
            Phase::Open | Phase::Closing { .. } => {
                self.phase = Phase::Closed;
                self.set_transport(None);
                let pending = std::mem::take(&mut self.sent_result_pending);
                self.stats.discarded(self.queued_bytes() + pending);
                self.write_queue.clear();
                self.head_written = 0;
                self.read_buf = Vec::new();
                self.read_start = 0;
                self.deferred.push(Deferred::Closed);
            }
            Phase::Closed | Phase::ConnectFailed => {}
        }
    }

    /// Sends `data` at once, bypassing `sent`: for wrappers whose bytes were already transformed.
    /// Dropped and counted when not open; empty data is ignored. Takes what
    /// [`write`](Self::write) takes.
    pub fn write_final(&mut self, data: impl IntoBytes) {
        let data = data.into_bytes();
        if self.phase != Phase::Open {
            self.drop_write(WriteKind::WriteFinal, data.len());
            return;
        }
        self.final_writes.push(&data);
        self.recorded_final_writes.push(&data);
        self.enqueue(data);
        self.flush();
    }

    /// Keeps what [`write_final`](Self::write_final) queues from now on, for
    /// [`take_final_writes`](Self::take_final_writes). `write_final` passes by `sent`, so a
    /// wrapper that sees a connection's data in `sent` (a byte counter, a logger) takes these
    /// after each callback it wraps, or it would miss bytes the peer then receives. Off until
    /// asked: nothing is kept that no one takes. The notifier's own: tcpnotify's recorder
    /// (and so the simulator's stream check) keeps its copy apart, whatever the notifier
    /// keeps or takes.
    pub fn keep_final_writes(&mut self) {
        self.final_writes.keep();
    }

    /// What `write_final` queued since the last call, in the order queued (shared, not
    /// copied), once [`keep_final_writes`](Self::keep_final_writes) was called; empty
    /// otherwise. Queued in the stream before anything `sent` returns after them, and after
    /// anything queued before them.
    ///
    /// ```
    /// # use tcpnotify::{ConnectFailure, TcpConnection, TcpConnectionNotify};
    /// /// Counts the bytes its inner notifier queued past `sent`.
    /// struct Counting<N> {
    ///     inner: N,
    ///     final_bytes: usize,
    /// }
    ///
    /// impl<N: TcpConnectionNotify> TcpConnectionNotify for Counting<N> {
    ///     fn connected(&mut self, conn: &mut TcpConnection) {
    ///         conn.keep_final_writes();
    ///         self.inner.connected(conn);
    ///         self.final_bytes += conn.take_final_writes().iter().map(|b| b.len()).sum::<usize>();
    ///     }
    ///     fn connect_failed(&mut self, conn: &mut TcpConnection, reason: ConnectFailure) {
    ///         self.inner.connect_failed(conn, reason)
    ///     }
    /// }
    /// ```
    pub fn take_final_writes(&mut self) -> Vec<Bytes> {
        self.final_writes.take()
    }

    /// Turns Nagle's algorithm off (`true`) or back on. Only when connected: otherwise an
    /// error of kind `NotConnected`.
    pub fn set_nodelay(&mut self, nodelay: bool) -> io::Result<()> {
        self.transport_mut()?.set_nodelay(nodelay)
    }

    /// Whether Nagle's algorithm is off (`TCP_NODELAY` is set). Only when connected.
    pub fn nodelay(&self) -> io::Result<bool> {
        self.transport.as_ref().ok_or_else(not_connected)?.nodelay()
    }

    /// Sets TCP keepalive to `secs` seconds (0 turns it off). Only when connected.
    pub fn set_keepalive(&mut self, secs: u32) -> io::Result<()> {
        self.transport_mut()?.set_keepalive(secs)
    }

    /// This end's address, while connected.
    #[inline]
    pub fn local_address(&self) -> Option<SocketAddr> {
        *(self.addresses.0).get_or_init(|| self.transport.as_ref()?.local_address())
    }

    /// The peer's address, while connected.
    #[inline]
    pub fn remote_address(&self) -> Option<SocketAddr> {
        *(self.addresses.1).get_or_init(|| self.transport.as_ref()?.remote_address())
    }

    /// Holds `transport`, or none, with no address asked of it yet.
    fn set_transport(&mut self, transport: Option<Box<dyn Transport>>) {
        self.transport = transport;
        self.addresses = Default::default();
    }

    // ---- observers ----

    /// Where the connection is in its life.
    pub fn phase(&self) -> Phase {
        self.phase
    }

    /// Client or server side.
    pub fn role(&self) -> Role {
        self.role
    }

    /// The framing size in force.
    pub fn expect_size(&self) -> usize {
        self.expect
    }

    /// The buffer and yield settings.
    pub fn config(&self) -> ConnectionConfig {
        self.config
    }

    /// Whether a mute was handled and no unmute since.
    pub fn is_muted(&self) -> bool {
        self.muted
    }

    /// Whether the connection is in backpressure (between `throttled` and `unthrottled`).
    pub fn is_throttled(&self) -> bool {
        self.throttled
    }

    /// Bytes queued and not yet written.
    pub fn queued_bytes(&self) -> usize {
        self.write_queue.iter().map(Bytes::len).sum::<usize>() - self.head_written
    }

    /// Bytes allocated for the read buffer (0 until a read brought data, and from a delivery
    /// that took the whole buffer until the next read or a recycled write buffer).
    #[cfg(test)]
    pub(crate) fn read_buffer_capacity(&self) -> usize {
        self.read_buf.capacity()
    }

    /// The connection's counters.
    pub fn stats(&self) -> ConnectionStats {
        self.stats
    }

    /// Reports every write this connection drops from now on (W1: before it is established,
    /// after `close()`, after `closed`, or sent through a handle after its task ended) to
    /// `observer`, with the phase it was dropped in and the running count. The notifier itself
    /// is never told (W1 has no callback): this is for recorders and tests, e.g. the
    /// simulator's trace. A second observer is added beside the first; both see every drop.
    ///
    /// Called from the first callback a notifier gets, it sees every drop a turn or a handle
    /// can make: a client's messages are handled only once its name resolved and `connecting`
    /// (or `connect_failed`) ran, unless resolution itself waits (real DNS), and an accepted
    /// connection's only after `accepted`.
    pub fn on_write_dropped(&mut self, observer: impl Fn(&DroppedWrite) + Send + Sync + 'static) {
        self.drop_observer = Some(chain(self.drop_observer.take(), Arc::new(observer)));
    }

    /// Reports every mute and unmute of this connection that takes effect from now on to
    /// `observer`, in the turn that handles it: [`Muting::Muted`] when reading stops,
    /// [`Muting::Unmuted`] when it starts again (R5). A `mute` handled while already muted,
    /// or an `unmute` while not muted, changes nothing and is not reported, so reports
    /// alternate, starting with `Muted`; nor is one handled after `closed` or
    /// `connect_failed` (queued before the connection ended), when nothing is read anyway.
    /// The notifier itself is never told (no callback says
    /// so): this is for recorders and tests, e.g. the simulator's trace, where a connection
    /// muted and never unmuted shows why it stopped reading. A second observer is added
    /// beside the first; both see every change.
    pub fn on_mute_changed(&mut self, observer: impl Fn(&Muting) + Send + Sync + 'static) {
        self.mute_observer = Some(chain(self.mute_observer.take(), Arc::new(observer)));
    }

    // ---- used by the state machine and the runtime ----

    /// What the runtime attached to this connection, if a runtime runs it.
    pub(crate) fn attachment(&self) -> Option<&Attachment> {
        self.attachment.as_ref()
    }

    /// The connections its notifier asked for that the runtime has not started yet.
    pub(crate) fn dials(&mut self) -> &mut Dials {
        &mut self.dials
    }

    /// Whether the connection sent itself messages since last asked.
    pub(crate) fn has_outgoing(&self) -> bool {
        !self.outbox.is_empty()
    }

    /// The messages the connection sent itself since last asked, oldest first: the caller
    /// takes them all, and may leave an empty buffer of its own in their place.
    pub(crate) fn outgoing(&mut self) -> &mut Messages {
        &mut self.outbox
    }

    fn transport_mut(&mut self) -> io::Result<&mut Box<dyn Transport>> {
        self.transport.as_mut().ok_or_else(not_connected)
    }

    pub(crate) fn set_phase(&mut self, phase: Phase) {
        self.phase = phase;
    }

    pub(crate) fn is_connecting(&self) -> bool {
        matches!(
            self.phase,
            Phase::New | Phase::Resolving | Phase::Connecting { .. }
        )
    }

    pub(crate) fn is_live(&self) -> bool {
        matches!(self.phase, Phase::Open | Phase::Closing { .. })
    }

    pub(crate) fn is_finished(&self) -> bool {
        matches!(self.phase, Phase::Closed | Phase::ConnectFailed)
    }

    /// Handles a `mute` or `unmute`: a change before the connection ended is reported to the
    /// observers (see [`on_mute_changed`](Self::on_mute_changed)).
    pub(crate) fn set_muted(&mut self, muted: bool) {
        if self.muted == muted {
            return;
        }
        self.muted = muted;
        if let (Some(observer), false) = (&self.mute_observer, self.is_finished()) {
            observer(&Muting::to(muted));
        }
    }

    pub(crate) fn set_expect(&mut self, qty: usize) {
        self.expect = qty;
    }

    /// Drops a write of `bytes` (W1): counts it and tells the observers.
    pub(crate) fn drop_write(&mut self, kind: WriteKind, bytes: usize) {
        self.stats.write_dropped();
        if let Some(observer) = &self.drop_observer {
            observer(&DroppedWrite {
                kind,
                bytes,
                phase: self.phase,
                after_end: false,
                total: self.stats.writes_dropped,
            });
        }
    }

    /// What `sent` or `sentv` returned, `bytes` in all, after the notifier closed the
    /// connection inside it: a hard close discards it with the queue (L5, counted in
    /// `bytes_discarded`), a graceful one drops it as a write after `close()` (W1). Nothing
    /// is lost without a count; an empty result loses nothing.
    pub(crate) fn refuse_sent(&mut self, kind: WriteKind, bytes: usize) {
        match self.phase {
            _ if bytes == 0 => {}
            Phase::Closed => self.stats.discarded(bytes),
            _ => self.drop_write(kind, bytes),
        }
    }

    /// The observers of dropped writes, for the runtime to tell of writes sent through a
    /// handle after the task ended.
    pub(crate) fn drop_observer(&self) -> Option<&DropObserver> {
        self.drop_observer.as_ref()
    }

    pub(crate) fn count_expect_rejected(&mut self) {
        self.stats.expect_rejected();
    }

    pub(crate) fn fail_connect(&mut self, reason: ConnectFailure) {
        self.phase = Phase::ConnectFailed;
        self.deferred.push(Deferred::ConnectFailed(reason));
    }

    fn abort_connect(&mut self) {
        self.fail_connect(ConnectFailure::Aborted);
    }

    pub(crate) fn open(&mut self, transport: Box<dyn Transport>) {
        self.phase = Phase::Open;
        self.set_transport(Some(transport));
        // The read buffer is allocated by the first read that brings data (see `read_once`).
    }

    /// Whether a read turn could do anything now.
    pub(crate) fn wants_read(&self) -> bool {
        self.is_live() && !self.muted && !self.read_again_pending && self.transport.is_some()
    }

    /// Whether a write turn could do anything now.
    pub(crate) fn wants_write(&self) -> bool {
        self.transport.is_some()
            && !self.write_again_pending
            && (!self.write_queue.is_empty() || self.phase == Phase::Closing { write_shut: false })
    }
}

/// The chunks of a `writev`, as `Bytes`: one allocation for the list at most (a `Vec<Bytes>`
/// given is mapped in place by the standard library's `collect` today, allocating nothing).
pub(crate) fn collect_chunks<I>(chunks: I) -> Vec<Bytes>
where
    I: IntoIterator,
    I::Item: IntoBytes,
{
    chunks.into_iter().map(IntoBytes::into_bytes).collect()
}

/// The error of a socket option asked for while the connection is not open.
fn not_connected() -> io::Error {
    io::Error::new(ErrorKind::NotConnected, "connection is not open")
}

impl fmt::Debug for TcpConnection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TcpConnection")
            .field("phase", &self.phase)
            .field("role", &self.role)
            .field("expect", &self.expect)
            .field("muted", &self.muted)
            .field("throttled", &self.throttled)
            .field("queued_bytes", &self.queued_bytes())
            .finish()
    }
}
