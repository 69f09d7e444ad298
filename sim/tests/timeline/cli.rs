//! `tcpnotify-sim timeline`: from a scenario file or a JSON trace, to a page and a Chrome
//! trace-event file; bad input exits 2 and says where.

use serde::Deserialize;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn sim(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_tcpnotify-sim"))
        .args(args)
        .current_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join(".."))
        .output()
        .expect("the binary runs")
}

fn scratch(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("timeline-cli-{name}"))
}

fn path(p: &Path) -> &str {
    p.to_str().expect("a UTF-8 path")
}

/// The fields of a Chrome trace event the test reads.
#[derive(Deserialize)]
struct Event {
    name: String,
    ph: String,
    #[serde(default)]
    cat: String,
    ts: u64,
    dur: Option<u64>,
    #[serde(default)]
    args: serde_json::Value,
}

#[derive(Deserialize)]
struct ChromeTrace {
    #[serde(rename = "traceEvents")]
    trace_events: Vec<Event>,
}

#[test]
fn timeline_of_a_scenario_writes_the_same_page_each_time_and_a_chrome_trace() {
    let (html, json) = (scratch("run.html"), scratch("run.json"));
    let args = [
        "timeline",
        "scenarios/partition-heals.toml",
        "--seed",
        "2",
        "-o",
        path(&html),
        "--chrome-trace",
        path(&json),
    ];
    let out = sim(&args);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("wrote ") && stdout.contains("3 lanes in 2 groups"),
        "{stdout}"
    );
    let page = std::fs::read_to_string(&html).unwrap();
    assert!(page.contains("<title>partition-heals (seed 2)</title>"));
    assert_eq!(sim(&args).status.code(), Some(0));
    assert_eq!(
        std::fs::read_to_string(&html).unwrap(),
        page,
        "deterministic"
    );

    let trace: ChromeTrace =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    let threads: Vec<&str> = trace
        .trace_events
        .iter()
        .filter(|e| e.ph == "M" && e.name == "thread_name")
        .filter_map(|e| e.args["name"].as_str())
        .collect();
    for lane in ["listener server", "client c1", "accepted server.1"] {
        assert!(threads.contains(&lane), "{threads:?}");
    }
    let callbacks = trace.trace_events.iter().filter(|e| e.cat == "callback");
    assert_eq!(callbacks.clone().count(), 24);
    assert!(callbacks.clone().all(|e| e.ph == "i"));
    let partition: Vec<(u64, Option<u64>)> = trace
        .trace_events
        .iter()
        .filter(|e| e.ph == "X" && e.cat == "partition")
        .map(|e| (e.ts, e.dur))
        .collect();
    assert_eq!(partition, [(2000, Some(400_000))]);
}

#[test]
fn timeline_of_a_json_trace_reads_every_line_and_names_one_that_is_not_json() {
    // `run --json` prints only JSON: the whole output is a trace (its `run` and `verdict`
    // objects are skipped).
    let out = sim(&["run", "scenarios/partition-heals.toml", "--json"]);
    let printed = String::from_utf8(out.stdout).unwrap();
    assert!(printed.lines().all(|l| l.starts_with('{')), "{printed}");
    let (trace, html) = (scratch("trace.jsonl"), scratch("trace.html"));
    std::fs::write(&trace, &printed).unwrap();
    let out = sim(&["timeline", path(&trace), "-o", path(&html)]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let page = std::fs::read_to_string(&html).unwrap();
    assert!(page.contains("<title>timeline-cli-trace.jsonl</title>"));
    // The plan of the `run` line is on the page, as for the scenario file itself.
    assert!(
        page.contains("connect timeout 1000ms"),
        "no plan on the page"
    );

    // The text output is no trace: its first line is named.
    let text = sim(&["run", "scenarios/partition-heals.toml"]).stdout;
    let mixed = scratch("mixed.jsonl");
    std::fs::write(&mixed, &text).unwrap();
    let out = sim(&["timeline", path(&mixed), "-o", path(&html)]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("timeline-cli-mixed.jsonl:1: not a trace event"),
        "{stderr}"
    );

    let out = sim(&["timeline", path(&trace), "--seed", "3", "-o", path(&html)]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("a seed applies to a scenario file"));
}

#[test]
fn timeline_without_an_output_is_bad_input() {
    let out = sim(&["timeline", "scenarios/partition-heals.toml"]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("--output"), "{stderr}");
    let out = sim(&["timeline", "scenarios/no-such-file.toml", "-o", "x.html"]);
    assert_eq!(out.status.code(), Some(2));
}
