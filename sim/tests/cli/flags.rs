//! Bad flags exit 2 with a message that names the flag and what it expects; nothing runs.

use super::*;

#[test]
fn bad_flags_exit_2_and_say_what_they_expect() {
    let dir = scratch("flags");
    let file = write(&dir, "echo.toml", ECHO);
    let file = file.to_str().unwrap();
    let cases: &[(&[&str], &str)] = &[
        (
            &["sweep", file, "--seeds", "5..2"],
            "expected seeds as A..B",
        ),
        (&["sweep", file, "--seeds", "3..3"], "an empty range"),
        (
            &["sweep", file, "--seeds", "random"],
            "--seeds random needs --count N",
        ),
        (
            &["sweep", file, "--seeds", "random:x", "--count", "3"],
            "expected seeds as A..B",
        ),
        (
            &["sweep", file, "--seeds", "0..9", "--count", "3"],
            "--count applies to random seeds",
        ),
        (
            &["sweep", file, "--seeds", "random", "--count", "0"],
            "a number of seeds from 1",
        ),
        (
            &["sweep", file, "--seeds", "0..9", "--budget", "soon"],
            "expected a time from 1ms",
        ),
        (
            &["sweep", file, "--seeds", "0..9", "--seed-timeout", "0s"],
            "expected a time from 1ms",
        ),
        (
            &[
                "sweep",
                file,
                "--seeds",
                "0..9",
                "--seed-timeout",
                "100000days",
            ],
            "expected a time from 1ms to 365days",
        ),
        (
            &["sweep", file, "--seeds", "0..9", "--shard", "4/4"],
            "expected a shard I/N",
        ),
        (
            &[
                "sweep",
                file,
                "--seeds",
                "0..9",
                "--check-determinism",
                "maybe",
            ],
            "expected N from 1 (one passing seed in N is run twice; 1: every seed)",
        ),
        // One seed in 0 is no sample: refused, where it once silently turned the check off.
        (
            &["sweep", file, "--seeds", "0..9", "--check-determinism", "0"],
            "invalid value '0' for '--check-determinism",
        ),
        (
            &["sweep", file, "--seeds", "0..9", "--jobs", "0"],
            "from 1 to 256",
        ),
        (&["sweep", file], "--seeds"),
        (
            &["check-determinism", file, "--seeds", "random"],
            "--seeds random needs --count N",
        ),
        (&["merge"], "<FILES>"),
        (&["run", file, "--sed", "3"], "--sed"),
        (&["shrink", file], "--seed"),
    ];
    for (args, expected) in cases {
        let output = sim(args);
        assert_bad_input(&output, expected);
    }
}

#[test]
fn checking_every_seeds_determinism_finds_no_difference_in_a_deterministic_scenario() {
    let dir = scratch("flags-determinism");
    let file = sometimes_failing(&dir);
    let output = sim(&[
        "sweep",
        file.to_str().unwrap(),
        "--seeds",
        "0..12",
        "--keep-going",
        "--check-determinism",
        "all",
        "--json",
    ]);
    let result = sweep_result(&output);
    assert!(
        result.failures.iter().all(|f| f.kind == "failed"),
        "{result:?}"
    );
    assert_eq!(json_lines(&output)[0]["check_determinism"], 1);
}
