//! `--json` on every command: only JSON on stdout, one object per line, each with the type
//! and version `docs/json.md` gives it; the human text on stderr.

use super::*;

/// The `type` and `version` every object has (events: no version).
#[derive(Deserialize)]
struct Envelope {
    #[serde(rename = "type")]
    kind: String,
    version: Option<u32>,
}

fn kinds(lines: &[serde_json::Value]) -> Vec<String> {
    lines
        .iter()
        .map(|l| {
            let envelope: Envelope = serde_json::from_value(l.clone()).expect("a type");
            if envelope.kind == "event" {
                assert_eq!(envelope.version, None, "{l}");
            } else {
                assert_eq!(envelope.version, Some(1), "{l}");
            }
            envelope.kind
        })
        .collect()
}

#[derive(Deserialize)]
struct RunStart {
    scenario: String,
    file: String,
    seed: u64,
    plan: serde_json::Value,
    check_options: CheckOptions,
}

#[derive(Deserialize, Debug, PartialEq)]
struct CheckOptions {
    listener_limits: BTreeMap<String, u64>,
    read_buffer_sizes: BTreeMap<String, u64>,
    integrity_checked: bool,
}

#[derive(Deserialize)]
struct Event {
    at_us: u64,
    host: String,
    who: String,
    event: String,
}

#[derive(Deserialize)]
struct Verdict {
    passed: bool,
    failures: Vec<VerdictFailure>,
    exercised: BTreeMap<String, u64>,
    summary: Summary,
    repro: Option<String>,
}

#[derive(Deserialize)]
struct VerdictFailure {
    signature: String,
    message: String,
}

#[derive(Deserialize)]
struct Summary {
    seed: u64,
    ended: String,
    faults_fired: BTreeMap<String, u64>,
    connections: Vec<Connection>,
}

#[derive(Deserialize)]
struct Connection {
    name: String,
    host: String,
    sent: u64,
    received: u64,
    ended: String,
}

#[test]
fn run_json_is_a_run_object_the_trace_events_and_a_verdict() {
    let dir = scratch("run-json");
    let file = always_failing(&dir);
    let output = sim(&["run", file.to_str().unwrap(), "--seed", "5", "--json"]);
    assert_eq!(output.status.code(), Some(1), "{}", text(&output.stderr));
    let lines = json_lines(&output);
    let kinds = kinds(&lines);
    assert_eq!(kinds.first().map(String::as_str), Some("run"));
    assert_eq!(kinds.last().map(String::as_str), Some("verdict"));
    assert!(kinds[1..kinds.len() - 1].iter().all(|k| k == "event"));

    let start: RunStart = serde_json::from_value(lines[0].clone()).unwrap();
    assert_eq!((start.scenario.as_str(), start.seed), ("echo", 5));
    assert_eq!(start.file, file.display().to_string());
    assert_eq!(start.plan["seed"], 5);
    let default_buffers = [("c1", 16_384), ("server", 16_384)];
    let check_options = CheckOptions {
        listener_limits: BTreeMap::new(),
        read_buffer_sizes: default_buffers.map(|(n, s)| (n.to_string(), s)).into(),
        integrity_checked: true,
    };
    assert_eq!(start.check_options, check_options);
    let events: Vec<Event> = lines[1..lines.len() - 1]
        .iter()
        .map(|l| serde_json::from_value(l.clone()).unwrap())
        .collect();
    assert!(events.windows(2).all(|w| w[0].at_us <= w[1].at_us));
    assert!(events
        .iter()
        .any(|e| e.who == "c1" && e.host == "client" && e.event == "callback"));
    // The run's end is its last event, of a kind of its own with how it ended.
    let end = &lines[lines.len() - 2];
    let fields = ["event", "ended", "host", "who"].map(|f| end[f].as_str());
    let expected = ["run_ended", "all_finished", "-", "-"].map(Some);
    assert_eq!(fields, expected, "{end}");

    let verdict: Verdict = serde_json::from_value(lines[lines.len() - 1].clone()).unwrap();
    assert!(!verdict.passed);
    assert_eq!(verdict.failures[0].signature, "closed");
    assert!(verdict.failures[0]
        .message
        .contains("expected 9 `closed` callbacks, saw 2"));
    assert!(verdict.exercised["C1"] > 0);
    assert_eq!(verdict.summary.seed, 5);
    assert_eq!(verdict.summary.ended, "all clients finished");
    assert!(verdict.summary.faults_fired.is_empty());
    let c1 = verdict
        .summary
        .connections
        .iter()
        .find(|c| c.name == "c1")
        .unwrap();
    assert_eq!(
        (c1.host.as_str(), c1.sent, c1.received, c1.ended.as_str()),
        ("client", 64, 64, "closed")
    );
    let repro = verdict.repro.expect("a failing run has a repro line");
    assert_eq!(
        repro_args(&repro),
        ["run", file.to_str().unwrap(), "--seed", "5"]
    );
    // The human text went to stderr, and stays out of stdout.
    assert!(text(&output.stdout).lines().all(|l| l.starts_with('{')));
}

