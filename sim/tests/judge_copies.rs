//! Judging a run takes its trace's events once: the contract check, the end conditions (the
//! per-connection tally, the callback counts) and the properties' view all read that one copy.
//! A trace holds up to a million events, and a sweep judges every seed it runs: each extra
//! copy of the trace is that much more memory and time per seed. The bytes a judgement
//! allocates are counted on its own thread and compared with what one copy of the events
//! costs.

mod counting;

use counting::allocated_by;
use tcpnotify_sim::judge::judge_outcome;
use tcpnotify_sim::run::run;
use tcpnotify_sim::{FaultPlan, Scenario, Seed};

#[test]
fn judging_a_run_copies_its_trace_once() {
    // Thousands of callbacks, a handful of connections: the trace dominates what judging
    // allocates. The property makes the judgement build the properties' view too.
    let scenario = Scenario::echo("judged-once", 64 * 1024, 64)
        .property("c1-seen", |run| run.connection("c1").is_some());
    let outcome = run(&scenario, &FaultPlan::quiet(Seed(1))).expect("the scenario runs");
    let (events, one_copy) = allocated_by(|| outcome.trace.events());
    let one_copy = one_copy.bytes;
    assert!(events.len() > 4000, "{} events", events.len());
    drop(events);
    let (verdict, judging) = allocated_by(|| judge_outcome(&scenario, outcome));
    let judging = judging.bytes;
    assert!(verdict.passed(), "{verdict}");
    assert!(
        judging < 2 * one_copy,
        "judging allocated {judging} bytes; one copy of the trace's events is {one_copy}"
    );
}
