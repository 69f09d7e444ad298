//! Test doubles for the sans-IO state machines: a scriptable transport ([`Wire`]), recording
//! notifiers with pluggable behaviour ([`Script`], [`ListenScript`]) writing to a [`Log`], and
//! [`Conn`], which owns a machine and its mailbox and pumps them the way the driver does.
//!
//! Callbacks are logged on entry, one line each (`received("ab", 1)`), so a note a hook pushes
//! comes after the line of the callback it runs in, and a callback delivered after another
//! returned comes after that note.

use crate::config::ConnectionConfig;
use crate::connection::{Phase, TcpConnection};
use crate::handle::{ConnectionHandle, Mailbox};
use crate::listener::TcpListener;
use crate::machine::ConnectionMachine;
use crate::notify::{ConnectFailure, TcpConnectionNotify, TcpListenNotify};
use crate::transport::{ReadBuf, Transport};
use std::collections::VecDeque;
use std::io::{self, ErrorKind, IoSlice};
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex, MutexGuard};

/// An empty log, for `assert_eq!(log.take(), NOTHING)`.
pub(crate) const NOTHING: [&str; 0] = [];

/// `127.0.0.1:port`.
pub(crate) fn addr(port: u16) -> SocketAddr {
    SocketAddr::from((Ipv4Addr::LOCALHOST, port))
}

/// Bytes as the log shows them.
fn show(data: &[u8]) -> String {
    format!("\"{}\"", data.escape_ascii())
}

// ---- the transport ----

/// One scripted result of `read`.
pub(crate) enum Read {
    Data(Vec<u8>),
    WouldBlock,
    Eof,
    Error(ErrorKind),
}

/// The scripted socket state, shared between a test and the transport the machine owns.
#[derive(Default)]
pub(crate) struct WireState {
    /// What the next reads return; empty means `WouldBlock`.
    reads: VecDeque<Read>,
    /// Bytes the socket still takes before `WouldBlock`; `None` is unlimited.
    capacity: Option<usize>,
    /// Most bytes one write call takes, to force partial writes; `None` is unlimited.
    per_call: Option<usize>,
    /// Every write fails with this error.
    write_error: Option<ErrorKind>,
    written: Vec<u8>,
    write_calls: usize,
    read_sizes: Vec<usize>,
    shut: bool,
    nodelay: bool,
    keepalive: u32,
    dropped: bool,
}

/// A scriptable socket: a test keeps one clone, the machine owns the transport made from it.
#[derive(Clone)]
pub(crate) struct Wire {
    state: Arc<Mutex<WireState>>,
    port: u16,
}

impl Wire {
    /// A socket that takes every write, whose transport reports `127.0.0.1:port` as its address.
    pub(crate) fn new(port: u16) -> Wire {
        Wire {
            state: Arc::default(),
            port,
        }
    }

    fn lock(&self) -> MutexGuard<'_, WireState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The transport to hand to the machine.
    pub(crate) fn transport(&self) -> Box<dyn Transport> {
        Box::new(FakeTransport { wire: self.clone() })
    }

    /// The peer sends `data`: one read returns it (or its first `max` bytes).
    pub(crate) fn push(&self, data: impl Into<Vec<u8>>) -> &Self {
        let data = data.into();
        assert!(
            !data.is_empty(),
            "an empty read is end of stream: use push_eof"
        );
        self.lock().reads.push_back(Read::Data(data));
        self
    }

    /// The next read says there is nothing yet.
    pub(crate) fn push_would_block(&self) -> &Self {
        self.lock().reads.push_back(Read::WouldBlock);
        self
    }

    /// The peer closes: a read returns `Ok(0)`.
    pub(crate) fn push_eof(&self) -> &Self {
        self.lock().reads.push_back(Read::Eof);
        self
    }

    /// A read fails with `kind`.
    pub(crate) fn push_error(&self, kind: ErrorKind) -> &Self {
        self.lock().reads.push_back(Read::Error(kind));
        self
    }

    /// Scripted reads not consumed yet.
    pub(crate) fn unread(&self) -> usize {
        self.lock().reads.len()
    }

