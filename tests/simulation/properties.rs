//! Open properties: a scenario's own named properties over the whole run, assertions made
//! from inside notifiers (`always`, `sometimes`, `reachable`), and the state every notifier
//! of one run shares.

use std::panic::{catch_unwind, AssertUnwindSafe};
use tcpnotify::record::Callback;
use tcpnotify::{ConnectFailure, TcpConnection, TcpConnectionNotify};
use tcpnotify_sim::explore::{shrink, sweep, SweepOptions};
use tcpnotify_sim::fault::{
    Fault, FaultKind, FaultPlan, FaultSettings, Latency, PartialWrites, ReadChunks, Span,
};
use tcpnotify_sim::judge::{judge, RunView, Verdict};
use tcpnotify_sim::notifiers::{Echo, Sender};
use tcpnotify_sim::run::EventKind;
use tcpnotify_sim::{
    always, factory, in_run, reachable, run_state, sometimes, Chaos, Scenario, Seed,
};

/// The sizes of the deliveries to `who`.
fn deliveries(run: &RunView<'_>, who: &str) -> Vec<usize> {
    (run.events().iter())
        .filter(|e| e.who == who)
        .filter_map(|e| match e.callback() {
            Some(Callback::Received { data, .. }) => Some(data.len()),
            _ => None,
        })
        .collect()
}

/// An echo whose client must never get a delivery under 16 bytes: false once reads are
/// re-chunked.
fn no_tiny_deliveries() -> Scenario {
    Scenario::echo("no-tiny-deliveries", 512, 128).property("no-tiny-deliveries", |run| {
        let tiny = deliveries(run, "c1").iter().filter(|n| **n < 16).count();
        match tiny {
            0 => Ok(()),
            n => Err(format!("{n} deliveries under 16 bytes")),
        }
    })
}

#[test]
fn a_failing_property_fails_the_run_with_its_name_and_shrinking_keeps_it() {
    let scenario = no_tiny_deliveries();
    let quiet = judge(&scenario, &FaultPlan::quiet(Seed(5))).expect("runs");
    assert!(quiet.passed(), "{quiet}");
    let plan = FaultPlan {
        latency: Some(Latency {
            min_ms: 1,
            max_ms: 9,
        }),
        partial_writes: Some(PartialWrites {
            average: 64,
            variation: 0,
        }),
        read_chunks: Some(ReadChunks::new(8)),
        faults: vec![Fault::at(
            1,
            FaultKind::SlowClose {
                conn: "c1".into(),
                delay_ms: 3,
            },
        )],
        ..FaultPlan::quiet(Seed(5))
    };
    let verdict = judge(&scenario, &plan).expect("runs");
    assert_eq!(
        verdict.signature().as_deref(),
        Some("no-tiny-deliveries"),
        "{verdict}"
    );
    let text = verdict.to_string();
    assert!(
        text.contains("property no-tiny-deliveries: ") && text.contains("deliveries under 16"),
        "{text}"
    );
    let shrunk = shrink(&scenario, &plan, "no-tiny-deliveries");
    assert!(shrunk.plan.faults.is_empty(), "{shrunk}");
    assert_eq!(shrunk.plan.partial_writes, None, "{shrunk}");
    assert_eq!(shrunk.plan.latency, None, "{shrunk}");
    assert!(shrunk.plan.read_chunks.is_some(), "{shrunk}");
}

#[test]
fn a_property_that_panics_fails_with_its_name() {
    let scenario = Scenario::echo("panicking-property", 64, 64)
        .property("panics", |_| -> bool { panic!("a bug in the check") });
    let verdict = judge(&scenario, &FaultPlan::quiet(Seed(1))).expect("runs");
    assert_eq!(verdict.signature().as_deref(), Some("panics"));
    assert!(
        verdict
            .to_string()
            .contains("property panics: the check panicked: a bug in the check"),
        "{verdict}"
    );
}

