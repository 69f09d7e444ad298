//! What a notifier may do to its own wrapping: swap itself out (`set_notify`) and queue bytes
//! past `sent` (`write_final`). The simulator records a connection through a wrapper around
//! its notifier, and its stream check sees the bytes that wrapper sees queued; both calls
//! used to slip past it, so a correct notifier failed R6 on every seed ("bytes received ...
//! that the peer never sent") and a swapped-in notifier's connection was never seen to close
//! (simulator defects, found in the fourteenth session).

use crate::counts_final::CountsFinal;
use crate::support::callbacks_of;
use std::time::Duration;
use tcpnotify::{ConnectFailure, TcpConnection, TcpConnectionNotify};
use tcpnotify_sim::explore::{sweep, SweepOptions};
use tcpnotify_sim::fault::FaultPlan;
use tcpnotify_sim::judge::judge;
use tcpnotify_sim::notifiers::{Echo, Sender};
use tcpnotify_sim::run::{run, EventKind};
use tcpnotify_sim::scenario::NotifierFactory;
use tcpnotify_sim::{factory, Expectations, Scenario, Seed};

/// Answers the first delivery with `write_final` and closes.
struct FinalReply;

impl TcpConnectionNotify for FinalReply {
    fn received(&mut self, conn: &mut TcpConnection, data: Vec<u8>, _times: usize) -> bool {
        let mut reply = b"got ".to_vec();
        reply.extend_from_slice(&data);
        conn.write_final(reply);
        conn.close();
        true
    }
    fn connect_failed(&mut self, _conn: &mut TcpConnection, _reason: ConnectFailure) {}
}

/// Swaps in an echo, from a task of its own, 2 ms after it accepted; echoes until then.
struct SwapsToEcho;

impl TcpConnectionNotify for SwapsToEcho {
    fn accepted(&mut self, conn: &mut TcpConnection) {
        let handle = conn.handle();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(2)).await;
            handle.set_notify(Box::new(Echo));
        });
    }
    fn received(&mut self, conn: &mut TcpConnection, data: Vec<u8>, _times: usize) -> bool {
        conn.write(data);
        true
    }
    fn connect_failed(&mut self, _conn: &mut TcpConnection, _reason: ConnectFailure) {}
}

fn final_reply() -> Scenario {
    final_reply_served_by(factory(|| FinalReply))
}

/// A client writing `hello` without waiting for an echo, to a server of `server`'s notifiers.
fn final_reply_served_by(server: NotifierFactory) -> Scenario {
    Scenario::new("final-reply")
        .listener("server", "server", 7000, server)
        .client(
            "c1",
            "client",
            "server",
            7000,
            factory(|| Sender::new(&b"hello"[..]).without_echo()),
        )
        .duration_ms(2_000)
}

#[test]
fn r6_bytes_queued_with_write_final_are_the_senders() {
    let scenario = final_reply().expecting(Expectations {
        delivered: [("c1".to_string(), 9)].into(),
        ..Expectations::default()
    });
    for seed in 1..=20 {
        let verdict = judge(&scenario, &FaultPlan::quiet(Seed(seed))).expect("runs");
        assert!(verdict.passed(), "seed {seed}: {verdict}");
    }
    // The bytes are in the trace too, right after the callback that queued them, on a line
    // of their own kind that reads as a note.
    let outcome = run(&scenario, &FaultPlan::quiet(Seed(1))).expect("runs");
    let lines: Vec<String> = (outcome.trace.events().iter())
        .filter(|e| e.who == "server.1")
        .filter_map(|e| match &e.kind {
            EventKind::FinalWritten { .. } => Some(e.kind.to_string()),
            _ => e.callback().map(|c| c.to_string()),
        })
        .collect();
    let at = lines
        .iter()
        .position(|l| l.starts_with("received("))
        .expect("a delivery");
    assert_eq!(
        lines[at + 1],
        "-- write_final(9B \"got hello\"): queued past `sent`",
        "{lines:#?}"
    );
    let report = sweep(&final_reply(), &SweepOptions::new(0..200));
    assert!(report.passed(), "{report}");
}

#[test]
fn a_notifier_swapped_in_with_set_notify_is_recorded_as_the_connection() {
    let scenario = Scenario::new("swaps-to-echo")
        .listener("server", "server", 7000, factory(|| SwapsToEcho))
        .client(
            "c1",
            "client",
            "server",
            7000,
            factory(|| Sender::pattern(9_000).chunked(450)),
        )
        .duration_ms(2_000)
        .expecting(Expectations {
            echoed: true,
            closed: Some(2),
            ..Expectations::default()
        });
    for seed in 1..=20 {
        let verdict = judge(&scenario, &FaultPlan::quiet(Seed(seed))).expect("runs");
        assert!(verdict.passed(), "seed {seed}: {verdict}");
    }
    // The echo's callbacks after the swap are the connection's: its last delivery, its sends
    // and its `closed`.
    let outcome = run(&scenario, &FaultPlan::quiet(Seed(1))).expect("runs");
    let server = callbacks_of(&outcome, "server.1");
    assert_eq!(
        server.last().map(String::as_str),
        Some("closed"),
        "{server:#?}"
    );
    let report = sweep(&scenario, &SweepOptions::new(0..200));
    assert!(report.passed(), "{report}");
}