    /// The `max` of every read call so far.
    pub(crate) fn read_sizes(&self) -> Vec<usize> {
        self.lock().read_sizes.clone()
    }

    /// From now on writes would block until [`grant`](Self::grant).
    pub(crate) fn block_writes(&self) -> &Self {
        self.lock().capacity = Some(0);
        self
    }

    /// The socket takes `n` more bytes.
    pub(crate) fn grant(&self, n: usize) -> &Self {
        let mut state = self.lock();
        state.capacity = Some(state.capacity.unwrap_or(0) + n);
        drop(state);
        self
    }

    /// Writes are taken whole again (no more capacity limit).
    pub(crate) fn unblock_writes(&self) -> &Self {
        self.lock().capacity = None;
        self
    }

    /// One write call takes at most `n` bytes.
    pub(crate) fn per_call(&self, n: usize) -> &Self {
        self.lock().per_call = Some(n);
        self
    }

    /// Every write fails with `kind`.
    pub(crate) fn fail_writes(&self, kind: ErrorKind) -> &Self {
        self.lock().write_error = Some(kind);
        self
    }

    /// Everything written so far, in order.
    pub(crate) fn written(&self) -> Vec<u8> {
        self.lock().written.clone()
    }

    /// [`written`](Self::written) as text.
    pub(crate) fn written_str(&self) -> String {
        String::from_utf8_lossy(&self.lock().written).into_owned()
    }

    /// Calls of `write_vectored`, including the ones that would block or failed.
    pub(crate) fn write_calls(&self) -> usize {
        self.lock().write_calls
    }

    /// Whether the write side was shut (FIN sent).
    pub(crate) fn is_shut(&self) -> bool {
        self.lock().shut
    }

    /// Whether the machine dropped the transport (the socket was closed).
    pub(crate) fn is_dropped(&self) -> bool {
        self.lock().dropped
    }

    /// Nagle off?
    pub(crate) fn nodelay(&self) -> bool {
        self.lock().nodelay
    }

    /// The keepalive set last.
    pub(crate) fn keepalive(&self) -> u32 {
        self.lock().keepalive
    }
}

/// The [`Transport`] over a [`Wire`].
struct FakeTransport {
    wire: Wire,
}

impl Transport for FakeTransport {
    fn read(&mut self, buf: &mut ReadBuf<'_>) -> io::Result<()> {
        let mut state = self.wire.lock();
        let max = buf.remaining();
        state.read_sizes.push(max);
        match state.reads.pop_front() {
            None | Some(Read::WouldBlock) => Err(ErrorKind::WouldBlock.into()),
            Some(Read::Eof) => Ok(()),
            Some(Read::Error(kind)) => Err(kind.into()),
            Some(Read::Data(data)) => {
                let n = data.len().min(max);
                buf.put_slice(&data[..n]);
                if n < data.len() {
                    state.reads.push_front(Read::Data(data[n..].to_vec()));
                }
                Ok(())
            }
        }
    }

    fn write_vectored(&mut self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        let mut state = self.wire.lock();
        state.write_calls += 1;
        if let Some(kind) = state.write_error {
            return Err(kind.into());
        }
        let offered: usize = bufs.iter().map(|b| b.len()).sum();
        let take = offered
            .min(state.per_call.unwrap_or(usize::MAX))
            .min(state.capacity.unwrap_or(usize::MAX));
        if take == 0 {
            return Err(ErrorKind::WouldBlock.into());
        }
        let mut left = take;
        for buf in bufs {
            let n = buf.len().min(left);
            state.written.extend_from_slice(&buf[..n]);
            left -= n;
        }
        if let Some(capacity) = state.capacity.as_mut() {
            *capacity -= take;
        }
        Ok(take)
    }

    fn shutdown_write(&mut self) -> io::Result<()> {
        self.wire.lock().shut = true;
        Ok(())
    }

    fn set_nodelay(&mut self, nodelay: bool) -> io::Result<()> {
        self.wire.lock().nodelay = nodelay;
        Ok(())
    }

    fn nodelay(&self) -> io::Result<bool> {
        Ok(self.wire.lock().nodelay)
    }

