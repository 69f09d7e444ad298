//! `tcpnotify-sim run`: one seed of a scenario, with its plan, its trace, a summary and the
//! verdict. With `--json`: a `run` object, the trace's `event`s, and a `verdict`.

use super::artifacts::{Artifacts, FailedRun};
use super::error::CliError;
use super::invocation::Invocation;
use super::output::{indent, Output, Printer};
use super::Status;
use crate::explore::shrink_verdict;
use crate::fault::FaultPlan;
use crate::json;
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
    /// The folder of the failure's artifacts, with `--artifacts`.
    #[serde(skip_serializing_if = "Option::is_none")]
    artifacts: Option<String>,
}

pub(super) fn run(
    out: &Printer,
    registry: &Registry,
    file: &Path,
    seed: Option<u64>,
    plan: Option<PathBuf>,
    save_plan: Option<PathBuf>,
    artifacts: Option<PathBuf>,
) -> Result<Status, CliError> {
    let scenario = ScenarioFile::load(file, registry)?;
    // Made before anything runs or is written, so an unwritable folder is refused first.
    let artifacts = artifacts.as_deref().map(Artifacts::new).transpose()?;
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
    let invocation = Invocation::current();
    let repro = (!verdict.passed()).then(|| invocation.run(&scenario.path, plan.seed));
    let mut shown = Shown {
        file: &scenario,
        plan: &plan,
        verdict: &verdict,
        repro,
        saved_plan: save_plan.map(|p| p.display().to_string()),
        artifacts: None,
    };
    let mut record = None;
    if let (Some(artifacts), false) = (&artifacts, verdict.passed()) {
        let shrunk = shrink_verdict(&scenario.scenario, &verdict);
        // Shown in its folder as this command shows it, less the folder's own name.
        let failed = FailedRun::of_run(&shown, Some(&shrunk), "tcpnotify-sim run --artifacts");
        let written = artifacts.write(&failed, &invocation)?;
        shown.artifacts = Some(written.dir.clone());
        record = Some(written);
    }
    if out.json() {
        // The folder's object before the verdict, which stays last.
        let (run, verdict) = shown.json_parts();
        out.lines(&run);
        if let Some(record) = &record {
            out.record("artifacts", record);
        }
        out.lines(&verdict);
    } else {
        print!("{}", shown.text());
        if let Some(record) = &record {
            println!("artifacts: {}", record.dir);
        }
    }
    Ok(if verdict.passed() {
        Status::Passed
    } else {
        Status::Failed
    })
}

/// A judged run as `run` shows it: as text, or as JSON lines (the `run` object, the trace's
/// events and the `verdict`). A failure's artifacts hold both.
pub(super) struct Shown<'a> {
    pub(super) file: &'a ScenarioFile,
    pub(super) plan: &'a FaultPlan,
    pub(super) verdict: &'a Verdict,
    /// The command that re-runs it, if it failed.
    pub(super) repro: Option<String>,
    /// Where `--save-plan` wrote the plan.
    pub(super) saved_plan: Option<String>,
    /// The folder of its artifacts, once written.
    pub(super) artifacts: Option<String>,
}

impl Shown<'_> {
    /// The first failure's signature (empty if the run passed).
    pub(super) fn signature(&self) -> String {
        self.verdict.signature().unwrap_or_default()
    }

    /// The plan, the trace, the summary, the verdict, and the repro line if it failed.
    pub(super) fn text(&self) -> String {
        let outcome = &self.verdict.outcome;
        let mut text = format!(
            "scenario {} (seed {})\nplan:\n{}\n{}{}{}\n",
            self.file.scenario.name,
            self.plan.seed,
            indent(&self.plan.describe()),
            outcome.trace.render_text(),
            RunSummary::of(outcome),
            self.verdict
        );
        if let Some(repro) = &self.repro {
            text += &format!("reproduce: {repro}\n");
        }
        text
    }

    /// The `run` object, one `event` per trace line, and the `verdict`.
    pub(super) fn json_lines(&self) -> String {
        let (run, verdict) = self.json_parts();
        run + &verdict
    }

    /// [`json_lines`](Self::json_lines) in two: the `run` object and the events, then the
    /// `verdict`.
    fn json_parts(&self) -> (String, String) {
        let verdict = self.verdict;
        let run = json::record(
            "run",
            &RunStart {
                scenario: &self.file.scenario.name,
                file: self.file.path.display().to_string(),
                seed: self.plan.seed,
                plan: self.plan,
                saved_plan: self.saved_plan.clone(),
            },
        );
        let judged = json::record(
            "verdict",
            &VerdictRecord {
                passed: verdict.passed(),
                failures: failures(verdict),
                exercised: &verdict.report.exercised,
                summary: &RunSummary::of(&verdict.outcome),
                repro: self.repro.clone(),
                artifacts: self.artifacts.clone(),
            },
        );
        (
            format!("{run}\n{}", verdict.outcome.trace.render_json_lines()),
            format!("{judged}\n"),
        )
    }
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
