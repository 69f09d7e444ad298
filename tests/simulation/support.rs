//! Shared pieces of the simulation tests: snapshotting a run with its seed and plan.

use crate::snapshot::run_settings;
use tcpnotify_sim::explore::repro_line;
use tcpnotify_sim::run::RunOutcome;

/// Snapshots the run's trace, with the seed and plan in the snapshot's metadata. The logged
/// `tracing` events are left out: what `RUST_LOG` asks for changes no snapshot.
pub fn snapshot_trace(name: &str, outcome: &RunOutcome) {
    let settings = run_settings(&outcome.scenario, &outcome.plan);
    // Shown (by the test harness) only if the snapshot differs.
    eprintln!("reproduce: {}", repro_line(outcome.plan.seed));
    let text = outcome.trace.without_logs().render_text();
    settings.bind(|| insta::assert_snapshot!(name, text));
}

/// The callbacks of `who`, rendered one per line.
pub fn callbacks_of(outcome: &RunOutcome, who: &str) -> Vec<String> {
    outcome
        .trace
        .events()
        .iter()
        .filter(|e| e.who == who)
        .filter_map(|e| e.callback().map(|c| c.to_string()))
        .collect()
}

/// Every byte `who` received, in order. The scenario must keep payloads
/// ([`Scenario::keep_payloads`](tcpnotify_sim::scenario::Scenario::keep_payloads)).
pub fn received_bytes(outcome: &RunOutcome, who: &str) -> Vec<u8> {
    use tcpnotify::record::Callback;
    outcome
        .trace
        .events()
        .iter()
        .filter(|e| e.who == who)
        .filter_map(|e| match e.callback() {
            Some(Callback::Received { data, .. }) => Some(
                data.bytes()
                    .expect("received_bytes needs a scenario with keep_payloads()")
                    .to_vec(),
            ),
            _ => None,
        })
        .flatten()
        .collect()
}
