//! `tracing` at simulated time: what notifiers and the crates log during a run lands in its
//! trace among the callbacks, stamped with simulated time, host and connection. The scenario's
//! log filter picks what is recorded (`RUST_LOG`'s syntax; set here through the API, so no
//! test depends on the environment); logging changes nothing else of the run, each run
//! records only its own events, and snapshots leave logs out.

use crate::faults::reset_mid_stream;
use crate::support::snapshot_trace;
use tcpnotify::{ConnectFailure, TcpConnection, TcpConnectionNotify};
use tcpnotify_sim::fault::{EventTrigger, Fault, FaultKind, FaultPlan};
use tcpnotify_sim::notifiers::Sender;
use tcpnotify_sim::run::{EventKind, LogLevel, RunOutcome, TraceEvent};
use tcpnotify_sim::scenario::LogFilter;
use tcpnotify_sim::{factory, run_passing, Scenario, Seed};

/// The target `LoggingEcho` logs under.
const APP: &str = "echo_app";

/// Echoes what it receives and logs each `received` at `info`, as a user's notifier would.
struct LoggingEcho;

impl TcpConnectionNotify for LoggingEcho {
    fn received(&mut self, conn: &mut TcpConnection, data: Vec<u8>, times: usize) -> bool {
        tracing::info!(target: APP, bytes = data.len(), times, "echoing");
        conn.write(data);
        true
    }
    fn connect_failed(&mut self, _conn: &mut TcpConnection, _reason: ConnectFailure) {}
}

/// A `LoggingEcho` server and a client c1 sending 512 bytes in 256-byte writes, reset after its
/// 2nd `received`, so that the core crate logs `read failed; closing` on both ends.
fn logging_echo(filter: &str) -> Scenario {
    Scenario::new("logging-echo")
        .listener("server", "server", 7000, factory(|| LoggingEcho))
        .client(
            "c1",
            "client",
            "server",
            7000,
            factory(|| Sender::pattern(512).chunked(256)),
        )
        .plan(FaultPlan {
            faults: vec![Fault::after(
                EventTrigger {
                    conn: "c1".into(),
                    callback: "received".into(),
                    nth: 2,
                },
                FaultKind::Reset { conn: "c1".into() },
            )],
            ..FaultPlan::quiet(Seed(0))
        })
        .log_filter(LogFilter::new(filter).expect("a valid filter"))
}

/// The run of `logging_echo(filter)` at seed 1, which must pass.
fn run_logged(filter: &str) -> RunOutcome {
    run_passing(&logging_echo(filter), Seed(1))
}

/// The logged events of a run: (index in the trace, event).
fn logs(outcome: &RunOutcome) -> Vec<(usize, TraceEvent)> {
    (outcome.trace.events().into_iter().enumerate())
        .filter(|(_, e)| e.is_log())
        .collect()
}

/// The level, target and message of a logged event.
fn what(event: &TraceEvent) -> (LogLevel, &str, &str) {
    match &event.kind {
        EventKind::Log {
            level,
            target,
            message,
            ..
        } => (*level, target.as_str(), message.as_str()),
        other => panic!("not a log event: {other}"),
    }
}

#[test]
fn a_notifier_log_comes_just_before_its_callback_with_its_time_host_and_connection() {
    let outcome = run_logged("echo_app=info");
    let events = outcome.trace.events();
    let logged = logs(&outcome);
    let received = events
        .iter()
        .filter(|e| e.who == "server.1" && e.callback().is_some_and(|c| c.name() == "received"))
        .count();
    assert_eq!(logged.len(), received, "one log per received of server.1");
    assert!(received >= 2, "{}", outcome.trace.render_text());
    for (n, (i, log)) in logged.iter().enumerate() {
        assert_eq!(what(log), (LogLevel::Info, APP, "echoing"));
        let EventKind::Log { fields, .. } = &log.kind else {
            unreachable!()
        };
        assert_eq!(fields.get("bytes"), Some("256"));
        assert_eq!(fields.get("times"), Some((n + 1).to_string().as_str()));
        // The callback's line is written once it returned: right after what it logged.
        let callback = &events[i + 1];
        assert_eq!(
            callback.callback().map(|c| c.name()),
            Some("received"),
            "line {} follows the log: {callback}",
            i + 2
        );
        assert_eq!(
            (log.at_us, log.host.as_str(), log.who.as_str()),
            (callback.at_us, "server", "server.1")
        );
    }
}

