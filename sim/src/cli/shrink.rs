//! `tcpnotify-sim shrink`: a failing seed's plan minimised and written out as a scenario file,
//! by default under `target/` (never next to the scenario: a file in `scenarios/` is a test
//! of its own). Exits 0 once written. With `--json`: one `shrink_result` object.

use super::artifacts::{Artifacts, FailedRun};
use super::error::CliError;
use super::invocation::Invocation;
use super::output::{indent, Output, Printer};
use super::shown::Shown;
use super::Status;
use crate::explore::{shrink_verdict, LostConnectionsHint};
use crate::fault::FaultPlan;
use crate::judge::judge;
use crate::scenario::{Registry, ScenarioFile};
use crate::seed::Seed;
use serde::Serialize;
use std::path::{Path, PathBuf};

/// The `shrink_result` object.
#[derive(Serialize)]
struct ShrinkRecord<'a> {
    scenario: &'a str,
    file: String,
    seed: Seed,
    /// The first failure's signature, which every shrinking step kept.
    signature: String,
    /// The first failure, in words.
    failure: String,
    /// Faults of the seed's plan, and of the minimal plan.
    faults_before: usize,
    faults_after: usize,
    /// Chunking policies (and latency) of the seed's plan, and of the minimal plan: a cause
    /// may be a policy rather than a fault.
    policies_before: usize,
    policies_after: usize,
    /// Runs the shrinking took.
    runs: usize,
    /// Each accepted reduction.
    steps: &'a [String],
    /// The minimal plan.
    plan: &'a FaultPlan,
    /// The scenario file written.
    output: String,
    /// The command that runs the written file.
    repro: String,
    /// The folder of the failure's artifacts, with `--artifacts`.
    #[serde(skip_serializing_if = "Option::is_none")]
    artifacts: Option<String>,
    /// The hint the text gives when the minimal plan still loses connections the swarm drew
    /// only because the expectations allow them: a reader of the JSON alone must not miss it.
    #[serde(skip_serializing_if = "Option::is_none")]
    lost_connections: Option<LostConnectionsRecord>,
}

/// The `lost_connections` object of a `shrink_result`.
#[derive(Serialize)]
struct LostConnectionsRecord {
    /// The minimal plan's faults that lose connections (`reset`, `crash`, `refuse`).
    kinds: Vec<&'static str>,
    /// The hint in words, as the text prints it.
    hint: String,
}

impl From<&LostConnectionsHint> for LostConnectionsRecord {
    fn from(hint: &LostConnectionsHint) -> Self {
        LostConnectionsRecord {
            kinds: hint.kinds.clone(),
            hint: hint.in_file(),
        }
    }
}

/// Where `shrink` writes without `-o`: `target/tcpnotify-sim/shrunk/STEM.seed-N.toml`, under
/// `$CARGO_TARGET_DIR` when set.
fn default_output(file: &Path, seed: Seed) -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("target"));
    let stem = file
        .file_stem()
        .map_or_else(|| "scenario".into(), |s| s.to_string_lossy().into_owned());
    target
        .join("tcpnotify-sim")
        .join("shrunk")
        .join(format!("{stem}.seed-{seed}.toml"))
}

/// How many of its reductions `shrink` lists: shrinking a plan of 10,000 faults removes
/// thousands, one line each.
const LISTED_STEPS: usize = 20;

