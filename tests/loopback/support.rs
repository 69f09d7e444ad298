//! Shared pieces: a [`Trace`] sink that keeps each callback and renders it as the record module
//! does, the listener notifier the tests accept with, raw peer I/O over any backend's stream,
//! and timeouts so a hung test fails instead of hanging.

use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tcpnotify::record::{Callback, CallbackSink};
use tcpnotify::{ConnectionHandle, ListenerHandle, TcpConnection, TcpConnectionNotify};
use tcpnotify::{TcpListenNotify, TcpListener};
/// The echo notifier the simulator uses too.
pub use tcpnotify_sim::notifiers::Echo;
use tcpnotify_sim::run::now_us;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

/// Longest wait for anything a test awaits; generous, as a loaded machine is slow. In the
/// simulator it is simulated time.
pub const PATIENCE: Duration = Duration::from_secs(10);

/// Awaits `fut`, failing the test with `what` if it takes longer than [`PATIENCE`].
pub async fn within<T>(what: &str, fut: impl Future<Output = T>) -> T {
    match tokio::time::timeout(PATIENCE, fut).await {
        Ok(value) => value,
        Err(_) => panic!("timed out waiting for {what}"),
    }
}

/// One line of a [`Trace`]: a callback as recorded, or a note of the test.
#[derive(Debug, Clone)]
enum Line {
    Callback(Callback),
    Note(String),
}

/// One entry of a [`Trace`]: whose line, when (simulated microseconds; 0 on loopback), what.
#[derive(Debug, Clone)]
struct Entry {
    who: String,
    at_us: u64,
    line: Line,
}

/// An ordered log of callbacks, one rendered line each (the record module's `Display`), plus
/// notes a test adds between callbacks. Shared by every notifier of a test. The callbacks are
/// kept as data, so the contract checker can judge them.
#[derive(Clone, Default)]
pub struct Trace {
    entries: Arc<Mutex<Vec<Entry>>>,
    redactions: Arc<Mutex<Vec<(String, String)>>>,
}

impl CallbackSink for Trace {
    fn record(&self, who: &str, _conn: Option<&TcpConnection>, callback: Callback) {
        self.push(who, Line::Callback(callback));
    }
}

impl Trace {
    /// An empty trace. Tests take theirs from their world, which checks it against the
    /// contract once the test body returns.
    pub fn new() -> Self {
        Self::default()
    }

    /// The trace as a sink for `Recorded` and `RecordedListener`.
    pub fn sink(&self) -> Arc<dyn CallbackSink> {
        Arc::new(self.clone())
    }

    fn push(&self, who: &str, line: Line) {
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        entries.push(Entry {
            who: who.to_string(),
            at_us: now_us(),
            line,
        });
    }

    /// Adds a line `# text` to `who`'s section.
    pub fn note(&self, who: &str, text: impl AsRef<str>) {
        self.push(who, Line::Note(text.as_ref().to_string()));
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

    /// Every callback so far, in the order recorded: when (simulated microseconds), whose,
    /// which.
    pub fn callbacks(&self) -> Vec<(u64, String, Callback)> {
        let entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        entries
            .iter()
            .filter_map(|entry| match &entry.line {
                Line::Callback(callback) => {
                    Some((entry.at_us, entry.who.clone(), callback.clone()))
                }
                Line::Note(_) => None,
            })
            .collect()
    }

    /// The lines of `who` so far, redacted.
    pub fn lines_of(&self, who: &str) -> Vec<String> {
        let redactions = self
            .redactions
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        let entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        entries
            .iter()
            .filter(|entry| entry.who == who)
            .map(|entry| {
                let line = match &entry.line {
                    Line::Callback(callback) => callback.to_string(),
                    Line::Note(text) => format!("# {text}"),
                };
                redactions
                    .iter()
                    .fold(line, |line, (from, to)| line.replace(from, to))
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

/// Closes a listener and waits until it has.
pub async fn stop(listener: ListenerHandle) {
    listener.dispose();
    within("listener closed", listener.closed()).await;
}

/// Reads from a raw peer until end of stream.
pub async fn read_all(stream: &mut (impl AsyncRead + Unpin)) -> Vec<u8> {
    let mut data = Vec::new();
    within("peer reading to end", stream.read_to_end(&mut data))
        .await
        .expect("peer read");
    data
}

/// Has a raw peer read to end of stream and note what it read under `peer`, then closes the
/// peer and waits until `conn` has finished.
pub async fn peer_reads_to_end(
    trace: &Trace,
    mut peer: impl AsyncRead + Unpin,
    conn: &ConnectionHandle,
) {
    let data = read_all(&mut peer).await;
    trace.note("peer", format!("read {:?}", String::from_utf8_lossy(&data)));
    drop(peer);
    finished(conn).await;
}

/// Reads exactly `n` bytes from a raw peer, as text.
pub async fn read_exact(stream: &mut (impl AsyncRead + Unpin), n: usize) -> String {
    let mut data = vec![0; n];
    within("peer reading", stream.read_exact(&mut data))
        .await
        .expect("peer read");
    String::from_utf8_lossy(&data).into_owned()
}

/// Writes all of `data` from a raw peer.
pub async fn write_all(stream: &mut (impl AsyncWrite + Unpin), data: &[u8]) {
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
