//! # tcpnotify
//!
//! Notifier-based TCP connections with the semantics of the Pony standard library's `net`
//! package: a [`TcpConnection`] calls back a [`TcpConnectionNotify`] (`connected`, `received`,
//! `sent`, `throttled`, `closed`, ...), a [`TcpListener`] calls back a [`TcpListenNotify`].
//!
//! The connection logic is a sans-IO state machine ([`ConnectionMachine`]) driven by one task
//! per connection over a [`Network`] backend: real tokio sockets here ([`TokioNetwork`]), a
//! seeded simulated network in the `tcpnotify-sim` crate. The rules it follows are in the
//! repository's `docs/contract.md`, each with an id (C1, W4, R3, ...) that tests name.
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

mod backend;
mod builder;
mod config;
mod connection;
mod driver;
mod handle;
mod listener;
mod machine;
mod notify;
pub mod record;
mod stats;
mod stream_transport;
mod tokio_net;
mod transport;

pub use backend::{parse_port, BoxFuture, Network, Stream};
pub use builder::{ConnectionBuilder, ListenerBuilder};
pub use config::{
    ConnectionConfig, DEFAULT_READ_BUFFER_SIZE, DEFAULT_YIELD_AFTER_READING,
    DEFAULT_YIELD_AFTER_WRITING, MAX_RECEIVED_PER_TURN,
};
pub use connection::{ExpectError, Phase, Role, TcpConnection};
pub use handle::ConnectionHandle;
pub use listener::{ListenerHandle, ListenerState, TcpListener};
pub use machine::ConnectionMachine;
pub use notify::{ConnectFailure, TcpConnectionNotify, TcpListenNotify};
pub use stats::ConnectionStats;
pub use tokio_net::TokioNetwork;
pub use transport::{ReadBuf, Transport};

#[cfg(test)]
mod tests;
