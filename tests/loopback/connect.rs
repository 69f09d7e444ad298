//! The client side of connecting: refusal, a host with a dead and a live address, `proxy_via`,
//! and socket options once connected.

use crate::support::{
    accept, connect, dead_socket, finished, listen, raw_listener, read_all, stop, Echo, Trace,
};
use std::net::IpAddr;
use tcpnotify::record::Recorded;
use tcpnotify::{ConnectFailure, TcpConnection, TcpConnectionNotify, TokioNetwork};

/// Closes as soon as it is connected; no other behaviour.
struct CloseOnConnect;

impl TcpConnectionNotify for CloseOnConnect {
    fn connected(&mut self, conn: &mut TcpConnection) {
        conn.close();
    }
    fn connect_failed(&mut self, _conn: &mut TcpConnection, _reason: ConnectFailure) {}
}

#[tokio::test]
async fn c4_c5_connect_failed_refused_when_nothing_listens() {
    let trace = Trace::new();
    let (_bound, port) = dead_socket([127, 0, 0, 1], 0);
    let conn = connect(&trace, "client", CloseOnConnect, port);
    finished(&conn).await;
    conn.write("too late");
    trace.note(
        "client",
        format!("writes dropped: {}", conn.stats().writes_dropped),
    );
    insta::assert_snapshot!(trace.render(&["client"]));
}

#[tokio::test]
async fn c2_c3_a_dead_address_counts_down_then_the_live_one_connects() {
    let trace = Trace::new();
    let (raw, port) = raw_listener(None);
    // Nothing can listen on 127.0.0.2 at this port while this socket holds it.
    let (_dead, _) = dead_socket([127, 0, 0, 2], port);
    trace.redact_port(port);
    let dead: IpAddr = [127, 0, 0, 2].into();
    let live: IpAddr = [127, 0, 0, 1].into();
    let net = TokioNetwork::new().with_host("pair.test", [dead, live]);
    let conn = TcpConnection::builder().network(net).connect(
        Recorded::new(CloseOnConnect, "client", trace.sink()),
        "pair.test",
        &port.to_string(),
    );
    let mut peer = accept(&raw).await;
    let data = read_all(&mut peer).await;
    trace.note(
        "peer",
        format!("read {} bytes, then end of stream", data.len()),
    );
    drop(peer);
    finished(&conn).await;
    insta::assert_snapshot!(trace.render(&["client", "peer"]));
}

/// Dials through a "proxy": asked for `gateway.invalid`, it connects to loopback instead.
struct Proxied {
    port: u16,
}

impl TcpConnectionNotify for Proxied {
    fn proxy_via(&mut self, _host: &str, _service: &str) -> (String, String) {
        ("127.0.0.1".to_string(), self.port.to_string())
    }
    fn connected(&mut self, conn: &mut TcpConnection) {
        conn.write("via the proxy");
    }
    fn received(&mut self, conn: &mut TcpConnection, _data: Vec<u8>, _times: usize) -> bool {
        conn.close();
        true
    }
    fn connect_failed(&mut self, _conn: &mut TcpConnection, _reason: ConnectFailure) {}
}

#[tokio::test]
async fn c1_proxy_via_redirects_the_connection() {
    let trace = Trace::new();
    let (listener, port) = listen(&trace, "server", 0, || Box::new(Echo)).await;
    let conn = TcpConnection::connect(
        Recorded::new(Proxied { port }, "client", trace.sink()),
        "gateway.invalid",
        "1",
    );
    finished(&conn).await;
    trace.wait_for("server.1", "closed").await;
    stop(listener).await;
    insta::assert_snapshot!(trace.render(&["client", "server.1"]));
}

/// Reads `TCP_NODELAY` back around `set_nodelay`, while connecting and once connected.
struct NoDelay {
    trace: Trace,
    who: &'static str,
}

impl NoDelay {
    fn exercise(&self, conn: &mut TcpConnection, callback: &str) {
        let note = |text: String| self.trace.note(self.who, format!("in {callback}: {text}"));
        note(format!(
            "nodelay() = {:?}",
            conn.nodelay().map_err(|e| e.kind())
        ));
        for on in [true, false] {
            let set = conn.set_nodelay(on).map_err(|e| e.kind());
            note(format!("set_nodelay({on}) = {set:?}"));
            note(format!(
                "nodelay() = {:?}",
                conn.nodelay().map_err(|e| e.kind())
            ));
        }
    }
}

impl TcpConnectionNotify for NoDelay {
    fn connecting(&mut self, conn: &mut TcpConnection, _count: u32) {
        self.exercise(conn, "connecting");
    }
    fn connected(&mut self, conn: &mut TcpConnection) {
        self.exercise(conn, "connected");
        conn.close();
    }
    fn connect_failed(&mut self, _conn: &mut TcpConnection, _reason: ConnectFailure) {}
}

#[tokio::test]
async fn set_nodelay_reads_back_through_nodelay() {
    let trace = Trace::new();
    let (raw, port) = raw_listener(None);
    let notify = NoDelay {
        trace: trace.clone(),
        who: "client (inside callbacks)",
    };
    let conn = connect(&trace, "client", notify, port);
    let mut peer = accept(&raw).await;
    read_all(&mut peer).await;
    drop(peer);
    finished(&conn).await;
    insta::assert_snapshot!(trace.render(&["client", "client (inside callbacks)"]));
}