    fn set_keepalive(&mut self, secs: u32) -> io::Result<()> {
        self.wire.lock().keepalive = secs;
        Ok(())
    }

    fn local_address(&self) -> Option<SocketAddr> {
        Some(addr(self.wire.port))
    }

    fn remote_address(&self) -> Option<SocketAddr> {
        Some(addr(9))
    }
}

impl Drop for FakeTransport {
    fn drop(&mut self) {
        self.wire.lock().dropped = true;
    }
}

// ---- the log and the recording notifiers ----

/// The ordered lines of callbacks and notes of one test.
#[derive(Clone, Default)]
pub(crate) struct Log(Arc<Mutex<Vec<String>>>);

impl Log {
    pub(crate) fn new() -> Log {
        Log::default()
    }

    fn lock(&self) -> MutexGuard<'_, Vec<String>> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Appends a line.
    pub(crate) fn push(&self, line: impl Into<String>) {
        self.lock().push(line.into());
    }

    /// Every line so far, leaving them in the log.
    pub(crate) fn lines(&self) -> Vec<String> {
        self.lock().clone()
    }

    /// Every line since the last `take`.
    pub(crate) fn take(&self) -> Vec<String> {
        std::mem::take(&mut *self.lock())
    }
}

type Hook = Box<dyn FnMut(&mut TcpConnection) + Send>;
type CountHook = Box<dyn FnMut(&mut TcpConnection, u32) + Send>;
type FailHook = Box<dyn FnMut(&mut TcpConnection, ConnectFailure) + Send>;
type ProxyHook = Box<dyn FnMut(&str, &str) -> (String, String) + Send>;
type SentHook = Box<dyn FnMut(&mut TcpConnection, Vec<u8>) -> Vec<u8> + Send>;
type SentvHook = Box<dyn FnMut(&mut TcpConnection, Vec<Vec<u8>>) -> Vec<Vec<u8>> + Send>;
type ReceivedHook = Box<dyn FnMut(&mut TcpConnection, &[u8], usize) -> bool + Send>;
type ExpectHook = Box<dyn FnMut(&mut TcpConnection, usize) -> usize + Send>;

/// A connection notifier that logs every callback on entry, then runs the hook the test
/// plugged for it, or the contract's default.
#[derive(Default)]
pub(crate) struct Script {
    log: Log,
    prefix: String,
    accepted: Option<Hook>,
    proxy_via: Option<ProxyHook>,
    connecting: Option<CountHook>,
    connected: Option<Hook>,
    connect_failed: Option<FailHook>,
    sent: Option<SentHook>,
    sentv: Option<SentvHook>,
    received: Option<ReceivedHook>,
    expect: Option<ExpectHook>,
    closed: Option<Hook>,
    throttled: Option<Hook>,
    unthrottled: Option<Hook>,
}

impl Script {
    /// A notifier with every default, logging to `log`.
    pub(crate) fn new(log: &Log) -> Script {
        Script {
            log: log.clone(),
            ..Script::default()
        }
    }

    /// As [`new`](Self::new), with every line prefixed `name:` (to tell notifiers apart).
    pub(crate) fn named(log: &Log, name: &str) -> Script {
        Script {
            prefix: format!("{name}:"),
            ..Script::new(log)
        }
    }

    pub(crate) fn log(&self) -> Log {
        self.log.clone()
    }

    fn line(&self, line: String) {
        self.log.push(format!("{}{line}", self.prefix));
    }

