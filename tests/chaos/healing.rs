//! Correct notifiers survive every fault that heals: for each built-in correct pair, a sweep
//! under latency, partial writes, re-chunked reads, small send buffers, two-way and one-way
//! partitions and slow closes passes every seed. Any failure here is a simulator defect.
//!
//! CI sweeps 1,000 seeds per pair; `TCPNOTIFY_SEEDS=0..10000` sweeps more.

use std::time::Duration;
use tcpnotify_sim::chaos::Chaos;
use tcpnotify_sim::notifiers::{
    frame, pattern, BulkWriter, Echo, FramedEcho, LineClient, LineServer, Sender, SlowReader,
};
use tcpnotify_sim::scenario::{factory, Scenario};
use tcpnotify_sim::settings::{FaultSettings, Span};
use tcpnotify_sim::verdict::Expectations;

/// Seeds a pair must pass in CI.
const SEEDS: u64 = 1000;

/// Every fault kind that heals, at the intensities the README recommends.
fn healing() -> FaultSettings {
    FaultSettings {
        latency_ms: Some(Span::new(1, 20)),
        partial_writes: 0.5,
        partial_write_bytes: Span::new(1, 2048),
        read_chunks: 0.5,
        read_chunk_bytes: Span::new(1, 2048),
        send_buffer: 0.5,
        send_buffer_bytes: Span::new(256, 8192),
        partitions: 0.7,
        partition_ms: Span::new(20, 300),
        one_way: 0.5,
        slow_close: 0.5,
        slow_close_ms: Span::new(10, 200),
        fault_window_ms: Some(Span::new(0, 300)),
        ..FaultSettings::default()
    }
}

fn sweep(scenario: Scenario) {
    let pass = Chaos::new(scenario.faults(healing()).duration_ms(20_000))
        .seeds(0..SEEDS)
        .assert_passes();
    println!("{pass}");
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
                factory(|| Sender::pattern(3000).chunked(1)),
            )
            .starting_at(5)
            .expecting(Expectations {
                echoed: true,
                ..Expectations::default()
            }),
    );
}

#[test]
fn framed_echo_survives_every_healing_fault() {
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
            .expecting(Expectations {
                echoed: true,
                ..Expectations::default()
            }),
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
