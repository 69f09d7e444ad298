//! The simulated network backend: tcpnotify's [`Network`] over turmoil ([`TurmoilNetwork`],
//! its streams [`TurmoilStream`]), and the network a run gives each host, turmoil through
//! the fault layer ([`SimNetwork`]). A name may resolve to several hosts, in order, so
//! happy-eyeballs connects behave as over a real network.
//!
//! Connects behave as TCP's do where turmoil's differ: an abandoned attempt that the server
//! already accepted is closed at once, so the server sees its peer go away (C2's short-lived
//! extra connection); the fault layer makes SYNs into partitions and to crashed hosts wait
//! and time out (`fault::network`). A host that has an address but no place in turmoil (a run
//! leaves out the hosts that run nothing) answers a SYN as it would in turmoil: not at all, or
//! with a refusal at turmoil's moment (`outside.rs`).

use super::outside::{Answer, OutsideHosts};
use super::panics::limit_reached;
use super::teardown::Teardown;
use crate::fault::{FaultLayer, FaultNetwork, Peek};
use rustc_hash::FxHashMap;
use std::collections::BTreeMap;
use std::future::Future;
use std::io::{self, IoSlice};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
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
    /// Every name that resolves to one known host, with that host's address: what nearly
    /// every connect looks up, found in one hash lookup rather than a search of both trees
    /// (a string comparison per key passed).
    single: Arc<FxHashMap<String, IpAddr>>,
    /// The hosts that have an address but no place in turmoil (a run leaves out hosts that
    /// run nothing), and what answers a SYN sent to one.
    outside: Arc<OutsideHosts>,
    /// Every task the stack starts here, in one order for the whole run, so that a crash
    /// ends a host's tasks in the order they started ([`Teardown`]).
    teardown: Arc<Teardown>,
}

impl TurmoilNetwork {
    /// The network of host `host`; `names` maps a name to the hosts it resolves to, in order,
    /// and `addresses` every host to its address in the simulation.
    pub fn new(
        host: &str,
        names: Arc<BTreeMap<String, Vec<String>>>,
        addresses: Arc<BTreeMap<String, IpAddr>>,
    ) -> Self {
        let own = addresses
            .iter()
            .filter(|(host, _)| !names.contains_key(*host))
            .map(|(host, ip)| (host.clone(), *ip));
        let named = names
            .iter()
            .filter_map(|(name, hosts)| match hosts.as_slice() {
                [only] => Some((name.clone(), *addresses.get(only)?)),
                _ => None,
            });
        TurmoilNetwork {
            host: host.into(),
            single: Arc::new(own.chain(named).collect()),
            names,
            addresses,
            outside: Arc::default(),
            teardown: Arc::default(),
        }
    }

    /// The same network, where the hosts `outside` names have addresses but are not in
    /// turmoil: a connect to a silent one waits, as for a host whose software ended, until
    /// its caller gives up (the fault layer's connect timeout); one to a refusing one is
    /// refused when turmoil would have refused it. (turmoil itself refuses at once a connect to
    /// an address it has no link to.)
    pub(crate) fn with_outside_hosts(self, outside: Arc<OutsideHosts>) -> Self {
        TurmoilNetwork { outside, ..self }
    }

    /// The same network as host `host` sees it: its tables shared, not built again (a run
    /// makes one network and gives each host its own view of it).
    pub fn on_host(&self, host: &str) -> Self {
        TurmoilNetwork {
            host: host.into(),
            ..self.clone()
        }
    }

    /// What starts the stack's tasks on every host of this network, and ends those a crash
    /// drops in the order they started.
    pub fn teardown(&self) -> &Arc<Teardown> {
        &self.teardown
    }

    /// This network through the fault layer `layer`: what a run gives each host.
    pub fn with_faults(self, layer: Arc<FaultLayer>) -> SimNetwork {
        let host = self.host.clone();
        FaultNetwork::new(self, &host, layer)
    }

    /// The addresses `name` resolves to, in order, each with `port`.
    fn resolve_addresses(&self, name: &str, port: u16) -> io::Result<Vec<SocketAddr>> {
        match self.names.get(name) {
            Some(hosts) => hosts.iter().map(|h| self.address(h, port)).collect(),
            None => Ok(vec![self.address(name, port)?]),
        }
    }

