//! The command line end to end, as its users drive it: exit codes (2 on bad input, before
//! anything runs and with no file written), every output parsed as what it claims to be
//! (JSON with serde, JUnit with an XML parser), shards merged into the whole sweep, fresh
//! seeds, budgets, timeouts, Ctrl-C, and repro lines that name the binary that runs.
//!
//! The JSON is read into this file's own structs, written from `docs/json.md`, not the
//! library's types: a field the schema promises and the output lacks fails here.

mod artifacts;
mod flags;
mod json;
mod junit;
mod merge;
mod repro;
mod seeds;

use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const ECHO: &str = r#"
seed = 3
duration_ms = 2000

[[listeners]]
name = "server"
host = "server"
port = 7000
notifier = "echo"

[[clients]]
name = "c1"
host = "client"
target = "server"
port = 7000
notifier = "sender"
params = { bytes = 64 }
"#;

/// A scratch directory for one test.
fn scratch(test: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("tcpnotify-cli-{test}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("scratch dir");
    dir
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).expect("writable");
    path
}

/// A scenario that fails at every seed: the echo closes two connections, not 9.
fn always_failing(dir: &Path) -> PathBuf {
    // No faults (an empty table): it fails the same way at every seed.
    write(
        dir,
        "echo.toml",
        &format!("{ECHO}\n[faults]\n\n[expect]\nclosed = 9\n"),
    )
}

/// A scenario that fails at some seeds: those whose plan resets c1 before its echo is back.
fn sometimes_failing(dir: &Path) -> PathBuf {
    let text = ECHO.replace("bytes = 64", "bytes = 512, chunk = 128")
        + "\n[faults]\nresets = 0.3\nreset_after_received = [1, 3]\nread_chunks = 0.5\n\
           read_chunk_bytes = [8, 128]\n\n[expect]\nechoed = true\n";
    write(dir, "resets.toml", &text)
}

/// The binary, with the test's environment (cargo's: `CARGO_PKG_NAME` is set).
fn command(args: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_tcpnotify-sim"));
    command.args(args);
    command
}

