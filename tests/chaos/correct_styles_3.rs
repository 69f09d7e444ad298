//! Still more correct notifiers in styles the other sweeps do not use, each swept by the swarm
//! (a false red here is a simulator defect). Clients that redial until their echo came back
//! whole, so that the swarm may draw every fault (resets, crashes, refusals): against
//! listeners that close themselves (from `connected` while serving, with peers waiting behind
//! their `limit`, or from `listening`) and one that rejects peers under a limit; against a
//! name of five addresses, two dead, one client abandoning its first connect from
//! `connecting`; through a chain of two proxies chosen in `proxy_via`; against a server whose
//! connections dial an audit service from `received` and `closed`. A server changing `expect`
//! twice per delivery, asking for more than the buffer (refused, framing unchanged), reading
//! frames up to the buffer's size; a server that mutes, swaps its notifier and unmutes, from
//! its callbacks and from a task; empty writes, a `writev` of many empty chunks around a large
//! one, an empty `write_final`; a server yielding every other delivery with a tiny buffer;
//! echoes written with `write_final` and as `writev`s of one-byte chunks, to a client writing
//! through a handle from `connecting` on (its first writes dropped, W1); a trailing partial
//! frame never delivered; connections that dispose each other through handles, close twice
//! and dispose after closing.
//!
//! Hunted in the fifteenth session with 3,000 seeds each of the swarm and 100 each of
//! harsher explicit faults (helper-73); all passed. 40 seeds each in CI. These tests honour
//! `TCPNOTIFY_SEEDS` and the other variables, as a user's test would.

use crate::support::{assert_passes_seeds, echoed};
use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tcpnotify::{
    Bytes, ConnectFailure, ConnectionConfig, ConnectionHandle, TcpConnection, TcpConnectionNotify,
    TcpListenNotify, TcpListener,
};
use tcpnotify_sim::notifiers::{pattern, Echo, Proxy, Sender};
use tcpnotify_sim::scenario::listen_factory;
use tcpnotify_sim::{always, factory, run_state, Expectations, Scenario};

/// Seeds each sweeps by default (CI): their runs are long (redials, large frames, one-byte
/// chunks), and 40 each keep this file's share of the chaos crate's debug run to about a
/// minute; `TCPNOTIFY_SEEDS=0..3000` sweeps what the hunt did.
const SEEDS: u64 = 40;

/// Most connections one [`Redialler`] opens: far above what any drawn fault takes to heal.
const MAX_ATTEMPTS: u32 = 2_000;

/// The ids of the [`Redialler`]s whose echo came back whole (the run's state).
#[derive(Default)]
struct Echoed(BTreeSet<String>);

/// Where a [`Redialler`] goes: the address it dials (in turn, one per attempt) and the route
/// it names in `proxy_via`.
#[derive(Clone, Copy)]
struct Route {
    targets: &'static [(&'static str, &'static str)],
    via: Option<(&'static str, &'static str)>,
}

/// Sends `len` bytes of the test pattern in `chunk`-byte writes, checks the echo byte for byte
/// and closes once it all came back; a connection lost before that (or a connect failed) is
/// dialled again with the next target, and the whole payload sent again. Its first connect
/// may be abandoned (`close` in `connecting`) once fewer than `abandon_below` attempts are
/// left, as a client impatient with dead addresses would.
struct Redialler {
    id: String,
    len: usize,
    chunk: usize,
    route: Route,
    attempt: u32,
    abandon_below: u32,
    echoed: usize,
    done: bool,
}

impl Redialler {
    fn new(id: impl Into<String>, len: usize, chunk: usize, route: Route) -> Self {
        Redialler {
            id: id.into(),
            len,
            chunk,
            route,
            attempt: 0,
            abandon_below: 0,
            echoed: 0,
            done: false,
        }
    }

    fn abandoning_below(mut self, count: u32) -> Self {
        self.abandon_below = count;
        self
    }

