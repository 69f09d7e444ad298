//! `tcpnotify-sim run`: one seed of a scenario, with its plan, its trace, a summary and the
//! verdict. With `--json`: a `run` object, the trace's `event`s, and a `verdict`.

use super::error::CliError;
use super::invocation::Invocation;
use super::output::{indent, Output, Printer};
use super::Status;
use crate::fault::FaultPlan;
use crate::judge::{judge, Rule, Verdict};
use crate::report::RunSummary;
use crate::scenario::{PlanFile, Registry, ScenarioFile};
use crate::seed::Seed;
use serde::Serialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The `run` object: what runs.
#[derive(Serialize)]
struct RunStart<'a> {
    scenario: &'a str,
    file: String,
    seed: Seed,
    plan: &'a FaultPlan,
    #[serde(skip_serializing_if = "Option::is_none")]
    saved_plan: Option<String>,
}

/// One failure of a verdict.
#[derive(Serialize)]
pub(super) struct FailureRecord {
    /// The rule id or property name.
    pub(super) signature: String,
    /// The failure in words.
    pub(super) message: String,
}

/// The `verdict` object: how the run was judged.
#[derive(Serialize)]
struct VerdictRecord<'a> {
    passed: bool,
    failures: Vec<FailureRecord>,
    /// How many events each contract rule judged.
    exercised: &'a BTreeMap<Rule, usize>,
    summary: &'a RunSummary,
    #[serde(skip_serializing_if = "Option::is_none")]
    repro: Option<String>,
}

pub(super) fn run(
    out: &Printer,
    registry: &Registry,
    file: &Path,
    seed: Option<u64>,
    plan: Option<PathBuf>,
    save_plan: Option<PathBuf>,
) -> Result<Status, CliError> {
    let scenario = ScenarioFile::load(file, registry)?;
    let plan = match plan {
        Some(path) => {
            let loaded = PlanFile::load(&path, &scenario.scenario)?;
            match (seed.map(Seed), loaded.seed) {
                (Some(flag), Some(named)) if flag != named => {
                    return Err(CliError::SeedConflict {
                        flag,
                        named,
                        plan: path,
                    });
                }
                (_, Some(named)) => FaultPlan {
                    seed: named,
                    ..loaded.plan
                },
                (flag, None) => FaultPlan {
                    seed: flag.unwrap_or(scenario.seed),
                    ..loaded.plan
                },
            }
        }
        None => scenario
            .scenario
            .plan_for(seed.map(Seed).unwrap_or(scenario.seed)),
    };
    if let Some(path) = &save_plan {
        Output::create(path)?.commit(&plan.to_toml()?)?;
        out.say(format!("plan written to {}", path.display()));
    }
    let verdict = judge(&scenario.scenario, &plan)?;
    let summary = RunSummary::of(&verdict.outcome);
    let repro = (!verdict.passed())
        .then(|| Invocation::current().run(&scenario.path, verdict.outcome.plan.seed));
    if out.json() {
        out.record(
            "run",
            &RunStart {
                scenario: &scenario.scenario.name,
                file: scenario.path.display().to_string(),
                seed: plan.seed,
                plan: &plan,
                saved_plan: save_plan.map(|p| p.display().to_string()),
            },
        );
        out.lines(&verdict.outcome.trace.render_json_lines());
        out.record(
            "verdict",
            &VerdictRecord {
                passed: verdict.passed(),
                failures: failures(&verdict),
                exercised: &verdict.report.exercised,
                summary: &summary,
                repro,
            },
        );
    } else {
        println!("scenario {} (seed {})", scenario.scenario.name, plan.seed);
        println!("plan:\n{}", indent(&plan.describe()));
        print!("{}", verdict.outcome.trace.render_text());
        print!("{summary}");
        println!("{verdict}");
        if let Some(repro) = repro {
            println!("reproduce: {repro}");
        }
    }
    Ok(if verdict.passed() {
        Status::Passed
    } else {
        Status::Failed
    })
}

/// Every failure of `verdict`, by signature and in words.
pub(super) fn failures(verdict: &Verdict) -> Vec<FailureRecord> {
    verdict
        .failures
        .iter()
        .map(|f| FailureRecord {
            signature: f.signature(),
            message: f.to_string(),
        })
        .collect()
}
