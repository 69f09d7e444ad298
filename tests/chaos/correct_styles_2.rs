//! More correct notifiers in styles the other sweeps do not use, each swept by the swarm (a
//! false red here is a simulator defect): a framing layer wrapped around a protocol's phases
//! that keeps itself across `set_notify` (`replaced_by`), reading length-prefixed frames with a
//! changing `expect`; a name resolving to a dead host and two live ones, with framing set in
//! `connecting`; a server that reads part of a stream and closes while its client keeps
//! writing; writers paced by `throttled` and `unthrottled`, one swapping its notifier while
//! throttled; a hard close inside `received` with frames still buffered; a client idle past the
//! active duration; six connections from one host; writes from `closed` and `connect_failed`;
//! `sent` and `sentv` that filter and rewrite; a close and a hard close inside `sent` and
//! `sentv`; a client dialling its own host through a listener with a limit; a close while
//! connecting; a listener that dials from `listening`; a server that yields every delivery and
//! mutes itself from a task; a handshake layer, as TLS would be, writing past `sent` with
//! `write_final`; a swap while muted.
//!
//! Hunted in the fifteenth session with 3,000 seeds each. Two were false reds until fixed: a
//! recorder put a swapped-in notifier where the framing layer stood instead of asking it
//! (`replaced_by`), and the checker took a `write_final` dropped inside `closed`, or after
//! `hard_close` inside `received`, for a W1 violation. These tests honour `TCPNOTIFY_SEEDS`
//! and the other variables, as a user's test would.

use crate::support::{assert_fix_passes_many, echoed, Sink};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tcpnotify::{Bytes, ConnectFailure, TcpConnection, TcpConnectionNotify};
use tcpnotify_sim::notifiers::{frame, frame_len, pattern, Echo, Sender};
use tcpnotify_sim::scenario::NotifierFactory;
use tcpnotify_sim::{always, factory, Expectations, Scenario};

/// A scenario of an echo-style service: `server` listening on `server:7000` with `server`,
/// and two clients of it, `c1` on host `client` and `c2` on host `client2`.
fn served(
    name: &str,
    server: NotifierFactory,
    c1: NotifierFactory,
    c2: NotifierFactory,
) -> Scenario {
    Scenario::new(name)
        .listener("server", "server", 7000, server)
        .client("c1", "client", "server", 7000, c1)
        .client("c2", "client2", "server", 7000, c2)
}

/// A body of `len` bytes, the `n`th of a run: lengths and contents vary from frame to frame.
fn body(n: usize) -> Vec<u8> {
    pattern(n * 7, 1 + (n * 37) % 300)
}

/// Pony-style composition: a framing layer around a protocol notifier. It prefixes each write
/// with its length, reads the peer's frames with `expect` (header, then body), hands the inner
/// notifier whole bodies, and stays around a notifier swapped in with `set_notify`.
struct FrameLayer {
    inner: Box<dyn TcpConnectionNotify>,
    in_header: bool,
}

impl FrameLayer {
    fn new(inner: impl TcpConnectionNotify) -> Self {
        FrameLayer {
            inner: Box::new(inner),
            in_header: true,
        }
    }

    fn start(&mut self, conn: &mut TcpConnection) {
        let started = conn.expect(4).is_ok();
        always("frame-layer-expects", started, "expect(4) refused");
    }
}

impl TcpConnectionNotify for FrameLayer {
    fn accepted(&mut self, conn: &mut TcpConnection) {
        self.start(conn);
        self.inner.accepted(conn);
    }
    fn connected(&mut self, conn: &mut TcpConnection) {
        self.start(conn);
        self.inner.connected(conn);
    }
    fn connect_failed(&mut self, conn: &mut TcpConnection, reason: ConnectFailure) {
        self.inner.connect_failed(conn, reason);
    }
    fn sent(&mut self, conn: &mut TcpConnection, data: Bytes) -> Bytes {
        let data = self.inner.sent(conn, data);
        Bytes::from(frame(&data))
    }
    fn sentv(&mut self, conn: &mut TcpConnection, chunks: Vec<Bytes>) -> Vec<Bytes> {
        let chunks = self.inner.sentv(conn, chunks);
        chunks.iter().map(|c| Bytes::from(frame(c))).collect()
    }
    fn received(&mut self, conn: &mut TcpConnection, data: Vec<u8>, times: usize) -> bool {
        if self.in_header {
            let len = frame_len(&data);
            always("frame-header", (1..=300).contains(&len), len);
            self.in_header = conn.expect(len.clamp(1, 300)).is_err();
            true
        } else {
            self.in_header = true;
            let _ = conn.expect(4);
            self.inner.received(conn, data, times)
        }
    }
    fn closed(&mut self, conn: &mut TcpConnection) {
        self.inner.closed(conn);
    }
    fn throttled(&mut self, conn: &mut TcpConnection) {
        self.inner.throttled(conn);
    }
    fn unthrottled(&mut self, conn: &mut TcpConnection) {
        self.inner.unthrottled(conn);
    }
    fn replaced_by(
        mut self: Box<Self>,
        next: Box<dyn TcpConnectionNotify>,
    ) -> Box<dyn TcpConnectionNotify> {
        self.inner = next;
        self
    }
}

