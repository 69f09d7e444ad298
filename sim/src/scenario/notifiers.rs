//! Built-in notifiers for scenarios: servers (echo, length-framed echo, a slow reader) and
//! clients (a sender that checks its echo, a bulk writer that respects `throttled`, one that
//! ignores it, a framed client, a line-based request/response client); and a proxy that dials
//! onward ([`Proxy`]).
//!
//! Clients check what they get and `hard_close` with a message on the trace if it is wrong
//! (an assertion failure inside a notifier would stop the whole run).

pub use super::proxy::Proxy;

use std::time::Duration;
use tcpnotify::{
    Bytes, ConnectFailure, TcpConnection, TcpConnectionNotify, TcpListenNotify, TcpListener,
};

/// The deterministic test pattern: byte `i` of every stream.
pub(crate) fn pattern_byte(i: usize) -> u8 {
    (i % 251) as u8
}

/// `len` bytes of the pattern starting at offset `from`.
pub fn pattern(from: usize, len: usize) -> Vec<u8> {
    // One period of the pattern, copied as often as needed: a workload's megabytes are
    // generated at memcpy speed.
    let period: Vec<u8> = (from..from + 251).map(pattern_byte).collect();
    let mut out = Vec::with_capacity(len);
    while out.len() < len {
        let take = (len - out.len()).min(period.len());
        out.extend_from_slice(&period[..take]);
    }
    out
}

/// Counts `data` as the next bytes of the test pattern after `got`; false (and `got`
/// unchanged) if they are not.
fn advance_pattern(got: &mut usize, data: &[u8]) -> bool {
    let expected = data
        .iter()
        .enumerate()
        .all(|(i, b)| *b == pattern_byte(*got + i));
    if expected {
        *got += data.len();
    }
    expected
}

/// Mutes `conn` now and unmutes it `pause` later, from another task (as a slow reader would).
fn mute_for(conn: &mut TcpConnection, pause: Duration) {
    conn.mute();
    let handle = conn.handle();
    tokio::spawn(async move {
        tokio::time::sleep(pause).await;
        handle.unmute();
    });
}

/// A listener's notifier that accepts every connection with a notifier from `make`: what a
/// scenario's listeners run, and what a test listens with.
///
/// ```
/// use tcpnotify::TcpListener;
/// use tcpnotify_sim::notifiers::{Accept, Echo};
/// # async fn listen() {
/// let listener = TcpListener::listen(Accept(|| Box::new(Echo) as _), "127.0.0.1", "0");
/// # drop(listener);
/// # }
/// ```
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

/// Writes back everything it receives.
#[derive(Debug, Clone, Copy, Default)]
pub struct Echo;

impl TcpConnectionNotify for Echo {
    fn received(&mut self, conn: &mut TcpConnection, data: Vec<u8>, _times: usize) -> bool {
        conn.write(data);
        true
    }
    fn connect_failed(&mut self, _conn: &mut TcpConnection, _reason: ConnectFailure) {}
}

/// Echoes whole length-prefixed frames (4-byte big-endian length, then the body), reading
/// them with `expect`.
#[derive(Debug, Clone, Copy, Default)]
pub struct FramedEcho {
    body: Option<usize>,
}

impl FramedEcho {
    /// Expects a header first.
    pub fn new() -> Self {
        Self::default()
    }
}

impl TcpConnectionNotify for FramedEcho {
    fn accepted(&mut self, conn: &mut TcpConnection) {
        let _ = conn.expect(4);
    }
    fn received(&mut self, conn: &mut TcpConnection, data: Vec<u8>, _times: usize) -> bool {
        match self.body.take() {
            None => {
                let len = frame_len(&data);
                if len == 0 || conn.expect(len).is_err() {
                    conn.hard_close();
                    return true;
                }
                self.body = Some(len);
            }
            Some(_) => {
                conn.write(frame(&data));
                let _ = conn.expect(4);
            }
        }
        true
    }
    fn connect_failed(&mut self, _conn: &mut TcpConnection, _reason: ConnectFailure) {}
}

/// The length in a 4-byte big-endian header (0 if it is not 4 bytes).
pub fn frame_len(header: &[u8]) -> usize {
    match <[u8; 4]>::try_from(header) {
        Ok(bytes) => u32::from_be_bytes(bytes) as usize,
        Err(_) => 0,
    }
}

