//! Helpers for running simulations from `#[test]`s: the seed comes from the environment when
//! set, every run is checked against the contract, and a failure prints the one line that
//! re-runs exactly that case.

use super::env::{parse_seed, EnvError, SEED_VAR};
use crate::judge::{judge, Verdict};
use crate::run::RunOutcome;
use crate::scenario::Scenario;
use crate::seed::Seed;
use std::path::Path;

/// The seed a test runs: `TCPNOTIFY_SEED` if set (and a number), else `default`.
pub fn seed_or(default: u64) -> Seed {
    match std::env::var(SEED_VAR) {
        // A test helper: a bad seed fails the test, with the same message chaos gives.
        Ok(text) => Seed(parse_seed(&text).unwrap_or_else(|e| panic!("{}", EnvError::Seed(e)))),
        Err(_) => Seed(default),
    }
}

/// The command that re-runs the current test (named by libtest's thread name) with `seed`:
/// `TCPNOTIFY_SEED=N cargo test -p PACKAGE --lib -- --exact PATH` for a unit test in `src/`,
/// `... --test TARGET -- ...` for one in `tests/`. The package is the one `cargo test` ran
/// (`CARGO_PKG_NAME`), so the line works from anywhere in its workspace.
pub fn repro_line(seed: Seed) -> String {
    let test = std::thread::current()
        .name()
        .filter(|n| *n != "main")
        .unwrap_or("<test name>")
        .to_string();
    let binary = std::env::current_exe()
        .ok()
        .and_then(|p| p.file_stem().map(|s| s.to_string_lossy().into_owned()))
        .map(|stem| match stem.rsplit_once('-') {
            Some((name, hash)) if hash.chars().all(|c| c.is_ascii_hexdigit()) => name.to_string(),
            _ => stem,
        })
        .unwrap_or_else(|| "<test binary>".into());
    let package = std::env::var("CARGO_PKG_NAME").ok();
    let manifest_dir = std::env::var_os("CARGO_MANIFEST_DIR").map(std::path::PathBuf::from);
    let command = test_command(&binary, package.as_deref(), manifest_dir.as_deref(), &test);
    format!("{SEED_VAR}={seed} {command}")
}

/// `cargo test` selecting exactly `test` in the test binary `binary` (its file name less the
/// hash) of `package`, whose manifest is in `manifest_dir`.
fn test_command(
    binary: &str,
    package: Option<&str>,
    manifest_dir: Option<&Path>,
    test: &str,
) -> String {
    let mut command = String::from("cargo test");
    if let Some(package) = package {
        command += &format!(" -p {package}");
    }
    // A library's unit tests are built into a binary named after the crate, hyphens made
    // underscores; an integration test's after its target.
    let is_lib = package.is_some_and(|p| p.replace('-', "_") == binary);
    if is_lib {
        command += " --lib";
    } else {
        command += &format!(" --test {}", test_target(binary, manifest_dir));
    }
    command + &format!(" -- --exact {test}")
}

/// The integration test target built into `binary`: its name, unless only the name with
/// hyphens for underscores is a test in `manifest_dir/tests/` (the binary's file name has
/// underscores where the target's name has hyphens).
fn test_target(binary: &str, manifest_dir: Option<&Path>) -> String {
    let exists = |name: &str| {
        manifest_dir.is_some_and(|dir| {
            let tests = dir.join("tests");
            tests.join(format!("{name}.rs")).is_file() || tests.join(name).join("main.rs").is_file()
        })
    };
    let hyphenated = binary.replace('_', "-");
    if !exists(binary) && exists(&hyphenated) {
        hyphenated
    } else {
        binary.to_string()
    }
}

/// Runs `scenario` with `seed` and judges it (contract and end conditions). Panics with the
/// repro line if the scenario cannot run at all.
pub fn run_checked(scenario: &Scenario, seed: Seed) -> Verdict {
    let plan = scenario.plan_for(seed);
    match judge(scenario, &plan) {
        Ok(verdict) => verdict,
        Err(e) => panic!(
            "scenario {}: {e}\nreproduce: {}",
            scenario.name,
            repro_line(seed)
        ),
    }
}

/// Runs `scenario` with `seed`, and panics with the failures, the end of the trace and the
/// repro line unless the contract held and every end condition of the scenario held.
pub fn run_passing(scenario: &Scenario, seed: Seed) -> RunOutcome {
    let verdict = run_checked(scenario, seed);
    if !verdict.passed() {
        panic!(
            "scenario {} failed with seed {}:\n{verdict}\nplan:\n{}\nlast trace lines:\n{}reproduce: {}",
            scenario.name,
            seed,
            verdict.outcome.plan.describe(),
            verdict.outcome.trace.render_tail(40),
            repro_line(seed)
        );
    }
    verdict.outcome
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_unit_tests_repro_line_selects_exactly_this_test() {
        let line = repro_line(Seed(3));
        let this = "explore::testing::tests::a_unit_tests_repro_line_selects_exactly_this_test";
        assert_eq!(
            line,
            format!("TCPNOTIFY_SEED=3 cargo test -p tcpnotify-sim --lib -- --exact {this}")
        );
        // The filter after `--` selects this one test in this very binary.
        let (_, filter) = line.split_once(" -- ").expect("a filter");
        let exe = std::env::current_exe().expect("the test binary");
        let listed = std::process::Command::new(exe)
            .args(filter.split_whitespace())
            .arg("--list")
            .output()
            .expect("the test binary runs");
        let stdout = String::from_utf8_lossy(&listed.stdout);
        let tests: Vec<&str> = stdout.lines().filter(|l| l.ends_with(": test")).collect();
        assert_eq!(tests, [format!("{this}: test")], "{stdout}");
    }

    #[test]
    fn integration_tests_are_named_by_their_target() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR"));
        assert_eq!(
            test_command("cli", Some("tcpnotify-sim"), Some(dir), "a::b"),
            "cargo test -p tcpnotify-sim --test cli -- --exact a::b"
        );
        assert_eq!(
            test_command("fuzz_regressions", None, Some(dir), "t"),
            "cargo test --test fuzz_regressions -- --exact t"
        );
        let scratch = std::env::temp_dir().join(format!("tcpnotify-repro-{}", std::process::id()));
        std::fs::create_dir_all(scratch.join("tests")).unwrap();
        std::fs::write(scratch.join("tests/my-chaos.rs"), "").unwrap();
        assert_eq!(
            test_command("my_chaos", Some("mine"), Some(&scratch), "t"),
            "cargo test -p mine --test my-chaos -- --exact t"
        );
        let _ = std::fs::remove_dir_all(scratch);
    }
}
