//! `--artifacts DIR` on `run`, `sweep` and `shrink`: a folder per failing seed, named by
//! scenario and seed, each file read back as what it claims to be (the JSON trace with serde,
//! the plan and the shrunk scenario by running them, the page as HTML that is there), and
//! the `artifacts` objects of `--json` naming them.

use super::*;

/// An `artifacts` object, as `docs/json.md` describes it.
#[derive(Debug, Deserialize)]
struct Artifacts {
    #[serde(rename = "type")]
    kind: String,
    version: u32,
    scenario: String,
    file: String,
    seed: u64,
    #[serde(rename = "kind")]
    failure_kind: String,
    signature: String,
    dir: String,
    files: Files,
    repro: String,
    shrunk_repro: Option<String>,
    #[serde(default)]
    notes: Vec<String>,
}

#[derive(Debug, Deserialize)]
struct Files {
    readme: String,
    trace_text: Option<String>,
    trace_json: Option<String>,
    plan: String,
    shrunk: Option<String>,
    timeline: Option<String>,
}

fn artifacts_of(lines: &[serde_json::Value]) -> Vec<Artifacts> {
    lines
        .iter()
        .filter(|l| l["type"] == "artifacts")
        .map(|l| serde_json::from_value(l.clone()).expect("an artifacts object as documented"))
        .collect()
}

/// Runs `command` with `--artifacts out --json`, checks it exits with `code`, and returns
/// its JSON lines and the `artifacts` objects among them.
fn with_artifacts(
    mut command: Command,
    out: &Path,
    code: i32,
) -> (Vec<serde_json::Value>, Vec<Artifacts>) {
    let output = command
        .args(["--artifacts", out.to_str().unwrap(), "--json"])
        .output()
        .expect("the binary runs");
    assert_eq!(output.status.code(), Some(code), "{}", text(&output.stderr));
    let lines = json_lines(&output);
    let records = artifacts_of(&lines);
    (lines, records)
}

fn read(path: &str) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// Every line of a JSON-lines file, parsed.
fn read_json_lines(path: &str) -> Vec<serde_json::Value> {
    read(path)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{path}: not JSON ({e}): {l}")))
        .collect()
}

