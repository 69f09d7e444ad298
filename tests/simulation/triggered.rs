//! Faults a trace event triggers (`after = { conn, callback, nth }`) act, are logged and are
//! counted at the moment of that event, as a timed fault is at its time: a partition or a
//! refusal cuts inside the callback that triggers it, its `FAULT` line follows that callback's
//! line at the callback's time, it heals `duration_ms` after it cut, and the coverage counts it
//! once, with the bytes in flight at that moment — as a reset on the same event is counted.

use tcpnotify_sim::fault::{EventTrigger, Fault, FaultKind, FaultPlan, ReadChunks};
use tcpnotify_sim::notifiers::Sender;
use tcpnotify_sim::run::{run, EventKind, RunOutcome};
use tcpnotify_sim::{factory, Scenario, Seed};

/// An echo of 2048 bytes in writes of 256 by `c1` under `faults` alone.
fn echo(faults: Vec<Fault>) -> Scenario {
    Scenario::echo("triggered", 2048, 256).plan(FaultPlan {
        faults,
        ..FaultPlan::quiet(Seed(1))
    })
}

/// The `nth` `callback` of `c1`.
fn on_c1(callback: &str, nth: u32) -> EventTrigger {
    EventTrigger {
        conn: "c1".into(),
        callback: callback.into(),
        nth,
    }
}

fn partition(duration_ms: u64) -> FaultKind {
    FaultKind::Partition {
        a: "client".into(),
        b: "server".into(),
        duration_ms,
        one_way: false,
    }
}

fn ran(scenario: &Scenario) -> RunOutcome {
    run(scenario, &scenario.plan_for(Seed(1))).expect("the scenario runs")
}

/// Each `FAULT` line of the run: its position in the trace, its time, and what it says.
fn fault_lines(outcome: &RunOutcome) -> Vec<(usize, u64, String)> {
    (outcome.trace.events().into_iter().enumerate())
        .filter_map(|(i, e)| match e.kind {
            EventKind::Fault { step, .. } => Some((i, e.at_us, step.to_string())),
            _ => None,
        })
        .collect()
}

/// The position of the second `FAULT` line (the heal), to compare the rest of it.
fn heal_line(faults: &[(usize, u64, String)]) -> usize {
    faults.get(1).map_or(0, |f| f.0)
}

/// The position and time of `c1`'s `nth` `callback` in the trace.
fn callback_line(outcome: &RunOutcome, callback: &str, nth: usize) -> (usize, u64) {
    (outcome.trace.events().iter().enumerate())
        .filter(|(_, e)| e.who == "c1" && e.callback().is_some_and(|c| c.name() == callback))
        .map(|(i, e)| (i, e.at_us))
        .nth(nth - 1)
        .unwrap_or_else(|| panic!("c1 has no {callback} #{nth}"))
}

#[test]
fn an_event_triggered_partition_is_logged_right_after_its_event_and_heals_duration_ms_later() {
    let outcome = ran(&echo(vec![Fault::after(
        on_c1("connected", 1),
        partition(300),
    )]));
    let (at, at_us) = callback_line(&outcome, "connected", 1);
    let faults = fault_lines(&outcome);
    assert_eq!(
        faults,
        [
            (
                at + 1,
                at_us,
                "partition client <-> server for 300ms".into()
            ),
            (heal_line(&faults), at_us + 300_000, "healed".into()),
        ],
        "{}",
        outcome.trace.render_text()
    );
    assert_eq!(outcome.fired.get("partition"), Some(&1));
}

#[test]
fn an_event_triggered_refusal_is_logged_right_after_its_event_and_ends_duration_ms_later() {
    let refuse = FaultKind::Refuse {
        host: "server".into(),
        port: 7000,
        duration_ms: 100,
    };
    // c2 keeps the run going past the refusal's end.
    let scenario = echo(vec![Fault::after(on_c1("connecting", 1), refuse)])
        .client(
            "c2",
            "client",
            "server",
            7000,
            factory(|| Sender::new(b"late".to_vec())),
        )
        .starting_at(200);
    let outcome = ran(&scenario);
    let (at, at_us) = callback_line(&outcome, "connecting", 1);
    let faults = fault_lines(&outcome);
    assert_eq!(
        faults,
        [
            (
                at + 1,
                at_us,
                "refuse connects to server:7000 for 100ms".into()
            ),
            (heal_line(&faults), at_us + 100_000, "healed".into()),
        ],
        "{}",
        outcome.trace.render_text()
    );
    // Cut at once: the connect that triggered it is refused.
    assert!(
        outcome
            .trace
            .render_text()
            .contains("c1 connect_failed(refused)"),
        "{}",
        outcome.trace.render_text()
    );
    assert_eq!(outcome.fired.get("refuse"), Some(&1));
}

