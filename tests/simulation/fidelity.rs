//! Fidelity of the simulated stream to a real socket: the end of stream arrives however many
//! segments are outstanding (turmoil parks a FIN that finds its receive channel full), small
//! writes are not pushed back before a real socket would push back, a quiet network pushes
//! back a writer whose peer does not read, a writer held back learns of its peer's reset,
//! `writev` is one write, and `nodelay` reads back what `set_nodelay` set.

use crate::support::{callbacks_of, received_bytes};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tcpnotify::{Bytes, ConnectFailure, TcpConnection, TcpConnectionNotify};
use tcpnotify_sim::fault::{
    EventTrigger, Fault, FaultKind, FaultPlan, PartialWrites, MAX_SEGMENTS_IN_FLIGHT,
};
use tcpnotify_sim::notifiers::{pattern, BulkWriter, Sender, SlowReader};
use tcpnotify_sim::run::RunOutcome;
use tcpnotify_sim::{factory, run_passing, seed_or, Scenario, Seed};

/// Bytes per write of the segment tests: small, so a thousand writes stay far below any
/// socket buffer.
const SEGMENT: usize = 16;

/// What keeps the server from reading while the client writes its segments and closes.
#[derive(Debug, Clone, Copy)]
enum Hold {
    /// A two-way partition from the client's `connected` for 200 ms.
    Partition,
    /// The server mutes itself on accept and unmutes 200 ms later.
    Mute,
    /// The server mutes itself for 20 ms on accept and again after every 8 segments read.
    SlowReader,
}

/// The client writes `segments` writes of [`SEGMENT`] bytes, each its own segment, and
/// closes at once; the server reads while `hold` lets it, and closes only on the client's end
/// of stream.
fn fin_after(segments: usize, hold: Hold) -> Scenario {
    let total = segments * SEGMENT;
    let server = match hold {
        Hold::Partition => SlowReader::new(Duration::ZERO, usize::MAX),
        Hold::Mute => SlowReader::new(Duration::from_millis(200), usize::MAX),
        Hold::SlowReader => {
            SlowReader::new(Duration::from_millis(20), usize::MAX).pausing_every(8 * SEGMENT)
        }
    };
    let faults = match hold {
        Hold::Partition => vec![Fault::after(
            EventTrigger {
                conn: "c1".into(),
                callback: "connected".into(),
                nth: 1,
            },
            FaultKind::Partition {
                a: "client".into(),
                b: "server".into(),
                duration_ms: 200,
                one_way: false,
            },
        )],
        Hold::Mute | Hold::SlowReader => Vec::new(),
    };
    Scenario::new(&format!("fin-after-{segments}-segments-{hold:?}"))
        .listener("server", "server", 7000, factory(move || server))
        .client(
            "c1",
            "client",
            "server",
            7000,
            factory(move || Sender::pattern(total).chunked(SEGMENT).without_echo()),
        )
        .keep_payloads()
        .plan(FaultPlan {
            faults,
            ..FaultPlan::quiet(Seed(0))
        })
}

/// Runs [`fin_after`]: the run must finish (the server saw the end of stream and closed),
/// with every byte delivered and no backpressure on the writer, since a real socket takes a
/// thousand 16-byte writes without pushing back (as does the fault layer, whose segment
/// bound, `MAX_SEGMENTS_IN_FLIGHT`, is higher).
fn assert_fin_delivered(segments: usize, hold: Hold) {
    let outcome = fin_delivered(segments, hold);
    assert_no_backpressure(&outcome, "c1");
}

/// Runs [`fin_after`] and asserts that the server read every byte and then the end of stream.
fn fin_delivered(segments: usize, hold: Hold) -> RunOutcome {
    let outcome = run_passing(&fin_after(segments, hold), seed_or(1));
    assert_eq!(
        received_bytes(&outcome, "server.1"),
        pattern(0, segments * SEGMENT)
    );
    assert_eq!(
        callbacks_of(&outcome, "server.1")
            .last()
            .map(String::as_str),
        Some("closed")
    );
    outcome
}

fn assert_no_backpressure(outcome: &RunOutcome, who: &str) {
    let throttles = throttles_of(outcome, who);
    assert!(throttles.is_empty(), "{who}: {throttles:?}");
}

/// `who`'s `throttled` and `unthrottled` callbacks, in order.
fn throttles_of(outcome: &RunOutcome, who: &str) -> Vec<String> {
    callbacks_of(outcome, who)
        .into_iter()
        .filter(|c| c.ends_with("throttled"))
        .collect()
}

