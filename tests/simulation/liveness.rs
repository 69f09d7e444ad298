//! The liveness phase at the end of a run: when the active duration is over, every fault
//! heals and the run settles before what must eventually hold is judged, so a liveness bug of
//! a notifier is told apart from a network still partitioned when the run ends.

use crate::paced_echo::PacedEcho;
use tcpnotify::{ConnectFailure, TcpConnection, TcpConnectionNotify};
use tcpnotify_sim::fault::{
    EventTrigger, Fault, FaultKind, FaultPlan, Latency, PartialWrites, ReadChunks,
};
use tcpnotify_sim::judge::{judge, Verdict};
use tcpnotify_sim::notifiers::{pattern, Echo};
use tcpnotify_sim::run::{now_us, EventKind, FaultStep, Liveness};
use tcpnotify_sim::{factory, run_state, Scenario, Seed};

const REQUEST: usize = 64;
const PATIENCE_US: u64 = 500_000;

/// Replies the impatient clients accepted in the run.
#[derive(Default)]
struct Replies(usize);

/// Sends a request and waits for its whole echo. An echo that completes more than
/// [`PATIENCE_US`] after the request is "stale": the buggy client drops it and waits for a
/// fresh one that never comes, so it never closes — a liveness bug that a quiet network never
/// shows and a partition still in force hides; the fixed one accepts it and closes.
struct Impatient {
    fixed: bool,
    sent_at_us: u64,
    got: usize,
}

impl TcpConnectionNotify for Impatient {
    fn connected(&mut self, conn: &mut TcpConnection) {
        self.sent_at_us = now_us();
        conn.write(pattern(0, REQUEST));
    }
    fn received(&mut self, conn: &mut TcpConnection, data: Vec<u8>, _times: usize) -> bool {
        self.got += data.len();
        if self.got == REQUEST {
            let stale = now_us().saturating_sub(self.sent_at_us) > PATIENCE_US;
            if !stale || self.fixed {
                if let Some(replies) = run_state::<Replies>() {
                    replies.lock().0 += 1;
                }
                conn.close();
            }
        }
        true
    }
    fn connect_failed(&mut self, _conn: &mut TcpConnection, _reason: ConnectFailure) {}
}

/// One impatient client of an echo server, for 2 s of active run, with a partition from 2 ms
/// that lasts 20 s: far past the active duration.
fn impatient(fixed: bool) -> Scenario {
    Scenario::new(if fixed { "patient" } else { "impatient" })
        .listener("server", "server", 7000, factory(|| Echo))
        .client(
            "c1",
            "client",
            "server",
            7000,
            factory(move || Impatient {
                fixed,
                sent_at_us: 0,
                got: 0,
            }),
        )
        .duration_ms(2_000)
        .eventually("every-reply-accepted", |run| {
            let accepted = run.state::<Replies>().map_or(0, |r| r.lock().0);
            match accepted {
                1 => Ok(()),
                n => Err(format!("{n} of 1 replies accepted")),
            }
        })
}

fn long_partition() -> FaultPlan {
    FaultPlan {
        faults: vec![Fault::at(
            2,
            FaultKind::Partition {
                a: "client".into(),
                b: "server".into(),
                duration_ms: 20_000,
                one_way: false,
            },
        )],
        ..FaultPlan::quiet(Seed(7))
    }
}

fn failure_of(verdict: &Verdict, name: &str) -> String {
    verdict
        .failures
        .iter()
        .find(|f| f.signature() == name)
        .map(|f| f.to_string())
        .unwrap_or_else(|| panic!("no {name} failure in:\n{verdict}"))
}

#[test]
fn both_clients_pass_on_a_quiet_network_with_no_liveness_phase() {
    for fixed in [false, true] {
        let verdict = judge(&impatient(fixed), &FaultPlan::quiet(Seed(7))).expect("runs");
        assert!(verdict.passed(), "{verdict}");
        assert_eq!(verdict.outcome.liveness, Liveness::NotReached);
        let text = verdict.outcome.trace.render_text();
        assert!(!text.contains("liveness phase"), "{text}");
    }
}

/// Without a liveness phase the run ends partitioned: the correct client fails just as the
/// buggy one does, and the failure says the network was still cut.
#[test]
fn a_run_still_partitioned_at_its_end_fails_as_the_network_not_as_a_liveness_bug() {
    for fixed in [false, true] {
        let scenario = impatient(fixed).settle_ms(0);
        let verdict = judge(&scenario, &long_partition()).expect("runs");
        assert_eq!(
            verdict.signature().as_deref(),
            Some("finished"),
            "{verdict}"
        );
        let finished = failure_of(&verdict, "finished");
        assert!(
            finished.contains(
                "with faults still in force when the run ended (no liveness phase: \
                 settle_ms = 0): #0 partition client <-> server"
            ),
            "{finished}"
        );
        assert!(!finished.contains("liveness bug"), "{finished}");
        let eventually = failure_of(&verdict, "every-reply-accepted");
        assert!(eventually.contains("0 of 1 replies accepted (with faults still in force"));
        match &verdict.outcome.liveness {
            Liveness::Off { in_force } => assert_eq!(in_force.len(), 1, "{in_force:?}"),
            other => panic!("expected no liveness phase, got {other:?}"),
        }
    }
}

