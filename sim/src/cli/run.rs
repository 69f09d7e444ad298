//! `tcpnotify-sim run`: one seed of a scenario, with its plan, its trace, a summary and the
//! verdict. With `--json`: a `run` object, the trace's `event`s, and a `verdict`.

use super::artifacts::{Artifacts, FailedRun};
use super::error::CliError;
use super::invocation::Invocation;
use super::output::{Output, Printer};
use super::shown::Shown;
use super::Status;
use crate::explore::shrink_verdict;
use crate::fault::FaultPlan;
use crate::judge::judge;
use crate::scenario::{PlanFile, Registry, ScenarioFile};
use crate::seed::Seed;
use std::path::{Path, PathBuf};

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
    let mut unwritten = None;
    if let (Some(artifacts), false) = (&artifacts, verdict.passed()) {
        let shrunk = shrink_verdict(&scenario.scenario, &verdict);
        // Shown in its folder as this command shows it, less the folder's own name.
        let failed = FailedRun::of_run(&shown, Some(&shrunk), "tcpnotify-sim run --artifacts");
        match artifacts.write(&failed, &invocation) {
            Ok(written) => {
                shown.artifacts = Some(written.dir.clone());
                record = Some(written);
            }
            // The run is shown all the same, and the error is said after it.
            Err(e) => unwritten = Some(e),
        }
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
    if let Some(e) = unwritten {
        return Err(e);
    }
    Ok(if verdict.passed() {
        Status::Passed
    } else {
        Status::Failed
    })
}