/// The server's two phases: a handshake (the first body, answered with itself), then bodies
/// answered reversed. The handshake phase swaps in the second with `set_notify`; bodies that
/// arrive before the swap is handled it answers as the second phase would.
struct Handshake {
    greeted: bool,
}

impl TcpConnectionNotify for Handshake {
    fn received(&mut self, conn: &mut TcpConnection, data: Vec<u8>, times: usize) -> bool {
        if self.greeted {
            return Reverser.received(conn, data, times);
        }
        self.greeted = true;
        always(
            "greeting",
            data == body(0),
            "the first body was not the greeting",
        );
        conn.write(data);
        conn.set_notify(Box::new(Reverser));
        true
    }
    fn connect_failed(&mut self, _conn: &mut TcpConnection, _reason: ConnectFailure) {}
}

/// Answers each body with its bytes reversed.
struct Reverser;

impl TcpConnectionNotify for Reverser {
    fn received(&mut self, conn: &mut TcpConnection, mut data: Vec<u8>, _times: usize) -> bool {
        data.reverse();
        conn.write(data);
        true
    }
    fn connect_failed(&mut self, _conn: &mut TcpConnection, _reason: ConnectFailure) {}
}

/// What a framed client has had answered, shared by its phases.
#[derive(Default)]
struct Answers {
    got: usize,
}

/// The client: greets, then sends `bodies` more (all at once, in writes and writevs), checks
/// each answer, swaps from a task of its own to a phase that only checks, and closes once
/// every answer came.
struct FramedClient {
    bodies: usize,
    answers: Arc<Mutex<Answers>>,
}

impl FramedClient {
    fn check(&self, conn: &mut TcpConnection, data: &[u8]) {
        let mut answers = self.answers.lock().expect("not poisoned");
        let n = answers.got;
        let mut want = body(n);
        if n > 0 {
            want.reverse();
        }
        always("answer", data == want, format!("answer {n} is wrong"));
        answers.got += 1;
        if answers.got == self.bodies + 1 {
            conn.close();
        }
    }
}

impl TcpConnectionNotify for FramedClient {
    fn connected(&mut self, conn: &mut TcpConnection) {
        conn.write(body(0));
        for n in (1..=self.bodies).step_by(2) {
            let next = (n < self.bodies).then(|| body(n + 1));
            match next {
                Some(next) => conn.writev([body(n), next]),
                None => conn.write(body(n)),
            }
        }
        let handle = conn.handle();
        let (bodies, answers) = (self.bodies, self.answers.clone());
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(4)).await;
            handle.set_notify(Box::new(FramedClient { bodies, answers }));
        });
    }
    fn received(&mut self, conn: &mut TcpConnection, data: Vec<u8>, _times: usize) -> bool {
        self.check(conn, &data);
        true
    }
    fn connect_failed(&mut self, _conn: &mut TcpConnection, _reason: ConnectFailure) {}
}

fn framed_client(bodies: usize) -> FrameLayer {
    FrameLayer::new(FramedClient {
        bodies,
        answers: Arc::default(),
    })
}

#[test]
fn framing_layer_kept_across_set_notify_passes() {
    let s = served(
        "frame-layer",
        factory(|| FrameLayer::new(Handshake { greeted: false })),
        factory(|| framed_client(16)),
        factory(|| framed_client(7)),
    )
    .duration_ms(2000)
    .expecting(echoed());
    assert_fix_passes_many(s);
}

/// A sender whose framing is set in `connecting`, before any attempt succeeded; it checks
/// the counts it is given go down by one (C3) and that every delivery is one frame (R1).
struct FramesEarly {
    sender: Sender,
    last_count: Option<u32>,
}

impl TcpConnectionNotify for FramesEarly {
    fn connecting(&mut self, conn: &mut TcpConnection, count: u32) {
        let next = self.last_count.map_or(true, |last| count + 1 == last);
        always("connecting-counts-down", next && count >= 1, count);
        self.last_count = Some(count);
        let framed = conn.expect(50).is_ok();
        always("expect-while-connecting", framed, "expect(50) refused");
    }
    fn connected(&mut self, conn: &mut TcpConnection) {
        self.sender.connected(conn);
    }
    fn received(&mut self, conn: &mut TcpConnection, data: Vec<u8>, times: usize) -> bool {
        always("one-frame", data.len() == 50, data.len());
        self.sender.received(conn, data, times)
    }
    fn connect_failed(&mut self, _conn: &mut TcpConnection, _reason: ConnectFailure) {}
}