/// `body` with its 4-byte big-endian length in front.
pub fn frame(body: &[u8]) -> Vec<u8> {
    let mut out = (body.len() as u32).to_be_bytes().to_vec();
    out.extend_from_slice(body);
    out
}

/// A server that mutes itself on accept and unmutes after `delay`, then reads everything and
/// closes once `expect_total` bytes arrived: a slow reader that makes its peer throttle. With
/// [`pausing_every`](Self::pausing_every) it mutes itself again for `delay` after every so many
/// bytes, renewing the writer's backpressure (ponyc #1476).
#[derive(Debug, Clone, Copy)]
pub struct SlowReader {
    delay: Duration,
    expect_total: usize,
    got: usize,
    /// `received` returns false every this many deliveries (0: never).
    yield_every: usize,
    /// Mutes again after every this many bytes (0: only on accept).
    pause_every: usize,
    next_pause: usize,
}

impl SlowReader {
    /// Unmutes after `delay`; closes after `expect_total` bytes.
    pub fn new(delay: Duration, expect_total: usize) -> Self {
        SlowReader {
            delay,
            expect_total,
            got: 0,
            yield_every: 0,
            pause_every: 0,
            next_pause: 0,
        }
    }

    /// Makes `received` return false every `n` deliveries.
    pub fn yielding_every(mut self, n: usize) -> Self {
        self.yield_every = n;
        self
    }

    /// Mutes again for the delay after every `bytes` bytes read (0: only on accept).
    pub fn pausing_every(mut self, bytes: usize) -> Self {
        self.pause_every = bytes;
        self.next_pause = bytes;
        self
    }
}

impl TcpConnectionNotify for SlowReader {
    fn accepted(&mut self, conn: &mut TcpConnection) {
        if self.delay.is_zero() {
            return;
        }
        mute_for(conn, self.delay);
    }
    fn received(&mut self, conn: &mut TcpConnection, data: Vec<u8>, times: usize) -> bool {
        if !advance_pattern(&mut self.got, &data) {
            conn.hard_close();
            return true;
        }
        if self.got >= self.expect_total {
            conn.close();
        } else if self.pause_every > 0 && self.got >= self.next_pause {
            while self.next_pause <= self.got {
                self.next_pause += self.pause_every;
            }
            mute_for(conn, self.delay);
        }
        self.yield_every == 0 || !times.is_multiple_of(self.yield_every)
    }
    fn connect_failed(&mut self, _conn: &mut TcpConnection, _reason: ConnectFailure) {}
}

/// Sends a payload (in chunks) when connected, checks that the echo matches byte for byte,
/// and closes once it all came back.
#[derive(Debug, Clone)]
pub struct Sender {
    // Shared: a factory's copies and every write are views of one allocation, so a chunk is
    // written without being copied first.
    payload: Bytes,
    chunk: usize,
    echoed: usize,
    expect_echo: bool,
    framing: usize,
}

impl Sender {
    /// Sends `payload` in one write and waits for its echo.
    pub fn new(payload: impl Into<Bytes>) -> Self {
        let payload = payload.into();
        Sender {
            chunk: payload.len().max(1),
            payload,
            echoed: 0,
            expect_echo: true,
            framing: 0,
        }
    }

    /// Sends `len` bytes of the test pattern.
    pub fn pattern(len: usize) -> Self {
        Self::new(pattern(0, len))
    }

    /// Splits the payload into writes of `chunk` bytes.
    pub fn chunked(mut self, chunk: usize) -> Self {
        self.chunk = chunk.max(1);
        self
    }

    /// Closes after writing instead of waiting for an echo.
    pub fn without_echo(mut self) -> Self {
        self.expect_echo = false;
        self
    }

    /// Reads the echo with `expect(n)`.
    pub fn expecting(mut self, n: usize) -> Self {
        self.framing = n;
        self
    }
}

