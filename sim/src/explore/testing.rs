//! Helpers for running simulations from `#[test]`s: the seed comes from the environment when
//! set, every run is checked against the contract, and a failure prints the one line that
//! re-runs exactly that case.

use super::env::{parse_seed, EnvError, SEED_VAR};
use crate::judge::{judge, Verdict};
use crate::run::RunOutcome;
use crate::scenario::Scenario;
use crate::seed::Seed;

/// The seed a test runs: `TCPNOTIFY_SEED` if set (and a number), else `default`.
pub fn seed_or(default: u64) -> Seed {
    match std::env::var(SEED_VAR) {
        // A test helper: a bad seed fails the test, with the same message chaos gives.
        Ok(text) => Seed(parse_seed(&text).unwrap_or_else(|e| panic!("{}", EnvError::Seed(e)))),
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

/// Runs `scenario` with `seed` and judges it (contract and end conditions). Panics with the
/// repro line if the scenario cannot run at all.
pub fn run_checked(scenario: &Scenario, seed: Seed) -> Verdict {
    let plan = scenario.plan_for(seed);
    match judge(scenario, &plan) {
        Ok(verdict) => verdict,
        Err(e) => panic!(
            "scenario {}: {e}\nreproduce: {}",
            scenario.name,
            repro_line(seed)
        ),
    }
}

/// Runs `scenario` with `seed`, and panics with the failures, the end of the trace and the
/// repro line unless the contract held and every end condition of the scenario held.
pub fn run_passing(scenario: &Scenario, seed: Seed) -> RunOutcome {
    let verdict = run_checked(scenario, seed);
    if !verdict.passed() {
        panic!(
            "scenario {} failed with seed {}:\n{verdict}\nplan:\n{}\nlast trace lines:\n{}reproduce: {}",
            scenario.name,
            seed,
            verdict.outcome.plan.describe(),
            verdict.outcome.trace.render_tail(40),
            repro_line(seed)
        );
    }
    verdict.outcome
}
