//! Faults over the simulated network: a partition that heals, a reset mid-stream, a crash.

use crate::support::{callbacks_of, received_bytes, snapshot_trace};
use std::path::Path;
use std::time::Duration;
use tcpnotify::{Bytes, ConnectFailure, TcpConnection, TcpConnectionNotify};
use tcpnotify_sim::explore::{sweep, SweepOptions};
use tcpnotify_sim::fault::{
    EventTrigger, Fault, FaultKind, FaultPlan, Latency, PartialWrites, ReadChunks, Span,
};
use tcpnotify_sim::judge::{judge, Ending, RunView};
use tcpnotify_sim::notifiers::{pattern, BulkWriter, Sender, SlowReader};
use tcpnotify_sim::report::RunSummary;
use tcpnotify_sim::run::{EventKind, RunOutcome};
use tcpnotify_sim::scenario::NotifierFactory;
use tcpnotify_sim::{
    factory, run_passing, seed_or, Expectations, FaultSettings, Registry, Scenario, ScenarioFile,
    Seed,
};

fn echo_pair(name: &str, faults: Vec<Fault>) -> Scenario {
    Scenario::echo(name, 2048, 256)
        .keep_payloads()
        .plan(FaultPlan {
            faults,
            ..FaultPlan::quiet(Seed(0))
        })
}

/// R6, W3: a two-way partition in the middle of an echo holds the data; after it heals
/// everything arrives intact and in order.
#[test]
fn r6_partition_heals_with_data_intact() {
    let scenario = echo_pair(
        "partition-heals",
        vec![Fault::at(
            2,
            FaultKind::Partition {
                a: "client".into(),
                b: "server".into(),
                duration_ms: 500,
                one_way: false,
            },
        )],
    );
    let outcome = run_passing(&scenario, seed_or(1));
    assert_eq!(received_bytes(&outcome, "c1"), pattern(0, 2048));
    let last = outcome.trace.events().last().map(|e| e.at_us).unwrap_or(0);
    assert!(
        last >= 502_000,
        "the run must outlast the partition, ended at {last}us"
    );
    snapshot_trace("partition_heals", &outcome);
}

/// A partition from `*` cuts the host from every other host: with only the client besides
/// it, the server cut from `*` holds the echo exactly as the server cut from `client` does.
#[test]
fn a_partition_from_every_other_host_cuts_as_one_naming_the_host() {
    let callbacks = |b: &str| {
        let scenario = echo_pair(
            "partition-every-host",
            vec![Fault::at(
                2,
                FaultKind::Partition {
                    a: "server".into(),
                    b: b.into(),
                    duration_ms: 500,
                    one_way: false,
                },
            )],
        );
        let outcome = run_passing(&scenario, seed_or(1));
        assert_eq!(received_bytes(&outcome, "c1"), pattern(0, 2048));
        (outcome.trace.events().iter())
            .filter_map(|e| Some((e.at_us, e.who.clone(), e.callback()?.to_string())))
            .collect::<Vec<_>>()
    };
    let every = callbacks("*");
    let last = every.last().map(|(at, ..)| *at).unwrap_or(0);
    assert!(
        last >= 502_000,
        "the echo must wait for the heal, ended at {last}us"
    );
    assert_eq!(every, callbacks("client"));
}

/// R6, W3: a one-way partition (server to client cut) also heals without loss.
#[test]
fn r6_one_way_partition_heals_with_data_intact() {
    let scenario = echo_pair(
        "partition-one-way-heals",
        vec![Fault::at(
            1,
            FaultKind::Partition {
                a: "server".into(),
                b: "client".into(),
                duration_ms: 300,
                one_way: true,
            },
        )],
    );
    let outcome = run_passing(&scenario, seed_or(1));
    assert_eq!(received_bytes(&outcome, "c1"), pattern(0, 2048));
    snapshot_trace("partition_one_way_heals", &outcome);
}

/// An echo of 2048 bytes whose connection c1 is reset after its 2nd `received`.
pub(crate) fn reset_mid_stream() -> Scenario {
    echo_pair(
        "reset-mid-stream",
        vec![Fault::after(
            EventTrigger {
                conn: "c1".into(),
                callback: "received".into(),
                nth: 2,
            },
            FaultKind::Reset { conn: "c1".into() },
        )],
    )
}

