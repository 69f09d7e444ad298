//! `RUST_LOG` feeds the command line's runs: the `tracing` events it names are in the trace a
//! `run` prints, as text lines and as JSON lines; unset, the trace holds none.

use serde_json::Value;
use std::process::Command;

/// `tcpnotify-sim run scenarios/reset-mid-stream.toml [--json]` with `RUST_LOG` set to
/// `rust_log`, or unset; its stdout.
fn run(rust_log: Option<&str>, json: bool) -> String {
    let mut command = Command::new(env!("CARGO_BIN_EXE_tcpnotify-sim"));
    command
        .args(["run", "scenarios/reset-mid-stream.toml"])
        .args(json.then_some("--json"))
        .current_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/.."))
        .env_remove("RUST_LOG");
    if let Some(value) = rust_log {
        command.env("RUST_LOG", value);
    }
    let output = command.output().expect("the binary runs");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).expect("UTF-8")
}

/// The JSON lines of `out` that are logged events.
fn logged(out: &str) -> Vec<Value> {
    out.lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|v| v["event"] == "log")
        .collect()
}

#[test]
fn rust_log_names_the_events_a_run_prints() {
    let text = run(Some("tcpnotify=debug"), false);
    // c1's reset, logged by tcpnotify as c1 closes, just before its `closed`.
    let reset = "     3.000ms client c1 DEBUG tcpnotify::proto::connection::reading: \
                 read failed; closing error=connection reset (fault)";
    let closed = "     3.000ms client c1 closed";
    assert!(text.contains(&format!("{reset}\n{closed}\n")), "{text}");

    let json = logged(&run(Some("tcpnotify=debug"), true));
    let places: Vec<(&str, &str, u64)> = json
        .iter()
        .map(|v| {
            let (host, who) = (v["host"].as_str().unwrap(), v["who"].as_str().unwrap());
            (host, who, v["at_us"].as_u64().unwrap())
        })
        .collect();
    assert_eq!(
        places,
        [("client", "c1", 3000), ("server", "server.1", 4000)]
    );
    assert_eq!(json[0]["level"], "DEBUG");
    assert_eq!(json[0]["target"], "tcpnotify::proto::connection::reading");
    assert_eq!(json[0]["message"], "read failed; closing");
    assert_eq!(json[0]["fields"]["error"], "connection reset (fault)");
}

#[test]
fn without_rust_log_a_run_prints_no_logged_event() {
    assert!(logged(&run(None, true)).is_empty());
    assert!(!run(None, false).contains(" DEBUG "));
}
