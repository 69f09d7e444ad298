//! Same seed, same run, byte for byte: several seeds run twice in this process and once more
//! in a child process, and every trace must be identical, with every `tracing` event logged
//! during the run (its text, fields, time, host and connection) in it.

use std::process::Command;
use tcpnotify_sim::explore::{repro_line, run_checked};
use tcpnotify_sim::fault::{FaultSettings, Span};
use tcpnotify_sim::notifiers::{BulkWriter, Echo, FramedEcho, Sender, SlowReader};
use tcpnotify_sim::run::Trace;
use tcpnotify_sim::scenario::LogFilter;
use tcpnotify_sim::{factory, Scenario, Seed};

const SEEDS: [u64; 6] = [1, 2, 3, 42, 1000, 987_654_321];
const CHILD_VAR: &str = "TCPNOTIFY_DETERMINISM_CHILD_SEED";

/// A busy scenario with every kind of fault likely, logging everything (turmoil's every
/// segment too): the hardest case for determinism.
fn chaotic() -> Scenario {
    let settings = FaultSettings {
        latency_ms: Some(Span::new(1, 20)),
        partial_writes: 0.5,
        read_chunks: 0.5,
        send_buffer: 0.5,
        send_buffer_bytes: Span::new(64, 4096),
        partitions: 0.5,
        partition_ms: Span::new(10, 300),
        resets: 0.3,
        slow_close: 0.3,
        crashes: 0.2,
        ..FaultSettings::default()
    };
    Scenario::new("determinism")
        .listener("echo", "server", 7000, factory(|| Echo))
        .listener("framed", "server", 7001, factory(FramedEcho::new))
        .listener(
            "slow",
            "sink",
            7002,
            factory(|| SlowReader::new(std::time::Duration::from_millis(50), 8192)),
        )
        .client(
            "c1",
            "client1",
            "server",
            7000,
            factory(|| Sender::pattern(4096).chunked(300)),
        )
        .client(
            "c2",
            "client2",
            "server",
            7001,
            factory(|| Sender::new(b"\0\0\0\x05hello\0\0\0\x05world".to_vec()).expecting(9)),
        )
        .client(
            "c3",
            "client1",
            "sink",
            7002,
            factory(|| BulkWriter::new(8192, 700)),
        )
        .client(
            "c4",
            "client2",
            "server",
            7000,
            factory(|| BulkWriter::new(3000, 1000).ignoring_throttle()),
        )
        .duration_ms(3000)
        .faults(settings)
        .log_filter(LogFilter::new("trace").expect("a valid filter"))
}

fn trace_of(seed: u64) -> String {
    let outcome = run_checked(&chaotic(), Seed(seed)).outcome;
    assert!(
        outcome
            .trace
            .events()
            .iter()
            .any(|e| e.is_log() && e.who != "-"),
        "seed {seed}: the comparison covers logged events of connections"
    );
    outcome.trace.render_for_comparison()
}

/// Where two traces first differ, for the failure message.
fn first_difference(a: &str, b: &str) -> String {
    match Trace::first_difference(a, b) {
        Some((line, x, y)) => format!(
            "line {line}:
  first:  {x}
  second: {y}"
        ),
        None => "nowhere".to_string(),
    }
}

#[test]
fn same_seed_same_trace_in_one_process() {
    for seed in SEEDS {
        let (a, b) = (trace_of(seed), trace_of(seed));
        assert!(
            a == b,
            "seed {seed} diverged at {}\nreproduce: {}",
            first_difference(&a, &b),
            repro_line(Seed(seed))
        );
    }
}

#[test]
fn same_seed_same_trace_across_processes() {
    let exe = std::env::current_exe().expect("the test binary's path");
    for seed in SEEDS {
        let output = Command::new(&exe)
            .args([
                "--exact",
                "determinism::child_prints_trace",
                "--ignored",
                "--nocapture",
                "--test-threads=1",
            ])
            .env(CHILD_VAR, seed.to_string())
            .output()
            .expect("the test binary runs");
        assert!(
            output.status.success(),
            "child failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        let stdout = String::from_utf8_lossy(&output.stdout);
        let child = stdout
            .split_once("<<<TRACE\n")
            .and_then(|(_, rest)| rest.split_once("TRACE>>>"))
            .map(|(trace, _)| trace.to_string())
            .expect("the child printed a trace");
        let here = trace_of(seed);
        assert!(
            child == here,
            "seed {seed} diverged across processes at {}\nreproduce: {}",
            first_difference(&here, &child),
            repro_line(Seed(seed))
        );
    }
}

/// Run by `same_seed_same_trace_across_processes` in a child process.
#[test]
#[ignore = "run as a child process by same_seed_same_trace_across_processes"]
fn child_prints_trace() {
    let seed = std::env::var(CHILD_VAR)
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1);
    println!("<<<TRACE\n{}TRACE>>>", trace_of(seed));
}

/// A crash that ends several connections of one host at once ends them in the order they
/// started, in every run. turmoil drops the crashed host's tokio runtime, which drops its
/// tasks shard by shard, a task's shard being its id modulo 4; tokio numbers tasks from one
/// counter for the whole process, so a second run in the same process numbered them
/// differently, dropped the streams in another order, and the peer host heard of them (c2, c4
/// `closed`) in that order: a sweep could see a run that `run --seed` in a fresh process did
/// not. The simulator now keeps the tasks a crash drops and ends them in their order
/// (`sim/src/run/teardown.rs`). Four runs in one process, each after tasks of the others.
#[test]
fn a_crash_ends_its_connections_in_one_order_in_every_run() {
    use tcpnotify_sim::fault::{
        EventTrigger, Fault, FaultKind, FaultPlan, Latency, PartialWrites, ReadChunks,
    };
    use tcpnotify_sim::judge::judge;
    let plan = FaultPlan {
        latency: Some(Latency {
            min_ms: 1,
            max_ms: 20,
        }),
        partial_writes: Some(PartialWrites {
            average: 45,
            variation: 3,
        }),
        read_chunks: Some(ReadChunks::new(19)),
        send_buffer: Some(1103),
        faults: vec![Fault::after(
            EventTrigger {
                conn: "c2".into(),
                callback: "sent".into(),
                nth: 1,
            },
            FaultKind::Crash {
                host: "server".into(),
                restart_after_ms: Some(72),
            },
        )],
        ..FaultPlan::quiet(Seed(23))
    };
    let trace = || {
        let verdict = judge(&chaotic(), &plan).expect("runs");
        verdict.outcome.trace.render_for_comparison()
    };
    let runs: Vec<String> = (0..4).map(|_| trace()).collect();
    for (i, run) in runs.iter().enumerate().skip(1) {
        assert!(
            *run == runs[0],
            "run {i} diverged from run 0 at {}",
            first_difference(&runs[0], run)
        );
    }
}
