//! The simulated network backend: tcpnotify's [`Network`] over turmoil ([`TurmoilNetwork`],
//! its streams [`TurmoilStream`]), and the network a run gives each host, turmoil through
//! the fault layer ([`SimNetwork`]). A name may resolve to several hosts, in order, so
//! happy-eyeballs connects behave as over a real network.
//!
//! Connects behave as TCP's do where turmoil's differ: an abandoned attempt that the server
//! already accepted is closed at once, so the server sees its peer go away (C2's short-lived
//! extra connection); the fault layer makes SYNs into partitions and to crashed hosts wait
//! and time out (`fault::network`).

use crate::fault::{FaultLayer, FaultNetwork, Peek};
use std::collections::BTreeMap;
use std::future::Future;
use std::io::{self, IoSlice};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll, Waker};
use tcpnotify::{parse_port, BoxFuture, Network, Stream};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// The network one simulated host sees: turmoil through the fault layer.
pub type SimNetwork = FaultNetwork<TurmoilNetwork>;

/// turmoil's network as one simulated host sees it, with no faults of ours.
#[derive(Clone)]
pub struct TurmoilNetwork {
    /// Shared: every connection clones its network.
    host: Arc<str>,
    names: Arc<BTreeMap<String, Vec<String>>>,
    addresses: Arc<BTreeMap<String, IpAddr>>,
}

impl TurmoilNetwork {
    /// The network of host `host`; `names` maps a name to the hosts it resolves to, in order,
    /// and `addresses` every host to its address in the simulation.
    pub fn new(
        host: &str,
        names: Arc<BTreeMap<String, Vec<String>>>,
        addresses: Arc<BTreeMap<String, IpAddr>>,
    ) -> Self {
        TurmoilNetwork {
            host: host.into(),
            names,
            addresses,
        }
    }

    /// This network through the fault layer `layer`: what a run gives each host.
    pub fn with_faults(self, layer: Arc<FaultLayer>) -> SimNetwork {
        let host = self.host.clone();
        FaultNetwork::new(self, &host, layer)
    }

    /// The addresses `name` resolves to, in order, each with `port`.
    fn resolve_addresses(&self, name: &str, port: u16) -> io::Result<Vec<SocketAddr>> {
        let address = |h: &str| {
            let ip = self.addresses.get(h).copied().ok_or_else(|| {
                io::Error::new(io::ErrorKind::NotFound, format!("unknown host {h:?}"))
            })?;
            Ok(SocketAddr::new(ip, port))
        };
        match self.names.get(name) {
            Some(hosts) => hosts.iter().map(|h| address(h)).collect(),
            None => Ok(vec![address(name)?]),
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
    type Output = io::Result<TurmoilStream>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let Some(connect) = self.connect.as_mut() else {
            return Poll::Ready(Err(io::Error::other("handshake polled after it finished")));
        };
        let result = connect.as_mut().poll(cx);
        self.sent = true;
        if result.is_ready() {
            self.connect = None;
        }
        result.map_ok(TurmoilStream::new)
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

impl Network for TurmoilNetwork {
    type Stream = TurmoilStream;
    type Listener = turmoil::net::TcpListener;

    fn resolve(
        &self,
        host: &str,
        service: &str,
    ) -> BoxFuture<'static, io::Result<Vec<SocketAddr>>> {
        let result = parse_port(service).and_then(|port| self.resolve_addresses(host, port));
        Box::pin(async move { result })
    }

    fn connect(&self, address: SocketAddr) -> BoxFuture<'static, io::Result<Self::Stream>> {
        Box::pin(Handshake::new(address))
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
        Box::pin(async move {
            let (stream, peer) = listener.accept().await?;
            Ok((TurmoilStream::new(stream), peer))
        })
    }

    fn listener_address(&self, listener: &Self::Listener) -> io::Result<SocketAddr> {
        let bound = listener.local_addr()?;
        // Report the host's own address rather than 0.0.0.0.
        Ok(match self.addresses.get(&*self.host) {
            Some(ip) => SocketAddr::new(*ip, bound.port()),
            None => bound,
        })
    }
}

/// A turmoil stream as a tcpnotify [`Stream`]: what [`TurmoilNetwork`] connects and accepts,
/// and what the fault layer wraps in a simulated run.
pub struct TurmoilStream {
    inner: turmoil::net::TcpStream,
    /// What `set_nodelay` last set: turmoil has no Nagle, but the setting reads back as on a
    /// real socket, which starts with Nagle on.
    nodelay: AtomicBool,
}

impl TurmoilStream {
    fn new(inner: turmoil::net::TcpStream) -> Self {
        TurmoilStream {
            inner,
            nodelay: AtomicBool::new(false),
        }
    }
}

impl AsyncRead for TurmoilStream {
    #[inline]
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl AsyncWrite for TurmoilStream {
    #[inline]
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

impl Peek for TurmoilStream {
    fn poll_peek(
        &mut self,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<usize>> {
        self.inner.poll_peek(cx, buf)
    }
}

impl Stream for TurmoilStream {
    fn set_nodelay(&self, nodelay: bool) -> io::Result<()> {
        self.inner.set_nodelay(nodelay)?;
        self.nodelay.store(nodelay, Ordering::Relaxed);
        Ok(())
    }
    fn nodelay(&self) -> io::Result<bool> {
        Ok(self.nodelay.load(Ordering::Relaxed))
    }
    /// turmoil has no keepalive: the setting is accepted and has no effect.
    fn set_keepalive(&self, _secs: u32) -> io::Result<()> {
        Ok(())
    }
    fn local_address(&self) -> io::Result<SocketAddr> {
        self.inner.local_addr()
    }
    fn remote_address(&self) -> io::Result<SocketAddr> {
        self.inner.peer_addr()
    }
}
