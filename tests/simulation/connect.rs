//! Connecting over the simulated network: refused, timed out, every address of a name
//! failing, and `connecting` counts during happy-eyeballs.

use crate::support::{callbacks_of, snapshot_trace};
use tcpnotify_sim::fault::{Fault, FaultKind, FaultPlan};
use tcpnotify_sim::fault::{FaultSettings, Span};
use tcpnotify_sim::notifiers::{Echo, LineClient, LineServer, Sender};
use tcpnotify_sim::run::{Ended, RunOutcome, TraceEvent};
use tcpnotify_sim::scenario::{factory, NotifierFactory, Scenario};
use tcpnotify_sim::{run_passing, seed_or, Expectations, Seed};

fn hello() -> NotifierFactory {
    factory(|| Sender::new(b"hello".to_vec()))
}

fn with_faults(faults: Vec<Fault>) -> FaultPlan {
    FaultPlan {
        faults,
        ..FaultPlan::quiet(Seed(0))
    }
}

fn partition(a: &str, b: &str, duration_ms: u64) -> FaultKind {
    FaultKind::Partition {
        a: a.into(),
        b: b.into(),
        duration_ms,
        one_way: false,
    }
}

/// The link between `client` and `server` takes 20ms each way, from the start.
fn slow_link() -> Fault {
    Fault::at(
        0,
        FaultKind::Latency {
            a: "client".into(),
            b: "server".into(),
            latency_ms: 20,
            max_latency_ms: None,
        },
    )
}

/// Host `server` crashes at `at_ms`, and restarts `restart_after_ms` later if given.
fn crash(at_ms: u64, restart_after_ms: Option<u64>) -> Fault {
    Fault::at(
        at_ms,
        FaultKind::Crash {
            host: "server".into(),
            restart_after_ms,
        },
    )
}

/// The time at which `who`'s first callback `name` came, in ms.
fn first_at_ms(outcome: &RunOutcome, who: &str, name: &str) -> Option<u64> {
    (outcome.trace.events().into_iter())
        .find(|e| e.who == who && e.callback().is_some_and(|c| c.name() == name))
        .map(|e| e.at_us / 1000)
}

/// `who`, dialling `server:7000`, failed with `connect_failed(timed out)` at `at_ms`: the
/// connect timeout.
fn assert_timed_out_at(outcome: &RunOutcome, who: &str, at_ms: u64) {
    assert_eq!(
        callbacks_of(outcome, who),
        [
            "proxy_via(server, 7000)",
            "connecting(1)",
            "connect_failed(timed out)"
        ]
    );
    assert_eq!(
        first_at_ms(outcome, who, "connect_failed"),
        Some(at_ms),
        "the failure comes at the connect timeout"
    );
}

/// C3, C4: a host with nothing listening refuses at once.
#[test]
fn c4_connect_failed_refused_when_nothing_listens() {
    let scenario = Scenario::new("connect-refused")
        .host("dead")
        .client("c1", "client", "dead", 7000, hello())
        .faults(FaultSettings::quiet());
    let outcome = run_passing(&scenario, seed_or(1));
    assert_eq!(
        callbacks_of(&outcome, "c1"),
        [
            "proxy_via(dead, 7000)",
            "connecting(1)",
            "connect_failed(refused)"
        ]
    );
    snapshot_trace("connect_refused", &outcome);
}

/// C4: SYNs lost in a partition: the attempt times out after the connect timeout (1s), unlike
/// a refusal, which is immediate (ponyc #4873: refused vs black-holed).
#[test]
fn c4_connect_failed_timed_out_across_a_partition() {
    let scenario = Scenario::new("connect-timed-out")
        .listener("server", "server", 7000, factory(|| Echo))
        .client("c1", "client", "server", 7000, hello())
        .plan(with_faults(vec![Fault::at(
            0,
            partition("client", "server", 5000),
        )]));
    let outcome = run_passing(&scenario, seed_or(1));
    assert_timed_out_at(&outcome, "c1", 1000);
    snapshot_trace("connect_timed_out", &outcome);
}