/// L1, L2, R6: a reset after c1's 2nd `received`: both ends see `closed` once, nothing after
/// it, and what was received is a prefix of what was sent.
#[test]
fn l2_reset_mid_stream_ends_in_closed() {
    let outcome = run_passing(&reset_mid_stream(), seed_or(1));
    let c1 = callbacks_of(&outcome, "c1");
    assert_eq!(c1.last().map(String::as_str), Some("closed"));
    assert_eq!(c1.iter().filter(|c| c.starts_with("received")).count(), 2);
    assert_eq!(
        callbacks_of(&outcome, "server.1")
            .last()
            .map(String::as_str),
        Some("closed")
    );
    let got = received_bytes(&outcome, "c1");
    assert_eq!(got, pattern(0, got.len()));
    snapshot_trace("reset_mid_stream", &outcome);
}

/// An echo of 64 KiB by c1 whose server host crashes after c1's first `received` and restarts
/// 100ms later, and a second client `c2` on the same client host that dials at 300ms, after the
/// restart.
fn crash_during_echo(name: &str, c2: NotifierFactory) -> Scenario {
    Scenario::echo(name, 64 * 1024, 1024)
        .client("c2", "client", "server", 7000, c2)
        .starting_at(300)
        .plan(FaultPlan {
            faults: vec![Fault::after(
                EventTrigger {
                    conn: "c1".into(),
                    callback: "received".into(),
                    nth: 1,
                },
                FaultKind::Crash {
                    host: "server".into(),
                    restart_after_ms: Some(100),
                },
            )],
            ..FaultPlan::quiet(Seed(0))
        })
        .duration_ms(2000)
        // The crashed host's side of c1 is gone with it, so the run may end by its duration.
        .expecting(Expectations {
            finished: false,
            ..Expectations::default()
        })
}

/// L1, L2: the server host crashes mid-echo (after c1's first `received`) and restarts 100ms
/// later: c1's connection ends in `closed` with nothing after it, and c2, starting after the
/// restart, is echoed by the restarted host's new listener (`server#2`).
#[test]
fn l1_host_crash_ends_the_connection() {
    let after = factory(|| Sender::new(b"after the restart".to_vec()));
    let scenario = crash_during_echo("host-crash", after).keep_payloads();
    let outcome = run_passing(&scenario, seed_or(1));
    let text = outcome.trace.render_text();
    assert!(text.contains("FAULT #0 crash server"), "{text}");
    assert!(text.contains("server server#2 listening"), "{text}");
    assert_eq!(
        callbacks_of(&outcome, "c1").last().map(String::as_str),
        Some("closed")
    );
    assert_eq!(received_bytes(&outcome, "c2"), b"after the restart");
    snapshot_trace("host_crash", &outcome);
}

/// L1: a crash ends only the connections open on the host when it crashed. server.1 was open
/// at the crash: the summary calls it lost. c2 dials after the restart and its accepted
/// connection (server#2.1, on the crashed host) stays open to the end: the summary calls it
/// open, as the properties' view does, not lost in a crash that happened before it began.
#[test]
fn l1_a_connection_made_after_the_restart_is_not_lost_in_the_crash() {
    /// Connects and then waits: never writes, never closes.
    struct Idle;
    impl TcpConnectionNotify for Idle {
        fn connect_failed(&mut self, _conn: &mut TcpConnection, _reason: ConnectFailure) {}
    }
    let scenario = crash_during_echo("crash-then-open", factory(|| Idle));
    let outcome = run_passing(&scenario, seed_or(1));
    let summary = RunSummary::of(&outcome);
    let ended = |name: &str| {
        let c = summary.connections.iter().find(|c| c.name == name);
        c.map(|c| c.ended.clone())
            .unwrap_or_else(|| panic!("no {name} in\n{summary}"))
    };
    assert_eq!(
        ended("server.1"),
        "lost in the crash of server",
        "{summary}"
    );
    assert_eq!(ended("server#2.1"), "open at the end", "{summary}");
    assert_eq!(ended("c2"), "open at the end", "{summary}");
    let view = RunView::new(&scenario, &outcome);
    let ending = |name: &str| view.connection(name).map(|c| c.ending);
    assert_eq!(ending("server.1"), Some(Ending::Lost));
    assert_eq!(ending("server#2.1"), Some(Ending::Open));
}

