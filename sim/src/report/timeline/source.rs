//! Where a timeline comes from on the command line: a scenario file, run with a seed, or a
//! trace already run, as JSON lines.

use super::model::Timeline;
use crate::judge::{check, CheckOptions};
use crate::run::RunError;
use crate::run::{Trace, TraceParseError};
use crate::scenario::{Registry, ScenarioError, ScenarioFile};
use crate::seed::Seed;
use std::path::{Path, PathBuf};

/// Why no timeline could be made from a file.
#[derive(Debug, thiserror::Error)]
pub enum TimelineError {
    /// The scenario file is not usable.
    #[error(transparent)]
    Scenario(#[from] ScenarioError),
    /// The scenario could not run.
    #[error("{path}: cannot run: {source}", path = .path.display())]
    Run {
        /// The scenario file.
        path: PathBuf,
        /// Why.
        source: RunError,
    },
    /// The file could not be read.
    #[error("{path}: cannot read: {source}", path = .path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// A line of a JSON trace is not a trace event.
    #[error(
        "{path}:{line}: not a trace event ({json}); a trace has one JSON event per line, \
         as `run --json` prints them, and a scenario file ends in .toml",
        path = .path.display(),
        line = .source.line,
        json = .source.source
    )]
    Trace {
        /// The trace file.
        path: PathBuf,
        /// The line that is not an event, and why.
        source: TraceParseError,
    },
    /// A JSON trace with no event in it.
    #[error("{path}: no trace events in the file", path = .path.display())]
    Empty {
        /// The trace file.
        path: PathBuf,
    },
    /// A seed was given for a trace, which ran with its own.
    #[error(
        "{path}: a seed applies to a scenario file (.toml); this is a trace, which already ran",
        path = .path.display()
    )]
    SeedForTrace {
        /// The trace file.
        path: PathBuf,
    },
}

impl Timeline {
    /// The timeline of `path`: a scenario file (`.toml`) run with `seed` (default: the file's),
    /// its notifiers built from `registry`; or any other file read as a JSON-lines trace, every
    /// non-blank line an event (an error names the first line that is not), checked against the
    /// contract with default options.
    pub fn load(
        path: &Path,
        seed: Option<Seed>,
        registry: &Registry,
    ) -> Result<Timeline, TimelineError> {
        if path.extension().is_some_and(|e| e == "toml") {
            let file = ScenarioFile::load(path, registry)?;
            let verdict = file.judge(seed).map_err(|source| TimelineError::Run {
                path: path.to_path_buf(),
                source,
            })?;
            return Ok(Timeline::of_verdict(&verdict));
        }
        if seed.is_some() {
            return Err(TimelineError::SeedForTrace {
                path: path.to_path_buf(),
            });
        }
        let text = std::fs::read_to_string(path).map_err(|source| TimelineError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        let trace = Trace::parse_json_lines(&text).map_err(|source| TimelineError::Trace {
            path: path.to_path_buf(),
            source,
        })?;
        if trace.is_empty() {
            return Err(TimelineError::Empty {
                path: path.to_path_buf(),
            });
        }
        let title = path.file_name().map_or_else(
            || path.display().to_string(),
            |n| n.to_string_lossy().into_owned(),
        );
        let report = check(&trace, &CheckOptions::default());
        Ok(Timeline::build(&title, &trace, None, &report))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp(name: &str, text: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("tcpnotify-timeline-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join(name);
        std::fs::write(&path, text).unwrap();
        path
    }

    #[test]
    fn a_trace_line_that_is_not_an_event_is_an_error_naming_it() {
        let good = r#"{"at_us":0,"host":"-","who":"-","event":"note","text":"run started"}"#;
        let path = temp("mixed.jsonl", &format!("{good}\n\ncontract: ok\n"));
        let err = Timeline::load(&path, None, &Registry::builtin()).unwrap_err();
        assert!(
            matches!(
                err,
                TimelineError::Trace {
                    source: TraceParseError { line: 3, .. },
                    ..
                }
            ),
            "{err}"
        );
        assert!(
            err.to_string().contains("mixed.jsonl:3: not a trace event"),
            "{err}"
        );
    }

    #[test]
    fn a_trace_reads_back_into_a_timeline_titled_by_its_file() {
        let path = temp(
            "one.jsonl",
            &super::super::model::tests::echo_trace().render_json_lines(),
        );
        let timeline = Timeline::load(&path, None, &Registry::builtin()).unwrap();
        assert_eq!(timeline.title, "one.jsonl");
        assert_eq!(timeline.lanes.len(), 3);
        assert_eq!(timeline.violations.len(), 1);
        assert_eq!(timeline.plan, None);
    }

    #[test]
    fn a_seed_for_a_trace_and_an_empty_trace_are_errors() {
        let path = temp("empty.jsonl", "\n");
        let registry = Registry::builtin();
        let err = Timeline::load(&path, Some(Seed(3)), &registry).unwrap_err();
        assert!(matches!(err, TimelineError::SeedForTrace { .. }), "{err}");
        let err = Timeline::load(&path, None, &registry).unwrap_err();
        assert!(matches!(err, TimelineError::Empty { .. }), "{err}");
    }

    #[test]
    fn a_scenario_file_runs_with_the_seed_given() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios/partition-heals.toml");
        let timeline = Timeline::load(&path, Some(Seed(5)), &Registry::builtin()).unwrap();
        assert_eq!(timeline.title, "partition-heals (seed 5)");
        assert!(timeline
            .plan
            .as_deref()
            .is_some_and(|p| p.starts_with("seed 5\n")));
        assert_eq!(
            timeline.spans[0].label,
            "partition client <-> server for 400ms"
        );
    }
}