    fn redial(&self, conn: &mut TcpConnection) {
        if self.done || self.attempt + 1 >= MAX_ATTEMPTS {
            return;
        }
        let attempt = self.attempt + 1;
        let targets = self.route.targets;
        let (host, port) = targets[attempt as usize % targets.len()];
        let next = Redialler {
            attempt,
            ..Redialler::new(self.id.clone(), self.len, self.chunk, self.route)
        };
        conn.dial(next, host, port);
    }
}

impl TcpConnectionNotify for Redialler {
    fn proxy_via(&mut self, host: &str, service: &str) -> (String, String) {
        match self.route.via {
            Some((host, service)) => (host.to_string(), service.to_string()),
            None => (host.to_string(), service.to_string()),
        }
    }
    fn connecting(&mut self, conn: &mut TcpConnection, count: u32) {
        if self.attempt == 0 && count < self.abandon_below {
            conn.close();
        }
    }
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
        let want = pattern(self.echoed, data.len());
        let fits = self.echoed + data.len() <= self.len;
        always("echo-in-order", fits && data == want, self.echoed);
        self.echoed += data.len();
        if self.echoed == self.len && !self.done {
            self.done = true;
            if let Some(echoed) = run_state::<Echoed>() {
                echoed.lock().0.insert(self.id.clone());
            }
            conn.close();
        }
        true
    }
    fn closed(&mut self, conn: &mut TcpConnection) {
        self.redial(conn);
    }
    fn connect_failed(&mut self, conn: &mut TcpConnection, _reason: ConnectFailure) {
        self.redial(conn);
    }
}

/// `scenario` with the property that every one of `ids` eventually had its echo whole.
fn all_echoed(scenario: Scenario, ids: &'static [&'static str]) -> Scenario {
    scenario.eventually("all-echoed", move |run| {
        let echoed = run.state::<Echoed>();
        let echoed = echoed
            .as_ref()
            .map(|e| e.lock().0.clone())
            .unwrap_or_default();
        match ids.iter().find(|id| !echoed.contains(**id)) {
            None => Ok(()),
            Some(id) => Err(format!("{id} never had its echo whole")),
        }
    })
}

/// Echoes; stops listening from its own `connected` as it accepts its `last`th connection,
/// which it still serves, as the connections already accepted go on (`last` 0: from
/// `listening`, before any); rejects every `reject_every`th peer (0: none).
struct ClosesAfter {
    seen: usize,
    accepted: usize,
    last: usize,
    reject_every: usize,
}

impl ClosesAfter {
    fn new(last: usize, reject_every: usize) -> Self {
        ClosesAfter {
            seen: 0,
            accepted: 0,
            last,
            reject_every,
        }
    }
}

impl TcpListenNotify for ClosesAfter {
    fn listening(&mut self, listener: &mut TcpListener) {
        if self.last == 0 {
            listener.close();
        }
    }
    fn not_listening(&mut self, _listener: &mut TcpListener) {}
    fn connected(&mut self, listener: &mut TcpListener) -> Option<Box<dyn TcpConnectionNotify>> {
        self.seen += 1;
        if self.reject_every > 0 && self.seen % self.reject_every == 0 {
            return None;
        }
        self.accepted += 1;
        if self.accepted == self.last {
            listener.close();
        }
        Some(Box::new(Echo))
    }
}