/// A link's latency as a distribution: every message between client and server takes 5 to
/// 20ms, so the connect and each echo's round trip take 10 to 40ms, and not all the same.
#[test]
fn latency_per_link_is_drawn_between_its_min_and_max() {
    let latency = |max_latency_ms| FaultKind::Latency {
        a: "client".into(),
        b: "server".into(),
        latency_ms: 5,
        max_latency_ms,
    };
    let run = |max_latency_ms| {
        let mut scenario = Scenario::echo("latency-distribution", 2048, 256).plan(FaultPlan {
            faults: vec![Fault::at(0, latency(max_latency_ms))],
            ..FaultPlan::quiet(Seed(0))
        });
        // One write at a time: each round trip is its own pair of messages.
        scenario.clients[0].notifier = factory(|| LockStep::new(8, 256));
        run_passing(&scenario, seed_or(1))
    };
    let drawn = round_trips(&run(Some(20)));
    assert_eq!(drawn.len(), 7);
    assert!(drawn.iter().all(|rtt| (10..=40).contains(rtt)), "{drawn:?}");
    assert!(
        drawn.iter().any(|rtt| *rtt != drawn[0]),
        "all the same: {drawn:?}"
    );
    assert_eq!(round_trips(&run(None)), vec![10; 7], "fixed 5ms each way");
}

/// The times between c1's deliveries, in whole milliseconds.
fn round_trips(outcome: &tcpnotify_sim::run::RunOutcome) -> Vec<u64> {
    let times: Vec<u64> = outcome
        .trace
        .events()
        .iter()
        .filter(|e| e.who == "c1" && e.callback().is_some_and(|c| c.name() == "received"))
        .map(|e| e.at_us / 1000)
        .collect();
    times.windows(2).map(|w| w[1] - w[0]).collect()
}

/// A plan's latency with no range (`min_ms == max_ms`) holds on every link from the start:
/// the run gives turmoil that latency, where no link varies to set it per step.
#[test]
fn a_fixed_plan_latency_holds_on_every_link() {
    let mut scenario = Scenario::echo("latency-fixed", 2048, 256).plan(FaultPlan {
        latency: Some(Latency {
            min_ms: 7,
            max_ms: 7,
        }),
        ..FaultPlan::quiet(Seed(0))
    });
    scenario.clients[0].notifier = factory(|| LockStep::new(8, 256));
    let outcome = run_passing(&scenario, seed_or(1));
    let events = outcome.trace.events();
    let connected = (events.iter())
        .find(|e| e.who == "c1" && e.callback().is_some_and(|c| c.name() == "connected"))
        .expect("c1 connects");
    // In turmoil a connect completes as its SYN arrives: one way.
    assert_eq!(connected.at_us, 7_000, "the SYN, 7ms");
    assert_eq!(round_trips(&outcome), vec![14; 7], "7ms each way");
}

/// Each link's latency and each stream's chunking come from random streams of their own: a
/// partition of c2's link changes c2's run and leaves every callback of c1 as it was, to the
/// microsecond. (With one random stream for every link's latency, the messages the partition
/// held would move the latency of every later message: shrinking could not tell a fault the
/// failure needs from one whose removal only reshuffled the timing.)
#[test]
fn one_connections_latency_and_chunking_do_not_depend_on_a_fault_elsewhere() {
    let run = |faults: Vec<Fault>| {
        let scenario = Scenario::echo("independent-draws", 4096, 256)
            .client(
                "c2",
                "client2",
                "server",
                7000,
                factory(|| Sender::pattern(4096).chunked(256)),
            )
            .plan(FaultPlan {
                latency: Some(Latency {
                    min_ms: 1,
                    max_ms: 20,
                }),
                read_chunks: Some(ReadChunks::new(100)),
                partial_writes: Some(PartialWrites {
                    average: 64,
                    variation: 32,
                }),
                faults,
                ..FaultPlan::quiet(Seed(0))
            });
        run_passing(&scenario, seed_or(1))
    };
    let lines_of = |outcome: &RunOutcome, who: &str| -> Vec<String> {
        (outcome.trace.events().iter())
            .filter(|e| e.who == who)
            .filter_map(|e| Some(format!("{} {}", e.at_us, e.callback()?)))
            .collect()
    };
    let quiet = run(Vec::new());
    let partition = FaultKind::Partition {
        a: "client2".into(),
        b: "server".into(),
        duration_ms: 100,
        one_way: false,
    };
    let partitioned = run(vec![Fault::at(5, partition)]);
    assert_eq!(partitioned.fired.get("partition"), Some(&1));
    assert_ne!(lines_of(&quiet, "c2"), lines_of(&partitioned, "c2"));
    assert_eq!(lines_of(&quiet, "c1"), lines_of(&partitioned, "c1"));
}

