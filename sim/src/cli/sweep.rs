//! `tcpnotify-sim sweep`: many seeds in parallel. With `--json`: a `sweep_start` object (the
//! seed set, random ones included, before anything runs), a `sweep_stats` object (timing),
//! and last the `sweep_result`, which `merge` reads back.

use super::artifacts::{Artifacts, FailedRun, MAX_SWEEP_ARTIFACTS};
use super::error::CliError;
use super::interrupt;
use super::invocation::Invocation;
use super::output::{Output, Printer};
use super::shown::Shown;
use super::{Status, SweepArgs};
use crate::explore::{
    default_jobs, sweep as run_sweep, FailureKind, NotShrunk, Rerun, SeedSet, Shard, SweepEnd,
    SweepOptions, SweepReport,
};
use crate::report::junit;
use crate::scenario::{Registry, ScenarioFile};
use serde::{Deserialize, Serialize};
use std::path::Path;

/// The `sweep_start` object: what the sweep will do.
#[derive(Serialize)]
struct SweepStart<'a> {
    scenario: &'a str,
    file: String,
    seeds: &'a SeedSet,
    #[serde(skip_serializing_if = "Option::is_none")]
    shard: Option<Shard>,
    /// Seeds this sweep (this shard) will run; absent when only the budget ends it.
    #[serde(skip_serializing_if = "Option::is_none")]
    count: Option<u64>,
    jobs: usize,
    stops_at_failure: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    budget_ms: Option<u128>,
    #[serde(skip_serializing_if = "Option::is_none")]
    seed_timeout_ms: Option<u128>,
    #[serde(skip_serializing_if = "Option::is_none")]
    check_determinism: Option<u64>,
}

/// The `sweep_stats` object: how long it took (not part of the result, which is the same on
/// any machine).
#[derive(Serialize)]
struct SweepStats {
    elapsed_ms: u128,
    seeds_per_second: f64,
    jobs: usize,
}

/// The `sweep_result` object: the file swept, whether it passed, and the report (the seed
/// set, the seeds run, the failures with their repro lines, the coverage).
#[derive(Serialize, Deserialize)]
pub(super) struct SweepResult {
    pub(super) file: String,
    /// Written for readers; a reader recomputes it from the report.
    #[serde(default)]
    pub(super) passed: bool,
    #[serde(flatten)]
    pub(super) report: SweepReport,
}

impl SweepResult {
    /// The result of `report`: it passes if no seed failed and, unless `allow_no_faults`, some
    /// fault fired (a sweep without one tested only the fault-free path).
    pub(super) fn new(file: String, report: SweepReport, allow_no_faults: bool) -> Self {
        SweepResult {
            file,
            passed: report.passed() && (allow_no_faults || !report.coverage.no_fault_fired()),
            report,
        }
    }
}

pub(super) fn sweep(
    out: &Printer,
    registry: &Registry,
    args: SweepArgs,
) -> Result<Status, CliError> {
    let file = ScenarioFile::load(&args.file, registry)?;
    let seeds = args.seeds.resolve(args.budget)?;
    // Created before the sweep, so an unwritable path is refused before anything runs.
    let junit_out = args.junit.as_deref().map(Output::create).transpose()?;
    let artifacts = args.artifacts.as_deref().map(Artifacts::new).transpose()?;
    let options = SweepOptions {
        jobs: args.jobs.unwrap_or_else(default_jobs),
        shard: args.shard,
        keep_going: args.keep_going,
        progress: true,
        verbose: args.verbose,
        budget: args.budget,
        seed_timeout: args.seed_timeout,
        check_determinism: args.check_determinism.and_then(|sample| sample.0),
        interrupt: interrupt::flag(),
        ..SweepOptions::new(seeds)
    };
    let count = options.seeds.len().map(|_| options.seeds_to_run().len());
    out.record(
        "sweep_start",
        &SweepStart {
            scenario: &file.scenario.name,
            file: file.path.display().to_string(),
            seeds: &options.seeds,
            shard: options.shard,
            count,
            jobs: options.jobs,
            stops_at_failure: options.stops_at_failure(),
            budget_ms: options.budget.map(|d| d.as_millis()),
            seed_timeout_ms: options.seed_timeout.map(|d| d.as_millis()),
            check_determinism: options.check_determinism,
        },
    );
    out.say(format!(
        "sweeping {}: seeds {}{}{}, {} job(s)",
        file.path.display(),
        options.seeds,
        count.map_or(String::new(), |n| format!(" ({n} seeds)")),
        options
            .shard
            .map_or(String::new(), |s| format!(", shard {s}")),
        options.jobs
    ));
    if let SeedSet::Random { .. } = options.seeds {
        out.say(format!(
            "fresh random seeds: run this set again with {}",
            options.seeds.flags()
        ));
    }
    let mut report = run_sweep(&file.scenario, &options);
    let invocation = Invocation::current();
    for failure in &mut report.failures {
        failure.repro = Some(invocation.run(&file.path, failure.seed));
    }
    // A sweep's own report always has its time; only a merged or read one has none.
    out.record(
        "sweep_stats",
        &SweepStats {
            elapsed_ms: report.elapsed.unwrap_or_default().as_millis(),
            seeds_per_second: report.seeds_per_second().unwrap_or_default(),
            jobs: options.jobs,
        },
    );
    // The result is printed even if a folder cannot be written, and the error said after it.
    let unwritten = (artifacts.as_ref())
        .and_then(|artifacts| write_artifacts(out, artifacts, &file, &report, &invocation).err());
    let result = SweepResult::new(
        file.path.display().to_string(),
        report,
        args.allow_no_faults,
    );
    match (finish(out, &result, junit_out, &invocation), unwritten) {
        (Ok(status), None) => Ok(status),
        (Ok(_), Some(e)) => Err(e),
        (Err(e), None) => Err(e),
        // Both said, as `main_with` says the one it is given: neither is lost.
        (Err(e), Some(artifacts)) => {
            eprintln!("error: {artifacts}");
            Err(e)
        }
    }
}

