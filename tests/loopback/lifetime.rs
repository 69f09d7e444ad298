//! How connections end and how a listener's limit holds peers back.

use crate::conformance::Difference;
use crate::support::{finished, read_exact, stop, write_all, Echo};
use crate::world::World;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tcpnotify::{ConnectFailure, TcpConnection, TcpConnectionNotify};
use tokio::io::{AsyncRead, AsyncWrite};

conformance! {
    l3_peer_close_closes_the_connection: peer_close_closes;
    n3_listener_limit_holds_a_peer_back_until_a_slot_frees: limit_holds_a_peer_back;
}

/// Only listens.
struct Passive;

impl TcpConnectionNotify for Passive {
    fn connect_failed(&mut self, _conn: &mut TcpConnection, _reason: ConnectFailure) {}
}

/// A raw peer writes and closes; a write after `closed` is dropped.
async fn peer_close_closes<W: World>(w: W) -> String {
    let trace = w.trace();
    let (raw, port) = w.raw_listener(false).await;
    let conn = w.connect(&trace, "client", Passive, port);
    let mut peer = w.accept(&raw).await;
    write_all(&mut peer, b"bye").await;
    drop(peer);
    finished(&conn).await;
    conn.write("after closed");
    let dropped = conn.stats().writes_dropped;
    trace.note("client", format!("writes dropped after closed: {dropped}"));
    trace.render(&["client"])
}

/// Writes `byte` from a raw peer and reads its echo.
async fn echo_of(peer: &mut (impl AsyncRead + AsyncWrite + Unpin), byte: &[u8]) -> String {
    write_all(peer, byte).await;
    read_exact(peer, byte.len()).await
}

/// With a limit of 1, a second peer is served only once the first one has gone.
pub(crate) async fn limit_holds_a_peer_back<W: World>(w: W) -> String {
    let trace = w.trace();
    let whos = ["server", "server.1", "server.2"];
    let (listener, port) = w.listen(&trace, "server", 1, || Box::new(Echo)).await;
    let mut a = w.raw_connect(port).await;
    assert_eq!(echo_of(&mut a, b"a").await, "a");
    // b waits in the backlog, in a task of its own so that the test goes on meanwhile.
    let b_connected = Arc::new(AtomicBool::new(false));
    let b = tokio::spawn({
        let (connecting, connected) = (w.raw_connect(port), b_connected.clone());
        async move {
            let mut b = connecting.await;
            connected.store(true, Ordering::SeqCst);
            let echo = echo_of(&mut b, b"b").await;
            (b, echo)
        }
    });
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(!b.is_finished(), "b was served while the limit was reached");
    assert_eq!(
        b_connected.load(Ordering::SeqCst),
        !w.differs(Difference::S1),
        "whether b's handshake completed while the listener was at its limit (S1)"
    );
    let at_limit = trace.render(&whos);
    drop(a);
    let (b, echo) = b.await.expect("peer b");
    assert_eq!(echo, "b");
    drop(b);
    trace.wait_for("server.2", "closed").await;
    stop(listener).await;
    format!(
        "== a served, b waiting ==\n{at_limit}== a closed, then b served and closed ==\n{}",
        trace.render(&whos)
    )
}