/// Without a fault window, partitions are timed by the traffic of the connections they cut,
/// so they land while bytes are in flight however long the workload: a 5ms echo as well as
/// a 10s transfer. (Drawn anywhere in the first 80% of the run, as they used to be, they
/// would all miss the echo.)
#[test]
fn traffic_timed_faults_fire_while_bytes_are_in_flight_in_a_5ms_echo_and_a_10s_transfer() {
    let settings = FaultSettings {
        partitions: 1.0,
        partition_ms: Span::new(5, 20),
        ..FaultSettings::quiet()
    };
    let echo = Scenario::echo("short-echo", 512, 128).faults(settings.clone());
    let transfer = Scenario::new("long-transfer")
        .listener(
            "server",
            "server",
            7000,
            factory(|| SlowReader::new(Duration::from_secs(1), 20_000).pausing_every(2_000)),
        )
        .client(
            "c1",
            "client",
            "server",
            7000,
            factory(|| BulkWriter::new(20_000, 500)),
        )
        .faults(settings)
        .duration_ms(30_000);
    for scenario in [echo, transfer] {
        let options = SweepOptions {
            jobs: 2,
            ..SweepOptions::new(0..12)
        };
        let report = sweep(&scenario, &options);
        assert!(report.passed(), "{report}");
        let coverage = &report.coverage;
        // One partition per seed; a writer that is never answered misses those timed by
        // its `received`.
        assert!(coverage.faults_fired() >= 6, "{}: {report}", scenario.name);
        assert!(coverage.fired_in_flight >= 4, "{}: {report}", scenario.name);
    }
}

/// Writes `count` messages of `size` bytes, each after the previous one's echo.
struct LockStep {
    count: usize,
    size: usize,
    sent: usize,
}

impl LockStep {
    fn new(count: usize, size: usize) -> Self {
        LockStep {
            count,
            size,
            sent: 0,
        }
    }

    fn next(&mut self, conn: &mut tcpnotify::TcpConnection) {
        if self.sent == self.count {
            conn.close();
            return;
        }
        conn.write(pattern(self.sent * self.size, self.size));
        self.sent += 1;
    }
}

impl tcpnotify::TcpConnectionNotify for LockStep {
    fn connected(&mut self, conn: &mut tcpnotify::TcpConnection) {
        let _ = conn.expect(self.size);
        self.next(conn);
    }
    fn received(
        &mut self,
        conn: &mut tcpnotify::TcpConnection,
        _data: Vec<u8>,
        _times: usize,
    ) -> bool {
        self.next(conn);
        true
    }
    fn connect_failed(
        &mut self,
        _conn: &mut tcpnotify::TcpConnection,
        _reason: tcpnotify::ConnectFailure,
    ) {
    }
}

/// A server that answers a request with its bytes, then an empty write, and hard-closes
/// once that one is handled (its `sent`): what the send buffer did not take of the answer is
/// discarded (L5).
struct WriteThenHardClose(usize);

impl TcpConnectionNotify for WriteThenHardClose {
    fn received(&mut self, conn: &mut TcpConnection, _data: Vec<u8>, _times: usize) -> bool {
        conn.write(pattern(0, self.0));
        conn.write(Vec::new());
        true
    }
    fn sent(&mut self, conn: &mut TcpConnection, data: Bytes) -> Bytes {
        if data.is_empty() {
            conn.hard_close();
        }
        data
    }
    fn connect_failed(&mut self, _conn: &mut TcpConnection, _reason: ConnectFailure) {}
}

/// A client that sends a one-byte request, then only reads.
struct Reader;

impl TcpConnectionNotify for Reader {
    fn connected(&mut self, conn: &mut TcpConnection) {
        conn.write(b"?".to_vec());
    }
    fn connect_failed(&mut self, _conn: &mut TcpConnection, _reason: ConnectFailure) {}
}

/// The bytes that the trace says `who` discarded as it closed at once.
fn noted_discard(outcome: &RunOutcome, who: &str) -> Option<usize> {
    (outcome.trace.events().iter())
        .filter(|e| e.who == who)
        .find_map(|e| match e.kind {
            EventKind::Discarded { bytes } => Some(bytes),
            _ => None,
        })
}

