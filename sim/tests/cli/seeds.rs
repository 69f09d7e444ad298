//! Fresh seeds and when a sweep ends: `--seeds random` (printed up front, in the result, and
//! the same again with `random:G`), `--budget`, `--seed-timeout`, `-v`, and Ctrl-C with its
//! partial report.

use super::*;
use std::io::{BufRead, BufReader};
use std::process::Stdio;

/// A client whose echo never comes, for ten simulated minutes: each seed runs for many
/// seconds of a debug build. No faults (an empty `[faults]`): nothing else ends it.
pub(super) const SLOW: &str = r#"
duration_ms = 600000

[[listeners]]
name = "server"
host = "server"
port = 7000
notifier = "slow-reader"

[[clients]]
name = "c1"
host = "client"
target = "server"
port = 7000
notifier = "sender"
params = { bytes = 16 }

[faults]
"#;

#[test]
fn random_seeds_are_printed_up_front_kept_in_the_result_and_run_again_by_generator() {
    let dir = scratch("random");
    let file = always_failing(&dir);
    let args = |seeds: &str| {
        vec![
            "sweep".to_string(),
            file.display().to_string(),
            "--seeds".into(),
            seeds.into(),
            "--count".into(),
            "6".into(),
            "--keep-going".into(),
            "--json".into(),
        ]
    };
    let run = |seeds: &str| {
        let args = args(seeds);
        sim(&args.iter().map(String::as_str).collect::<Vec<_>>())
    };
    let first = run("random");
    assert_eq!(first.status.code(), Some(1));
    let start = &json_lines(&first)[0];
    let generator = start["seeds"]["random"]["generator"]
        .as_u64()
        .expect("drawn");
    assert_eq!(start["seeds"]["random"]["count"], 6);
    let stderr = text(&first.stderr);
    assert!(
        stderr.contains(&format!("--seeds random:{generator} --count 6")),
        "{stderr}"
    );
    let result = sweep_result(&first);
    assert_eq!(
        result.seeds,
        SeedSet::Random {
            generator,
            count: Some(6)
        }
    );
    assert_eq!(result.failures.len(), 6);
    assert!(result.failures.iter().all(|f| f.seed < 1 << 53));
    assert_eq!(
        result.failures.iter().map(|f| f.index).collect::<Vec<_>>(),
        (0..6).collect::<Vec<_>>()
    );
    // The same set again, by its generator: the same seeds and failures.
    let again = run(&format!("random:{generator}"));
    assert_eq!(sweep_result(&again), result);
    // A fresh draw is another set.
    assert_ne!(sweep_result(&run("random")).seeds, result.seeds);
}

#[test]
fn a_budget_ends_the_sweep_and_reports_what_ran() {
    let dir = scratch("budget");
    let file = write(&dir, "echo.toml", ECHO);
    let output = sim(&[
        "sweep",
        file.to_str().unwrap(),
        "--seeds",
        "random",
        "--budget",
        "1ms",
        "--json",
        // A 1 ms budget runs a few random seeds, which may draw no fault: that verdict is
        // another test's (no silent green), not what a budget does.
        "--allow-no-faults",
    ]);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    let start = &json_lines(&output)[0];
    assert!(start.get("count").is_none(), "{start}");
    assert_eq!(start["budget_ms"], 1);
    let result = sweep_result(&output);
    assert_eq!(result.end, "budget_spent");
    assert!(matches!(result.seeds, SeedSet::Random { count: None, .. }));
    assert_eq!(result.coverage.runs, result.seeds_run);
}

#[test]
fn a_seed_past_its_timeout_is_a_failure_of_its_own_named_by_seed() {
    let dir = scratch("timeout");
    let file = write(&dir, "slow.toml", SLOW);
    let output = sim(&[
        "sweep",
        file.to_str().unwrap(),
        "--seeds",
        "3..5",
        "--seed-timeout",
        "20ms",
        "--keep-going",
        "--json",
    ]);
    assert_eq!(output.status.code(), Some(1), "{}", text(&output.stderr));
    let result = sweep_result(&output);
    assert_eq!(result.failed, 2);
    for (failure, seed) in result.failures.iter().zip(3..) {
        assert_eq!(failure.seed, seed);
        assert_eq!(failure.kind, "timed_out");
        assert_eq!(failure.signature, "seed_timeout");
        assert!(
            failure
                .summary
                .starts_with("ran longer than 20ms of wall-clock time (stopped at "),
            "{}",
            failure.summary
        );
    }
}