    /// Host `host`'s address with `port`.
    fn address(&self, host: &str, port: u16) -> io::Result<SocketAddr> {
        let ip = self.addresses.get(host).copied().ok_or_else(|| {
            io::Error::new(io::ErrorKind::NotFound, format!("unknown host {host:?}"))
        })?;
        Ok(SocketAddr::new(ip, port))
    }
}

pin_project_lite::pin_project! {
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
    ///
    /// The connect is held inline: a connect allocates only the box its caller keeps it in.
    struct Handshake<F>
    where
        F: Future<Output = io::Result<turmoil::net::TcpStream>>,
    {
        // `None` once the connect finished (a finished future must not be polled again).
        // (Plain comments: the macro takes no attributes on fields but `#[pin]`.)
        #[pin]
        connect: Option<F>,
        // Whether the SYN went out (on the first poll).
        sent: bool,
        // How a host left out of turmoil at the address answers
        // (`TurmoilNetwork::with_outside_hosts`): turmoil's refusal for want of a link is then
        // the SYN's loss, and the handshake waits for ever, or the SYN's journey to a host
        // that refuses it.
        beyond: Beyond,
    }

    impl<F> PinnedDrop for Handshake<F>
    where
        F: Future<Output = io::Result<turmoil::net::TcpStream>>,
    {
        fn drop(this: Pin<&mut Self>) {
            let this = this.project();
            if !*this.sent {
                // Never polled: no SYN went out, and polling now would send one.
                return;
            }
            let Some(connect) = this.connect.as_pin_mut() else {
                return;
            };
            // One poll only reads the SYN-ACK oneshot: ready if the listener already accepted.
            // Unconstrained: the oneshot spends tokio's cooperative budget, and a task dropping
            // many attempts at once (a name of more than 128 addresses) would spend it on the
            // first ones and find the rest pending, leaving their accepted peers open for ever.
            let mut unconstrained = std::pin::pin!(tokio::task::unconstrained(connect));
            let polled = unconstrained
                .as_mut()
                .poll(&mut Context::from_waker(Waker::noop()));
            if let Poll::Ready(Ok(stream)) = polled {
                // Dropping a turmoil stream sends its FIN (or an RST with unread data).
                drop(stream);
            }
        }
    }
}

/// Who answers a [`Handshake`]'s SYN.
enum Beyond {
    /// turmoil: the address is a host it runs.
    Turmoil,
    /// No one: a host left out of turmoil that no client dials.
    Silent,
    /// A host left out of turmoil that refuses, through `hosts`, the SYN from `from` to
    /// `to`; `refused` from when the SYN left until the refusal came.
    Refusing {
        hosts: Arc<OutsideHosts>,
        from: IpAddr,
        to: SocketAddr,
        refused: Option<tokio::sync::oneshot::Receiver<()>>,
    },
}

/// turmoil's connect of `address`, as a [`Handshake`] whose SYN `beyond` answers.
fn handshake(
    address: SocketAddr,
    beyond: Beyond,
) -> Handshake<impl Future<Output = io::Result<turmoil::net::TcpStream>> + Send> {
    Handshake {
        connect: Some(turmoil::net::TcpStream::connect(address)),
        sent: false,
        beyond,
    }
}

/// Waits for the refusal of a SYN to `to` that left (`refused`), as turmoil's connect waits
/// for its SYN's answer (a tokio one-shot, which spends the task's cooperative budget as
/// turmoil's does), and fails with turmoil's error when it comes.
fn poll_refusal(
    refused: &mut Option<tokio::sync::oneshot::Receiver<()>>,
    to: SocketAddr,
    cx: &mut Context<'_>,
) -> Poll<io::Result<TurmoilStream>> {
    let Some(answer) = refused.as_mut() else {
        return Poll::Ready(Err(io::Error::other("handshake polled after it finished")));
    };
    // Only ever an error: the refusal drops the sender.
    let _ = std::task::ready!(Pin::new(answer).poll(cx));
    *refused = None;
    Poll::Ready(Err(io::Error::new(
        io::ErrorKind::ConnectionRefused,
        to.to_string(),
    )))
}

