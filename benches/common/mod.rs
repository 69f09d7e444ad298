//! The tcpnotify side of the benchmarks: the notifiers and the listener both `loopback` (wall
//! clock against plain tokio) and `instructions` (instruction counts under callgrind) run, so
//! the two measure the same work.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use tcpnotify::{
    ConnectFailure, ListenerHandle, TcpConnection, TcpConnectionNotify, TcpListenNotify,
    TcpListener,
};

/// Bytes per client write and per plain-tokio read: tcpnotify's default read buffer size, so
/// both sides read in the same units.
pub const CHUNK: usize = tcpnotify::DEFAULT_READ_BUFFER_SIZE;

/// One client write: [`CHUNK`] bytes of a pattern.
pub fn chunk() -> Vec<u8> {
    tcpnotify_sim::notifiers::pattern(0, CHUNK)
}

// ---- echo ----

/// Server side: writes back whatever arrives.
pub struct EchoServer;

impl TcpConnectionNotify for EchoServer {
    fn accepted(&mut self, conn: &mut TcpConnection) {
        let _ = conn.set_nodelay(true);
    }
    fn received(&mut self, conn: &mut TcpConnection, data: Vec<u8>, _times: usize) -> bool {
        conn.write(data);
        true
    }
    fn connect_failed(&mut self, _conn: &mut TcpConnection, _reason: ConnectFailure) {}
}

/// Accepts every connection with `make()`.
pub struct Accept<F>(F);

impl<F> TcpListenNotify for Accept<F>
where
    F: FnMut() -> Box<dyn TcpConnectionNotify> + Send + 'static,
{
    fn connected(&mut self, _listener: &mut TcpListener) -> Option<Box<dyn TcpConnectionNotify>> {
        Some((self.0)())
    }
    fn not_listening(&mut self, _listener: &mut TcpListener) {
        eprintln!("loopback: could not listen");
    }
}

/// Client side: one write in the mailbox at a time, chained from `sent` while not throttled
/// and restarted by `unthrottled`, so the socket's buffer is the window, as with `write_all`.
pub struct BulkClient {
    chunk: Vec<u8>,
    total: u64,
    written: u64,
    echoed: u64,
    /// Writes queued whose `sent` has not run yet (0 or 1).
    in_mailbox: usize,
    throttled: bool,
    result: Arc<AtomicU64>,
}

impl BulkClient {
    /// A client that echoes `total` bytes in `chunk`s and stores how many came back in
    /// `result` when it closes.
    pub fn new(chunk: Vec<u8>, total: u64, result: Arc<AtomicU64>) -> Self {
        BulkClient {
            chunk,
            total,
            written: 0,
            echoed: 0,
            in_mailbox: 0,
            throttled: false,
            result,
        }
    }

    fn write_next(&mut self, conn: &mut TcpConnection) {
        if self.in_mailbox > 0 || self.throttled || self.written >= self.total {
            return;
        }
        let n = (self.total - self.written).min(self.chunk.len() as u64) as usize;
        conn.write(&self.chunk[..n]);
        self.written += n as u64;
        self.in_mailbox += 1;
    }
}

impl TcpConnectionNotify for BulkClient {
    fn connected(&mut self, conn: &mut TcpConnection) {
        let _ = conn.set_nodelay(true);
        self.write_next(conn);
    }
    fn sent(&mut self, conn: &mut TcpConnection, data: Vec<u8>) -> Vec<u8> {
        self.in_mailbox -= 1;
        self.write_next(conn);
        data
    }
    fn throttled(&mut self, _conn: &mut TcpConnection) {
        self.throttled = true;
    }
    fn unthrottled(&mut self, conn: &mut TcpConnection) {
        self.throttled = false;
        self.write_next(conn);
    }
    fn received(&mut self, conn: &mut TcpConnection, data: Vec<u8>, _times: usize) -> bool {
        self.echoed += data.len() as u64;
        if self.echoed >= self.total {
            conn.close();
        }
        true
    }
    fn closed(&mut self, _conn: &mut TcpConnection) {
        self.result.store(self.echoed, Ordering::Relaxed);
    }
    fn connect_failed(&mut self, _conn: &mut TcpConnection, reason: ConnectFailure) {
        eprintln!("loopback: connect failed: {reason}");
    }
}

// ---- connection cycles ----

/// Server side of a cycle: reads until the peer closes, then closes.
pub struct Drain;

impl TcpConnectionNotify for Drain {
    fn connect_failed(&mut self, _conn: &mut TcpConnection, _reason: ConnectFailure) {}
}

/// Client side of a cycle: closes as soon as it is connected.
pub struct Closer(pub Arc<AtomicU64>);

impl TcpConnectionNotify for Closer {
    fn connected(&mut self, conn: &mut TcpConnection) {
        self.0.fetch_add(1, Ordering::Relaxed);
        conn.close();
    }
    fn connect_failed(&mut self, _conn: &mut TcpConnection, reason: ConnectFailure) {
        eprintln!("loopback: connect failed: {reason}");
    }
}

// ---- the listener ----

/// A tcpnotify listener on loopback that accepts with `make`, and its port.
pub async fn notify_server(make: fn() -> Box<dyn TcpConnectionNotify>) -> (ListenerHandle, String) {
    let listener = TcpListener::listen(Accept(make), "127.0.0.1", "0");
    let port = listener
        .listening()
        .await
        .expect("listen")
        .port()
        .to_string();
    (listener, port)
}

pub async fn stop_notify_server(listener: ListenerHandle) {
    listener.dispose();
    listener.closed().await;
}
