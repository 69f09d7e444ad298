//! Helpers for running simulations from `#[test]`s: the seed comes from the environment when
//! set, every run is checked against the contract, and a failure prints the one line that
//! re-runs exactly that case.

use crate::checker::{check, CheckOptions, CheckReport};
use crate::runner::{run, Ended, RunOutcome};
use crate::scenario::Scenario;
use crate::seed::Seed;

/// The environment variable that overrides a simulated test's seed.
pub const SEED_VAR: &str = "TCPNOTIFY_SEED";

/// The seed a test runs: `TCPNOTIFY_SEED` if set (and a number), else `default`.
pub fn seed_or(default: u64) -> Seed {
    match std::env::var(SEED_VAR) {
        Ok(text) => match text.trim().parse() {
            Ok(seed) => Seed(seed),
            Err(_) => panic!("{SEED_VAR}={text:?} is not a whole number"),
        },
        Err(_) => Seed(default),
    }
}

/// The command that re-runs the current test (named by libtest's thread name) with `seed`.
pub fn repro_line(seed: Seed) -> String {
    let test = std::thread::current()
        .name()
        .filter(|n| *n != "main")
        .unwrap_or("<test name>")
        .to_string();
    let binary = std::env::current_exe()
        .ok()
        .and_then(|p| p.file_stem().map(|s| s.to_string_lossy().into_owned()))
        .map(|stem| match stem.rsplit_once('-') {
            Some((name, hash)) if hash.chars().all(|c| c.is_ascii_hexdigit()) => name.to_string(),
            _ => stem,
        })
        .unwrap_or_else(|| "<test binary>".into());
    format!("{SEED_VAR}={seed} cargo test --test {binary} -- --exact {test}")
}

/// The contract options of a scenario: its listeners' limits and every connection's read
/// buffer size.
pub fn check_options(scenario: &Scenario) -> CheckOptions {
    let mut options = CheckOptions::default();
    for l in &scenario.listeners {
        if l.limit > 0 {
            options.listener_limits.insert(l.name.clone(), l.limit);
        }
        options
            .read_buffer_sizes
            .insert(l.name.clone(), l.config.get_read_buffer_size());
    }
    for c in &scenario.clients {
        options
            .read_buffer_sizes
            .insert(c.name.clone(), c.config.get_read_buffer_size());
    }
    options
}

/// Runs `scenario` with `seed` and checks the trace against the contract.
pub fn run_checked(scenario: &Scenario, seed: Seed) -> (RunOutcome, CheckReport) {
    let plan = scenario.plan_for(seed);
    let outcome = match run(scenario, &plan) {
        Ok(outcome) => outcome,
        Err(e) => panic!(
            "scenario {}: {e}\nreproduce: {}",
            scenario.name,
            repro_line(seed)
        ),
    };
    let report = check(&outcome.trace, &check_options(scenario));
    (outcome, report)
}

/// Runs `scenario` with `seed`, and panics with the contract violations, the end of the trace
/// and the repro line unless the run ended with every client finished and no rule broken.
pub fn run_passing(scenario: &Scenario, seed: Seed) -> RunOutcome {
    let (outcome, report) = run_checked(scenario, seed);
    let ended_well = outcome.ended == Ended::AllFinished;
    if !report.is_ok() || !ended_well {
        let trace = outcome.trace.render_text();
        let tail: Vec<&str> = trace.lines().rev().take(40).collect();
        let tail: Vec<&str> = tail.into_iter().rev().collect();
        panic!(
            "scenario {} failed with seed {}: {:?}\n{report}\nplan:\n{}\nlast trace lines:\n{}\nreproduce: {}",
            scenario.name,
            seed,
            outcome.ended,
            outcome.plan.describe(),
            tail.join("\n"),
            repro_line(seed)
        );
    }
    outcome
}