/// A reader muted for its first 150ms: its mute and unmute are `muted` and `unmuted` events,
/// with the time each took effect and no other field, and no callback among them.
#[test]
fn run_json_has_a_muted_and_an_unmuted_event_where_the_mute_and_unmute_took_effect() {
    let dir = scratch("run-json-mute");
    let file = write(
        &dir,
        "slow-reader.toml",
        r#"
name = "slow-reader"

[[listeners]]
name = "server"
host = "server"
port = 7000
notifier = "slow-reader"
params = { delay_ms = 150, bytes = 64 }

[[clients]]
name = "c1"
host = "client"
target = "server"
port = 7000
notifier = "sender"
params = { bytes = 64 }

[faults]
"#,
    );
    let output = sim(&["run", file.to_str().unwrap(), "--json"]);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    let lines = json_lines(&output);
    let mutes: Vec<(u64, String)> = lines
        .iter()
        .filter(|l| l["type"] == "event" && l["who"] == "server.1")
        .map(|l| serde_json::from_value::<Event>(l.clone()).unwrap())
        .filter(|e| e.event == "muted" || e.event == "unmuted")
        .map(|e| (e.at_us, e.event))
        .collect();
    assert_eq!(
        mutes,
        [
            (1_000, "muted".to_string()),
            (151_000, "unmuted".to_string())
        ]
    );
    let muted = lines.iter().find(|l| l["event"] == "muted").unwrap();
    let fields: Vec<&String> = muted.as_object().unwrap().keys().collect();
    assert_eq!(fields, ["at_us", "event", "host", "type", "who"], "{muted}");
}

/// A client whose queued writes its peer's hard close left it to discard (L3): a `discarded`
/// event with their count right after its `closed`, and the summary's `sent` counts only what
/// went out.
#[test]
fn run_json_has_a_discarded_event_after_closed_and_the_summary_counts_what_went_out() {
    // The repository's scenario of ponyc #5595: c1's writes queued behind a 2 KiB send buffer
    // when the server's hard close ends its stream.
    let file = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../scenarios/ponyc-5595-late-event-after-hard-close.toml");
    let output = sim(&["run", file.to_str().unwrap(), "--json"]);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    let lines = json_lines(&output);
    let c1: Vec<&serde_json::Value> = (lines.iter())
        .filter(|l| l["type"] == "event" && l["who"] == "c1")
        .collect();
    let at = (c1.iter().position(|l| l["event"] == "discarded")).expect("a discarded event");
    assert_eq!(c1[at - 1]["callback"], "closed", "{}", c1[at - 1]);
    let fields: Vec<&String> = c1[at].as_object().unwrap().keys().collect();
    assert_eq!(
        fields,
        ["at_us", "bytes", "event", "host", "type", "who"],
        "{}",
        c1[at]
    );
    let discarded = c1[at]["bytes"].as_u64().expect("a count");
    assert!(discarded > 0 && discarded < 8192, "{}", c1[at]);
    let verdict: Verdict = serde_json::from_value(lines[lines.len() - 1].clone()).unwrap();
    let summary = (verdict.summary.connections.iter())
        .find(|c| c.name == "c1")
        .expect("c1 in the summary");
    assert_eq!(summary.sent, 8192 - discarded);
}

#[test]
fn a_run_in_text_ends_with_a_summary_of_each_connection_and_the_verdict() {
    let dir = scratch("run-summary");
    let file = always_failing(&dir);
    let output = sim(&["run", file.to_str().unwrap()]);
    let stdout = text(&output.stdout);
    let summary = stdout
        .lines()
        .position(|l| l.starts_with("summary: seed 3, all clients finished at "))
        .unwrap_or_else(|| panic!("no summary in:\n{stdout}"));
    let words = |l: &str| l.split_whitespace().collect::<Vec<_>>().join(" ");
    let lines: Vec<String> = stdout.lines().skip(summary).map(words).collect();
    assert!(lines[0].ends_with("faults fired: none"), "{}", lines[0]);
    assert_eq!(lines[1], "c1 client sent 64B received 64B closed");
    assert_eq!(lines[2], "server.1 server sent 64B received 64B closed");
    assert!(
        lines.iter().any(|l| l == "verdict: FAILED (1 failure(s))"),
        "{stdout}"
    );
    assert!(lines.last().unwrap().starts_with("reproduce: "), "{stdout}");
}

