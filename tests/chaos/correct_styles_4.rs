//! Yet more correct notifiers in styles the other sweeps do not use, each swept by the swarm
//! (a false red here is a simulator defect). A byte-counting wrapper that keeps and takes
//! what its inner handshake layer queues with `write_final` (`keep_final_writes`,
//! `take_final_writes`), as their doc shows one; a hub that writes each delivery to every
//! other connection of its listener through their handles, and ends them all through their
//! handles, writes to connections already closed being dropped (W1); a listener that asserts
//! in each `connected` what it knows of itself (its `limit`, its live connections, that it is
//! not paused while it is asked); a reader that changes `expect` from `sent` while muted and
//! unmutes from a task, its buffered bytes then delivered in the new framing; a server that
//! hard-closes from its `expect` hook, frames still buffered, and one that queues bytes with
//! `write_final` from `unthrottled` and `throttled`.
//!
//! Hunted in the seventeenth session (helper-76) with 3,000 seeds each; the counting
//! wrapper was a false red on every seed until the recorder kept its own copy of the final
//! writes (`tests/simulation/wrapping.rs`). These tests honour `TCPNOTIFY_SEEDS` and the
//! other variables, as a user's test would.

use crate::counts_final::CountsFinal;
use crate::support::{assert_passes_seeds, echoed};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tcpnotify::{
    Bytes, ConnectFailure, ConnectionHandle, TcpConnection, TcpConnectionNotify, TcpListenNotify,
    TcpListener,
};
use tcpnotify_sim::notifiers::{pattern, Echo, Sender};
use tcpnotify_sim::scenario::listen_factory;
use tcpnotify_sim::{always, factory, Expectations, Scenario};

/// Seeds each sweeps by default (CI): 60 each keep this file's share of the chaos crate's
/// debug run under a minute; `TCPNOTIFY_SEEDS=0..3000` sweeps what the hunt did.
const SEEDS: u64 = 60;

/// A handshake layer, as TLS would be: answers its peer's first delivery with a 3-byte
/// greeting of its own queued with `write_final` before anything else, then echoes what
/// `inner` would, each echo framed by a one-byte tag also queued with `write_final`.
struct Handshake<N> {
    inner: N,
    greeted: bool,
}

impl<N: TcpConnectionNotify> TcpConnectionNotify for Handshake<N> {
    fn received(&mut self, conn: &mut TcpConnection, data: Vec<u8>, times: usize) -> bool {
        if !self.greeted {
            self.greeted = true;
            conn.write_final(&b"HI!"[..]);
        }
        self.inner.received(conn, data, times)
    }
    fn sent(&mut self, conn: &mut TcpConnection, data: Bytes) -> Bytes {
        conn.write_final(&b"#"[..]);
        self.inner.sent(conn, data)
    }
    fn connect_failed(&mut self, conn: &mut TcpConnection, reason: ConnectFailure) {
        self.inner.connect_failed(conn, reason);
    }
}

/// Sends `len` bytes of the pattern in `chunk`-byte writes and reads back its server's
/// greeting, then each echo behind its tag, whatever the deliveries' boundaries; closes once
/// all of it came back.
struct TaggedClient {
    len: usize,
    chunk: usize,
    greeting: usize,
    echoed: usize,
    tag_next: bool,
}

impl TaggedClient {
    fn new(len: usize, chunk: usize) -> Self {
        TaggedClient {
            len,
            chunk,
            greeting: 0,
            echoed: 0,
            tag_next: true,
        }
    }
}

impl TcpConnectionNotify for TaggedClient {
    fn connected(&mut self, conn: &mut TcpConnection) {
        let payload = Bytes::from(pattern(0, self.len));
        let mut at = 0;
        while at < self.len {
            let end = self.len.min(at + self.chunk);
            conn.write(payload.slice(at..end));
            at = end;
        }
    }
    fn received(&mut self, conn: &mut TcpConnection, data: Vec<u8>, _times: usize) -> bool {
        for byte in data {
            if self.greeting < 3 {
                always("greeting", byte == b"HI!"[self.greeting], self.greeting);
                self.greeting += 1;
            } else if self.tag_next {
                always("tag", byte == b'#', self.echoed);
                self.tag_next = false;
            } else {
                always("echo", byte == pattern(self.echoed, 1)[0], self.echoed);
                self.echoed += 1;
                // The server echoes each delivery it got in a write of its own: a tag may
                // come before any byte after the first.
                self.tag_next = true;
            }
        }
        if self.echoed == self.len {
            conn.close();
        }
        true
    }
    fn connect_failed(&mut self, _conn: &mut TcpConnection, _reason: ConnectFailure) {}
}

/// Echoes one byte per write, so that every echoed byte has its tag in front.
struct ByteEcho;

