//! Correct notifiers survive every fault that heals: for each built-in correct pair (echo and
//! senders, framed echo, a slow reader and a bulk writer, a line protocol), a sweep under
//! [`FaultSettings::healing`] — latency, partial writes, re-chunked reads, small send buffers,
//! two-way and one-way partitions, slow closes — passes every seed, and so does a sweep with
//! no fault settings written, where each seed draws its own mix of those kinds (the swarm).
//! Any failure here is a simulator defect (issue 8, item 8), not a notifier's.
//!
//! CI sweeps 1,000 seeds per pair and per way; `TCPNOTIFY_SEEDS=0..10000` sweeps more.

use crate::support::echoed;
use std::time::Duration;
use tcpnotify_sim::notifiers::{
    frame, pattern, BulkWriter, Echo, FramedEcho, LineClient, LineServer, Sender, SlowReader,
};
use tcpnotify_sim::{factory, Chaos, Expectations, FaultSettings, Scenario};

/// Seeds each pair sweeps unless `TCPNOTIFY_SEEDS` says otherwise.
const SEEDS: u64 = 1000;

/// Sweeps `scenario` under every healing fault, at the recommended intensities
/// ([`FaultSettings::healing`]) and as the swarm draws them with no settings written (its
/// expectations allow no lost connection, so the swarm draws only faults that heal), and
/// asserts that every seed passed and that every kind did fire.
fn sweep(scenario: Scenario) {
    let scenario = scenario.duration_ms(20_000);
    let healing = scenario.clone().faults(FaultSettings::healing());
    for scenario in [healing, scenario] {
        let pass = Chaos::new(scenario).seeds(0..SEEDS).assert_passes();
        println!("{pass}");
        if pass.seeds_run() < 100 {
            // A seed re-run alone (`TCPNOTIFY_SEED`) may draw no fault at all.
            continue;
        }
        let coverage = pass.coverage();
        for kind in ["partition", "partition_one_way", "slow_close"] {
            assert!(
                coverage.fired.get(kind).is_some_and(|n| *n > 0),
                "no {kind} fired:\n{pass}"
            );
        }
        for policy in ["latency", "partial_writes", "read_chunks", "send_buffer"] {
            assert!(
                coverage.policies.contains_key(policy),
                "{policy} never on:\n{pass}"
            );
        }
        assert!(coverage.fired_in_flight > 0, "{pass}");
        for kind in ["reset", "crash"] {
            assert!(!coverage.fired.contains_key(kind), "{pass}");
        }
    }
}

#[test]
fn echo_and_senders_survive_every_healing_fault() {
    sweep(
        Scenario::new("healing-echo")
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
                factory(|| Sender::pattern(1000).chunked(1)),
            )
            .starting_at(5)
            .expecting(echoed()),
    );
}

#[test]
fn framed_echo_survives_every_healing_fault() {
    // Frames of several sizes, written in writes that cut across them.
    let payload: Vec<u8> = [1usize, 7, 300, 4000, 12]
        .iter()
        .flat_map(|n| frame(&pattern(0, *n)))
        .collect();
    sweep(
        Scenario::new("healing-framed-echo")
            .listener("server", "server", 7000, factory(FramedEcho::new))
            .client(
                "c1",
                "client",
                "server",
                7000,
                factory(move || Sender::new(payload.clone()).chunked(333)),
            )
            .expecting(echoed()),
    );
}

#[test]
fn slow_reader_and_bulk_writer_survive_every_healing_fault() {
    sweep(
        Scenario::new("healing-slow-reader")
            .listener(
                "server",
                "server",
                7000,
                factory(|| SlowReader::new(Duration::from_millis(50), 65536).pausing_every(16384)),
            )
            .client(
                "c1",
                "client",
                "server",
                7000,
                factory(|| BulkWriter::new(65536, 1024)),
            )
            .expecting(Expectations {
                closed: Some(2),
                ..Expectations::default()
            }),
    );
}

#[test]
fn line_protocol_survives_every_healing_fault() {
    sweep(
        Scenario::new("healing-line-protocol")
            .listener("server", "server", 7000, factory(LineServer::default))
            .client(
                "c1",
                "client",
                "server",
                7000,
                factory(|| LineClient::new(20)),
            )
            .expecting(Expectations {
                closed: Some(2),
                ..Expectations::default()
            }),
    );
}
