//! `--artifacts DIR` of `run`, `sweep` and `shrink`: a folder per failing seed, named by the
//! scenario and the seed (`DIR/chaos.seed-46/`), holding everything needed to look at the
//! failure without running anything again, and to run it again:
//!
//! | file | what |
//! |---|---|
//! | `README.txt` | the failure in words, the repro lines, what each file is, and why a file is missing |
//! | `trace.txt` | the run as `run` prints it: plan, trace, summary, verdict |
//! | `trace.jsonl` | the same as `run --json` prints it (`docs/json.md`), which `timeline` also reads |
//! | `plan.toml` | the seed's fault plan, as `run --save-plan` writes it (`run FILE --plan`) |
//! | `shrunk.toml` | the scenario with the smallest plan that still fails the same way, as `shrink` writes it |
//! | `timeline.html` | the run drawn on simulated time, one self-contained page |
//!
//! Each file is written whole or not at all (`crate::output_file`); a file of an earlier
//! failure of the same seed that this one has not (a `shrunk.toml` of a run that could be
//! shrunk then) is removed, so the folder never mixes two runs.

use super::error::CliError;
use super::invocation::Invocation;
use super::shown::Shown;
use crate::explore::{FailureKind, LostConnectionsHint, ShrinkResult};
use crate::fault::FaultPlan;
use crate::output_file::{file_name, OutputFile};
use crate::report::Timeline;
use crate::scenario::ScenarioFile;
use crate::seed::Seed;
use serde::Serialize;
use std::path::{Path, PathBuf};

/// Most failing seeds of one sweep that get a folder: the lowest by index. Each is re-run and
/// shrunk, which can take as long as many seeds of the sweep did.
pub(super) const MAX_SWEEP_ARTIFACTS: usize = 20;

/// The folder `--artifacts` names, created before anything runs so that an unwritable one is
/// refused first.
pub(super) struct Artifacts {
    dir: PathBuf,
}

/// One failing seed, as far as it is known: what its folder is made of.
pub(super) struct FailedRun<'a> {
    pub(super) file: &'a ScenarioFile,
    pub(super) plan: &'a FaultPlan,
    pub(super) kind: FailureKind,
    /// The first failure's signature.
    pub(super) signature: String,
    /// The failure in words.
    pub(super) summary: String,
    /// The command that re-runs the seed.
    pub(super) repro: String,
    /// The run, judged: absent when it was not run again (why is in `notes`).
    pub(super) run: Option<&'a Shown<'a>>,
    /// Its plan shrunk: absent when it could not be (why is in `notes`).
    pub(super) shrunk: Option<&'a ShrinkResult>,
    /// What is missing, and why.
    pub(super) notes: Vec<String>,
    /// How the shrunk file says it was made (`shrink FILE --seed N`, `sweep --artifacts`).
    pub(super) made_by: String,
}

/// The `artifacts` object: one failing seed's folder and the files in it.
#[derive(Serialize)]
pub(super) struct ArtifactsRecord {
    pub(super) scenario: String,
    pub(super) file: String,
    pub(super) seed: Seed,
    pub(super) kind: FailureKind,
    pub(super) signature: String,
    /// The folder.
    pub(super) dir: String,
    pub(super) files: Files,
    /// The command that re-runs the seed.
    pub(super) repro: String,
    /// The command that runs the shrunk scenario.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) shrunk_repro: Option<String>,
    /// What is missing, and why.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub(super) notes: Vec<String>,
}

/// The paths of the files written, each present only when written.
#[derive(Serialize, Default)]
pub(super) struct Files {
    readme: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    trace_text: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    trace_json: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    plan: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    shrunk: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    timeline: Option<String>,
}

impl Files {
    /// The shrunk scenario's path, if one was written.
    pub(super) fn shrunk_path(&self) -> Option<&str> {
        self.shrunk.as_deref()
    }
}

