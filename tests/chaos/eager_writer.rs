//! A writer that assumes every write reaches the wire the moment it is handled: it keeps
//! writing while throttled and hard-closes as soon as its last write was handled. On a quiet
//! network every write goes out whole at once and nothing is lost; with a send buffer smaller
//! than the upload the connection throttles, and the bytes still queued are dropped by the
//! hard close (L5): the server never gets them. (Partial writes alone do not leave bytes
//! queued: the connection writes the rest in the same turn.)

use crate::support::{assert_caught, assert_fix_passes, without_settings, Sink};
use std::collections::BTreeMap;
use tcpnotify::{Bytes, ConnectFailure, TcpConnection, TcpConnectionNotify};
use tcpnotify_sim::fault::{FaultSettings, Span};
use tcpnotify_sim::notifiers::{pattern, BulkWriter};
use tcpnotify_sim::scenario::{factory, NotifierFactory, Scenario};
use tcpnotify_sim::{run_passing, Expectations, FaultPlan, Seed};

const TOTAL: usize = 8192;
const CHUNK: usize = 1024;

/// The bug: counts bytes as delivered in `sent`, ignores `throttled`, and after an empty
/// "flush" write hard-closes, believing everything before it is on the wire.
struct EagerWriter {
    delivered: usize,
}

impl TcpConnectionNotify for EagerWriter {
    fn connected(&mut self, conn: &mut TcpConnection) {
        for offset in (0..TOTAL).step_by(CHUNK) {
            conn.write(pattern(offset, CHUNK.min(TOTAL - offset)));
        }
        conn.write(Vec::new());
    }
    fn sent(&mut self, conn: &mut TcpConnection, data: Bytes) -> Bytes {
        self.delivered += data.len();
        if data.is_empty() && self.delivered == TOTAL {
            conn.hard_close();
        }
        data
    }
    fn connect_failed(&mut self, _conn: &mut TcpConnection, _reason: ConnectFailure) {}
}

fn eager() -> NotifierFactory {
    factory(|| EagerWriter { delivered: 0 })
}

fn upload(writer: NotifierFactory) -> Scenario {
    Scenario::new("eager-writer")
        .listener("server", "server", 7000, factory(|| Sink))
        .client("w1", "client", "server", 7000, writer)
        .duration_ms(3000)
        .faults(FaultSettings {
            latency_ms: Some(Span::new(1, 5)),
            partial_writes: 0.05,
            partial_write_bytes: Span::new(64, 4096),
            send_buffer: 0.05,
            send_buffer_bytes: Span::new(1024, 65536),
            read_chunks: 0.3,
            read_chunk_bytes: Span::new(64, 4096),
            partitions: 0.5,
            partition_ms: Span::new(20, 200),
            slow_close: 0.5,
            ..FaultSettings::default()
        })
        .expecting(Expectations {
            delivered: BTreeMap::from([("server.1".to_string(), TOTAL)]),
            ..Expectations::default()
        })
}

/// The bug hides on a quiet network: every byte arrives.
#[test]
fn eager_writer_passes_on_a_quiet_network() {
    let scenario = upload(eager()).plan(FaultPlan::quiet(Seed(1)));
    run_passing(&scenario, Seed(1));
}

/// W3, L5: the sweep catches the lost bytes as `delivered` and shrinks the plan to the small
/// send buffer that leaves bytes queued; a writer that respects `throttled` and closes
/// gracefully passes the same seeds.
#[test]
fn eager_writer_losing_queued_bytes_is_caught_and_shrunk() {
    let failure = assert_caught(&upload(eager()), "delivered");
    let shrunk = &failure.shrunk.plan;
    assert!(
        shrunk.send_buffer.is_some_and(|b| b < TOTAL),
        "the failure needs bytes left queued:\n{failure}"
    );
    assert_eq!(shrunk.read_chunks, None, "{failure}");
    assert_eq!(shrunk.partial_writes, None, "{failure}");
    assert_fix_passes(upload(factory(|| BulkWriter::new(TOTAL, CHUNK))), &failure);
}

/// With no fault settings written (the swarm), the same bug is caught, shrunk to the same one
/// policy: the README's table gives both columns.
#[test]
fn eager_writer_is_caught_by_the_swarm() {
    let failure = assert_caught(&without_settings(upload(eager())), "delivered");
    let shrunk = &failure.shrunk.plan;
    assert!(
        shrunk.send_buffer.is_some_and(|b| b < TOTAL),
        "the failure needs bytes left queued:\n{failure}"
    );
    assert!(shrunk.faults.is_empty(), "{failure}");
    assert_fix_passes(
        without_settings(upload(factory(|| BulkWriter::new(TOTAL, CHUNK)))),
        &failure,
    );
}
