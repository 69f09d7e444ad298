//! `received` returning `false` read as "not consumed: give me this data again with more".
//! A line server answers each `\n`-terminated request; when a delivery holds no whole line it
//! returns `false`, as frameworks do where a decoder leaves bytes it cannot use yet in the
//! buffer. Here `false` is a yield (R3): the data was delivered and is the notifier's; the
//! next delivery carries only what follows. On a quiet network each request arrives whole in
//! one delivery; when reads split a request, its first part is lost and the rest is answered
//! as a request of its own. The fix keeps partial lines in a buffer of its own.

use crate::support::{assert_caught, assert_fix_passes, assert_fix_passes_many};
use tcpnotify::{ConnectFailure, TcpConnection, TcpConnectionNotify};
use tcpnotify_sim::fault::Swarm;
use tcpnotify_sim::notifiers::LineClient;
use tcpnotify_sim::scenario::NotifierFactory;
use tcpnotify_sim::{factory, run_passing, run_state, FaultPlan, Scenario, Seed};

const REQUESTS: usize = 20;

/// The buggy server: answers the whole lines of a delivery, and returns `false` for a
/// delivery without one, meaning "keep it for me".
struct PushBackLines;

impl TcpConnectionNotify for PushBackLines {
    fn received(&mut self, conn: &mut TcpConnection, data: Vec<u8>, _times: usize) -> bool {
        if !data.contains(&b'\n') {
            return false; // "not enough yet"
        }
        for line in data.split(|b| *b == b'\n').filter(|l| !l.is_empty()) {
            let mut reply = line.to_vec();
            reply.extend_from_slice(b" ok\n");
            conn.write(reply);
        }
        true
    }
    fn connect_failed(&mut self, _conn: &mut TcpConnection, _reason: ConnectFailure) {}
}

/// The fix: keeps a partial line in a buffer of its own. It still yields (`false`) on a
/// delivery without a whole line, which is harmless: the next delivery comes in a later turn.
#[derive(Default)]
struct BufferedLines {
    pending: Vec<u8>,
}

impl TcpConnectionNotify for BufferedLines {
    fn received(&mut self, conn: &mut TcpConnection, data: Vec<u8>, _times: usize) -> bool {
        self.pending.extend_from_slice(&data);
        let Some(end) = self.pending.iter().rposition(|b| *b == b'\n') else {
            return false;
        };
        let whole: Vec<u8> = self.pending.drain(..=end).collect();
        for line in whole.split(|b| *b == b'\n').filter(|l| !l.is_empty()) {
            let mut reply = line.to_vec();
            reply.extend_from_slice(b" ok\n");
            conn.write(reply);
        }
        true
    }
    fn connect_failed(&mut self, _conn: &mut TcpConnection, _reason: ConnectFailure) {}
}

/// Whether the client got every answer, in the run's shared state.
#[derive(Debug, Default)]
struct Done(bool);

/// The built-in line client (one request at a time, checks each answer, `hard_close` on a
/// wrong one), noting in the shared state when it closes after its last answer.
struct Client(LineClient, usize);

impl TcpConnectionNotify for Client {
    fn connected(&mut self, conn: &mut TcpConnection) {
        self.0.connected(conn);
    }
    fn received(&mut self, conn: &mut TcpConnection, data: Vec<u8>, times: usize) -> bool {
        self.1 += data.iter().filter(|b| **b == b'\n').count();
        let more = self.0.received(conn, data, times);
        if self.1 == REQUESTS {
            if let Some(done) = run_state::<Done>() {
                done.lock().0 = true;
            }
        }
        more
    }
    fn connect_failed(&mut self, _conn: &mut TcpConnection, _reason: ConnectFailure) {}
}

fn lines(server: NotifierFactory) -> Scenario {
    Scenario::new("false-as-not-consumed")
        .listener("server", "server", 7000, server)
        .client(
            "c1",
            "client",
            "server",
            7000,
            factory(|| Client(LineClient::new(REQUESTS), 0)),
        )
        .duration_ms(3000)
        // The client does not reconnect: no faults that lose its connection.
        .faults(Swarm::lost_connections(false))
        .eventually("every-request-answered", |run| {
            run.state::<Done>().is_some_and(|done| done.lock().0)
        })
}

/// The bug hides on a quiet network: every request arrives whole.
#[test]
fn false_as_not_consumed_passes_on_a_quiet_network() {
    let scenario = lines(factory(|| PushBackLines)).plan(FaultPlan::quiet(Seed(1)));
    run_passing(&scenario, Seed(1));
}

/// R3: the part of a request delivered with `false` is gone; the swarm catches the wrong
/// answer; the server that buffers partial lines (and still yields) passes the same seeds.
#[test]
fn false_as_not_consumed_is_caught_and_shrunk() {
    let failure = assert_caught(&lines(factory(|| PushBackLines)), "finished");
    let shrunk = &failure.shrunk.plan;
    assert!(
        shrunk.read_chunks.is_some() || shrunk.partial_writes.is_some(),
        "the failure needs a request split:\n{failure}"
    );
    assert_fix_passes(lines(factory(BufferedLines::default)), &failure);
}

/// The fixed server passes many seeds (`TCPNOTIFY_SEEDS` sweeps more).
#[test]
fn buffered_lines_pass_many_seeds() {
    assert_fix_passes_many(lines(factory(BufferedLines::default)));
}