#[test]
fn dead_address_first_under_happy_eyeballs_passes() {
    let s = Scenario::new("eyeballs")
        .host("dead")
        .name("svc", &["dead", "server", "server2"])
        .listener("server", "server", 7000, factory(|| Echo))
        .listener("server2", "server2", 7000, factory(|| Echo))
        .client(
            "c1",
            "client",
            "svc",
            7000,
            factory(|| Sender::pattern(1500).chunked(300)),
        )
        .client(
            "c2",
            "client2",
            "svc",
            7000,
            factory(|| Sender::pattern(300)),
        )
        .client(
            "c3",
            "client2",
            "svc",
            7000,
            factory(|| FramesEarly {
                sender: Sender::pattern(1000).chunked(77),
                last_count: None,
            }),
        )
        .duration_ms(2000)
        .expecting(echoed());
    assert_fix_passes_many(s);
}

/// Reads 500 bytes, says "bye" and closes gracefully while its peer still writes (what
/// comes after is still delivered, L4).
struct HalfReader {
    read: usize,
}

impl TcpConnectionNotify for HalfReader {
    fn received(&mut self, conn: &mut TcpConnection, data: Vec<u8>, _times: usize) -> bool {
        let before = self.read;
        self.read += data.len();
        if before < 500 && self.read >= 500 {
            conn.write(b"bye".to_vec());
            conn.dispose();
        }
        true
    }
    fn connect_failed(&mut self, _conn: &mut TcpConnection, _reason: ConnectFailure) {}
}

/// Streams writes of 256 bytes from a task until its connection ends; checks that all it hears is
/// (a prefix of) "bye".
struct Streamer {
    heard: Vec<u8>,
}