impl<F> Future for Handshake<F>
where
    F: Future<Output = io::Result<turmoil::net::TcpStream>>,
{
    type Output = io::Result<TurmoilStream>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut this = self.project();
        if !*this.sent && limit_reached() {
            // The run is over: it ends after this step with the limit turmoil reached, and a
            // connect now would search all of a full host's ports again (0.1 s) to panic.
            return Poll::Pending;
        }
        let Some(connect) = this.connect.as_mut().as_pin_mut() else {
            return match this.beyond {
                Beyond::Silent => Poll::Pending,
                Beyond::Refusing { to, refused, .. } => poll_refusal(refused, *to, cx),
                _ => Poll::Ready(Err(io::Error::other("handshake polled after it finished"))),
            };
        };
        let result = connect.poll(cx);
        *this.sent = true;
        if result.is_ready() {
            this.connect.set(None);
        }
        // To a host left out of turmoil, turmoil took an ephemeral port for the SYN and made
        // its socket, as for any connect, then found no link to send it on.
        match (result, this.beyond) {
            // The SYN is lost, as to a host whose software ended.
            (Poll::Ready(Err(_)), Beyond::Silent) => Poll::Pending,
            // The SYN travels to a host with nothing bound, which refuses it.
            (
                Poll::Ready(Err(_)),
                Beyond::Refusing {
                    hosts,
                    from,
                    to,
                    refused,
                },
            ) => {
                *refused = Some(hosts.send_syn(*from, to.ip()));
                poll_refusal(refused, *to, cx)
            }
            (result, _) => result.map_ok(TurmoilStream::new),
        }
    }
}

impl Network for TurmoilNetwork {
    type Stream = TurmoilStream;
    type Listener = TurmoilListener;

    fn resolve(
        &self,
        host: &str,
        service: &str,
    ) -> BoxFuture<'static, io::Result<Vec<SocketAddr>>> {
        let result = parse_port(service).and_then(|port| self.resolve_addresses(host, port));
        Box::pin(async move { result })
    }

    /// Every name but one of several hosts: nothing here waits, and nearly every client
    /// dials a host's own name (or a name of one host), so its connect needs no boxed
    /// future and no list for the one address. The same address, or the same error, as
    /// [`resolve`](Self::resolve) gives.
    fn resolve_at_once(&self, host: &str, service: &str) -> Option<io::Result<SocketAddr>> {
        if let Some(ip) = self.single.get(host) {
            return Some(parse_port(service).map(|port| SocketAddr::new(*ip, port)));
        }
        let only = match self.names.get(host).map(Vec::as_slice) {
            Some([only]) => only,
            Some(_) => return None,
            None => host,
        };
        Some(parse_port(service).and_then(|port| self.address(only, port)))
    }

    fn connect(&self, address: SocketAddr) -> BoxFuture<'static, io::Result<Self::Stream>> {
        let beyond = match self.outside.answer(address.ip()) {
            None => Beyond::Turmoil,
            Some(Answer::Refusal) => match self.addresses.get(&*self.host) {
                Some(from) => Beyond::Refusing {
                    hosts: self.outside.clone(),
                    from: *from,
                    to: address,
                    refused: None,
                },
                // Not a host of the run: no link could carry its SYN.
                None => Beyond::Silent,
            },
            Some(Answer::Silent) => Beyond::Silent,
        };
        Box::pin(handshake(address, beyond))
    }

    fn listen(&self, _host: &str, service: &str) -> BoxFuture<'static, io::Result<Self::Listener>> {
        let port = parse_port(service);
        Box::pin(async move {
            let socket = turmoil::net::TcpListener::bind(SocketAddr::new(
                IpAddr::V4(Ipv4Addr::UNSPECIFIED),
                port?,
            ))
            .await?;
            Ok(TurmoilListener::new(socket))
        })
    }

    fn accept<'a>(
        &self,
        listener: &'a Self::Listener,
    ) -> BoxFuture<'a, io::Result<(Self::Stream, SocketAddr)>> {
        Box::pin(std::future::poll_fn(move |cx| listener.poll_accept(cx)))
    }

    fn poll_accept(
        &self,
        listener: &Self::Listener,
        cx: &mut Context<'_>,
    ) -> Option<Poll<io::Result<(Self::Stream, SocketAddr)>>> {
        Some(listener.poll_accept(cx))
    }

    fn spawn(&self, task: impl Future<Output = ()> + Send + 'static) {
        self.teardown.spawn(task);
    }

    fn listener_address(&self, listener: &Self::Listener) -> io::Result<SocketAddr> {
        let bound = listener.socket.local_addr()?;
        // Report the host's own address rather than 0.0.0.0.
        Ok(match self.addresses.get(&*self.host) {
            Some(ip) => SocketAddr::new(*ip, bound.port()),
            None => bound,
        })
    }
}

