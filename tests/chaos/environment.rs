//! The environment a chaos test reads, end to end: this test binary runs one of its own
//! tests again with the variables set, as CI would, and reads what it prints. And the repro
//! line of a test in `tests/` selects exactly that test.

use std::process::Command;
use tcpnotify_sim::explore::repro_line;
use tcpnotify_sim::Seed;

/// Every variable the chaos API reads, cleared, so the parent's own (a repro run's
/// `TCPNOTIFY_SEED`) do not leak into the child.
const VARIABLES: [&str; 8] = [
    "TCPNOTIFY_SEED",
    "TCPNOTIFY_SEEDS",
    "TCPNOTIFY_COUNT",
    "TCPNOTIFY_BUDGET",
    "TCPNOTIFY_SEED_TIMEOUT",
    "TCPNOTIFY_JOBS",
    "TCPNOTIFY_VERBOSE",
    "TCPNOTIFY_CHECK_DETERMINISM",
];

fn this_binary(test: &str, vars: &[(&str, &str)]) -> std::process::Output {
    let mut command = Command::new(std::env::current_exe().expect("the test binary"));
    command.args(["--exact", test, "--nocapture"]);
    for var in VARIABLES {
        command.env_remove(var);
    }
    command.envs(vars.iter().copied());
    command.output().expect("the test binary runs")
}

#[test]
fn fresh_seeds_verbose_and_a_determinism_check_come_from_the_environment() {
    let output = this_binary(
        "correct_echo::correct_echo_passes_with_faults_firing",
        &[
            ("TCPNOTIFY_SEEDS", "random"),
            ("TCPNOTIFY_COUNT", "6"),
            ("TCPNOTIFY_VERBOSE", "1"),
            ("TCPNOTIFY_CHECK_DETERMINISM", "all"),
            ("TCPNOTIFY_JOBS", "2"),
        ],
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{stdout}\n{stderr}");
    // The generator comes first, with the variables that run the same seeds again.
    let announced = stderr
        .lines()
        .find(|l| l.starts_with("chaos: scenario correct-echo: seeds random:"))
        .unwrap_or_else(|| panic!("no seeds announced:\n{stderr}"));
    let generator: u64 = announced["chaos: scenario correct-echo: seeds random:".len()..]
        .split(' ')
        .next()
        .and_then(|g| g.parse().ok())
        .expect("a generator");
    assert!(
        announced.ends_with(&format!(
            "run them again with TCPNOTIFY_SEEDS=random:{generator} TCPNOTIFY_COUNT=6"
        )),
        "{announced}"
    );
    let running = stderr.lines().filter(|l| l.ends_with(": running")).count();
    assert_eq!(running, 6, "{stderr}");
    assert!(stdout.contains("swept 6 seed(s) of random:"), "{stdout}");
}

#[test]
fn a_bad_variable_fails_the_test_naming_it() {
    let output = this_binary(
        "correct_echo::correct_echo_passes_with_faults_firing",
        &[("TCPNOTIFY_SEED_TIMEOUT", "soon")],
    );
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("TCPNOTIFY_SEED_TIMEOUT=\"soon\": expected a time"),
        "{stderr}"
    );
}

#[test]
fn the_repro_line_of_a_test_in_tests_selects_exactly_it() {
    let line = repro_line(Seed(9));
    let this = "environment::the_repro_line_of_a_test_in_tests_selects_exactly_it";
    assert_eq!(
        line,
        format!("TCPNOTIFY_SEED=9 cargo test -p tcpnotify --test chaos -- --exact {this}")
    );
    let (_, filter) = line.split_once(" -- ").expect("a filter");
    let listed = Command::new(std::env::current_exe().unwrap())
        .args(filter.split_whitespace())
        .arg("--list")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&listed.stdout);
    let tests: Vec<&str> = stdout.lines().filter(|l| l.ends_with(": test")).collect();
    assert_eq!(tests, [format!("{this}: test")], "{stdout}");
}
