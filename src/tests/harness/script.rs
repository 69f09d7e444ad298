//! Recording notifiers with pluggable behaviour ([`Script`], [`ListenScript`]) writing to a
//! [`Log`]. Callbacks are logged on entry, one line each (`received("ab", 1)`), so a note a
//! hook pushes comes after the line of the callback it runs in, and a callback delivered after
//! another returned comes after that note.

use crate::proto::{
    ConnectFailure, TcpConnection, TcpConnectionNotify, TcpListenNotify, TcpListener,
};
use bytes::Bytes;
use std::sync::{Arc, Mutex, MutexGuard};

/// Bytes as the log shows them.
pub(crate) fn show(data: &[u8]) -> String {
    format!("\"{}\"", data.escape_ascii())
}

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
type SentHook = Box<dyn FnMut(&mut TcpConnection, Bytes) -> Bytes + Send>;
type SentvHook = Box<dyn FnMut(&mut TcpConnection, Vec<Bytes>) -> Vec<Bytes> + Send>;
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
        f: impl FnMut(&mut TcpConnection, Bytes) -> Bytes + Send + 'static,
    ) -> Self {
        self.sent = Some(Box::new(f));
        self
    }
    pub(crate) fn on_sentv(
        mut self,
        f: impl FnMut(&mut TcpConnection, Vec<Bytes>) -> Vec<Bytes> + Send + 'static,
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
    fn sent(&mut self, conn: &mut TcpConnection, data: Bytes) -> Bytes {
        self.line(format!("sent({})", show(&data)));
        match self.sent.as_mut() {
            Some(f) => f(conn, data),
            None => data,
        }
    }
    fn sentv(&mut self, conn: &mut TcpConnection, chunks: Vec<Bytes>) -> Vec<Bytes> {
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
