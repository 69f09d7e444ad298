//! `tcpnotify-sim check-determinism`: each seed run twice, traces compared, progress on stderr
//! as `sweep` shows it. With `--json`: one `determinism_result` object.

use super::error::CliError;
use super::interrupt;
use super::invocation::Invocation;
use super::output::Printer;
use super::{SeedArgs, Status};
use crate::explore::{check_determinism, DeterminismOptions, DeterminismReport, SeedSet};
use crate::scenario::{Registry, ScenarioFile};
use serde::Serialize;
use std::path::Path;

/// The `determinism_result` object.
#[derive(Serialize)]
struct DeterminismRecord<'a> {
    file: String,
    /// Whether every seed checked ran the same twice.
    identical: bool,
    #[serde(flatten)]
    report: &'a DeterminismReport,
    #[serde(skip_serializing_if = "Option::is_none")]
    repro: Option<String>,
}

pub(super) fn check(
    out: &Printer,
    registry: &Registry,
    path: &Path,
    seeds: &SeedArgs,
    verbose: bool,
) -> Result<Status, CliError> {
    let file = ScenarioFile::load(path, registry)?;
    let seeds = seeds.resolve(None)?;
    out.say(format!(
        "checking {}: seeds {}, each run twice",
        file.path.display(),
        seeds
    ));
    if let SeedSet::Random { .. } = seeds {
        out.say(format!(
            "fresh random seeds: run this set again with {}",
            seeds.flags()
        ));
    }
    let report = check_determinism(
        &file.scenario,
        &DeterminismOptions {
            progress: true,
            verbose,
            interrupt: interrupt::flag(),
            ..DeterminismOptions::new(seeds)
        },
    );
    let repro = report.difference.as_ref().map(|d| {
        Invocation::current().command([
            "check-determinism".to_string(),
            file.path.display().to_string(),
            "--seeds".into(),
            format!("{}..{}", d.seed, d.seed.0.saturating_add(1)),
        ])
    });
    out.say(report.to_string());
    if let Some(repro) = &repro {
        out.say(format!("reproduce: {repro}"));
    }
    out.record(
        "determinism_result",
        &DeterminismRecord {
            file: file.path.display().to_string(),
            identical: report.passed(),
            report: &report,
            repro,
        },
    );
    Ok(if !report.passed() {
        Status::Failed
    } else if report.interrupted {
        Status::Interrupted
    } else {
        Status::Passed
    })
}