impl TcpConnectionNotify for ByteEcho {
    fn received(&mut self, conn: &mut TcpConnection, data: Vec<u8>, _times: usize) -> bool {
        for byte in data {
            conn.write(vec![byte]);
        }
        true
    }
    fn connect_failed(&mut self, _conn: &mut TcpConnection, _reason: ConnectFailure) {}
}

pub(crate) fn counting_wrapper() -> Scenario {
    // A greeting once anything arrived, and a tag per echo.
    let server = || {
        let handshake = Handshake {
            inner: ByteEcho,
            greeted: false,
        };
        CountsFinal::new(handshake, true, |bytes, sends| {
            bytes == 0 || bytes == 3 + sends
        })
    };
    Scenario::new("counts-final-writes")
        .listener("server", "server", 7000, factory(server))
        .client(
            "c1",
            "client",
            "server",
            7000,
            factory(|| TaggedClient::new(600, 150)),
        )
        .client(
            "c2",
            "client2",
            "server",
            7000,
            factory(|| TaggedClient::new(90, 1)),
        )
        .duration_ms(2000)
        .expecting(Expectations {
            closed: Some(4),
            ..Expectations::default()
        })
}

#[test]
fn wrapper_counting_its_final_writes_passes() {
    assert_passes_seeds(counting_wrapper(), SEEDS);
}

/// The handles of a hub's connections, in the order accepted, and the bytes it has read.
#[derive(Default)]
struct Room {
    members: Vec<ConnectionHandle>,
    heard: usize,
}

/// Writes each delivery to every other connection of its listener through their handles, and
/// once it has heard `total` bytes in all, ends every connection through its handle. A
/// member that already closed has its writes dropped (W1).
struct Hub {
    room: Arc<Mutex<Room>>,
    me: usize,
    total: usize,
}

impl TcpConnectionNotify for Hub {
    fn accepted(&mut self, conn: &mut TcpConnection) {
        let mut room = self.room.lock().expect("not poisoned");
        self.me = room.members.len();
        room.members.push(conn.handle());
    }
    fn received(&mut self, _conn: &mut TcpConnection, data: Vec<u8>, _times: usize) -> bool {
        let mut room = self.room.lock().expect("not poisoned");
        let data = Bytes::from(data);
        for (n, member) in room.members.iter().enumerate() {
            if n != self.me {
                member.write(data.clone());
            }
        }
        room.heard += data.len();
        if room.heard == self.total {
            room.members.iter().for_each(ConnectionHandle::dispose);
        }
        true
    }
    fn connect_failed(&mut self, _conn: &mut TcpConnection, _reason: ConnectFailure) {}
}

/// Says `len` bytes of the pattern and listens until its hub ends the connection, or, if it
/// `quits`, closes as soon as it said them (what the hub writes to it later is dropped).
struct Talker {
    len: usize,
    quits: bool,
}

impl TcpConnectionNotify for Talker {
    fn connected(&mut self, conn: &mut TcpConnection) {
        conn.write(pattern(0, self.len));
        if self.quits {
            conn.dispose();
        }
    }
    fn connect_failed(&mut self, _conn: &mut TcpConnection, _reason: ConnectFailure) {}
}

/// A hub's listener: one room per run, whose connections are its members.
struct HubListener {
    room: Arc<Mutex<Room>>,
    total: usize,
}

impl TcpListenNotify for HubListener {
    fn not_listening(&mut self, _listener: &mut TcpListener) {}
    fn connected(&mut self, _listener: &mut TcpListener) -> Option<Box<dyn TcpConnectionNotify>> {
        Some(Box::new(Hub {
            room: self.room.clone(),
            me: 0,
            total: self.total,
        }))
    }
}

pub(crate) fn hub() -> Scenario {
    const TALKERS: [usize; 4] = [300, 1, 2000, 45];
    let total: usize = TALKERS.iter().sum();
    let mut s = Scenario::new("hub").listener_with(
        "hub",
        "server",
        7000,
        listen_factory(move || HubListener {
            room: Arc::default(),
            total,
        }),
    );
    for (i, len) in TALKERS.into_iter().enumerate() {
        let host = if i % 2 == 0 { "client" } else { "client2" };
        s = s.client(
            &format!("t{i}"),
            host,
            "server",
            7000,
            factory(move || Talker { len, quits: i == 1 }),
        );
    }
    s.duration_ms(2000).expecting(Expectations {
        closed: Some(2 * TALKERS.len()),
        ..Expectations::default()
    })
}

#[test]
fn hub_writing_through_other_connections_handles_passes() {
    assert_passes_seeds(hub(), SEEDS);
}

/// Echoes; asserts in each `connected` what the listener tells of itself: it is not paused
/// while it is asked for a notifier, its live connections are below its limit, and the
/// limit is the one the scenario set.
struct SelfAware {
    limit: usize,
}

