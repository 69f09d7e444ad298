//! Both sides of the benchmarks: the tcpnotify notifiers and listener, and the plain tokio
//! server and clients they are measured against. `loopback` (wall clock, one against the
//! other) and `instructions` (instruction counts under callgrind) run the same code, so the
//! two measure the same work.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use tcpnotify::{
    Bytes, ConnectFailure, ListenerHandle, TcpConnection, TcpConnectionNotify, TcpListenNotify,
    TcpListener,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio::task::JoinHandle;

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
/// Every write is a slice of one shared chunk, which reaches the socket without a copy, as
/// plain tokio's client writes from one buffer.
pub struct BulkClient {
    chunk: Bytes,
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
            chunk: Bytes::from(chunk),
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
        conn.write(self.chunk.slice(..n));
        self.written += n as u64;
        self.in_mailbox += 1;
    }
}

impl TcpConnectionNotify for BulkClient {
    fn connected(&mut self, conn: &mut TcpConnection) {
        let _ = conn.set_nodelay(true);
        self.write_next(conn);
    }
    fn sent(&mut self, conn: &mut TcpConnection, data: Bytes) -> Bytes {
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
        } else {
            // Read into it again, as plain tokio's client reads into one buffer.
            conn.reuse_for_reading(data);
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

/// How a tcpnotify client of a connection cycle is dialled and awaited.
#[derive(Debug, Clone, Copy)]
pub enum Dial {
    /// `connect` (a task of its own), awaited with `finished`.
    Connect,
    /// `connect_in_task`, run in the caller's task.
    InTask,
    /// `connect_in_task`'s future spawned and its `JoinHandle` awaited: a task per client as
    /// `connect` makes, without `finished`. (Raced by `loopback` only; `instructions`, which
    /// shares this module, does not count it.)
    #[allow(dead_code)]
    Spawned,
}

/// One tcpnotify client cycle: a [`Closer`] counting into `connected`, dialled to `port` on
/// loopback as `dial` says, awaited until its connection ended.
pub async fn notify_cycle(dial: Dial, connected: &Arc<AtomicU64>, port: &str) {
    let closer = Closer(connected.clone());
    let builder = TcpConnection::builder();
    match dial {
        Dial::Connect => builder.connect(closer, "127.0.0.1", port).finished().await,
        Dial::InTask => builder.connect_in_task(closer, "127.0.0.1", port).1.await,
        Dial::Spawned => {
            let run = builder.connect_in_task(closer, "127.0.0.1", port).1;
            tokio::spawn(run).await.expect("client task")
        }
    }
}

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

// ---- plain tokio, the baseline ----

/// A plain tokio listener on loopback that runs `serve` in a task per connection.
pub async fn tokio_server<F>(serve: fn(TcpStream) -> F) -> (SocketAddr, JoinHandle<()>)
where
    F: Future<Output = ()> + Send + 'static,
{
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("address");
    let server = tokio::spawn(async move {
        loop {
            if let Ok((stream, _)) = listener.accept().await {
                tokio::spawn(serve(stream));
            }
        }
    });
    (addr, server)
}

/// Plain tokio's echo server: `copy_buf` through a [`CHUNK`]-byte `BufReader` (a read, then
/// writes of what it read, as a read/`write_all` loop would).
pub async fn tokio_echo_connection(mut stream: TcpStream) {
    stream.set_nodelay(true).expect("nodelay");
    let (reader, mut writer) = stream.split();
    let mut reader = BufReader::with_capacity(CHUNK, reader);
    let _ = tokio::io::copy_buf(&mut reader, &mut writer).await;
}

/// Plain tokio's echo client: one task that writes `bytes` in `chunk`-sized `write_all`s and,
/// concurrently, reads the echo into a [`CHUNK`]-byte buffer until end of stream. Returns the
/// bytes that came back.
pub async fn tokio_echo_client(addr: SocketAddr, chunk: &[u8], bytes: u64) -> u64 {
    echo_client(addr, chunk, bytes, false).await
}

/// Plain tokio's echo server on a Pony actor's schedule under rule R4: once its reads since the
/// last yield reach [`CHUNK`] bytes (tcpnotify's default `yield_after_reading`), it yields to
/// the runtime before reading again. (A tcpnotify connection does so in the simulator; on
/// tokio's sockets it goes on in the same poll while its task has tokio's cooperative
/// budget.) It writes each read back before yielding, where a tcpnotify echo's write waits
/// for its next turn, so it is if anything the cheaper of the two. Not a baseline: it shows
/// what the yields cost plain tokio (`TCPNOTIFY_BENCH_ONLY=r4`), together with one more
/// difference: it is a `read`/`write_all` loop, where [`tokio_echo_connection`] is `copy_buf`
/// through a `BufReader`.
pub async fn tokio_echo_connection_yielding(mut stream: TcpStream) {
    stream.set_nodelay(true).expect("nodelay");
    let mut buf = vec![0u8; CHUNK];
    let mut yield_rule = YieldAfterReading::default();
    loop {
        match stream.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                if stream.write_all(&buf[..n]).await.is_err() {
                    break;
                }
                yield_rule.read(n).await;
            }
        }
    }
}

