//! Many clients on one listener: every connect attempt fits turmoil's backlog, a listener at
//! its limit makes peers wait however long, and a host past a real limit is refused before the
//! run starts. (1,000 clients at once: `scenarios/many-clients-1000.toml`.)

use std::time::Duration;
use tcpnotify_sim::fault::{Fault, FaultKind, FaultPlan, Latency};
use tcpnotify_sim::notifiers::{
    BulkWriter, Echo, LineClient, LineServer, Proxy, Sender, SlowReader,
};
use tcpnotify_sim::run::{run, Ended, RunError};
use tcpnotify_sim::run::{LimitError, RunOutcome, EPHEMERAL_PORTS};
use tcpnotify_sim::scenario::LogFilter;
use tcpnotify_sim::{factory, run_passing, seed_or, Expectations, Scenario, Seed};

/// A scenario with `n` clients named `c-1` to `c-n`, each added by `make`.
fn crowd(name: &str, n: usize, make: impl Fn(Scenario, &str) -> Scenario) -> Scenario {
    (1..=n).fold(Scenario::new(name), |s, i| make(s, &format!("c-{i}")))
}

/// N3: a listener with limit 10 and 100 clients dialling at once, each connection living
/// 140ms (3 requests over a 20ms link), with a 250ms connect timeout. The listener stops
/// accepting at its limit and peers wait in its backlog, however long: a SYN waiting there is
/// not lost, so it counts nothing toward the connect timeout (a kernel completes those
/// handshakes from the backlog: difference S1). Every peer is accepted, ten at a time as
/// slots free, and none times out. No panic, and the run finishes.
#[test]
fn n3_peers_of_a_listener_at_its_limit_wait_in_its_backlog_past_the_connect_timeout() {
    let mut scenario = crowd("limit-crowd", 100, |s, name| {
        s.client(
            name,
            "client",
            "server",
            7000,
            factory(|| LineClient::new(3)),
        )
    })
    .listener("server", "server", 7000, factory(LineServer::default))
    .plan(FaultPlan {
        connect_timeout_ms: 250,
        faults: vec![Fault::at(
            0,
            FaultKind::Latency {
                a: "client".into(),
                b: "server".into(),
                latency_ms: 20,
                max_latency_ms: None,
            },
        )],
        ..FaultPlan::quiet(Seed(0))
    });
    scenario.listeners[0].limit = 10;
    let outcome = run_passing(&scenario, seed_or(1));
    assert_eq!(outcome.ended, Ended::AllFinished);
    let events = outcome.trace.events();
    let at_ms = |text: &str| {
        (events.iter())
            .filter(|e| e.callback().is_some_and(|c| c.to_string() == text))
            .map(|e| e.at_us / 1000)
            .collect::<Vec<_>>()
    };
    let (accepted, connected) = (at_ms("accepted"), at_ms("connected"));
    assert_eq!((accepted.len(), connected.len()), (100, 100));
    assert_eq!(at_ms("connect_failed(timed out)"), [0; 0], "none times out");
    assert_eq!(at_ms("connect_failed(refused)"), [0; 0]);
    // Ten waves of ten, accepted at 20ms, 160ms, ..., 1280ms (a connection lives 140ms): all
    // but the first long past the 250ms timeout.
    let mut waves = std::collections::BTreeMap::<u64, usize>::new();
    for at in accepted {
        *waves.entry(at).or_default() += 1;
    }
    let expected: std::collections::BTreeMap<u64, usize> =
        (0..10).map(|wave| (20 + 140 * wave, 10)).collect();
    assert_eq!(waves, expected);
}