    pub(crate) fn on_accepted(
        mut self,
        f: impl FnMut(&mut TcpConnection) + Send + 'static,
    ) -> Self {
        self.accepted = Some(Box::new(f));
        self
    }
    pub(crate) fn on_proxy_via(
        mut self,
        f: impl FnMut(&str, &str) -> (String, String) + Send + 'static,
    ) -> Self {
        self.proxy_via = Some(Box::new(f));
        self
    }
    pub(crate) fn on_connecting(
        mut self,
        f: impl FnMut(&mut TcpConnection, u32) + Send + 'static,
    ) -> Self {
        self.connecting = Some(Box::new(f));
        self
    }
    pub(crate) fn on_connected(
        mut self,
        f: impl FnMut(&mut TcpConnection) + Send + 'static,
    ) -> Self {
        self.connected = Some(Box::new(f));
        self
    }
    pub(crate) fn on_connect_failed(
        mut self,
        f: impl FnMut(&mut TcpConnection, ConnectFailure) + Send + 'static,
    ) -> Self {
        self.connect_failed = Some(Box::new(f));
        self
    }
    pub(crate) fn on_sent(
        mut self,
        f: impl FnMut(&mut TcpConnection, Vec<u8>) -> Vec<u8> + Send + 'static,
    ) -> Self {
        self.sent = Some(Box::new(f));
        self
    }
    pub(crate) fn on_sentv(
        mut self,
        f: impl FnMut(&mut TcpConnection, Vec<Vec<u8>>) -> Vec<Vec<u8>> + Send + 'static,
    ) -> Self {
        self.sentv = Some(Box::new(f));
        self
    }
    pub(crate) fn on_received(
        mut self,
        f: impl FnMut(&mut TcpConnection, &[u8], usize) -> bool + Send + 'static,
    ) -> Self {
        self.received = Some(Box::new(f));
        self
    }
    pub(crate) fn on_expect(
        mut self,
        f: impl FnMut(&mut TcpConnection, usize) -> usize + Send + 'static,
    ) -> Self {
        self.expect = Some(Box::new(f));
        self
    }
    pub(crate) fn on_closed(mut self, f: impl FnMut(&mut TcpConnection) + Send + 'static) -> Self {
        self.closed = Some(Box::new(f));
        self
    }
    pub(crate) fn on_throttled(
        mut self,
        f: impl FnMut(&mut TcpConnection) + Send + 'static,
    ) -> Self {
        self.throttled = Some(Box::new(f));
        self
    }
    pub(crate) fn on_unthrottled(
        mut self,
        f: impl FnMut(&mut TcpConnection) + Send + 'static,
    ) -> Self {
        self.unthrottled = Some(Box::new(f));
        self
    }

    /// Sets `expect(qty)` as soon as the connection is connected or accepted.
    pub(crate) fn expecting(self, qty: usize) -> Self {
        self.on_accepted(move |conn| conn.expect(qty).expect("expect within the buffer"))
            .on_connected(move |conn| conn.expect(qty).expect("expect within the buffer"))
    }
}

impl TcpConnectionNotify for Script {
    fn accepted(&mut self, conn: &mut TcpConnection) {
        self.line("accepted".into());
        if let Some(f) = self.accepted.as_mut() {
            f(conn);
        }
    }
    fn proxy_via(&mut self, host: &str, service: &str) -> (String, String) {
        self.line(format!("proxy_via({host}, {service})"));
        match self.proxy_via.as_mut() {
            Some(f) => f(host, service),
            None => (host.to_string(), service.to_string()),
        }
    }
    fn connecting(&mut self, conn: &mut TcpConnection, count: u32) {
        self.line(format!("connecting({count})"));
        if let Some(f) = self.connecting.as_mut() {
            f(conn, count);
        }
    }
    fn connected(&mut self, conn: &mut TcpConnection) {
        self.line("connected".into());
        if let Some(f) = self.connected.as_mut() {
            f(conn);
        }
    }
    fn connect_failed(&mut self, conn: &mut TcpConnection, reason: ConnectFailure) {
        self.line(format!("connect_failed({reason})"));
        if let Some(f) = self.connect_failed.as_mut() {
            f(conn, reason);
        }
    }
    fn auth_failed(&mut self, _conn: &mut TcpConnection) {
        self.line("auth_failed".into());
    }
    fn sent(&mut self, conn: &mut TcpConnection, data: Vec<u8>) -> Vec<u8> {
        self.line(format!("sent({})", show(&data)));
        match self.sent.as_mut() {
            Some(f) => f(conn, data),
            None => data,
        }
    }
    fn sentv(&mut self, conn: &mut TcpConnection, chunks: Vec<Vec<u8>>) -> Vec<Vec<u8>> {
        let shown: Vec<String> = chunks.iter().map(|c| show(c)).collect();
        self.line(format!("sentv([{}])", shown.join(", ")));
        match self.sentv.as_mut() {
            Some(f) => f(conn, chunks),
            None => chunks,
        }
    }
    fn received(&mut self, conn: &mut TcpConnection, data: Vec<u8>, times: usize) -> bool {
        self.line(format!("received({}, {times})", show(&data)));
        match self.received.as_mut() {
            Some(f) => f(conn, &data, times),
            None => true,
        }
    }
    fn expect(&mut self, conn: &mut TcpConnection, qty: usize) -> usize {
        self.line(format!("expect({qty})"));
        match self.expect.as_mut() {
            Some(f) => f(conn, qty),
            None => qty,
        }
    }
    fn closed(&mut self, conn: &mut TcpConnection) {
        self.line("closed".into());
        if let Some(f) = self.closed.as_mut() {
            f(conn);
        }
    }
    fn throttled(&mut self, conn: &mut TcpConnection) {
        self.line("throttled".into());
        if let Some(f) = self.throttled.as_mut() {
            f(conn);
        }
    }
    fn unthrottled(&mut self, conn: &mut TcpConnection) {
        self.line("unthrottled".into());
        if let Some(f) = self.unthrottled.as_mut() {
            f(conn);
        }
    }
}