pub(crate) fn closing_listener() -> Scenario {
    const FRONT_FIRST: Route = Route {
        targets: &[
            ("server", "7000"),
            ("server", "7002"),
            ("server", "7001"),
            ("server", "7003"),
        ],
        via: None,
    };
    const IDS: &[&str] = &["c1", "c2", "c3", "c4"];
    let mut s = Scenario::new("closes-itself")
        .listener_with(
            "front",
            "server",
            7000,
            listen_factory(|| ClosesAfter::new(2, 0)),
        )
        .listener("back", "server", 7001, factory(|| Echo))
        .listener_with(
            "gate",
            "server",
            7002,
            listen_factory(|| ClosesAfter::new(usize::MAX, 3)),
        )
        .listener_with(
            "shut",
            "server",
            7003,
            listen_factory(|| ClosesAfter::new(0, 0)),
        );
    s.listeners[0].limit = 1;
    s.listeners[2].limit = 2;
    for (i, &id) in IDS.iter().enumerate() {
        let host = if i % 2 == 0 { "client" } else { "client2" };
        s = s.client(
            id,
            host,
            "server",
            7000,
            factory(move || Redialler::new(id, 900 + 300 * i, 128, FRONT_FIRST)),
        );
    }
    all_echoed(s.duration_ms(2000), IDS)
}

#[test]
fn listener_closing_itself_while_serving_passes() {
    assert_passes_seeds(closing_listener(), SEEDS);
}

pub(crate) fn five_addresses() -> Scenario {
    const SVC: Route = Route {
        targets: &[("svc", "7000")],
        via: None,
    };
    const IDS: &[&str] = &["c1", "c2", "c3", "c4"];
    let mut s = Scenario::new("five-addresses")
        .host("dead1")
        .host("dead2")
        .name("svc", &["dead1", "s1", "dead2", "s2", "s3"])
        .listener("s1", "s1", 7000, factory(|| Echo))
        .listener("s2", "s2", 7000, factory(|| Echo))
        .listener("s3", "s3", 7000, factory(|| Echo));
    for (i, &id) in IDS.iter().enumerate() {
        s = s.client(
            id,
            "client",
            "svc",
            7000,
            factory(move || {
                Redialler::new(id, 700 * (i + 1), 200, SVC).abandoning_below(5 - i as u32)
            }),
        );
    }
    all_echoed(s.duration_ms(2000), IDS)
}

#[test]
fn five_addresses_two_dead_under_crashes_pass() {
    assert_passes_seeds(five_addresses(), SEEDS);
}

pub(crate) fn proxy_via_chain() -> Scenario {
    const VIA: Route = Route {
        targets: &[("server", "7000")],
        via: Some(("relay1", "7100")),
    };
    const IDS: &[&str] = &["c1", "c2"];
    let s = Scenario::new("proxy-via-chain")
        .listener("server", "server", 7000, factory(|| Echo))
        .listener(
            "relay1",
            "relay1",
            7100,
            factory(|| Proxy::new("relay2", 7200).attempts(3)),
        )
        .listener(
            "relay2",
            "relay2",
            7200,
            factory(|| Proxy::new("server", 7000).attempts(3)),
        )
        .client(
            "c1",
            "client",
            "server",
            7000,
            factory(|| Redialler::new("c1", 1500, 700, VIA)),
        )
        .client(
            "c2",
            "client2",
            "server",
            7000,
            factory(|| Redialler::new("c2", 500, 500, VIA)),
        )
        .duration_ms(2000);
    all_echoed(s, IDS)
}

#[test]
fn proxy_chain_chosen_in_proxy_via_passes() {
    assert_passes_seeds(proxy_via_chain(), SEEDS);
}

/// The largest `expect`, the default read buffer's size (R1, R2).
const BUFFER: usize = 16_384;

/// Frames with a 2-byte length header, one per length of `bodies`.
fn framed_stream(bodies: &[usize]) -> Vec<u8> {
    let mut stream = Vec::new();
    for (n, &len) in bodies.iter().enumerate() {
        stream.extend_from_slice(&u16::try_from(len).expect("fits").to_be_bytes());
        stream.extend(pattern(n * 1000, len));
    }
    stream
}

/// Reads frames of a 2-byte length and a body with `expect`, changing it twice in each
/// delivery (the last call wins) and asking for more than the buffer first (refused, the
/// framing unchanged); echoes each frame back whole, header and body in one `writev`.
struct FrameChurn {
    header: Option<[u8; 2]>,
}