/// Checks every file of a failing seed's folder, run to its end and shrunk: each parses as
/// what it is, and runs the failure again.
fn assert_complete_folder(record: &Artifacts, scenario: &Path) {
    assert_eq!((record.kind.as_str(), record.version), ("artifacts", 1));
    assert_eq!(record.failure_kind, "failed");
    assert_eq!(record.file, scenario.display().to_string());
    let dir = Path::new(&record.dir);
    assert!(
        dir.ends_with(format!("{}.seed-{}", record.scenario, record.seed)),
        "{record:?}"
    );
    for path in [
        &record.files.readme,
        &record.files.plan,
        record.files.trace_text.as_ref().expect("a text trace"),
        record.files.trace_json.as_ref().expect("a JSON trace"),
        record.files.shrunk.as_ref().expect("a shrunk scenario"),
        record.files.timeline.as_ref().expect("a timeline"),
    ] {
        assert_eq!(Path::new(path).parent(), Some(dir), "{path}");
    }
    // The text trace, as `run` prints it.
    let trace = read(record.files.trace_text.as_ref().unwrap());
    assert!(
        trace.starts_with(&format!(
            "scenario {} (seed {})\nplan:\n",
            record.scenario, record.seed
        )),
        "{trace}"
    );
    assert!(
        trace.contains(&format!("reproduce: {}", record.repro)),
        "{trace}"
    );
    // The JSON trace, as `run --json` prints it: every line JSON, the verdict last.
    let lines = read_json_lines(record.files.trace_json.as_ref().unwrap());
    assert_eq!(lines[0]["type"], "run");
    assert_eq!(lines[0]["seed"], record.seed);
    assert!(lines[1..lines.len() - 1]
        .iter()
        .all(|l| l["type"] == "event"));
    let verdict = lines.last().unwrap();
    assert_eq!(verdict["type"], "verdict");
    assert_eq!(verdict["passed"], false);
    assert_eq!(
        verdict["failures"][0]["signature"],
        record.signature.as_str()
    );
    // The plan runs again with `--plan`, failing the same way.
    let rerun = sim(&[
        "run",
        scenario.to_str().unwrap(),
        "--plan",
        &record.files.plan,
        "--json",
    ]);
    assert_eq!(rerun.status.code(), Some(1), "{}", text(&rerun.stderr));
    let again = json_lines(&rerun).pop().unwrap();
    assert_eq!(again["failures"], verdict["failures"]);
    // The shrunk scenario loads and fails the same way; its repro line runs it.
    let shrunk = record.files.shrunk.as_ref().unwrap();
    let args = repro_args(
        record
            .shrunk_repro
            .as_ref()
            .expect("a repro of the shrunk file"),
    );
    assert_eq!(args, ["run", shrunk.as_str()]);
    let rerun = sim(&["run", shrunk, "--json"]);
    assert_eq!(rerun.status.code(), Some(1), "{}", text(&rerun.stderr));
    let shrunk_verdict = json_lines(&rerun).pop().unwrap();
    assert_eq!(
        shrunk_verdict["failures"][0]["signature"],
        record.signature.as_str()
    );
    assert!(!read(shrunk).contains("[faults]"));
    // The page is there, whole.
    let page = read(record.files.timeline.as_ref().unwrap());
    assert!(page.starts_with("<!DOCTYPE html>"), "{}", &page[..40]);
    assert!(page.trim_end().ends_with("</html>"));
    // The README names the failure and every file.
    let readme = read(&record.files.readme);
    assert!(readme.contains(&record.repro), "{readme}");
    for name in [
        "trace.txt",
        "trace.jsonl",
        "plan.toml",
        "shrunk.toml",
        "timeline.html",
    ] {
        assert!(readme.contains(name), "{readme}");
    }
    assert!(record.notes.is_empty(), "{:?}", record.notes);
}

#[test]
fn sweep_artifacts_are_a_folder_per_failing_seed_with_every_file_and_the_json_names_them() {
    let dir = scratch("artifacts-sweep");
    let file = sometimes_failing(&dir);
    let out = dir.join("artifacts");
    let args = [
        "sweep",
        file.to_str().unwrap(),
        "--seeds",
        "0..24",
        "--keep-going",
    ];
    let (lines, records) = with_artifacts(command(&args), &out, 1);
    let result: SweepResult = serde_json::from_value(lines.last().unwrap().clone())
        .expect("a sweep_result as docs/json.md describes it");
    // Before the result, which stays last; one per failing seed, in the result's order.
    assert_eq!(
        lines[lines.len() - 2 - records.len()]["type"],
        "sweep_stats"
    );
    let seeds: Vec<u64> = records.iter().map(|r| r.seed).collect();
    let failed: Vec<u64> = result.failures.iter().map(|f| f.seed).collect();
    assert!(!failed.is_empty());
    assert_eq!(seeds, failed);
    for (record, failure) in records.iter().zip(&result.failures) {
        assert_eq!(record.signature, failure.signature);
        assert_eq!(record.repro, failure.repro);
        assert_eq!(
            Path::new(&record.dir),
            out.join(format!("resets.seed-{}", failure.seed))
        );
        assert_complete_folder(record, &file);
    }
    let folders = std::fs::read_dir(&out).unwrap().count();
    assert_eq!(folders, failed.len());
}

