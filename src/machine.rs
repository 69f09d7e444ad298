//! The sans-IO connection state machine: it takes events (connect results, readiness, mailbox
//! messages) and turns them into notifier callbacks, following the scheduling model of the
//! contract (`docs/contract.md`).
//! Each public method is one turn. It never touches a socket, a clock or a task: drivers feed it.

use crate::config::{ConnectionConfig, MAX_RECEIVED_PER_TURN};
use crate::connection::{Deferred, Message, Phase, ReadOutcome, Role, TcpConnection};
use crate::handle::ConnectionHandle;
use crate::notify::{ConnectFailure, TcpConnectionNotify};
use crate::transport::Transport;
use std::net::SocketAddr;

/// A connection's notifier and state, driven one turn at a time.
pub struct ConnectionMachine {
    notify: Box<dyn TcpConnectionNotify>,
    conn: TcpConnection,
    read_again_sent: bool,
    write_again_sent: bool,
}

impl ConnectionMachine {
    /// A client connection that has not dialled yet.
    pub(crate) fn client(
        notify: Box<dyn TcpConnectionNotify>,
        config: ConnectionConfig,
        handle: ConnectionHandle,
    ) -> Self {
        Self::new(notify, TcpConnection::new(Role::Client, config, handle))
    }

    /// A connection accepted by a listener; [`accept`](Self::accept) starts it.
    pub(crate) fn server(
        notify: Box<dyn TcpConnectionNotify>,
        config: ConnectionConfig,
        handle: ConnectionHandle,
    ) -> Self {
        Self::new(notify, TcpConnection::new(Role::Server, config, handle))
    }

    fn new(notify: Box<dyn TcpConnectionNotify>, conn: TcpConnection) -> Self {
        ConnectionMachine {
            notify,
            conn,
            read_again_sent: false,
            write_again_sent: false,
        }
    }

    /// The connection state, as the notifier sees it.
    pub fn connection(&self) -> &TcpConnection {
        &self.conn
    }

    /// Whether the driver is still dialling.
    pub fn is_connecting(&self) -> bool {
        self.conn.is_connecting()
    }

    /// Whether the connection reached `closed` or `connect_failed`.
    pub fn is_finished(&self) -> bool {
        self.conn.is_finished()
    }

    /// Whether the driver should try to read.
    pub fn wants_read(&self) -> bool {
        self.conn.wants_read()
    }

    /// Whether the driver should try to write.
    pub fn wants_write(&self) -> bool {
        self.conn.wants_write()
    }

    /// Client start: `proxy_via` (C1), returning the host and service to resolve.
    pub fn start_client(&mut self, host: &str, service: &str) -> (String, String) {
        let target = self.notify.proxy_via(host, service);
        self.conn.phase = Phase::Resolving;
        target
    }

    /// Resolution finished: dial every address (C2) and report `connecting(n)` (C3), or
    /// `connect_failed(Resolve)`. Returns the addresses to dial, in order; none if the
    /// connection failed or was closed meanwhile.
    pub fn resolved(&mut self, addresses: std::io::Result<Vec<SocketAddr>>) -> Vec<SocketAddr> {
        if self.conn.phase != Phase::Resolving {
            return Vec::new();
        }
        let addresses = match addresses {
            Ok(addresses) if !addresses.is_empty() => addresses,
            Ok(_) => {
                self.fail(ConnectFailure::Resolve);
                return Vec::new();
            }
            Err(e) => {
                tracing::debug!(error = %e, "resolution failed");
                self.fail(ConnectFailure::Resolve);
                return Vec::new();
            }
        };
        let count = u32::try_from(addresses.len()).unwrap_or(u32::MAX);
        self.conn.phase = Phase::Connecting { outstanding: count };
        self.notify.connecting(&mut self.conn, count);
        self.drain_deferred();
        if self.conn.is_connecting() {
            addresses
        } else {
            Vec::new()
        }
    }

    /// One connect attempt failed: `connecting(n-1)`, or `connect_failed` after the last (C3, C4).
    /// Ignored once connected or abandoned.
    pub fn attempt_failed(&mut self, reason: ConnectFailure) {
        let Phase::Connecting { outstanding } = self.conn.phase else {
            return;
        };
        let left = outstanding.saturating_sub(1);
        if left == 0 {
            self.fail(reason);
            return;
        }
        self.conn.phase = Phase::Connecting { outstanding: left };
        self.notify.connecting(&mut self.conn, left);
        self.drain_deferred();
    }

    /// One connect attempt succeeded. The first wins (`connected`, then reading in the same
    /// turn); later ones are handed back for the driver to close silently (C2, C6).
    pub fn attempt_connected(
        &mut self,
        transport: Box<dyn Transport>,
    ) -> Result<(), Box<dyn Transport>> {
        if !matches!(self.conn.phase, Phase::Connecting { .. }) {
            return Err(transport);
        }
        self.conn.open(transport);
        self.notify.connected(&mut self.conn);
        self.drain_deferred();
        self.read_turn();
        Ok(())
    }

    /// Server start: `accepted` (A1), then reading in the same turn.
    pub fn accept(&mut self, transport: Box<dyn Transport>) {
        self.conn.open(transport);
        self.notify.accepted(&mut self.conn);
        self.drain_deferred();
        self.read_turn();
    }