#[test]
fn the_json_of_run_is_a_trace_that_timeline_reads() {
    let dir = scratch("run-json-timeline");
    let file = write(&dir, "echo.toml", ECHO);
    let output = sim(&["run", file.to_str().unwrap(), "--json"]);
    assert_eq!(output.status.code(), Some(0));
    let trace = write(&dir, "trace.jsonl", &text(&output.stdout));
    let page = dir.join("trace.html");
    let output = sim(&[
        "timeline",
        trace.to_str().unwrap(),
        "-o",
        page.to_str().unwrap(),
        "--json",
    ]);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    let lines = json_lines(&output);
    assert_eq!(kinds(&lines), ["timeline"]);
    assert_eq!(lines[0]["html"], page.display().to_string());
    assert!(lines[0]["description"].as_str().unwrap().contains("lanes"));
    assert!(page.exists());
}

/// `timeline TRACE.jsonl -o PAGE --json` of `trace`: its `timeline` object and stderr.
fn timeline_of(dir: &Path, name: &str, trace: &str) -> (serde_json::Value, String) {
    let trace = write(dir, name, trace);
    let page = trace.with_extension("html");
    let args = [
        "timeline",
        trace.to_str().unwrap(),
        "-o",
        page.to_str().unwrap(),
    ];
    let output = sim(&[&args[..], &["--json"]].concat());
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    let lines = json_lines(&output);
    assert_eq!(kinds(&lines), ["timeline"]);
    (lines[0].clone(), text(&output.stderr))
}

/// R1, R2: a run whose connections read into 64 KiB buffers passes, and the timeline of its
/// `run --json` judges it with those buffers, from its `run` line; the same events without
/// that line are judged with the default buffer, and the page and stderr say so.
#[test]
fn the_timeline_of_run_json_judges_the_trace_with_the_runs_check_options() {
    let dir = scratch("run-json-check-options");
    let big = ECHO
        .replace("notifier = \"echo\"\n", "notifier = \"echo\"\nconfig = { read_buffer_size = 65536 }\n")
        .replace("params = { bytes = 64 }", "config = { read_buffer_size = 65536 }\nparams = { bytes = 262144 }\n[expect]\nechoed = true");
    let file = write(&dir, "big-buffers.toml", &big);
    let output = sim(&["run", file.to_str().unwrap(), "--seed", "1", "--json"]);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    let run = text(&output.stdout);
    let start: RunStart = serde_json::from_str(run.lines().next().unwrap()).unwrap();
    assert_eq!(start.check_options.read_buffer_sizes["server"], 65_536);

    let (judged, stderr) = timeline_of(&dir, "run.jsonl", &run);
    let description = judged["description"].as_str().unwrap();
    assert!(description.ends_with(", 0 violations"), "{description}");
    assert_eq!(judged.get("check_note"), None, "{judged}");
    assert!(!stderr.contains("check options"), "{stderr}");

    let (_, events) = run.split_once('\n').unwrap();
    let (judged, stderr) = timeline_of(&dir, "events.jsonl", events);
    let description = judged["description"].as_str().unwrap();
    assert!(!description.ends_with(", 0 violations"), "{description}");
    let note = judged["check_note"].as_str().unwrap();
    assert!(note.contains("no check options"), "{note}");
    assert!(
        note.contains("default read buffer of 16384 bytes"),
        "{note}"
    );
    assert!(stderr.contains(note), "{stderr}");
    let page = std::fs::read_to_string(dir.join("events.html")).unwrap();
    assert!(page.contains("the trace carries no check options"));
}