/// What turmoil's accept gives: a stream and its peer's address, or why accepting failed.
type Accepted = io::Result<(turmoil::net::TcpStream, SocketAddr)>;

/// A turmoil listener as [`TurmoilNetwork`] listens: what its connections are accepted from.
///
/// turmoil accepts only through a future, and a boxed future per accept was an allocation per
/// connection. A listener instead runs its accepts one after another in one future made with
/// it (`accept_each`), polled by [`Network::poll_accept`] (and by the future
/// [`Network::accept`] gives): each accept starts only when one is asked for, as a fresh
/// accept would. One task accepts at a time (a listener's own): two polling at once would
/// share the one accept, and only the last to poll would be woken.
pub struct TurmoilListener {
    /// The bound socket, for its address; shared with `accepting`.
    socket: Arc<turmoil::net::TcpListener>,
    /// The future that accepts, one accept per ask (see [`accept_each`]).
    accepting: Mutex<BoxFuture<'static, ()>>,
    /// Where `accepting` leaves an accept's outcome for the poll that asked.
    accepted: Arc<Mutex<Option<Accepted>>>,
}

impl TurmoilListener {
    fn new(socket: turmoil::net::TcpListener) -> Self {
        let socket = Arc::new(socket);
        let accepted = Arc::new(Mutex::new(None));
        TurmoilListener {
            accepting: Mutex::new(Box::pin(accept_each(socket.clone(), accepted.clone()))),
            socket,
            accepted,
        }
    }

    /// Accepts one connection if one waits, or registers `cx` to be woken when one may.
    fn poll_accept(&self, cx: &mut Context<'_>) -> Poll<io::Result<(TurmoilStream, SocketAddr)>> {
        // The accepting future never ends: it leaves each outcome in `accepted` and waits
        // for the next poll.
        let _ = lock(&self.accepting).as_mut().poll(cx);
        match lock(&self.accepted).take() {
            Some(accepted) => Poll::Ready(accepted.map(|(s, peer)| (TurmoilStream::new(s), peer))),
            None => Poll::Pending,
        }
    }
}

/// Accepts on `socket` for ever, one accept per poll that finds the last one taken: each
/// outcome goes to `accepted`, and the next accept starts at the next poll, so a connection is
/// taken from turmoil's backlog only when asked for.
async fn accept_each(
    socket: Arc<turmoil::net::TcpListener>,
    accepted: Arc<Mutex<Option<Accepted>>>,
) {
    loop {
        let outcome = socket.accept().await;
        *lock(&accepted) = Some(outcome);
        // Pending once, with no wake: the poll that took the outcome returns it, and the next
        // poll, the next ask, resumes here.
        let mut asked = false;
        std::future::poll_fn(|_| {
            if std::mem::replace(&mut asked, true) {
                Poll::Ready(())
            } else {
                Poll::Pending
            }
        })
        .await;
    }
}