#[test]
fn l3_fin_after_64_segments_held_by_a_partition_arrives() {
    assert_fin_delivered(64, Hold::Partition);
}

#[test]
fn l3_fin_after_65_segments_held_by_a_partition_arrives() {
    assert_fin_delivered(65, Hold::Partition);
}

#[test]
fn l3_fin_after_1000_segments_held_by_a_partition_arrives() {
    assert_fin_delivered(1000, Hold::Partition);
}

#[test]
fn l3_fin_after_as_many_segments_as_may_be_in_flight_held_by_a_partition_arrives() {
    assert_fin_delivered(MAX_SEGMENTS_IN_FLIGHT, Hold::Partition);
}

/// Past the segment bound the writer is pushed back until the server reads (turmoil looks
/// through every segment on a link at each send, so tens of thousands of tiny segments in
/// flight cost a run seconds); the end of stream still arrives after every byte.
#[test]
fn l3_fin_after_twice_as_many_segments_as_may_be_in_flight_arrives_after_backpressure() {
    let outcome = fin_delivered(2 * MAX_SEGMENTS_IN_FLIGHT, Hold::Partition);
    let throttles = throttles_of(&outcome, "c1");
    assert_eq!(
        throttles.first().map(String::as_str),
        Some("throttled"),
        "{throttles:?}"
    );
    assert_eq!(
        throttles.last().map(String::as_str),
        Some("unthrottled"),
        "{throttles:?}"
    );
}

#[test]
fn l3_r5_fin_after_64_segments_held_by_a_mute_arrives() {
    assert_fin_delivered(64, Hold::Mute);
}

#[test]
fn l3_r5_fin_after_65_segments_held_by_a_mute_arrives() {
    assert_fin_delivered(65, Hold::Mute);
}

#[test]
fn l3_r5_fin_after_1000_segments_held_by_a_mute_arrives() {
    assert_fin_delivered(1000, Hold::Mute);
}

#[test]
fn l3_fin_after_64_segments_held_by_a_slow_reader_arrives() {
    assert_fin_delivered(64, Hold::SlowReader);
}

#[test]
fn l3_fin_after_65_segments_held_by_a_slow_reader_arrives() {
    assert_fin_delivered(65, Hold::SlowReader);
}

#[test]
fn l3_fin_after_1000_segments_held_by_a_slow_reader_arrives() {
    assert_fin_delivered(1000, Hold::SlowReader);
}

/// L3, R6 (issue 8's example): a bulk writer of 48 × 1 KiB writes under partial writes of
/// about 16 bytes, a 150 ms partition, then the writer closes: the server reads all 49,152
/// bytes and then sees the end of stream. Before the fault layer kept a slot for the FIN,
/// seed 3 (among others) lost it: the server read every byte and waited forever.
#[test]
fn l3_bulk_writer_closing_after_a_partition_under_partial_writes_is_seen_closed() {
    const TOTAL: usize = 48 * 1024;
    let scenario = Scenario::new("bulk-close-after-partition")
        .listener(
            "server",
            "server",
            7000,
            factory(|| SlowReader::new(Duration::ZERO, usize::MAX)),
        )
        .client(
            "c1",
            "client",
            "server",
            7000,
            factory(|| BulkWriter::new(TOTAL, 1024)),
        )
        .keep_payloads()
        .plan(FaultPlan {
            partial_writes: Some(PartialWrites {
                average: 16,
                variation: 8,
            }),
            faults: vec![Fault::at(
                1,
                FaultKind::Partition {
                    a: "client".into(),
                    b: "server".into(),
                    duration_ms: 150,
                    one_way: false,
                },
            )],
            ..FaultPlan::quiet(Seed(0))
        });
    let outcome = run_passing(&scenario, seed_or(3));
    assert_eq!(received_bytes(&outcome, "server.1"), pattern(0, TOTAL));
    assert_eq!(
        callbacks_of(&outcome, "server.1")
            .last()
            .map(String::as_str),
        Some("closed")
    );
}

/// Reads whatever arrives and closes on the peer's end of stream, as the loopback tests' raw
/// peer that reads to the end.
struct Sink;

impl TcpConnectionNotify for Sink {
    fn connect_failed(&mut self, _conn: &mut TcpConnection, _reason: ConnectFailure) {}
}

