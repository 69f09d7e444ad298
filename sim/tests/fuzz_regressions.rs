//! Replays every committed input that once crashed, hung or misbehaved
//! (`fuzz/regressions/`: found by the fuzzer or by hand, minimised), through the same check
//! the fuzz target runs (`tcpnotify_sim::explore::check_fuzz_input`), so CI guards them on stable.

use std::path::Path;

#[test]
fn every_past_crasher_is_now_refused_or_runs_cleanly() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz/regressions");
    let mut inputs: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| entry.expect("a directory entry").path())
        .collect();
    inputs.sort();
    assert!(inputs.len() >= 7, "the corpus is missing: {inputs:?}");
    let failed: Vec<String> = inputs
        .iter()
        .filter_map(|path| {
            let data = std::fs::read(path).expect("readable");
            let result =
                std::panic::catch_unwind(|| tcpnotify_sim::explore::check_fuzz_input(&data));
            result.err().map(|_| path.display().to_string())
        })
        .collect();
    assert!(failed.is_empty(), "these inputs still fail: {failed:#?}");
}
