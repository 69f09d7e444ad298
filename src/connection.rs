//! The connection as a notifier sees it: its state, its buffers, and the operations a callback
//! may call. It knows nothing of sockets or clocks: I/O goes through a [`Transport`], and every
//! callback it causes is queued as a [`Deferred`] for the state machine to deliver.

use crate::config::ConnectionConfig;
use crate::handle::ConnectionHandle;
use crate::notify::{ConnectFailure, TcpConnectionNotify};
use crate::stats::ConnectionStats;
use crate::transport::{read_appending, read_into, Transport};
use smallvec::SmallVec;
use std::collections::VecDeque;
use std::fmt;
use std::io::{self, ErrorKind, IoSlice};
use std::mem::MaybeUninit;
use std::net::SocketAddr;

/// Most buffers handed to one vectored write.
const MAX_WRITE_SLICES: usize = 64;

/// The largest first read made into the stack rather than an allocated read buffer.
const FIRST_READ_ON_STACK: usize = crate::config::DEFAULT_READ_BUFFER_SIZE;

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

/// A message in a connection's mailbox: what other tasks (and the connection itself) queue.
pub(crate) enum Message {
    Write(Vec<u8>),
    Writev(Vec<Vec<u8>>),
    Mute,
    Unmute,
    Dispose,
    SetNotify(Box<dyn TcpConnectionNotify>),
    /// Resume reading after a read yield.
    ReadAgain,
    /// Resume writing after a write yield.
    WriteAgain,
}

impl fmt::Debug for Message {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Message::Write(d) => write!(f, "Write({} bytes)", d.len()),
            Message::Writev(c) => write!(f, "Writev({} chunks)", c.len()),
            Message::Mute => f.write_str("Mute"),
            Message::Unmute => f.write_str("Unmute"),
            Message::Dispose => f.write_str("Dispose"),
            Message::SetNotify(_) => f.write_str("SetNotify"),
            Message::ReadAgain => f.write_str("ReadAgain"),
            Message::WriteAgain => f.write_str("WriteAgain"),
        }
    }
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

/// The outcome of one read from the transport.
pub(crate) enum ReadOutcome {
    Data(usize),
    WouldBlock,
    /// End of stream or a read error: the connection was hard-closed.
    Ended,
}

/// A TCP connection as its notifier sees it inside a callback (Pony's `TCPConnection ref`).
///
/// `expect`, `close`, `hard_close`, `write_final` and the socket options act at once;
/// `write`, `writev`, `mute`, `unmute`, `dispose` and `set_notify` are queued messages,
/// handled in later turns in order, exactly as if another task had sent them.
pub struct TcpConnection {
    pub(crate) phase: Phase,
    role: Role,
    config: ConnectionConfig,
    transport: Option<Box<dyn Transport>>,
    handle: ConnectionHandle,
    read_buf: Vec<u8>,
    read_start: usize,
    expect: usize,
    muted: bool,
    throttled: bool,
    write_queue: VecDeque<Vec<u8>>,
    /// Bytes of the queue's head already written.
    head_written: usize,
    pub(crate) read_again_pending: bool,
    pub(crate) write_again_pending: bool,
    /// Inline: a connection defers one or two callbacks in its life (`closed`, a throttle
    /// change), and a heap queue for them was an allocation per connection.
    pub(crate) deferred: SmallVec<[Deferred; 4]>,
}

impl TcpConnection {
    pub(crate) fn new(role: Role, config: ConnectionConfig, handle: ConnectionHandle) -> Self {
        TcpConnection {
            phase: Phase::New,
            role,
            config,
            transport: None,
            handle,
            read_buf: Vec::new(),
            read_start: 0,
            expect: 0,
            muted: false,
            throttled: false,
            write_queue: VecDeque::new(),
            head_written: 0,
            read_again_pending: false,
            write_again_pending: false,
            deferred: SmallVec::new(),
        }
    }

    // ---- queued operations (messages) ----

    /// Queues `data` for sending; `sent` transforms it when the message is handled. Dropped
    /// and counted (W1) unless the connection is open and not closing by then.
    pub fn write(&mut self, data: impl Into<Vec<u8>>) {
        self.handle.write(data);
    }

    /// Queues several buffers for sending; `sentv` transforms them when handled.
    pub fn writev(&mut self, chunks: Vec<Vec<u8>>) {
        self.handle.writev(chunks);
    }

    /// Queues a mute: from the turn that handles it, nothing is read or delivered.
    pub fn mute(&mut self) {
        self.handle.mute();
    }

    /// Queues an unmute: the turn that handles it first delivers what was already buffered.
    pub fn unmute(&mut self) {
        self.handle.unmute();
    }

    /// Queues a `close` (graceful unless muted).
    pub fn dispose(&mut self) {
        self.handle.dispose();
    }

    /// Queues a swap of the notifier; the new one gets no initial callback.
    pub fn set_notify(&mut self, notify: Box<dyn TcpConnectionNotify>) {
        self.handle.set_notify(notify);
    }

    /// A handle other tasks can use to send this connection messages.
    pub fn handle(&self) -> ConnectionHandle {
        self.handle.clone()
    }

