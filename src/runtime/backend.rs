//! The network backend seam: how the runtime resolves names, dials, listens and accepts.
//! tokio's real sockets implement it here ([`crate::TokioNetwork`]); the simulator implements it
//! over turmoil. Streams are plain `AsyncRead + AsyncWrite`, so partial writes and would-block
//! stay visible to the connection task.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{Context, Poll};
use tokio::io::{AsyncRead, AsyncWrite};

/// A boxed, sendable future, as backends return.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// An accepted stream and its peer's address, or why accepting failed.
type Accepted<S> = io::Result<(S, SocketAddr)>;

/// One established byte stream of a backend.
pub trait Stream: AsyncRead + AsyncWrite + Unpin + Send + 'static {
    /// Turns Nagle's algorithm off (`true`) or on (sets `TCP_NODELAY`).
    fn set_nodelay(&self, nodelay: bool) -> io::Result<()>;
    /// Whether `TCP_NODELAY` is set.
    fn nodelay(&self) -> io::Result<bool>;
    /// Sets TCP keepalive to `secs` seconds; 0 turns it off.
    fn set_keepalive(&self, secs: u32) -> io::Result<()>;
    /// This end's address.
    fn local_address(&self) -> io::Result<SocketAddr>;
    /// The peer's address.
    fn remote_address(&self) -> io::Result<SocketAddr>;
    /// Whether this stream's reads and writes spend the task's tokio cooperative budget, as
    /// tokio's sockets do: once it is spent they answer `Pending`, usually without trying the
    /// socket, and have tokio wake the task, so such a `Pending` is not taken for the socket
    /// pushing back; the write is tried again when the task is woken. A stream that says so
    /// and also waits for reasons of its own must have the task woken when it answers
    /// `Pending` with the budget spent (a fault layer's full window does), or its pushback
    /// would go unreported until those reasons change.
    fn spends_task_budget(&self) -> bool {
        false
    }
    /// Whether a `Pending` from this stream now may be tokio's budget rather than the socket:
    /// it [spends the task's budget](Self::spends_task_budget), and the task has spent it.
    fn task_budget_spent(&self) -> bool {
        self.spends_task_budget() && !tokio::task::coop::has_budget_remaining()
    }
}

/// A network: name resolution, outgoing connections and listening sockets.
pub trait Network: Clone + Send + Sync + 'static {
    /// The stream type of this network.
    type Stream: Stream;
    /// The listening socket type of this network.
    type Listener: Send + Sync + 'static;

    /// Resolves `host` and `service` to every address, in the order they should be dialled.
    fn resolve(&self, host: &str, service: &str)
        -> BoxFuture<'static, io::Result<Vec<SocketAddr>>>;
    /// What [`resolve`](Self::resolve) would give for `host` and `service` when that is one
    /// address known without waiting (an address literal), or `None` (the default) to have the
    /// caller call `resolve`. A connection dials a literal on every connect: this spares it a
    /// boxed future and a list for one address.
    fn resolve_at_once(&self, host: &str, service: &str) -> Option<io::Result<SocketAddr>> {
        let _ = (host, service);
        None
    }
    /// Dials one address.
    fn connect(&self, address: SocketAddr) -> BoxFuture<'static, io::Result<Self::Stream>>;
    /// Binds and listens on `host` and `service` (`""` and `"0"` for any address and port).
    fn listen(&self, host: &str, service: &str) -> BoxFuture<'static, io::Result<Self::Listener>>;
    /// Accepts one connection. Must be cancel-safe: dropping the future loses no connection.
    fn accept<'a>(
        &self,
        listener: &'a Self::Listener,
    ) -> BoxFuture<'a, io::Result<(Self::Stream, SocketAddr)>>;
    /// Accepts one connection if one waits, or registers `cx` to be woken when one may:
    /// [`accept`](Self::accept) without a future, for a network that can (a listener accepts
    /// once per connection, and a boxed future each time was an allocation per connection).
    /// `None`, the default, has the caller use `accept`.
    fn poll_accept(
        &self,
        listener: &Self::Listener,
        cx: &mut Context<'_>,
    ) -> Option<Poll<Accepted<Self::Stream>>> {
        let _ = (listener, cx);
        None
    }
    /// Where a connection goes on after a turn that ended because it reached a limit (R3's
    /// deliveries, R4's bytes read, the bytes written per turn): `Ready` to start its next
    /// turn in the same poll of its task, or `Pending` to give its thread back to the runtime
    /// first, having arranged for `cx` to be woken. Either way that turn is over, `times`
    /// restarts at 1, and the next turn comes after the messages other tasks queued meanwhile
    /// (R4): what differs is only whether the runtime's scheduler runs in between. A yield
    /// the notifier asked for (`received` returned false) always goes back to the runtime.
    ///
    /// The default always gives the thread back, the schedule of a Pony actor's turns. A
    /// backend whose runs must replay the same from a seed keeps it (the simulator does: its
    /// schedule, and so its traces, depends on no budget).
    /// [`TokioNetwork`](crate::TokioNetwork) goes on while the task has tokio's cooperative
    /// budget left (each turn it goes on spends one unit, as each socket operation does), so
    /// a connection that keeps reading still gives way when tokio says so, as plain tokio
    /// code does, and does not pay a trip through the scheduler per 16 KiB read.
    fn poll_after_yield(&self, cx: &mut Context<'_>) -> Poll<()> {
        cx.waker().wake_by_ref();
        Poll::Pending
    }
    /// The listening socket's bound address.
    fn listener_address(&self, listener: &Self::Listener) -> io::Result<SocketAddr>;
    /// Starts `task`, a connection's or a listener's, as a task of the runtime it is called
    /// in. The default is `tokio::spawn`. A backend may wrap the task, but should start it
    /// with `tokio::spawn` all the same, so that it is scheduled among the tasks its user
    /// starts as those are (R4). The simulator wraps it to end a crashed host's tasks in the
    /// order they started, where tokio's runtime would end them in an order that depends on
    /// every task the process ever started.
    fn spawn(&self, task: impl Future<Output = ()> + Send + 'static) {
        tokio::spawn(task);
    }
}

/// Parses a numeric service (port). Service names are not looked up.
pub fn parse_port(service: &str) -> io::Result<u16> {
    // Nearly every service is a bare number: parsed before trimming (`trim` looks for Unicode
    // white space at both ends). A service that parses has none to trim.
    if let Ok(port) = service.parse::<u16>() {
        return Ok(port);
    }
    let service = service.trim();
    if service.is_empty() {
        return Ok(0);
    }
    service.parse::<u16>().map_err(|_| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("service {service:?} is not a port number (0-65535)"),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::parse_port;

    #[test]
    fn a_port_parses_with_or_without_white_space_and_anything_else_is_an_error() {
        let parsed = |s: &str| parse_port(s).map_err(|e| e.to_string());
        assert_eq!(parsed("7000"), Ok(7000));
        assert_eq!(parsed(" 80\n"), Ok(80));
        assert_eq!(parsed("\u{a0}443"), Ok(443), "Unicode white space too");
        assert_eq!(parsed(""), Ok(0));
        assert_eq!(parsed("  "), Ok(0));
        let too_big = "service \"70000\" is not a port number (0-65535)";
        assert_eq!(parsed("70000"), Err(too_big.to_string()));
        assert!(parsed("http").is_err());
    }
}
