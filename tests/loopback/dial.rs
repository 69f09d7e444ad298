//! Notifiers that dial (`conn.dial`): a client that dials again from inside `connect_failed`,
//! and a proxy whose accepted connection dials onward and forwards both ways (the built-in
//! [`Proxy`]). The dialled
//! connections are recorded like the others, named after the one that dialled them
//! (`client~1`, `proxy.1~1`), and judged by the contract checker.

use crate::support::{finished, stop, Echo, Greeter};
use crate::world::World;
use tcpnotify::{ConnectFailure, TcpConnection, TcpConnectionNotify};
use tcpnotify_sim::notifiers::Proxy;

conformance! {
    a_client_dials_again_from_connect_failed: redial_after_refused;
    a_proxy_dials_onward_from_accepted_and_forwards_both_ways: proxy_forwards;
}

/// Refused at its first address, it dials the live one with a [`Greeter`].
struct Redialler {
    host: String,
    live: u16,
}

impl TcpConnectionNotify for Redialler {
    fn connect_failed(&mut self, conn: &mut TcpConnection, _reason: ConnectFailure) {
        conn.dial(Greeter, &self.host, &self.live.to_string());
    }
}

/// A client dials a dead port; its `connect_failed` dials the echo server.
async fn redial_after_refused<W: World>(w: W) -> String {
    let trace = w.trace();
    let (listener, port) = w.listen(&trace, "server", 0, || Box::new(Echo)).await;
    trace.redact(format!("{}:{port}", w.host()), "SERVER");
    let (_dead, dead) = w.dead_port();
    let redialler = Redialler {
        host: w.host().to_string(),
        live: port,
    };
    let conn = w.connect(&trace, "client", redialler, dead);
    finished(&conn).await;
    trace.wait_for("client~1", "closed").await;
    trace.wait_for("server.1", "closed").await;
    stop(listener).await;
    trace.render(&["client", "client~1", "server.1"])
}

/// A client greets an echo server through a proxy whose accepted connection dials onward.
async fn proxy_forwards<W: World>(w: W) -> String {
    let trace = w.trace();
    let (server, server_port) = w.listen(&trace, "server", 0, || Box::new(Echo)).await;
    trace.redact(format!("{}:{server_port}", w.host()), "SERVER");
    let host = w.host().to_string();
    let (proxy, proxy_port) = w
        .listen(&trace, "proxy", 0, move || {
            Box::new(Proxy::new(&host, server_port))
        })
        .await;
    let conn = w.connect(&trace, "client", Greeter, proxy_port);
    finished(&conn).await;
    for who in ["proxy.1", "proxy.1~1", "server.1"] {
        trace.wait_for(who, "closed").await;
    }
    stop(proxy).await;
    stop(server).await;
    trace.render(&["client", "proxy.1", "proxy.1~1", "server.1"])
}
