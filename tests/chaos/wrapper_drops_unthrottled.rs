//! A wrapper notifier that composes with another, as Pony's SSL wrapper does: `Routed` sends
//! its inner notifier's connection through a relay (`proxy_via`), counts the bytes it writes,
//! and forwards every callback inward. The bug is the one Rust's default trait
//! methods make easy: it forwards `throttled` but never overrides `unthrottled`, so the
//! default (do nothing) swallows it. The inner notifier, a bulk writer that pauses while
//! throttled, waits forever. On a quiet network the window is large and nothing throttles.
//!
//! (Without a fault window the swarm partitions the pairs of hosts the scenario's clients name,
//! here `client` and `server`, and also the routes `proxy_via` and the relay's onward
//! connection take, `client` to `relay` and `relay` to `server`, on any client's traffic: one
//! of each pair listens and the other runs something. Partitioning those found the built-in
//! proxy dropping what it held when its peer closed before the onward connection was up
//! (fixed). The bug needs a small send buffer only.)

use crate::support::{assert_caught, assert_fix_passes, assert_fix_passes_many};
use std::collections::BTreeMap;
use tcpnotify::{Bytes, ConnectFailure, TcpConnection, TcpConnectionNotify};
use tcpnotify_sim::notifiers::{BulkWriter, Proxy};
use tcpnotify_sim::{factory, run_passing, run_state, Expectations, FaultPlan, Scenario, Seed};

const TOTAL: usize = 8 * 1024;
const CHUNK: usize = 512;

/// Bytes the wrapper saw written, in the run's shared state.
#[derive(Debug, Default)]
struct Metered(usize);

/// Routes through the relay, counts, forwards. `forwards_unthrottled` is the fix.
struct Routed<N> {
    inner: N,
    forwards_unthrottled: bool,
}

impl<N: TcpConnectionNotify> TcpConnectionNotify for Routed<N> {
    fn proxy_via(&mut self, host: &str, service: &str) -> (String, String) {
        let _ = self.inner.proxy_via(host, service);
        ("relay".to_string(), "7000".to_string())
    }
    fn connecting(&mut self, conn: &mut TcpConnection, count: u32) {
        self.inner.connecting(conn, count);
    }
    fn connected(&mut self, conn: &mut TcpConnection) {
        self.inner.connected(conn);
    }
    fn connect_failed(&mut self, conn: &mut TcpConnection, reason: ConnectFailure) {
        self.inner.connect_failed(conn, reason);
    }
    fn sent(&mut self, conn: &mut TcpConnection, data: Bytes) -> Bytes {
        let data = self.inner.sent(conn, data);
        if let Some(metered) = run_state::<Metered>() {
            metered.lock().0 += data.len();
        }
        data
    }
    fn received(&mut self, conn: &mut TcpConnection, data: Vec<u8>, times: usize) -> bool {
        self.inner.received(conn, data, times)
    }
    fn closed(&mut self, conn: &mut TcpConnection) {
        self.inner.closed(conn);
    }
    fn throttled(&mut self, conn: &mut TcpConnection) {
        self.inner.throttled(conn);
    }
    fn unthrottled(&mut self, conn: &mut TcpConnection) {
        if self.forwards_unthrottled {
            self.inner.unthrottled(conn);
        }
    }
}

/// Reads everything and never writes; closes when its peer does.
struct Sink;

impl TcpConnectionNotify for Sink {
    fn connect_failed(&mut self, _conn: &mut TcpConnection, _reason: ConnectFailure) {}
}

fn routed(forwards_unthrottled: bool) -> Scenario {
    Scenario::new("wrapper-drops-unthrottled")
        .listener("server", "server", 7000, factory(|| Sink))
        .listener(
            "relay",
            "relay",
            7000,
            factory(|| Proxy::new("server", 7000)),
        )
        .client(
            "c1",
            "client",
            "server",
            7000,
            factory(move || Routed {
                inner: BulkWriter::new(TOTAL, CHUNK),
                forwards_unthrottled,
            }),
        )
        .duration_ms(3000)
        .expecting(Expectations {
            delivered: BTreeMap::from([("server.1".to_string(), TOTAL)]),
            ..Expectations::default()
        })
}

/// The bug hides on a quiet network: the writer is never throttled.
#[test]
fn wrapper_drops_unthrottled_passes_on_a_quiet_network() {
    run_passing(&routed(false).plan(FaultPlan::quiet(Seed(1))), Seed(1));
}

/// W4, W5: the inner writer never hears `unthrottled` and stops; the swarm catches the
/// upload that never completes; the wrapper that forwards it passes the same seeds.
#[test]
fn wrapper_drops_unthrottled_is_caught_and_shrunk() {
    let failure = assert_caught(&routed(false), "finished");
    assert!(
        failure.shrunk.plan.send_buffer.is_some(),
        "the failure needs the writer throttled:\n{failure}"
    );
    assert_fix_passes(routed(true), &failure);
}

/// The fixed wrapper passes many seeds (`TCPNOTIFY_SEEDS` sweeps more).
#[test]
fn wrapper_forwarding_every_callback_passes_many_seeds() {
    assert_fix_passes_many(routed(true));
}