impl TcpConnectionNotify for Streamer {
    fn connected(&mut self, conn: &mut TcpConnection) {
        let handle = conn.handle();
        tokio::spawn(async move {
            for i in 0..100 {
                if handle.is_finished() {
                    return;
                }
                handle.write(pattern(i * 256, 256));
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
            handle.dispose();
        });
    }
    fn received(&mut self, _conn: &mut TcpConnection, data: Vec<u8>, _times: usize) -> bool {
        self.heard.extend(data);
        always(
            "only-bye",
            b"bye".starts_with(&self.heard),
            String::from_utf8_lossy(&self.heard),
        );
        true
    }
    fn connect_failed(&mut self, _conn: &mut TcpConnection, _reason: ConnectFailure) {}
}

#[test]
fn server_closing_while_its_client_writes_passes() {
    let s = served(
        "half-reader",
        factory(|| HalfReader { read: 0 }),
        factory(|| Streamer { heard: Vec::new() }),
        factory(|| Streamer { heard: Vec::new() }),
    )
    .duration_ms(2000);
    assert_fix_passes_many(s);
}

/// Writes `writes` writes of `size` bytes, each once the last was taken: the next goes out
/// from `sent` when not throttled, or from `unthrottled`; then closes.
struct PacedByThrottle {
    size: usize,
    writes: usize,
    written: usize,
    throttled: bool,
}

impl PacedByThrottle {
    fn next(&mut self, conn: &mut TcpConnection) {
        if self.written < self.writes {
            conn.write(pattern(self.written * self.size, self.size));
            self.written += 1;
        } else {
            conn.dispose();
        }
    }
}

impl TcpConnectionNotify for PacedByThrottle {
    fn connected(&mut self, conn: &mut TcpConnection) {
        self.next(conn);
    }
    fn sent(&mut self, conn: &mut TcpConnection, data: Bytes) -> Bytes {
        if !self.throttled && !conn.is_throttled() {
            self.next(conn);
        }
        data
    }
    fn throttled(&mut self, _conn: &mut TcpConnection) {
        self.throttled = true;
    }
    fn unthrottled(&mut self, conn: &mut TcpConnection) {
        self.throttled = false;
        self.next(conn);
    }
    fn connect_failed(&mut self, _conn: &mut TcpConnection, _reason: ConnectFailure) {}
}

fn paced_by_throttle(size: usize, writes: usize) -> PacedByThrottle {
    PacedByThrottle {
        size,
        writes,
        written: 0,
        throttled: false,
    }
}

#[test]
fn writers_paced_by_throttle_one_swapping_its_notifier_pass() {
    let s = Scenario::new("huge-writes")
        .listener("big", "server", 7000, factory(Sink::default))
        .listener("small", "server", 7001, factory(Sink::default))
        .client(
            "c1",
            "client",
            "server",
            7000,
            factory(|| paced_by_throttle(2 << 10, 3)),
        )
        .client(
            "c2",
            "client2",
            "server",
            7001,
            factory(|| SwapsWhenThrottled::new(3)),
        )
        .duration_ms(3000)
        .expecting(Expectations {
            delivered: [
                ("big.1".to_string(), 6 << 10),
                ("small.1".to_string(), 6 << 10),
            ]
            .into(),
            ..Expectations::default()
        });
    assert_fix_passes_many(s);
}

/// Reads 8-byte frames; at the frame "STOP----" hard-closes, with frames after it buffered.
struct StopsHard {
    frames: usize,
}

impl TcpConnectionNotify for StopsHard {
    fn accepted(&mut self, conn: &mut TcpConnection) {
        let _ = conn.expect(8);
    }
    fn received(&mut self, conn: &mut TcpConnection, data: Vec<u8>, _times: usize) -> bool {
        self.frames += 1;
        always("before-stop", self.frames <= 11, self.frames);
        if data == b"STOP----" {
            conn.hard_close();
            // Dropped (W1): the connection is closed, its `closed` not yet called.
            conn.write_final(b"too late".to_vec());
        } else {
            conn.write(data);
        }
        true
    }
    fn connect_failed(&mut self, _conn: &mut TcpConnection, _reason: ConnectFailure) {}
}

/// Writes 10 frames, the stop frame and 10 more in one write; checks what comes back is the
/// first frames echoed, in order.
struct Stopper {
    heard: Vec<u8>,
}

impl TcpConnectionNotify for Stopper {
    fn connected(&mut self, conn: &mut TcpConnection) {
        let mut all = Vec::new();
        for i in 0..10u8 {
            all.extend_from_slice(&[b'a' + i; 8]);
        }
        all.extend_from_slice(b"STOP----");
        for i in 0..10u8 {
            all.extend_from_slice(&[b'A' + i; 8]);
        }
        conn.write(all);
    }
    fn received(&mut self, _conn: &mut TcpConnection, data: Vec<u8>, _times: usize) -> bool {
        self.heard.extend(data);
        let ok = self.heard.len() <= 80
            && (self.heard.iter().enumerate()).all(|(i, &b)| b == b'a' + (i / 8) as u8);
        always(
            "echoed-before-stop",
            ok,
            String::from_utf8_lossy(&self.heard),
        );
        true
    }
    fn connect_failed(&mut self, _conn: &mut TcpConnection, _reason: ConnectFailure) {}
}

#[test]
fn hard_close_inside_received_with_frames_buffered_passes() {
    let s = served(
        "stops-hard",
        factory(|| StopsHard { frames: 0 }),
        factory(|| Stopper { heard: Vec::new() }),
        factory(|| Stopper { heard: Vec::new() }),
    )
    .duration_ms(2000);
    assert_fix_passes_many(s);
}

/// Connects, stays idle for `idle_ms` (past the active duration), then sends and waits for
/// the echo through a handle.
struct Idler {
    idle_ms: u64,
    echoed: usize,
}

impl TcpConnectionNotify for Idler {
    fn connected(&mut self, conn: &mut TcpConnection) {
        conn.set_keepalive(1).expect("keepalive");
        let handle = conn.handle();
        let idle = Duration::from_millis(self.idle_ms);
        tokio::spawn(async move {
            tokio::time::sleep(idle).await;
            handle.write(pattern(0, 500));
        });
    }
    fn received(&mut self, conn: &mut TcpConnection, data: Vec<u8>, _times: usize) -> bool {
        self.echoed += data.len();
        if self.echoed == 500 {
            conn.close();
        }
        true
    }
    fn connect_failed(&mut self, _conn: &mut TcpConnection, _reason: ConnectFailure) {}
}

/// Writes "tick" every `every_ms` from a task until its connection ends.
struct Ticker {
    every_ms: u64,
}

impl TcpConnectionNotify for Ticker {
    fn accepted(&mut self, conn: &mut TcpConnection) {
        let handle = conn.handle();
        let every = Duration::from_millis(self.every_ms);
        tokio::spawn(async move {
            while !handle.is_finished() {
                tokio::time::sleep(every).await;
                handle.write(b"tick".to_vec());
            }
        });
    }
    fn connect_failed(&mut self, _conn: &mut TcpConnection, _reason: ConnectFailure) {}
}

/// Reads ticks until it has `ticks` of them, then closes.
struct TickReader {
    left: usize,
}

impl TcpConnectionNotify for TickReader {
    fn connected(&mut self, conn: &mut TcpConnection) {
        let _ = conn.expect(4);
    }
    fn received(&mut self, conn: &mut TcpConnection, data: Vec<u8>, _times: usize) -> bool {
        always("tick", data == b"tick", String::from_utf8_lossy(&data));
        self.left = self.left.saturating_sub(1);
        if self.left == 0 {
            conn.close();
        }
        true
    }
    fn connect_failed(&mut self, _conn: &mut TcpConnection, _reason: ConnectFailure) {}
}

#[test]
fn idle_past_the_active_duration_passes() {
    let s = Scenario::new("idle")
        .listener("server", "server", 7000, factory(|| Echo))
        .listener("clock", "server", 7001, factory(|| Ticker { every_ms: 60 }))
        .client(
            "c1",
            "client",
            "server",
            7000,
            factory(|| Idler {
                idle_ms: 400,
                echoed: 0,
            }),
        )
        .client(
            "t1",
            "client2",
            "server",
            7001,
            factory(|| TickReader { left: 5 }),
        )
        .duration_ms(300)
        .settle_ms(700)
        .expecting(Expectations {
            delivered: [("c1".to_string(), 500)].into(),
            ..Expectations::default()
        });
    assert_fix_passes_many(s);
}

#[test]
fn many_connections_from_one_host_pass() {
    let mut s = Scenario::new("crowd")
        .listener("server", "server", 7000, factory(|| Echo))
        .duration_ms(2000)
        .expecting(echoed());
    for i in 0..8 {
        let host = if i < 6 { "client" } else { "client2" };
        let len = 50 + i * 41;
        s = s.client(
            &format!("c{i}"),
            host,
            "server",
            7000,
            factory(move || Sender::pattern(len).chunked(32)),
        );
    }
    assert_fix_passes_many(s);
}

/// An echo client that also writes from `closed` and `connect_failed` (dropped by W1) and
/// from `connected` writes with `write_final` too.
struct WritesAfterTheEnd {
    echoed: usize,
}

impl TcpConnectionNotify for WritesAfterTheEnd {
    fn connected(&mut self, conn: &mut TcpConnection) {
        conn.write(pattern(0, 1000));
        conn.write_final(pattern(1000, 24));
    }
    fn received(&mut self, conn: &mut TcpConnection, data: Vec<u8>, _times: usize) -> bool {
        self.echoed += data.len();
        if self.echoed == 1024 {
            conn.close();
            conn.write(b"after close".to_vec());
        }
        true
    }
    fn closed(&mut self, conn: &mut TcpConnection) {
        conn.write(b"after closed".to_vec());
        conn.writev([b"after".to_vec(), b"closed".to_vec()]);
        conn.write_final(b"final after closed".to_vec());
    }
    fn connect_failed(&mut self, conn: &mut TcpConnection, _reason: ConnectFailure) {
        conn.write(b"after connect_failed".to_vec());
        conn.write_final(b"final after connect_failed".to_vec());
    }
}

/// Rewrites what it writes in `sent` and `sentv`: drops every third write and every empty
/// chunk, and appends `!` to the rest; checks the echo against what it let through.
struct Filtering {
    writes: usize,
    kept: Vec<u8>,
    echoed: usize,
}

impl TcpConnectionNotify for Filtering {
    fn connected(&mut self, conn: &mut TcpConnection) {
        for i in 0..30 {
            if i % 4 == 0 {
                conn.writev([pattern(i * 50, 50), Vec::new(), pattern(i, 3)]);
            } else {
                conn.write(pattern(i * 50, 50));
            }
        }
    }
    fn sent(&mut self, _conn: &mut TcpConnection, data: Bytes) -> Bytes {
        self.writes += 1;
        if self.writes % 3 == 0 {
            return Bytes::new();
        }
        let mut out = data.to_vec();
        out.push(b'!');
        self.kept.extend_from_slice(&out);
        Bytes::from(out)
    }
    fn sentv(&mut self, _conn: &mut TcpConnection, chunks: Vec<Bytes>) -> Vec<Bytes> {
        self.writes += 1;
        let kept: Vec<Bytes> = chunks.into_iter().filter(|c| !c.is_empty()).collect();
        for chunk in &kept {
            self.kept.extend_from_slice(chunk);
        }
        kept
    }
    fn received(&mut self, conn: &mut TcpConnection, data: Vec<u8>, _times: usize) -> bool {
        let want = self.kept.get(self.echoed..self.echoed + data.len());
        always("filtered-echo", want == Some(&data[..]), self.echoed);
        self.echoed += data.len();
        if self.echoed == self.kept.len() && self.writes == 30 {
            conn.close();
        }
        true
    }
    fn connect_failed(&mut self, _conn: &mut TcpConnection, _reason: ConnectFailure) {}
}

#[test]
fn writes_after_the_end_and_filtering_sent_pass() {
    let s = served(
        "rewriting",
        factory(|| Echo),
        factory(|| WritesAfterTheEnd { echoed: 0 }),
        factory(|| Filtering {
            writes: 0,
            kept: Vec::new(),
            echoed: 0,
        }),
    )
    .duration_ms(2000)
    .expecting(echoed());
    assert_fix_passes_many(s);
}

/// Writes ten requests, and closes inside the `sent` (or `sentv`) of the `at`th: what that
/// callback returns is dropped (W1, or discarded by a hard close), the rest is never
/// written.
struct ClosesInSent {
    at: usize,
    seen: usize,
    vectored: bool,
    /// Hard-closes instead: what that callback returns is discarded (L5).
    hard: bool,
}

impl ClosesInSent {
    fn new(at: usize, vectored: bool, hard: bool) -> Self {
        ClosesInSent {
            at,
            seen: 0,
            vectored,
            hard,
        }
    }