/// Writes the artifacts of the sweep's lowest [`MAX_SWEEP_ARTIFACTS`] failing seeds, each
/// run again (but a seed that timed out, which would again) and shrunk (but one that did
/// not fail the same way again, which shrinking cannot reduce, and none after Ctrl-C), and
/// prints an `artifacts` object for each.
fn write_artifacts(
    out: &Printer,
    artifacts: &Artifacts,
    file: &ScenarioFile,
    report: &SweepReport,
    invocation: &Invocation,
) -> Result<(), CliError> {
    if report.failed > MAX_SWEEP_ARTIFACTS {
        out.say(format!(
            "artifacts: for the lowest {MAX_SWEEP_ARTIFACTS} of the {} failing seeds",
            report.failed
        ));
    }
    let made_by = "tcpnotify-sim sweep --artifacts";
    for failure in report.failures.iter().take(MAX_SWEEP_ARTIFACTS) {
        let plan = file.scenario.plan_for(failure.seed);
        let repro = failure
            .repro
            .clone()
            .unwrap_or_else(|| invocation.run(&file.path, failure.seed));
        let mut failed = FailedRun {
            file,
            plan: &plan,
            kind: failure.kind,
            signature: failure.signature.clone(),
            summary: failure.summary.clone(),
            repro: repro.clone(),
            run: None,
            shrunk: None,
            notes: Vec::new(),
            made_by: made_by.to_string(),
        };
        let rerun = Rerun::of(&file.scenario, failure, &plan, None);
        if let Some(Err(e)) = &rerun.result {
            failed.notes.push(format!(
                "trace.txt, trace.jsonl, timeline.html, shrunk.toml: the run has no verdict: {e}"
            ));
        }
        let shrunk = match rerun.shrinkable() {
            // Ctrl-C asked for the report now, not after shrinking.
            Ok(_) if report.end == SweepEnd::Interrupted => {
                failed.notes.push(
                    "shrunk.toml: the sweep was interrupted (Ctrl-C), so nothing was shrunk; \
                     `shrink` the seed to have it"
                        .into(),
                );
                None
            }
            Ok(_) => {
                out.say(format!("artifacts: shrinking seed {}", failure.seed));
                rerun.shrink(&file.scenario).ok()
            }
            Err(NotShrunk::TimedOut) => {
                failed.notes.push(
                    "trace.txt, trace.jsonl, timeline.html, shrunk.toml: the seed was not run \
                     again, as it ran past --seed-timeout and every run of it would; `run` it \
                     to see its trace"
                        .into(),
                );
                None
            }
            Err(why @ NotShrunk::Nondeterministic) => {
                let note = format!("shrunk.toml: {why}; the trace is of a third run");
                failed.notes.push(note);
                None
            }
            Err(why @ NotShrunk::DidNotRepeat(_)) => {
                failed.notes.push(format!("shrunk.toml: {why}"));
                None
            }
            // Said above, for every file the run would have made.
            Err(NotShrunk::RunError) => None,
        };
        let shown = rerun.verdict().map(|verdict| Shown {
            file,
            plan: &plan,
            verdict,
            repro: Some(repro),
            saved_plan: None,
            artifacts: None,
        });
        if let Some(shown) = &shown {
            failed.run = Some(shown);
        }
        failed.shrunk = shrunk.as_ref();
        let record = artifacts.write(&failed, invocation)?;
        out.say(format!("artifacts: {}", record.dir));
        out.record("artifacts", &record);
    }
    Ok(())
}

/// Prints a sweep's result (the report, or its JSON object), writes its JUnit XML if asked,
/// and says how the command ends: `sweep` and `merge` end the same way.
pub(super) fn finish(
    out: &Printer,
    result: &SweepResult,
    junit_out: Option<Output>,
    invocation: &Invocation,
) -> Result<Status, CliError> {
    let report = &result.report;
    out.record("sweep_result", result);
    if !out.json() {
        println!("{report}");
        for failure in &report.failures {
            if let Some(repro) = &failure.repro {
                println!("reproduce: {repro}");
            }
        }
        // Shrinking needs a failure that runs to its end, the same way every time.
        let shrinkable = report
            .failures
            .iter()
            .find(|f| f.kind == FailureKind::Failed);
        if let Some(first) = shrinkable {
            let file = Path::new(&result.file);
            let shrink = invocation.command([
                "shrink".to_string(),
                file.display().to_string(),
                "--seed".into(),
                first.seed.to_string(),
            ]);
            println!("shrink:    {shrink}");
        }
    }
    if let Some(junit_out) = junit_out {
        let path = junit_out.path.clone();
        junit_out.commit(&junit(report)?)?;
        out.say(format!("wrote {} (JUnit XML)", path.display()));
    }
    if report.passed() && !result.passed {
        out.say(
            "FAILED: no fault fired in any seed, so the sweep tested only the fault-free path: \
             leave [faults] out of the file (each seed then draws its own), raise its \
             probabilities or sweep more seeds; or pass --allow-no-faults",
        );
    }
    Ok(if !result.passed {
        Status::Failed
    } else if report.end == SweepEnd::Interrupted {
        Status::Interrupted
    } else {
        Status::Passed
    })
}