/// N3, S1: a listener with limit 1 whose one connection a slow reader holds for 1.5s, longer
/// than the 1s connect timeout, and a second client waiting in its backlog meanwhile: it is
/// accepted once the first connection closes, and does not time out (until the fifteenth
/// session it failed with `connect_failed(timed out)` at 1s, a false red of the simulator).
#[test]
fn n3_a_peer_behind_a_slow_holder_of_a_listeners_one_slot_is_accepted_after_the_timeout() {
    let scenario = crowd("limit-slow-holder", 2, |s, name| {
        s.client(
            name,
            "client",
            "server",
            7000,
            factory(|| BulkWriter::new(10, 10)),
        )
    })
    .listener(
        "server",
        "server",
        7000,
        factory(|| SlowReader::new(Duration::from_millis(1500), 10)),
    )
    .expecting(Expectations {
        connect_failed: Some(0),
        accepted: Some(2),
        closed: Some(4),
        ..Expectations::default()
    });
    let mut scenario = scenario;
    scenario.listeners[0].limit = 1;
    let outcome = run_passing(&scenario, seed_or(1));
    assert_eq!(outcome.plan.connect_timeout_ms, 1000);
    let connected = (outcome.trace.events().iter())
        .filter(|e| e.callback().is_some_and(|c| c.to_string() == "connected"))
        .map(|e| e.at_us / 1000)
        .collect::<Vec<_>>();
    assert_eq!(connected.len(), 2);
    assert!(
        connected[1] > 1500,
        "the second waits out the first: {connected:?}"
    );
}

/// A host whose clients dial more connect attempts than it has ephemeral ports is refused by
/// validation, naming the client where it goes over, before anything runs: clients are at most
/// 10,000 per scenario, so the host here dials a name of two addresses (two attempts each).
#[test]
fn a_client_host_past_its_ephemeral_ports_is_refused_before_the_run() {
    let clients = EPHEMERAL_PORTS / 2 + 1;
    let scenario = crowd("too-many", clients, |s, name| {
        s.client(name, "client", "svc", 7000, factory(|| Echo))
    })
    .listener("server", "server", 7000, factory(|| Echo))
    .listener("server2", "server2", 7000, factory(|| Echo))
    .name("svc", &["server", "server2"])
    .expecting(Expectations::default());
    match run(&scenario, &FaultPlan::quiet(Seed(1))) {
        Err(RunError::Scenario(e)) => {
            assert_eq!(e.field, format!("clients[{}].host", clients - 1));
            assert!(e.message.contains("ephemeral ports"), "{e}");
        }
        other => panic!(
            "expected the ephemeral port limit, got {:?}",
            other.map(|o| o.ended)
        ),
    }
}

/// The SYNs a plan's crashes make clients send again count too: 6,000 clients of a host that
/// crashes and restarts may make 18,000 attempts. The runner refuses the run before it starts,
/// naming what to change, instead of a panic inside turmoil.
#[test]
fn a_plan_whose_crashes_take_a_host_past_its_ephemeral_ports_is_refused_before_the_run() {
    let scenario = crowd("crashing-crowd", 6000, |s, name| {
        s.client(name, "client", "server", 7000, factory(|| Echo))
    })
    .listener("server", "server", 7000, factory(|| Echo))
    .expecting(Expectations::default());
    let plan = FaultPlan {
        faults: vec![Fault::at(
            5,
            FaultKind::Crash {
                host: "server".into(),
                restart_after_ms: Some(10),
            },
        )],
        ..FaultPlan::quiet(Seed(1))
    };
    match run(&scenario, &plan) {
        Err(RunError::Limit(LimitError::EphemeralPorts { host, attempts })) => {
            assert_eq!((host.as_str(), attempts), ("client", 18_000));
        }
        other => panic!(
            "expected the ephemeral port limit, got {:?}",
            other.map(|o| o.ended)
        ),
    }
}

/// Hosts that run nothing and that no client dials are left out of turmoil (issue 12): an
/// echo beside 200 of them still finishes, and one of them can still be crashed and
/// restarted by the plan.
#[test]
fn idle_hosts_run_nothing_and_can_still_crash_and_restart() {
    let scenario = (0..200)
        .fold(Scenario::echo("idle-hosts", 4 * 1024, 512), |s, i| {
            s.host(&format!("idle-{i}"))
        })
        .plan(FaultPlan {
            faults: vec![Fault::at(
                1,
                FaultKind::Crash {
                    host: "idle-7".into(),
                    restart_after_ms: Some(1),
                },
            )],
            ..FaultPlan::quiet(Seed(0))
        });
    let outcome = run_passing(&scenario, seed_or(1));
    assert_eq!(outcome.ended, Ended::AllFinished);
    let text = outcome.trace.render_text();
    assert!(text.contains("FAULT #0 crash idle-7"), "{text}");
    assert!(text.contains("restarted idle-7"), "{text}");
}