type ListenHook = Box<dyn FnMut(&mut TcpListener) + Send>;
type Factory = Box<dyn FnMut(&mut TcpListener) -> Option<Box<dyn TcpConnectionNotify>> + Send>;

/// A listen notifier that logs every callback on entry and hands out notifiers from a factory.
pub(crate) struct ListenScript {
    log: Log,
    listening: Option<ListenHook>,
    closed: Option<ListenHook>,
    factory: Factory,
}

impl ListenScript {
    /// A listener whose factory gives every connection a [`Script`] named `conn`.
    pub(crate) fn new(log: &Log) -> ListenScript {
        let conn_log = log.clone();
        ListenScript {
            log: log.clone(),
            listening: None,
            closed: None,
            factory: Box::new(move |_| Some(Box::new(Script::named(&conn_log, "conn")))),
        }
    }

    pub(crate) fn on_listening(mut self, f: impl FnMut(&mut TcpListener) + Send + 'static) -> Self {
        self.listening = Some(Box::new(f));
        self
    }
    pub(crate) fn on_closed(mut self, f: impl FnMut(&mut TcpListener) + Send + 'static) -> Self {
        self.closed = Some(Box::new(f));
        self
    }
    pub(crate) fn factory(
        mut self,
        f: impl FnMut(&mut TcpListener) -> Option<Box<dyn TcpConnectionNotify>> + Send + 'static,
    ) -> Self {
        self.factory = Box::new(f);
        self
    }
}

impl TcpListenNotify for ListenScript {
    fn listening(&mut self, listener: &mut TcpListener) {
        self.log.push("listening");
        if let Some(f) = self.listening.as_mut() {
            f(listener);
        }
    }
    fn not_listening(&mut self, _listener: &mut TcpListener) {
        self.log.push("not_listening");
    }
    fn connected(&mut self, listener: &mut TcpListener) -> Option<Box<dyn TcpConnectionNotify>> {
        self.log.push("listener.connected");
        (self.factory)(listener)
    }
    fn closed(&mut self, listener: &mut TcpListener) {
        self.log.push("listener.closed");
        if let Some(f) = self.closed.as_mut() {
            f(listener);
        }
    }
}

// ---- a machine with its mailbox ----

/// A connection machine, its mailbox and its socket, pumped by hand or the way the driver does.
pub(crate) struct Conn {
    pub(crate) machine: ConnectionMachine,
    pub(crate) mailbox: Mailbox,
    pub(crate) handle: ConnectionHandle,
    pub(crate) wire: Wire,
    pub(crate) log: Log,
}