/// A file a failing seed's folder may hold: the one list of them, with each one's name, what
/// the README says of it and its slot in [`Files`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Artifact {
    Readme,
    TraceText,
    TraceJson,
    Plan,
    Shrunk,
    Timeline,
}

impl Artifact {
    /// Every one, in the order the README lists them.
    const ALL: [Artifact; 6] = [
        Artifact::Readme,
        Artifact::TraceText,
        Artifact::TraceJson,
        Artifact::Plan,
        Artifact::Shrunk,
        Artifact::Timeline,
    ];

    /// Its file name in the folder.
    fn name(self) -> &'static str {
        match self {
            Artifact::Readme => "README.txt",
            Artifact::TraceText => "trace.txt",
            Artifact::TraceJson => "trace.jsonl",
            Artifact::Plan => "plan.toml",
            Artifact::Shrunk => "shrunk.toml",
            Artifact::Timeline => "timeline.html",
        }
    }

    /// What the README says it is; `None` for the README itself.
    fn what(self) -> Option<&'static str> {
        Some(match self {
            Artifact::Readme => return None,
            Artifact::TraceText => "the run as `run` prints it: plan, trace, summary, verdict",
            Artifact::TraceJson => {
                "the same as `run --json` prints it (schema: docs/json.md); `timeline` reads it"
            }
            Artifact::Plan => "the seed's fault plan: `run FILE --plan plan.toml` runs it again",
            Artifact::Shrunk => "the scenario with the smallest plan that still fails the same way",
            Artifact::Timeline => {
                "the run drawn on simulated time: one self-contained page for a browser"
            }
        })
    }

    /// Where the `artifacts` object gives its path.
    fn slot(self, files: &mut Files) -> &mut Option<String> {
        match self {
            Artifact::Readme => &mut files.readme,
            Artifact::TraceText => &mut files.trace_text,
            Artifact::TraceJson => &mut files.trace_json,
            Artifact::Plan => &mut files.plan,
            Artifact::Shrunk => &mut files.shrunk,
            Artifact::Timeline => &mut files.timeline,
        }
    }
}

impl<'a> FailedRun<'a> {
    /// A run judged failing that was run to its end: everything can be shown, and `shrunk`
    /// is its plan shrunk (none if it failed another way the second time).
    pub(super) fn of_run(
        run: &'a Shown<'a>,
        shrunk: Option<&'a ShrinkResult>,
        made_by: &str,
    ) -> Self {
        let first = run.verdict.failures.first();
        FailedRun {
            file: run.file,
            plan: run.plan,
            kind: FailureKind::Failed,
            signature: run.signature(),
            summary: first.map_or_else(String::new, |f| f.to_string()),
            repro: run.repro.clone().unwrap_or_default(),
            run: Some(run),
            shrunk,
            notes: Vec::new(),
            made_by: made_by.to_string(),
        }
    }
}

impl Artifacts {
    /// The artifacts folder `dir`, made if it is not there.
    pub(super) fn new(dir: &Path) -> Result<Self, CliError> {
        std::fs::create_dir_all(dir).map_err(|source| crate::output_file::WriteError {
            path: dir.to_path_buf(),
            source,
        })?;
        Ok(Artifacts {
            dir: dir.to_path_buf(),
        })
    }

    /// The folder of `scenario`'s `seed`: `DIR/NAME.seed-N`, the name as it is if it is a safe
    /// file name, else made safe with a hash of it, and cut to fit one
    /// (`crate::output_file::file_name`).
    pub(super) fn folder(&self, scenario: &str, seed: Seed) -> PathBuf {
        self.dir
            .join(format!("{}.seed-{seed}", file_name(scenario)))
    }