/// A host that runs nothing, left out of turmoil, is still a silent end, as a host whose
/// software ended was: a proxy's onward connect to it gets no answer and times out at the
/// plan's connect timeout (turmoil itself refuses at once a connect to an address it has no
/// link to). The plan's varying latency, a latency fault on every link of the proxy's host
/// and the liveness phase's quiet latency all pass its missing links by.
#[test]
fn a_connect_to_a_host_that_runs_nothing_gets_no_answer_and_times_out() {
    const TIMEOUT_MS: u64 = 400;
    let scenario = Scenario::new("silent-host")
        .listener(
            "proxy",
            "proxy",
            7000,
            factory(|| Proxy::new("spare", 7000)),
        )
        .client(
            "c1",
            "client",
            "proxy",
            7000,
            factory(|| Sender::pattern(300)),
        )
        .host("spare")
        // The liveness phase starts while the onward connect waits.
        .duration_ms(100)
        .settle_ms(1000);
    let plan = FaultPlan {
        latency: Some(Latency {
            min_ms: 1,
            max_ms: 7,
        }),
        connect_timeout_ms: TIMEOUT_MS,
        faults: vec![Fault::at(
            5,
            FaultKind::Latency {
                a: "proxy".into(),
                b: "*".into(),
                latency_ms: 3,
                max_latency_ms: Some(9),
            },
        )],
        ..FaultPlan::quiet(seed_or(1))
    };
    let outcome = run(&scenario, &plan).expect("a valid scenario");
    assert_eq!(outcome.ended, Ended::AllFinished);
    let events = outcome.trace.events();
    let at = |text: &str| {
        (events.iter())
            .filter(|e| e.callback().is_some_and(|c| c.to_string() == text))
            .map(|e| e.at_us)
            .collect::<Vec<_>>()
    };
    let (accepted, failed) = (at("accepted"), at("connect_failed(timed out)"));
    assert_eq!(at("connect_failed(refused)"), Vec::<u64>::new());
    assert_eq!(
        (accepted.len(), failed.len()),
        (1, 1),
        "{}",
        outcome.trace.render_text()
    );
    // The onward connect starts in `accepted`; its attempt waits out the whole timeout.
    assert!(
        failed[0] >= accepted[0] + TIMEOUT_MS * 1000,
        "accepted at {}us, onward connect failed at {}us",
        accepted[0],
        failed[0]
    );
}

/// Clients and a proxy dialling hosts that run nothing: `dead` by its own name, `svc` (an idle
/// host, a listener, an idle host) and `gone` (two idle hosts), which the proxy dials onward
/// and redials.
fn dials_of_idle_hosts() -> Scenario {
    let mut scenario = Scenario::new("idle-dialled")
        .listener("server", "server", 7000, factory(|| Echo))
        .listener(
            "proxy",
            "proxy",
            7000,
            factory(|| Proxy::new("gone", 7000).attempts(3)),
        )
        .client("c1", "client", "dead", 7000, factory(|| Sender::pattern(5)))
        .client(
            "c2",
            "client",
            "svc",
            7000,
            factory(|| Sender::pattern(300)),
        )
        .client(
            "c3",
            "client2",
            "proxy",
            7000,
            factory(|| Sender::pattern(100)),
        )
        .client(
            "c4",
            "client2",
            "dead",
            7000,
            factory(|| Sender::pattern(5)),
        )
        .name("svc", &["dead2", "server", "dead3"])
        .name("gone", &["dead4", "dead5"])
        .host("dead")
        .duration_ms(300)
        .settle_ms(200);
    scenario.clients[3].start_ms = 4;
    scenario
}

