//! How `run` shows a judged run, as text or as JSON lines: what `run` prints, and what a
//! failure's artifacts hold.

use super::output::indent;
use crate::fault::FaultPlan;
use crate::json;
use crate::judge::{check_options, CheckOptions, Rule, Verdict};
use crate::report::RunSummary;
use crate::scenario::ScenarioFile;
use crate::seed::Seed;
use serde::Serialize;
use std::collections::BTreeMap;

/// The `run` object: what runs.
#[derive(Serialize)]
struct RunStart<'a> {
    scenario: &'a str,
    file: String,
    seed: Seed,
    plan: &'a FaultPlan,
    #[serde(skip_serializing_if = "Option::is_none")]
    saved_plan: Option<String>,
    /// What the contract check needed beyond the trace, so that `timeline` judges the trace
    /// as this run was judged.
    check_options: CheckOptions,
}

/// One failure of a verdict.
#[derive(Serialize)]
struct FailureRecord {
    /// The rule id or property name.
    signature: String,
    /// The failure in words.
    message: String,
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
    pub(super) fn json_parts(&self) -> (String, String) {
        let verdict = self.verdict;
        let run = json::record(
            json::RUN,
            &RunStart {
                scenario: &self.file.scenario.name,
                file: self.file.path.display().to_string(),
                seed: self.plan.seed,
                plan: self.plan,
                saved_plan: self.saved_plan.clone(),
                check_options: check_options(&self.file.scenario),
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
fn failures(verdict: &Verdict) -> Vec<FailureRecord> {
    verdict
        .failures
        .iter()
        .map(|f| FailureRecord {
            signature: f.signature(),
            message: f.to_string(),
        })
        .collect()
}
