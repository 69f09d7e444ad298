//! The sans-IO connection state machine: it takes events and turns them into notifier
//! callbacks, following the contract's scheduling model (`docs/contract.md`), and hands out what the runtime must
//! do next. It never touches a socket, a clock, a lock or a task.
//!
//! As quinn-proto's `Connection`, its methods come in two families:
//! - `handle_*` take one event each: the dial, resolved addresses, an attempt's result, an
//!   accepted socket, a mailbox message, readiness. Each is one turn of the connection.
//! - `poll_*` hand out what the runtime must do: [`poll_messages`](ConnectionMachine::poll_messages)
//!   the messages the connection sent itself (`write`, `mute`, `dispose`, ... from a callback),
//!   to queue in its mailbox; [`poll_attempt`](ConnectionMachine::poll_attempt) the addresses
//!   to dial; [`poll_dials`](ConnectionMachine::poll_dials) the new connections its notifier
//!   asked for; [`poll_resume`](ConnectionMachine::poll_resume) the resumes to queue after a
//!   yield, behind what other tasks sent meanwhile (R4). [`is_finished`](ConnectionMachine::is_finished)
//!   says when the connection is over.

use super::config::{ConnectionConfig, MAX_RECEIVED_PER_TURN};
use super::connection::{
    write_size, Attachment, Deferred, Phase, ReadOutcome, Role, TcpConnection, WriteKind,
};
use super::dial::DialRequest;
use super::message::Message;
use super::messages::Messages;
use super::notify::{ConnectFailure, TcpConnectionNotify, Unset};
use super::transport::Transport;
use bytes::Bytes;
use smallvec::SmallVec;
use std::net::SocketAddr;

/// The addresses a name resolved to, in resolution order: one inline, so
/// an address literal's resolution allocates nothing.
pub(crate) type Addresses = SmallVec<[SocketAddr; 1]>;

/// A connection's notifier and state, driven one turn at a time.
pub(crate) struct ConnectionMachine {
    notify: Box<dyn TcpConnectionNotify>,
    conn: TcpConnection,
    /// Resolved addresses not yet handed out by `poll_attempt`, in resolution order (C2).
    to_dial: smallvec::IntoIter<[SocketAddr; 1]>,
    read_again_sent: bool,
    write_again_sent: bool,
    /// The pending read yield is the notifier's: `received` returned false (R3), rather than
    /// the turn reaching a limit (see [`yield_asked`](Self::yield_asked)).
    yield_asked: bool,
}

impl ConnectionMachine {
    /// A client connection that has not dialled yet.
    #[inline]
    pub(crate) fn client(
        notify: Box<dyn TcpConnectionNotify>,
        config: ConnectionConfig,
        attachment: Option<Attachment>,
    ) -> Self {
        Self::new(notify, TcpConnection::new(Role::Client, config, attachment))
    }

    /// A connection accepted by a listener; [`handle_accepted`](Self::handle_accepted) starts it.
    #[inline]
    pub(crate) fn server(
        notify: Box<dyn TcpConnectionNotify>,
        config: ConnectionConfig,
        attachment: Option<Attachment>,
    ) -> Self {
        Self::new(notify, TcpConnection::new(Role::Server, config, attachment))
    }

    #[inline]
    fn new(notify: Box<dyn TcpConnectionNotify>, conn: TcpConnection) -> Self {
        ConnectionMachine {
            notify,
            conn,
            to_dial: Addresses::new().into_iter(),
            read_again_sent: false,
            write_again_sent: false,
            yield_asked: false,
        }
    }

    // ---- observers ----

    /// The connection state, as the notifier sees it.
    pub(crate) fn connection(&self) -> &TcpConnection {
        &self.conn
    }

    /// Whether the connection is still dialling.
    pub(crate) fn is_connecting(&self) -> bool {
        self.conn.is_connecting()
    }

    /// Whether the connection reached `closed` or `connect_failed`: the runtime winds it up.
    pub(crate) fn is_finished(&self) -> bool {
        self.conn.is_finished()
    }

    /// Whether a read turn could do anything: live, not muted, not waiting for a resume.
    pub(crate) fn wants_read(&self) -> bool {
        self.conn.wants_read()
    }

    /// Whether a write turn could do anything: something queued, or a shut to send.
    pub(crate) fn wants_write(&self) -> bool {
        self.conn.wants_write()
    }

    // ---- events in ----

    /// Client start: `proxy_via` (C1), returning the host and service to resolve.
    pub(crate) fn handle_dial(&mut self, host: &str, service: &str) -> (String, String) {
        let target = self.notify.proxy_via(host, service);
        self.conn.set_phase(Phase::Resolving);
        target
    }