/// The faults [`dials_of_idle_hosts`] runs under: varying latency, a latency fault on a link
/// to an idle host, crashes of idle hosts while SYNs are on their way to them (restarted
/// before and after those are due, and never), a crash of a dialling host, a partition and a
/// refusal fault.
fn faults_on_idle_hosts(seed: u64) -> FaultPlan {
    let crash = |at, host: &str, restart_after_ms| {
        let host = host.to_string();
        Fault::at(
            at,
            FaultKind::Crash {
                host,
                restart_after_ms,
            },
        )
    };
    FaultPlan {
        latency: Some(Latency {
            min_ms: 1,
            max_ms: 9,
        }),
        connect_timeout_ms: 150,
        faults: vec![
            Fault::at(
                0,
                FaultKind::Latency {
                    a: "client".into(),
                    b: "dead".into(),
                    latency_ms: 10,
                    max_latency_ms: Some(30),
                },
            ),
            crash(3, "dead", Some(8)),
            crash(1, "dead2", Some(40)),
            crash(2, "dead4", None),
            crash(5, "client2", Some(10)),
            Fault::at(
                0,
                FaultKind::Partition {
                    a: "client".into(),
                    b: "dead3".into(),
                    duration_ms: 20,
                    one_way: false,
                },
            ),
            Fault::at(
                0,
                FaultKind::Refuse {
                    host: "dead5".into(),
                    port: 7000,
                    duration_ms: 15,
                },
            ),
        ],
        ..FaultPlan::quiet(Seed(seed))
    }
}

/// Every callback's time and text, in order.
fn callbacks(outcome: &RunOutcome) -> Vec<(u64, String)> {
    (outcome.trace.events().iter())
        .filter_map(|e| Some((e.at_us, format!("{} {}", e.who, e.callback()?))))
        .collect()
}

/// A host that runs nothing but that a client dials is left out of turmoil too (issue 12),
/// and refuses a SYN exactly when and as turmoil did with the host in it: the SYN is
/// delivered once its link's latency has passed, and the connect fails the step after; a
/// crashed host holds the SYNs due to it until it restarts, and one never restarted never
/// answers. The whole trace is the same, line for line, as the run's with those hosts in
/// turmoil, which a log filter that may record turmoil's trace-level events keeps them in
/// (this one records nothing), at every seed.
#[test]
fn a_dialled_host_that_runs_nothing_refuses_as_inside_turmoil() {
    let scenario = dials_of_idle_hosts();
    let inside = dials_of_idle_hosts().log_filter(LogFilter::new("nothing=trace").expect("valid"));
    let mut refused = 0;
    for seed in 0..30 {
        let plan = faults_on_idle_hosts(seed);
        let (left_out, kept) = (run(&scenario, &plan), run(&inside, &plan));
        let (left_out, kept) = (left_out.expect("runs"), kept.expect("runs"));
        let text = left_out.trace.render_text();
        assert_eq!(text, kept.trace.render_text(), "seed {seed}");
        refused += text.matches("connect_failed(refused)").count();
    }
    assert!(refused > 0, "no connect was refused");
}

/// When turmoil refuses a connect to a host that runs nothing, which the simulator now does
/// itself: the SYN arrives once the link's latency has passed (20 ms), and the connect fails
/// the step after (21 ms; no RST travels back). A crash of the host holds the SYN until its
/// restart (35 ms), when it is refused; the fault layer sees that the host restarted while its
/// SYN was out and dials again, and that SYN is refused 21 ms later (57 ms).
#[test]
fn a_dialled_host_that_runs_nothing_refuses_a_step_after_the_syn_arrives() {
    let scenario = Scenario::new("refused-by-idle")
        .client("c1", "client", "dead", 7000, factory(|| Sender::pattern(5)))
        .host("dead")
        .duration_ms(300);
    let latency = Fault::at(
        0,
        FaultKind::Latency {
            a: "client".into(),
            b: "dead".into(),
            latency_ms: 20,
            max_latency_ms: None,
        },
    );
    let crash = Fault::at(
        5,
        FaultKind::Crash {
            host: "dead".into(),
            restart_after_ms: Some(30),
        },
    );
    for (faults, refused_at_ms) in [(vec![latency.clone()], 21), (vec![latency, crash], 57)] {
        let plan = FaultPlan {
            faults,
            ..FaultPlan::quiet(seed_or(1))
        };
        let outcome = run(&scenario, &plan).expect("runs");
        let failed: Vec<_> = (callbacks(&outcome).into_iter())
            .filter(|(_, line)| line.starts_with("c1 connect_failed"))
            .collect();
        let expected = (
            refused_at_ms * 1000,
            "c1 connect_failed(refused)".to_string(),
        );
        assert_eq!(failed, vec![expected], "{}", outcome.trace.render_text());
    }
}

