//! Data flow over the simulated network: backpressure under a small send buffer, `times`
//! and yielding, and `expect` framing under hostile chunking.

use crate::support::{callbacks_of, received_bytes, snapshot_trace};
use std::time::Duration;
use tcpnotify::ConnectionConfig;
use tcpnotify_sim::fault::{FaultPlan, PartialWrites, ReadChunks};
use tcpnotify_sim::judge::{check, CheckOptions, Rule};
use tcpnotify_sim::notifiers::{frame, pattern, BulkWriter, FramedEcho, Sender, SlowReader};
use tcpnotify_sim::run::{EventKind, RunOutcome, Trace};
use tcpnotify_sim::{factory, run_passing, seed_or, FaultSettings, Scenario, Seed};

/// W3, W4, W5, R6: a 2 KiB send buffer and a reader muted for 200ms: the writer is throttled,
/// then unthrottled once the reader drains, and every byte arrives once and in order.
#[test]
fn w4_throttled_then_unthrottled_with_a_slow_reader() {
    const TOTAL: usize = 16 * 1024;
    let scenario = Scenario::new("throttle-slow-reader")
        .listener(
            "server",
            "server",
            7000,
            factory(|| SlowReader::new(Duration::from_millis(200), TOTAL)),
        )
        .client(
            "c1",
            "client",
            "server",
            7000,
            factory(|| BulkWriter::new(TOTAL, 1024)),
        )
        .keep_payloads()
        .plan(FaultPlan {
            send_buffer: Some(2048),
            ..FaultPlan::quiet(Seed(0))
        });
    let outcome = run_passing(&scenario, seed_or(1));
    let c1 = callbacks_of(&outcome, "c1");
    let throttles: Vec<&String> = c1.iter().filter(|c| c.ends_with("throttled")).collect();
    assert!(
        throttles.len() >= 2,
        "expected throttled and unthrottled, got {throttles:?}"
    );
    assert_eq!(throttles[0], "throttled");
    assert_eq!(throttles[1], "unthrottled");
    assert_eq!(received_bytes(&outcome, "server.1"), pattern(0, TOTAL));
    snapshot_trace("throttle_slow_reader", &outcome);
}

/// R5: each mute and unmute that took effect is a line of its connection, at the simulated
/// time of the turn that handled it, before what it let through: the reader mutes on accept
/// for 100ms (and again after 2 KiB, a mute its turn goes on to close before, handled after
/// `closed`: no line). The same lines come back from JSON lines, and the checker judges R5
/// from them and nothing else differently.
#[test]
fn r5_mutes_and_unmutes_are_trace_lines_at_the_time_they_took_effect() {
    const TOTAL: usize = 4 * 1024;
    let scenario = Scenario::new("muted-reader")
        .listener(
            "server",
            "server",
            7000,
            factory(|| SlowReader::new(Duration::from_millis(100), TOTAL).pausing_every(2048)),
        )
        .client(
            "c1",
            "client",
            "server",
            7000,
            factory(|| BulkWriter::new(TOTAL, 1024)),
        )
        .plan(FaultPlan::quiet(Seed(0)));
    let outcome = run_passing(&scenario, Seed(0));
    let server: Vec<String> = outcome
        .trace
        .events()
        .iter()
        .filter(|e| e.who == "server.1")
        .map(|e| e.to_string())
        .collect();
    let at = |prefix: &str| server.iter().position(|l| l.contains(prefix));
    let mutes: Vec<&str> = server
        .iter()
        .filter(|l| l.contains("MUTED"))
        .map(String::as_str)
        .collect();
    assert_eq!(
        mutes,
        [
            "     1.000ms server server.1 MUTED: reading stops until unmute (R5)",
            "   101.000ms server server.1 UNMUTED: reading resumes, buffered data first (R5)",
        ],
        "{server:#?}"
    );
    assert!(at("accepted") < at("MUTED"), "{server:#?}");
    assert!(at("UNMUTED") < at("received"), "{server:#?}");

    let json = outcome.trace.render_json_lines();
    let read_back = Trace::parse_json_lines(&json).expect("the JSON lines parse");
    assert_eq!(read_back.events(), outcome.trace.events());
    // The checker judges R5 from the mute lines, and nothing else differently.
    let without_mutes = Trace::from_events(
        outcome
            .trace
            .events()
            .into_iter()
            .filter(|e| !matches!(e.kind, EventKind::Muted | EventKind::Unmuted))
            .collect(),
    );
    let options = CheckOptions::default();
    assert_eq!(without_mutes.len() + 2, outcome.trace.len());
    let (with, mut without) = (
        check(&outcome.trace, &options),
        check(&without_mutes, &options),
    );
    assert!(with.is_ok(), "{with}");
    assert_eq!(with.exercised[&Rule::R5], 1, "{with}");
    without.exercised.insert(Rule::R5, 1);
    assert_eq!(with, without);
}

