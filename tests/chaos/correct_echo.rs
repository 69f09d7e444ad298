//! A correct echo passes a chaos sweep in which faults do fire: what a user's own chaos test
//! looks like. This test honours `TCPNOTIFY_SEEDS`, `TCPNOTIFY_SEED` and `TCPNOTIFY_JOBS`.

use tcpnotify_sim::fault::{FaultSettings, Span};
use tcpnotify_sim::notifiers::{Echo, Sender};
use tcpnotify_sim::{factory, Chaos, Scenario};

/// Two clients echo a few kilobytes each over slow links: long enough for timed faults to
/// hit, short enough for a sweep in a debug build.
fn echo() -> Scenario {
    Scenario::new("correct-echo")
        .listener("server", "server", 7000, factory(|| Echo))
        .client(
            "c1",
            "client1",
            "server",
            7000,
            factory(|| Sender::pattern(8192).chunked(512)),
        )
        .client(
            "c2",
            "client2",
            "server",
            7000,
            factory(|| Sender::pattern(4096).chunked(100)),
        )
        .starting_at(20)
        .duration_ms(1500)
        .faults(FaultSettings {
            latency_ms: Some(Span::new(5, 20)),
            partial_writes: 0.3,
            partial_write_bytes: Span::new(16, 2048),
            read_chunks: 0.3,
            read_chunk_bytes: Span::new(16, 2048),
            send_buffer: 0.3,
            send_buffer_bytes: Span::new(256, 8192),
            partitions: 0.7,
            partition_ms: Span::new(20, 150),
            resets: 0.2,
            reset_after_received: Span::new(1, 20),
            slow_close: 0.3,
            ..FaultSettings::default()
        })
}

/// Every checked rule holds and every client finishes, under partitions, resets, slow closes
/// and chunking; the coverage shows those faults fired.
#[test]
fn correct_echo_passes_with_faults_firing() {
    let pass = Chaos::new(echo()).seeds(0..200).assert_passes();
    println!("{pass}");
    let coverage = pass.coverage();
    assert_eq!(coverage.runs, pass.seeds_run());
    if pass.seeds_run() < 50 {
        // A seed reproduced alone (`TCPNOTIFY_SEED`) may draw no fault at all.
        return;
    }
    assert!(!coverage.no_fault_fired(), "{pass}");
    assert!(!pass.to_string().contains("WARNING"), "{pass}");
    assert!(coverage.runs_without_faults < coverage.runs / 2, "{pass}");
    for kind in ["partition", "partition_one_way", "reset", "slow_close"] {
        assert!(
            coverage.fired.get(kind).is_some_and(|n| *n > 0),
            "no {kind} fired:\n{pass}"
        );
    }
    for policy in ["partial_writes", "read_chunks", "send_buffer"] {
        assert!(
            coverage.policies.contains_key(policy),
            "{policy} never on:\n{pass}"
        );
    }
}