    fn count(&mut self, conn: &mut TcpConnection) {
        self.seen += 1;
        if self.seen == self.at {
            match self.hard {
                true => conn.hard_close(),
                false => conn.close(),
            }
        }
    }
}

impl TcpConnectionNotify for ClosesInSent {
    fn connected(&mut self, conn: &mut TcpConnection) {
        for i in 0..10 {
            match self.vectored {
                true => conn.writev([pattern(i * 10, 6), pattern(i * 10 + 6, 4)]),
                false => conn.write(pattern(i * 10, 10)),
            }
        }
    }
    fn sent(&mut self, conn: &mut TcpConnection, data: Bytes) -> Bytes {
        self.count(conn);
        data
    }
    fn sentv(&mut self, conn: &mut TcpConnection, chunks: Vec<Bytes>) -> Vec<Bytes> {
        self.count(conn);
        chunks
    }
    fn connect_failed(&mut self, _conn: &mut TcpConnection, _reason: ConnectFailure) {}
}

/// Reads and counts; never writes, so its client's close ends both.
struct Counting {
    read: usize,
    most: usize,
}

impl TcpConnectionNotify for Counting {
    fn received(&mut self, _conn: &mut TcpConnection, data: Vec<u8>, _times: usize) -> bool {
        self.read += data.len();
        always("no-more-than-sent", self.read <= self.most, self.read);
        true
    }
    fn connect_failed(&mut self, _conn: &mut TcpConnection, _reason: ConnectFailure) {}
}

#[test]
fn close_inside_sent_and_sentv_passes() {
    let s = served(
        "closes-in-sent",
        factory(|| Counting { read: 0, most: 40 }),
        factory(|| ClosesInSent::new(5, false, false)),
        factory(|| ClosesInSent::new(3, true, false)),
    )
    .client(
        "c3",
        "client3",
        "server",
        7000,
        factory(|| ClosesInSent::new(4, false, true)),
    )
    .client(
        "c4",
        "client3",
        "server",
        7000,
        factory(|| ClosesInSent::new(2, true, true)),
    )
    .duration_ms(2000);
    assert_fix_passes_many(s);
}

#[test]
fn client_dialling_its_own_host_and_a_limited_listener_pass() {
    let mut s = Scenario::new("self-dial")
        .listener("server", "server", 7000, factory(|| Echo))
        .client(
            "own",
            "server",
            "server",
            7000,
            factory(|| Sender::pattern(600).chunked(100)),
        );
    s.listeners[0].limit = 2;
    for i in 0..3 {
        s = s.client(
            &format!("c{i}"),
            "client",
            "server",
            7000,
            factory(|| Sender::pattern(400).chunked(90)),
        );
    }
    let s = s.duration_ms(3000).expecting(echoed());
    assert_fix_passes_many(s);
}

/// Closes while connecting (from `connecting`), then dials a plain sender from
/// `connect_failed`, as a client that changes its mind about a route would.
struct ChangesItsMind;

impl TcpConnectionNotify for ChangesItsMind {
    fn connecting(&mut self, conn: &mut TcpConnection, _count: u32) {
        conn.close();
    }
    fn connect_failed(&mut self, conn: &mut TcpConnection, reason: ConnectFailure) {
        if reason == ConnectFailure::Aborted {
            conn.dial(Sender::pattern(1500).chunked(100), "server", "7000");
        }
    }
}

#[test]
fn close_while_connecting_then_redial_passes() {
    let s = served(
        "changes-its-mind",
        factory(|| Echo),
        factory(|| ChangesItsMind),
        factory(|| ChangesItsMind),
    )
    .duration_ms(2000)
    .expecting(echoed());
    assert_fix_passes_many(s);
}

/// Registers with a directory as it starts listening: dials it from `listening` and writes
/// through the handle at once and from a task 5 ms later (dropped by W1 while the dial is
/// not yet connected, so the registration itself is written once connected); echoes what
/// its own peers send.
struct Registering;

impl tcpnotify::TcpListenNotify for Registering {
    fn listening(&mut self, listener: &mut tcpnotify::TcpListener) {
        let handle = listener.dial(Announcer, "directory", "7100");
        handle.write(b"early".to_vec());
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(5)).await;
            handle.write(b"hello".to_vec());
        });
    }
    fn not_listening(&mut self, _listener: &mut tcpnotify::TcpListener) {}
    fn connected(
        &mut self,
        _listener: &mut tcpnotify::TcpListener,
    ) -> Option<Box<dyn TcpConnectionNotify>> {
        Some(Box::new(Echo))
    }
}

