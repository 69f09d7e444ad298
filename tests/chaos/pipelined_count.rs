//! A client that pipelines its requests to a server that answers one request per connection
//! and then closes (gracefully: the answer is written first), as an HTTP/1.0 server does.
//! The client sends every request it still needs at once, takes the answers in order, and
//! when the connection ends dials again (`conn.dial` from `closed`) with what is left: all
//! correct. The bug: it counts one answer per `received`, assuming each delivery is one whole
//! answer. On a quiet network an answer arrives in one delivery; when reads split it, the
//! client counts two answers, takes a request that was never answered for answered, never
//! sends it again, and closes believing it is done. The fix counts complete answer lines.

use crate::support::{assert_caught, assert_fix_passes, assert_fix_passes_many};
use std::collections::{BTreeSet, VecDeque};
use tcpnotify::{ConnectFailure, TcpConnection, TcpConnectionNotify};
use tcpnotify_sim::{factory, run_passing, run_state, FaultPlan, Scenario, Seed};

/// Requests, numbered from 1.
const REQUESTS: u32 = 6;

/// Connections the client makes at most: far more than any fault the swarm draws takes to
/// heal (it dials again at once, and a refused connect fails a round trip later).
const MAX_CONNECTIONS: u32 = 10_000;

/// The run's shared state: what the server answered, what the client believes answered.
#[derive(Debug, Default)]
struct Ledger {
    answered: BTreeSet<u32>,
    believed: BTreeSet<u32>,
    connections: u32,
}

/// Answers the first whole `REQ <n>` line of a connection with `ANS <n> <padding>`, then
/// closes (after the answer: `dispose` is a message, handled after the write).
#[derive(Default)]
struct OnePerConnection {
    pending: Vec<u8>,
    answered: bool,
}

impl TcpConnectionNotify for OnePerConnection {
    fn received(&mut self, conn: &mut TcpConnection, data: Vec<u8>, _times: usize) -> bool {
        if self.answered {
            return true;
        }
        self.pending.extend_from_slice(&data);
        let Some(end) = self.pending.iter().position(|b| *b == b'\n') else {
            return true;
        };
        let line = String::from_utf8_lossy(&self.pending[..end]).into_owned();
        let Some(id) = line
            .strip_prefix("REQ ")
            .and_then(|n| n.parse::<u32>().ok())
        else {
            conn.hard_close();
            return true;
        };
        self.answered = true;
        if let Some(ledger) = run_state::<Ledger>() {
            ledger.lock().answered.insert(id);
        }
        conn.write(format!("ANS {id} {}\n", "x".repeat(200)));
        conn.dispose();
        true
    }
    fn connect_failed(&mut self, _conn: &mut TcpConnection, _reason: ConnectFailure) {}
}

/// The pipelining client. `counts_lines` is the fix.
struct Pipeliner {
    counts_lines: bool,
    /// Requests not yet answered, as the client believes.
    todo: Vec<u32>,
    /// Requests sent on this connection and not yet answered, in order.
    in_flight: VecDeque<u32>,
    buffer: Vec<u8>,
}

impl Pipeliner {
    fn new(counts_lines: bool, todo: Vec<u32>) -> Self {
        Pipeliner {
            counts_lines,
            todo,
            in_flight: VecDeque::new(),
            buffer: Vec::new(),
        }
    }

    fn answered(&mut self) {
        if let Some(id) = self.in_flight.pop_front() {
            self.todo.retain(|t| *t != id);
            if let Some(ledger) = run_state::<Ledger>() {
                ledger.lock().believed.insert(id);
            }
        }
    }

    fn again(&mut self, conn: &mut TcpConnection) {
        if self.todo.is_empty() {
            return;
        }
        let Some(ledger) = run_state::<Ledger>() else {
            return;
        };
        let mut ledger = ledger.lock();
        if ledger.connections >= MAX_CONNECTIONS {
            return;
        }
        ledger.connections += 1;
        let next = Pipeliner::new(self.counts_lines, self.todo.clone());
        conn.dial(next, "server", "7000");
    }
}

impl TcpConnectionNotify for Pipeliner {
    fn connected(&mut self, conn: &mut TcpConnection) {
        for id in self.todo.clone() {
            conn.write(format!("REQ {id}\n"));
            self.in_flight.push_back(id);
        }
    }
    fn received(&mut self, conn: &mut TcpConnection, data: Vec<u8>, _times: usize) -> bool {
        if self.counts_lines {
            self.buffer.extend_from_slice(&data);
            while let Some(end) = self.buffer.iter().position(|b| *b == b'\n') {
                self.buffer.drain(..=end);
                self.answered();
            }
        } else {
            // The bug: one delivery, one answer.
            self.answered();
        }
        if self.todo.is_empty() {
            conn.close();
        }
        true
    }
    fn closed(&mut self, conn: &mut TcpConnection) {
        self.again(conn);
    }
    fn connect_failed(&mut self, conn: &mut TcpConnection, _reason: ConnectFailure) {
        self.again(conn);
    }
}

fn pipelined(counts_lines: bool) -> Scenario {
    Scenario::new("pipelined-count")
        .listener("server", "server", 7000, factory(OnePerConnection::default))
        .client(
            "c1",
            "client",
            "server",
            7000,
            factory(move || Pipeliner::new(counts_lines, (1..=REQUESTS).collect())),
        )
        .duration_ms(3000)
        .eventually("every-request-answered", |run| {
            let Some(ledger) = run.state::<Ledger>() else {
                return Err("no ledger".to_string());
            };
            let ledger = ledger.lock();
            let never: Vec<u32> = (1..=REQUESTS)
                .filter(|id| !ledger.answered.contains(id))
                .collect();
            let believed: Vec<u32> = never
                .iter()
                .copied()
                .filter(|id| ledger.believed.contains(id))
                .collect();
            match never.is_empty() {
                true => Ok(()),
                false => Err(format!(
                    "requests never answered: {never:?}; of them the client took {believed:?} \
                     for answered"
                )),
            }
        })
}

/// The bug hides on a quiet network: each answer arrives in one delivery.
#[test]
fn pipelined_count_passes_on_a_quiet_network() {
    run_passing(&pipelined(false).plan(FaultPlan::quiet(Seed(1))), Seed(1));
}

/// R1 (with `expect(0)` a delivery is any part of the stream): the swarm catches the request
/// the client took for answered; the client that counts whole lines passes the same seeds.
#[test]
fn pipelined_count_of_deliveries_is_caught_and_shrunk() {
    let failure = assert_caught(&pipelined(false), "every-request-answered");
    let shrunk = &failure.shrunk.plan;
    assert!(
        shrunk.read_chunks.is_some() || shrunk.partial_writes.is_some(),
        "the failure needs an answer split:\n{failure}"
    );
    assert_fix_passes(pipelined(true), &failure);
}

/// The fixed client passes many seeds (`TCPNOTIFY_SEEDS` sweeps more).
#[test]
fn pipelined_count_of_lines_passes_many_seeds() {
    assert_fix_passes_many(pipelined(true));
}