#[test]
fn run_writes_artifacts_only_when_it_fails_and_its_verdict_names_the_folder() {
    let dir = scratch("artifacts-run");
    let out = dir.join("artifacts");
    let passing = write(&dir, "echo.toml", ECHO);
    let output = sim(&[
        "run",
        passing.to_str().unwrap(),
        "--artifacts",
        out.to_str().unwrap(),
    ]);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    assert_eq!(
        std::fs::read_dir(&out).unwrap().count(),
        0,
        "a pass has none"
    );

    let failing = always_failing(&dir);
    let args = ["run", failing.to_str().unwrap(), "--seed", "5"];
    let (lines, records) = with_artifacts(command(&args), &out, 1);
    assert_eq!(records.len(), 1);
    let record = &records[0];
    assert_eq!((record.scenario.as_str(), record.seed), ("echo", 5));
    assert_eq!(Path::new(&record.dir), out.join("echo.seed-5"));
    // The verdict stays last, and names the folder.
    let verdict = lines.last().unwrap();
    assert_eq!(verdict["type"], "verdict");
    assert_eq!(lines[lines.len() - 2]["type"], "artifacts");
    assert_eq!(verdict["artifacts"], record.dir.as_str());
    assert_complete_folder(record, &failing);
    // The folder's JSON trace is what `run --json` printed, less the folder's own lines.
    let printed: Vec<&serde_json::Value> =
        lines.iter().filter(|l| l["type"] != "artifacts").collect();
    let saved = read_json_lines(record.files.trace_json.as_ref().unwrap());
    assert_eq!(printed.len(), saved.len());
    for (printed, saved) in printed.iter().zip(&saved) {
        if printed["type"] == "verdict" {
            let mut printed = (*printed).clone();
            printed.as_object_mut().unwrap().remove("artifacts");
            assert_eq!(&printed, saved);
        } else {
            assert_eq!(*printed, saved);
        }
    }
    // In text, the folder is named.
    let output = sim(&[&args[..], &["--artifacts", out.to_str().unwrap()]].concat());
    assert!(text(&output.stdout).contains(&format!("artifacts: {}", record.dir)));
}

#[test]
fn shrink_with_artifacts_writes_the_shrunk_scenario_in_the_folder_and_nowhere_else() {
    let dir = scratch("artifacts-shrink");
    let file = always_failing(&dir);
    let out = dir.join("artifacts");
    let target = dir.join("target-dir");
    let mut shrink = command(&["shrink", file.to_str().unwrap(), "--seed", "4"]);
    shrink.env("CARGO_TARGET_DIR", &target);
    let (lines, records) = with_artifacts(shrink, &out, 0);
    assert_eq!(
        lines
            .iter()
            .map(|l| l["type"].as_str().unwrap())
            .collect::<Vec<_>>(),
        ["artifacts", "shrink_result"]
    );
    let record = &records[0];
    assert_complete_folder(record, &file);
    let shrunk = out.join("echo.seed-4/shrunk.toml");
    assert_eq!(lines[1]["output"], shrunk.display().to_string());
    assert_eq!(lines[1]["artifacts"], record.dir.as_str());
    assert!(
        !target.exists(),
        "nothing under target/ when the folder holds it"
    );
}

#[test]
fn a_seed_that_timed_out_has_its_plan_and_a_readme_saying_why_and_nothing_else_not_even_old_files()
{
    let dir = scratch("artifacts-timeout");
    let file = write(&dir, "slow.toml", super::seeds::SLOW);
    let out = dir.join("artifacts");
    let args = [
        "sweep",
        file.to_str().unwrap(),
        "--seeds",
        "3..4",
        "--seed-timeout",
        "20ms",
    ];
    // What an earlier failure of the seed left, which this one has not: removed.
    let folder = out.join("slow.seed-3");
    std::fs::create_dir_all(&folder).unwrap();
    write(&folder, "shrunk.toml", "# of an earlier run");
    write(&folder, "trace.txt", "of an earlier run");
    let (_, records) = with_artifacts(command(&args), &out, 1);
    assert_eq!(records.len(), 1);
    let record = &records[0];
    assert_eq!(Path::new(&record.dir), folder);
    assert_eq!(record.failure_kind, "timed_out");
    assert!(record.files.trace_text.is_none() && record.files.shrunk.is_none());
    assert!(
        record.notes[0].contains("--seed-timeout"),
        "{:?}",
        record.notes
    );
    assert!(read(&record.files.plan).contains("seed = 3"));
    assert!(read(&record.files.readme).contains("--seed-timeout"));
    let names: Vec<String> = std::fs::read_dir(&record.dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names.len(), 2, "only README.txt and plan.toml: {names:?}");
}