impl TcpConnectionNotify for Sender {
    fn connected(&mut self, conn: &mut TcpConnection) {
        if self.framing > 0 && conn.expect(self.framing).is_err() {
            conn.hard_close();
            return;
        }
        let mut at = 0;
        while at < self.payload.len() {
            let end = self.payload.len().min(at.saturating_add(self.chunk));
            conn.write(self.payload.slice(at..end));
            at = end;
        }
        if !self.expect_echo || self.payload.is_empty() {
            conn.dispose();
        }
    }
    fn received(&mut self, conn: &mut TcpConnection, data: Vec<u8>, _times: usize) -> bool {
        let expected = self.payload.get(self.echoed..self.echoed + data.len());
        if expected != Some(&data[..]) {
            conn.hard_close();
            return true;
        }
        self.echoed += data.len();
        if self.echoed == self.payload.len() {
            conn.close();
        } else {
            // Checked: the next read goes into it rather than a fresh buffer. Not after the
            // last delivery: the connection would hold it to its end, only to read the end
            // of the stream (which a short stream's connection reads without a buffer).
            conn.reuse_for_reading(data);
        }
        true
    }
    fn connect_failed(&mut self, _conn: &mut TcpConnection, _reason: ConnectFailure) {}
}

/// Writes `total` bytes of the test pattern in `chunk`-byte writes, pausing while throttled,
/// then closes gracefully.
#[derive(Debug, Clone, Copy)]
pub struct BulkWriter {
    total: usize,
    chunk: usize,
    written: usize,
    throttled: bool,
    respect_throttle: bool,
    disposed: bool,
}

impl BulkWriter {
    /// Writes `total` bytes in `chunk`-byte writes, respecting `throttled`.
    pub fn new(total: usize, chunk: usize) -> Self {
        BulkWriter {
            total,
            chunk: chunk.max(1),
            written: 0,
            throttled: false,
            respect_throttle: true,
            disposed: false,
        }
    }

    /// Keeps writing while throttled (every write is still queued, never lost).
    pub fn ignoring_throttle(mut self) -> Self {
        self.respect_throttle = false;
        self
    }

    /// Queues writes until throttled or done; each write comes back through `sent`.
    fn pump(&mut self, conn: &mut TcpConnection) {
        if self.written < self.total && !(self.respect_throttle && self.throttled) {
            let n = self.chunk.min(self.total - self.written);
            conn.write(pattern(self.written, n));
            self.written += n;
        } else if self.written >= self.total && !self.disposed {
            // A message, so it is handled after the last write (a `close` here would drop it).
            self.disposed = true;
            conn.dispose();
        }
    }
}

impl TcpConnectionNotify for BulkWriter {
    fn connected(&mut self, conn: &mut TcpConnection) {
        self.pump(conn);
    }
    fn sent(&mut self, conn: &mut TcpConnection, data: Bytes) -> Bytes {
        // One write in flight at a time: the next one is queued when this one is handled.
        self.pump(conn);
        data
    }
    fn throttled(&mut self, _conn: &mut TcpConnection) {
        self.throttled = true;
    }
    fn unthrottled(&mut self, conn: &mut TcpConnection) {
        self.throttled = false;
        self.pump(conn);
    }
    fn connect_failed(&mut self, _conn: &mut TcpConnection, _reason: ConnectFailure) {}
}

/// Takes the first `\n`-terminated line (with its `\n`) out of `pending`, if it holds one.
fn take_line(pending: &mut Vec<u8>) -> Option<Vec<u8>> {
    let end = pending.iter().position(|b| *b == b'\n')?;
    Some(pending.drain(..=end).collect())
}

/// A line-based request/response server: answers each `\n`-terminated request line `x` with
/// `x ok\n`, however the request's bytes are chunked.
#[derive(Debug, Clone, Default)]
pub struct LineServer {
    pending: Vec<u8>,
}

impl TcpConnectionNotify for LineServer {
    fn received(&mut self, conn: &mut TcpConnection, data: Vec<u8>, _times: usize) -> bool {
        self.pending.extend_from_slice(&data);
        while let Some(mut reply) = take_line(&mut self.pending) {
            reply.pop();
            reply.extend_from_slice(b" ok\n");
            conn.write(reply);
        }
        true
    }
    fn connect_failed(&mut self, _conn: &mut TcpConnection, _reason: ConnectFailure) {}
}

/// A line-based request/response client: sends `req 1\n`, waits for `req 1 ok\n`, sends the
/// next, and closes after `requests` answers; a wrong answer is a `hard_close`.
#[derive(Debug, Clone, Default)]
pub struct LineClient {
    requests: usize,
    answered: usize,
    pending: Vec<u8>,
}