/// R4 for plain tokio: yields to the runtime once [`CHUNK`] bytes were read since the last yield.
#[derive(Default)]
struct YieldAfterReading {
    since_yield: usize,
}

impl YieldAfterReading {
    async fn read(&mut self, n: usize) {
        self.since_yield += n;
        if self.since_yield >= CHUNK {
            self.since_yield = 0;
            tokio::task::yield_now().await;
        }
    }
}

/// [`tokio_echo_client`] whose reading half yields to the runtime as R4 makes a tcpnotify
/// connection do (see [`tokio_echo_connection_yielding`]); the task's writing half waits with it.
pub async fn tokio_echo_client_yielding(addr: SocketAddr, chunk: &[u8], bytes: u64) -> u64 {
    echo_client(addr, chunk, bytes, true).await
}

/// The echo client of both, yielding as R4 says when `yielding`.
async fn echo_client(addr: SocketAddr, chunk: &[u8], bytes: u64, yielding: bool) -> u64 {
    let mut stream = TcpStream::connect(addr).await.expect("connect");
    stream.set_nodelay(true).expect("nodelay");
    let (mut reader, mut writer) = stream.split();
    let write = async {
        let mut left = bytes;
        while left > 0 {
            let n = left.min(chunk.len() as u64) as usize;
            writer.write_all(&chunk[..n]).await.expect("write");
            left -= n as u64;
        }
        writer.shutdown().await.expect("shutdown");
    };
    let read = async {
        let mut buf = vec![0u8; CHUNK];
        let mut echoed = 0u64;
        let mut yield_rule = YieldAfterReading::default();
        loop {
            match reader.read(&mut buf).await.expect("read") {
                0 => break,
                n => {
                    echoed += n as u64;
                    if yielding {
                        yield_rule.read(n).await;
                    }
                }
            }
        }
        echoed
    };
    let ((), echoed) = tokio::join!(write, read);
    echoed
}

/// Plain tokio's server side of a cycle: read to end, drop the stream.
pub async fn tokio_drain_connection(mut stream: TcpStream) {
    let mut buf = vec![0u8; CHUNK];
    while let Ok(n) = stream.read(&mut buf).await {
        if n == 0 {
            break;
        }
    }
}

/// Plain tokio's client side of a cycle: connect, shut the write side, read to end.
pub async fn tokio_cycle(addr: SocketAddr) {
    let mut stream = TcpStream::connect(addr).await.expect("connect");
    stream.shutdown().await.expect("shutdown");
    let mut buf = [0u8; 64];
    while stream.read(&mut buf).await.expect("read") > 0 {}
}