/// Writes with `writev` and plain writes queued together, then closes (the loopback test
/// `w2_writev_calls_sentv_once_and_queues_its_result` has the same client).
struct Vectored;

impl TcpConnectionNotify for Vectored {
    fn connected(&mut self, conn: &mut TcpConnection) {
        conn.writev(vec![b"alpha,".to_vec(), Vec::new(), b"beta,".to_vec()]);
        conn.writev(vec![b"gamma".to_vec()]);
        conn.write("|plain write");
        conn.dispose();
    }
    fn sentv(&mut self, _conn: &mut TcpConnection, chunks: Vec<Bytes>) -> Vec<Bytes> {
        let mut out: Vec<Bytes> = chunks.into_iter().filter(|c| !c.is_empty()).collect();
        out.push(Bytes::from_static(b";"));
        out
    }
    fn connect_failed(&mut self, _conn: &mut TcpConnection, _reason: ConnectFailure) {}
}

/// W2, W4: on a quiet network a `writev` (several chunks queued at once) is taken whole, as a
/// real socket's `writev` is: exactly the loopback callbacks, with no `throttled`.
#[test]
fn w2_w4_writev_on_a_quiet_network_gives_the_loopback_callbacks() {
    let scenario = Scenario::new("writev-quiet")
        .listener("server", "server", 7000, factory(|| Sink))
        .client("c1", "client", "server", 7000, factory(|| Vectored))
        .keep_payloads()
        .plan(FaultPlan::quiet(Seed(0)));
    let outcome = run_passing(&scenario, seed_or(1));
    // The client's lines of that test's loopback snapshot, with the simulator's addresses.
    assert_eq!(
        callbacks_of(&outcome, "c1"),
        [
            "proxy_via(server, 7000)",
            "connecting(1)",
            "connected",
            "sentv(3 chunks, 11B) -> 3 chunks, 12B",
            "sentv(1 chunks, 5B) -> 2 chunks, 6B",
            r#"sent(12B "|plain write")"#,
            "closed",
        ]
    );
    assert_eq!(
        received_bytes(&outcome, "server.1"),
        b"alpha,beta,;gamma;|plain write"
    );
}

/// W4: a thousand 64-byte writes to a reading peer are never pushed back, as a real socket
/// that coalesces them is not (turmoil alone makes each write a segment and takes at most 64
/// unread segments).
#[test]
fn w4_a_thousand_small_writes_on_a_quiet_network_are_never_throttled() {
    let scenario = Scenario::new("small-writes-quiet")
        .listener(
            "server",
            "server",
            7000,
            factory(|| SlowReader::new(Duration::ZERO, usize::MAX)),
        )
        .client(
            "c1",
            "client",
            "server",
            7000,
            factory(|| BulkWriter::new(64 * 1000, 64).ignoring_throttle()),
        )
        .keep_payloads()
        .plan(FaultPlan::quiet(Seed(0)));
    let outcome = run_passing(&scenario, seed_or(1));
    assert_eq!(received_bytes(&outcome, "server.1"), pattern(0, 64 * 1000));
    assert_no_backpressure(&outcome, "c1");
}

/// More than the default window, in one write (the loopback test
/// `w3_w4_w5_throttled_until_a_stalled_peer_reads_everything` writes 9 MiB the same way).
const BULK: usize = 9 << 20;

/// Writes [`BULK`] bytes of the pattern in one write, then 4 more while throttled; closes
/// once unthrottled.
struct Bulk;

impl TcpConnectionNotify for Bulk {
    fn connected(&mut self, conn: &mut TcpConnection) {
        conn.write(pattern(0, BULK));
    }
    fn throttled(&mut self, conn: &mut TcpConnection) {
        conn.write(pattern(BULK, 4));
    }
    fn unthrottled(&mut self, conn: &mut TcpConnection) {
        conn.close();
    }
    fn connect_failed(&mut self, _conn: &mut TcpConnection, _reason: ConnectFailure) {}
}