/// In this one-connection echo a two-way partition of its hosts and a reset of its
/// connection act on the same bytes: counted at the moment they act, on the same event, they
/// find the same bytes in flight; a partition that found none then counts too if it holds
/// bytes when it heals (written while it cut), which a reset cannot. So on `connected`,
/// before c1 writes, the reset finds nothing and the partition holds what c1 writes next.
/// Reads of at most 64 bytes leave bytes in flight at some of these events (the server's
/// first `received`), so the resets' figure is not always 0.
#[test]
fn an_event_triggered_partition_counts_the_bytes_in_flight_a_reset_on_the_same_event_does() {
    let mut found = Vec::new();
    for (conn, callback, nth) in [
        ("c1", "connected", 1),
        ("c1", "sent", 1),
        ("c1", "sent", 8),
        ("server.1", "received", 1),
        ("server.1", "received", 3),
        ("c1", "received", 1),
    ] {
        let on = EventTrigger {
            conn: conn.into(),
            callback: callback.into(),
            nth,
        };
        let chunked = |fault: FaultKind| {
            Scenario::echo("triggered", 2048, 256).plan(FaultPlan {
                read_chunks: Some(ReadChunks::new(64)),
                faults: vec![Fault::after(on.clone(), fault)],
                ..FaultPlan::quiet(Seed(1))
            })
        };
        let cut = ran(&chunked(partition(5)));
        let reset = ran(&chunked(FaultKind::Reset { conn: conn.into() }));
        assert_eq!(cut.fired.get("partition"), Some(&1), "{on:?}");
        assert_eq!(reset.fired.get("reset"), Some(&1), "{on:?}");
        if reset.fired_in_flight == 1 {
            assert_eq!(cut.fired_in_flight, 1, "{on:?}");
        }
        if (conn, callback) == ("c1", "connected") {
            assert_eq!(
                (reset.fired_in_flight, cut.fired_in_flight),
                (0, 1),
                "{on:?}"
            );
        }
        found.push(reset.fired_in_flight);
    }
    // Events with and without bytes in flight: the comparison is not between zeros alone.
    assert!(found.contains(&0) && found.contains(&1), "{found:?}");
}

/// A partition that finds nothing in flight and holds nothing until it heals is not counted
/// as a fault that fired while data was in flight: fired by the server's `closed`, every
/// byte was read and nothing is written after it.
#[test]
fn a_partition_that_found_and_held_nothing_is_not_counted_as_finding_data_in_flight() {
    let closed = EventTrigger {
        conn: "server.1".into(),
        callback: "closed".into(),
        nth: 1,
    };
    let outcome = ran(&echo(vec![Fault::after(closed, partition(1))]));
    let text = outcome.trace.render_text();
    let faults: Vec<String> = (fault_lines(&outcome).into_iter()).map(|f| f.2).collect();
    assert_eq!(
        faults,
        ["partition client <-> server for 1ms", "healed"],
        "{text}"
    );
    assert_eq!(outcome.fired.get("partition"), Some(&1), "{text}");
    assert_eq!(outcome.fired_in_flight, 0, "{text}");
}

/// A reset that finds its connection not connected does nothing, and says so, whether a time
/// or an event triggered it; it is not counted as a fault that fired, so a sweep whose only
/// faults did nothing is not taken for one that tested faults.
#[test]
fn a_reset_of_a_connection_not_yet_connected_says_no_effect_and_is_not_counted() {
    let reset = || FaultKind::Reset { conn: "c1".into() };
    for fault in [
        Fault::at(0, reset()),
        Fault::after(on_c1("connecting", 1), reset()),
    ] {
        let outcome = ran(&echo(vec![fault.clone()]));
        let faults = fault_lines(&outcome);
        assert_eq!(faults.len(), 1, "{fault}: {faults:?}");
        assert_eq!(
            faults[0].2, "reset c1 (not connected: no effect)",
            "{fault}"
        );
        assert_eq!(outcome.fired.get("reset"), None, "{fault}");
        assert_eq!(outcome.fired_in_flight, 0, "{fault}");
    }
}