    // ---- immediate operations ----

    /// Sets the framing size: with `qty > 0` every `received` carries exactly `qty` bytes; with
    /// 0, whatever is available. The notifier's `expect` hook may rewrite the size; it runs as
    /// soon as the calling callback returns, before the next delivery.
    ///
    /// Errors, leaving the framing unchanged, when `qty` exceeds the read buffer size (R2).
    pub fn expect(&mut self, qty: usize) -> Result<(), ExpectError> {
        if qty > self.config.get_read_buffer_size() {
            return Err(ExpectError {
                requested: qty,
                read_buffer_size: self.config.get_read_buffer_size(),
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
                self.transport = None;
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
    /// Dropped and counted when not open; empty data is ignored.
    pub fn write_final(&mut self, data: impl Into<Vec<u8>>) {
        let data = data.into();
        if self.phase != Phase::Open {
            self.handle.counters().write_dropped();
            return;
        }
        self.enqueue(data);
        self.flush();
    }

    /// Turns Nagle's algorithm off (`true`) or back on. Only when connected.
    pub fn set_nodelay(&mut self, nodelay: bool) -> io::Result<()> {
        self.transport_mut()?.set_nodelay(nodelay)
    }

    /// Whether Nagle's algorithm is off (`TCP_NODELAY` is set). Only when connected.
    pub fn nodelay(&self) -> io::Result<bool> {
        self.transport
            .as_ref()
            .ok_or_else(|| io::Error::new(ErrorKind::NotConnected, "connection is not open"))?
            .nodelay()
    }

    /// Sets TCP keepalive to `secs` seconds (0 turns it off). Only when connected.
    pub fn set_keepalive(&mut self, secs: u32) -> io::Result<()> {
        self.transport_mut()?.set_keepalive(secs)
    }

    /// This end's address, while connected.
    pub fn local_address(&self) -> Option<SocketAddr> {
        self.transport.as_ref().and_then(|t| t.local_address())
    }

    /// The peer's address, while connected.
    pub fn remote_address(&self) -> Option<SocketAddr> {
        self.transport.as_ref().and_then(|t| t.remote_address())
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
        self.write_queue.iter().map(Vec::len).sum::<usize>() - self.head_written
    }

    /// Bytes allocated for the read buffer (0 until a read brought data).
    #[cfg(test)]
    pub(crate) fn read_buffer_capacity(&self) -> usize {
        self.read_buf.capacity()
    }

    /// The connection's counters.
    pub fn stats(&self) -> ConnectionStats {
        self.handle.counters().snapshot()
    }

    // ---- used by the state machine ----

    fn transport_mut(&mut self) -> io::Result<&mut Box<dyn Transport>> {
        self.transport
            .as_mut()
            .ok_or_else(|| io::Error::new(ErrorKind::NotConnected, "connection is not open"))
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

    pub(crate) fn set_muted(&mut self, muted: bool) {
        self.muted = muted;
    }

    pub(crate) fn set_expect(&mut self, qty: usize) {
        self.expect = qty;
    }

    pub(crate) fn count_dropped_write(&self) {
        self.handle.counters().write_dropped();
    }

    pub(crate) fn count_expect_rejected(&self) {
        self.handle.counters().expect_rejected();
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
        self.transport = Some(transport);
        // The read buffer is allocated by the first read that brings data (see `read_once`).
    }

    /// Whether the driver should poll the socket for reading.
    pub(crate) fn wants_read(&self) -> bool {
        self.is_live() && !self.muted && !self.read_again_pending && self.transport.is_some()
    }

    /// Whether the driver should poll the socket for writing.
    pub(crate) fn wants_write(&self) -> bool {
        self.transport.is_some()
            && !self.write_again_pending
            && (!self.write_queue.is_empty() || self.phase == Phase::Closing { write_shut: false })
    }

    /// Takes the next complete frame from the read buffer, if one is there (R1).
    pub(crate) fn next_frame(&mut self) -> Option<Vec<u8>> {
        let buffered = self.read_buf.len() - self.read_start;
        if buffered == 0 || buffered < self.expect {
            return None;
        }
        let cap = self.config.get_read_buffer_size();
        if self.expect == 0 && self.read_start == 0 {
            return Some(std::mem::replace(
                &mut self.read_buf,
                Vec::with_capacity(cap),
            ));
        }
        let take = if self.expect == 0 {
            buffered
        } else {
            self.expect
        };
        let frame = self.read_buf[self.read_start..self.read_start + take].to_vec();
        self.read_start += take;
        if self.read_start == self.read_buf.len() {
            self.read_buf.clear();
            self.read_start = 0;
        }
        Some(frame)
    }

    /// Reads once from the transport into the free space of the read buffer.
    pub(crate) fn read_once(&mut self) -> ReadOutcome {
        if self.read_start > 0 {
            self.read_buf.drain(..self.read_start);
            self.read_start = 0;
        }
        let free = self
            .config
            .get_read_buffer_size()
            .saturating_sub(self.read_buf.len());
        let Some(transport) = self.transport.as_mut() else {
            return ReadOutcome::WouldBlock;
        };
        if free == 0 {
            // Only reachable if framing left a full buffer undeliverable; never read 0 bytes
            // and mistake it for end of stream (lori #324).
            return ReadOutcome::WouldBlock;
        }
        let read = if self.read_buf.capacity() == 0 && free <= FIRST_READ_ON_STACK {
            // A connection's first read goes to the stack, and its read buffer is allocated
            // only if data came: many connections only ever read the end of the stream.
            let mut first = [MaybeUninit::uninit(); FIRST_READ_ON_STACK];
            read_into(transport.as_mut(), &mut first[..free]).map(|data| {
                if !data.is_empty() {
                    self.read_buf
                        .reserve_exact(self.config.get_read_buffer_size());
                    self.read_buf.extend_from_slice(data);
                }
                data.len()
            })
        } else {
            read_appending(transport.as_mut(), &mut self.read_buf, free)
        };
        match read {
            Ok(0) => {
                self.hard_close();
                ReadOutcome::Ended
            }
            Ok(n) => {
                self.handle.counters().received(n);
                ReadOutcome::Data(n)
            }
            Err(e) if e.kind() == ErrorKind::WouldBlock => ReadOutcome::WouldBlock,
            Err(e) if e.kind() == ErrorKind::Interrupted => ReadOutcome::Data(0),
            Err(e) => {
                tracing::debug!(error = %e, "read failed; closing");
                self.hard_close();
                ReadOutcome::Ended
            }
        }
    }

    /// Appends to the write queue; empty data puts nothing on the wire.
    pub(crate) fn enqueue(&mut self, data: Vec<u8>) {
        if !data.is_empty() {
            self.write_queue.push_back(data);
        }
    }

    /// Writes from the queue until it drains, the socket pushes back, or this turn's write
    /// budget is spent. Returns true if anything was written.
    pub(crate) fn flush(&mut self) -> bool {
        if !self.is_live() {
            // A hard close left `throttled` set: it must not turn into `unthrottled` (W4, L2).
            return false;
        }
        let budget = self.config.get_yield_after_writing();
        let mut written_this_turn = 0usize;
        while !self.write_queue.is_empty() {
            if written_this_turn >= budget {
                self.write_again_pending = true;
                return true;
            }
            let Some(transport) = self.transport.as_mut() else {
                return written_this_turn > 0;
            };
            // On the stack, not allocated per write; a lone buffer (the common case) needs no
            // array at all.
            let head = IoSlice::new(&self.write_queue[0][self.head_written..]);
            let one;
            let mut many;
            let slices: &[IoSlice<'_>] = if self.write_queue.len() == 1 {
                one = [head];
                &one
            } else {
                many = [IoSlice::new(&[]); MAX_WRITE_SLICES];
                many[0] = head;
                let mut count = 1;
                for (slot, buf) in many[1..].iter_mut().zip(self.write_queue.iter().skip(1)) {
                    *slot = IoSlice::new(buf);
                    count += 1;
                }
                &many[..count]
            };
            let offered: usize = slices.iter().map(|s| s.len()).sum();
            match transport.write_vectored(slices) {
                Ok(0) => {
                    tracing::debug!("write returned 0; closing");
                    self.hard_close();
                    return written_this_turn > 0;
                }
                Ok(n) => {
                    self.consume_written(n);
                    self.handle.counters().sent(n);
                    written_this_turn += n;
                    if n < offered {
                        self.enter_throttle();
                    }
                }
                Err(e) if e.kind() == ErrorKind::WouldBlock => {
                    self.enter_throttle();
                    return written_this_turn > 0;
                }
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) => {
                    tracing::debug!(error = %e, "write failed; closing");
                    self.hard_close();
                    return written_this_turn > 0;
                }
            }
        }
        // Drained in whichever turn this is (W5), and FIN goes out as soon as it drains (L4).
        if self.throttled {
            self.throttled = false;
            self.deferred.push(Deferred::Unthrottled);
        }
        self.shut_if_drained();
        written_this_turn > 0
    }

    fn consume_written(&mut self, mut n: usize) {
        while n > 0 {
            let Some(head) = self.write_queue.front() else {
                break;
            };
            let left = head.len() - self.head_written;
            if n >= left {
                n -= left;
                self.write_queue.pop_front();
                self.head_written = 0;
            } else {
                self.head_written += n;
                n = 0;
            }
        }
    }

    fn enter_throttle(&mut self) {
        if !self.throttled {
            self.throttled = true;
            self.deferred.push(Deferred::Throttled);
        }
    }

    /// In a graceful close, shuts the write side once the queue is empty.
    fn shut_if_drained(&mut self) {
        if self.phase != (Phase::Closing { write_shut: false }) || !self.write_queue.is_empty() {
            return;
        }
        let Some(transport) = self.transport.as_mut() else {
            return;
        };
        match transport.shutdown_write() {
            Ok(()) => self.phase = Phase::Closing { write_shut: true },
            Err(e) if e.kind() == ErrorKind::WouldBlock => {}
            Err(e) => {
                tracing::debug!(error = %e, "shutdown failed; closing");
                self.hard_close();
            }
        }
    }
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
