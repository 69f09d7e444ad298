//! An echo server that applies backpressure the Pony way: when its writes back up it mutes
//! itself (stops reading, so its peer is pushed back in turn), meaning to unmute once the
//! queue drained. The bug: it never unmutes (its `unthrottled` was left out), so the first
//! time it is throttled it stops reading for good and the echo never completes. On a quiet
//! network the window is large and it is never throttled; a small send buffer throttles it.

use crate::support::{assert_caught, assert_fix_passes, assert_fix_passes_many, echoed};
use tcpnotify::{ConnectFailure, TcpConnection, TcpConnectionNotify};
use tcpnotify_sim::notifiers::Sender;
use tcpnotify_sim::{factory, run_passing, FaultPlan, Scenario, Seed};

const TOTAL: usize = 8 * 1024;
const CHUNK: usize = 512;

/// Echoes; mutes while throttled. `unmutes` is the fix.
struct BackpressureEcho {
    unmutes: bool,
}

impl TcpConnectionNotify for BackpressureEcho {
    fn received(&mut self, conn: &mut TcpConnection, data: Vec<u8>, _times: usize) -> bool {
        conn.write(data);
        true
    }
    fn throttled(&mut self, conn: &mut TcpConnection) {
        conn.mute();
    }
    fn unthrottled(&mut self, conn: &mut TcpConnection) {
        if self.unmutes {
            conn.unmute();
        }
    }
    fn connect_failed(&mut self, _conn: &mut TcpConnection, _reason: ConnectFailure) {}
}

fn echo(unmutes: bool) -> Scenario {
    Scenario::new("mute-on-throttle")
        .listener(
            "server",
            "server",
            7000,
            factory(move || BackpressureEcho { unmutes }),
        )
        .client(
            "c1",
            "client",
            "server",
            7000,
            factory(|| Sender::pattern(TOTAL).chunked(CHUNK)),
        )
        .duration_ms(3000)
        .expecting(echoed())
}

/// The bug hides on a quiet network: the server is never throttled.
#[test]
fn mute_on_throttle_passes_on_a_quiet_network() {
    run_passing(&echo(false).plan(FaultPlan::quiet(Seed(1))), Seed(1));
}

/// W4, R5: muted on `throttled` and never unmuted, the server stops reading; the swarm
/// catches the missing echo; the server that unmutes on `unthrottled` passes the same seeds.
#[test]
fn mute_on_throttle_without_unmute_is_caught_and_shrunk() {
    let failure = assert_caught(&echo(false), "finished");
    assert!(
        failure.shrunk.plan.send_buffer.is_some(),
        "the failure needs the server throttled:\n{failure}"
    );
    // The failure names the connection the mute stopped, and since when.
    assert!(
        (failure.to_string()).contains("muted and never unmuted (R5: it reads nothing more, nor its peer's close): server.1 since "),
        "{failure}"
    );
    assert_fix_passes(echo(true), &failure);
}

/// The fixed server passes many seeds (`TCPNOTIFY_SEEDS` sweeps more).
#[test]
fn unmute_on_unthrottled_passes_many_seeds() {
    assert_fix_passes_many(echo(true));
}