impl TcpListenNotify for SelfAware {
    fn not_listening(&mut self, _listener: &mut TcpListener) {}
    fn connected(&mut self, listener: &mut TcpListener) -> Option<Box<dyn TcpConnectionNotify>> {
        always(
            "limit-as-set",
            listener.limit() == self.limit,
            listener.limit(),
        );
        let live = listener.live_connections();
        always(
            "room-below-limit",
            self.limit == 0 || live < self.limit,
            live,
        );
        always("not-paused-when-asked", !listener.is_paused(), live);
        Some(Box::new(Echo))
    }
}

pub(crate) fn self_aware_listener() -> Scenario {
    let mut s = Scenario::new("self-aware-listener")
        .listener_with(
            "one",
            "server",
            7000,
            listen_factory(|| SelfAware { limit: 1 }),
        )
        .listener_with(
            "two",
            "server",
            7001,
            listen_factory(|| SelfAware { limit: 2 }),
        )
        .listener_with(
            "any",
            "server2",
            7000,
            listen_factory(|| SelfAware { limit: 0 }),
        );
    s.listeners[0].limit = 1;
    s.listeners[1].limit = 2;
    for i in 0..9 {
        let (target, port) = [("server", 7000), ("server", 7001), ("server2", 7000)][i % 3];
        let host = ["client", "client2", "client3"][i / 3];
        s = s.client(
            &format!("c{i}"),
            host,
            target,
            port,
            factory(move || Sender::pattern(200 + 100 * i).chunked(64)),
        );
    }
    s.duration_ms(2000).expecting(echoed())
}

#[test]
fn listener_asking_itself_about_its_limit_passes() {
    assert_passes_seeds(self_aware_listener(), SEEDS);
}

/// Reads a frame of 4 bytes, then frames of 16: it mutes itself as it answers the first,
/// changes `expect` from that answer's `sent` while muted, and unmutes from a task 5 ms
/// later, when what was buffered meanwhile is delivered in the new framing. Echoes every
/// frame.
struct ReframesWhileMuted {
    answered: bool,
}

impl TcpConnectionNotify for ReframesWhileMuted {
    fn accepted(&mut self, conn: &mut TcpConnection) {
        conn.expect(4).expect("4 fits the buffer");
    }
    fn received(&mut self, conn: &mut TcpConnection, data: Vec<u8>, _times: usize) -> bool {
        if !self.answered {
            self.answered = true;
            // Handled before the write: its `sent` runs muted.
            conn.mute();
        }
        conn.write(data);
        true
    }
    fn sent(&mut self, conn: &mut TcpConnection, data: Bytes) -> Bytes {
        if conn.expect_size() == 4 {
            always("muted-in-sent", conn.is_muted(), data.len());
            conn.expect(16).expect("16 fits the buffer");
            let handle = conn.handle();
            tokio::spawn(async move {
                tokio::time::sleep(Duration::from_millis(5)).await;
                handle.unmute();
            });
        }
        data
    }
    fn connect_failed(&mut self, _conn: &mut TcpConnection, _reason: ConnectFailure) {}
}

/// Writes `len` bytes of the pattern step by step: the first `first` bytes, then, each time
/// all it wrote came back, the next `step`; checks the echo byte for byte and closes once it
/// came back whole (or ends when its peer does).
struct Stepwise {
    first: usize,
    step: usize,
    len: usize,
    written: usize,
    echoed: usize,
}

impl Stepwise {
    fn new(first: usize, step: usize, len: usize) -> Self {
        Stepwise {
            first,
            step,
            len,
            written: 0,
            echoed: 0,
        }
    }

    fn write(&mut self, conn: &mut TcpConnection, n: usize) {
        let n = n.min(self.len - self.written);
        conn.write(pattern(self.written, n));
        self.written += n;
    }
}

impl TcpConnectionNotify for Stepwise {
    fn connected(&mut self, conn: &mut TcpConnection) {
        self.write(conn, self.first);
    }
    fn received(&mut self, conn: &mut TcpConnection, data: Vec<u8>, _times: usize) -> bool {
        let fits = self.echoed + data.len() <= self.written;
        let echo = fits && data == pattern(self.echoed, data.len());
        always("stepwise-echo", echo, self.echoed);
        self.echoed += data.len();
        if self.echoed == self.len {
            conn.close();
        } else if self.echoed == self.written {
            self.write(conn, self.step);
        }
        true
    }
    fn connect_failed(&mut self, _conn: &mut TcpConnection, _reason: ConnectFailure) {}
}