/// C3, C4: a name with two addresses, both refusing: counts 2, 1, then `connect_failed`.
#[test]
fn c4_connect_failed_after_every_address_fails() {
    let scenario = Scenario::new("connect-all-addresses-fail")
        .name("svc", &["dead1", "dead2"])
        .client("c1", "client", "svc", 7000, hello())
        .faults(FaultSettings::quiet());
    let outcome = run_passing(&scenario, seed_or(1));
    assert_eq!(
        callbacks_of(&outcome, "c1"),
        [
            "proxy_via(svc, 7000)",
            "connecting(2)",
            "connecting(1)",
            "connect_failed(refused)"
        ]
    );
    snapshot_trace("connect_all_addresses_fail", &outcome);
}

/// C2, C3: the dead first address refuses before the live one answers (it is 20ms away):
/// `connecting(2)`, `connecting(1)`, `connected`.
#[test]
fn c3_happy_eyeballs_counts_down_then_connects() {
    let scenario = Scenario::new("happy-eyeballs-refused-first")
        .name("svc", &["dead", "server"])
        .listener("server", "server", 7000, factory(|| Echo))
        .client("c1", "client", "svc", 7000, hello())
        .plan(with_faults(vec![slow_link()]));
    let outcome = run_passing(&scenario, seed_or(1));
    assert_eq!(
        callbacks_of(&outcome, "c1")[..4],
        [
            "proxy_via(svc, 7000)",
            "connecting(2)",
            "connecting(1)",
            "connected"
        ]
    );
    snapshot_trace("happy_eyeballs_refused_first", &outcome);
}

/// C2: a black-holed first address does not hold the connection up: the live one wins, and
/// the abandoned attempt never produces a callback.
#[test]
fn c2_happy_eyeballs_live_address_wins_over_a_black_hole() {
    let scenario = Scenario::new("happy-eyeballs-black-hole")
        .name("svc", &["hole", "server"])
        .listener("server", "server", 7000, factory(|| Echo))
        .client("c1", "client", "svc", 7000, hello())
        .plan(with_faults(vec![Fault::at(
            0,
            partition("client", "hole", 60_000),
        )]));
    let outcome = run_passing(&scenario, seed_or(1));
    let c1 = callbacks_of(&outcome, "c1");
    assert_eq!(
        c1[..3],
        ["proxy_via(svc, 7000)", "connecting(2)", "connected"]
    );
    assert!(!c1.iter().any(|c| c.starts_with("connect_failed")));
    snapshot_trace("happy_eyeballs_black_hole", &outcome);
}

/// C2: a name with two live addresses, both listening. Both SYNs can be accepted before the
/// client picks its winner; the losing attempt is then abandoned, and the server's accepted
/// connection for it must see its peer go away (`closed`) as on real sockets, so the run
/// finishes. Swept over seeds with a 1..3ms latency so either address may win, or both
/// accept in the same step.
#[test]
fn c2_losing_attempt_accepted_by_a_live_listener_ends_on_every_seed() {
    let scenario = Scenario::new("happy-eyeballs-two-live")
        .name("svc", &["s1", "s2"])
        .listener("a", "s1", 7000, factory(|| Echo))
        .listener("b", "s2", 7000, factory(|| Echo))
        .client("c1", "client", "svc", 7000, hello())
        .faults(FaultSettings {
            latency_ms: Some(Span::new(1, 3)),
            ..FaultSettings::default()
        })
        .expecting(Expectations {
            echoed: true,
            connect_failed: Some(0),
            ..Expectations::default()
        });
    let mut extra_connections = 0;
    for seed in 0..200 {
        let outcome = run_passing(&scenario, Seed(seed));
        assert_eq!(outcome.ended, Ended::AllFinished, "seed {seed}");
        let events = outcome.trace.events();
        let count = |name: &str| server_callbacks(&events, name);
        assert_eq!(
            count("accepted"),
            count("closed"),
            "seed {seed}: every accepted connection closed"
        );
        if count("accepted") == 2 {
            extra_connections += 1;
        }
    }
    assert!(
        extra_connections > 0,
        "no seed made the short-lived extra connection"
    );
}