#[test]
fn core_logs_between_callbacks_name_their_connection_and_host() {
    let outcome = run_logged("tcpnotify=debug");
    let events = outcome.trace.events();
    let failed: Vec<(usize, TraceEvent)> = logs(&outcome)
        .into_iter()
        .filter(|(_, e)| what(e).2 == "read failed; closing")
        .collect();
    let place: Vec<(&str, &str)> = failed
        .iter()
        .map(|(_, e)| (e.host.as_str(), e.who.as_str()))
        .collect();
    assert_eq!(place, [("client", "c1"), ("server", "server.1")]);
    for (i, log) in &failed {
        assert_eq!(what(log).0, LogLevel::Debug);
        assert!(what(log).1.starts_with("tcpnotify::"), "{log}");
        // Logged as the connection closes, at the time of its `closed`, before it.
        let closed = (events[*i..].iter())
            .find(|e| e.who == log.who && e.callback().is_some())
            .expect("a callback after the log");
        assert_eq!(closed.callback().map(|c| c.name()), Some("closed"));
        assert_eq!(closed.at_us, log.at_us);
    }
    assert!(failed[0].1.at_us < failed[1].1.at_us, "c1 is reset first");
}

#[test]
fn the_log_filter_picks_the_events_and_changes_nothing_else() {
    let off = run_logged("off");
    assert!(logs(&off).is_empty());
    let baseline = off.trace.render_for_comparison();
    let check = |filter: &str, expect: &dyn Fn(&TraceEvent) -> bool| {
        let outcome = run_logged(filter);
        assert_eq!(
            outcome.trace.without_logs().render_for_comparison(),
            baseline,
            "{filter}: logging changed the run"
        );
        let logged = logs(&outcome);
        for (_, event) in &logged {
            assert!(expect(event), "{filter} let through {event}");
        }
        logged.len()
    };
    assert_eq!(
        check("warn", &|_| false),
        0,
        "info and debug are below warn"
    );
    assert!(check("echo_app=info", &|e| what(e).1 == APP) > 0);
    assert!(check("tcpnotify=debug", &|e| what(e).1.starts_with("tcpnotify::")) > 0);
    // A span directive: only what server.1 logs inside its callbacks.
    assert!(check("[callback{who=server.1}]=info", &|e| e.who == "server.1") > 0);
    let everything = check("trace", &|_| true);
    assert!(everything > check("debug,turmoil=off", &|e| what(e).1 != "turmoil"));
}

#[test]
fn snapshots_leave_logs_out() {
    // The same run as `l2_reset_mid_stream_ends_in_closed`, logging everything, matches its
    // snapshot.
    let scenario = reset_mid_stream().log_filter(LogFilter::new("trace").unwrap());
    let outcome = run_passing(&scenario, Seed(1));
    assert!(logs(&outcome).len() > 10);
    snapshot_trace("reset_mid_stream", &outcome);
}

#[test]
fn each_run_records_only_its_own_events_when_runs_share_the_process() {
    let alone = |filter: &str| run_logged(filter).trace.render_for_comparison();
    let expected = [alone("trace"), alone("off"), alone("echo_app=info")];
    // The same runs at once on threads of their own, as a sweep's workers run seeds.
    let together: Vec<String> = std::thread::scope(|s| {
        let runs: Vec<_> = ["trace", "off", "echo_app=info", "trace", "off"]
            .into_iter()
            .map(|filter| s.spawn(move || run_logged(filter).trace.render_for_comparison()))
            .collect();
        runs.into_iter()
            .map(|r| r.join().expect("the run"))
            .collect()
    });
    for (i, (got, want)) in together.iter().zip(expected.iter().cycle()).enumerate() {
        assert!(
            got == want,
            "run {i} differs from the same run alone at {:?}",
            tcpnotify_sim::run::Trace::first_difference(want, got)
        );
    }
}
