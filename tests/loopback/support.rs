//! Shared pieces: a [`Trace`] sink that keeps each callback as the record module renders it,
//! helpers to listen and connect on loopback with every callback recorded, raw tokio peers,
//! and timeouts so a hung test fails instead of hanging.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tcpnotify::record::{Callback, CallbackSink, Recorded, RecordedListener};
use tcpnotify::{
    ConnectionHandle, ListenerHandle, TcpConnection, TcpConnectionNotify, TcpListenNotify,
    TcpListener,
};
/// The echo notifier the simulator uses too.
pub use tcpnotify_sim::notifiers::Echo;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};

/// Longest wait for anything a test awaits; generous, as a loaded machine is slow.
pub const PATIENCE: Duration = Duration::from_secs(10);

/// Awaits `fut`, failing the test with `what` if it takes longer than [`PATIENCE`].
pub async fn within<T>(what: &str, fut: impl Future<Output = T>) -> T {
    match tokio::time::timeout(PATIENCE, fut).await {
        Ok(value) => value,
        Err(_) => panic!("timed out waiting for {what}"),
    }
}

/// An ordered log of callbacks, one rendered line each (the record module's `Display`), plus
/// notes a test adds between callbacks. Shared by every notifier of a test.
#[derive(Clone, Default)]
pub struct Trace {
    lines: Arc<Mutex<Vec<(String, String)>>>,
    redactions: Arc<Mutex<Vec<(String, String)>>>,
}

impl CallbackSink for Trace {
    fn record(&self, who: &str, _conn: Option<&TcpConnection>, callback: Callback) {
        self.push(who, callback.to_string());
    }
}

impl Trace {
    pub fn new() -> Self {
        Self::default()
    }

    /// The trace as a sink for `Recorded` and `RecordedListener`.
    pub fn sink(&self) -> Arc<dyn CallbackSink> {
        Arc::new(self.clone())
    }

    fn push(&self, who: &str, line: String) {
        let mut lines = self.lines.lock().unwrap_or_else(|e| e.into_inner());
        lines.push((who.to_string(), line));
    }

    /// Adds a line `# text` to `who`'s section.
    pub fn note(&self, who: &str, text: impl AsRef<str>) {
        self.push(who, format!("# {}", text.as_ref()));
    }

    /// Shows `port` as `PORT` where a callback names the service (`proxy_via`), as ports
    /// differ from run to run.
    pub fn redact_port(&self, port: u16) {
        self.redact(format!(", {port})"), ", PORT)");
    }

    /// Shows `from` as `to` in every line, for values that differ between runs or hosts.
    pub fn redact(&self, from: impl Into<String>, to: impl Into<String>) {
        let mut redactions = self.redactions.lock().unwrap_or_else(|e| e.into_inner());
        redactions.push((from.into(), to.into()));
    }

    /// The lines of `who` so far, redacted.
    pub fn lines_of(&self, who: &str) -> Vec<String> {
        let redactions = self
            .redactions
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        let lines = self.lines.lock().unwrap_or_else(|e| e.into_inner());
        lines
            .iter()
            .filter(|(w, _)| w == who)
            .map(|(_, line)| {
                redactions
                    .iter()
                    .fold(line.clone(), |line, (from, to)| line.replace(from, to))
            })
            .collect()
    }

    /// One section per name, in the order given: `[who]`, then its lines. Each connection's
    /// own order is deterministic; the interleaving of different tasks is not, so it is not shown.
    pub fn render(&self, whos: &[&str]) -> String {
        let mut text = String::new();
        for who in whos {
            text.push_str(&format!("[{who}]\n"));
            for line in self.lines_of(who) {
                text.push_str(&line);
                text.push('\n');
            }
        }
        text
    }

