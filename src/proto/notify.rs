//! The notifier traits: the callbacks a connection and a listener make, as in Pony's
//! `TCPConnectionNotify` and `TCPListenNotify`.
//!
//! Every callback has the default the contract (`docs/contract.md`) gives, except the two that
//! report failure (`connect_failed`, `not_listening`): those must be implemented, so ignoring
//! an error is a choice the user writes down.

use super::connection::TcpConnection;
use super::listener::TcpListener;
use bytes::Bytes;
use std::fmt;

/// Why a client connection could not be established.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "snake_case"))]
pub enum ConnectFailure {
    /// The host and service did not resolve to any address.
    Resolve,
    /// Every attempt was refused (nothing listening, or reset during the handshake).
    Refused,
    /// The last attempt timed out (SYNs lost, peer black-holed).
    TimedOut,
    /// The connection was closed (`close`, `hard_close`, `dispose`) while connecting.
    Aborted,
}

impl fmt::Display for ConnectFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ConnectFailure::Resolve => "resolve",
            ConnectFailure::Refused => "refused",
            ConnectFailure::TimedOut => "timed out",
            ConnectFailure::Aborted => "aborted",
        })
    }
}

/// The callbacks of one TCP connection (Pony's `TCPConnectionNotify`).
///
/// Callbacks run inside the connection's task, one turn at a time. Inside a callback, `conn`
/// gives immediate access to `expect`, `close`, `hard_close`, `write_final`, socket options and
/// addresses; `write`, `writev`, `mute`, `unmute`, `dispose` and `set_notify` are queued as
/// messages and handled in later turns, in order.
///
/// ```
/// use tcpnotify::{ConnectFailure, TcpConnection, TcpConnectionNotify};
///
/// /// Writes back whatever it receives.
/// struct Echo;
///
/// impl TcpConnectionNotify for Echo {
///     fn received(&mut self, conn: &mut TcpConnection, data: Vec<u8>, _times: usize) -> bool {
///         conn.write(data);
///         true
///     }
///     fn connect_failed(&mut self, _conn: &mut TcpConnection, _reason: ConnectFailure) {}
/// }
/// ```
#[allow(unused_variables)]
pub trait TcpConnectionNotify: Send + 'static {
    /// Server side only: the first callback of an accepted connection. Reading starts in the same turn.
    fn accepted(&mut self, conn: &mut TcpConnection) {}

    /// Client only, exactly once, before resolution: returns the host and service actually dialled.
    fn proxy_via(&mut self, host: &str, service: &str) -> (String, String) {
        (host.to_string(), service.to_string())
    }

    /// Client only: `count` connection attempts are outstanding; called after dialling and again
    /// each time an attempt fails, until connected or failed.
    fn connecting(&mut self, conn: &mut TcpConnection, count: u32) {}

    /// Client only: the first attempt that succeeded won. Reading and writing start in the same turn.
    fn connected(&mut self, conn: &mut TcpConnection) {}

    /// Client only: the connection will never be established. Nothing follows it.
    fn connect_failed(&mut self, conn: &mut TcpConnection, reason: ConnectFailure);

    /// Never called by a plain connection: a wrapping notifier (TLS, a handshake layer) calls it
    /// on the notifier it wraps to report that the peer failed to authenticate.
    fn auth_failed(&mut self, conn: &mut TcpConnection) {}

    /// Called once per `write` handled while open: a transform, not a completion notice. The
    /// returned bytes are what is queued; an empty result sends nothing.
    ///
    /// `data` is a [`Bytes`], as Pony's `ByteSeq` an immutable value that may be shared: the
    /// same `Bytes` written many times arrives here each time without a copy, and whatever
    /// this returns (the same, a slice of it, or new bytes) is what the socket is given.
    fn sent(&mut self, conn: &mut TcpConnection, data: Bytes) -> Bytes {
        data
    }

    /// As [`sent`](Self::sent), for `writev`. Empty chunks in the result are skipped.
    fn sentv(&mut self, conn: &mut TcpConnection, chunks: Vec<Bytes>) -> Vec<Bytes> {
        chunks
    }

    /// One delivery of data. `times` counts deliveries in this turn, from 1. Returning `false`
    /// yields: the rest comes in a later turn (it does not stop reading; use `mute` for that).
    fn received(&mut self, conn: &mut TcpConnection, data: Vec<u8>, times: usize) -> bool {
        true
    }

    /// Called from `conn.expect(qty)` once the size check passed: returns the framing size
    /// actually used, so a wrapper can rewrite it.
    fn expect(&mut self, conn: &mut TcpConnection, qty: usize) -> usize {
        qty
    }

    /// Exactly once, only for a connection that was connected or accepted.
    fn closed(&mut self, conn: &mut TcpConnection) {}

    /// A write would block or was partial: the connection entered backpressure.
    fn throttled(&mut self, conn: &mut TcpConnection) {}

    /// The write queue fully drained after `throttled`.
    fn unthrottled(&mut self, conn: &mut TcpConnection) {}

    /// The notifier the connection calls from the turn that handles a `set_notify` handing it
    /// `next`: `next` (the default, as in Pony: the whole notifier is replaced, wrappers and
    /// all). A wrapper that must outlive the swap, as a recorder must to go on recording,
    /// returns itself around `next` instead.
    ///
    /// ```
    /// use tcpnotify::{ConnectFailure, TcpConnection, TcpConnectionNotify};
    ///
    /// /// Counts the callbacks of whatever notifier it wraps, across swaps.
    /// struct Counting {
    ///     inner: Box<dyn TcpConnectionNotify>,
    ///     calls: usize,
    /// }
    ///
    /// impl TcpConnectionNotify for Counting {
    ///     fn connect_failed(&mut self, conn: &mut TcpConnection, reason: ConnectFailure) {
    ///         self.calls += 1;
    ///         self.inner.connect_failed(conn, reason)
    ///     }
    ///     fn replaced_by(
    ///         mut self: Box<Self>,
    ///         next: Box<dyn TcpConnectionNotify>,
    ///     ) -> Box<dyn TcpConnectionNotify> {
    ///         self.inner = next;
    ///         self
    ///     }
    /// }
    /// ```
    fn replaced_by(
        self: Box<Self>,
        next: Box<dyn TcpConnectionNotify>,
    ) -> Box<dyn TcpConnectionNotify> {
        next
    }
}

