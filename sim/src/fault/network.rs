//! The fault layer's network: any backend's [`Network`] seen through the fault layer, whose
//! streams are [`FaultyStream`]s and whose connects behave as TCP's do under partitions and
//! crashes. It is itself a `Network`, so connections and listeners are built on it unchanged
//! (`TcpConnection::builder().network(..)`).
//!
//! A SYN into a partition or to a crashed host is lost and retransmitted until the plan's
//! connect timeout: the connect waits until the path is open and the host is up. A SYN that a
//! crash or restart lost after it left comes back as a refusal from a backend that already
//! forgot the host's backlog (turmoil); it is sent again. A SYN to a port that refuses for a
//! while (a `refuse` fault) is answered by a RST: the connect fails as refused a round trip
//! later.
//!
//! The timeout counts only the time the connect's SYNs are lost, added up over its attempts:
//! waiting for a partition to heal or a host to come up, and a SYN that a crash caught on its
//! way (from when it left until the host is back) or that went to a host that answers
//! nothing. A SYN waiting in a live listener's backlog, behind a listener at its limit, is not
//! lost, however long it waits, whether it was sent there or held through a crash and
//! delivered after the restart: a kernel completes that handshake from the backlog and the
//! peer's connect succeeds (difference S1 of `docs/contract.md`), so the simulated connect
//! waits for the accept and does not time out. Before the sixteenth session the timeout
//! covered the whole handshake, and a peer of a listener at its limit timed out where a real
//! one connects: a false red.
//!
//! ```
//! use std::collections::BTreeMap;
//! use tcpnotify::TokioNetwork;
//! use tcpnotify_sim::fault::{FaultLayer, FaultNetwork, PartialWrites, ReadChunks};
//! use tcpnotify_sim::{FaultPlan, Seed};
//!
//! // Real loopback sockets, with partial writes, re-chunked reads and a 64-byte send buffer.
//! let plan = FaultPlan {
//!     partial_writes: Some(PartialWrites { average: 3, variation: 2 }),
//!     read_chunks: Some(ReadChunks::new(5)),
//!     send_buffer: Some(64),
//!     ..FaultPlan::quiet(Seed(1))
//! };
//! let hosts = BTreeMap::from([("localhost".to_string(), [127, 0, 0, 1].into())]);
//! let net = FaultNetwork::new(TokioNetwork::new(), "localhost", FaultLayer::new(plan, hosts));
//! // TcpListener::builder().network(net.clone()) and TcpConnection::builder().network(net)
//! // then run over it.
//! # let _ = net;
//! ```

use super::layer::{FaultLayer, SynWatch};
use super::stream::{FaultyStream, Peek};
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;
use tcpnotify::{BoxFuture, Network};

/// The network `N` as host `host` sees it through the fault layer.
#[derive(Clone)]
pub struct FaultNetwork<N> {
    inner: N,
    host: Arc<str>,
    layer: Arc<FaultLayer>,
}

impl<N> FaultNetwork<N> {
    /// `inner` as host `host` (a host of `layer`, by which partitions name it) sees it through
    /// `layer`.
    pub fn new(inner: N, host: &str, layer: Arc<FaultLayer>) -> Self {
        FaultNetwork {
            inner,
            host: host.into(),
            layer,
        }
    }

    /// The network underneath.
    pub fn inner(&self) -> &N {
        &self.inner
    }

    /// The fault layer it goes through.
    pub fn layer(&self) -> &Arc<FaultLayer> {
        &self.layer
    }
}