impl Conn {
    /// A server-side connection, not accepted yet (script the wire, then [`accept`](Self::accept)).
    pub(crate) fn new_server(
        notify: Box<dyn TcpConnectionNotify>,
        config: ConnectionConfig,
        log: &Log,
    ) -> Conn {
        let (handle, mailbox) = ConnectionHandle::channel();
        let machine = ConnectionMachine::server(notify, config, handle.clone());
        Conn::assemble(machine, mailbox, handle, log)
    }

    /// A client that has not started (call [`connect`](Self::connect) or drive it by hand).
    pub(crate) fn new_client(
        notify: Box<dyn TcpConnectionNotify>,
        config: ConnectionConfig,
        log: &Log,
    ) -> Conn {
        let (handle, mailbox) = ConnectionHandle::channel();
        let machine = ConnectionMachine::client(notify, config, handle.clone());
        Conn::assemble(machine, mailbox, handle, log)
    }

    fn assemble(
        machine: ConnectionMachine,
        mailbox: Mailbox,
        handle: ConnectionHandle,
        log: &Log,
    ) -> Conn {
        Conn {
            machine,
            mailbox,
            handle,
            wire: Wire::new(1000),
            log: log.clone(),
        }
    }

    /// Server start: `accepted` and the first read turn, over [`wire`](Self::wire).
    pub(crate) fn accept(&mut self) {
        self.machine.accept(self.wire.transport());
    }

    /// Client start with one address that connects over [`wire`](Self::wire).
    pub(crate) fn connect(&mut self) {
        self.machine.start_client("example.org", "7000");
        let dialled = self.machine.resolved(Ok(vec![addr(7000)]));
        assert_eq!(dialled, [addr(7000)]);
        assert!(self
            .machine
            .attempt_connected(self.wire.transport())
            .is_ok());
    }

    pub(crate) fn phase(&self) -> Phase {
        self.machine.connection().phase()
    }

    /// Handles every message now in the mailbox, in order, with no readiness in between.
    /// Returns how many there were.
    pub(crate) fn messages(&mut self) -> usize {
        let mut handled = 0;
        while let Some(msg) = self.mailbox.try_recv() {
            self.machine.handle(msg);
            handled += 1;
        }
        handled
    }

    /// The resume messages the machine asks for, by name, queued at the end of the mailbox
    /// as the driver does once other tasks had their turn.
    pub(crate) fn queue_resumes(&mut self) -> Vec<String> {
        let resumes = self.machine.take_resumes();
        let names = resumes.iter().map(|m| format!("{m:?}")).collect();
        for msg in resumes {
            self.handle.send(msg);
        }
        names
    }

    /// Queues the resumes and handles the mailbox: one yield-and-resume round.
    pub(crate) fn resume(&mut self) -> Vec<String> {
        let names = self.queue_resumes();
        self.messages();
        names
    }

    /// Runs turns as the driver's loop does, with a socket that is always ready, until
    /// nothing progresses or the connection finishes (then the late messages are handled, as
    /// the driver does on its way out).
    pub(crate) fn drive(&mut self) {
        for _ in 0..10_000 {
            loop {
                if self.machine.is_finished() {
                    self.messages();
                    return;
                }
                let progressed = self.machine.pass(self.mailbox.try_recv());
                if self.machine.is_finished() {
                    self.messages();
                    return;
                }
                if !self.queue_resumes().is_empty() {
                    break;
                }
                if !progressed {
                    return;
                }
            }
        }
        panic!("the connection never settled");
    }
}

/// A server connection (not accepted yet) notifying `script`.
pub(crate) fn server(script: Script) -> Conn {
    server_with(script, ConnectionConfig::default())
}

/// A server connection (not accepted yet) notifying `script`, with `config`.
pub(crate) fn server_with(script: Script, config: ConnectionConfig) -> Conn {
    let log = script.log();
    Conn::new_server(Box::new(script), config, &log)
}

/// A client connection (not started yet) notifying `script`.
pub(crate) fn client(script: Script) -> Conn {
    client_with(script, ConnectionConfig::default())
}

/// A client connection (not started yet) notifying `script`, with `config`.
pub(crate) fn client_with(script: Script, config: ConnectionConfig) -> Conn {
    let log = script.log();
    Conn::new_client(Box::new(script), config, &log)
}
