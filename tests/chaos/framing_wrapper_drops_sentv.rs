//! A framing wrapper that composes with an inner notifier, as the README's `LengthFramed`
//! does: the inner notifier writes messages, the wrapper's `sent` puts a 4-byte length in
//! front of each. The bug: it overrides `sent` and not `sentv`, whose default passes the
//! chunks through unframed — and never calls the inner notifier's `sentv`. The inner
//! notifier writes one message per `write` and, after it was throttled, sends what piled up
//! meanwhile as one `writev`. On a quiet network it is never throttled and never uses
//! `writev`; behind a small send buffer its batch goes out without lengths and the reader
//! takes message bytes for a length. The fix frames `sentv` too, and forwards it.

use crate::support::{assert_caught, assert_fix_passes, assert_fix_passes_many};
use tcpnotify::{Bytes, ConnectFailure, TcpConnection, TcpConnectionNotify};
use tcpnotify_sim::fault::Swarm;
use tcpnotify_sim::notifiers::{frame, frame_len, pattern};
use tcpnotify_sim::{factory, run_passing, run_state, FaultPlan, Scenario, Seed};

/// Messages the writer sends.
const MESSAGES: usize = 120;

/// Message `i`'s body: 50 to 249 bytes of the pattern, from an offset of its own.
fn message(i: usize) -> Vec<u8> {
    pattern(i * 7, 50 + (i * 37) % 200)
}

/// Messages the reader got whole and in order, in the run's shared state.
#[derive(Debug, Default)]
struct Read(usize);

/// Writes its messages one `write` at a time (the next when the last is handled), and after
/// being throttled, the next eight as one `writev`.
#[derive(Default)]
struct Batcher {
    next: usize,
    throttled: bool,
}

impl Batcher {
    fn pump(&mut self, conn: &mut TcpConnection) {
        if self.throttled {
            return;
        }
        if self.next == MESSAGES {
            conn.dispose();
            self.next += 1;
        } else if self.next < MESSAGES {
            conn.write(message(self.next));
            self.next += 1;
        }
    }
}

impl TcpConnectionNotify for Batcher {
    fn connected(&mut self, conn: &mut TcpConnection) {
        self.pump(conn);
    }
    fn sent(&mut self, conn: &mut TcpConnection, data: Bytes) -> Bytes {
        self.pump(conn);
        data
    }
    fn sentv(&mut self, conn: &mut TcpConnection, chunks: Vec<Bytes>) -> Vec<Bytes> {
        self.pump(conn);
        chunks
    }
    fn throttled(&mut self, _conn: &mut TcpConnection) {
        self.throttled = true;
    }
    fn unthrottled(&mut self, conn: &mut TcpConnection) {
        self.throttled = false;
        let end = MESSAGES.min(self.next + 8);
        if self.next < end {
            conn.writev((self.next..end).map(message));
            self.next = end;
        } else {
            self.pump(conn);
        }
    }
    fn connect_failed(&mut self, _conn: &mut TcpConnection, _reason: ConnectFailure) {}
}

/// Puts a 4-byte big-endian length in front of each message. `frames_sentv` is the fix.
struct LengthFramed<N> {
    inner: N,
    frames_sentv: bool,
}

impl<N: TcpConnectionNotify> TcpConnectionNotify for LengthFramed<N> {
    fn connected(&mut self, conn: &mut TcpConnection) {
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
        if !self.frames_sentv {
            return chunks; // what the default does
        }
        let chunks = self.inner.sentv(conn, chunks);
        chunks.iter().map(|c| Bytes::from(frame(c))).collect()
    }
    fn received(&mut self, conn: &mut TcpConnection, data: Vec<u8>, times: usize) -> bool {
        self.inner.received(conn, data, times)
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
}

/// Reads length-prefixed messages with `expect` and checks each against the next expected;
/// hard-closes on a wrong one.
#[derive(Default)]
struct Reader {
    body: bool,
    got: usize,
}

impl TcpConnectionNotify for Reader {
    fn accepted(&mut self, conn: &mut TcpConnection) {
        let _ = conn.expect(4);
    }
    fn received(&mut self, conn: &mut TcpConnection, data: Vec<u8>, _times: usize) -> bool {
        if !self.body {
            let len = frame_len(&data);
            if len == 0 || conn.expect(len).is_err() {
                conn.hard_close();
                return true;
            }
            self.body = true;
            return true;
        }
        if self.got >= MESSAGES || data != message(self.got) {
            conn.hard_close();
            return true;
        }
        self.got += 1;
        if let Some(read) = run_state::<Read>() {
            read.lock().0 = self.got;
        }
        self.body = false;
        let _ = conn.expect(4);
        true
    }
    fn connect_failed(&mut self, _conn: &mut TcpConnection, _reason: ConnectFailure) {}
}

fn framed(frames_sentv: bool) -> Scenario {
    Scenario::new("framing-wrapper-drops-sentv")
        .listener("server", "server", 7000, factory(Reader::default))
        .client(
            "c1",
            "client",
            "server",
            7000,
            factory(move || LengthFramed {
                inner: Batcher::default(),
                frames_sentv,
            }),
        )
        .duration_ms(3000)
        // The writer does not reconnect: no faults that lose its connection.
        .faults(Swarm::lost_connections(false))
        .eventually("every-message-read", |run| {
            let read = run.state::<Read>().map_or(0, |r| r.lock().0);
            match read == MESSAGES {
                true => Ok(()),
                false => Err(format!("{read} of {MESSAGES} messages read")),
            }
        })
}

/// The bug hides on a quiet network: nothing throttles, so nothing is sent with `writev`.
#[test]
fn framing_wrapper_drops_sentv_passes_on_a_quiet_network() {
    run_passing(&framed(false).plan(FaultPlan::quiet(Seed(1))), Seed(1));
}

/// W2: the batch written with `writev` after `unthrottled` goes out unframed; the swarm
/// catches the reader's failure; the wrapper that frames `sentv` passes the same seeds.
#[test]
fn framing_wrapper_drops_sentv_is_caught_and_shrunk() {
    let failure = assert_caught(&framed(false), "every-message-read");
    assert!(
        failure.shrunk.plan.send_buffer.is_some(),
        "the failure needs the writer throttled:\n{failure}"
    );
    assert_fix_passes(framed(true), &failure);
}

/// The fixed wrapper passes many seeds (`TCPNOTIFY_SEEDS` sweeps more).
#[test]
fn framing_wrapper_framing_sentv_passes_many_seeds() {
    assert_fix_passes_many(framed(true));
}