impl FrameChurn {
    fn expect(conn: &mut TcpConnection, qty: usize) {
        let before = conn.expect_size();
        let refused = conn.expect(BUFFER + 1).is_err();
        always("too-large-refused", refused, BUFFER + 1);
        always("framing-unchanged", conn.expect_size() == before, before);
        let _ = conn.expect(0);
        // Takes effect once the callback returns (the notifier's `expect` hook runs then).
        let set = conn.expect(qty).is_ok();
        always("expect-set", set, qty);
    }
}

impl TcpConnectionNotify for FrameChurn {
    fn accepted(&mut self, conn: &mut TcpConnection) {
        FrameChurn::expect(conn, 2);
    }
    fn received(&mut self, conn: &mut TcpConnection, data: Vec<u8>, _times: usize) -> bool {
        match self.header.take() {
            None => {
                always("header-size", data.len() == 2, data.len());
                let header = [data[0], data.get(1).copied().unwrap_or(0)];
                let len = usize::from(u16::from_be_bytes(header));
                always("body-size", (1..=BUFFER).contains(&len), len);
                self.header = Some(header);
                FrameChurn::expect(conn, len.clamp(1, BUFFER));
            }
            Some(header) => {
                conn.writev([header.to_vec(), data]);
                FrameChurn::expect(conn, 2);
            }
        }
        true
    }
    fn connect_failed(&mut self, _conn: &mut TcpConnection, _reason: ConnectFailure) {}
}

pub(crate) fn frame_churn() -> Scenario {
    let stream = framed_stream(&[1, BUFFER, 2, 700, 3]);
    let other = framed_stream(&[5, 1, 300, 2, BUFFER - 1, 40]);
    Scenario::new("frame-churn")
        .listener(
            "server",
            "server",
            7000,
            factory(|| FrameChurn { header: None }),
        )
        .client(
            "c1",
            "client",
            "server",
            7000,
            factory(move || Sender::new(stream.clone())),
        )
        .client(
            "c2",
            "client2",
            "server",
            7000,
            factory(move || Sender::new(other.clone()).chunked(97)),
        )
        .duration_ms(2000)
        .expecting(echoed())
}

#[test]
fn expect_changed_twice_per_delivery_up_to_the_buffer_passes() {
    assert_passes_seeds(frame_churn(), SEEDS);
}

/// Echoes, yielding every other delivery; every third delivery it mutes, swaps in a fresh
/// copy of itself and unmutes (three messages, handled in order); a task does the same every
/// millisecond, once unmuting before the swap.
struct Shifty {
    deliveries: usize,
}

impl Shifty {
    fn swap(handle: &ConnectionHandle, unmute_first: bool) {
        handle.mute();
        if unmute_first {
            handle.unmute();
        }
        handle.set_notify(Box::new(Shifty { deliveries: 0 }));
        if !unmute_first {
            handle.unmute();
        }
    }
}

impl TcpConnectionNotify for Shifty {
    fn accepted(&mut self, conn: &mut TcpConnection) {
        let handle = conn.handle();
        tokio::spawn(async move {
            let mut n = 0;
            while !handle.is_finished() {
                tokio::time::sleep(Duration::from_millis(1)).await;
                n += 1;
                Shifty::swap(&handle, n % 5 == 0);
            }
        });
    }
    fn received(&mut self, conn: &mut TcpConnection, data: Vec<u8>, _times: usize) -> bool {
        conn.write(data);
        self.deliveries += 1;
        if self.deliveries % 3 == 0 {
            conn.mute();
            conn.set_notify(Box::new(Shifty { deliveries: 0 }));
            conn.unmute();
        }
        self.deliveries % 2 == 1
    }
    fn connect_failed(&mut self, _conn: &mut TcpConnection, _reason: ConnectFailure) {}
}