/// L5: bytes missing at one end because the other end's hard close discarded them are
/// explained in the failure, with the count the trace's note after `closed` gives: no
/// callback tells of them, and `c1 received 2048 bytes` alone sent the reader looking for a
/// lost segment.
#[test]
fn l5_missing_bytes_name_the_hard_close_that_discarded_them() {
    const TOTAL: usize = 64 * 1024;
    let scenario = Scenario::new("hard-close-discards")
        .listener(
            "server",
            "server",
            7000,
            factory(|| WriteThenHardClose(TOTAL)),
        )
        .client("c1", "client", "server", 7000, factory(|| Reader))
        .expecting(Expectations {
            delivered: [("c1".to_string(), TOTAL)].into(),
            ..Expectations::default()
        });
    let plan = FaultPlan {
        send_buffer: Some(2048),
        ..FaultPlan::quiet(Seed(1))
    };
    let verdict = judge(&scenario, &plan).expect("runs");
    let discarded = noted_discard(&verdict.outcome, "server.1").expect("a discard note");
    let received = RunView::new(&scenario, &verdict.outcome)
        .connection("c1")
        .map(|c1| c1.received_bytes)
        .expect("c1 ran");
    assert!(received < TOTAL, "{verdict}");
    assert_eq!(
        verdict
            .failures
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>(),
        [format!(
            "property delivered: c1 received {received} bytes, expected {TOTAL} \
             (server.1 closed at once, discarding {discarded} queued bytes)"
        )],
        "{verdict}"
    );

    // An echo loses bytes to a hard close at either end: here the client's own, after the
    // server's hard close reset it while its writes were queued.
    let file = ScenarioFile::parse(
        r#"
        name = "echo-into-a-hard-close"
        [[listeners]]
        name = "server"
        host = "server"
        port = 7000
        notifier = "hard-closer"
        [[clients]]
        name = "c1"
        host = "client"
        target = "server"
        port = 7000
        notifier = "throttle-ignoring-writer"
        params = { bytes = 8192, chunk = 512 }
        [plan]
        send_buffer = 2048
        [expect]
        echoed = true
        "#,
        Path::new("echo.toml"),
        &Registry::builtin(),
    )
    .expect("parses");
    let verdict = file.judge(None).expect("runs");
    let discarded = noted_discard(&verdict.outcome, "c1").expect("a discard note");
    let echoed = (verdict.failures.iter())
        .map(ToString::to_string)
        .find(|f| f.starts_with("property echoed: "))
        .expect("echoed failed");
    assert!(
        echoed.ends_with(&format!(
            "(c1 closed at once, discarding {discarded} queued bytes)"
        )),
        "{echoed}"
    );
}

/// A server that greets each connection as it is accepted and hard-closes once the greeting
/// is handled (its empty second write's `sent`), before the client's `connected` can run.
struct GreetThenHardClose;

impl TcpConnectionNotify for GreetThenHardClose {
    fn accepted(&mut self, conn: &mut TcpConnection) {
        conn.write(b"hello".to_vec());
        conn.write(Vec::new());
    }
    fn sent(&mut self, conn: &mut TcpConnection, data: Bytes) -> Bytes {
        if data.is_empty() {
            conn.hard_close();
        }
        data
    }
    fn connect_failed(&mut self, _conn: &mut TcpConnection, _reason: ConnectFailure) {}
}

/// A client that only reads.
struct Listens;

impl TcpConnectionNotify for Listens {
    fn connect_failed(&mut self, _conn: &mut TcpConnection, _reason: ConnectFailure) {}
}

/// R6 (a simulator defect, fixed): an accepted connection that wrote and was gone before its
/// client's `connected` made the client's first delivery "bytes the peer never sent": the
/// integrity check forgot a connection whose one registered end had ended, so the client's
/// end, registering later, began an empty stream.
#[test]
fn r6_bytes_of_a_peer_gone_before_the_client_connected_are_its_own() {
    let scenario = Scenario::new("greet-and-go")
        .listener("server", "server", 7000, factory(|| GreetThenHardClose))
        .client("c1", "client", "server", 7000, factory(|| Listens))
        .expecting(Expectations {
            delivered: [("c1".to_string(), 5)].into(),
            ..Expectations::default()
        });
    for seed in 1..=20 {
        let plan = FaultPlan::quiet(Seed(seed));
        let verdict = judge(&scenario, &plan).expect("runs");
        assert!(verdict.passed(), "seed {seed}: {verdict}");
    }
    // Under the swarm's faults (no `delivered`: a reset may lose the greeting), the contract
    // holds for every seed.
    let swarmed = Scenario::new("greet-and-go-swarmed")
        .listener("server", "server", 7000, factory(|| GreetThenHardClose))
        .client("c1", "client", "server", 7000, factory(|| Listens))
        .client("c2", "client", "server", 7000, factory(|| Listens));
    let report = sweep(&swarmed, &SweepOptions::new(0..200));
    assert!(report.passed(), "{report}");
}
