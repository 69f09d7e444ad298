//! Recording callbacks as data: [`Recorded`] and [`RecordedListener`] wrap a notifier, pass
//! every callback through unchanged, and report it to a [`CallbackSink`] once it returned
//! (with its result). No callback runs inside another in tcpnotify, so that order is the
//! order the callbacks ran in. Tests render the
//! log as text, one callback per line; the simulator adds simulated time and hosts.

use crate::proto::TcpConnection;
use crate::proto::TcpListener;
use crate::proto::{ConnectFailure, TcpConnectionNotify, TcpListenNotify};
use std::fmt;
use std::sync::{Arc, Mutex};

/// Bytes of data shown in a callback's preview.
pub const PREVIEW_BYTES: usize = 16;

/// One callback and its arguments and result, as recorded.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(
    feature = "serde",
    serde(tag = "callback", content = "args", rename_all = "snake_case")
)]
pub enum Callback {
    /// `accepted`.
    Accepted,
    /// `proxy_via(host, service)` and the target it returned.
    ProxyVia {
        /// Host asked for.
        host: String,
        /// Service asked for.
        service: String,
        /// Host and service returned.
        target: (String, String),
    },
    /// `connecting(count)`.
    Connecting(u32),
    /// `connected`.
    Connected,
    /// `connect_failed(reason)`.
    ConnectFailed(ConnectFailure),
    /// `auth_failed`.
    AuthFailed,
    /// `sent(data)`: the bytes given and what the notifier returned.
    Sent {
        /// The data written.
        data: Payload,
        /// The data actually queued.
        result: Payload,
    },
    /// `sentv(chunks)`: the chunks written and the chunks the notifier returned.
    Sentv {
        /// The chunks written.
        data: Vec<Payload>,
        /// The chunks actually queued.
        result: Vec<Payload>,
    },
    /// `received(data, times)` and its result.
    Received {
        /// The data delivered.
        data: Payload,
        /// Deliveries in this turn so far.
        times: usize,
        /// `false` asked to yield.
        result: bool,
    },
    /// `expect(qty)` and the size the notifier returned.
    Expect {
        /// Size requested.
        qty: usize,
        /// Size returned.
        result: usize,
    },
    /// `closed`.
    Closed,
    /// `throttled`.
    Throttled,
    /// `unthrottled`.
    Unthrottled,
    /// Listener `listening`, with the bound address.
    Listening(Option<std::net::SocketAddr>),
    /// Listener `not_listening`.
    NotListening,
    /// Listener `connected`: whether it returned a notifier.
    ListenerConnected {
        /// `true` if a notifier was returned (accepted), `false` if rejected.
        accepted: bool,
    },
    /// Listener `closed`.
    ListenerClosed,
}

impl Callback {
    /// The callback's name as in the contract (`received`, `connect_failed`, ...). Listener
    /// callbacks that share a name with connection ones are prefixed `listener.`.
    pub fn name(&self) -> &'static str {
        match self {
            Callback::Accepted => "accepted",
            Callback::ProxyVia { .. } => "proxy_via",
            Callback::Connecting(_) => "connecting",
            Callback::Connected => "connected",
            Callback::ConnectFailed(_) => "connect_failed",
            Callback::AuthFailed => "auth_failed",
            Callback::Sent { .. } => "sent",
            Callback::Sentv { .. } => "sentv",
            Callback::Received { .. } => "received",
            Callback::Expect { .. } => "expect",
            Callback::Closed => "closed",
            Callback::Throttled => "throttled",
            Callback::Unthrottled => "unthrottled",
            Callback::Listening(_) => "listening",
            Callback::NotListening => "not_listening",
            Callback::ListenerConnected { .. } => "listener.connected",
            Callback::ListenerClosed => "listener.closed",
        }
    }
}