pub(crate) fn shifty() -> Scenario {
    Scenario::new("shifty")
        .listener(
            "server",
            "server",
            7000,
            factory(|| Shifty { deliveries: 0 }),
        )
        .client(
            "c1",
            "client",
            "server",
            7000,
            factory(|| Sender::pattern(8_000).chunked(700)),
        )
        .client(
            "c2",
            "client2",
            "server",
            7000,
            factory(|| Sender::pattern(2_000).chunked(33)),
        )
        .duration_ms(2000)
        .expecting(echoed())
}

#[test]
fn mute_swap_unmute_from_callbacks_and_a_task_passes() {
    assert_passes_seeds(shifty(), SEEDS);
}

/// Writes a stream in odd pieces: empty writes, an empty `writev`, a `writev` of fifty empty
/// chunks around 40,000 bytes and a byte, an empty `write_final`, a `writev` of 200 one-byte
/// chunks and a last write of 20,000 bytes; checks the echo and closes once it is whole.
struct OddWrites {
    echoed: usize,
}

/// The stream [`OddWrites`] writes, in its pieces (`None`: an empty write).
fn odd_pieces() -> Vec<Vec<Vec<u8>>> {
    let mut at = 0;
    let mut take = |len: usize| {
        let piece = pattern(at, len);
        at += len;
        piece
    };
    let mut big = vec![Vec::new(); 25];
    big.push(take(40_000));
    big.extend(vec![Vec::new(); 25]);
    big.push(take(1));
    let bytes = (0..200).map(|_| take(1)).collect();
    vec![vec![], big, bytes, vec![take(20_000)]]
}

/// All [`odd_pieces`] make.
const ODD_LEN: usize = 40_000 + 1 + 200 + 20_000;

impl TcpConnectionNotify for OddWrites {
    fn connected(&mut self, conn: &mut TcpConnection) {
        conn.write(Vec::new());
        conn.writev(Vec::<Bytes>::new());
        for (n, pieces) in odd_pieces().into_iter().enumerate() {
            match pieces.len() {
                1 => conn.write(pieces.into_iter().next().unwrap_or_default()),
                _ => conn.writev(pieces),
            }
            if n == 1 {
                conn.write_final(Vec::new());
                conn.write(Bytes::new());
            }
        }
    }
    fn received(&mut self, conn: &mut TcpConnection, data: Vec<u8>, _times: usize) -> bool {
        always(
            "odd-echo",
            data == pattern(self.echoed, data.len()),
            self.echoed,
        );
        self.echoed += data.len();
        if self.echoed == ODD_LEN {
            conn.close();
        }
        true
    }
    fn connect_failed(&mut self, _conn: &mut TcpConnection, _reason: ConnectFailure) {}
}

/// A connection that reads at most `bytes` per turn and writes at most `bytes` per turn.
fn trickle_config(bytes: usize) -> ConnectionConfig {
    let mut config = ConnectionConfig::default();
    config.set_read_buffer_size(bytes);
    config.set_yield_after_reading(bytes);
    config.set_yield_after_writing(bytes);
    config
}

/// Echoes, yielding every other delivery.
struct Yielder {
    deliveries: usize,
}

impl TcpConnectionNotify for Yielder {
    fn received(&mut self, conn: &mut TcpConnection, data: Vec<u8>, _times: usize) -> bool {
        conn.write(data);
        self.deliveries += 1;
        self.deliveries % 2 == 0
    }
    fn connect_failed(&mut self, _conn: &mut TcpConnection, _reason: ConnectFailure) {}
}

pub(crate) fn odd_writes() -> Scenario {
    Scenario::new("odd-writes")
        .listener("server", "server", 7000, factory(|| Echo))
        .listener(
            "trickle",
            "server",
            7001,
            factory(|| Yielder { deliveries: 0 }),
        )
        .with_config(trickle_config(512))
        .client(
            "c1",
            "client",
            "server",
            7000,
            factory(|| OddWrites { echoed: 0 }),
        )
        .client(
            "c2",
            "client2",
            "server",
            7001,
            factory(|| Sender::pattern(10_000)),
        )
        .duration_ms(3000)
        .expecting(echoed())
}