/// The registration connection: registers once connected, closes once the directory
/// answered anything.
struct Announcer;

impl TcpConnectionNotify for Announcer {
    fn connected(&mut self, conn: &mut TcpConnection) {
        conn.write(b"register server".to_vec());
    }
    fn received(&mut self, conn: &mut TcpConnection, _data: Vec<u8>, _times: usize) -> bool {
        conn.close();
        true
    }
    fn connect_failed(&mut self, _conn: &mut TcpConnection, _reason: ConnectFailure) {}
}

#[test]
fn listener_registering_through_a_dial_from_listening_passes() {
    let s = Scenario::new("registering")
        .listener("directory", "directory", 7100, factory(|| Echo))
        .listener_with(
            "server",
            "server",
            7000,
            tcpnotify_sim::scenario::listen_factory(|| Registering),
        )
        .client(
            "c1",
            "client",
            "server",
            7000,
            factory(|| Sender::pattern(800).chunked(128)),
        )
        .duration_ms(2000);
    assert_fix_passes_many(s);
}

/// Echoes, returning `false` from every `received` (R3: each delivery in a turn of its own),
/// and mutes and unmutes itself from a task every 2 ms.
struct Stuttering;

impl TcpConnectionNotify for Stuttering {
    fn accepted(&mut self, conn: &mut TcpConnection) {
        let handle = conn.handle();
        tokio::spawn(async move {
            while !handle.is_finished() {
                handle.mute();
                tokio::time::sleep(Duration::from_millis(2)).await;
                handle.unmute();
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
        });
    }
    fn received(&mut self, conn: &mut TcpConnection, data: Vec<u8>, times: usize) -> bool {
        always("one-delivery-a-turn", times == 1, times);
        conn.write(data);
        false
    }
    fn connect_failed(&mut self, _conn: &mut TcpConnection, _reason: ConnectFailure) {}
}

fn yielding_config(bytes: usize) -> tcpnotify::ConnectionConfig {
    let mut config = tcpnotify::ConnectionConfig::default();
    config.set_yield_after_reading(bytes);
    config
}

#[test]
fn stuttering_server_yielding_and_muting_passes() {
    let s = Scenario::new("stuttering")
        .listener("server", "server", 7000, factory(|| Stuttering))
        .with_config(yielding_config(100))
        .client(
            "c1",
            "client",
            "server",
            7000,
            factory(|| Sender::pattern(1500).chunked(500)),
        )
        .client(
            "c2",
            "client2",
            "server",
            7000,
            factory(|| Sender::pattern(90).chunked(3)),
        )
        .duration_ms(3000)
        .expecting(echoed());
    assert_fix_passes_many(s);
}

/// How much a [`SwapsWhenThrottled`] has left to write, shared by the notifier and the one
/// it swaps in.
struct WriterState {
    left: usize,
    waiting: bool,
    swapped: bool,
}

/// Writes `left` writes of 2 KiB, a few at a time from `sent`, and waits for `unthrottled`
/// while throttled; at its first `throttled` it swaps in a notifier sharing its state (a
/// protocol phase for backpressure), which gets the `unthrottled`. Closes after the last.
struct SwapsWhenThrottled(Arc<Mutex<WriterState>>);

impl SwapsWhenThrottled {
    fn new(left: usize) -> Self {
        SwapsWhenThrottled(Arc::new(Mutex::new(WriterState {
            left,
            waiting: false,
            swapped: false,
        })))
    }