/// Locks `mutex`, whatever a panic while it was held left in it. `accepted` holds a value each
/// use overwrites or takes whole. `accepting` would panic again when polled after a panic
/// inside turmoil's accept, but such a panic ends the listener's task, the only one that
/// polls it.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    /// Listens on port 7000 and drops an accept that was polled once, with no peer yet, after
    /// `wait` (if any) more.
    async fn listener_after_a_dropped_accept(
        net: &TurmoilNetwork,
        wait: Option<Duration>,
    ) -> io::Result<TurmoilListener> {
        let listener = net.listen("", "7000").await?;
        let mut dropped = net.accept(&listener);
        let polled = std::future::poll_fn(|cx| Poll::Ready(dropped.as_mut().poll(cx))).await;
        assert!(polled.is_pending(), "no peer yet at the first poll");
        if let Some(wait) = wait {
            tokio::time::sleep(wait).await;
        }
        drop(dropped);
        Ok(listener)
    }

    /// The listener's accepts are cancel-safe (as `Network::accept` requires) although they
    /// share one future: an accept dropped before a peer came takes nothing from the backlog,
    /// and the next accepts, by future or by poll, get each peer in turn.
    #[test]
    fn a_dropped_accept_loses_no_peer_and_the_next_accepts_get_each_in_turn() -> turmoil::Result {
        let mut sim = turmoil::Builder::new().build();
        sim.host("server", || async {
            let net = TurmoilNetwork::new("server", Arc::default(), Arc::default());
            let listener = listener_after_a_dropped_accept(&net, None).await?;
            let (mut first, _) = net.accept(&listener).await?;
            first.write_all(b"1").await?;
            let polled = std::future::poll_fn(|cx| {
                net.poll_accept(&listener, cx)
                    .expect("turmoil's listener polls")
            });
            let (mut second, _) = polled.await?;
            second.write_all(b"2").await?;
            // Both peers read before the streams go.
            tokio::time::sleep(Duration::from_secs(1)).await;
            Ok(())
        });
        sim.client("client", async {
            for expected in [b"1", b"2"] {
                let mut stream = turmoil::net::TcpStream::connect("server:7000").await?;
                let mut got = [0u8; 1];
                stream.read_exact(&mut got).await?;
                assert_eq!(&got, expected);
            }
            Ok(())
        });
        sim.run()
    }

    /// A turmoil stream hands each call to turmoil's: a vectored write's bytes arrive (the
    /// core writes several buffers at once through it), a peek shows the bytes the next read
    /// takes, and `nodelay` reads back what was set, as on a real socket, although turmoil
    /// keeps no such setting.
    #[test]
    fn a_stream_passes_vectored_writes_peeks_and_nodelay_through() -> turmoil::Result {
        let mut sim = turmoil::Builder::new().build();
        sim.host("server", || async {
            let net = TurmoilNetwork::new("server", Arc::default(), Arc::default());
            let listener = net.listen("", "7000").await?;
            let (mut stream, _) = net.accept(&listener).await?;
            let mut peeked = [0u8; 4];
            let n = std::future::poll_fn(|cx| stream.poll_peek(cx, &mut ReadBuf::new(&mut peeked)))
                .await?;
            assert!(n > 0, "a peek with bytes waiting shows them");
            let mut read = vec![0u8; n];
            stream.read_exact(&mut read).await?;
            assert_eq!(read, peeked[..n], "the read takes what the peek showed");
            Ok(())
        });
        sim.client("client", async {
            let net = TurmoilNetwork::new("client", Arc::default(), Arc::default());
            let server = SocketAddr::new(turmoil::lookup("server"), 7000);
            let mut stream = net.connect(server).await?;
            assert!(
                !stream.nodelay()?,
                "Nagle is on at first, as on a real socket"
            );
            stream.set_nodelay(true)?;
            assert!(stream.nodelay()?);
            let parts = [IoSlice::new(b"ab"), IoSlice::new(b"cd")];
            let written = stream.write_vectored(&parts).await?;
            assert!(written > 0, "a vectored write takes bytes");
            stream.flush().await?;
            tokio::time::sleep(Duration::from_secs(1)).await;
            Ok(())
        });
        sim.run()
    }

    /// An accept dropped after its peer's SYN arrived (the accept was woken but not polled
    /// again) does not lose that peer: the next accept gets it.
    #[test]
    fn an_accept_dropped_after_its_peer_arrived_leaves_that_peer_to_the_next() -> turmoil::Result {
        let mut sim = turmoil::Builder::new().build();
        sim.host("server", || async {
            let net = TurmoilNetwork::new("server", Arc::default(), Arc::default());
            // The client connects meanwhile (turmoil's latency is at most 100 ms here): its
            // SYN wakes the parked accept.
            let wait = Duration::from_millis(500);
            let listener = listener_after_a_dropped_accept(&net, Some(wait)).await?;
            let (mut stream, _) = net.accept(&listener).await?;
            stream.write_all(b"1").await?;
            tokio::time::sleep(Duration::from_secs(1)).await;
            Ok(())
        });
        sim.client("client", async {
            let mut stream = turmoil::net::TcpStream::connect("server:7000").await?;
            let mut got = [0u8; 1];
            stream.read_exact(&mut got).await?;
            assert_eq!(&got, b"1");
            Ok(())
        });
        sim.run()
    }
}