    /// Writes the folder of `failure` and says what is in it.
    pub(super) fn write(
        &self,
        failure: &FailedRun<'_>,
        invocation: &Invocation,
    ) -> Result<ArtifactsRecord, CliError> {
        let dir = self.folder(&failure.file.scenario.name, failure.plan.seed);
        let mut written: Vec<(Artifact, String)> = Vec::new();
        if let Some(run) = failure.run {
            written.push((Artifact::TraceText, run.text()));
            written.push((Artifact::TraceJson, run.json_lines()));
            let timeline = Timeline::of_verdict(run.verdict).html();
            written.push((Artifact::Timeline, timeline));
        }
        written.push((Artifact::Plan, failure.plan.to_toml()?));
        if let Some(shrunk) = failure.shrunk {
            let header = format!(
                "Shrunk from seed {} of {} by `{}`: still fails with [{}].",
                failure.plan.seed,
                failure.file.path.display(),
                failure.made_by,
                failure.signature
            );
            written.push((
                Artifact::Shrunk,
                failure.file.with_plan(&shrunk.plan, &header)?,
            ));
        }
        let path_of = |name: &str| dir.join(name).display().to_string();
        let shrunk_repro = failure
            .shrunk
            .map(|_| invocation.command(["run".to_string(), path_of(Artifact::Shrunk.name())]));
        let mut record = ArtifactsRecord {
            scenario: failure.file.scenario.name.clone(),
            file: failure.file.path.display().to_string(),
            seed: failure.plan.seed,
            kind: failure.kind,
            signature: failure.signature.clone(),
            dir: dir.display().to_string(),
            files: Files::default(),
            repro: failure.repro.clone(),
            shrunk_repro,
            notes: failure.notes.clone(),
        };
        written.push((Artifact::Readme, readme(failure, &record, &written)));
        for (artifact, text) in &written {
            let name = artifact.name();
            OutputFile::create_with_folders(&dir.join(name))?.commit(text)?;
            *artifact.slot(&mut record.files) = Some(path_of(name));
        }
        for artifact in Artifact::ALL {
            if !written.iter().any(|(a, _)| *a == artifact) {
                remove_stale(&dir.join(artifact.name()))?;
            }
        }
        Ok(record)
    }
}

/// Removes a file an earlier failure left, if it is there.
fn remove_stale(path: &Path) -> Result<(), CliError> {
    match std::fs::remove_file(path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(crate::output_file::WriteError {
            path: path.to_path_buf(),
            source: e,
        }
        .into()),
        _ => Ok(()),
    }
}

/// The folder's `README.txt`.
fn readme(
    failure: &FailedRun<'_>,
    record: &ArtifactsRecord,
    written: &[(Artifact, String)],
) -> String {
    let mut text = format!(
        "Scenario {} ({}), seed {}: {} [{}]\n{}\n\nreproduce: {}\n",
        record.scenario,
        record.file,
        record.seed,
        kind_name(failure.kind),
        record.signature,
        failure.summary,
        record.repro
    );
    if let (Some(shrunk), Some(repro)) = (failure.shrunk, &record.shrunk_repro) {
        text += &format!(
            "shrunk:    {repro}\n           ({} of {} faults kept, {} runs)\n",
            shrunk.plan.faults.len(),
            failure.plan.faults.len(),
            shrunk.runs
        );
        if let Some(hint) = LostConnectionsHint::of(&failure.file.scenario, &shrunk.plan) {
            text += &format!("\n{}\n", hint.in_file());
        }
    }
    text += "\nFiles:\n";
    for artifact in Artifact::ALL {
        let Some(what) = artifact.what() else {
            continue;
        };
        if written.iter().any(|(a, _)| *a == artifact) {
            text += &format!("  {:<14} {what}\n", artifact.name());
        }
    }
    if !failure.notes.is_empty() {
        text += "\nNot here:\n";
        for note in &failure.notes {
            text += &format!("  {note}\n");
        }
    }
    text
}

/// A failure kind as the JSON says it (`failed`, `run_error`, ...).
fn kind_name(kind: FailureKind) -> String {
    serde_json::to_value(kind)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_else(|| format!("{kind:?}"))
}