#[test]
fn empty_and_huge_writes_to_a_trickling_yielder_pass() {
    assert_passes_seeds(odd_writes(), SEEDS);
}

/// The server's open connections, by handle (the run's state).
#[derive(Default)]
struct Room {
    members: Vec<ConnectionHandle>,
}

/// A chat room member: echoes; at a `!` it disposes of every member through their handles,
/// twice, then closes itself twice and disposes of itself too.
struct Member;

impl TcpConnectionNotify for Member {
    fn accepted(&mut self, conn: &mut TcpConnection) {
        if let Some(room) = run_state::<Room>() {
            room.lock().members.push(conn.handle());
        }
    }
    fn received(&mut self, conn: &mut TcpConnection, data: Vec<u8>, _times: usize) -> bool {
        let end = data.contains(&b'!');
        conn.write(data);
        if end {
            let members = run_state::<Room>().map(|room| room.lock().members.clone());
            for member in members.unwrap_or_default() {
                member.dispose();
                member.dispose();
            }
            conn.close();
            conn.close();
            conn.dispose();
        }
        true
    }
    fn connect_failed(&mut self, _conn: &mut TcpConnection, _reason: ConnectFailure) {}
}

/// Says something every 2 ms from a task, and `!` at its `last`th; disposes of itself twice
/// once its peer is gone.
struct Chatter {
    last: usize,
}

impl TcpConnectionNotify for Chatter {
    fn connected(&mut self, conn: &mut TcpConnection) {
        let handle = conn.handle();
        let last = self.last;
        tokio::spawn(async move {
            for n in 1..=last {
                tokio::time::sleep(Duration::from_millis(2)).await;
                match n == last {
                    true => handle.write(b"bye!".to_vec()),
                    false => handle.write(format!("hi {n};").into_bytes()),
                }
            }
        });
    }
    fn closed(&mut self, conn: &mut TcpConnection) {
        conn.dispose();
        conn.dispose();
    }
    fn connect_failed(&mut self, conn: &mut TcpConnection, _reason: ConnectFailure) {
        conn.dispose();
    }
}

pub(crate) fn room() -> Scenario {
    let mut s = Scenario::new("room")
        .listener("server", "server", 7000, factory(|| Member))
        .duration_ms(2000);
    for i in 0..5 {
        let host = if i < 3 { "client" } else { "client2" };
        s = s.client(
            &format!("c{i}"),
            host,
            "server",
            7000,
            factory(move || Chatter { last: 3 + 4 * i }),
        );
    }
    s
}

#[test]
fn members_disposing_each_other_and_closing_twice_pass() {
    assert_passes_seeds(room(), SEEDS);
}

/// Echoes, and reports the connection to an audit service over connections it dials from
/// its own callbacks: `open` from its first `received`, `shut` from `closed`.
struct Audited {
    reported: bool,
}

impl Audited {
    fn report(conn: &mut TcpConnection, record: &'static [u8]) {
        conn.dial(Report { record }, "audit", "7100");
    }
}

impl TcpConnectionNotify for Audited {
    fn received(&mut self, conn: &mut TcpConnection, data: Vec<u8>, _times: usize) -> bool {
        if !self.reported {
            self.reported = true;
            Audited::report(conn, b"open\n");
        }
        conn.write(data);
        true
    }
    fn closed(&mut self, conn: &mut TcpConnection) {
        Audited::report(conn, b"shut\n");
    }
    fn connect_failed(&mut self, _conn: &mut TcpConnection, _reason: ConnectFailure) {}
}

/// Writes its record once connected, then disposes of its connection.
struct Report {
    record: &'static [u8],
}

impl TcpConnectionNotify for Report {
    fn connected(&mut self, conn: &mut TcpConnection) {
        conn.write(self.record);
        conn.dispose();
    }
    fn connect_failed(&mut self, _conn: &mut TcpConnection, _reason: ConnectFailure) {}
}

