//! Every scenario file in `scenarios/` runs at its own seed: the trace (summarised when it is
//! too long to read) and the verdict are snapshot tested (one snapshot per file, with the seed
//! and plan in its metadata), and the verdict must pass: the contract (`docs/contract.md`)
//! held and the file's `[expect]` end conditions held.
//!
//! A failure prints the broken rules and the command that re-runs the file
//! (`cargo run -p tcpnotify-sim -- run scenarios/<file>.toml`). Run one file with
//! `INSTA_GLOB_FILTER=<file>.toml cargo test --test scenarios`.

use std::path::Path;
use tcpnotify_sim::judge::judge;
use tcpnotify_sim::{Registry, ScenarioFile};

/// A trace longer than this is snapshotted as its summary (`Trace::render_summary`: counts per
/// group of connections and callback), as a thousand clients' every line is not readable; the
/// full trace is one `cargo run -p tcpnotify-sim -- run` away.
const SUMMARY_ABOVE_LINES: usize = 1000;

#[path = "../common/snapshot.rs"]
mod snapshot;

/// The file's path from the workspace root, as the repro command takes it.
fn shown(path: &Path) -> String {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    path.strip_prefix(root)
        .unwrap_or(path)
        .display()
        .to_string()
}

/// Runs one file, snapshots its trace and verdict, and returns why it failed, if it did.
fn run_file(path: &Path, registry: &Registry) -> Result<(), String> {
    let file_name = shown(path);
    let repro = format!("cargo run -p tcpnotify-sim -- run {file_name}");
    let file = ScenarioFile::load(path, registry).map_err(|e| format!("{e}"))?;
    let plan = file.scenario.plan_for(file.seed);
    let verdict = judge(&file.scenario, &plan)
        .map_err(|e| format!("{file_name}: {e}\nreproduce: {repro}"))?;

    let settings = snapshot::run_settings(&file.scenario.name, &plan);
    // Without the logged `tracing` events: what `RUST_LOG` asks for changes no snapshot.
    let trace = &verdict.outcome.trace.without_logs();
    let shown = if trace.len() > SUMMARY_ABOVE_LINES {
        trace.render_summary()
    } else {
        trace.render_text()
    };
    let text = format!("{shown}{verdict}\n");
    // Shown (by the test harness) only if this test fails, e.g. on a changed snapshot.
    eprintln!("{file_name} (seed {}): reproduce with `{repro}`", file.seed);
    settings.bind(|| insta::assert_snapshot!("scenario", text));

    if verdict.passed() {
        return Ok(());
    }
    let failures: Vec<String> = verdict.failures.iter().map(|f| f.to_string()).collect();
    Err(format!(
        "{file_name} failed at seed {}:\n{}\nplan:\n{}reproduce: {repro}",
        file.seed,
        failures.join("\n"),
        plan.describe(),
    ))
}

#[test]
fn scenario_files() {
    let registry = Registry::builtin();
    let mut failed: Vec<String> = Vec::new();
    insta::glob!("../../scenarios", "*.toml", |path| {
        if let Err(message) = run_file(path, &registry) {
            // Printed now as well: a changed verdict also changes the snapshot, and glob!
            // panics on snapshot failures before the assertion below runs.
            eprintln!("\n{message}\n");
            failed.push(message);
        }
    });
    assert!(
        failed.is_empty(),
        "{} scenario file(s) failed:\n\n{}",
        failed.len(),
        failed.join("\n\n")
    );
}