impl LineClient {
    /// Makes `requests` requests, one at a time.
    pub fn new(requests: usize) -> Self {
        LineClient {
            requests,
            ..Self::default()
        }
    }

    fn ask(&self, conn: &mut TcpConnection) {
        conn.write(format!("req {}\n", self.answered + 1));
    }
}

impl TcpConnectionNotify for LineClient {
    fn connected(&mut self, conn: &mut TcpConnection) {
        if self.requests == 0 {
            conn.close();
        } else {
            self.ask(conn);
        }
    }
    fn received(&mut self, conn: &mut TcpConnection, data: Vec<u8>, _times: usize) -> bool {
        self.pending.extend_from_slice(&data);
        while let Some(line) = take_line(&mut self.pending) {
            let wanted = format!("req {} ok\n", self.answered + 1);
            if line != wanted.as_bytes() {
                conn.hard_close();
                return true;
            }
            self.answered += 1;
            if self.answered == self.requests {
                conn.close();
                return true;
            }
            self.ask(conn);
        }
        true
    }
    fn connect_failed(&mut self, _conn: &mut TcpConnection, _reason: ConnectFailure) {}
}

/// A server that frames its input with `expect(frame)` (0: whatever arrives) and calls
/// `hard_close` from inside its `after`-th `received`: the shape of lori #307, where frames
/// still buffered were delivered after `closed`. Nothing may follow (L2, L5).
#[derive(Debug, Clone, Copy)]
pub struct HardCloser {
    frame: usize,
    after: usize,
    seen: usize,
}

impl HardCloser {
    /// Frames of `frame` bytes (0: unframed); hard-closes in delivery `after` (from 1).
    pub fn new(frame: usize, after: usize) -> Self {
        HardCloser {
            frame,
            after: after.max(1),
            seen: 0,
        }
    }
}

impl TcpConnectionNotify for HardCloser {
    fn accepted(&mut self, conn: &mut TcpConnection) {
        if self.frame > 0 && conn.expect(self.frame).is_err() {
            conn.hard_close();
        }
    }
    fn received(&mut self, conn: &mut TcpConnection, _data: Vec<u8>, _times: usize) -> bool {
        self.seen += 1;
        if self.seen == self.after {
            conn.hard_close();
        }
        true
    }
    fn connect_failed(&mut self, _conn: &mut TcpConnection, _reason: ConnectFailure) {}
}

/// How a [`Greeter`] ends a connection once its greeting is handled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Farewell {
    /// `dispose()`: a graceful close queued behind the greeting, which goes out whole.
    Close,
    /// `hard_close()` once the greeting's write was handled: what the send buffer had not
    /// taken of it is discarded (L5).
    HardClose,
}

/// A server that speaks first: it writes its greeting as it accepts a connection and then
/// ends it (a banner, a daytime service), before its client may have run `connected`. Reads
/// nothing it is sent.
#[derive(Debug, Clone)]
pub struct Greeter {
    greeting: Bytes,
    farewell: Farewell,
}

impl Greeter {
    /// Writes `greeting` to each connection it accepts, then ends it as `farewell` says.
    pub fn new(greeting: impl Into<Bytes>, farewell: Farewell) -> Self {
        Greeter {
            greeting: greeting.into(),
            farewell,
        }
    }
}

impl TcpConnectionNotify for Greeter {
    fn accepted(&mut self, conn: &mut TcpConnection) {
        conn.write(self.greeting.clone());
        match self.farewell {
            Farewell::Close => conn.dispose(),
            // An empty write after it: its `sent` comes once the greeting was handled.
            Farewell::HardClose => conn.write(Bytes::new()),
        }
    }
    fn sent(&mut self, conn: &mut TcpConnection, data: Bytes) -> Bytes {
        if data.is_empty() && self.farewell == Farewell::HardClose {
            conn.hard_close();
        }
        data
    }
    fn connect_failed(&mut self, _conn: &mut TcpConnection, _reason: ConnectFailure) {}
}

/// A client that writes nothing and reads what it is sent until its peer closes: the client
/// of a [`Greeter`].
#[derive(Debug, Clone, Copy, Default)]
pub struct QuietClient;

impl TcpConnectionNotify for QuietClient {
    fn connect_failed(&mut self, _conn: &mut TcpConnection, _reason: ConnectFailure) {}
}