    /// Resolution finished: every address is to be dialled at once (C2, see
    /// [`poll_attempt`](Self::poll_attempt)) and `connecting(n)` reports them (C3); or
    /// `connect_failed(Resolve)`. Ignored if the connection was closed meanwhile. Takes a
    /// backend's `Vec` of addresses or [`Addresses`] made without one.
    pub(crate) fn handle_resolved(&mut self, addresses: std::io::Result<impl Into<Addresses>>) {
        if self.conn.phase() != Phase::Resolving {
            return;
        }
        let addresses = match addresses.map(Into::into) {
            Ok(addresses) if !addresses.is_empty() => addresses,
            Ok(_) => {
                self.fail(ConnectFailure::Resolve);
                return;
            }
            Err(e) => {
                tracing::debug!(error = %e, "resolution failed");
                self.fail(ConnectFailure::Resolve);
                return;
            }
        };
        let count = u32::try_from(addresses.len()).unwrap_or(u32::MAX);
        self.conn
            .set_phase(Phase::Connecting { outstanding: count });
        self.to_dial = addresses.into_iter();
        self.notify.connecting(&mut self.conn, count);
        self.drain_deferred();
    }

    /// One connect attempt failed: `connecting(n-1)`, or `connect_failed` after the last (C3, C4).
    /// Ignored once connected or abandoned.
    pub(crate) fn handle_attempt_failed(&mut self, reason: ConnectFailure) {
        let Phase::Connecting { outstanding } = self.conn.phase() else {
            return;
        };
        let left = outstanding.saturating_sub(1);
        if left == 0 {
            self.fail(reason);
            return;
        }
        self.conn.set_phase(Phase::Connecting { outstanding: left });
        self.notify.connecting(&mut self.conn, left);
        self.drain_deferred();
    }

    /// One connect attempt succeeded. The first wins (`connected`, then reading in the same
    /// turn); later ones are handed back for the runtime to close silently (C2, C6).
    pub(crate) fn handle_attempt_connected(
        &mut self,
        transport: Box<dyn Transport>,
    ) -> Result<(), Box<dyn Transport>> {
        if !matches!(self.conn.phase(), Phase::Connecting { .. }) {
            return Err(transport);
        }
        self.conn.open(transport);
        self.notify.connected(&mut self.conn);
        self.drain_deferred();
        self.read_turn();
        Ok(())
    }

    /// Server start: `accepted` (A1), then reading in the same turn.
    pub(crate) fn handle_accepted(&mut self, transport: Box<dyn Transport>) {
        self.conn.open(transport);
        self.notify.accepted(&mut self.conn);
        self.drain_deferred();
        self.read_turn();
    }

