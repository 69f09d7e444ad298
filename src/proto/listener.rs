//! The listening socket as its notifier sees it ([`TcpListener`]), and the sans-IO state
//! machine that turns bind and accept events into callbacks (N1–N4). The runtime's listener
//! task feeds it.

use super::config::ConnectionConfig;
use super::dial::Dials;
use super::notify::{TcpConnectionNotify, TcpListenNotify};
use std::fmt;
use std::io;
use std::net::SocketAddr;

/// Where a listener is in its life.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ListenerState {
    /// Binding has not finished.
    Binding,
    /// Listening on this address.
    Listening(SocketAddr),
    /// Bind or listen failed.
    NotListening(BindError),
    /// Closed after listening.
    Closed,
}

impl fmt::Display for ListenerState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ListenerState::Binding => f.write_str("binding"),
            ListenerState::Listening(a) => write!(f, "listening on {a}"),
            ListenerState::NotListening(e) => write!(f, "not listening: {e}"),
            ListenerState::Closed => f.write_str("closed"),
        }
    }
}

/// Why a listener could not bind and listen: the error's kind and text, kept as data so that a
/// listener's state can be cloned, compared and published to its handles.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct BindError {
    /// The kind of the bind or listen error.
    pub kind: io::ErrorKind,
    /// The error's text.
    pub message: String,
}

impl BindError {
    pub(crate) fn of(error: &io::Error) -> Self {
        BindError {
            kind: error.kind(),
            message: error.to_string(),
        }
    }
}

/// A listener as its notifier sees it inside a callback (Pony's `TCPListener ref`).
#[derive(Debug)]
pub struct TcpListener {
    state: ListenerState,
    limit: usize,
    live: usize,
    close_requested: bool,
    /// The settings of accepted connections, also those of the connections it dials.
    config: ConnectionConfig,
    /// Connections its notifier asked for, until the runtime starts them.
    dials: Dials,
}

impl TcpListener {
    /// Stops listening; `closed` follows once the current callback returns.
    pub fn close(&mut self) {
        self.close_requested = true;
    }

    /// The bound address, while listening (read the port here when listening on port 0).
    pub fn local_address(&self) -> Option<SocketAddr> {
        match self.state {
            ListenerState::Listening(a) => Some(a),
            _ => None,
        }
    }

    /// Where the listener is in its life.
    pub fn state(&self) -> &ListenerState {
        &self.state
    }

    /// The most accepted-and-not-closed connections at once; 0 is unlimited.
    pub fn limit(&self) -> usize {
        self.limit
    }

    /// Accepted connections that have not closed yet.
    pub fn live_connections(&self) -> usize {
        self.live
    }

    /// Whether accepting is paused because the limit is reached (N3).
    pub fn is_paused(&self) -> bool {
        self.limit > 0 && self.live >= self.limit
    }

    /// The settings given to accepted connections (and to the connections it dials).
    pub fn config(&self) -> ConnectionConfig {
        self.config
    }

    /// The connections its notifier asked for that the runtime has not started yet.
    pub(crate) fn dials(&mut self) -> &mut Dials {
        &mut self.dials
    }
}

/// A listener's notifier and state, driven by bind and accept events (sans-IO).
pub(crate) struct ListenerMachine {
    notify: Box<dyn TcpListenNotify>,
    listener: TcpListener,
}

impl ListenerMachine {
    pub(crate) fn new(
        notify: Box<dyn TcpListenNotify>,
        limit: usize,
        config: ConnectionConfig,
    ) -> Self {
        ListenerMachine {
            notify,
            listener: TcpListener {
                state: ListenerState::Binding,
                limit,
                live: 0,
                close_requested: false,
                config,
                dials: Dials::default(),
            },
        }
    }

    // ---- observers ----

    pub(crate) fn state(&self) -> &ListenerState {
        &self.listener.state
    }

    pub(crate) fn is_listening(&self) -> bool {
        matches!(self.listener.state, ListenerState::Listening(_))
    }

    /// Whether to accept now: listening and below the limit (N3).
    pub(crate) fn wants_accept(&self) -> bool {
        self.is_listening() && !self.listener.is_paused()
    }

    /// The most accepted-and-not-closed connections at once; 0 is unlimited.
    pub(crate) fn limit(&self) -> usize {
        self.listener.limit()
    }

    /// The settings of the connections it accepts.
    pub(crate) fn config(&self) -> ConnectionConfig {
        self.listener.config()
    }

    /// The connections its notifier asked for since last asked, oldest first, for the
    /// runtime to start.
    pub(crate) fn poll_dials(&mut self) -> Vec<super::dial::DialRequest> {
        self.listener.dials.take()
    }

    // ---- events in ----

    /// Bind finished: exactly one of `listening` / `not_listening` (N1).
    pub(crate) fn handle_bound(&mut self, result: io::Result<SocketAddr>) {
        match result {
            Ok(address) => {
                self.listener.state = ListenerState::Listening(address);
                self.notify.listening(&mut self.listener);
                self.close_if_requested();
            }
            Err(e) => {
                self.listener.state = ListenerState::NotListening(BindError::of(&e));
                self.notify.not_listening(&mut self.listener);
            }
        }
    }

    /// A peer connected: the notifier's factory gives its notifier, or `None` rejects it (N4).
    pub(crate) fn handle_accepted(&mut self) -> Option<Box<dyn TcpConnectionNotify>> {
        let notify = self.notify.connected(&mut self.listener);
        if notify.is_some() {
            self.listener.live += 1;
        }
        self.close_if_requested();
        notify
    }

    /// An accepted connection closed: one slot frees (N3).
    pub(crate) fn handle_connection_closed(&mut self) {
        self.listener.live = self.listener.live.saturating_sub(1);
    }

    /// A handle asked to stop listening: `closed`, at most once and only after `listening` (N2).
    pub(crate) fn handle_dispose(&mut self) {
        self.listener.close_requested = true;
        self.close_if_requested();
    }

    fn close_if_requested(&mut self) {
        if self.listener.close_requested && self.is_listening() {
            self.listener.state = ListenerState::Closed;
            self.notify.closed(&mut self.listener);
        }
    }
}