impl fmt::Display for Callback {
    /// Deterministic text: the name, then the arguments, then `-> result` where the result
    /// matters: always for `received`, and for the transforms (`proxy_via`, `sent`, `sentv`,
    /// `expect`) only when the notifier changed the value. Listener addresses are left out
    /// because ports differ from run to run.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Callback::ProxyVia {
                host,
                service,
                target,
            } => {
                write!(f, "proxy_via({host}, {service})")?;
                if (host, service) != (&target.0, &target.1) {
                    write!(f, " -> ({}, {})", target.0, target.1)?;
                }
                Ok(())
            }
            Callback::Connecting(n) => write!(f, "connecting({n})"),
            Callback::ConnectFailed(reason) => write!(f, "connect_failed({reason})"),
            Callback::Sent { data, result } => {
                write!(f, "sent({data})")?;
                if result != data {
                    write!(f, " -> {result}")?;
                }
                Ok(())
            }
            Callback::Sentv { data, result } => {
                let bytes = |chunks: &[Payload]| chunks.iter().map(Payload::len).sum::<usize>();
                write!(f, "sentv({} chunks, {}B)", data.len(), bytes(data))?;
                if result != data {
                    write!(f, " -> {} chunks, {}B", result.len(), bytes(result))?;
                }
                Ok(())
            }
            Callback::Received {
                data,
                times,
                result,
            } => write!(f, "received({data}, times={times}) -> {result}"),
            Callback::Expect { qty, result } => {
                write!(f, "expect({qty})")?;
                if qty != result {
                    write!(f, " -> {result}")?;
                }
                Ok(())
            }
            Callback::ListenerConnected { accepted } => {
                write!(
                    f,
                    "listener.connected -> {}",
                    if *accepted { "accept" } else { "reject" }
                )
            }
            other => f.write_str(other.name()),
        }
    }
}

/// The bytes a callback carried: always the count and the first [`PREVIEW_BYTES`] bytes,
/// and the whole data when the recorder keeps it (for checks such as stream integrity).
/// Shown as the count and an escaped preview; serialised the same way.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Payload(Kept);

/// What a [`Payload`] holds: the data itself, or only what the preview needs.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Kept {
    Whole(Arc<[u8]>),
    Summary { len: usize, head: Vec<u8> },
}

impl Default for Payload {
    fn default() -> Self {
        Payload::summary(&[])
    }
}

impl Payload {
    /// Copies `data` whole.
    pub fn of(data: &[u8]) -> Self {
        Payload(Kept::Whole(Arc::from(data)))
    }

    /// Keeps only the count and the preview of `data`.
    pub fn summary(data: &[u8]) -> Self {
        Payload(Kept::Summary {
            len: data.len(),
            head: data[..data.len().min(PREVIEW_BYTES)].to_vec(),
        })
    }

    /// The whole data, if it was kept.
    pub fn bytes(&self) -> Option<&[u8]> {
        match &self.0 {
            Kept::Whole(bytes) => Some(bytes),
            Kept::Summary { .. } => None,
        }
    }

    /// The number of bytes.
    pub fn len(&self) -> usize {
        match &self.0 {
            Kept::Whole(bytes) => bytes.len(),
            Kept::Summary { len, .. } => *len,
        }
    }

    /// Whether there are no bytes.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The first [`PREVIEW_BYTES`] bytes.
    fn head(&self) -> &[u8] {
        match &self.0 {
            Kept::Whole(bytes) => &bytes[..bytes.len().min(PREVIEW_BYTES)],
            Kept::Summary { head, .. } => head,
        }
    }

    /// The first [`PREVIEW_BYTES`] bytes, escaped as ASCII, with `...` if there are more.
    pub fn preview(&self) -> String {
        let head = self.head();
        let mut text = head.escape_ascii().to_string();
        if self.len() > head.len() {
            text.push_str("...");
        }
        text
    }
}

impl fmt::Display for Payload {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}B \"{}\"", self.len(), self.preview())
    }
}

#[cfg(feature = "serde")]
impl serde::Serialize for Payload {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let mut state = serializer.serialize_struct("Payload", 2)?;
        state.serialize_field("len", &self.len())?;
        state.serialize_field("head", self.head())?;
        state.end()
    }
}

#[cfg(feature = "serde")]
impl<'de> serde::Deserialize<'de> for Payload {
    /// The count and preview come back; the whole data does not.
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        #[derive(serde::Deserialize)]
        struct Shape {
            len: usize,
            head: Vec<u8>,
        }
        let shape = Shape::deserialize(deserializer)?;
        Ok(Payload(Kept::Summary {
            len: shape.len,
            head: shape.head,
        }))
    }
}

/// Where recorded callbacks go. `who` names the connection or listener; `conn` is the
/// connection the callback ran on (`None` for listener callbacks and `proxy_via`), so a sink
/// can look at its addresses or state.
pub trait CallbackSink: Send + Sync + 'static {
    /// Records one callback, after it returned.
    fn record(&self, who: &str, conn: Option<&TcpConnection>, callback: Callback);

    /// Sees data as it flows, borrowed: what a connection queued (after `sent`/`sentv`) and
    /// what it is delivered (just before `received`). For sinks that check streams without
    /// keeping the data. Does nothing by default.
    #[allow(unused_variables)]
    fn data(&self, who: &str, conn: &TcpConnection, flow: DataFlow<'_>) {}
}