pub(crate) fn reframes_while_muted() -> Scenario {
    // A 4-byte frame, then 16-byte frames.
    Scenario::new("reframes-while-muted")
        .listener(
            "server",
            "server",
            7000,
            factory(|| ReframesWhileMuted { answered: false }),
        )
        .client(
            "c1",
            "client",
            "server",
            7000,
            factory(|| Stepwise::new(4, 16 * 40, 4 + 16 * 40)),
        )
        .client(
            "c2",
            "client2",
            "server",
            7000,
            factory(|| Stepwise::new(4, 16 * 3, 4 + 16 * 3)),
        )
        .duration_ms(2000)
        .expecting(echoed())
}

#[test]
fn expect_changed_while_muted_passes() {
    assert_passes_seeds(reframes_while_muted(), SEEDS);
}

/// Reads 8-byte frames and echoes them; its `expect` hook hard-closes the connection as its
/// 20th frame is asked for, whatever is still buffered (nothing may follow `closed`, L2),
/// and the echoes its turn queued are dropped (W1). Its client writes a frame at a time,
/// each once the last came back.
struct ClosesInExpectHook {
    asked: usize,
}

impl TcpConnectionNotify for ClosesInExpectHook {
    fn accepted(&mut self, conn: &mut TcpConnection) {
        conn.expect(8).expect("8 fits the buffer");
    }
    fn received(&mut self, conn: &mut TcpConnection, data: Vec<u8>, _times: usize) -> bool {
        conn.write(data);
        conn.expect(8).expect("8 fits the buffer");
        true
    }
    fn expect(&mut self, conn: &mut TcpConnection, qty: usize) -> usize {
        self.asked += 1;
        if self.asked == 20 {
            conn.hard_close();
        }
        qty
    }
    fn connect_failed(&mut self, _conn: &mut TcpConnection, _reason: ConnectFailure) {}
}

/// Opens and closes a mark around its throttled spells: bytes the test pattern never holds.
const MARKS: (u8, u8) = (0xFB, 0xFC);

/// Queues a marker with `write_final` from `throttled` and `unthrottled`, and echoes; a small
/// read buffer on its client paces it, so it throttles.
struct MarksThrottle;

impl TcpConnectionNotify for MarksThrottle {
    fn received(&mut self, conn: &mut TcpConnection, data: Vec<u8>, _times: usize) -> bool {
        conn.write(data);
        true
    }
    fn throttled(&mut self, conn: &mut TcpConnection) {
        conn.write_final(vec![MARKS.0]);
    }
    fn unthrottled(&mut self, conn: &mut TcpConnection) {
        conn.write_final(vec![MARKS.1]);
    }
    fn connect_failed(&mut self, _conn: &mut TcpConnection, _reason: ConnectFailure) {}
}

/// Writes `len` bytes of the pattern at once and reads back the echo with [`MARKS`] between its
/// bytes, balanced, each opening one before its closing one; closes when the echo is whole
/// and the marks are balanced.
struct MarkerReader {
    len: usize,
    echoed: usize,
    open: bool,
}

impl TcpConnectionNotify for MarkerReader {
    fn connected(&mut self, conn: &mut TcpConnection) {
        conn.write(pattern(0, self.len));
    }
    fn received(&mut self, conn: &mut TcpConnection, data: Vec<u8>, _times: usize) -> bool {
        for byte in data {
            match byte {
                b if b == MARKS.0 && !self.open => self.open = true,
                b if b == MARKS.1 && self.open => self.open = false,
                _ => {
                    let want = pattern(self.echoed, 1)[0];
                    always(
                        "echo-byte",
                        self.echoed < self.len && byte == want,
                        self.echoed,
                    );
                    self.echoed += 1;
                }
            }
        }
        if self.echoed == self.len && !self.open {
            conn.close();
        }
        true
    }
    fn connect_failed(&mut self, _conn: &mut TcpConnection, _reason: ConnectFailure) {}
}

pub(crate) fn deferred_hooks() -> Scenario {
    let mut s = Scenario::new("deferred-hooks")
        .listener(
            "closer",
            "server",
            7000,
            factory(|| ClosesInExpectHook { asked: 0 }),
        )
        .listener("marks", "server", 7001, factory(|| MarksThrottle))
        .client(
            "c1",
            "client",
            "server",
            7000,
            factory(|| Stepwise::new(8, 8, 400)),
        )
        .client(
            "c2",
            "client2",
            "server",
            7001,
            factory(|| MarkerReader {
                len: 12_000,
                echoed: 0,
                open: false,
            }),
        );
    s.clients[1].config.set_read_buffer_size(64);
    s.clients[1].config.set_yield_after_reading(64);
    s.duration_ms(3000)
}

#[test]
fn hard_close_in_expect_hook_and_final_writes_in_throttle_callbacks_pass() {
    assert_passes_seeds(deferred_hooks(), SEEDS);
}