/// C2: a name of more addresses than tokio's cooperative budget (128 operations a poll): the
/// client's task drops every losing attempt at once, and each accepted one must still be
/// closed. The attempts dropped after the 128th found their SYN-ACK pending for want of
/// budget, and their accepted peers stayed open to the end of the run. 200 servers, a
/// listener each, as a name lists each host once.
#[test]
fn c2_every_losing_attempt_ends_past_tokios_task_budget() {
    let servers: Vec<String> = (0..200).map(|i| format!("server{i}")).collect();
    let addresses: Vec<&str> = servers.iter().map(String::as_str).collect();
    let scenario = (servers.iter().enumerate())
        .fold(
            Scenario::new("happy-eyeballs-many-addresses"),
            |s, (i, host)| s.listener(&format!("srv{i}"), host, 7000, factory(|| Echo)),
        )
        .name("svc", &addresses)
        .client("c1", "client", "svc", 7000, hello())
        // Every host steps every simulated millisecond: a run left with open connections
        // (the bug) lasts to its end, and 201 hosts' ten seconds took minutes.
        .duration_ms(100)
        .settle_ms(100)
        .faults(FaultSettings::quiet())
        .expecting(Expectations {
            echoed: true,
            connect_failed: Some(0),
            ..Expectations::default()
        });
    let outcome = run_passing(&scenario, Seed(1));
    assert_eq!(outcome.ended, Ended::AllFinished);
    let events = outcome.trace.events();
    let count = |name: &str| server_callbacks(&events, name);
    assert_eq!((count("accepted"), count("closed")), (200, 200));
}

/// How many `name` callbacks the trace's server-side connections (all but client `c1`) ran.
fn server_callbacks(events: &[TraceEvent], name: &str) -> usize {
    (events.iter())
        .filter(|e| e.who != "c1" && e.callback().is_some_and(|c| c.name() == name))
        .count()
}

/// C3, C4: connects to a crashed host behave like TCP's. The server host crashes at 10ms and
/// restarts at 1010ms; the connect timeout is 300ms. `down` dials at 100ms: its SYNs are lost
/// with the host, so it times out at 400ms (`connect_failed(timed out)`, not `refused`).
/// `over` dials at 900ms: its SYN is retransmitted once the host is back and its listener
/// accepts it. `after` dials at 1100ms, once the restarted listener is up, and connects.
/// `over` connects as soon as the host is back, not at TCP's next retransmission: difference S2
/// of `docs/contract.md`, "Where the simulator differs".
#[test]
fn c4_connect_to_a_crashed_host_times_out_and_succeeds_after_the_restart() {
    let scenario = Scenario::new("connect-crashed-host")
        .listener("server", "server", 7000, factory(|| Echo))
        .client("down", "client", "server", 7000, hello())
        .starting_at(100)
        .client("over", "client", "server", 7000, hello())
        .starting_at(900)
        .client("after", "client", "server", 7000, hello())
        .starting_at(1100)
        .plan(FaultPlan {
            connect_timeout_ms: 300,
            ..with_faults(vec![crash(10, Some(1000))])
        })
        .expecting(Expectations {
            connect_failed: Some(1),
            accepted: Some(2),
            ..Expectations::default()
        });
    let outcome = run_passing(&scenario, seed_or(1));
    assert_timed_out_at(&outcome, "down", 400);
    for who in ["over", "after"] {
        assert_eq!(
            callbacks_of(&outcome, who)[..3],
            ["proxy_via(server, 7000)", "connecting(1)", "connected"],
            "{who}"
        );
        assert_eq!(
            callbacks_of(&outcome, who).last().map(String::as_str),
            Some("closed")
        );
    }
    assert_eq!(
        first_at_ms(&outcome, "over", "connected"),
        Some(1011),
        "once the host is back"
    );
    snapshot_trace("connect_crashed_host", &outcome);
}

