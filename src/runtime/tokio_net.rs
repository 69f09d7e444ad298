//! The real network: tokio sockets, the system resolver, and an optional table of host names
//! that resolve to several addresses (for happy-eyeballs tests on loopback).

use super::backend::{parse_port, BoxFuture, Network, Stream};
use std::collections::BTreeMap;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

/// tokio's TCP over the operating system's network.
///
/// ```
/// use tcpnotify::TokioNetwork;
/// // "svc.test" dials 127.0.0.2 first, then 127.0.0.1, on the requested port.
/// let net = TokioNetwork::new().with_host("svc.test", ["127.0.0.2".parse().unwrap(), "127.0.0.1".parse().unwrap()]);
/// # let _ = net;
/// ```
#[derive(Clone, Default, Debug)]
pub struct TokioNetwork {
    /// `None` until a host is added, so the common network (every `connect` and `listen`
    /// builds one) allocates nothing.
    hosts: Option<Arc<BTreeMap<String, Vec<IpAddr>>>>,
}

impl TokioNetwork {
    /// The system network with the system resolver.
    pub fn new() -> Self {
        Self::default()
    }

    /// Makes `name` resolve to `addresses`, in this order, before the system resolver is asked.
    pub fn with_host(mut self, name: &str, addresses: impl IntoIterator<Item = IpAddr>) -> Self {
        let hosts = self.hosts.get_or_insert_with(Default::default);
        Arc::make_mut(hosts).insert(name.to_string(), addresses.into_iter().collect());
        self
    }
}

impl Stream for tokio::net::TcpStream {
    fn spends_task_budget(&self) -> bool {
        true
    }

    fn set_nodelay(&self, nodelay: bool) -> io::Result<()> {
        tokio::net::TcpStream::set_nodelay(self, nodelay)
    }

    fn nodelay(&self) -> io::Result<bool> {
        tokio::net::TcpStream::nodelay(self)
    }

    fn set_keepalive(&self, secs: u32) -> io::Result<()> {
        let socket = socket2::SockRef::from(self);
        if secs == 0 {
            return socket.set_keepalive(false);
        }
        let keepalive = socket2::TcpKeepalive::new().with_time(Duration::from_secs(secs.into()));
        socket.set_tcp_keepalive(&keepalive)
    }

    fn local_address(&self) -> io::Result<SocketAddr> {
        self.local_addr()
    }

    fn remote_address(&self) -> io::Result<SocketAddr> {
        self.peer_addr()
    }
}

impl Network for TokioNetwork {
    type Stream = tokio::net::TcpStream;
    type Listener = tokio::net::TcpListener;