/// How an [`ImpatientClient`] gives up while connecting.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GiveUp {
    /// `close()` inside `connecting` (lori #179).
    Close,
    /// `hard_close()` inside `connecting` (lori #175).
    HardClose,
    /// `dispose()` inside `connecting`: a message, handled in a later turn.
    Dispose,
}

/// A client that gives up inside a `connecting` callback: the first one, or the one with
/// count `at` (after some attempts failed, with others still outstanding). The contract (C6)
/// says every attempt is abandoned and `connect_failed(aborted)` follows; if it connects anyway
/// it writes `late` and closes, which the trace shows as a breach.
#[derive(Debug, Clone, Copy)]
pub struct ImpatientClient {
    how: GiveUp,
    at: Option<u32>,
    gave_up: bool,
}

impl ImpatientClient {
    /// Gives up with `how` in the first `connecting`.
    pub fn new(how: GiveUp) -> Self {
        ImpatientClient {
            how,
            at: None,
            gave_up: false,
        }
    }

    /// Gives up in `connecting(count)` instead of the first `connecting`.
    pub fn at_count(mut self, count: u32) -> Self {
        self.at = Some(count);
        self
    }
}

impl TcpConnectionNotify for ImpatientClient {
    fn connecting(&mut self, conn: &mut TcpConnection, count: u32) {
        if self.gave_up || self.at.is_some_and(|at| at != count) {
            return;
        }
        self.gave_up = true;
        match self.how {
            GiveUp::Close => conn.close(),
            GiveUp::HardClose => conn.hard_close(),
            GiveUp::Dispose => conn.dispose(),
        }
    }
    fn connected(&mut self, conn: &mut TcpConnection) {
        conn.write(b"late".to_vec());
        conn.close();
    }
    fn connect_failed(&mut self, _conn: &mut TcpConnection, _reason: ConnectFailure) {}
}

/// A wrapping notifier whose `expect` hook rewrites every framing size to `to`, as a TLS or
/// handshake layer may; every other callback goes to `inner` unchanged. With `to` above the
/// read buffer the framing must stay as it was (R2; cf. lori #324, where such a size read as
/// end of stream).
#[derive(Debug, Clone)]
pub struct ExpectRewriter<N> {
    inner: N,
    to: usize,
}

impl<N> ExpectRewriter<N> {
    /// Wraps `inner`; its `expect` hook answers `to`.
    pub fn new(inner: N, to: usize) -> Self {
        ExpectRewriter { inner, to }
    }
}

impl<N: TcpConnectionNotify> TcpConnectionNotify for ExpectRewriter<N> {
    fn accepted(&mut self, conn: &mut TcpConnection) {
        self.inner.accepted(conn)
    }
    fn proxy_via(&mut self, host: &str, service: &str) -> (String, String) {
        self.inner.proxy_via(host, service)
    }
    fn connecting(&mut self, conn: &mut TcpConnection, count: u32) {
        self.inner.connecting(conn, count)
    }
    fn connected(&mut self, conn: &mut TcpConnection) {
        self.inner.connected(conn)
    }
    fn connect_failed(&mut self, conn: &mut TcpConnection, reason: ConnectFailure) {
        self.inner.connect_failed(conn, reason)
    }
    fn auth_failed(&mut self, conn: &mut TcpConnection) {
        self.inner.auth_failed(conn)
    }
    fn sent(&mut self, conn: &mut TcpConnection, data: Bytes) -> Bytes {
        self.inner.sent(conn, data)
    }
    fn sentv(&mut self, conn: &mut TcpConnection, chunks: Vec<Bytes>) -> Vec<Bytes> {
        self.inner.sentv(conn, chunks)
    }
    fn received(&mut self, conn: &mut TcpConnection, data: Vec<u8>, times: usize) -> bool {
        self.inner.received(conn, data, times)
    }
    fn expect(&mut self, conn: &mut TcpConnection, qty: usize) -> usize {
        let _ = self.inner.expect(conn, qty);
        self.to
    }
    fn closed(&mut self, conn: &mut TcpConnection) {
        self.inner.closed(conn)
    }
    fn throttled(&mut self, conn: &mut TcpConnection) {
        self.inner.throttled(conn)
    }
    fn unthrottled(&mut self, conn: &mut TcpConnection) {
        self.inner.unthrottled(conn)
    }
}
