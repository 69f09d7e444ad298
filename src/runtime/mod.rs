//! The runtime: the only code that spawns, locks or wakes. It runs the sans-IO machines of
//! [`crate::proto`] as tokio tasks over a [`Network`] backend.
//!
//! - [`backend`]: the `Network` and `Stream` traits a backend implements (the simulator's is in
//!   `tcpnotify-sim`), and [`tokio_net`], the real one.
//! - [`mailbox`] and [`handle`]: a connection's mailbox and the cloneable handles that send to it.
//! - [`actor`]: a connection's turn loop (machine plus mailbox), shared with the unit tests.
//! - [`connection_task`] and [`listener_task`]: the tasks, and [`stream_transport`], the seam
//!   through which a machine does I/O on a backend stream; [`published`], a listener's state
//!   as its handles wait on it.
//! - [`dial`]: `TcpConnection::dial` and `TcpListener::dial`, and starting what they asked for.
//! - [`builder`]: `TcpConnection::connect`, `TcpListener::listen` and their builders.
//!
//! Dependencies point from here to `proto`, never back.

mod actor;
mod backend;
mod builder;
mod connection_task;
mod dial;
mod handle;
mod listener_task;
mod mailbox;
mod published;
mod stream_transport;
mod tokio_net;

pub use backend::{parse_port, BoxFuture, Network, Stream};
pub use builder::{ConnectionBuilder, ListenerBuilder};
pub use handle::ConnectionHandle;
pub use listener_task::{ListenError, ListenerHandle};
pub use tokio_net::TokioNetwork;

#[cfg(test)]
pub(crate) use actor::{Actor, MachineCall, Settled};