#[test]
fn sweep_json_is_a_start_the_stats_and_one_result_last() {
    let dir = scratch("sweep-json");
    let file = sometimes_failing(&dir);
    let output = sim(&[
        "sweep",
        file.to_str().unwrap(),
        "--seeds",
        "0..24",
        "--keep-going",
        "--json",
    ]);
    assert_eq!(output.status.code(), Some(1), "{}", text(&output.stderr));
    let lines = json_lines(&output);
    assert_eq!(
        kinds(&lines),
        ["sweep_start", "sweep_stats", "sweep_result"]
    );
    assert_eq!(lines[0]["seeds"]["range"]["end"], 24);
    assert_eq!(lines[0]["count"], 24);
    assert!(lines[1]["elapsed_ms"].is_u64());

    let result = sweep_result(&output);
    assert_eq!((result.kind.as_str(), result.version), ("sweep_result", 1));
    assert_eq!(result.scenario, "resets");
    assert_eq!(result.file, file.display().to_string());
    assert_eq!(result.seeds, SeedSet::Range { start: 0, end: 24 });
    assert_eq!((result.end.as_str(), result.seeds_run), ("complete", 24));
    assert!(!result.passed);
    assert_eq!(result.failed as usize, result.failures.len());
    assert!(result.failures.windows(2).all(|w| w[0].index < w[1].index));
    assert_eq!(result.coverage.runs, 24);
    assert!(result.coverage.fired["reset"] > 0);
    assert!(result.coverage.policies.contains_key("read_chunks"));
    assert!(result.coverage.exercised["R6"] > 0);
    assert!(result.coverage.runs_without_faults < 24);
    // Each failure's repro line re-runs it: the same failure.
    let failure = &result.failures[0];
    assert_eq!(
        (failure.kind.as_str(), failure.signature.as_str()),
        ("failed", "echoed")
    );
    assert_eq!(failure.seed, failure.index);
    let args = repro_args(&failure.repro);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let rerun = sim(&[&args[..], &["--json"]].concat());
    assert_eq!(rerun.status.code(), Some(1));
    let verdict = json_lines(&rerun).pop().unwrap();
    assert_eq!(verdict["failures"][0]["message"], failure.summary.as_str());
    // The human text is on stderr.
    assert!(text(&output.stderr).contains("sweeping "));
}

#[test]
fn shrink_json_writes_under_target_by_default_and_exits_0() {
    let dir = scratch("shrink-json");
    let file = always_failing(&dir);
    let target = dir.join("target-dir");
    let output = command(&["shrink", file.to_str().unwrap(), "--seed", "4", "--json"])
        .env("CARGO_TARGET_DIR", &target)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    let lines = json_lines(&output);
    assert_eq!(kinds(&lines), ["shrink_result"]);
    let record = &lines[0];
    let written = target.join("tcpnotify-sim/shrunk/echo.seed-4.toml");
    assert_eq!(record["output"], written.display().to_string());
    assert_eq!(record["signature"], "closed");
    assert_eq!(record["seed"], 4);
    assert_eq!(record["faults_after"], 0);
    assert!(record["runs"].as_u64().unwrap() >= 1);
    assert!(record["plan"].is_object());
    // Nothing beside the scenario: a file there would be a test of its own.
    let beside: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".toml"))
        .collect();
    assert_eq!(beside, ["echo.toml"]);
    assert!(text(&output.stderr).contains(&format!("wrote {}", written.display())));
    let args = repro_args(record["repro"].as_str().unwrap());
    assert_eq!(args, ["run", written.to_str().unwrap()]);
    assert_eq!(
        sim(&["run", written.to_str().unwrap()]).status.code(),
        Some(1)
    );
}

#[test]
fn check_determinism_json_and_its_progress_on_stderr() {
    let dir = scratch("determinism-json");
    let file = write(&dir, "echo.toml", ECHO);
    let output = sim(&[
        "check-determinism",
        file.to_str().unwrap(),
        "--seeds",
        "10..13",
        "-v",
        "--json",
    ]);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    let lines = json_lines(&output);
    assert_eq!(kinds(&lines), ["determinism_result"]);
    let record = &lines[0];
    assert_eq!(record["identical"], true);
    assert_eq!(record["seeds_run"], 3);
    assert_eq!(record["interrupted"], false);
    assert!(record["difference"].is_null());
    let stderr = text(&output.stderr);
    for seed in 10..13 {
        assert!(
            stderr.contains(&format!("seed {seed}: running")),
            "{stderr}"
        );
    }
    assert!(
        stderr.contains("3 seed(s), each run twice: identical traces"),
        "{stderr}"
    );
}

#[test]
fn bad_input_under_json_prints_nothing_on_stdout() {
    let dir = scratch("json-bad");
    let file = write(&dir, "bad.toml", "[[listeners]]\nname = 3\n");
    for args in [
        vec!["run", file.to_str().unwrap(), "--json"],
        vec!["--json", "sweep", file.to_str().unwrap(), "--seeds", "0..3"],
    ] {
        let output = sim(&args);
        assert_bad_input(&output, "bad.toml:2");
    }
}