/// With the liveness phase the partition heals when the active duration is over: the
/// correct client gets its (late) echo and finishes.
#[test]
fn the_liveness_phase_heals_the_partition_and_the_correct_client_finishes() {
    let verdict = judge(&impatient(true), &long_partition()).expect("runs");
    assert!(verdict.passed(), "{verdict}");
    let Liveness::Settled {
        from_us,
        settle_ms,
        healed,
    } = &verdict.outcome.liveness
    else {
        panic!("expected a liveness phase: {:?}", verdict.outcome.liveness);
    };
    assert_eq!((*from_us, *settle_ms), (2_000_000, 1_000));
    assert_eq!(healed, &["#0 partition client <-> server for 20000ms"]);
    let text = verdict.outcome.trace.render_text();
    assert!(
        text.contains(
            "  2000.000ms - - -- liveness phase: every fault heals (#0 partition client <-> \
             server for 20000ms); settling for at most 1000ms\n  2000.000ms - - FAULT #0 healed\n"
        ),
        "{text}"
    );
    assert!(text.contains("run ended: all clients finished"), "{text}");
}

/// The buggy client's echo also arrives after the heal, late: it drops it and never
/// finishes. The failure now says so: every fault had healed, so the bug is the client's.
#[test]
fn a_liveness_bug_that_only_shows_after_faults_heal_is_told_apart() {
    let verdict = judge(&impatient(false), &long_partition()).expect("runs");
    assert_eq!(
        verdict.signature().as_deref(),
        Some("finished"),
        "{verdict}"
    );
    let finished = failure_of(&verdict, "finished");
    assert!(
        finished.contains(
            "the duration ran out before c1 finished (1000ms after every fault healed at \
             2000ms (liveness phase): a liveness bug, not the network)"
        ),
        "{finished}"
    );
    let eventually = failure_of(&verdict, "every-reply-accepted");
    assert!(
        eventually.contains("0 of 1 replies accepted (1000ms after every fault healed"),
        "{eventually}"
    );
}

/// What heals besides partitions: a crashed host that the plan never restarts comes back,
/// latency returns to 1 ms, re-chunked reads and partial writes stop, and a fault triggered
/// by an event no longer fires.
#[test]
fn the_liveness_phase_restarts_crashed_hosts_quiets_the_network_and_disarms_the_plan() {
    let scenario = Scenario::echo("heals-everything", 1024, 256)
        .keep_payloads()
        .starting_at(900)
        .duration_ms(1_000)
        .settle_ms(2_000);
    let plan = FaultPlan {
        latency: Some(Latency {
            min_ms: 50,
            max_ms: 60,
        }),
        partial_writes: Some(PartialWrites {
            average: 3,
            variation: 2,
        }),
        read_chunks: Some(ReadChunks::new(3)),
        faults: vec![
            Fault::at(
                1,
                FaultKind::Crash {
                    host: "server".into(),
                    restart_after_ms: None,
                },
            ),
            Fault::after(
                EventTrigger {
                    conn: "c1".into(),
                    callback: "received".into(),
                    nth: 1,
                },
                FaultKind::Reset { conn: "c1".into() },
            ),
        ],
        ..FaultPlan::quiet(Seed(3))
    };
    let verdict = judge(&scenario, &plan).expect("runs");
    assert!(verdict.passed(), "{verdict}");
    let Liveness::Settled { healed, .. } = &verdict.outcome.liveness else {
        panic!("expected a liveness phase: {:?}", verdict.outcome.liveness);
    };
    assert_eq!(
        healed,
        &[
            "#0 crash server",
            "latency other than the quiet 1ms",
            "chunking policies partial_writes, read_chunks",
        ]
    );
    assert_eq!(verdict.outcome.fired.get("reset"), None, "disarmed");
    let events = verdict.outcome.trace.events();
    let restart = (events.iter())
        .position(|e| matches!(&e.kind, EventKind::Fault { step: FaultStep::Restarted { host }, .. } if host == "server"))
        .expect("the server restarts");
    assert_eq!(events[restart].at_us, 1_000_000);
    // After the phase began, nothing is sliced or re-chunked, each message takes 1 ms, and a
    // read takes what arrived together: the client's four writes of 256 bytes, and so their
    // echo, come whole in one delivery.
    let c1: Vec<_> = events[restart..].iter().filter(|e| e.who == "c1").collect();
    let connected = c1
        .iter()
        .find(|e| e.callback().is_some_and(|c| c.name() == "connected"));
    assert!(connected.is_some_and(|e| e.at_us <= 1_003_000), "{c1:?}");
    let deliveries: Vec<usize> = (c1.iter())
        .filter_map(|e| match e.callback() {
            Some(tcpnotify::record::Callback::Received { data, .. }) => Some(data.len()),
            _ => None,
        })
        .collect();
    assert_eq!(deliveries, [1024], "joined once calm");
}

