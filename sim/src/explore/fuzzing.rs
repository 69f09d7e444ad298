//! What the fuzzer checks for one input, shared by the `cargo fuzz` target in `fuzz/` and the
//! stable test that replays every input that once crashed (`sim/tests/fuzz_regressions.rs`).
//!
//! An input is a scenario file's bytes, and also a plan file's (as `run --plan` reads it) for
//! a small echo scenario. The loaders must refuse it with an error that names the file and a
//! line, or accept it; an accepted scenario's plan must round-trip through the files
//! `run --save-plan` and `shrink` write; and a short run of what loaded must end without a
//! panic inside the simulation or a run error. A hang shows as the fuzzer's time-out.
//!
//! Runs are kept short so the fuzzer stays fast: the simulated duration is cut to
//! [`RUN_MS`], clients start within it, and inputs that ask for much more than a small
//! scenario (see [`too_big_to_run`]) are only loaded, not run.

use crate::fault::{FaultPlan, Faults, Trigger};
use crate::judge::judge;
use crate::run::Ended;
use crate::scenario::{PlanFile, Registry, Scenario, ScenarioError, ScenarioFile};
use std::path::Path;

/// Simulated time a fuzzed scenario runs at most, in milliseconds.
pub(crate) const RUN_MS: u64 = 2_000;

/// Largest number an input may hold and still be run (it is loaded whatever its numbers).
const RUN_NUMBER_LIMIT: i64 = 100_000;

/// Most hosts, listeners, clients and faults an input may have and still be run.
const RUN_COUNT_LIMIT: usize = 8;

/// Checks one input; panics on a finding (that is what the fuzzer looks for).
///
/// ```
/// tcpnotify_sim::explore::check_fuzz_input(b"[[clients]]\nname = 'c1'");
/// tcpnotify_sim::explore::check_fuzz_input(include_bytes!("../../../scenarios/echo-partial-writes.toml"));
/// ```
pub fn check_fuzz_input(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    check_plan_file(text);
    let path = Path::new("fuzz.toml");
    let file = match ScenarioFile::parse(text, path, &Registry::builtin()) {
        Ok(file) => file,
        Err(e) => return check_error(&e),
    };
    let plan = file.scenario.plan_for(file.seed);
    // What `run --save-plan` writes reads back as the same plan.
    let saved = plan
        .to_toml()
        .unwrap_or_else(|e| panic!("a valid plan that TOML cannot hold: {e}\n{plan:?}"));
    let reread: FaultPlan = toml_edit::de::from_str(&saved)
        .unwrap_or_else(|e| panic!("a saved plan does not load: {e}\n{saved}"));
    assert_eq!(reread, plan, "a saved plan reads back changed:\n{saved}");
    // What `shrink` writes loads as the same scenario, seed and plan.
    let shrunk = file
        .with_plan(&plan, "fuzz")
        .unwrap_or_else(|e| panic!("cannot write the scenario with its plan: {e}"));
    let back = ScenarioFile::parse(&shrunk, path, &Registry::builtin())
        .unwrap_or_else(|e| panic!("a shrunk file does not load: {e}\n{shrunk}"));
    assert_eq!(back.seed, file.seed, "{shrunk}");
    assert_eq!(back.scenario.plan_for(back.seed), plan, "{shrunk}");

    if too_big_to_run(text, &file.scenario) {
        return;
    }
    run_briefly(file.scenario, plan);
}

/// An error must say where: the file and a line.
fn check_error(e: &ScenarioError) {
    assert!(e.line.is_some(), "an error without a line: {e}");
    assert!(
        e.to_string().starts_with("fuzz.toml:"),
        "an error without its file: {e}"
    );
}

/// `text` as a plan file for a small echo scenario (two hosts, one client, one listener):
/// refused with a located error, or run briefly.
fn check_plan_file(text: &str) {
    let scenario = Scenario::echo("fuzz-echo", 256, 64);
    match PlanFile::parse(text, Path::new("fuzz.toml"), &scenario) {
        Ok(loaded) if !too_big_to_run(text, &scenario) => run_briefly(scenario, loaded.plan),
        Ok(_) => {}
        Err(e) => check_error(&e),
    }
}

/// Runs `scenario` under `plan`, cut to [`RUN_MS`]; panics if the run panicked or failed.
fn run_briefly(scenario: Scenario, plan: FaultPlan) {
    if plan.faults.len() > RUN_COUNT_LIMIT {
        return;
    }
    // Cut to RUN_MS: clients start and timed faults fire within it, or not at all.
    let mut scenario = scenario;
    scenario.duration_ms = scenario.duration_ms.min(RUN_MS);
    for client in &mut scenario.clients {
        client.start_ms = client.start_ms.min(RUN_MS - 1);
    }
    // The plan is drawn already; a fault window written for the longer run would only make
    // the cut run invalid (it must end before the run does).
    if let Faults::Settings(settings) = &mut scenario.faults {
        if let Some(window) = &mut settings.fault_window_ms {
            window.max = window.max.min(scenario.duration_ms.saturating_sub(1));
            window.min = window.min.min(window.max);
        }
    }
    let within = |mut plan: FaultPlan| {
        plan.faults
            .retain(|f| !matches!(f.trigger, Trigger::At(at) if at >= scenario.duration_ms));
        plan
    };
    scenario.plan = scenario.plan.take().map(within);
    let plan = within(plan);
    let verdict = judge(&scenario, &plan)
        .unwrap_or_else(|e| panic!("a scenario that loaded cannot run: {e}"));
    match &verdict.outcome.ended {
        Ended::Panicked { message } => panic!("the simulation panicked: {message}"),
        Ended::Failed { message } => panic!("the simulation failed: {message}"),
        Ended::AllFinished | Ended::DurationReached { .. } => {}
    }
}

/// Whether an input that loaded asks for more than a short run should do: a number above
/// 100,000 anywhere (sizes, counts, durations) or more than 8 hosts, listeners, clients or
/// faults.
pub(crate) fn too_big_to_run(text: &str, scenario: &Scenario) -> bool {
    fn big(value: &toml::Value) -> bool {
        match value {
            toml::Value::Integer(n) => *n > RUN_NUMBER_LIMIT,
            toml::Value::Array(items) => items.iter().any(big),
            toml::Value::Table(table) => table.values().any(big),
            _ => false,
        }
    }
    let topology = scenario.topology();
    let faults = scenario.plan.as_ref().map_or(0, |p| p.faults.len());
    toml_edit::de::from_str::<toml::Value>(text).map_or(true, |v| big(&v))
        || [
            topology.hosts.len(),
            scenario.listeners.len(),
            scenario.clients.len(),
            faults,
        ]
        .iter()
        .any(|n| *n > RUN_COUNT_LIMIT)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fault_after_the_cut_run_is_left_out_not_a_finding() {
        let text =
            "[[listeners]]\nname = 'server'\nhost = 'server'\nport = 7000\nnotifier = 'echo'\n\
                    [[clients]]\nname = 'c1'\nhost = 'client'\ntarget = 'server'\nport = 7000\n\
                    notifier = 'sender'\nparams = { bytes = 10 }\nstart_ms = 5000\n\
                    [[plan.faults]]\nat_ms = 5000\nkind = 'reset'\nconn = 'c1'\n";
        check_fuzz_input(text.as_bytes());
    }

    #[test]
    fn every_scenario_file_passes_the_check() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios");
        for entry in std::fs::read_dir(dir).expect("scenarios/") {
            let path = entry.expect("an entry").path();
            check_fuzz_input(&std::fs::read(&path).expect("readable"));
        }
    }
}
