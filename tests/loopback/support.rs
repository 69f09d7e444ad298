//! Shared pieces: a [`Trace`] of each callback (the simulator's trace), rendered per
//! connection as the record module renders callbacks; the simulator's listener notifier the
//! tests accept with; raw peer I/O over any backend's stream; and timeouts so a hung test fails
//! instead of hanging.

use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tcpnotify::record::CallbackSink;
use tcpnotify::{
    ConnectFailure, ConnectionHandle, ListenerHandle, TcpConnection, TcpConnectionNotify,
    TcpListenNotify, TcpListener,
};
/// The simulator's listener notifier that accepts with a factory, and its echo notifier.
pub use tcpnotify_sim::notifiers::{Accept, Echo};
use tcpnotify_sim::run::{EventKind, Trace as SimTrace};
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

/// An ordered log of callbacks, and of notes a test adds between them: a simulator trace,
/// recorded by its sink (with simulated times in the simulator, 0 on loopback), shown one
/// section per connection with each callback as the record module renders it. Shared by every
/// notifier of a test. The callbacks are kept as data, so the contract checker can judge them.
#[derive(Clone)]
pub struct Trace {
    events: SimTrace,
    host: Arc<str>,
    redactions: Arc<Mutex<Vec<(String, String)>>>,
}

impl Trace {
    /// An empty trace of callbacks on `host`. Tests take theirs from their world, which checks
    /// it against the contract once the test body returns.
    pub fn new(host: &str) -> Self {
        Trace {
            events: SimTrace::new(),
            host: host.into(),
            redactions: Arc::default(),
        }
    }

    /// The trace as a sink for `Recorded` and `RecordedListener`.
    pub fn sink(&self) -> Arc<dyn CallbackSink> {
        self.events.sink(&self.host)
    }

    /// Adds a line `# text` to `who`'s section.
    pub fn note(&self, who: &str, text: impl AsRef<str>) {
        self.events.note(&self.host, who, text.as_ref());
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

    /// Every callback so far, in the order recorded, without the notes: what the contract
    /// checker judges.
    pub fn callbacks(&self) -> SimTrace {
        let events = self.events.events().into_iter();
        SimTrace::from_events(events.filter(|e| e.callback().is_some()).collect())
    }

    /// The lines of `who` so far, redacted.
    pub fn lines_of(&self, who: &str) -> Vec<String> {
        let redactions = self
            .redactions
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        self.events
            .events()
            .into_iter()
            .filter(|event| event.who == who)
            .filter_map(|event| match event.kind {
                EventKind::Callback { callback, .. } => Some(callback.to_string()),
                EventKind::Note { text } => Some(format!("# {text}")),
                // The callback sequences are what these snapshots pin; dropped writes (W1)
                // and assertions are judged by the checker and the verdict; mutes, unmutes,
                // bytes queued with `write_final` or discarded, and logs are not pinned (nor a
                // run's end, which is no connection's).
                EventKind::Fault { .. }
                | EventKind::RunEnded { .. }
                | EventKind::Violation { .. }
                | EventKind::WriteDropped { .. }
                | EventKind::FinalWritten { .. }
                | EventKind::Discarded { .. }
                | EventKind::Muted
                | EventKind::Unmuted
                | EventKind::Assertion { .. }
                | EventKind::Log { .. } => None,
            })
            .map(|line| {
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

/// A loopback listener's notifier that hands every connection an echo.
pub struct Echoes;

impl TcpListenNotify for Echoes {
    fn connected(&mut self, _listener: &mut TcpListener) -> Option<Box<dyn TcpConnectionNotify>> {
        Some(Box::new(Echo))
    }
    fn not_listening(&mut self, _listener: &mut TcpListener) {
        panic!("no loopback listener");
    }
}

/// Writes a greeting once connected; closes when the echo comes back.
pub struct Greeter;

impl TcpConnectionNotify for Greeter {
    fn connected(&mut self, conn: &mut TcpConnection) {
        conn.write("hello");
    }
    fn received(&mut self, conn: &mut TcpConnection, _data: Vec<u8>, _times: usize) -> bool {
        conn.close();
        true
    }
    fn connect_failed(&mut self, _conn: &mut TcpConnection, _reason: ConnectFailure) {}
}
