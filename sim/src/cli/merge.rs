//! `tcpnotify-sim merge A.json B.json ...`: the `sweep_result`s of a sweep's shards, each the
//! output of `sweep --shard I/N --json`, combined into the result of the whole sweep, printed
//! as `sweep` prints its own (with `--json`, the same `sweep_result` object the whole sweep's
//! `--keep-going` run prints).

use super::error::CliError;
use super::invocation::Invocation;
use super::output::{Output, Printer};
use super::sweep::{finish, SweepResult};
use super::Status;
use crate::explore::SweepReport;
use crate::json;
use std::path::{Path, PathBuf};

pub(super) fn merge(
    out: &Printer,
    files: &[PathBuf],
    junit: Option<PathBuf>,
    allow_no_faults: bool,
) -> Result<Status, CliError> {
    let junit_out = junit.as_deref().map(Output::create).transpose()?;
    let results = files
        .iter()
        .map(|path| read_result(path))
        .collect::<Result<Vec<_>, _>>()?;
    let file = results[0].file.clone();
    if let Some((path, other)) = files.iter().zip(&results).find(|(_, r)| r.file != file) {
        return Err(CliError::SweepResult {
            path: path.clone(),
            line: 0,
            problem: format!(
                "a sweep of {}, where {} swept {file}",
                other.file,
                files[0].display()
            ),
        });
    }
    let merged = SweepReport::merge(results.into_iter().map(|r| r.report))?;
    out.say(format!("merged {} sweep result(s) of {file}", files.len()));
    finish(
        out,
        &SweepResult::new(file, merged, allow_no_faults),
        junit_out,
        &Invocation::current(),
    )
}

/// The last `sweep_result` object of a file of JSON lines.
fn read_result(path: &Path) -> Result<SweepResult, CliError> {
    let text = std::fs::read_to_string(path).map_err(|source| CliError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    let problem = |line: usize, problem: String| CliError::SweepResult {
        path: path.to_path_buf(),
        line,
        problem,
    };
    let mut found = None;
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let value: serde_json::Value = serde_json::from_str(line)
            .map_err(|e| problem(i + 1, format!("not JSON ({e}); give `sweep --json` output")))?;
        if json::kind_of(&value) != Some("sweep_result") {
            continue;
        }
        json::check_version(&value).map_err(|source| CliError::Version {
            path: path.to_path_buf(),
            line: i + 1,
            source,
        })?;
        let result: SweepResult = serde_json::from_value(value)
            .map_err(|e| problem(i + 1, format!("not a sweep result: {e}")))?;
        found = Some(result);
    }
    found.ok_or_else(|| {
        problem(
            0,
            "no sweep_result object: give the output of `sweep --json`".to_string(),
        )
    })
}
