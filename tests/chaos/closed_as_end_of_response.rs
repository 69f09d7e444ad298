//! `closed` taken for "the peer sent everything". The server answers each connection with a
//! length-prefixed response (4-byte big-endian length, then the body) and `dispose`s, a
//! graceful close (L4: everything queued is sent before the write side is shut). The buggy client ignores
//! the length: since the server closes only after writing, it takes `closed` to mean the
//! whole response arrived, and hands on what it holds. But `closed` also follows a reset or a
//! crash of the server's host (L3, R6: bytes may be missing at the end after a reset), so a
//! response cut short is handed on as whole. The fix checks the length, and dials again when
//! the response was cut short.

use crate::support::{assert_caught, assert_fix_passes, assert_fix_passes_many};
use tcpnotify::{ConnectFailure, TcpConnection, TcpConnectionNotify};
use tcpnotify_sim::fault::FaultPlan;
use tcpnotify_sim::notifiers::pattern;
use tcpnotify_sim::{factory, run_passing, run_state, Scenario, Seed};

const BODY: usize = 8192;
const MAX_ATTEMPTS: u32 = 10_000;

/// What the client handed on as responses, and how often it dialled.
#[derive(Debug, Default)]
struct Handed {
    bodies: Vec<usize>,
    /// Whether every body handed on was the pattern.
    intact: bool,
    attempts: u32,
}

/// Answers with the length-prefixed body and closes.
struct Server;

impl TcpConnectionNotify for Server {
    fn accepted(&mut self, conn: &mut TcpConnection) {
        conn.write((BODY as u32).to_be_bytes().to_vec());
        conn.write(pattern(0, BODY));
        // A message, as `write` is: handled after the writes (`close()` now would drop them).
        conn.dispose();
    }
    fn connect_failed(&mut self, _conn: &mut TcpConnection, _reason: ConnectFailure) {}
}

struct Client {
    got: Vec<u8>,
    /// The fix: check the length, dial again if short.
    fixed: bool,
}

impl Client {
    fn new(fixed: bool) -> Self {
        Client {
            got: Vec::new(),
            fixed,
        }
    }

    fn again(&self, conn: &mut TcpConnection) {
        let Some(handed) = run_state::<Handed>() else {
            return;
        };
        let mut handed = handed.lock();
        if handed.attempts < MAX_ATTEMPTS {
            handed.attempts += 1;
            conn.dial(Client::new(self.fixed), "server", "7000");
        }
    }
}

impl TcpConnectionNotify for Client {
    fn received(&mut self, _conn: &mut TcpConnection, data: Vec<u8>, _times: usize) -> bool {
        self.got.extend_from_slice(&data);
        true
    }
    fn closed(&mut self, conn: &mut TcpConnection) {
        let body = self.got.get(4..).unwrap_or_default();
        if self.fixed {
            let whole = self.got.len() >= 4
                && u32::from_be_bytes(self.got[..4].try_into().unwrap()) as usize == body.len();
            if !whole {
                self.again(conn);
                return;
            }
        }
        // The bug (unfixed): the server closes after writing, so this must be all of it.
        if let Some(handed) = run_state::<Handed>() {
            let mut handed = handed.lock();
            if handed.bodies.is_empty() {
                handed.intact = true;
            }
            handed.intact &= body == &pattern(0, body.len())[..];
            handed.bodies.push(body.len());
        }
    }
    fn connect_failed(&mut self, conn: &mut TcpConnection, _reason: ConnectFailure) {
        self.again(conn);
    }
}

fn fetch(fixed: bool) -> Scenario {
    Scenario::new("closed-as-end-of-response")
        .listener("server", "server", 7000, factory(|| Server))
        .client(
            "c1",
            "client",
            "server",
            7000,
            factory(move || Client::new(fixed)),
        )
        .duration_ms(3000)
        .property("only-whole-responses", |run| {
            let Some(handed) = run.state::<Handed>() else {
                return Ok(());
            };
            let handed = handed.lock();
            match handed.bodies.iter().all(|b| *b == BODY)
                && (handed.bodies.is_empty() || handed.intact)
            {
                true => Ok(()),
                false => Err(format!("bodies handed on: {:?} of {BODY}", handed.bodies)),
            }
        })
        .eventually("a-response", |run| {
            let n = run.state::<Handed>().map_or(0, |h| h.lock().bodies.len());
            match n == 1 {
                true => Ok(()),
                false => Err(format!("{n} responses handed on")),
            }
        })
}

/// The bug hides on a quiet network: every response arrives whole before `closed`.
#[test]
fn closed_as_end_of_response_passes_on_a_quiet_network() {
    run_passing(&fetch(false).plan(FaultPlan::quiet(Seed(1))), Seed(1));
}

/// L3/R6: a reset or a crash ends the connection with the response cut short; the swarm
/// catches the short body handed on; the client that checks the length passes.
#[test]
fn closed_as_end_of_response_is_caught_and_shrunk() {
    let failure = assert_caught(&fetch(false), "only-whole-responses");
    assert_fix_passes(fetch(true), &failure);
}

/// The fixed client passes many seeds (`TCPNOTIFY_SEEDS` sweeps more).
#[test]
fn length_checked_response_passes_many_seeds() {
    assert_fix_passes_many(fetch(true));
}
