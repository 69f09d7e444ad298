//! Where a timeline comes from on the command line: a scenario file, run with a seed, or a
//! trace already run, as JSON lines.

use super::model::Timeline;
use crate::judge::{check, CheckOptions};
use crate::run::RunError;
use crate::run::{JsonTrace, Trace, TraceParseError};
use crate::scenario::{Registry, ScenarioError, ScenarioFile};
use crate::seed::Seed;
use serde::Deserialize;
use std::path::{Path, PathBuf};
use tcpnotify::DEFAULT_READ_BUFFER_SIZE;

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
    /// non-blank line an event (an error names the first line that is not), with the plan and
    /// check options of its `run` line when it has one (the output of `run --json`). The plan
    /// names each fault's kind, where a file of bare events has only the words of its fault
    /// lines; the check options judge the trace as its run was judged. A trace without them
    /// is judged with the defaults, and its page says so.
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
        let JsonTrace {
            trace,
            plan,
            check_options,
        } = Trace::parse_json_run(&text).map_err(|source| TimelineError::Trace {
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
        // Options a newer writer changed beyond reading count as absent, as its plan does.
        let options = check_options.and_then(|o| CheckOptions::deserialize(o).ok());
        let report = check(&trace, options.as_ref().unwrap_or(&CheckOptions::default()));
        let mut timeline = Timeline::build(&title, &trace, plan.as_ref(), &report);
        if options.is_none() {
            timeline.check_note = Some(judged_with_defaults());
        }
        Ok(timeline)
    }
}

/// What the page of a trace without check options says of its contract check: the rules
/// that depend on the run's settings were judged with the defaults, which that run may not
/// have had.
fn judged_with_defaults() -> String {
    format!(
        "the trace carries no check options (a `run` line of `run --json` has them): R1 and \
         R2 judged against the default read buffer of {DEFAULT_READ_BUFFER_SIZE} bytes, N3 \
         not judged (no listener limits), R6 not counted as exercised"
    )
}

#[cfg(test)]
mod tests {
    use super::super::spans::SpanKind;
    use super::*;
    use crate::judge::Rule;

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

    /// `run --json`'s output of `scenario`'s run `verdict`: its `run` line (with its plan and
    /// check options) when `with_run_line`, then its events.
    fn run_json(
        scenario: &crate::Scenario,
        verdict: &crate::judge::Verdict,
        with_run_line: bool,
    ) -> String {
        let events = verdict.outcome.trace.render_json_lines();
        if !with_run_line {
            return events;
        }
        let run = serde_json::json!({
            "plan": &verdict.outcome.plan,
            "check_options": crate::judge::check_options(scenario),
        });
        format!("{}\n{events}", crate::json::record(crate::json::RUN, &run))
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

        let with_plan = temp("with-plan.jsonl", &run_json(&scenario, &verdict, true));
        let timeline = Timeline::load(&with_plan, None, &registry).unwrap();
        let described = verdict.outcome.plan.describe();
        assert!(described.contains("drawn by the swarm"), "{described}");
        assert_eq!(timeline.plan, Some(described));
        assert_eq!(timeline.spans, ran.spans);

        // The same events without their `run` line: each fault's kind read from its words,
        // and no plan's send-buffer limit.
        let bare = temp("bare.jsonl", &run_json(&scenario, &verdict, false));
        let timeline = Timeline::load(&bare, None, &registry).unwrap();
        assert_eq!(timeline.plan, None);
        let mut faults = ran.spans.clone();
        faults.retain(|s| s.kind != SpanKind::SendBuffer);
        assert_eq!(timeline.spans, faults);
    }

    /// R1, R2: a run whose connections read into 64 KiB buffers receives more than the
    /// default buffer at once, and passes; its JSON is judged with its own buffers, and the
    /// same events without the `run` line with the default one, which the page says.
    #[test]
    fn a_run_json_output_is_judged_with_the_runs_read_buffers() {
        let text = r#"
            duration_ms = 2000
            [[listeners]]
            name = "server"
            host = "server"
            port = 7000
            notifier = "echo"
            config = { read_buffer_size = 65536 }
            [[clients]]
            name = "c1"
            host = "client"
            target = "server"
            port = 7000
            notifier = "sender"
            config = { read_buffer_size = 65536 }
            params = { bytes = 262144 }
            [expect]
            echoed = true
        "#;
        let registry = Registry::builtin();
        let file = ScenarioFile::parse(text, Path::new("big-buffers.toml"), &registry).unwrap();
        let scenario = &file.scenario;
        let verdict = crate::judge::judge(scenario, &scenario.plan_for(Seed(1))).unwrap();
        assert!(verdict.passed(), "{verdict}");

        let path = temp("big-buffers.jsonl", &run_json(scenario, &verdict, true));
        let timeline = Timeline::load(&path, None, &registry).unwrap();
        assert_eq!(timeline.violations, []);
        assert_eq!(timeline.check_note, None);

        let path = temp(
            "big-buffers-bare.jsonl",
            &run_json(scenario, &verdict, false),
        );
        let timeline = Timeline::load(&path, None, &registry).unwrap();
        assert!(!timeline.violations.is_empty());
        assert!(timeline.violations.iter().all(
            |v| v.rule == Rule::R1 && v.message.ends_with("more than the read buffer of 16384")
        ));
        assert_eq!(timeline.check_note, Some(judged_with_defaults()));
    }

    /// N3: a listener's limit, known from the `run` line, is judged; without it, it is not,
    /// and the page says so.
    #[test]
    fn a_listener_limit_of_the_run_line_is_judged_n3() {
        let event = |at: u32, who: &str, callback: &str, args: &str| {
            format!(
                r#"{{"type":"event","at_us":{at},"host":"server","who":"{who}","event":"callback","callback":"{callback}"{args}}}"#
            )
        };
        let connected = r#","args":{"accepted":true}"#;
        let events = [
            event(0, "server", "listening", r#","args":"192.168.0.1:7000""#),
            event(1, "server", "listener_connected", connected),
            event(1, "server.1", "accepted", ""),
            event(2, "server", "listener_connected", connected),
            event(2, "server.2", "accepted", ""),
        ]
        .join("\n");
        let options = r#"{"listener_limits":{"server":1},"read_buffer_sizes":{}}"#;
        let run = format!(r#"{{"type":"run","version":1,"check_options":{options}}}"#);
        let registry = Registry::builtin();

        let path = temp("limited.jsonl", &format!("{run}\n{events}\n"));
        let timeline = Timeline::load(&path, None, &registry).unwrap();
        let broken: Vec<(Rule, &str, &[usize])> = (timeline.violations.iter())
            .map(|v| (v.rule, v.who.as_str(), &v.lines[..]))
            .collect();
        assert_eq!(broken, [(Rule::N3, "server", &[3, 5][..])]);
        assert_eq!(timeline.check_note, None);

        let path = temp("limited-bare.jsonl", &format!("{events}\n"));
        let timeline = Timeline::load(&path, None, &registry).unwrap();
        assert_eq!(timeline.violations, []);
        assert!((timeline.check_note.as_deref()).is_some_and(|n| n.contains("N3 not judged")));
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