/// The audit service: reads newline-ended records, each `open` or `shut`.
struct AuditLog {
    line: Vec<u8>,
}

impl TcpConnectionNotify for AuditLog {
    fn received(&mut self, _conn: &mut TcpConnection, data: Vec<u8>, _times: usize) -> bool {
        for byte in data {
            if byte != b'\n' {
                self.line.push(byte);
                continue;
            }
            let record = std::mem::take(&mut self.line);
            let known = record == b"open" || record == b"shut";
            always("audit-record", known, String::from_utf8_lossy(&record));
        }
        true
    }
    fn connect_failed(&mut self, _conn: &mut TcpConnection, _reason: ConnectFailure) {}
}

pub(crate) fn audit() -> Scenario {
    const SERVER: Route = Route {
        targets: &[("server", "7000")],
        via: None,
    };
    const IDS: &[&str] = &["c1", "c2", "c3"];
    let mut s = Scenario::new("audit")
        .listener(
            "server",
            "server",
            7000,
            factory(|| Audited { reported: false }),
        )
        .listener(
            "audit",
            "audit",
            7100,
            factory(|| AuditLog { line: Vec::new() }),
        )
        .duration_ms(2000);
    for (i, &id) in IDS.iter().enumerate() {
        s = s.client(
            id,
            if i == 0 { "client" } else { "client2" },
            "server",
            7000,
            factory(move || Redialler::new(id, 400 + 900 * i, 150, SERVER)),
        );
    }
    all_echoed(s, IDS)
}

#[test]
fn server_connections_dialling_from_received_and_closed_pass() {
    assert_passes_seeds(audit(), SEEDS);
}

/// Echoes with `write_final` (past `sent`, at once) as a wrapper whose bytes are already
/// transformed would, every delivery split in two; yields every third delivery.
struct FinalEcho {
    deliveries: usize,
}

impl TcpConnectionNotify for FinalEcho {
    fn received(&mut self, conn: &mut TcpConnection, data: Vec<u8>, _times: usize) -> bool {
        let (head, tail) = data.split_at(data.len() / 2);
        conn.write_final(head.to_vec());
        conn.write_final(tail.to_vec());
        self.deliveries += 1;
        self.deliveries % 3 != 0
    }
    fn connect_failed(&mut self, _conn: &mut TcpConnection, _reason: ConnectFailure) {}
}

/// Echoes each delivery as a `writev` of one-byte chunks with an empty chunk between each two.
struct ChunkyEcho;

impl TcpConnectionNotify for ChunkyEcho {
    fn received(&mut self, conn: &mut TcpConnection, data: Vec<u8>, _times: usize) -> bool {
        let chunks = data.iter().flat_map(|b| [vec![*b], Vec::new()]);
        conn.writev(chunks.collect::<Vec<_>>());
        true
    }
    fn connect_failed(&mut self, _conn: &mut TcpConnection, _reason: ConnectFailure) {}
}

/// How far an [`EarlyTalker`]'s writes went, shared with its task.
#[derive(Default)]
struct Talk {
    /// Bytes `sent` let through.
    sent: usize,
    /// The first end marker went through `sent`.
    ended: bool,
    /// Bytes that came back.
    echoed: usize,
}

/// Starts writing through a handle from a task as it starts connecting, a write every
/// millisecond, twenty in all (those handled before it connected are dropped, W1), then an
/// end marker every 5 ms until one went through `sent` (or its connection is over); closes
/// once every byte `sent` let through came back after the first marker went out.
struct EarlyTalker {
    talk: Arc<Mutex<Talk>>,
    started: bool,
}

/// An [`EarlyTalker`]'s end marker.
const END: &[u8] = b"END.";

impl EarlyTalker {
    fn close_if_done(&self, conn: &mut TcpConnection) {
        let talk = self.talk.lock().expect("not poisoned");
        if talk.ended && talk.echoed == talk.sent {
            conn.close();
        }
    }
}