/// R3: `times` counts deliveries in a turn; a `received` returning false ends the turn and the
/// next delivery has `times` 1.
#[test]
fn r3_times_restarts_after_received_returns_false() {
    let reader = SlowReader::new(Duration::ZERO, 1000).yielding_every(3);
    let scenario = thousand_bytes_in_tens("yield-on-false", reader, ConnectionConfig::default());
    let outcome = run_passing(&scenario, seed_or(1));
    let times = received_times(&outcome, "server.1");
    assert_eq!(
        times,
        [
            "1) -> true",
            "2) -> true",
            "3) -> false",
            "1) -> true",
            "2) -> true",
            "3) -> false",
            "1) -> true",
            "2) -> true",
            "3) -> false",
            "1) -> true"
        ]
    );
    snapshot_trace("yield_on_false", &outcome);
}

/// R4: after `yield_after_reading` bytes read in one turn the connection yields even though
/// every `received` returned true, so `times` restarts.
#[test]
fn r4_yields_after_reading_the_configured_bytes() {
    let mut config = ConnectionConfig::default();
    config.set_yield_after_reading(250);
    let reader = SlowReader::new(Duration::ZERO, 1000);
    let scenario = thousand_bytes_in_tens("yield-after-reading", reader, config);
    let outcome = run_passing(&scenario, seed_or(1));
    let times = received_times(&outcome, "server.1");
    assert_eq!(
        times[..4],
        ["1) -> true", "2) -> true", "3) -> true", "1) -> true"]
    );
    snapshot_trace("yield_after_reading", &outcome);
}

/// R1: with one-byte partial writes and reads re-chunked to 1..7 bytes, every `received`
/// under `expect(n)` still carries exactly n bytes.
#[test]
fn r1_expect_framing_is_exact_under_one_byte_writes_and_coalesced_reads() {
    let messages: Vec<u8> = [b"hello", b"world", b"again"]
        .iter()
        .flat_map(|m| frame(&m[..]))
        .collect();
    let scenario = Scenario::new("framing-hostile-chunking")
        .listener("server", "server", 7000, factory(FramedEcho::new))
        .client(
            "c1",
            "client",
            "server",
            7000,
            factory(move || Sender::new(messages.clone()).expecting(9)),
        )
        .plan(FaultPlan {
            partial_writes: Some(PartialWrites {
                average: 1,
                variation: 0,
            }),
            read_chunks: Some(ReadChunks::new(7)),
            ..FaultPlan::quiet(Seed(0))
        });
    let outcome = run_passing(&scenario, seed_or(1));
    let sizes = |who: &str| -> Vec<String> {
        callbacks_of(&outcome, who)
            .into_iter()
            .filter(|c| c.starts_with("received"))
            .map(|c| c.split(' ').next().unwrap_or("").to_string())
            .collect()
    };
    assert_eq!(
        sizes("server.1"),
        [
            "received(4B",
            "received(5B",
            "received(4B",
            "received(5B",
            "received(4B",
            "received(5B"
        ]
    );
    assert_eq!(sizes("c1"), ["received(9B", "received(9B", "received(9B"]);
    snapshot_trace("framing_hostile_chunking", &outcome);
}

/// R1, R6: re-chunked reads that do not coalesce split the peer's writes but never join two:
/// with a `max` larger than any write every read is one whole write, while coalescing reads
/// join the writes that arrived together.
#[test]
fn r1_reads_that_do_not_coalesce_never_join_two_writes() {
    let sizes = |coalesce: bool| -> Vec<usize> {
        let scenario = Scenario::echo("no-coalescing", 1000, 100).plan(FaultPlan {
            read_chunks: Some(ReadChunks {
                max: 1 << 20,
                coalesce,
            }),
            ..FaultPlan::quiet(Seed(0))
        });
        let outcome = run_passing(&scenario, seed_or(1));
        (outcome.trace.events().iter())
            .filter(|e| e.who == "server.1")
            .filter_map(|e| match e.callback()? {
                tcpnotify::record::Callback::Received { data, .. } => Some(data.len()),
                _ => None,
            })
            .collect()
    };
    assert_eq!(sizes(false), vec![100; 10]);
    let joined = sizes(true);
    assert!(joined.iter().any(|n| *n > 100), "{joined:?}");
}

/// A server reading with `reader` (its connections set up with `config`) and a client writing
/// 1000 pattern bytes in ten writes, without waiting for an echo, on a quiet network.
fn thousand_bytes_in_tens(name: &str, reader: SlowReader, config: ConnectionConfig) -> Scenario {
    Scenario::new(name)
        .faults(FaultSettings::quiet())
        .listener("server", "server", 7000, factory(move || reader))
        .with_config(config)
        .client(
            "c1",
            "client",
            "server",
            7000,
            factory(|| Sender::pattern(1000).chunked(100).without_echo()),
        )
}

/// The `times` and result of each of `who`'s `received` calls: `["1) -> true", ...]`.
fn received_times(outcome: &RunOutcome, who: &str) -> Vec<String> {
    callbacks_of(outcome, who)
        .into_iter()
        .filter(|c| c.starts_with("received"))
        .map(|c| c.split("times=").nth(1).unwrap_or("").to_string())
        .collect()
}