fn sim(args: &[&str]) -> Output {
    command(args).output().expect("the binary runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Exit code 2, the one-line error on stderr, nothing on stdout (nothing ran).
fn assert_bad_input(output: &Output, expected: &str) {
    let (stdout, stderr) = (text(&output.stdout), text(&output.stderr));
    assert_eq!(output.status.code(), Some(2), "{stdout}\n{stderr}");
    assert!(
        stderr.contains(expected),
        "expected {expected:?} in:\n{stderr}"
    );
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(stdout.is_empty(), "something ran: {stdout}");
}

/// Every line of stdout as JSON: it must all be JSON.
fn json_lines(output: &Output) -> Vec<serde_json::Value> {
    text(&output.stdout)
        .lines()
        .map(|line| {
            serde_json::from_str(line).unwrap_or_else(|e| panic!("not JSON ({e}): {line:?}"))
        })
        .collect()
}

/// A `sweep_result` object, as `docs/json.md` describes it.
#[derive(Debug, Deserialize, PartialEq)]
struct SweepResult {
    #[serde(rename = "type")]
    kind: String,
    version: u32,
    file: String,
    passed: bool,
    scenario: String,
    seeds: SeedSet,
    shard: Option<Shard>,
    end: String,
    seeds_run: u64,
    failed: u64,
    failures: Vec<SweepFailure>,
    coverage: Coverage,
}

#[derive(Debug, Deserialize, PartialEq)]
#[serde(rename_all = "snake_case")]
enum SeedSet {
    Range { start: u64, end: u64 },
    Random { generator: u64, count: Option<u64> },
}

#[derive(Debug, Deserialize, PartialEq)]
struct Shard {
    index: u64,
    count: u64,
}

#[derive(Debug, Deserialize, PartialEq)]
struct SweepFailure {
    seed: u64,
    index: u64,
    kind: String,
    signature: String,
    summary: String,
    repro: String,
}

#[derive(Debug, Deserialize, PartialEq)]
struct Coverage {
    runs: u64,
    runs_without_faults: u64,
    fired: BTreeMap<String, u64>,
    policies: BTreeMap<String, u64>,
    exercised: BTreeMap<String, u64>,
}

/// The last line of a `sweep --json` or `merge --json`: its result.
fn sweep_result(output: &Output) -> SweepResult {
    let lines = json_lines(output);
    let last = lines.last().expect("a result line").clone();
    serde_json::from_value(last).expect("a sweep_result as docs/json.md describes it")
}

/// The words of a repro line after the command that starts the binary (`cargo run -p
/// tcpnotify-sim --`, a name, or a path).
fn repro_args(repro: &str) -> Vec<String> {
    let args = match repro.split_once(" -- ") {
        Some((_, args)) => args,
        None => {
            repro
                .split_once(' ')
                .expect("a command and its arguments")
                .1
        }
    };
    args.split_whitespace().map(str::to_string).collect()
}

#[test]
fn a_bad_file_exits_2_with_file_line_field_and_writes_no_plan() {
    let dir = scratch("bad-file");
    let bad = write(
        &dir,
        "bad.toml",
        &ECHO.replace("bytes = 64", "bytes = 100000000000000"),
    );
    let plan = dir.join("plan.toml");
    let output = sim(&[
        "run",
        bad.to_str().unwrap(),
        "--save-plan",
        plan.to_str().unwrap(),
    ]);
    assert_bad_input(
        &output,
        &format!(
            "{}:17: clients[0].params.bytes: 100000000000000 is above the limit of 67108864",
            bad.display()
        ),
    );
    assert!(
        !plan.exists(),
        "a plan was written for a file that did not load"
    );
}

#[test]
fn a_plan_that_cannot_be_saved_leaves_no_file_and_runs_nothing() {
    let dir = scratch("no-dir");
    let file = write(&dir, "echo.toml", ECHO);
    let plan = dir.join("missing-dir/plan.toml");
    let output = sim(&[
        "run",
        file.to_str().unwrap(),
        "--save-plan",
        plan.to_str().unwrap(),
    ]);
    assert_bad_input(&output, "cannot write");
    assert!(!plan.exists());
}

#[test]
fn seeds_above_i64_max_round_trip_through_save_plan_and_plan() {
    let dir = scratch("big-seed");
    let file = write(&dir, "echo.toml", ECHO);
    let plan = dir.join("plan.toml");
    let seed = u64::MAX.to_string();
    let output = sim(&[
        "run",
        file.to_str().unwrap(),
        "--seed",
        &seed,
        "--save-plan",
        plan.to_str().unwrap(),
    ]);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    let saved = std::fs::read_to_string(&plan).expect("the plan was written");
    assert!(
        saved.contains(r#"seed = "18446744073709551615""#),
        "{saved}"
    );
    // The saved plan runs the same seed, without --seed.
    let output = sim(&[
        "run",
        file.to_str().unwrap(),
        "--plan",
        plan.to_str().unwrap(),
    ]);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    assert!(
        text(&output.stdout).contains("(seed 18446744073709551615)"),
        "{}",
        text(&output.stdout)
    );
}

#[test]
fn a_seed_flag_that_contradicts_the_plans_seed_is_refused() {
    let dir = scratch("seed-conflict");
    let file = write(&dir, "echo.toml", ECHO);
    let plan = write(&dir, "plan.toml", "seed = 7\n");
    let output = sim(&[
        "run",
        file.to_str().unwrap(),
        "--plan",
        plan.to_str().unwrap(),
        "--seed",
        "8",
    ]);
    assert_bad_input(&output, "--seed 8 conflicts with seed 7, which");
    // The same seed is no contradiction, and a plan without a seed takes the flag's.
    let output = sim(&[
        "run",
        file.to_str().unwrap(),
        "--plan",
        plan.to_str().unwrap(),
        "--seed",
        "7",
    ]);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    let plan = write(&dir, "plan.toml", "connect_timeout_ms = 500\n");
    let output = sim(&[
        "run",
        file.to_str().unwrap(),
        "--plan",
        plan.to_str().unwrap(),
        "--seed",
        "8",
    ]);
    assert!(
        text(&output.stdout).contains("(seed 8)"),
        "{}",
        text(&output.stdout)
    );
}

#[test]
fn shrink_writes_a_seed_above_i64_max_that_loads_back() {
    let dir = scratch("shrink-seed");
    let file = always_failing(&dir);
    let out = dir.join("shrunk.toml");
    let seed = (1u64 << 63).to_string();
    let output = sim(&[
        "shrink",
        file.to_str().unwrap(),
        "--seed",
        &seed,
        "-o",
        out.to_str().unwrap(),
    ]);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    let shrunk = std::fs::read_to_string(&out).expect("written");
    assert!(
        shrunk.contains(r#"seed = "9223372036854775808""#),
        "{shrunk}"
    );
    assert!(!shrunk.contains("seed = -"), "{shrunk}");
    let output = sim(&["run", out.to_str().unwrap()]);
    assert!(
        text(&output.stdout).contains("(seed 9223372036854775808)"),
        "{}",
        text(&output.stdout)
    );
}

#[test]
fn shrink_lists_twenty_reductions_then_counts_the_rest() {
    let dir = scratch("shrink-many-steps");
    // Every client's connection is reset, and one reset is enough to fail `echoed`: shrinking
    // removes the other 29.
    let resets = ECHO
        .replace("name = \"c1\"", "name = \"c\"\ncount = 30")
        .replace("bytes = 64", "bytes = 200, chunk = 20");
    let file = write(
        &dir,
        "resets.toml",
        &format!("{resets}\n[faults]\nresets = 1.0\n\n[expect]\nechoed = true\n"),
    );
    let out = dir.join("shrunk.toml");
    let args = ["shrink", file.to_str().unwrap(), "--seed", "1", "-o"];
    let output = sim(&[&args[..], &[out.to_str().unwrap()]].concat());
    let stdout = text(&output.stdout);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    let listed = stdout
        .lines()
        .filter(|l| l.trim_start().starts_with("removed fault"));
    assert_eq!(listed.count(), 20, "{stdout}");
    assert!(
        stdout.contains("more reductions, not shown (the minimal plan below is what they left)"),
        "{stdout}"
    );
    let shrunk = std::fs::read_to_string(&out).expect("written");
    assert_eq!(shrunk.matches("[[plan.faults]]").count(), 1, "{shrunk}");
}

#[test]
fn a_sweep_over_every_seed_streams_them_and_stops_at_the_first_failure() {
    let dir = scratch("sweep-range");
    let file = always_failing(&dir);
    let output = sim(&[
        "sweep",
        file.to_str().unwrap(),
        "--seeds",
        "0..18446744073709551615",
        "--jobs",
        "2",
    ]);
    let stdout = text(&output.stdout);
    assert_eq!(
        output.status.code(),
        Some(1),
        "{stdout}\n{}",
        text(&output.stderr)
    );
    assert!(stdout.contains("swept 1 seed(s)"), "{stdout}");
    assert!(stdout.contains("seed 0 [closed]"), "{stdout}");
}

#[test]
fn jobs_are_capped_with_a_clear_error() {
    let dir = scratch("jobs");
    let file = write(&dir, "echo.toml", ECHO);
    for jobs in ["10000", "0"] {
        let output = sim(&[
            "sweep",
            file.to_str().unwrap(),
            "--seeds",
            "0..2",
            "--jobs",
            jobs,
        ]);
        assert_eq!(output.status.code(), Some(2), "{}", text(&output.stderr));
        assert!(text(&output.stderr).contains("expected a number of worker threads from 1 to 256"));
    }
}

#[test]
fn shrink_to_an_unwritable_path_is_refused_before_it_runs() {
    let dir = scratch("shrink-no-dir");
    let file = always_failing(&dir);
    let out = dir.join("missing-dir/shrunk.toml");
    let output = sim(&[
        "shrink",
        file.to_str().unwrap(),
        "--seed",
        "1",
        "-o",
        out.to_str().unwrap(),
    ]);
    assert_bad_input(&output, "missing-dir/shrunk.toml: cannot write");
    assert!(!out.exists());
}

#[test]
fn a_sweep_in_which_no_fault_fired_fails_unless_allowed() {
    let dir = scratch("sweep-quiet");
    // An empty [faults] table: runs without faults.
    let quiet = write(&dir, "quiet.toml", &format!("{ECHO}\n[faults]\n"));
    let args = [
        "sweep",
        quiet.to_str().unwrap(),
        "--seeds",
        "0..3",
        "--jobs",
        "1",
    ];
    let output = sim(&args);
    let stdout = text(&output.stdout);
    assert_eq!(output.status.code(), Some(1), "{stdout}");
    assert!(
        stdout.contains("WARNING: no fault fired in any of the 3 run(s)"),
        "{stdout}"
    );
    assert!(
        stdout.contains("FAILED: no fault fired in any seed"),
        "{stdout}"
    );
    let output = sim(&[&args[..], &["--allow-no-faults"]].concat());
    let stdout = text(&output.stdout);
    assert_eq!(output.status.code(), Some(0), "{stdout}");
    assert!(stdout.contains("WARNING: no fault fired"), "{stdout}");
}

#[test]
fn a_file_without_faults_draws_each_seeds_faults_and_prints_the_draw() {
    let dir = scratch("swarm");
    let file = write(&dir, "echo.toml", ECHO);
    let output = sim(&["run", file.to_str().unwrap(), "--seed", "5"]);
    let stdout = text(&output.stdout);
    assert_eq!(output.status.code(), Some(0), "{stdout}");
    assert!(stdout.contains("drawn by the swarm from:"), "{stdout}");
    let output = sim(&["sweep", file.to_str().unwrap(), "--seeds", "0..20"]);
    let stdout = text(&output.stdout);
    assert_eq!(output.status.code(), Some(0), "{stdout}");
    assert!(!stdout.contains("WARNING"), "{stdout}");
    assert!(stdout.contains("with bytes in flight"), "{stdout}");
}
