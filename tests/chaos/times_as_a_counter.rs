//! `times` read as "deliveries so far on this connection". A server wants an `AUTH` line
//! first and echoes what follows; it takes `times == 1` to mean the connection's first
//! delivery, and checks for `AUTH` there. But `times` counts the deliveries of one turn
//! (R3): every turn starts again from 1. On a quiet network the client's writes all arrive in
//! the server's first turn, so only the real first delivery has `times == 1`; when the bytes
//! are spread over several turns (split or delayed), a later turn's first delivery is taken
//! for a bad `AUTH` and the server drops the connection. The fix remembers whether the
//! connection authenticated (and buffers the `AUTH` line until it is whole).

use crate::support::{assert_caught, assert_fix_passes, assert_fix_passes_many};
use tcpnotify::{ConnectFailure, TcpConnection, TcpConnectionNotify};
use tcpnotify_sim::fault::Swarm;
use tcpnotify_sim::notifiers::pattern;
use tcpnotify_sim::{factory, run_passing, run_state, FaultPlan, Scenario, Seed};

const AUTH: &[u8] = b"AUTH secret\n";
const MESSAGES: usize = 8;
const MESSAGE: usize = 500;

/// Bytes of echo the client got back, in the run's shared state.
#[derive(Debug, Default)]
struct Echoed(usize);

/// The buggy server: checks `AUTH` in the first delivery of every turn.
struct TimesAuth;

impl TcpConnectionNotify for TimesAuth {
    fn received(&mut self, conn: &mut TcpConnection, data: Vec<u8>, times: usize) -> bool {
        if times == 1 {
            let Some(rest) = data.strip_prefix(AUTH) else {
                conn.hard_close(); // "not authenticated"
                return true;
            };
            if !rest.is_empty() {
                conn.write(rest.to_vec());
            }
        } else {
            conn.write(data);
        }
        true
    }
    fn connect_failed(&mut self, _conn: &mut TcpConnection, _reason: ConnectFailure) {}
}

/// The fixed server: remembers that the connection authenticated.
#[derive(Default)]
struct FlagAuth {
    authed: bool,
    pending: Vec<u8>,
}

impl TcpConnectionNotify for FlagAuth {
    fn received(&mut self, conn: &mut TcpConnection, data: Vec<u8>, _times: usize) -> bool {
        if self.authed {
            conn.write(data);
            return true;
        }
        self.pending.extend_from_slice(&data);
        if self.pending.len() < AUTH.len() {
            if !AUTH.starts_with(&self.pending) {
                conn.hard_close();
            }
            return true;
        }
        if !self.pending.starts_with(AUTH) {
            conn.hard_close();
            return true;
        }
        self.authed = true;
        let rest = self.pending.split_off(AUTH.len());
        if !rest.is_empty() {
            conn.write(rest);
        }
        true
    }
    fn connect_failed(&mut self, _conn: &mut TcpConnection, _reason: ConnectFailure) {}
}

/// Authenticates, sends its messages (one write each), checks the echo and closes once it
/// is all back.
#[derive(Default)]
struct Client {
    echoed: usize,
}

impl TcpConnectionNotify for Client {
    fn connected(&mut self, conn: &mut TcpConnection) {
        conn.write(AUTH);
        for i in 0..MESSAGES {
            conn.write(pattern(i * MESSAGE, MESSAGE));
        }
    }
    fn received(&mut self, conn: &mut TcpConnection, data: Vec<u8>, _times: usize) -> bool {
        if data != pattern(self.echoed, data.len()) {
            conn.hard_close();
            return true;
        }
        self.echoed += data.len();
        if let Some(echoed) = run_state::<Echoed>() {
            echoed.lock().0 = self.echoed;
        }
        if self.echoed == MESSAGES * MESSAGE {
            conn.close();
        }
        true
    }
    fn connect_failed(&mut self, _conn: &mut TcpConnection, _reason: ConnectFailure) {}
}

fn authed(server: tcpnotify_sim::scenario::NotifierFactory) -> Scenario {
    Scenario::new("times-as-a-counter")
        .listener("server", "server", 7000, server)
        .client("c1", "client", "server", 7000, factory(Client::default))
        .duration_ms(3000)
        // The client does not reconnect: the swarm must not draw faults that lose its
        // connection, which the expectations (none but `finished`) would allow.
        .faults(Swarm::lost_connections(false))
        .eventually("all-echoed", |run| {
            let echoed = run.state::<Echoed>().map_or(0, |e| e.lock().0);
            match echoed == MESSAGES * MESSAGE {
                true => Ok(()),
                false => Err(format!("{echoed} of {} bytes echoed", MESSAGES * MESSAGE)),
            }
        })
}

/// The bug hides on a quiet network: one turn reads everything.
#[test]
fn times_as_a_counter_passes_on_a_quiet_network() {
    let scenario = authed(factory(|| TimesAuth)).plan(FaultPlan::quiet(Seed(1)));
    run_passing(&scenario, Seed(1));
}

/// R3: a later turn's first delivery has `times == 1` too; the swarm catches the dropped
/// connection; the server that remembers it authenticated passes the same seeds.
#[test]
fn times_as_a_counter_is_caught_and_shrunk() {
    let failure = assert_caught(&authed(factory(|| TimesAuth)), "all-echoed");
    assert_fix_passes(authed(factory(FlagAuth::default)), &failure);
}

/// The fixed server passes many seeds (`TCPNOTIFY_SEEDS` sweeps more).
#[test]
fn auth_flag_passes_many_seeds() {
    assert_fix_passes_many(authed(factory(FlagAuth::default)));
}