#[test]
fn a_property_may_not_take_the_name_of_an_expectation_or_a_rule() {
    for name in ["finished", "echoed", "R6", "W1", "no_panic"] {
        let scenario = Scenario::echo("bad-name", 16, 16).property(name, |_| true);
        let err = scenario.validate().expect_err(name);
        assert_eq!(err.field, "properties[0]", "{err}");
    }
    let twice = Scenario::echo("twice", 16, 16)
        .property("same", |_| true)
        .eventually("same", |_| true);
    assert_eq!(twice.validate().expect_err("twice").field, "properties[1]");
}

/// What the notifiers of one run saw, in the order they saw it.
#[derive(Default)]
struct Seen(Vec<&'static str>);

/// Says in the run's shared state that it started; a client closes at once.
struct Greets(&'static str);

impl Greets {
    fn greet(&self) {
        if let Some(seen) = run_state::<Seen>() {
            seen.lock().0.push(self.0);
        }
    }
}

impl TcpConnectionNotify for Greets {
    fn accepted(&mut self, _conn: &mut TcpConnection) {
        self.greet();
    }
    fn connected(&mut self, conn: &mut TcpConnection) {
        self.greet();
        conn.close();
    }
    fn connect_failed(&mut self, _conn: &mut TcpConnection, _reason: ConnectFailure) {}
}

#[test]
fn run_state_is_shared_by_every_notifier_of_a_run_and_starts_fresh_for_each_run() {
    let scenario = Scenario::new("greetings")
        .listener("server", "server", 7000, factory(|| Greets("server")))
        .client("c1", "a", "server", 7000, factory(|| Greets("client")))
        .client("c2", "b", "server", 7000, factory(|| Greets("client")))
        .property("everyone-greeted", |run| {
            let seen = run.state::<Seen>().ok_or("nobody greeted")?;
            let mut seen = seen.lock().0.clone();
            seen.sort();
            match seen == ["client", "client", "server", "server"] {
                true => Ok(()),
                false => Err(format!("saw {seen:?}")),
            }
        });
    // Two runs on this thread: the second starts from an empty state.
    for seed in [1, 2] {
        let verdict = judge(&scenario, &FaultPlan::quiet(Seed(seed))).expect("runs");
        assert!(verdict.passed(), "seed {seed}: {verdict}");
        let seen = verdict.outcome.context.state::<Seen>().expect("kept");
        assert_eq!(seen.lock().0.len(), 4);
    }
    assert!(run_state::<Seen>().is_none(), "no run outside judge");
}

#[test]
fn assertions_and_run_state_outside_a_simulated_run_record_nothing_and_say_so() {
    assert!(!in_run());
    assert!(!always("outside", false, "a failure nobody records"));
    assert!(!sometimes("outside", true));
    assert!(!reachable("outside"));
    assert!(run_state::<Seen>().is_none());
}

/// An echo server that asserts every delivery fits a 100-byte frame.
struct FramesOnly;

impl TcpConnectionNotify for FramesOnly {
    fn received(&mut self, conn: &mut TcpConnection, data: Vec<u8>, _times: usize) -> bool {
        always(
            "deliveries-fit-a-frame",
            data.len() <= 100,
            format_args!("{} bytes", data.len()),
        );
        conn.write(data);
        true
    }
    fn connect_failed(&mut self, _conn: &mut TcpConnection, _reason: ConnectFailure) {}
}

/// The verdict of `scenario` at seed 1, which must fail assertion `name`, and the position
/// of the failure's line in its trace.
fn failing(scenario: &Scenario, name: &str) -> (Verdict, usize) {
    let verdict = judge(scenario, &FaultPlan::quiet(Seed(1))).expect("runs");
    assert_eq!(verdict.signature().as_deref(), Some(name), "{verdict}");
    let line = (verdict.outcome.trace.events().iter())
        .position(|e| matches!(e.kind, EventKind::Assertion { .. }))
        .expect("the failure is in the trace");
    (verdict, line)
}

/// An echo server that, once a peer connected, fails an assertion from a task of its own,
/// a millisecond later: outside any callback.
struct FailsFromATask;

impl TcpConnectionNotify for FailsFromATask {
    fn accepted(&mut self, _conn: &mut TcpConnection) {
        tokio::spawn(async {
            tokio::time::sleep(std::time::Duration::from_millis(1)).await;
            always("checked-outside-callbacks", false, "from a task");
        });
    }
    fn received(&mut self, conn: &mut TcpConnection, data: Vec<u8>, times: usize) -> bool {
        Echo.received(conn, data, times)
    }
    fn connect_failed(&mut self, _conn: &mut TcpConnection, _reason: ConnectFailure) {}
}

/// An assertion that fails outside any callback names no host and no connection (`- -`),
/// not those of the callback that ran last.
#[test]
fn an_always_that_fails_outside_a_callback_names_no_connection() {
    let scenario = Scenario::new("fails-from-a-task")
        .listener("server", "server", 7000, factory(|| FailsFromATask))
        .client(
            "c1",
            "client",
            "server",
            7000,
            factory(|| Sender::pattern(64)),
        );
    let (verdict, line) = failing(&scenario, "checked-outside-callbacks");
    let events = verdict.outcome.trace.events();
    let failed = &events[line];
    let text = verdict.outcome.trace.render_text();
    assert!(
        (events.iter()).any(|e| e.callback().is_some() && e.at_us < failed.at_us),
        "callbacks ran before it: {text}"
    );
    assert_eq!(
        (failed.host.as_str(), failed.who.as_str()),
        ("-", "-"),
        "{text}"
    );
}

#[test]
fn an_always_that_fails_fails_the_run_with_where_and_when_in_the_trace() {
    let scenario = Scenario::new("frames")
        .listener("server", "server", 7000, factory(|| FramesOnly))
        .client(
            "c1",
            "client",
            "server",
            7000,
            factory(|| Sender::pattern(300).chunked(50)),
        )
        .client(
            "c2",
            "client",
            "server",
            7000,
            factory(|| Sender::pattern(256).chunked(256)),
        );
    let (verdict, line) = failing(&scenario, "deliveries-fit-a-frame");
    let events = verdict.outcome.trace.events();
    let failed = &events[line];
    assert_eq!(
        (failed.host.as_str(), failed.who.as_str()),
        ("server", "server.2")
    );
    let shown = failed.to_string();
    assert!(
        shown.contains(
            "server server.2 ALWAYS FAILED \"deliveries-fit-a-frame\" at \
             tests/simulation/properties.rs:"
        ) && shown.ends_with(": 256 bytes"),
        "{shown}"
    );
    // Made inside the delivery whose line follows it.
    assert!(
        events[line + 1]
            .to_string()
            .contains("server.2 received(256B"),
        "{}",
        events[line + 1]
    );
    let assertion =
        (verdict.outcome.context.assertion("deliveries-fit-a-frame")).expect("recorded");
    assert_eq!((assertion.evaluations, assertion.held), (7, 6));
    let message = verdict.failures[0].to_string();
    assert!(
        message.contains(&format!(
            "property deliveries-fit-a-frame: always failed 1 of 7 time(s); first at {}.{:03}ms \
             on server server.2 (trace line {}, tests/simulation/properties.rs:",
            failed.at_us / 1000,
            failed.at_us % 1000,
            line + 1
        )),
        "{message}"
    );
}

/// An echo server that says when a frame arrived split, and when it was pushed back.
struct Watches;

impl TcpConnectionNotify for Watches {
    fn received(&mut self, conn: &mut TcpConnection, data: Vec<u8>, _times: usize) -> bool {
        sometimes("saw-a-split-frame", data.len() < 64);
        conn.write(data);
        true
    }
    fn throttled(&mut self, _conn: &mut TcpConnection) {
        reachable("echo-throttled");
    }
    fn connect_failed(&mut self, _conn: &mut TcpConnection, _reason: ConnectFailure) {}
}

fn watched() -> Scenario {
    Scenario::new("watched")
        .listener("server", "server", 7000, factory(|| Watches))
        .client(
            "c1",
            "client",
            "server",
            7000,
            factory(|| Sender::pattern(256).chunked(64)),
        )
        .sometimes("never-called")
}

#[test]
fn sometimes_assertions_that_no_run_met_are_reported_and_fail_chaos_when_required() {
    // A slow close fires in every run (the sweep exercised a fault) but splits nothing.
    let scenario = watched().plan(FaultPlan {
        faults: vec![Fault::at(
            1,
            FaultKind::SlowClose {
                conn: "c1".into(),
                delay_ms: 5,
            },
        )],
        ..FaultPlan::quiet(Seed(0))
    });
    let report = sweep(
        &scenario,
        &SweepOptions {
            jobs: 1,
            ..SweepOptions::new(0..4)
        },
    );
    assert!(report.passed(), "{report}");
    let never = report.coverage.assertions.never_met();
    // `echo-throttled` was never reached and is not declared: no run knows of it. The
    // declared `never-called` is reported all the same.
    assert_eq!(never, ["never-called", "saw-a-split-frame"]);
    assert!(report.coverage.assertions.get("echo-throttled").is_none());
    let text = report.to_string();
    assert!(
        text.contains(
            "WARNING: sometimes-assertions that no run met: never-called, saw-a-split-frame"
        ),
        "{text}"
    );
    assert!(
        text.contains("sometimes saw-a-split-frame held in 0 of 4 runs"),
        "{text}"
    );
    assert!(
        text.contains("sometimes never-called never evaluated"),
        "{text}"
    );

    let chaos = Chaos::new(scenario).seeds(0..4).jobs(1).ignoring_env();
    let pass = chaos.clone().assert_passes();
    assert_eq!(pass.never_met(), never);
    let required = catch_unwind(AssertUnwindSafe(|| {
        chaos.require_sometimes().assert_passes()
    }));
    let panic = required.expect_err("required sometimes-assertions never held");
    let message = panic.downcast_ref::<String>().cloned().unwrap_or_default();
    assert!(
        message.contains(
            "sometimes-assertions that held in none of the 4 runs: never-called, \
             saw-a-split-frame"
        ),
        "{message}"
    );
}

#[test]
fn a_sometimes_assertion_met_in_some_runs_counts_as_met_for_the_sweep() {
    let scenario = watched().faults(FaultSettings {
        read_chunks: 0.5,
        read_chunk_bytes: Span::new(16, 48),
        ..FaultSettings::default()
    });
    let report = sweep(
        &scenario,
        &SweepOptions {
            jobs: 2,
            ..SweepOptions::new(0..12)
        },
    );
    assert!(report.passed(), "{report}");
    let split = report
        .coverage
        .assertions
        .get("saw-a-split-frame")
        .expect("evaluated");
    assert_eq!(split.runs, 12);
    assert!(
        split.runs_met > 0 && split.runs_met < 12,
        "met in {} of 12 runs",
        split.runs_met
    );
    assert!(!report
        .coverage
        .assertions
        .never_met()
        .contains(&"saw-a-split-frame"));
}

/// Writes five bytes once connected, and never closes.
struct WritesAndStaysOpen;

impl TcpConnectionNotify for WritesAndStaysOpen {
    fn connected(&mut self, conn: &mut TcpConnection) {
        conn.write("hello");
    }
    fn connect_failed(&mut self, _conn: &mut TcpConnection, _reason: ConnectFailure) {}
}

#[test]
fn a_connection_still_open_when_the_run_ends_has_the_counters_of_its_last_callback() {
    // Its recorder tells them as the run's simulation is dropped, before the run's context
    // is finished: without that, the properties of an open connection saw none.
    let scenario = Scenario::new("stays-open")
        .listener("server", "server", 7000, factory(|| Echo))
        .client(
            "c1",
            "client",
            "server",
            7000,
            factory(|| WritesAndStaysOpen),
        )
        .duration_ms(100);
    let outcome = tcpnotify_sim::run::run(&scenario, &FaultPlan::quiet(Seed(1))).expect("runs");
    let view = RunView::new(&scenario, &outcome);
    let c1 = view.connection("c1").expect("c1");
    assert_eq!(c1.ending, tcpnotify_sim::judge::Ending::Open);
    // Its last callback is the echo's `received`: five bytes out, five back.
    let stats = c1.stats.expect("c1's counters");
    assert_eq!((stats.bytes_sent, stats.bytes_received), (5, 5));
    let server = view.connection("server.1").expect("server.1");
    assert_eq!(server.ending, tcpnotify_sim::judge::Ending::Open);
    assert_eq!(server.stats.map(|s| s.bytes_received), Some(5));
}