/// C4: a SYN already in flight when its host crashes is lost with it. turmoil holds it and
/// delivers it to the restarted host before its listener is back, which would refuse a
/// connect that TCP's retransmission completes: the SYN is sent again. The link takes 20ms;
/// the host crashes at 10ms and restarts at 110ms, within the 1s connect timeout. It is sent
/// again as soon as the host is back: difference S2 of `docs/contract.md`.
#[test]
fn c4_a_syn_lost_in_a_crash_is_sent_again_after_the_restart() {
    let scenario = Scenario::new("connect-syn-lost-in-crash")
        .listener("server", "server", 7000, factory(|| Echo))
        .client("c1", "client", "server", 7000, hello())
        .plan(with_faults(vec![slow_link(), crash(10, Some(100))]))
        .expecting(Expectations {
            connect_failed: Some(0),
            accepted: Some(1),
            echoed: true,
            ..Expectations::default()
        });
    let outcome = run_passing(&scenario, seed_or(1));
    assert_eq!(
        callbacks_of(&outcome, "c1")[..3],
        ["proxy_via(server, 7000)", "connecting(1)", "connected"]
    );
    snapshot_trace("connect_syn_lost_in_crash", &outcome);
}

/// A line server of limit 1 under `plan`, `holder` (`requests` of them, from `start_ms`)
/// and `waiter` (one request, from `waiter_ms`) dialling it; no connect may fail.
fn holder_and_waiter(
    name: &str,
    (requests, start_ms): (usize, u64),
    waiter_ms: u64,
    plan: FaultPlan,
) -> Scenario {
    let mut scenario = Scenario::new(name)
        .listener("server", "server", 7000, factory(LineServer::default))
        .client(
            "holder",
            "client",
            "server",
            7000,
            factory(move || LineClient::new(requests)),
        )
        .starting_at(start_ms)
        .client(
            "waiter",
            "client",
            "server",
            7000,
            factory(|| LineClient::new(1)),
        )
        .starting_at(waiter_ms)
        .plan(plan)
        .expecting(Expectations {
            connect_failed: Some(0),
            ..Expectations::default()
        });
    scenario.listeners[0].limit = 1;
    scenario
}

/// `waiter` connected, at its one attempt.
fn assert_waiter_connected(outcome: &RunOutcome) {
    assert_eq!(
        callbacks_of(outcome, "waiter")[..3],
        ["proxy_via(server, 7000)", "connecting(1)", "connected"]
    );
}

/// C4: turmoil's restart of a running host (a second crash's restart, after the first one's)
/// drops its listener's backlog: a SYN waiting there is lost and sent again, so the connect
/// succeeds on the new listener instead of being refused. The server (limit 1, links of 20ms)
/// crashes at 10ms and again at 50ms while down; it restarts at 110ms and, running, at 200ms.
/// `holder` takes the restarted listener's one slot at 140ms; `waiter` dials at 130ms and
/// waits in the backlog until the restart at 200ms, then connects to `server#3`.
#[test]
fn c4_a_syn_in_the_backlog_of_a_restarted_host_is_sent_again() {
    let scenario = holder_and_waiter(
        "connect-backlog-of-restarted-host",
        (5, 120),
        130,
        with_faults(vec![
            slow_link(),
            crash(10, Some(100)),
            crash(50, Some(150)),
        ]),
    );
    let outcome = run_passing(&scenario, seed_or(1));
    assert_waiter_connected(&outcome);
    let text = outcome.trace.render_text();
    assert!(text.contains("server#3.1 accepted"), "{text}");
    snapshot_trace("connect_backlog_of_restarted_host", &outcome);
}