/// A correct echo of 600 KB in writes and reads cut to one or two bytes makes a callback every
/// byte or two: it once reached the trace's limit of a million events and failed, the swarm
/// drawing such cuts whatever the workload. Past half the limit the run stops cutting (a note
/// says so), and the echo finishes, judged whole.
#[test]
fn a_transfer_cut_to_single_bytes_stops_being_cut_before_the_trace_fills() {
    use tcpnotify_sim::fault::{PartialWrites, ReadChunks};
    let plan = FaultPlan {
        partial_writes: Some(PartialWrites {
            average: 2,
            variation: 1,
        }),
        read_chunks: Some(ReadChunks::new(2)),
        ..FaultPlan::quiet(seed_or(1))
    };
    assert_cutting_stops_before_the_trace_fills(
        Sender::pattern(600_000).chunked(16_384),
        &plan,
        "partial_writes and read_chunks stop",
    );
}

/// The same echo written at once and read back one byte at a time: the 600 KB wait whole at
/// the server, which reads them a byte per `received` and echoes each in one simulation
/// step. The run stops cutting as its trace passes half its limit, inside that step: checked
/// between steps, the stop came after the step had filled the trace, and the run failed
/// (false red, helper-69, a swarm sweep of a 600 KB echo drawing `read_chunks` of 1 byte).
#[test]
fn reads_cut_to_single_bytes_inside_one_step_stop_being_cut_before_the_trace_fills() {
    use tcpnotify_sim::fault::ReadChunks;
    let plan = FaultPlan {
        read_chunks: Some(ReadChunks::new(1)),
        ..FaultPlan::quiet(seed_or(1))
    };
    assert_cutting_stops_before_the_trace_fills(
        Sender::pattern(600_000),
        &plan,
        "read_chunks stop",
    );
}

/// Runs `sender` against an echo server under `plan`, which cuts writes or reads to a byte
/// or two, and checks that the run stopped cutting once, with a note saying `stopped`, past
/// half the trace's limit, and that the echo then finished and passed.
fn assert_cutting_stops_before_the_trace_fills(sender: Sender, plan: &FaultPlan, stopped: &str) {
    use tcpnotify_sim::validate::UNCUT_AFTER_TRACE_EVENTS;
    let scenario = Scenario::new("cut-echo")
        .listener("server", "server", 7000, factory(|| Echo))
        .client(
            "c1",
            "client",
            "server",
            7000,
            factory(move || sender.clone()),
        )
        .duration_ms(600_000)
        .expecting(Expectations {
            echoed: true,
            ..Expectations::default()
        });
    let outcome = run(&scenario, plan).expect("runs");
    assert_eq!(outcome.ended, Ended::AllFinished);
    let notes: Vec<(usize, String)> = (outcome.trace.events().into_iter().enumerate())
        .filter_map(|(line, e)| match e.kind {
            tcpnotify_sim::run::EventKind::Note { text } if text.contains("stop, writes") => {
                Some((line, text))
            }
            _ => None,
        })
        .collect();
    assert_eq!(notes.len(), 1, "{notes:?}");
    let (line, text) = &notes[0];
    assert!(*line >= UNCUT_AFTER_TRACE_EVENTS, "{text} at {line}");
    assert!(text.contains(stopped), "{text}");
    // What was left went whole: far fewer events after the note than before it.
    assert!(
        outcome.trace.len() < line + 100_000,
        "{}",
        outcome.trace.len()
    );
    let verdict = tcpnotify_sim::judge::judge_outcome(&scenario, outcome);
    assert!(verdict.passed(), "{verdict}");
}
