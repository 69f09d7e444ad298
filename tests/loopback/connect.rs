//! The client side of connecting: refusal, a host with a dead and a live address, `proxy_via`,
//! and socket options once connected.

use crate::support::{finished, read_all, stop, Echo, Trace};
use crate::world::World;
use tcpnotify::record::Recorded;
use tcpnotify::{ConnectFailure, TcpConnection, TcpConnectionNotify};

/// Closes as soon as it is connected; no other behaviour.
struct CloseOnConnect;

impl TcpConnectionNotify for CloseOnConnect {
    fn connected(&mut self, conn: &mut TcpConnection) {
        conn.close();
    }
    fn connect_failed(&mut self, _conn: &mut TcpConnection, _reason: ConnectFailure) {}
}

conformance! {
    c4_c5_connect_failed_refused_when_nothing_listens: refused;
    c2_c3_a_dead_address_counts_down_then_the_live_one_connects: dead_then_live;
    c1_proxy_via_redirects_the_connection: proxied;
    set_nodelay_reads_back_through_nodelay: nodelay_read_back;
}

/// A client dials a port where nothing listens; a write after it failed is dropped.
async fn refused<W: World>(w: W) -> String {
    let trace = w.trace();
    let (_dead, port) = w.dead_port();
    let conn = w.connect(&trace, "client", CloseOnConnect, port);
    finished(&conn).await;
    conn.write("too late");
    trace.note(
        "client",
        format!("writes dropped: {}", conn.stats().writes_dropped),
    );
    trace.render(&["client"])
}

/// A client dials a name whose first address is dead and whose second is a raw listener.
async fn dead_then_live<W: World>(w: W) -> String {
    let trace = w.trace();
    let (raw, port) = w.raw_listener(false).await;
    let (name, _dead) = w.dead_then_live(port);
    trace.redact_port(port);
    let recorded = Recorded::new(CloseOnConnect, "client", trace.sink());
    let conn = w.dial(recorded, name, port);
    let mut peer = w.accept(&raw).await;
    let data = read_all(&mut peer).await;
    trace.note(
        "peer",
        format!("read {} bytes, then end of stream", data.len()),
    );
    drop(peer);
    finished(&conn).await;
    trace.render(&["client", "peer"])
}

/// Dials through a "proxy": asked for `gateway.invalid`, it connects to `host` instead.
struct Proxied {
    host: String,
    port: u16,
}

impl TcpConnectionNotify for Proxied {
    fn proxy_via(&mut self, _host: &str, _service: &str) -> (String, String) {
        (self.host.clone(), self.port.to_string())
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

/// A client whose `proxy_via` redirects it from a name that does not resolve to an echo server.
async fn proxied<W: World>(w: W) -> String {
    let trace = w.trace();
    let (listener, port) = w.listen(&trace, "server", 0, || Box::new(Echo)).await;
    let proxied = Proxied {
        host: w.host().to_string(),
        port,
    };
    let conn = w.dial(
        Recorded::new(proxied, "client", trace.sink()),
        "gateway.invalid",
        1,
    );
    finished(&conn).await;
    trace.wait_for("server.1", "closed").await;
    stop(listener).await;
    trace.render(&["client", "server.1"])
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

/// A client reads `TCP_NODELAY` around `set_nodelay` while connecting and once connected.
async fn nodelay_read_back<W: World>(w: W) -> String {
    let trace = w.trace();
    let (raw, port) = w.raw_listener(false).await;
    let notify = NoDelay {
        trace: trace.clone(),
        who: "client (inside callbacks)",
    };
    let conn = w.connect(&trace, "client", notify, port);
    let mut peer = w.accept(&raw).await;
    read_all(&mut peer).await;
    drop(peer);
    finished(&conn).await;
    trace.render(&["client", "client (inside callbacks)"])
}