/// C4: a SYN in flight when its host crashes is lost from when it left. The client's link
/// takes 20ms, the server crashes at 10ms, and turmoil holds the SYN until the server
/// restarts: at 510ms, past the 300ms connect timeout, or never. Either way the connect times
/// out 300ms after the SYN left, not 300ms after the crash, as a connect to a host already
/// down does. A SYN waiting in a live backlog counts nothing toward the timeout
/// (`n3_peers_of_a_listener_at_its_limit_wait_in_its_backlog_past_the_connect_timeout`,
/// `tests/simulation/scale.rs`); one that a crash caught on its way counts. Two clients
/// dial together: the crash loses every SYN out to the host, not only one of them.
#[test]
fn c4_a_syn_in_flight_when_its_host_crashes_is_lost_from_when_it_left() {
    for restart_after_ms in [Some(500), None] {
        let scenario = Scenario::new("connect-syn-in-flight-crash")
            .listener("server", "server", 7000, factory(|| Echo))
            .client("c1", "client", "server", 7000, hello())
            .client("c2", "client", "server", 7000, hello())
            .plan(FaultPlan {
                connect_timeout_ms: 300,
                ..with_faults(vec![slow_link(), crash(10, restart_after_ms)])
            })
            .expecting(Expectations {
                connect_failed: Some(2),
                accepted: Some(0),
                ..Expectations::default()
            });
        let outcome = run_passing(&scenario, seed_or(1));
        assert_timed_out_at(&outcome, "c1", 300);
        assert_timed_out_at(&outcome, "c2", 300);
    }
}

/// C4, S1: a SYN that a crash caught on its way is lost only until the host is back: turmoil
/// then delivers it to the restarted listener's backlog, where it waits uncounted like any
/// other. The server (limit 1, connect timeout 300ms) crashes at 345ms and restarts at
/// 350ms; `waiter`'s SYN left at 340ms over a 20ms link, `holder` (on a 4ms link) takes the
/// restarted listener's one slot at 356ms and holds it for 40 requests, so `waiter` waits in
/// the backlog past its timeout and connects at its one attempt.
#[test]
fn c4_a_syn_a_crash_caught_on_its_way_waits_uncounted_in_the_restarted_backlog() {
    let link = |a: &str, latency_ms| {
        Fault::at(
            0,
            FaultKind::Latency {
                a: a.into(),
                b: "server".into(),
                latency_ms,
                max_latency_ms: None,
            },
        )
    };
    let mut scenario = Scenario::new("connect-syn-in-flight-then-backlog")
        .listener("server", "server", 7000, factory(LineServer::default))
        .client(
            "holder",
            "near",
            "server",
            7000,
            factory(|| LineClient::new(40)),
        )
        .starting_at(352)
        .client(
            "waiter",
            "client",
            "server",
            7000,
            factory(|| LineClient::new(1)),
        )
        .starting_at(340)
        .plan(FaultPlan {
            connect_timeout_ms: 300,
            ..with_faults(vec![
                link("client", 20),
                link("near", 4),
                crash(345, Some(5)),
            ])
        })
        .expecting(Expectations {
            connect_failed: Some(0),
            ..Expectations::default()
        });
    scenario.listeners[0].limit = 1;
    let outcome = run_passing(&scenario, seed_or(1));
    assert_waiter_connected(&outcome);
    let connected = first_at_ms(&outcome, "waiter", "connected").expect("connected");
    assert!(
        connected > 640,
        "past the timeout from when it left: {connected}ms"
    );
    let text = outcome.trace.render_text();
    assert!(text.contains("server#2.2 accepted"), "{text}");
}

/// C4, S1: a SYN waiting in a live listener's backlog is not lost, however long it waits; a
/// crash that drops the backlog loses it, and it is sent again once the host is back. The
/// server (limit 1, links of 20ms, connect timeout 300ms) is held by `holder` for 30
/// requests; `waiter` waits in its backlog from 30ms until the crash at 600ms, twice the
/// timeout, and connects to the restarted `server#2` after 700ms.
#[test]
fn c4_a_syn_that_waited_in_a_backlog_past_the_timeout_is_sent_again_after_a_crash() {
    let scenario = holder_and_waiter(
        "connect-backlog-then-crash",
        (30, 0),
        10,
        FaultPlan {
            connect_timeout_ms: 300,
            ..with_faults(vec![slow_link(), crash(600, Some(100))])
        },
    );
    let outcome = run_passing(&scenario, seed_or(1));
    assert_waiter_connected(&outcome);
    let connected = first_at_ms(&outcome, "waiter", "connected").expect("connected");
    assert!(connected >= 700, "after the restart: {connected}ms");
    let text = outcome.trace.render_text();
    assert!(text.contains("server#2.1 accepted"), "{text}");
}