pub(super) fn shrink(
    out: &Printer,
    registry: &Registry,
    path: &Path,
    seed: u64,
    output: Option<PathBuf>,
    artifacts: Option<PathBuf>,
) -> Result<Status, CliError> {
    let seed = Seed(seed);
    let file = ScenarioFile::load(path, registry)?;
    // Created before the run, so an unwritable place is refused before anything runs.
    let artifacts = artifacts.as_deref().map(Artifacts::new).transpose()?;
    let written = match (output, &artifacts) {
        (Some(output), _) => Some(Output::create(&output)?),
        // The artifacts folder holds the shrunk scenario.
        (None, Some(_)) => None,
        (None, None) => Some(Output::create_with_folders(&default_output(path, seed))?),
    };
    let plan = file.scenario.plan_for(seed);
    let verdict = judge(&file.scenario, &plan)?;
    let Some(first) = verdict.failures.first() else {
        return Err(CliError::NothingToShrink {
            path: path.to_path_buf(),
            seed,
        });
    };
    let signature = first.signature();
    out.say(format!("seed {seed} fails with [{signature}]: {first}"));
    out.say(format!(
        "plan ({} faults, {} policies):\n{}",
        plan.faults.len(),
        plan.policies().len(),
        indent(&plan.describe())
    ));
    let result = shrink_verdict(&file.scenario, &verdict);
    for step in result.steps.iter().take(LISTED_STEPS) {
        out.say(format!("  {step}"));
    }
    if let Some(more) = result
        .steps
        .len()
        .checked_sub(LISTED_STEPS)
        .filter(|n| *n > 0)
    {
        out.say(format!(
            "  ... and {more} more reductions, not shown (the minimal plan below is what they left)"
        ));
    }
    out.say(format!(
        "minimal plan ({}; {} runs):\n{}",
        result.cause(),
        result.runs,
        indent(&result.plan.describe())
    ));
    let hint = LostConnectionsHint::of(&file.scenario, &result.plan);
    if let Some(hint) = &hint {
        out.say(hint.in_file());
    }
    let made_by = format!("tcpnotify-sim shrink {} --seed {seed}", path.display());
    let invocation = Invocation::current();
    let mut output = None;
    if let Some(written) = written {
        let header = format!("Shrunk by `{made_by}`: still fails with [{signature}].");
        output = Some(written.path.clone());
        written.commit(&file.with_plan(&result.plan, &header)?)?;
    }
    let mut folder = None;
    let mut unwritten = None;
    if let Some(artifacts) = &artifacts {
        let shown = Shown {
            file: &file,
            plan: &plan,
            verdict: &verdict,
            repro: Some(invocation.run(path, seed)),
            saved_plan: None,
            artifacts: None,
        };
        match artifacts.write(
            &FailedRun::of_run(&shown, Some(&result), &made_by),
            &invocation,
        ) {
            Ok(record) => {
                out.say(format!("artifacts: {}", record.dir));
                output = output.or_else(|| record.files.shrunk_path().map(PathBuf::from));
                folder = Some(record.dir.clone());
                out.record("artifacts", &record);
            }
            // With `-o`, the shrunk file is written: it is shown all the same, the error last.
            Err(e) if output.is_some() => unwritten = Some(e),
            Err(e) => return Err(e),
        }
    }
    let output = output.unwrap_or_default();
    let repro = invocation.command(["run".to_string(), output.display().to_string()]);
    out.say(format!("wrote {}", output.display()));
    out.say(format!("reproduce: {repro}"));
    out.record(
        "shrink_result",
        &ShrinkRecord {
            scenario: &file.scenario.name,
            file: path.display().to_string(),
            seed,
            signature,
            failure: first.to_string(),
            faults_before: plan.faults.len(),
            faults_after: result.plan.faults.len(),
            policies_before: plan.policies().len(),
            policies_after: result.plan.policies().len(),
            runs: result.runs,
            steps: &result.steps,
            plan: &result.plan,
            output: output.display().to_string(),
            repro,
            artifacts: folder,
            lost_connections: hint.as_ref().map(LostConnectionsRecord::from),
        },
    );
    unwritten.map_or(Ok(Status::Passed), Err)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fault::{Fault, FaultKind};
    use crate::scenario::Scenario;

    /// The `lost_connections` object a `shrink_result` carries for a minimal plan `faults`
    /// of the swarm-drawn echo scenario, if any.
    fn lost_connections_of(faults: Vec<FaultKind>) -> Option<serde_json::Value> {
        let mut plan = FaultPlan::quiet(Seed(1));
        plan.faults = faults.into_iter().map(|k| Fault::at(2, k)).collect();
        let hint = LostConnectionsHint::of(&Scenario::echo("echo", 64, 64), &plan);
        let record = ShrinkRecord {
            scenario: "echo",
            file: "echo.toml".into(),
            seed: Seed(1),
            signature: "finished".into(),
            failure: "failed".into(),
            faults_before: 2,
            faults_after: plan.faults.len(),
            policies_before: 0,
            policies_after: 0,
            runs: 3,
            steps: &[],
            plan: &plan,
            output: "shrunk.toml".into(),
            repro: "tcpnotify-sim run shrunk.toml".into(),
            artifacts: None,
            lost_connections: hint.as_ref().map(LostConnectionsRecord::from),
        };
        let line = crate::json::record("shrink_result", &record);
        let value: serde_json::Value = serde_json::from_str(&line).expect("one JSON object");
        value.get("lost_connections").cloned()
    }

    #[test]
    fn the_json_result_carries_the_lost_connections_hint_the_text_gives() {
        let reset = FaultKind::Reset { conn: "c1".into() };
        let record = lost_connections_of(vec![reset.clone(), reset]).expect("the hint");
        assert_eq!(record["kinds"], serde_json::json!(["reset"]));
        let hint = record["hint"].as_str().expect("the hint in words");
        assert!(
            hint.contains("(a reset)") && hint.contains("`[faults]`"),
            "{hint}"
        );
        let slow = FaultKind::SlowClose {
            conn: "c1".into(),
            delay_ms: 5,
        };
        assert_eq!(lost_connections_of(vec![slow]), None, "no loss, no field");
    }
}