/// Registrations the backend got.
#[derive(Default)]
struct Registrations(usize);

/// A listener that registers with `backend` as it starts listening (a listener's dial from
/// `listening`), as a service announcing itself does, and echoes its peers.
struct Announcing;

impl tcpnotify::TcpListenNotify for Announcing {
    fn listening(&mut self, listener: &mut tcpnotify::TcpListener) {
        listener.dial(Announcement, "backend", "7000");
    }
    fn not_listening(&mut self, _listener: &mut tcpnotify::TcpListener) {}
    fn connected(
        &mut self,
        _listener: &mut tcpnotify::TcpListener,
    ) -> Option<Box<dyn TcpConnectionNotify>> {
        Some(Box::new(Echo))
    }
}

/// Announces itself by connecting, and closes.
struct Announcement;

impl TcpConnectionNotify for Announcement {
    fn connected(&mut self, conn: &mut TcpConnection) {
        conn.close();
    }
    fn connect_failed(&mut self, _conn: &mut TcpConnection, _reason: ConnectFailure) {}
}

/// Counts the announcements: the connections it accepts.
struct Registrar;

impl TcpConnectionNotify for Registrar {
    fn accepted(&mut self, _conn: &mut TcpConnection) {
        if let Some(registrations) = run_state::<Registrations>() {
            registrations.lock().0 += 1;
        }
    }
    fn connect_failed(&mut self, _conn: &mut TcpConnection, _reason: ConnectFailure) {}
}

/// A crash whose restart comes after every client finished: the run goes on to the restart,
/// where the restarted host's listener announces itself again, rather than ending before it
/// (it ended as soon as the clients finished and nothing was open, and a host due to restart
/// never did). The hub crashes as its one client connects, so only the restarted hub's
/// announcement can reach the backend after the crash.
#[test]
fn a_run_does_not_end_while_a_crashed_host_is_due_to_restart() {
    let scenario = Scenario::new("restart-after-the-clients")
        .listener("backend", "backend", 7000, factory(|| Registrar))
        .listener_with(
            "hub",
            "hub",
            7000,
            tcpnotify_sim::scenario::listen_factory(|| Announcing),
        )
        .client("c1", "client", "hub", 7000, factory(|| Echo))
        .duration_ms(1000);
    let plan = FaultPlan {
        faults: vec![Fault::after(
            EventTrigger {
                conn: "c1".into(),
                callback: "connected".into(),
                nth: 1,
            },
            FaultKind::Crash {
                host: "hub".into(),
                restart_after_ms: Some(74),
            },
        )],
        ..FaultPlan::quiet(Seed(1))
    };
    let verdict = judge(&scenario, &plan).expect("runs");
    let trace = verdict.outcome.trace.render_text();
    assert!(trace.contains("FAULT #0 restarted hub"), "{trace}");
    assert!(trace.contains("hub#2 listening"), "{trace}");
    let registrations = verdict
        .outcome
        .context
        .state::<Registrations>()
        .map_or(0, |r| r.lock().0);
    assert_eq!(registrations, 2, "{trace}");
}

/// A simulator defect, fixed: segments the faults left small stayed small after they healed.
/// Reads of 1–16 bytes that never join two writes, with a send buffer of 4,773 bytes, made
/// the client's writes as small as the server's reads (its window refills by what was read),
/// and each of the server's deliveries took one such segment, one a millisecond: a second
/// after every fault healed the echo of 20,000 bytes was still 580 short. A read in the
/// liveness phase now takes every byte that arrived, as a working network's socket does.
#[test]
fn segments_the_faults_left_small_are_joined_once_they_heal() {
    let scenario = Scenario::new("paced-echo")
        .listener("server", "server", 7000, factory(|| PacedEcho))
        .client(
            "c1",
            "client",
            "server",
            7000,
            factory(|| tcpnotify_sim::notifiers::Sender::pattern(20_000).chunked(700)),
        )
        .duration_ms(3_000)
        .expecting(tcpnotify_sim::Expectations {
            echoed: true,
            ..tcpnotify_sim::Expectations::default()
        });
    let mut plan = FaultPlan::quiet(Seed(14));
    plan.send_buffer = Some(4773);
    plan.read_chunks = Some(ReadChunks {
        max: 16,
        coalesce: false,
    });
    let verdict = judge(&scenario, &plan).expect("runs");
    assert!(verdict.passed(), "{verdict}");
    // The faults were in force to the end of the active duration: it was the liveness
    // phase that let the echo finish.
    assert!(
        matches!(verdict.outcome.liveness, Liveness::Settled { .. }),
        "{verdict}"
    );
}