#[test]
fn an_artifacts_folder_that_cannot_be_made_is_refused_before_anything_runs() {
    let dir = scratch("artifacts-bad");
    let file = always_failing(&dir);
    let blocker = write(&dir, "a-file", "");
    let bad = blocker.join("artifacts");
    for args in [
        vec!["run", file.to_str().unwrap()],
        vec!["sweep", file.to_str().unwrap(), "--seeds", "0..2"],
        vec!["shrink", file.to_str().unwrap(), "--seed", "1"],
    ] {
        let output = sim(&[&args[..], &["--artifacts", bad.to_str().unwrap()]].concat());
        assert_bad_input(&output, &format!("{}: cannot write: ", bad.display()));
    }
}

#[test]
fn a_long_scenario_name_gets_a_folder_cut_to_a_file_names_length_and_the_run_is_shown() {
    let dir = scratch("artifacts-long-name");
    let out = dir.join("artifacts");
    let failing = always_failing(&dir);
    let long = "L".repeat(300);
    let file = write(
        &dir,
        "long.toml",
        &format!("name = \"{long}\"\n{}", read(failing.to_str().unwrap())),
    );
    let file = file.to_str().unwrap();
    for args in [
        vec!["run", file, "--seed", "5"],
        vec!["sweep", file, "--seeds", "0..2", "--allow-no-faults"],
    ] {
        let (lines, records) = with_artifacts(command(&args), &out, 1);
        assert_eq!(records[0].scenario, long);
        let folder = Path::new(&records[0].dir).file_name().unwrap();
        assert!(folder.len() <= 255, "{folder:?}");
        assert!(Path::new(&records[0].dir).join("trace.txt").is_file());
        let last = lines.last().unwrap();
        assert!(["verdict", "sweep_result"].contains(&last["type"].as_str().unwrap()));
    }
}

#[test]
fn a_folder_that_cannot_be_written_after_the_run_is_said_after_the_runs_own_output() {
    let dir = scratch("artifacts-unwritable");
    let out = dir.join("artifacts");
    let file = always_failing(&dir);
    let file = file.to_str().unwrap();
    std::fs::create_dir_all(&out).unwrap();
    // A file where each seed's folder goes: the folder is made fine, its seed's is not.
    for seed in ["echo.seed-0", "echo.seed-5"] {
        write(&out, seed, "");
    }
    let shrunk = dir.join("shrunk.toml");
    let shrunk = shrunk.to_str().unwrap();
    for (args, verdict, last) in [
        (vec!["run", file, "--seed", "5"], "FAILED", "reproduce: "),
        (
            vec!["sweep", file, "--seeds", "0..2", "--allow-no-faults"],
            "FAILED",
            "shrink: ",
        ),
        (
            vec!["shrink", file, "--seed", "5", "-o", shrunk],
            "minimal plan",
            "reproduce: ",
        ),
    ] {
        let output = sim(&[&args[..], &["--artifacts", out.to_str().unwrap()]].concat());
        let (stdout, stderr) = (text(&output.stdout), text(&output.stderr));
        assert_eq!(output.status.code(), Some(2), "{stdout}\n{stderr}");
        assert!(stdout.contains(verdict), "the verdict is shown: {stdout}");
        assert!(
            stdout.lines().last().unwrap().starts_with(last),
            "the repro lines too: {stdout}"
        );
        let error = stderr.lines().last().unwrap();
        assert!(
            error.starts_with("error: ") && error.contains("cannot write: "),
            "{stderr}"
        );
        // With --json, the result still ends stdout.
        let output = sim(&[&args[..], &["--artifacts", out.to_str().unwrap(), "--json"]].concat());
        assert_eq!(output.status.code(), Some(2));
        let lines = json_lines(&output);
        let end = lines.last().unwrap()["type"].clone();
        assert!(
            ["verdict", "sweep_result", "shrink_result"].contains(&end.as_str().unwrap()),
            "{end}"
        );
    }
}
