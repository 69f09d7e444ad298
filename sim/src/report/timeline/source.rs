//! Where a timeline comes from on the command line: a scenario file, run with a seed, or a
//! trace already run, as JSON lines.

use super::model::Timeline;
use crate::judge::{check, CheckOptions};
use crate::run::RunError;
use crate::run::{JsonTrace, Trace, TraceParseError};
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
    /// contract with default options, with the plan of its `run` line when it has one (the
    /// output of `run --json`): the plan names each fault's kind, where a file of bare events
    /// has only the words of its fault lines.
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
        let JsonTrace { trace, plan } =
            Trace::parse_json_run(&text).map_err(|source| TimelineError::Trace {
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
        Ok(Timeline::build(&title, &trace, plan.as_ref(), &report))
    }
}

#[cfg(test)]
mod tests {
    use super::super::spans::SpanKind;
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

    /// `run --json`'s output of `verdict`'s run: its `run` line (with its plan) when
    /// `with_run_line`, then its events.
    fn run_json(verdict: &crate::judge::Verdict, with_run_line: bool) -> String {
        let events = verdict.outcome.trace.render_json_lines();
        if !with_run_line {
            return events;
        }
        let plan = serde_json::json!({ "plan": &verdict.outcome.plan });
        format!("{}\n{events}", crate::json::record(crate::json::RUN, &plan))
    }

    /// Each span's kind and stretch.
    fn stretches(timeline: &Timeline) -> Vec<(SpanKind, u64, u64)> {
        (timeline.spans.iter())
            .map(|s| (s.kind, s.from_us, s.to_us))
            .collect()
    }

    #[test]
    fn a_run_json_output_gives_the_timeline_its_plan_and_bare_events_their_words() {
        // A swarm's plan: what `run --json` of a scenario without fault settings carries.
        let scenario = crate::Scenario::echo("echo", 4096, 256);
        let verdict = crate::judge::judge(&scenario, &scenario.plan_for(Seed(7))).unwrap();
        let ran = Timeline::of_verdict(&verdict);
        let registry = Registry::builtin();

        let with_plan = temp("with-plan.jsonl", &run_json(&verdict, true));
        let timeline = Timeline::load(&with_plan, None, &registry).unwrap();
        let described = verdict.outcome.plan.describe();
        assert!(described.contains("drawn by the swarm"), "{described}");
        assert_eq!(timeline.plan, Some(described));
        assert_eq!(timeline.spans, ran.spans);

        // The same events without their `run` line: each fault's kind read from its words,
        // and no plan's send-buffer limit.
        let bare = temp("bare.jsonl", &run_json(&verdict, false));
        let timeline = Timeline::load(&bare, None, &registry).unwrap();
        assert_eq!(timeline.plan, None);
        let mut faults = ran.spans.clone();
        faults.retain(|s| s.kind != SpanKind::SendBuffer);
        assert_eq!(timeline.spans, faults);
    }

    #[test]
    fn a_fault_line_whose_words_do_not_tell_its_kind_takes_it_from_the_runs_plan() {
        let plan = r#"{"seed":1,"send_buffer":4096,"faults":[{"at_ms":2,"kind":"partition","a":"client","b":"server","duration_ms":400,"one_way":true}]}"#;
        let events = concat!(
            r#"{"type":"event","at_us":2000,"host":"-","who":"-","event":"fault","index":0,"description":"a cut these words do not tell"}"#,
            "\n",
            r#"{"type":"event","at_us":402000,"host":"-","who":"-","event":"fault","index":0,"description":"healed"}"#,
            "\n",
        );
        let run = format!(r#"{{"type":"run","version":1,"scenario":"s","seed":1,"plan":{plan}}}"#);
        let registry = Registry::builtin();
        let path = temp("unread-words.jsonl", &format!("{run}\n{events}"));
        let timeline = Timeline::load(&path, None, &registry).unwrap();
        assert_eq!(
            stretches(&timeline),
            [
                (SpanKind::OneWayPartition, 2000, 402_000),
                (SpanKind::SendBuffer, 0, 402_000)
            ]
        );

        // Without the plan the words are all there is: a fault of no kind, an instant.
        let path = temp("unread-words-bare.jsonl", events);
        let timeline = Timeline::load(&path, None, &registry).unwrap();
        assert_eq!(stretches(&timeline), [(SpanKind::Fault, 2000, 2000)]);
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