    fn resolve(
        &self,
        host: &str,
        service: &str,
    ) -> BoxFuture<'static, io::Result<Vec<SocketAddr>>> {
        if let Some(resolved) = self.resolve_at_once(host, service) {
            return Box::pin(std::future::ready(resolved.map(|address| vec![address])));
        }
        let port = match parse_port(service) {
            Ok(port) => port,
            Err(e) => return Box::pin(std::future::ready(Err(e))),
        };
        if let Some(ips) = self.hosts.as_ref().and_then(|hosts| hosts.get(host)) {
            let addresses = ips.iter().map(|&ip| SocketAddr::new(ip, port)).collect();
            return Box::pin(std::future::ready(Ok(addresses)));
        }
        let host = if host.is_empty() { "localhost" } else { host }.to_string();
        Box::pin(async move {
            let addresses: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), port))
                .await?
                .collect();
            Ok(addresses)
        })
    }

    /// An address literal not in the host table, as `lookup_host` would parse it.
    fn resolve_at_once(&self, host: &str, service: &str) -> Option<io::Result<SocketAddr>> {
        if self
            .hosts
            .as_ref()
            .is_some_and(|hosts| hosts.contains_key(host))
        {
            return None;
        }
        let ip = host.parse::<IpAddr>().ok()?;
        Some(parse_port(service).map(|port| SocketAddr::new(ip, port)))
    }

    fn connect(&self, address: SocketAddr) -> BoxFuture<'static, io::Result<Self::Stream>> {
        Box::pin(tokio::net::TcpStream::connect(address))
    }

    fn listen(&self, host: &str, service: &str) -> BoxFuture<'static, io::Result<Self::Listener>> {
        let resolved = self.resolve(if host.is_empty() { "0.0.0.0" } else { host }, service);
        Box::pin(async move {
            // Like Pony, only the first address is tried.
            let address = resolved.await?.into_iter().next().ok_or_else(|| {
                io::Error::new(
                    io::ErrorKind::AddrNotAvailable,
                    "host resolved to no address",
                )
            })?;
            tokio::net::TcpListener::bind(address).await
        })
    }

    fn accept<'a>(
        &self,
        listener: &'a Self::Listener,
    ) -> BoxFuture<'a, io::Result<(Self::Stream, SocketAddr)>> {
        Box::pin(listener.accept())
    }

    fn poll_accept(
        &self,
        listener: &Self::Listener,
        cx: &mut Context<'_>,
    ) -> Option<Poll<io::Result<(Self::Stream, SocketAddr)>>> {
        Some(listener.poll_accept(cx))
    }

    /// Goes on while the task has budget: one unit per turn, as a socket operation spends;
    /// once it is spent, tokio wakes the task after the others had their turn. Inside
    /// `tokio::task::coop::unconstrained` the budget never runs out, and a connection then
    /// goes on until nothing is ready or its notifier yields, as any unconstrained code does.
    fn poll_after_yield(&self, cx: &mut Context<'_>) -> Poll<()> {
        let proceed = std::task::ready!(tokio::task::coop::poll_proceed(cx));
        proceed.made_progress();
        Poll::Ready(())
    }

    fn listener_address(&self, listener: &Self::Listener) -> io::Result<SocketAddr> {
        listener.local_addr()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_address_literal_resolves_at_once_and_a_name_or_a_table_host_goes_to_resolve() {
        let net = TokioNetwork::new().with_host("127.0.0.9", ["127.0.0.1".parse().unwrap()]);
        let at_once = |host: &str, service: &str| {
            net.resolve_at_once(host, service)
                .map(|r| r.map_err(|e| e.kind()))
        };
        assert_eq!(
            at_once("127.0.0.2", "80"),
            Some(Ok("127.0.0.2:80".parse().unwrap()))
        );
        assert_eq!(
            at_once("::1", " 8080 "),
            Some(Ok("[::1]:8080".parse().unwrap()))
        );
        assert_eq!(
            at_once("127.0.0.2", "http"),
            Some(Err(io::ErrorKind::InvalidInput)),
            "the port error resolve gives"
        );
        assert_eq!(at_once("localhost", "80"), None, "a name is looked up");
        assert_eq!(
            at_once("127.0.0.9", "80"),
            None,
            "the host table comes first"
        );
    }

    /// How many turns `net` lets a connection start in this poll after a yield at a limit,
    /// up to `most`.
    async fn turns_gone_on(net: &TokioNetwork, most: usize) -> usize {
        std::future::poll_fn(|cx| {
            let mut went_on = 0;
            while went_on < most && net.poll_after_yield(cx).is_ready() {
                went_on += 1;
            }
            Poll::Ready(went_on)
        })
        .await
    }

    #[tokio::test]
    async fn r4_after_a_yield_at_a_limit_a_connection_goes_on_while_its_task_has_budget() {
        let net = TokioNetwork::new();
        let most = 100_000;
        let first = turns_gone_on(&net, most).await;
        assert!(
            (1..most).contains(&first),
            "goes on, then gives way once tokio's budget is spent ({first})"
        );
        // Its next poll has a fresh budget.
        tokio::task::yield_now().await;
        assert_eq!(turns_gone_on(&net, most).await, first);
        let unconstrained = tokio::task::coop::unconstrained(turns_gone_on(&net, most)).await;
        assert_eq!(unconstrained, most, "an unconstrained task never runs out");
    }

    #[tokio::test]
    async fn resolve_gives_what_resolve_at_once_gives_for_a_literal() {
        let net = TokioNetwork::new();
        let resolved = net.resolve("127.0.0.2", "80").await.map_err(|e| e.kind());
        assert_eq!(resolved, Ok(vec!["127.0.0.2:80".parse().unwrap()]));
        let bad = net.resolve("127.0.0.2", "http").await.map_err(|e| e.kind());
        assert_eq!(bad, Err(io::ErrorKind::InvalidInput));
    }
}