/// Data passing through a connection, as [`CallbackSink::data`] sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DataFlow<'a> {
    /// Bytes queued for sending: the result of `sent`, or one chunk of the result of `sentv`.
    Queued(&'a [u8]),
    /// Bytes about to be delivered to `received`.
    Delivered(&'a [u8]),
}

/// An in-memory, ordered log of callbacks from any number of notifiers.
///
/// ```
/// use tcpnotify::record::{Callback, CallbackLog, CallbackSink};
/// let log = CallbackLog::new();
/// log.record("client", None, Callback::Connecting(2));
/// log.record("client", None, Callback::Connected);
/// assert_eq!(log.render(), "client connecting(2)\nclient connected\n");
/// ```
#[derive(Clone, Default, Debug)]
pub struct CallbackLog {
    entries: Arc<Mutex<Vec<(String, Callback)>>>,
}

impl CallbackLog {
    /// An empty log.
    pub fn new() -> Self {
        Self::default()
    }

    /// Every entry so far, in order.
    pub fn entries(&self) -> Vec<(String, Callback)> {
        self.entries
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// The entries of one notifier, in order.
    pub fn of(&self, who: &str) -> Vec<Callback> {
        self.entries()
            .into_iter()
            .filter(|(w, _)| w == who)
            .map(|(_, c)| c)
            .collect()
    }

    /// One line per callback: `who callback`.
    pub fn render(&self) -> String {
        self.entries()
            .iter()
            .map(|(who, cb)| format!("{who} {cb}\n"))
            .collect()
    }

    /// One line per callback of `who`.
    pub fn render_of(&self, who: &str) -> String {
        self.of(who).iter().map(|cb| format!("{cb}\n")).collect()
    }
}

impl CallbackSink for CallbackLog {
    fn record(&self, who: &str, _conn: Option<&TcpConnection>, callback: Callback) {
        self.entries
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push((who.to_string(), callback));
    }
}

/// Wraps a connection notifier and records each callback it gets.
pub struct Recorded<N> {
    inner: N,
    who: String,
    sink: Arc<dyn CallbackSink>,
    keep_bytes: bool,
}

impl<N> Recorded<N> {
    /// Records `inner`'s callbacks under the name `who`, keeping the data they carry whole.
    pub fn new(inner: N, who: impl Into<String>, sink: Arc<dyn CallbackSink>) -> Self {
        Recorded {
            inner,
            who: who.into(),
            sink,
            keep_bytes: true,
        }
    }

    /// Whether to keep whole data (the default) or only counts and previews (cheaper for
    /// large transfers).
    pub fn keeping_payloads(mut self, keep: bool) -> Self {
        self.keep_bytes = keep;
        self
    }

    fn payload(&self, data: &[u8]) -> Payload {
        if self.keep_bytes {
            Payload::of(data)
        } else {
            Payload::summary(data)
        }
    }

    /// The payload of a transform's `result` given its input's: most notifiers return what
    /// they were given, so the kept bytes are shared instead of copied.
    fn result_payload(&self, before: Option<&Payload>, result: &[u8]) -> Payload {
        match before {
            Some(before) if before.bytes() == Some(result) => before.clone(),
            _ => self.payload(result),
        }
    }

    fn log(&self, conn: Option<&TcpConnection>, callback: Callback) {
        self.sink.record(&self.who, conn, callback);
    }
}

impl<N: TcpConnectionNotify> TcpConnectionNotify for Recorded<N> {
    fn accepted(&mut self, conn: &mut TcpConnection) {
        self.inner.accepted(conn);
        self.log(Some(conn), Callback::Accepted);
    }
    fn proxy_via(&mut self, host: &str, service: &str) -> (String, String) {
        let target = self.inner.proxy_via(host, service);
        self.log(
            None,
            Callback::ProxyVia {
                host: host.to_string(),
                service: service.to_string(),
                target: target.clone(),
            },
        );
        target
    }
    fn connecting(&mut self, conn: &mut TcpConnection, count: u32) {
        self.inner.connecting(conn, count);
        self.log(Some(conn), Callback::Connecting(count));
    }
    fn connected(&mut self, conn: &mut TcpConnection) {
        self.inner.connected(conn);
        self.log(Some(conn), Callback::Connected);
    }
    fn connect_failed(&mut self, conn: &mut TcpConnection, reason: ConnectFailure) {
        self.inner.connect_failed(conn, reason);
        self.log(Some(conn), Callback::ConnectFailed(reason));
    }
    fn auth_failed(&mut self, conn: &mut TcpConnection) {
        self.inner.auth_failed(conn);
        self.log(Some(conn), Callback::AuthFailed);
    }
    fn sent(&mut self, conn: &mut TcpConnection, data: Vec<u8>) -> Vec<u8> {
        let before = self.payload(&data);
        let result = self.inner.sent(conn, data);
        self.sink.data(&self.who, conn, DataFlow::Queued(&result));
        let after = self.result_payload(Some(&before), &result);
        self.log(
            Some(conn),
            Callback::Sent {
                data: before,
                result: after,
            },
        );
        result
    }
    fn sentv(&mut self, conn: &mut TcpConnection, chunks: Vec<Vec<u8>>) -> Vec<Vec<u8>> {
        let data: Vec<Payload> = chunks.iter().map(|c| self.payload(c)).collect();
        let result = self.inner.sentv(conn, chunks);
        for chunk in &result {
            self.sink.data(&self.who, conn, DataFlow::Queued(chunk));
        }
        let result_payloads = (result.iter().enumerate())
            .map(|(i, chunk)| self.result_payload(data.get(i), chunk))
            .collect();
        self.log(
            Some(conn),
            Callback::Sentv {
                data,
                result: result_payloads,
            },
        );
        result
    }
    fn received(&mut self, conn: &mut TcpConnection, data: Vec<u8>, times: usize) -> bool {
        let payload = self.payload(&data);
        self.sink.data(&self.who, conn, DataFlow::Delivered(&data));
        let result = self.inner.received(conn, data, times);
        self.log(
            Some(conn),
            Callback::Received {
                data: payload,
                times,
                result,
            },
        );
        result
    }
    fn expect(&mut self, conn: &mut TcpConnection, qty: usize) -> usize {
        let result = self.inner.expect(conn, qty);
        self.log(Some(conn), Callback::Expect { qty, result });
        result
    }
    fn closed(&mut self, conn: &mut TcpConnection) {
        self.inner.closed(conn);
        self.log(Some(conn), Callback::Closed);
    }
    fn throttled(&mut self, conn: &mut TcpConnection) {
        self.inner.throttled(conn);
        self.log(Some(conn), Callback::Throttled);
    }
    fn unthrottled(&mut self, conn: &mut TcpConnection) {
        self.inner.unthrottled(conn);
        self.log(Some(conn), Callback::Unthrottled);
    }
}

/// Wraps a listener notifier and records each callback it gets; accepted connections'
/// notifiers are wrapped too, named `who` plus `.` and a running number from 1.
pub struct RecordedListener<N> {
    inner: N,
    who: String,
    sink: Arc<dyn CallbackSink>,
    accepted: usize,
    keep_bytes: bool,
}

impl<N> RecordedListener<N> {
    /// Records `inner`'s callbacks under the name `who`.
    pub fn new(inner: N, who: impl Into<String>, sink: Arc<dyn CallbackSink>) -> Self {
        RecordedListener {
            inner,
            who: who.into(),
            sink,
            accepted: 0,
            keep_bytes: true,
        }
    }

    /// Whether accepted connections keep whole data (the default) or only counts and
    /// previews.
    pub fn keeping_payloads(mut self, keep: bool) -> Self {
        self.keep_bytes = keep;
        self
    }
}

impl<N: TcpListenNotify> TcpListenNotify for RecordedListener<N> {
    fn listening(&mut self, listener: &mut TcpListener) {
        self.sink.record(
            &self.who,
            None,
            Callback::Listening(listener.local_address()),
        );
        self.inner.listening(listener);
    }
    fn not_listening(&mut self, listener: &mut TcpListener) {
        self.sink.record(&self.who, None, Callback::NotListening);
        self.inner.not_listening(listener);
    }
    fn connected(&mut self, listener: &mut TcpListener) -> Option<Box<dyn TcpConnectionNotify>> {
        let notify = self.inner.connected(listener);
        self.sink.record(
            &self.who,
            None,
            Callback::ListenerConnected {
                accepted: notify.is_some(),
            },
        );
        notify.map(|inner| {
            self.accepted += 1;
            let who = format!("{}.{}", self.who, self.accepted);
            Box::new(Recorded::new(inner, who, self.sink.clone()).keeping_payloads(self.keep_bytes))
                as Box<dyn TcpConnectionNotify>
        })
    }
    fn closed(&mut self, listener: &mut TcpListener) {
        self.sink.record(&self.who, None, Callback::ListenerClosed);
        self.inner.closed(listener);
    }
}
