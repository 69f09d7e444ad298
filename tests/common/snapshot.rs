//! The insta settings of a snapshot of a simulated run, shared by the test binaries that take
//! them (`simulation`, `scenarios`; each includes this file with `#[path]`): the run's
//! scenario, seed and plan in the snapshot's metadata, enough to re-run it; no expression and
//! no module prefix in the snapshot's name.

use serde::Serialize;
use tcpnotify_sim::{FaultPlan, Seed};

/// What a snapshot's metadata records: enough to re-run it.
#[derive(Serialize)]
struct RunInfo<'a> {
    scenario: &'a str,
    seed: Seed,
    plan: &'a FaultPlan,
}

/// The settings of a snapshot of scenario `scenario` run under `plan` (with the plan's seed).
pub fn run_settings(scenario: &str, plan: &FaultPlan) -> insta::Settings {
    let mut settings = insta::Settings::clone_current();
    settings.set_info(&RunInfo {
        scenario,
        seed: plan.seed,
        plan,
    });
    settings.set_omit_expression(true);
    settings.set_prepend_module_to_snapshot(false);
    settings
}
