//! # tcpnotify
//!
//! Notifier-based TCP connections with the semantics of the Pony standard library's `net`
//! package: a [`TcpConnection`] calls back a [`TcpConnectionNotify`] (`connected`, `received`,
//! `sent`, `throttled`, `closed`, ...), a [`TcpListener`] calls back a [`TcpListenNotify`].
//! The rules it follows are in the repository's `docs/contract.md`, each with an id (C1, W4,
//! R3, ...) that tests name.
//!
//! ## Layers
//!
//! ```text
//!  your notifiers        impl TcpConnectionNotify / TcpListenNotify
//!       ▲ callbacks
//!  proto/    sans-IO     TcpConnection and TcpListener (what a callback sees), the notifier
//!                        traits, ConnectionConfig; the connection and listener state machines:
//!                        events in (handle_*), what to do out (poll_*: the connection's own
//!                        messages, addresses to dial, resumes). No tokio, no locks, no wake-ups.
//!       ▲ events, messages, readiness
//!  runtime/  tokio       one task per connection and listener, the mailbox and the
//!                        ConnectionHandle / ListenerHandle, the builders (connect, listen);
//!                        the Network / Stream backend traits and TokioNetwork.
//!       ▲
//!  backends              TokioNetwork here; the simulated network in the tcpnotify-sim crate
//!
//!  record/               notifier middleware: wraps any notifier and records its callbacks as
//!                        data (tests and the simulator's traces)
//!
//!  spans                 the names of the `tracing` spans around tasks and recorded callbacks
//! ```
//!
//! Dependencies point one way: `runtime` uses `proto`, `record` uses only `proto`'s notifier
//! traits, and `proto` uses neither. A notifier sees only `proto`'s types, so it runs the same
//! over real sockets and over the simulator's network.
//!
//! ## Example
//!
//! ```no_run
//! use tcpnotify::{ConnectFailure, TcpConnection, TcpConnectionNotify};
//!
//! struct Hello;
//!
//! impl TcpConnectionNotify for Hello {
//!     fn connected(&mut self, conn: &mut TcpConnection) {
//!         conn.write("hello\n");
//!     }
//!     fn received(&mut self, conn: &mut TcpConnection, data: Vec<u8>, _times: usize) -> bool {
//!         println!("got {:?}", String::from_utf8_lossy(&data));
//!         conn.close();
//!         true
//!     }
//!     fn connect_failed(&mut self, _conn: &mut TcpConnection, reason: ConnectFailure) {
//!         eprintln!("connect failed: {reason}");
//!     }
//! }
//!
//! #[tokio::main]
//! async fn main() {
//!     let conn = TcpConnection::connect(Hello, "localhost", "7000");
//!     conn.finished().await;
//! }
//! ```

#![warn(missing_docs, unreachable_pub)]

mod proto;
pub mod record;
mod runtime;
pub mod spans;

/// The payload of a write and of `sent` (see [`IntoBytes`]), re-exported so that a notifier
/// can name it without depending on the `bytes` crate itself.
pub use bytes::Bytes;
pub use proto::{
    BindError, ConnectFailure, ConnectionConfig, ConnectionStats, DroppedWrite, ExpectError,
    IntoBytes, ListenerState, Muting, Phase, Role, TcpConnection, TcpConnectionNotify,
    TcpListenNotify, TcpListener, WriteKind, DEFAULT_READ_BUFFER_SIZE, DEFAULT_YIELD_AFTER_READING,
    DEFAULT_YIELD_AFTER_WRITING, MAX_RECEIVED_PER_TURN,
};
pub use runtime::{
    parse_port, BoxFuture, ConnectionBuilder, ConnectionHandle, ListenError, ListenerBuilder,
    ListenerHandle, Network, Stream, TokioNetwork,
};

#[cfg(test)]
mod tests;
