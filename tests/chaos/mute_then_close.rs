//! A one-request server that mutes itself once it has the request ("read nothing more"),
//! writes the response and then closes with `dispose`, expecting a graceful close that sends
//! the response first. But a close while muted is a hard close (L5): whatever is still queued
//! is thrown away. On a quiet network the whole response leaves in the turn that writes it and
//! nothing is queued at the close; behind a small send buffer the tail of the response is
//! still queued and the client gets a truncated response. The fix does not mute (a graceful
//! close takes no new writes and the server ignores further requests).

use crate::support::{assert_caught, assert_fix_passes, assert_fix_passes_many};
use std::collections::BTreeMap;
use tcpnotify::{ConnectFailure, TcpConnection, TcpConnectionNotify};
use tcpnotify_sim::notifiers::pattern;
use tcpnotify_sim::{factory, run_passing, Expectations, FaultPlan, Scenario, Seed};

const RESPONSE: usize = 8 * 1024;

/// Answers `GET\n` with the response, then closes. `mutes` is the bug.
struct OneShot {
    mutes: bool,
    request: Vec<u8>,
    answered: bool,
}

impl TcpConnectionNotify for OneShot {
    fn received(&mut self, conn: &mut TcpConnection, data: Vec<u8>, _times: usize) -> bool {
        if self.answered {
            return true;
        }
        self.request.extend_from_slice(&data);
        if !self.request.contains(&b'\n') {
            return true;
        }
        self.answered = true;
        if self.mutes {
            conn.mute();
        }
        conn.write(pattern(0, RESPONSE));
        conn.dispose();
        true
    }
    fn connect_failed(&mut self, _conn: &mut TcpConnection, _reason: ConnectFailure) {}
}

/// Asks once, checks the response and closes once it is whole.
#[derive(Default)]
struct Getter {
    got: usize,
}

impl TcpConnectionNotify for Getter {
    fn connected(&mut self, conn: &mut TcpConnection) {
        conn.write("GET\n");
    }
    fn received(&mut self, conn: &mut TcpConnection, data: Vec<u8>, _times: usize) -> bool {
        if data != pattern(self.got, data.len()) {
            conn.hard_close();
            return true;
        }
        self.got += data.len();
        if self.got == RESPONSE {
            conn.close();
        }
        true
    }
    fn connect_failed(&mut self, _conn: &mut TcpConnection, _reason: ConnectFailure) {}
}

fn one_shot(mutes: bool) -> Scenario {
    Scenario::new("mute-then-close")
        .listener(
            "server",
            "server",
            7000,
            factory(move || OneShot {
                mutes,
                request: Vec::new(),
                answered: false,
            }),
        )
        .client("c1", "client", "server", 7000, factory(Getter::default))
        .duration_ms(3000)
        .expecting(Expectations {
            delivered: BTreeMap::from([("c1".to_string(), RESPONSE)]),
            ..Expectations::default()
        })
}

/// The bug hides on a quiet network: nothing is queued when the server closes.
#[test]
fn mute_then_close_passes_on_a_quiet_network() {
    run_passing(&one_shot(true).plan(FaultPlan::quiet(Seed(1))), Seed(1));
}

/// L5: the close while muted drops the response's queued tail; the swarm catches the
/// truncated response; the server that does not mute passes the same seeds.
#[test]
fn mute_then_close_is_caught_and_shrunk() {
    let failure = assert_caught(&one_shot(true), "delivered");
    assert!(
        failure.shrunk.plan.send_buffer.is_some(),
        "the failure needs bytes queued at the close:\n{failure}"
    );
    // The trace says where the response went: the close while muted discarded it.
    assert!(
        failure.trace_tail.contains("server.1 closed")
            && failure.trace_tail.contains("queued bytes never sent"),
        "{failure}"
    );
    assert_fix_passes(one_shot(false), &failure);
}

/// The fixed server passes many seeds (`TCPNOTIFY_SEEDS` sweeps more).
#[test]
fn graceful_close_passes_many_seeds() {
    assert_fix_passes_many(one_shot(false));
}
