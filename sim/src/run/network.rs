//! The simulated network backend: tcpnotify's [`Network`] over turmoil, through the fault
//! layer. A name may resolve to several hosts, in order, so happy-eyeballs connects behave as
//! over a real network.
//!
//! Connects behave as TCP's do where turmoil's differ: a SYN into a partition or to a crashed
//! host is lost and retransmitted until the connect timeout (turmoil would refuse at once or
//! hold it until the restart), and an abandoned attempt that the server already accepted is
//! closed at once, so the server sees its peer go away (C2's short-lived extra connection).

use crate::fault::{FaultLayer, FaultyStream};
use std::collections::BTreeMap;
use std::future::Future;
use std::io;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};
use tcpnotify::{parse_port, BoxFuture, Network};

/// The network as one simulated host sees it.
#[derive(Clone)]
pub struct SimNetwork {
    host: String,
    names: Arc<BTreeMap<String, Vec<String>>>,
    layer: Arc<FaultLayer>,
}

impl SimNetwork {
    /// The network of host `host`; `names` maps a name to the hosts it resolves to, in order.
    pub fn new(
        host: &str,
        names: Arc<BTreeMap<String, Vec<String>>>,
        layer: Arc<FaultLayer>,
    ) -> Self {
        SimNetwork {
            host: host.to_string(),
            names,
            layer,
        }
    }

    fn resolve_ips(&self, name: &str) -> io::Result<Vec<IpAddr>> {
        let hosts: Vec<&str> = match self.names.get(name) {
            Some(hosts) => hosts.iter().map(String::as_str).collect(),
            None => vec![name],
        };
        hosts
            .into_iter()
            .map(|h| {
                self.layer.ip_of(h).ok_or_else(|| {
                    io::Error::new(io::ErrorKind::NotFound, format!("unknown host {h:?}"))
                })
            })
            .collect()
    }
}

/// Dials `address` (host `to`) from host `from` until the handshake ends, with no timeout.
///
/// SYNs into a partition or to a host that is down are lost, and TCP retransmits them: so the
/// SYN goes out only once the path is open and the host is up. A SYN that a crash or restart
/// lost after it left (it was in the host's backlog, or turmoil delivered it to the restarted
/// host before its listener was back) comes back from turmoil as a refusal; it is sent again.
async fn dial(
    layer: &FaultLayer,
    from: &str,
    to: &str,
    address: SocketAddr,
) -> io::Result<turmoil::net::TcpStream> {
    loop {
        layer.wait_connectable(from, to).await;
        let generation = layer.generation(to);
        match Handshake::new(address).await {
            Err(e)
                if e.kind() == io::ErrorKind::ConnectionRefused
                    && layer.generation(to) != generation => {}
            result => return result,
        }
    }
}

/// turmoil's connect of one address, which ends like a real socket's when it is abandoned.
///
/// turmoil's listener completes the handshake when it accepts (its SYN-ACK is a oneshot), but
/// the client's stream exists only once the connect future is polled again. A future dropped
/// in between (a losing happy-eyeballs attempt, C2, or a timed-out one) would leave the
/// server's accepted connection with no peer to close it: it would never end. A kernel
/// finishes the handshake on its own and closes an abandoned socket, so the server sees its
/// peer go away: dropping a `Handshake` does the same, by taking the stream if the accept
/// already happened and closing it at once. If it has not happened, the SYN is abandoned:
/// turmoil's listener skips it, as a kernel drops a handshake its client reset.
struct Handshake {
    /// `None` once the connect finished (a finished future must not be polled again).
    connect: Option<BoxFuture<'static, io::Result<turmoil::net::TcpStream>>>,
    /// Whether the SYN went out (on the first poll).
    sent: bool,
}

impl Handshake {
    fn new(address: SocketAddr) -> Self {
        Handshake {
            connect: Some(Box::pin(turmoil::net::TcpStream::connect(address))),
            sent: false,
        }
    }
}

impl Future for Handshake {
    type Output = io::Result<turmoil::net::TcpStream>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let Some(connect) = self.connect.as_mut() else {
            return Poll::Ready(Err(io::Error::other("handshake polled after it finished")));
        };
        let result = connect.as_mut().poll(cx);
        self.sent = true;
        if result.is_ready() {
            self.connect = None;
        }
        result
    }
}

impl Drop for Handshake {
    fn drop(&mut self) {
        let Some(mut connect) = self.connect.take() else {
            return;
        };
        if !self.sent {
            // Never polled: no SYN went out, and polling now would send one.
            return;
        }
        // One poll only reads the SYN-ACK oneshot: ready if the listener already accepted.
        if let Poll::Ready(Ok(stream)) = connect
            .as_mut()
            .poll(&mut Context::from_waker(Waker::noop()))
        {
            // Dropping a turmoil stream sends its FIN (or an RST with unread data).
            drop(stream);
        }
    }
}

impl Network for SimNetwork {
    type Stream = FaultyStream;
    type Listener = turmoil::net::TcpListener;

    fn resolve(
        &self,
        host: &str,
        service: &str,
    ) -> BoxFuture<'static, io::Result<Vec<SocketAddr>>> {
        let result = parse_port(service).and_then(|port| {
            Ok(self
                .resolve_ips(host)?
                .into_iter()
                .map(|ip| SocketAddr::new(ip, port))
                .collect())
        });
        Box::pin(async move { result })
    }

    fn connect(&self, address: SocketAddr) -> BoxFuture<'static, io::Result<Self::Stream>> {
        let layer = self.layer.clone();
        let from = self.host.clone();
        Box::pin(async move {
            let to = layer
                .host_of(address.ip())
                .map(str::to_string)
                .ok_or_else(|| {
                    io::Error::new(
                        io::ErrorKind::ConnectionRefused,
                        format!("no host at {address}"),
                    )
                })?;
            // The timeout covers the whole handshake, whatever holds it: a partition, a host
            // that is down, a listener at its limit that does not accept (a full backlog).
            let stream =
                tokio::time::timeout(layer.connect_timeout(), dial(&layer, &from, &to, address))
                    .await
                    .map_err(|_| {
                        io::Error::new(
                            io::ErrorKind::TimedOut,
                            format!("connect to {address} timed out"),
                        )
                    })??;
            FaultyStream::new(stream, layer)
        })
    }

    fn listen(&self, _host: &str, service: &str) -> BoxFuture<'static, io::Result<Self::Listener>> {
        let port = parse_port(service);
        Box::pin(async move {
            turmoil::net::TcpListener::bind(SocketAddr::new(
                IpAddr::V4(Ipv4Addr::UNSPECIFIED),
                port?,
            ))
            .await
        })
    }

    fn accept<'a>(
        &self,
        listener: &'a Self::Listener,
    ) -> BoxFuture<'a, io::Result<(Self::Stream, SocketAddr)>> {
        let layer = self.layer.clone();
        Box::pin(async move {
            let (stream, peer) = listener.accept().await?;
            Ok((FaultyStream::new(stream, layer)?, peer))
        })
    }

    fn listener_address(&self, listener: &Self::Listener) -> io::Result<SocketAddr> {
        let bound = listener.local_addr()?;
        // Report the host's own address rather than 0.0.0.0.
        Ok(match self.layer.ip_of(&self.host) {
            Some(ip) => SocketAddr::new(ip, bound.port()),
            None => bound,
        })
    }
}