    /// Handles one mailbox message (one turn).
    pub(crate) fn handle(&mut self, msg: Message) {
        match msg {
            Message::Write(data) => {
                if self.conn.phase != Phase::Open {
                    self.conn.count_dropped_write();
                    return;
                }
                let out = self.notify.sent(&mut self.conn, data);
                self.queue_writes(std::iter::once(out));
            }
            Message::Writev(chunks) => {
                if self.conn.phase != Phase::Open {
                    self.conn.count_dropped_write();
                    return;
                }
                let out = self.notify.sentv(&mut self.conn, chunks);
                self.queue_writes(out);
            }
            Message::Mute => self.conn.set_muted(true),
            Message::Unmute => {
                self.conn.set_muted(false);
                self.read_turn();
            }
            Message::Dispose => {
                self.conn.close();
                self.drain_deferred();
            }
            Message::SetNotify(notify) => self.notify = notify,
            Message::ReadAgain => {
                self.conn.read_again_pending = false;
                self.read_again_sent = false;
                self.read_turn();
            }
            Message::WriteAgain => {
                self.conn.write_again_pending = false;
                self.write_again_sent = false;
                self.writable();
            }
        }
    }

    /// One pass of the driver's loop: `msg` (the next mailbox message, if any), then a read turn
    /// and a write turn if the connection wants them. Returns whether anything happened.
    pub(crate) fn pass(&mut self, msg: Option<Message>) -> bool {
        let mut progressed = false;
        if let Some(msg) = msg {
            self.handle(msg);
            progressed = true;
        }
        if self.wants_read() {
            progressed |= self.readable();
        }
        if self.wants_write() {
            progressed |= self.writable();
        }
        progressed
    }

    /// The socket may be readable: one read turn. Returns whether anything happened.
    pub fn readable(&mut self) -> bool {
        self.read_turn()
    }

    /// The socket may be writable: flush what is queued. Returns whether anything was written.
    pub fn writable(&mut self) -> bool {
        let wrote = self.conn.flush();
        self.drain_deferred();
        wrote
    }

    /// Resume messages for yields that happened since the last call. The driver queues them
    /// after letting other tasks run, so their messages are handled first (R4).
    pub(crate) fn take_resumes(&mut self) -> Vec<Message> {
        let mut resumes = Vec::new();
        if self.conn.read_again_pending && !self.read_again_sent {
            self.read_again_sent = true;
            resumes.push(Message::ReadAgain);
        }
        if self.conn.write_again_pending && !self.write_again_sent {
            self.write_again_sent = true;
            resumes.push(Message::WriteAgain);
        }
        resumes
    }

    fn queue_writes(&mut self, chunks: impl IntoIterator<Item = Vec<u8>>) {
        self.drain_deferred();
        if self.conn.phase != Phase::Open {
            // The notifier closed the connection inside `sent`.
            return;
        }
        for chunk in chunks {
            self.conn.enqueue(chunk);
        }
        if !self.conn.is_throttled() && !self.conn.write_again_pending {
            self.writable();
        }
    }

    fn fail(&mut self, reason: ConnectFailure) {
        self.conn.fail_connect(reason);
        self.drain_deferred();
    }

    /// Pony's read loop: deliver what is buffered, then read more, until the socket has
    /// nothing, the notifier yields, or this turn's limits are reached (R1, R3, R4, R5).
    fn read_turn(&mut self) -> bool {
        let mut times = 0usize;
        let mut read_this_turn = 0usize;
        let mut progressed = false;
        loop {
            if !self.conn.is_live() || self.conn.is_muted() || self.conn.read_again_pending {
                return progressed;
            }
            while let Some(frame) = self.conn.next_frame() {
                times += 1;
                progressed = true;
                let more = self.notify.received(&mut self.conn, frame, times);
                self.drain_deferred();
                if !self.conn.is_live() {
                    // Closed inside `received`: buffered frames are never delivered (L2).
                    return true;
                }
                if !more || times >= MAX_RECEIVED_PER_TURN {
                    self.conn.read_again_pending = true;
                    return true;
                }
            }
            if read_this_turn >= self.conn.config().get_yield_after_reading() {
                self.conn.read_again_pending = true;
                return true;
            }
            match self.conn.read_once() {
                ReadOutcome::Data(n) => {
                    read_this_turn += n;
                    progressed = true;
                }
                ReadOutcome::WouldBlock => return progressed,
                ReadOutcome::Ended => {
                    self.drain_deferred();
                    return true;
                }
            }
        }
    }

    /// Delivers the callbacks Pony would have nested in the one that just returned.
    fn drain_deferred(&mut self) {
        while !self.conn.deferred.is_empty() {
            // In order; callbacks may defer more, which run in this loop too.
            let deferred = self.conn.deferred.remove(0);
            match deferred {
                Deferred::Expect(_) if self.conn.is_finished() => {}
                Deferred::Expect(qty) => {
                    let used = self.notify.expect(&mut self.conn, qty);
                    let max = self.conn.config().get_read_buffer_size();
                    if used > max {
                        tracing::warn!(
                            requested = qty,
                            used,
                            max,
                            "notifier expect exceeds the read buffer; framing unchanged"
                        );
                        self.conn.count_expect_rejected();
                    } else {
                        self.conn.set_expect(used);
                    }
                }
                Deferred::Throttled => self.notify.throttled(&mut self.conn),
                Deferred::Unthrottled => self.notify.unthrottled(&mut self.conn),
                Deferred::Closed => self.notify.closed(&mut self.conn),
                Deferred::ConnectFailed(reason) => {
                    self.notify.connect_failed(&mut self.conn, reason)
                }
            }
        }
    }
}
