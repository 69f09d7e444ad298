//! The sans-IO core: what a notifier sees of a connection and a listener, and the state
//! machines that turn events into the contract's callbacks.
//!
//! Nothing here performs I/O on its own, spawns, locks, sleeps or wakes, and nothing imports
//! tokio. The machines take events through `handle_*` methods and hand out what the runtime
//! must do through `poll_*` methods (see [`machine`]); socket I/O goes through the small
//! [`Transport`] seam that the runtime implements over a backend stream. The unit tests in
//! `src/tests/` drive these machines with scripted events and no runtime.

mod config;
mod connection;
mod dial;
mod into_bytes;
mod listener;
mod machine;
mod message;
mod messages;
mod notify;
mod stats;
mod transport;

pub use config::{
    ConnectionConfig, DEFAULT_READ_BUFFER_SIZE, DEFAULT_YIELD_AFTER_READING,
    DEFAULT_YIELD_AFTER_WRITING, MAX_RECEIVED_PER_TURN,
};
pub use connection::{DroppedWrite, ExpectError, Muting, Phase, Role, TcpConnection, WriteKind};
pub use into_bytes::IntoBytes;
pub use listener::{BindError, ListenerState, TcpListener};
pub use notify::{ConnectFailure, TcpConnectionNotify, TcpListenNotify};
pub use stats::ConnectionStats;

pub(crate) use connection::{collect_chunks, write_size, Attachment, DropObserver};
pub(crate) use dial::{DialRequest, Dials};
pub(crate) use listener::ListenerMachine;
pub(crate) use machine::{Addresses, ConnectionMachine};
pub(crate) use message::Message;
pub(crate) use messages::Messages;
pub(crate) use notify::Unset;
pub(crate) use transport::{ReadBuf, Transport};
