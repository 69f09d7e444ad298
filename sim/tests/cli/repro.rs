//! Repro lines name the binary that runs: `cargo run -p tcpnotify-sim --` when cargo started
//! it in its workspace, the bare name when it is on `PATH` (installed), its path otherwise.

use super::*;

/// The repro line of a failing `run`, with the binary started as `setup` says, in a scratch
/// folder of test `test`'s own (tests run at once: one removing a shared folder as another
/// ran took the other's file away).
fn repro_with(test: &str, setup: impl FnOnce(&mut Command)) -> String {
    let dir = scratch(&format!("repro-{test}"));
    let file = always_failing(&dir);
    let mut command = command(&["run", file.to_str().unwrap(), "--json"]);
    setup(&mut command);
    let output = command.output().unwrap();
    assert_eq!(output.status.code(), Some(1));
    let verdict = json_lines(&output).pop().unwrap();
    let repro = verdict["repro"].as_str().expect("a repro line").to_string();
    let rest = format!(" run {} --seed 3", file.display());
    repro
        .strip_suffix(&rest)
        .unwrap_or_else(|| panic!("{repro:?} does not end with {rest:?}"))
        .to_string()
}

/// The repro line of the binary under test when cargo started it ([`cargo_run_line_for`]).
fn cargo_run_line() -> String {
    cargo_run_line_for(Path::new(env!("CARGO_BIN_EXE_tcpnotify-sim")))
}

/// The repro line of `exe` started by cargo: `cargo run` with the flag of the profile cargo
/// built it with, the folder it sits in (`cargo test` builds it in `debug`, `cargo test
/// --release` in `release`, `cargo test --profile NAME` in `NAME`).
fn cargo_run_line_for(exe: &Path) -> String {
    let profile = exe
        .parent()
        .and_then(Path::file_name)
        .and_then(|p| p.to_str());
    match profile {
        Some("debug") => "cargo run -p tcpnotify-sim --".to_string(),
        Some("release") => "cargo run -p tcpnotify-sim --release --".to_string(),
        Some(name) => format!("cargo run -p tcpnotify-sim --profile {name} --"),
        None => panic!("{} is in no profile's folder", exe.display()),
    }
}

#[test]
fn the_cargo_run_line_names_the_profile_of_the_binarys_folder() {
    for (folder, line) in [
        ("debug", "cargo run -p tcpnotify-sim --"),
        ("release", "cargo run -p tcpnotify-sim --release --"),
        ("ci-fast", "cargo run -p tcpnotify-sim --profile ci-fast --"),
    ] {
        let exe = Path::new("/work/target").join(folder).join("tcpnotify-sim");
        assert_eq!(cargo_run_line_for(&exe), line);
    }
}

#[test]
fn started_by_cargo_the_repro_line_is_cargo_run() {
    // Tests run with cargo's environment, as `cargo run` gives it. The target folder is
    // named as `CARGO_TARGET_DIR` would name it: given by `--target-dir` or a config file
    // instead, under a name other than `target`, the binary cannot tell it was built there.
    let exe = Path::new(env!("CARGO_BIN_EXE_tcpnotify-sim"));
    let target = exe.parent().and_then(Path::parent).unwrap();
    assert_eq!(
        repro_with("cargo", |c| {
            c.env("CARGO_PKG_NAME", "tcpnotify-sim")
                .env("CARGO_TARGET_DIR", target);
        }),
        cargo_run_line()
    );
}

#[test]
fn installed_on_the_path_the_repro_line_is_the_name() {
    let exe = Path::new(env!("CARGO_BIN_EXE_tcpnotify-sim"));
    let bin = exe.parent().unwrap().to_path_buf();
    assert_eq!(
        repro_with("path", |c| {
            c.env_remove("CARGO_PKG_NAME").env("PATH", &bin);
        }),
        "tcpnotify-sim"
    );
}

#[test]
fn elsewhere_the_repro_line_is_the_binarys_path() {
    let exe = Path::new(env!("CARGO_BIN_EXE_tcpnotify-sim"));
    assert_eq!(
        repro_with("elsewhere", |c| {
            c.env_remove("CARGO_PKG_NAME").env("PATH", "/nowhere");
        }),
        exe.canonicalize().unwrap().display().to_string()
    );
}