/// A notifier that does nothing: it stands in while the one it replaces is moved out.
pub(crate) struct Unset;

impl TcpConnectionNotify for Unset {
    fn connect_failed(&mut self, _conn: &mut TcpConnection, _reason: ConnectFailure) {}
}

/// The callbacks of a listening socket (Pony's `TCPListenNotify`).
///
/// ```
/// use tcpnotify::{ConnectFailure, TcpConnection, TcpConnectionNotify, TcpListenNotify, TcpListener};
///
/// struct Quiet;
/// impl TcpConnectionNotify for Quiet {
///     fn connect_failed(&mut self, _conn: &mut TcpConnection, _reason: ConnectFailure) {}
/// }
///
/// /// Accepts every connection with a fresh `Quiet` notifier.
/// struct Server;
/// impl TcpListenNotify for Server {
///     fn connected(&mut self, _listener: &mut TcpListener) -> Option<Box<dyn TcpConnectionNotify>> {
///         Some(Box::new(Quiet))
///     }
///     fn not_listening(&mut self, _listener: &mut TcpListener) {}
/// }
/// ```
#[allow(unused_variables)]
pub trait TcpListenNotify: Send + 'static {
    /// Bind and listen succeeded. Exactly one of `listening` and `not_listening` comes, first.
    fn listening(&mut self, listener: &mut TcpListener) {}

    /// Bind or listen failed; the listener is finished and `closed` never comes.
    fn not_listening(&mut self, listener: &mut TcpListener);

    /// A peer connected: return its notifier, or `None` to reject it (it is closed at once and
    /// not counted against the limit).
    fn connected(&mut self, listener: &mut TcpListener) -> Option<Box<dyn TcpConnectionNotify>>;

    /// The listener stopped listening. At most once, only after `listening`.
    fn closed(&mut self, listener: &mut TcpListener) {}
}

/// A boxed notifier is a notifier, so wrappers can hold `Box<dyn TcpConnectionNotify>`.
impl<T: TcpConnectionNotify + ?Sized> TcpConnectionNotify for Box<T> {
    fn accepted(&mut self, conn: &mut TcpConnection) {
        (**self).accepted(conn)
    }
    fn proxy_via(&mut self, host: &str, service: &str) -> (String, String) {
        (**self).proxy_via(host, service)
    }
    fn connecting(&mut self, conn: &mut TcpConnection, count: u32) {
        (**self).connecting(conn, count)
    }
    fn connected(&mut self, conn: &mut TcpConnection) {
        (**self).connected(conn)
    }
    fn connect_failed(&mut self, conn: &mut TcpConnection, reason: ConnectFailure) {
        (**self).connect_failed(conn, reason)
    }
    fn auth_failed(&mut self, conn: &mut TcpConnection) {
        (**self).auth_failed(conn)
    }
    fn sent(&mut self, conn: &mut TcpConnection, data: Bytes) -> Bytes {
        (**self).sent(conn, data)
    }
    fn sentv(&mut self, conn: &mut TcpConnection, chunks: Vec<Bytes>) -> Vec<Bytes> {
        (**self).sentv(conn, chunks)
    }
    fn received(&mut self, conn: &mut TcpConnection, data: Vec<u8>, times: usize) -> bool {
        (**self).received(conn, data, times)
    }
    fn expect(&mut self, conn: &mut TcpConnection, qty: usize) -> usize {
        (**self).expect(conn, qty)
    }
    fn closed(&mut self, conn: &mut TcpConnection) {
        (**self).closed(conn)
    }
    fn throttled(&mut self, conn: &mut TcpConnection) {
        (**self).throttled(conn)
    }
    fn unthrottled(&mut self, conn: &mut TcpConnection) {
        (**self).unthrottled(conn)
    }
    fn replaced_by(
        self: Box<Self>,
        next: Box<dyn TcpConnectionNotify>,
    ) -> Box<dyn TcpConnectionNotify> {
        T::replaced_by(*self, next)
    }
}

/// A boxed listen notifier is a listen notifier.
impl<T: TcpListenNotify + ?Sized> TcpListenNotify for Box<T> {
    fn listening(&mut self, listener: &mut TcpListener) {
        (**self).listening(listener)
    }
    fn not_listening(&mut self, listener: &mut TcpListener) {
        (**self).not_listening(listener)
    }
    fn connected(&mut self, listener: &mut TcpListener) -> Option<Box<dyn TcpConnectionNotify>> {
        (**self).connected(listener)
    }
    fn closed(&mut self, listener: &mut TcpListener) {
        (**self).closed(listener)
    }
}