/// W3, W4, W5: on a quiet plan a writer whose peer does not read is pushed back once the
/// default window is full, as a real socket is once its buffers are, and unthrottled once
/// the peer reads everything: the loopback test's callbacks. The window is fixed where a
/// kernel's buffers are autotuned: difference S3 of `docs/contract.md`.
#[test]
fn w3_w4_w5_a_quiet_plan_pushes_back_a_writer_whose_peer_does_not_read() {
    let scenario = Scenario::new("quiet-pushback")
        .listener(
            "server",
            "server",
            7000,
            factory(|| SlowReader::new(Duration::from_millis(200), BULK + 4)),
        )
        .client("c1", "client", "server", 7000, factory(|| Bulk))
        .plan(FaultPlan::quiet(Seed(0)));
    let outcome = run_passing(&scenario, seed_or(1));
    let c1: Vec<String> = callbacks_of(&outcome, "c1")
        .into_iter()
        .map(|c| c.split(" \"").next().unwrap_or_default().to_string())
        .collect();
    assert_eq!(
        c1,
        [
            "proxy_via(server, 7000)",
            "connecting(1)",
            "connected",
            &format!("sent({BULK}B"),
            "throttled",
            "sent(4B",
            "unthrottled",
            "closed"
        ]
    );
}

/// Mutes itself for good and writes more than the window to a peer that drops the
/// connection: only its write can learn that the peer is gone.
struct MutedWriter;

impl TcpConnectionNotify for MutedWriter {
    fn connected(&mut self, conn: &mut TcpConnection) {
        conn.mute();
        conn.write(pattern(0, 8 * 1024));
    }
    fn connect_failed(&mut self, _conn: &mut TcpConnection, _reason: ConnectFailure) {}
}

/// Mutes itself on accept and closes 50 ms later with the peer's bytes unread.
struct ClosesUnread;

impl TcpConnectionNotify for ClosesUnread {
    fn accepted(&mut self, conn: &mut TcpConnection) {
        conn.mute();
        let handle = conn.handle();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(50)).await;
            handle.dispose();
        });
    }
    fn connect_failed(&mut self, _conn: &mut TcpConnection, _reason: ConnectFailure) {}
}

/// L1, W4: a writer held by a full window that reads nothing learns from its write that the
/// peer closed with data unread (a reset, as from a real peer) and closes while throttled,
/// instead of waiting for window forever.
#[test]
fn w4_a_muted_writer_held_by_the_window_closes_when_its_peer_resets() {
    let scenario = Scenario::new("muted-writer-peer-resets")
        .listener("server", "server", 7000, factory(|| ClosesUnread))
        .client("c1", "client", "server", 7000, factory(|| MutedWriter))
        .plan(FaultPlan {
            window: 4096,
            ..FaultPlan::quiet(Seed(0))
        });
    let outcome = run_passing(&scenario, seed_or(1));
    assert_eq!(
        callbacks_of(&outcome, "c1")[3..],
        [
            r#"sent(8192B "\x00\x01\x02\x03\x04\x05\x06\x07\x08\t\n\x0b\x0c\r\x0e\x0f...")"#,
            "throttled",
            "closed"
        ]
    );
}

/// Reads `nodelay` around `set_nodelay` once connected, into a shared log.
struct NoDelay(Arc<Mutex<Vec<String>>>);

impl TcpConnectionNotify for NoDelay {
    fn connected(&mut self, conn: &mut TcpConnection) {
        let mut log = self.0.lock().unwrap_or_else(|e| e.into_inner());
        log.push(format!("{:?}", conn.nodelay().map_err(|e| e.kind())));
        for on in [true, false] {
            log.push(format!("{:?}", conn.set_nodelay(on).map_err(|e| e.kind())));
            log.push(format!("{:?}", conn.nodelay().map_err(|e| e.kind())));
        }
        conn.close();
    }
    fn connect_failed(&mut self, _conn: &mut TcpConnection, _reason: ConnectFailure) {}
}

/// `nodelay` starts false (Nagle on, as a fresh real socket) and reads back what
/// `set_nodelay` set, as the loopback test `set_nodelay_reads_back_through_nodelay` shows.
#[test]
fn nodelay_starts_off_and_reads_back_what_set_nodelay_set() {
    let log = Arc::new(Mutex::new(Vec::new()));
    let client_log = log.clone();
    let scenario = Scenario::new("nodelay")
        .listener(
            "server",
            "server",
            7000,
            factory(|| SlowReader::new(Duration::ZERO, usize::MAX)),
        )
        .client(
            "c1",
            "client",
            "server",
            7000,
            factory(move || NoDelay(client_log.clone())),
        )
        .plan(FaultPlan::quiet(Seed(0)));
    run_passing(&scenario, seed_or(1));
    let log = log.lock().unwrap_or_else(|e| e.into_inner()).clone();
    assert_eq!(
        log,
        ["Ok(false)", "Ok(())", "Ok(true)", "Ok(())", "Ok(false)"]
    );
}