    /// Handles one mailbox message (one turn).
    pub(crate) fn handle_message(&mut self, msg: Message) {
        // W1: a write outside the open phase is dropped and counted, whichever kind it is.
        if self.conn.phase() != Phase::Open {
            if let Some((kind, bytes)) = write_size(&msg) {
                self.conn.drop_write(kind, bytes);
                return;
            }
        }
        match msg {
            Message::Write(data) => {
                let out = self.notify.sent(&mut self.conn, data);
                self.queue_writes(WriteKind::SentResult, std::iter::once(out));
            }
            Message::Writev(chunks) => {
                let out = self.notify.sentv(&mut self.conn, chunks);
                self.queue_writes(WriteKind::SentvResult, out);
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
            Message::SetNotify(next) => {
                let current = std::mem::replace(&mut self.notify, Box::new(Unset));
                self.notify = current.replaced_by(next);
            }
            Message::ReadAgain => {
                self.conn.read_again_pending = false;
                self.read_again_sent = false;
                self.yield_asked = false;
                self.read_turn();
            }
            Message::WriteAgain => {
                self.conn.write_again_pending = false;
                self.write_again_sent = false;
                self.handle_writable();
            }
        }
    }

    /// The socket may be readable: one read turn. Returns whether anything happened.
    pub(crate) fn handle_readable(&mut self) -> bool {
        self.read_turn()
    }

    /// The socket may be writable: flush what is queued. Returns whether anything was written.
    pub(crate) fn handle_writable(&mut self) -> bool {
        let wrote = self.conn.flush();
        self.drain_deferred();
        wrote
    }

    /// One pass of the runtime's turn loop: `msg` (the next mailbox message, if any), then a
    /// read turn and a write turn if the connection wants them. Returns whether anything
    /// happened.
    pub(crate) fn pass(&mut self, msg: Option<Message>) -> bool {
        let mut progressed = false;
        if let Some(msg) = msg {
            self.handle_message(msg);
            progressed = true;
        }
        if self.wants_read() {
            progressed |= self.handle_readable();
        }
        if self.wants_write() {
            progressed |= self.handle_writable();
        }
        progressed
    }

    // ---- what the runtime must do ----

    /// Whether the connection sent itself messages since [`poll_messages`](Self::poll_messages)
    /// was last asked.
    pub(crate) fn has_messages(&self) -> bool {
        self.conn.has_outgoing()
    }

    /// The messages the connection sent itself from callbacks since last asked, oldest first.
    /// The runtime takes them all and queues them in the mailbox behind what is there, so
    /// each is handled in a later turn, in order, as if another task had sent it; it may
    /// leave an empty buffer of its own in their place, for the next ones.
    pub(crate) fn poll_messages(&mut self) -> &mut Messages {
        self.conn.outgoing()
    }

    /// Whether the notifier asked for connections since [`poll_dials`](Self::poll_dials) was
    /// last asked: nearly never, so the runtime asks this first.
    pub(crate) fn has_dials(&self) -> bool {
        self.conn.dials.len() > 0
    }

    /// The connections the notifier asked for since last asked, oldest first: the runtime
    /// starts each from this connection's host, over its network.
    pub(crate) fn poll_dials(&mut self) -> Vec<DialRequest> {
        self.conn.dials().take()
    }

    /// The next resolved address to dial, in resolution order (C2); none once the connection
    /// stopped connecting.
    pub(crate) fn poll_attempt(&mut self) -> Option<SocketAddr> {
        let next = match self.conn.is_connecting() {
            true => self.to_dial.next(),
            false => None,
        };
        if next.is_none() {
            // Frees a long resolved list, not kept for the connection's life.
            self.to_dial = Addresses::new().into_iter();
        }
        next
    }

    /// Whether a write found the task's cooperative budget spent since the last pass that
    /// wrote: the runtime ends its turns and returns `Pending` (it has arranged the task's
    /// wake), as for a socket that has nothing ready; the next pass writes again.
    pub(crate) fn gave_way(&self) -> bool {
        self.conn.gave_way
    }

    /// Whether the connection yielded and its resumes were not handed out yet: the runtime
    /// ends its turns and lets other tasks run first.
    pub(crate) fn has_resumes(&self) -> bool {
        (self.conn.read_again_pending && !self.read_again_sent)
            || (self.conn.write_again_pending && !self.write_again_sent)
    }

    /// Whether the notifier asked for the yield pending ([`has_resumes`](Self::has_resumes)):
    /// a `received` returned false (R3). Otherwise the turn reached one of its limits: R3's
    /// deliveries, R4's bytes read, or the bytes written. After a limit a runtime may start
    /// the next turn in the same poll (see `Network::poll_after_yield`); after an asked yield
    /// it lets other tasks run first.
    pub(crate) fn yield_asked(&self) -> bool {
        self.yield_asked && self.conn.read_again_pending
    }

    /// A resume for a yield that happened since the last call. The runtime queues it after
    /// letting other tasks run, so their messages are handled first (R4).
    pub(crate) fn poll_resume(&mut self) -> Option<Message> {
        if self.conn.read_again_pending && !self.read_again_sent {
            self.read_again_sent = true;
            return Some(Message::ReadAgain);
        }
        if self.conn.write_again_pending && !self.write_again_sent {
            self.write_again_sent = true;
            return Some(Message::WriteAgain);
        }
        None
    }

    // ---- the turns ----

    fn queue_writes<I>(&mut self, kind: WriteKind, chunks: I)
    where
        I: IntoIterator<Item = Bytes>,
        I::IntoIter: Clone,
    {
        // The notifier closed the connection inside `sent` (or a callback deferred to after
        // it, its `expect` hook or `throttled`, did): what `sent` returned is not sent, and is
        // counted before `closed` runs, so that its recorder tells of it. A `hard_close` in a
        // deferred callback discards it with the queue (`sent_result_pending`); a graceful
        // `close` there leaves it to W1, as inside `sent`.
        let chunks = chunks.into_iter();
        let bytes = chunks.clone().map(|c| c.len()).sum();
        if self.conn.phase() != Phase::Open {
            self.conn.refuse_sent(kind, bytes);
            self.drain_deferred();
            return;
        }
        self.conn.sent_result_pending = bytes;
        self.drain_deferred();
        let pending = std::mem::take(&mut self.conn.sent_result_pending);
        if self.conn.phase() != Phase::Open {
            self.conn.refuse_sent(kind, pending);
            return;
        }
        for chunk in chunks {
            self.conn.enqueue(chunk);
        }
        if !self.conn.is_throttled() && !self.conn.write_again_pending {
            self.handle_writable();
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
                    self.yield_asked = !more;
                    return true;
                }
            }
            if read_this_turn >= self.conn.config().yield_after_reading() {
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
    #[inline]
    fn drain_deferred(&mut self) {
        // Called after every callback and nearly always with nothing deferred: that check
        // inline, the delivery out of line.
        if !self.conn.deferred.is_empty() {
            self.deliver_deferred();
        }
    }

    #[inline(never)]
    fn deliver_deferred(&mut self) {
        while !self.conn.deferred.is_empty() {
            // In order; callbacks may defer more, which run in this loop too.
            let deferred = self.conn.deferred.remove(0);
            match deferred {
                Deferred::Expect(_) if self.conn.is_finished() => {}
                Deferred::Expect(qty) => {
                    let used = self.notify.expect(&mut self.conn, qty);
                    let max = self.conn.config().read_buffer_size();
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