    fn write_some(&self, conn: &mut TcpConnection) {
        let mut state = self.0.lock().expect("not poisoned");
        for _ in 0..4 {
            if state.left == 0 || state.waiting {
                break;
            }
            state.left -= 1;
            conn.write(pattern(state.left * 2048, 2048));
            if state.left == 0 {
                conn.dispose();
            }
        }
    }
}

impl TcpConnectionNotify for SwapsWhenThrottled {
    fn connected(&mut self, conn: &mut TcpConnection) {
        self.write_some(conn);
    }
    fn sent(&mut self, conn: &mut TcpConnection, data: Bytes) -> Bytes {
        self.write_some(conn);
        data
    }
    fn throttled(&mut self, conn: &mut TcpConnection) {
        let mut state = self.0.lock().expect("not poisoned");
        state.waiting = true;
        if !state.swapped {
            state.swapped = true;
            conn.set_notify(Box::new(SwapsWhenThrottled(self.0.clone())));
        }
    }
    fn unthrottled(&mut self, conn: &mut TcpConnection) {
        self.0.lock().expect("not poisoned").waiting = false;
        self.write_some(conn);
    }
    fn connect_failed(&mut self, _conn: &mut TcpConnection, _reason: ConnectFailure) {}
}

/// A handshake layer, as a TLS layer would be: before the inner notifier hears anything it
/// sends its hello with `write_final` (past `sent`), reads the peer's hello (`expect(6)`),
/// and tells the inner notifier `auth_failed` if it is wrong; every write of the inner
/// notifier gets a one-byte tag from `sent`, written with `write_final`, before its bytes.
struct Handshaking {
    inner: Box<dyn TcpConnectionNotify>,
    shaken: bool,
}

impl Handshaking {
    fn new(inner: impl TcpConnectionNotify) -> Self {
        Handshaking {
            inner: Box::new(inner),
            shaken: false,
        }
    }