#[test]
fn verbose_prints_each_seed_before_it_runs() {
    let dir = scratch("verbose");
    let file = write(&dir, "echo.toml", ECHO);
    let output = sim(&["sweep", file.to_str().unwrap(), "--seeds", "5..9", "-v"]);
    assert_eq!(output.status.code(), Some(0));
    let stderr = text(&output.stderr);
    let mut announced: Vec<&str> = stderr
        .lines()
        .filter(|l| l.ends_with(": running"))
        .collect();
    announced.sort();
    assert_eq!(
        announced,
        [
            "seed 5: running",
            "seed 6: running",
            "seed 7: running",
            "seed 8: running"
        ]
    );
}

#[test]
fn ctrl_c_ends_with_the_partial_report_in_seed_order_and_artifacts_unshrunk() {
    let dir = scratch("ctrl-c");
    let file = sometimes_failing(&dir);
    let artifacts = dir.join("artifacts");
    let mut child = command(&[
        "sweep",
        file.to_str().unwrap(),
        "--seeds",
        "0..1000000",
        "--keep-going",
        "--jobs",
        "1",
        "-v",
        "--artifacts",
        artifacts.to_str().unwrap(),
        "--json",
    ])
    .stdout(Stdio::piped())
    .stderr(Stdio::piped())
    .spawn()
    .expect("starts");
    // One job: seed 20 starts only once seeds 0 to 19 are done.
    let mut stderr = BufReader::new(child.stderr.take().expect("piped"));
    let mut line = String::new();
    while !line.starts_with("seed 20: running") {
        line.clear();
        assert!(
            stderr.read_line(&mut line).expect("stderr") > 0,
            "ended early"
        );
    }
    // SAFETY: sends SIGINT to the child this test started and still holds.
    let sent = unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGINT) };
    assert_eq!(sent, 0);
    let rest: Vec<String> = stderr.lines().map_while(Result::ok).collect();
    let output = child.wait_with_output().expect("ends");
    let result = sweep_result(&output);
    assert_eq!(result.end, "interrupted", "{rest:?}");
    assert!(
        (20..1_000_000).contains(&result.seeds_run),
        "{}",
        result.seeds_run
    );
    assert_eq!(result.coverage.runs, result.seeds_run);
    assert!(result.failures.windows(2).all(|w| w[0].seed < w[1].seed));
    assert!(result.failures.iter().all(|f| f.seed < result.seeds_run));
    let code = output.status.code();
    assert_eq!(code, Some(if result.passed { 130 } else { 1 }));
    assert!(
        rest.iter().any(|l| l.starts_with("interrupted")),
        "{rest:?}"
    );
    // Each failing seed's folder, written at once: its trace, but nothing shrunk.
    let folders: Vec<serde_json::Value> = json_lines(&output)
        .into_iter()
        .filter(|l| l["type"] == "artifacts")
        .collect();
    // Seeds 0 to 19, all run, include failing ones (0, 2, 6, ...).
    assert!(!folders.is_empty());
    assert_eq!(folders.len(), result.failures.len().min(20));
    for folder in &folders {
        assert!(folder["files"]["trace_text"].is_string(), "{folder}");
        assert!(folder["files"]["shrunk"].is_null(), "{folder}");
        assert!(
            folder["notes"][0].as_str().unwrap().contains("interrupted"),
            "{folder}"
        );
    }
}

#[test]
fn the_slow_scenario_is_slow_because_its_echo_never_comes() {
    // What the timeout test relies on: a run that lasts until its ten simulated minutes.
    let dir = scratch("slow");
    let file = write(&dir, "slow.toml", &SLOW.replace("600000", "300"));
    let output = sim(&["run", file.to_str().unwrap(), "--json"]);
    let verdict = json_lines(&output).pop().unwrap();
    assert_eq!(
        verdict["summary"]["ended"], "duration reached; unfinished: c1",
        "{verdict}"
    );
}