impl TcpConnectionNotify for EarlyTalker {
    fn connecting(&mut self, conn: &mut TcpConnection, _count: u32) {
        if std::mem::replace(&mut self.started, true) {
            return;
        }
        let (handle, talk) = (conn.handle(), self.talk.clone());
        tokio::spawn(async move {
            for n in 0..20 {
                tokio::time::sleep(Duration::from_millis(1)).await;
                handle.write(pattern(n * 37, 37));
            }
            let ended = || talk.lock().expect("not poisoned").ended;
            while !handle.is_finished() && !ended() {
                handle.write(END);
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        });
    }
    fn sent(&mut self, _conn: &mut TcpConnection, data: Bytes) -> Bytes {
        let mut talk = self.talk.lock().expect("not poisoned");
        talk.sent += data.len();
        talk.ended |= &data[..] == END;
        data
    }
    fn received(&mut self, conn: &mut TcpConnection, data: Vec<u8>, _times: usize) -> bool {
        self.talk.lock().expect("not poisoned").echoed += data.len();
        self.close_if_done(conn);
        true
    }
    fn connect_failed(&mut self, _conn: &mut TcpConnection, _reason: ConnectFailure) {}
}

pub(crate) fn final_and_chunky_echoes() -> Scenario {
    let early = || EarlyTalker {
        talk: Arc::default(),
        started: false,
    };
    Scenario::new("final-echo")
        .listener(
            "final",
            "server",
            7000,
            factory(|| FinalEcho { deliveries: 0 }),
        )
        .listener("chunky", "server2", 7000, factory(|| ChunkyEcho))
        .client(
            "c1",
            "client",
            "server",
            7000,
            factory(|| Sender::pattern(6_000).chunked(999)),
        )
        .client(
            "c2",
            "client2",
            "server2",
            7000,
            factory(|| Sender::pattern(600).chunked(100)),
        )
        .client("c3", "client", "server", 7000, factory(early))
        .client("c4", "client2", "server2", 7000, factory(early))
        .duration_ms(2000)
        .expecting(echoed())
}

#[test]
fn echoes_through_write_final_and_many_chunks_pass() {
    assert_passes_seeds(final_and_chunky_echoes(), SEEDS);
}

/// Reads frames of 100 bytes, checking each; the trailing partial frame never comes (R1).
struct HundredFrames {
    frames: usize,
}

impl TcpConnectionNotify for HundredFrames {
    fn accepted(&mut self, conn: &mut TcpConnection) {
        let _ = conn.expect(100);
    }
    fn received(&mut self, _conn: &mut TcpConnection, data: Vec<u8>, _times: usize) -> bool {
        always(
            "frame",
            data == pattern(self.frames * 100, 100),
            self.frames,
        );
        self.frames += 1;
        self.frames % 4 != 0
    }
    fn connect_failed(&mut self, _conn: &mut TcpConnection, _reason: ConnectFailure) {}
}

pub(crate) fn trailing_partial_frame() -> Scenario {
    Scenario::new("trailing-partial-frame")
        .listener(
            "server",
            "server",
            7000,
            factory(|| HundredFrames { frames: 0 }),
        )
        .client(
            "c1",
            "client",
            "server",
            7000,
            factory(|| Sender::pattern(1_050).chunked(70).without_echo()),
        )
        .listener(
            "short",
            "server",
            7001,
            factory(|| HundredFrames { frames: 0 }),
        )
        .client(
            "c2",
            "client2",
            "server",
            7001,
            factory(|| Sender::pattern(99).without_echo()),
        )
        .duration_ms(2000)
        .expecting(Expectations {
            delivered: [("server.1".to_string(), 1_000), ("short.1".to_string(), 0)].into(),
            ..Expectations::default()
        })
}

#[test]
fn trailing_partial_frame_never_delivered_passes() {
    assert_passes_seeds(trailing_partial_frame(), SEEDS);
}
