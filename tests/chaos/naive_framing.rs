//! A frame parser that assumes each `received` carries exactly one whole frame, instead of
//! reading the header and body with `expect` (R1). On a quiet network each frame arrives in
//! one read and it works; when reads are re-chunked or writes go out in pieces, it sees a
//! "corrupt" frame, hard-closes, and the client's echo never comes back whole.

use crate::support::{assert_caught, assert_fix_passes, echoed, without_settings};
use tcpnotify::{ConnectFailure, TcpConnection, TcpConnectionNotify};
use tcpnotify_sim::fault::{FaultSettings, Span};
use tcpnotify_sim::notifiers::{frame, frame_len, pattern, FramedEcho};
use tcpnotify_sim::scenario::{factory, NotifierFactory, Scenario};
use tcpnotify_sim::{run_passing, FaultPlan, Seed};

const FRAMES: usize = 6;
const BODY: usize = 200;

/// The bug: parses every delivery as `[4-byte length][body]` and hard-closes on a mismatch.
struct NaiveFramedEcho;

impl TcpConnectionNotify for NaiveFramedEcho {
    fn received(&mut self, conn: &mut TcpConnection, data: Vec<u8>, _times: usize) -> bool {
        let whole = data.len() >= 4 && frame_len(&data[..4]) == data.len() - 4;
        if whole {
            conn.write(data);
        } else {
            // "Corrupt frame": a protocol error, so drop the connection.
            conn.hard_close();
        }
        true
    }
    fn connect_failed(&mut self, _conn: &mut TcpConnection, _reason: ConnectFailure) {}
}

/// Sends one frame at a time and sends the next once the echo of the last one is back, so a
/// frame is never written while another is in flight; closes when all came back.
struct LockstepClient {
    frames: Vec<Vec<u8>>,
    next: usize,
    echoed: Vec<u8>,
    expected: Vec<u8>,
}

impl LockstepClient {
    fn new() -> Self {
        let frames: Vec<Vec<u8>> = (0..FRAMES)
            .map(|i| frame(&pattern(i * BODY, BODY)))
            .collect();
        LockstepClient {
            expected: frames.concat(),
            frames,
            next: 0,
            echoed: Vec::new(),
        }
    }

    fn send_next(&mut self, conn: &mut TcpConnection) {
        if let Some(f) = self.frames.get(self.next) {
            conn.write(f.clone());
            self.next += 1;
        }
    }
}

impl TcpConnectionNotify for LockstepClient {
    fn connected(&mut self, conn: &mut TcpConnection) {
        self.send_next(conn);
    }
    fn received(&mut self, conn: &mut TcpConnection, data: Vec<u8>, _times: usize) -> bool {
        self.echoed.extend_from_slice(&data);
        if !self.expected.starts_with(&self.echoed) {
            conn.hard_close();
        } else if self.echoed.len() == self.expected.len() {
            conn.close();
        } else if self.echoed.len() == self.next * (BODY + 4) {
            self.send_next(conn);
        }
        true
    }
    fn connect_failed(&mut self, _conn: &mut TcpConnection, _reason: ConnectFailure) {}
}

fn framed(server: NotifierFactory) -> Scenario {
    Scenario::new("naive-framing")
        .listener("server", "server", 7000, server)
        .client("c1", "client", "server", 7000, factory(LockstepClient::new))
        .duration_ms(3000)
        .faults(FaultSettings {
            latency_ms: Some(Span::new(1, 10)),
            read_chunks: 0.1,
            read_chunk_bytes: Span::new(16, 4096),
            partial_writes: 0.05,
            partial_write_bytes: Span::new(16, 4096),
            partitions: 0.5,
            partition_ms: Span::new(20, 200),
            slow_close: 0.5,
            ..FaultSettings::default()
        })
        .expecting(echoed())
}

/// The bug hides on a quiet network: every frame comes back.
#[test]
fn naive_framing_passes_on_a_quiet_network() {
    let scenario = framed(factory(|| NaiveFramedEcho)).plan(FaultPlan::quiet(Seed(1)));
    run_passing(&scenario, Seed(1));
}

/// R1: the sweep catches the missing echo and shrinks the plan to the chunking that splits a
/// frame; the built-in `FramedEcho`, which reads with `expect`, passes the same seeds.
#[test]
fn naive_framing_assuming_whole_frames_is_caught_and_shrunk() {
    let failure = assert_caught(&framed(factory(|| NaiveFramedEcho)), "echoed");
    let shrunk = &failure.shrunk.plan;
    assert!(
        shrunk.read_chunks.is_some() || shrunk.partial_writes.is_some(),
        "the failure needs a frame split:\n{failure}"
    );
    assert_fix_passes(framed(factory(FramedEcho::new)), &failure);
}

/// With no fault settings written (the swarm), the same bug is caught, shrunk to a frame split
/// and no fault: the README's table gives both columns.
#[test]
fn naive_framing_is_caught_by_the_swarm() {
    let failure = assert_caught(
        &without_settings(framed(factory(|| NaiveFramedEcho))),
        "echoed",
    );
    let shrunk = &failure.shrunk.plan;
    assert!(
        shrunk.read_chunks.is_some() || shrunk.partial_writes.is_some(),
        "the failure needs a frame split:\n{failure}"
    );
    assert!(shrunk.faults.is_empty(), "{failure}");
    assert_fix_passes(without_settings(framed(factory(FramedEcho::new))), &failure);
}