/// Dials `address` (host `to`) from host `from` over `inner` until the handshake ends, or
/// until its SYNs were lost for the plan's connect timeout in all: the SYN goes out once the
/// path is open and the host is up, and again if a crash or restart of `to` lost it.
///
/// Only the time a SYN is lost counts: while the connect waits for the path to open or the
/// host to come up, once `to` crashed with the SYN on its way until it is back
/// ([`await_answer`]), and all of it if `to` answers nothing. A SYN that reached a live listener and waits in its backlog, held by a listener
/// at its limit, is not lost: a kernel completes that handshake from the backlog (difference
/// S1), so the connect waits for the accept however long it takes. So does a SYN whose path a
/// partition cuts while it waits there, as the kernel's handshake was then already done.
/// Over real sockets the backend's connect is the kernel's, with its own retransmissions and
/// timeout; the layer adds only the waits of its own faults.
async fn dial<N: Network>(
    inner: &N,
    layer: &FaultLayer,
    from: &str,
    to: &Arc<str>,
    address: SocketAddr,
) -> io::Result<N::Stream> {
    let mut budget = Budget {
        left: layer.connect_timeout(),
        address,
    };
    loop {
        budget.spend(layer.wait_connectable(from, to)).await?;
        if layer.refuses(to, address.port()) {
            // The SYN reaches a live host whose port refuses: its RST comes back.
            tokio::time::sleep(layer.refusal_round_trip()).await;
            return Err(io::Error::new(
                io::ErrorKind::ConnectionRefused,
                format!("{to}:{} refuses connects", address.port()),
            ));
        }
        let generation = layer.generation(to);
        let connect = std::pin::pin!(inner.connect(address));
        let answer = match layer.answers_syns(to) {
            true => await_answer(connect, &mut budget, layer, from, to, generation).await?,
            // No SYN to it is ever answered: lost from when it left.
            false => budget.spend(connect).await?,
        };
        match answer {
            Err(e)
                if e.kind() == io::ErrorKind::ConnectionRefused
                    && layer.generation(to) != generation => {}
            result => return result,
        }
    }
}

/// Awaits the answer to a SYN sent to `to` at `generation`. On its way or in a live backlog
/// the SYN is not lost, and no time counts. Once `to` crashes or restarts with no answer yet,
/// the SYN was in flight (a crash refuses those in a backlog at once): it is lost from when it
/// left, and time counts until `to` is up again. turmoil then delivers it to the new backlog,
/// where it waits uncounted once more.
async fn await_answer<T>(
    mut connect: std::pin::Pin<&mut impl Future<Output = io::Result<T>>>,
    budget: &mut Budget,
    layer: &FaultLayer,
    from: &str,
    to: &Arc<str>,
    mut generation: u64,
) -> io::Result<io::Result<T>> {
    let mut left = tokio::time::Instant::now();
    loop {
        let mut watch = SynWatch::new(layer);
        let lost = |cx: &mut Context<'_>| layer.poll_syn_lost(&mut watch, to, generation, cx);
        let answered = answer_unless(connect.as_mut(), lost).await;
        drop(watch);
        if let Some(answer) = answered {
            return Ok(answer);
        }
        budget.left = budget.left.saturating_sub(left.elapsed());
        let mut up = std::pin::pin!(layer.wait_connectable(from, to));
        let back = |cx: &mut Context<'_>| up.as_mut().poll(cx);
        let answered = budget.spend(answer_unless(connect.as_mut(), back)).await?;
        if let Some(answer) = answered {
            return Ok(answer);
        }
        generation = layer.generation(to);
        left = tokio::time::Instant::now();
    }
}