    /// Waits until `who` has a line starting with `prefix`.
    pub async fn wait_for(&self, who: &str, prefix: &str) {
        let found = tokio::time::timeout(PATIENCE, async {
            while !self.lines_of(who).iter().any(|l| l.starts_with(prefix)) {
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
        })
        .await;
        if found.is_err() {
            panic!(
                "timed out waiting for `{who} {prefix}`; trace so far:\n{}",
                self.render(&[who])
            );
        }
    }
}

/// Dials `127.0.0.1:port` with `notify`'s callbacks recorded as `who`.
pub fn connect(
    trace: &Trace,
    who: &str,
    notify: impl TcpConnectionNotify,
    port: u16,
) -> ConnectionHandle {
    dial(trace, Recorded::new(notify, who, trace.sink()), port)
}

/// Dials `127.0.0.1:port` with an already recorded notifier.
pub fn dial<N: TcpConnectionNotify>(
    trace: &Trace,
    recorded: Recorded<N>,
    port: u16,
) -> ConnectionHandle {
    trace.redact_port(port);
    TcpConnection::connect(recorded, "127.0.0.1", &port.to_string())
}

/// A listener notifier that gives every peer a notifier from `make`.
pub struct Accept<F>(pub F);

impl<F> TcpListenNotify for Accept<F>
where
    F: FnMut() -> Box<dyn TcpConnectionNotify> + Send + 'static,
{
    fn connected(&mut self, _listener: &mut TcpListener) -> Option<Box<dyn TcpConnectionNotify>> {
        Some((self.0)())
    }
    fn not_listening(&mut self, _listener: &mut TcpListener) {}
}

/// Listens on `127.0.0.1`, any port, accepting at most `limit` connections at once (0:
/// unlimited), recorded as `who` and its connections as `who.1`, `who.2`, ...
pub async fn listen<F>(trace: &Trace, who: &str, limit: usize, make: F) -> (ListenerHandle, u16)
where
    F: FnMut() -> Box<dyn TcpConnectionNotify> + Send + 'static,
{
    let listener = TcpListener::builder().limit(limit).listen(
        RecordedListener::new(Accept(make), who, trace.sink()),
        "127.0.0.1",
        "0",
    );
    let address = within("listening", listener.listening())
        .await
        .expect("listen on loopback");
    trace.redact_port(address.port());
    (listener, address.port())
}

/// Closes a listener and waits until it has.
pub async fn stop(listener: ListenerHandle) {
    listener.dispose();
    within("listener closed", listener.closed()).await;
}

/// A plain tokio listener on `127.0.0.1`, any port, as the peer of a tcpnotify client. With
/// `recv_buffer`, accepted sockets get that small a receive buffer, so a peer that does not
/// read pushes back quickly.
pub fn raw_listener(recv_buffer: Option<u32>) -> (tokio::net::TcpListener, u16) {
    let socket = TcpSocket::new_v4().expect("socket");
    if let Some(bytes) = recv_buffer {
        socket.set_recv_buffer_size(bytes).expect("SO_RCVBUF");
    }
    socket
        .bind(SocketAddr::from(([127, 0, 0, 1], 0)))
        .expect("bind");
    let listener = socket.listen(16).expect("listen");
    let port = listener.local_addr().expect("local address").port();
    (listener, port)
}

/// Accepts one peer on a raw listener.
pub async fn accept(listener: &tokio::net::TcpListener) -> TcpStream {
    within("accept", listener.accept()).await.expect("accept").0
}

/// A socket bound to `ip`, any port or `port`, that does not listen: dialling it is refused,
/// and nothing else can listen there while it lives.
pub fn dead_socket(ip: [u8; 4], port: u16) -> (TcpSocket, u16) {
    let socket = TcpSocket::new_v4().expect("socket");
    socket
        .bind(SocketAddr::from((ip, port)))
        .expect("bind without listening");
    let port = socket.local_addr().expect("local address").port();
    (socket, port)
}

/// Reads from a raw peer until end of stream.
pub async fn read_all(stream: &mut TcpStream) -> Vec<u8> {
    let mut data = Vec::new();
    within("peer reading to end", stream.read_to_end(&mut data))
        .await
        .expect("peer read");
    data
}

/// Has a raw peer read to end of stream and note what it read under `peer`, then closes the
/// peer and waits until `conn` has finished.
pub async fn peer_reads_to_end(trace: &Trace, mut peer: TcpStream, conn: &ConnectionHandle) {
    let data = read_all(&mut peer).await;
    trace.note("peer", format!("read {:?}", String::from_utf8_lossy(&data)));
    drop(peer);
    finished(conn).await;
}

/// Reads exactly `n` bytes from a raw peer, as text.
pub async fn read_exact(stream: &mut TcpStream, n: usize) -> String {
    let mut data = vec![0; n];
    within("peer reading", stream.read_exact(&mut data))
        .await
        .expect("peer read");
    String::from_utf8_lossy(&data).into_owned()
}

/// Writes all of `data` from a raw peer.
pub async fn write_all(stream: &mut TcpStream, data: &[u8]) {
    within("peer writing", stream.write_all(data))
        .await
        .expect("peer write");
}

/// `len` bytes of the simulator's test pattern, which shows any loss, duplication or
/// reordering of whole chunks.
pub fn pattern(len: usize) -> Vec<u8> {
    tcpnotify_sim::notifiers::pattern(0, len)
}

/// Waits until a connection's task has ended (after `closed` or `connect_failed`).
pub async fn finished(conn: &ConnectionHandle) {
    within("connection finished", conn.finished()).await;
}