/// Frames each write with an 8,000-byte header queued with `write_final` in `sent`, which a
/// 2 KiB send buffer takes in part, so `throttled` runs right after `sent` returns and before
/// its result is queued (Pony nests it inside `sent`); there it queues a one-byte marker with
/// `write_final` too. On the wire: header, marker, then what `sent` returned. In `expect`
/// mode it asks `expect(0)` in `sent` and queues the marker in the `expect` hook instead,
/// which runs at the same point.
pub(crate) struct MarksInDeferred {
    in_expect: bool,
    written: usize,
    got: usize,
}

impl MarksInDeferred {
    /// Queues its marker in `throttled`, or with `in_expect` in its `expect` hook.
    pub(crate) fn new(in_expect: bool) -> Self {
        MarksInDeferred {
            in_expect,
            written: 0,
            got: 0,
        }
    }

    fn write_final(&mut self, conn: &mut TcpConnection, data: Vec<u8>) {
        self.written += data.len();
        conn.write_final(data);
    }
}

impl TcpConnectionNotify for MarksInDeferred {
    fn connected(&mut self, conn: &mut TcpConnection) {
        self.written += 100;
        conn.write(vec![7u8; 100]);
    }
    fn sent(&mut self, conn: &mut TcpConnection, data: tcpnotify::Bytes) -> tcpnotify::Bytes {
        match self.in_expect {
            true => conn.expect(0).expect("0 is in range"),
            false => self.write_final(conn, vec![1u8; 8000]),
        }
        data
    }
    fn expect(&mut self, conn: &mut TcpConnection, qty: usize) -> usize {
        if self.in_expect {
            self.write_final(conn, vec![0xEEu8]);
        }
        qty
    }
    fn throttled(&mut self, conn: &mut TcpConnection) {
        self.write_final(conn, vec![0xEEu8]);
    }
    fn received(&mut self, conn: &mut TcpConnection, data: Vec<u8>, _times: usize) -> bool {
        self.got += data.len();
        if self.got == self.written {
            conn.close();
        }
        true
    }
    fn connect_failed(&mut self, _conn: &mut TcpConnection, _reason: ConnectFailure) {}
}

/// R6: what `sent` returned flows to the stream check after what the callbacks deferred
/// inside it queued with `write_final`, as it goes out; it used to flow when `sent`
/// returned, so a correct client failed R6 ("byte at stream offset 8000 is 0xee, the peer
/// sent 0x07") on every seed (simulator defect found by helper-68's review, fifteenth
/// session).
#[test]
fn r6_write_final_in_a_callback_deferred_from_sent_goes_before_its_result() {
    for in_expect in [false, true] {
        let scenario = Scenario::new("marks-in-deferred")
            .listener("server", "server", 7000, factory(|| Echo))
            .client(
                "c1",
                "client",
                "server",
                7000,
                factory(move || MarksInDeferred::new(in_expect)),
            )
            .duration_ms(2_000)
            .expecting(Expectations {
                echoed: true,
                ..Expectations::default()
            });
        let plan = FaultPlan {
            send_buffer: Some(2048),
            ..FaultPlan::quiet(Seed(1))
        };
        let verdict = judge(&scenario, &plan).expect("runs");
        assert!(verdict.passed(), "in_expect {in_expect}: {verdict}");
        let report = sweep(&scenario, &SweepOptions::new(0..100));
        assert!(report.passed(), "in_expect {in_expect}: {report}");
    }
}

/// R6: a notifier that takes what `write_final` queued for itself (`take_final_writes`)
/// leaves the simulator's recorder its own copy, and one that never asked to keep them is
/// given none, as outside the simulator; the recorder kept them in the same list the
/// notifier took them from, so the wrapper of `take_final_writes`' doc took the bytes from
/// under the stream check, and a correct server failed R6 ("bytes received ... that the peer
/// never sent") on every seed (simulator defect found by helper-76, seventeenth session).
#[test]
fn r6_final_writes_a_notifier_takes_for_itself_are_still_recorded() {
    for keeping in [true, false] {
        // "got " and at least a byte of the first delivery, or nothing if the connection
        // was lost first.
        let server = factory(move || {
            CountsFinal::new(FinalReply, keeping, |bytes, _| bytes == 0 || bytes > 4)
        });
        let scenario = final_reply_served_by(server).expecting(Expectations {
            delivered: [("c1".to_string(), 9)].into(),
            ..Expectations::default()
        });
        let verdict = judge(&scenario, &FaultPlan::quiet(Seed(1))).expect("runs");
        assert!(verdict.passed(), "keeping {keeping}: {verdict}");
        // Re-chunked reads change the reply's length: every seed but the quiet one without
        // the delivered count.
        let swarm = scenario.expecting(Expectations::default());
        let report = sweep(&swarm, &SweepOptions::new(0..100));
        assert!(report.passed(), "keeping {keeping}: {report}");
    }
}