/// The connect's answer, or `None` if `other` is ready first (polled only while the connect
/// is pending).
async fn answer_unless<A>(
    mut connect: std::pin::Pin<&mut impl Future<Output = A>>,
    mut other: impl FnMut(&mut Context<'_>) -> Poll<()>,
) -> Option<A> {
    std::future::poll_fn(|cx| match connect.as_mut().poll(cx) {
        Poll::Ready(answer) => Poll::Ready(Some(answer)),
        Poll::Pending => other(cx).map(|()| None),
    })
    .await
}

/// What is left of a connect's timeout: how much longer its SYNs may be lost.
struct Budget {
    left: Duration,
    /// Where the connect goes, for the error.
    address: SocketAddr,
}

impl Budget {
    /// Awaits `losing`, a wait during which the SYN is lost, and takes its time from what is
    /// left; fails as timed out if that runs out first.
    async fn spend<T>(&mut self, losing: impl Future<Output = T>) -> io::Result<T> {
        let started = tokio::time::Instant::now();
        let ended = tokio::time::timeout(self.left, losing).await;
        self.left = self.left.saturating_sub(started.elapsed());
        ended.map_err(|_| {
            io::Error::new(
                io::ErrorKind::TimedOut,
                format!("connect to {} timed out", self.address),
            )
        })
    }
}

impl<N> Network for FaultNetwork<N>
where
    N: Network,
    N::Stream: Peek,
{
    type Stream = FaultyStream<N::Stream>;
    type Listener = N::Listener;

    fn resolve(
        &self,
        host: &str,
        service: &str,
    ) -> BoxFuture<'static, io::Result<Vec<SocketAddr>>> {
        self.inner.resolve(host, service)
    }

    fn resolve_at_once(&self, host: &str, service: &str) -> Option<io::Result<SocketAddr>> {
        self.inner.resolve_at_once(host, service)
    }

    fn connect(&self, address: SocketAddr) -> BoxFuture<'static, io::Result<Self::Stream>> {
        let (inner, layer, from) = (self.inner.clone(), self.layer.clone(), self.host.clone());
        Box::pin(async move {
            let to = layer.host_name(address.ip()).cloned().ok_or_else(|| {
                io::Error::new(
                    io::ErrorKind::ConnectionRefused,
                    format!("no host at {address}"),
                )
            })?;
            let stream = dial(&inner, &layer, &from, &to, address).await?;
            FaultyStream::new(stream, layer)
        })
    }

    fn listen(&self, host: &str, service: &str) -> BoxFuture<'static, io::Result<Self::Listener>> {
        self.inner.listen(host, service)
    }

    fn accept<'a>(
        &self,
        listener: &'a Self::Listener,
    ) -> BoxFuture<'a, io::Result<(Self::Stream, SocketAddr)>> {
        let accepting = self.inner.accept(listener);
        let layer = self.layer.clone();
        Box::pin(async move {
            let (stream, peer) = accepting.await?;
            Ok((FaultyStream::new(stream, layer)?, peer))
        })
    }

    /// The backend's own poll, where it has one (turmoil's has): an accept through the fault
    /// layer then needs no boxed future either.
    fn poll_accept(
        &self,
        listener: &Self::Listener,
        cx: &mut Context<'_>,
    ) -> Option<Poll<io::Result<(Self::Stream, SocketAddr)>>> {
        let polled = self.inner.poll_accept(listener, cx)?;
        Some(polled.map(|accepted| {
            let (stream, peer) = accepted?;
            Ok((FaultyStream::new(stream, self.layer.clone())?, peer))
        }))
    }

    fn poll_after_yield(&self, cx: &mut Context<'_>) -> Poll<()> {
        self.inner.poll_after_yield(cx)
    }

    fn listener_address(&self, listener: &Self::Listener) -> io::Result<SocketAddr> {
        self.inner.listener_address(listener)
    }

    fn spawn(&self, task: impl std::future::Future<Output = ()> + Send + 'static) {
        self.inner.spawn(task);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fault::{FaultPlan, PartialWrites, ReadChunks};
    use crate::seed::Seed;
    use std::collections::BTreeMap;
    use std::pin::Pin;
    use std::task::Poll;
    use tcpnotify::TokioNetwork;
    use tokio::io::{AsyncReadExt, AsyncWrite, AsyncWriteExt};

    /// Real loopback sockets through a fault layer with `plan`: a connected pair (client,
    /// accepted server end).
    async fn loopback_pair(
        plan: FaultPlan,
    ) -> (
        FaultyStream<tokio::net::TcpStream>,
        FaultyStream<tokio::net::TcpStream>,
    ) {
        let hosts = BTreeMap::from([("localhost".to_string(), [127, 0, 0, 1].into())]);
        let net = FaultNetwork::new(
            TokioNetwork::new(),
            "localhost",
            FaultLayer::new(plan, hosts),
        );
        let listener = net.listen("127.0.0.1", "0").await.expect("listen");
        let address = net.listener_address(&listener).expect("bound");
        let (client, accepted) = tokio::join!(net.connect(address), net.accept(&listener));
        (client.expect("connect"), accepted.expect("accept").0)
    }

    #[tokio::test]
    async fn r4_over_tokio_the_layer_asks_the_network_beneath_whether_to_go_on_after_a_yield() {
        let hosts = BTreeMap::from([("localhost".to_string(), [127, 0, 0, 1].into())]);
        let layer = FaultLayer::new(FaultPlan::quiet(Seed(1)), hosts);
        let faulty = FaultNetwork::new(TokioNetwork::new(), "localhost", layer);
        // A fresh poll has tokio's budget: the network beneath lets the connection go on.
        let goes_on = std::future::poll_fn(|cx| Poll::Ready(faulty.poll_after_yield(cx))).await;
        assert!(goes_on.is_ready(), "the layer asks the network beneath");
    }

    /// The layer hands socket options to the real socket beneath it: `TCP_NODELAY` reads
    /// back as set, and a keepalive time the kernel refuses (Linux takes at most 32,767 s)
    /// is refused through the layer as well.
    #[tokio::test]
    async fn socket_options_reach_a_real_socket() {
        use tcpnotify::Stream;
        let (client, _server) = loopback_pair(FaultPlan::quiet(Seed(1))).await;
        for nodelay in [true, false, true] {
            client.set_nodelay(nodelay).expect("set TCP_NODELAY");
            assert_eq!(client.nodelay().expect("read TCP_NODELAY"), nodelay);
        }
        client
            .set_keepalive(60)
            .expect("a keepalive time the kernel takes");
        assert!(
            client.set_keepalive(u32::MAX).is_err(),
            "the kernel's refusal reaches the caller"
        );
    }

    #[tokio::test]
    async fn partial_writes_and_rechunked_reads_apply_to_a_real_socket() {
        let plan = FaultPlan {
            partial_writes: Some(PartialWrites {
                average: 3,
                variation: 2,
            }),
            read_chunks: Some(ReadChunks::new(5)),
            ..FaultPlan::quiet(Seed(1))
        };
        let (mut client, mut server) = loopback_pair(plan).await;
        let data: Vec<u8> = (0..2000u32).map(|i| (i % 251) as u8).collect();
        let writer = async {
            let mut written = 0;
            while written < data.len() {
                let n = client.write(&data[written..]).await.expect("write");
                assert!((1..=5).contains(&n), "a write took {n} bytes");
                written += n;
            }
            client.shutdown().await.expect("shutdown");
        };
        let reader = async {
            let (mut got, mut buf) = (Vec::new(), [0u8; 64]);
            loop {
                let n = server.read(&mut buf).await.expect("read");
                if n == 0 {
                    return got;
                }
                assert!(n <= 5, "a read returned {n} bytes");
                got.extend_from_slice(&buf[..n]);
            }
        };
        let ((), got) = tokio::join!(writer, reader);
        assert_eq!(got, data);
    }

    #[tokio::test]
    async fn a_small_send_buffer_pushes_a_real_socket_back_until_the_peer_reads() {
        let plan = FaultPlan {
            send_buffer: Some(64),
            ..FaultPlan::quiet(Seed(1))
        };
        let (mut client, mut server) = loopback_pair(plan).await;
        let data: Vec<u8> = (0..1000u32).map(|i| (i % 251) as u8).collect();
        assert_eq!(client.write(&data).await.expect("write"), 64);
        // The peer has read nothing: the buffer is full.
        let pending = std::future::poll_fn(|cx| {
            Poll::Ready(
                Pin::new(&mut client)
                    .poll_write(cx, &data[64..])
                    .is_pending(),
            )
        });
        assert!(pending.await);
        let mut ten = [0u8; 10];
        server.read_exact(&mut ten).await.expect("read");
        assert_eq!(&ten[..], &data[..10]);
        // What the peer read left the buffer: ten bytes more fit.
        assert_eq!(client.write(&data[64..]).await.expect("write"), 10);
    }
}
