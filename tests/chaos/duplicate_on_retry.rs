//! A retried request applied twice. A client sends numbered commands to a counter service,
//! all at once, and takes each `OK <n>` as its answer; when its connection ends before every
//! answer came, it dials again from inside `closed` (`conn.dial`) and sends every command not
//! yet answered. That is right for the client: an unanswered command may never have arrived.
//! The bug is the service's: it applies every command it reads, so a command that did arrive,
//! whose answer a reset lost, is applied twice. The fix is the classic one: the service
//! remembers which command ids it applied and answers a repeat without applying it again. On
//! a quiet network no connection ends early and nothing is sent twice.

use crate::support::{assert_caught, assert_fix_passes, assert_fix_passes_many};
use std::collections::BTreeMap;
use tcpnotify::{ConnectFailure, TcpConnection, TcpConnectionNotify};
use tcpnotify_sim::fault::FaultPlan;
use tcpnotify_sim::{factory, run_passing, run_state, Scenario, Seed};

/// Commands the client sends, numbered from 1.
const COMMANDS: u32 = 6;

/// Connections the client makes at most.
const MAX_ATTEMPTS: u32 = 200;

/// What the service applied (durable: it survives a crash of its host) and what the client
/// got answered, in the run's shared state.
#[derive(Debug, Default)]
struct Ledger {
    /// How many times each command id was applied.
    applied: BTreeMap<u32, u32>,
    /// Commands answered with `OK`.
    answered: Vec<u32>,
    /// Connections the client dialled after its first.
    redials: u32,
}

/// Splits complete lines off `buffer`.
fn lines(buffer: &mut Vec<u8>, data: &[u8]) -> Vec<String> {
    buffer.extend_from_slice(data);
    let mut out = Vec::new();
    while let Some(end) = buffer.iter().position(|b| *b == b'\n') {
        let line: Vec<u8> = buffer.drain(..=end).collect();
        out.push(String::from_utf8_lossy(&line[..end]).into_owned());
    }
    out
}

/// The counter service: applies `INC <n>` and answers `OK <n>`.
struct Counter {
    /// Whether it applies a command id once only (the fix).
    dedups: bool,
    buffer: Vec<u8>,
}

impl TcpConnectionNotify for Counter {
    fn received(&mut self, conn: &mut TcpConnection, data: Vec<u8>, _times: usize) -> bool {
        let Some(ledger) = run_state::<Ledger>() else {
            return true;
        };
        for line in lines(&mut self.buffer, &data) {
            let Some(id) = line
                .strip_prefix("INC ")
                .and_then(|n| n.parse::<u32>().ok())
            else {
                continue;
            };
            let mut ledger = ledger.lock();
            let times = ledger.applied.entry(id).or_default();
            if *times == 0 || !self.dedups {
                *times += 1;
            }
            conn.write(format!("OK {id}\n"));
        }
        true
    }
    fn connect_failed(&mut self, _conn: &mut TcpConnection, _reason: ConnectFailure) {}
}

/// The client: sends every unanswered command, closes once all are answered, and dials
/// again when its connection ends before that.
#[derive(Default)]
struct Client {
    buffer: Vec<u8>,
}

impl Client {
    fn unanswered() -> Vec<u32> {
        let answered = run_state::<Ledger>().map(|l| l.lock().answered.clone());
        let answered = answered.unwrap_or_default();
        (1..=COMMANDS).filter(|id| !answered.contains(id)).collect()
    }

    fn again(conn: &mut TcpConnection) {
        let Some(ledger) = run_state::<Ledger>() else {
            return;
        };
        let mut ledger = ledger.lock();
        if ledger.answered.len() as u32 >= COMMANDS || ledger.redials >= MAX_ATTEMPTS {
            return;
        }
        ledger.redials += 1;
        conn.dial(Client::default(), "counter", "7000");
    }
}

impl TcpConnectionNotify for Client {
    fn connected(&mut self, conn: &mut TcpConnection) {
        let unanswered = Self::unanswered();
        if unanswered.is_empty() {
            conn.close();
            return;
        }
        let requests: String = unanswered.iter().map(|id| format!("INC {id}\n")).collect();
        conn.write(requests);
    }
    fn received(&mut self, conn: &mut TcpConnection, data: Vec<u8>, _times: usize) -> bool {
        for line in lines(&mut self.buffer, &data) {
            let Some(id) = line.strip_prefix("OK ").and_then(|n| n.parse::<u32>().ok()) else {
                continue;
            };
            if let Some(ledger) = run_state::<Ledger>() {
                let mut ledger = ledger.lock();
                if !ledger.answered.contains(&id) {
                    ledger.answered.push(id);
                }
            }
        }
        if Self::unanswered().is_empty() {
            conn.close();
        }
        true
    }
    fn closed(&mut self, conn: &mut TcpConnection) {
        Self::again(conn);
    }
    fn connect_failed(&mut self, conn: &mut TcpConnection, _reason: ConnectFailure) {
        Self::again(conn);
    }
}

fn counting(dedups: bool) -> Scenario {
    Scenario::new("duplicate-on-retry")
        .listener(
            "counter",
            "counter",
            7000,
            factory(move || Counter {
                dedups,
                buffer: Vec::new(),
            }),
        )
        .client("c1", "client", "counter", 7000, factory(Client::default))
        .duration_ms(3000)
        .property("applied-at-most-once", |run| {
            let ledger = run.state::<Ledger>();
            let twice: Vec<u32> = ledger
                .map(|l| {
                    l.lock()
                        .applied
                        .iter()
                        .filter(|(_, n)| **n > 1)
                        .map(|(id, _)| *id)
                        .collect()
                })
                .unwrap_or_default();
            match twice.is_empty() {
                true => Ok(()),
                false => Err(format!("commands applied more than once: {twice:?}")),
            }
        })
}

/// The bug hides on a quiet network: every command is sent once.
#[test]
fn duplicate_on_retry_passes_on_a_quiet_network() {
    let scenario = counting(false).plan(FaultPlan::quiet(Seed(1)));
    run_passing(&scenario, Seed(1));
}

/// A reset that loses an answer makes the client send its command again, and the service
/// applies it twice. Caught with no fault settings written; the service that remembers ids
/// passes the same seeds.
#[test]
fn duplicate_on_retry_is_caught_and_shrunk() {
    let failure = assert_caught(&counting(false), "applied-at-most-once");
    assert_fix_passes(counting(true), &failure);
}

/// The fixed service passes many seeds (`TCPNOTIFY_SEEDS` sweeps more).
#[test]
fn dedup_by_id_passes_many_seeds() {
    assert_fix_passes_many(counting(true));
}