    fn hello(&mut self, conn: &mut TcpConnection) {
        conn.write_final(b"HELLO!".to_vec());
        let framed = conn.expect(6).is_ok();
        always("hello-framed", framed, "expect(6) refused");
    }
}

impl TcpConnectionNotify for Handshaking {
    fn accepted(&mut self, conn: &mut TcpConnection) {
        self.hello(conn);
    }
    fn connected(&mut self, conn: &mut TcpConnection) {
        self.hello(conn);
    }
    fn connect_failed(&mut self, conn: &mut TcpConnection, reason: ConnectFailure) {
        self.inner.connect_failed(conn, reason);
    }
    fn sent(&mut self, conn: &mut TcpConnection, data: Bytes) -> Bytes {
        let data = self.inner.sent(conn, data);
        if !data.is_empty() {
            conn.write_final(b"#".to_vec());
        }
        data
    }
    fn received(&mut self, conn: &mut TcpConnection, data: Vec<u8>, times: usize) -> bool {
        if self.shaken {
            return self.inner.received(conn, data, times);
        }
        self.shaken = true;
        let _ = conn.expect(0);
        if data != b"HELLO!" {
            self.inner.auth_failed(conn);
            conn.hard_close();
            return true;
        }
        match conn.role() {
            tcpnotify::Role::Client => self.inner.connected(conn),
            _ => self.inner.accepted(conn),
        }
        true
    }
    fn closed(&mut self, conn: &mut TcpConnection) {
        if self.shaken {
            self.inner.closed(conn);
        }
    }
    fn throttled(&mut self, conn: &mut TcpConnection) {
        self.inner.throttled(conn);
    }
    fn unthrottled(&mut self, conn: &mut TcpConnection) {
        self.inner.unthrottled(conn);
    }
}

/// Echoes what it receives, taking out the tags its peer's layer put in.
struct Untagging;

impl TcpConnectionNotify for Untagging {
    fn received(&mut self, conn: &mut TcpConnection, data: Vec<u8>, _times: usize) -> bool {
        let body: Vec<u8> = data.into_iter().filter(|b| *b != b'#').collect();
        if !body.is_empty() {
            conn.write(body);
        }
        true
    }
    fn connect_failed(&mut self, _conn: &mut TcpConnection, _reason: ConnectFailure) {}
}

/// Sends lines of letters (never `#`) and closes once they all came back, tags taken out.
struct TaggedLines {
    sent: Vec<u8>,
    back: Vec<u8>,
}

impl TcpConnectionNotify for TaggedLines {
    fn connected(&mut self, conn: &mut TcpConnection) {
        for i in 0..20u8 {
            let line = vec![b'a' + i % 26; 1 + usize::from(i) * 3];
            self.sent.extend_from_slice(&line);
            conn.write(line);
        }
    }
    fn received(&mut self, conn: &mut TcpConnection, data: Vec<u8>, _times: usize) -> bool {
        self.back.extend(data.into_iter().filter(|b| *b != b'#'));
        always(
            "tagged-echo",
            self.sent.starts_with(&self.back),
            self.back.len(),
        );
        if self.back.len() == self.sent.len() {
            conn.close();
        }
        true
    }
    fn auth_failed(&mut self, _conn: &mut TcpConnection) {
        always("authenticated", false, "the server's hello was wrong");
    }
    fn connect_failed(&mut self, _conn: &mut TcpConnection, _reason: ConnectFailure) {}
}

#[test]
fn handshake_layer_writing_past_sent_passes() {
    let s = served(
        "handshake",
        factory(|| Handshaking::new(Untagging)),
        factory(|| {
            Handshaking::new(TaggedLines {
                sent: Vec::new(),
                back: Vec::new(),
            })
        }),
        factory(|| {
            Handshaking::new(TaggedLines {
                sent: Vec::new(),
                back: Vec::new(),
            })
        }),
    )
    .duration_ms(2000);
    assert_fix_passes_many(s);
}

/// Mutes as it is accepted; 5 ms later a task of its own swaps in an echo and unmutes, so
/// what arrived meanwhile goes to the echo (R5 across a swap).
struct SwapsWhileMuted;

impl TcpConnectionNotify for SwapsWhileMuted {
    fn accepted(&mut self, conn: &mut TcpConnection) {
        conn.mute();
        let handle = conn.handle();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(5)).await;
            handle.set_notify(Box::new(Echo));
            handle.unmute();
        });
    }
    fn received(&mut self, _conn: &mut TcpConnection, data: Vec<u8>, _times: usize) -> bool {
        always("muted-until-swapped", false, data.len());
        true
    }
    fn connect_failed(&mut self, _conn: &mut TcpConnection, _reason: ConnectFailure) {}
}

#[test]
fn swap_while_muted_passes() {
    let s = served(
        "swap-muted",
        factory(|| SwapsWhileMuted),
        factory(|| Sender::pattern(900).chunked(100)),
        factory(|| Sender::pattern(50)),
    )
    .duration_ms(2000)
    .expecting(echoed());
    assert_fix_passes_many(s);
}
