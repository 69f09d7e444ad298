//! How connections end and how a listener's limit holds peers back.

use crate::support::{
    accept, connect, finished, listen, raw_listener, read_exact, stop, within, write_all, Echo,
    Trace,
};
use std::time::Duration;
use tcpnotify::{ConnectFailure, TcpConnection, TcpConnectionNotify};
use tokio::io::AsyncReadExt;
use tokio::net::TcpStream;

/// Only listens.
struct Passive;

impl TcpConnectionNotify for Passive {
    fn connect_failed(&mut self, _conn: &mut TcpConnection, _reason: ConnectFailure) {}
}

#[tokio::test]
async fn l3_peer_close_closes_the_connection() {
    let trace = Trace::new();
    let (raw, port) = raw_listener(None);
    let conn = connect(&trace, "client", Passive, port);
    let mut peer = accept(&raw).await;
    write_all(&mut peer, b"bye").await;
    drop(peer);
    finished(&conn).await;
    conn.write("after closed");
    let dropped = conn.stats().writes_dropped;
    trace.note("client", format!("writes dropped after closed: {dropped}"));
    insta::assert_snapshot!(trace.render(&["client"]));
}

/// A raw peer of the listener: connects and writes one byte.
async fn peer(port: u16, byte: &[u8]) -> TcpStream {
    let mut stream = within("peer connect", TcpStream::connect(("127.0.0.1", port)))
        .await
        .expect("connect");
    write_all(&mut stream, byte).await;
    stream
}

#[tokio::test]
async fn n3_listener_limit_holds_a_peer_back_until_a_slot_frees() {
    let trace = Trace::new();
    let whos = ["server", "server.1", "server.2"];
    let (listener, port) = listen(&trace, "server", 1, || Box::new(Echo)).await;
    let mut a = peer(port, b"a").await;
    assert_eq!(read_exact(&mut a, 1).await, "a");
    // The kernel completes b's handshake from the backlog; the listener does not accept it.
    let mut b = peer(port, b"b").await;
    let mut byte = [0; 1];
    let early = tokio::time::timeout(Duration::from_millis(100), b.read(&mut byte)).await;
    assert!(early.is_err(), "b was served while the limit was reached");
    let at_limit = trace.render(&whos);
    drop(a);
    assert_eq!(read_exact(&mut b, 1).await, "b");
    drop(b);
    trace.wait_for("server.2", "closed").await;
    stop(listener).await;
    insta::assert_snapshot!(format!(
        "== a served, b waiting ==\n{at_limit}== a closed, then b served and closed ==\n{}",
        trace.render(&whos)
    ));
}
