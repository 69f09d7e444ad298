//! The listening socket: what its notifier sees ([`TcpListener`]), the state machine that
//! turns bind and accept results into callbacks, and the task that runs it over a [`Network`].

use crate::backend::Network;
use crate::config::ConnectionConfig;
use crate::driver::ConnectionDriver;
use crate::notify::{TcpConnectionNotify, TcpListenNotify};
use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, watch};

/// Pause after an accept error, so a persistent one (too many open files) cannot spin (ponyc #4917).
const ACCEPT_ERROR_BACKOFF: Duration = Duration::from_millis(10);

/// Where a listener is in its life.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ListenerState {
    /// Binding has not finished.
    Binding,
    /// Listening on this address.
    Listening(SocketAddr),
    /// Bind or listen failed, with the error's text.
    NotListening(String),
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

/// A listener as its notifier sees it inside a callback (Pony's `TCPListener ref`).
#[derive(Debug)]
pub struct TcpListener {
    state: ListenerState,
    limit: usize,
    live: usize,
    close_requested: bool,
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
}

/// A listener's notifier and state, driven by bind and accept events (sans-IO).
pub(crate) struct ListenerMachine {
    notify: Box<dyn TcpListenNotify>,
    listener: TcpListener,
}

impl ListenerMachine {
    pub(crate) fn new(notify: Box<dyn TcpListenNotify>, limit: usize) -> Self {
        ListenerMachine {
            notify,
            listener: TcpListener {
                state: ListenerState::Binding,
                limit,
                live: 0,
                close_requested: false,
            },
        }
    }

    pub(crate) fn state(&self) -> &ListenerState {
        &self.listener.state
    }

    /// Bind finished: exactly one of `listening` / `not_listening` (N1).
    pub(crate) fn bound(&mut self, result: io::Result<SocketAddr>) {
        match result {
            Ok(address) => {
                self.listener.state = ListenerState::Listening(address);
                self.notify.listening(&mut self.listener);
                self.close_if_requested();
            }
            Err(e) => {
                self.listener.state = ListenerState::NotListening(e.to_string());
                self.notify.not_listening(&mut self.listener);
            }
        }
    }

    pub(crate) fn is_listening(&self) -> bool {
        matches!(self.listener.state, ListenerState::Listening(_))
    }

    /// Whether to accept now: listening and below the limit (N3).
    pub(crate) fn wants_accept(&self) -> bool {
        self.is_listening() && !self.listener.is_paused()
    }

    /// A peer connected: the notifier's factory gives its notifier, or `None` rejects it (N4).
    pub(crate) fn accepted(&mut self) -> Option<Box<dyn TcpConnectionNotify>> {
        let notify = self.notify.connected(&mut self.listener);
        if notify.is_some() {
            self.listener.live += 1;
        }
        self.close_if_requested();
        notify
    }

    /// The most accepted-and-not-closed connections at once; 0 is unlimited.
    pub(crate) fn limit(&self) -> usize {
        self.listener.limit()
    }

    /// An accepted connection closed: one slot frees (N3).
    pub(crate) fn connection_closed(&mut self) {
        self.listener.live = self.listener.live.saturating_sub(1);
    }

    /// Stops listening: `closed`, at most once and only after `listening` (N2).
    pub(crate) fn close(&mut self) {
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

/// A handle to a running listener.
#[derive(Clone, Debug)]
pub struct ListenerHandle {
    dispose: mpsc::UnboundedSender<()>,
    state: watch::Receiver<ListenerState>,
}

impl ListenerHandle {
    /// Queues a close of the listener. Connections it accepted are not affected.
    pub fn dispose(&self) {
        let _ = self.dispose.send(());
    }

    /// The listener's current state.
    pub fn state(&self) -> ListenerState {
        self.state.borrow().clone()
    }

    /// Waits until binding finished: the bound address, or the bind error.
    pub async fn listening(&self) -> io::Result<SocketAddr> {
        let mut state = self.state.clone();
        let state = state
            .wait_for(|s| *s != ListenerState::Binding)
            .await
            .map(|s| s.clone())
            .unwrap_or(ListenerState::Closed);
        match state {
            ListenerState::Listening(address) => Ok(address),
            ListenerState::NotListening(e) => {
                Err(io::Error::new(io::ErrorKind::AddrNotAvailable, e))
            }
            other => Err(io::Error::new(
                io::ErrorKind::NotConnected,
                other.to_string(),
            )),
        }
    }

    /// Waits until the listener has closed (or failed to listen).
    pub async fn closed(&self) {
        let mut state = self.state.clone();
        let _ = state
            .wait_for(|s| matches!(s, ListenerState::Closed | ListenerState::NotListening(_)))
            .await;
    }
}

/// Spawns a listener task over `net`.
pub(crate) fn spawn_listener<N: Network>(
    net: N,
    notify: Box<dyn TcpListenNotify>,
    limit: usize,
    config: ConnectionConfig,
    host: String,
    service: String,
) -> ListenerHandle {
    let (dispose_tx, dispose_rx) = mpsc::unbounded_channel();
    let (state_tx, state_rx) = watch::channel(ListenerState::Binding);
    let machine = ListenerMachine::new(notify, limit);
    tokio::spawn(run_listener(
        net, machine, config, host, service, dispose_rx, state_tx,
    ));
    ListenerHandle {
        dispose: dispose_tx,
        state: state_rx,
    }
}

async fn run_listener<N: Network>(
    net: N,
    mut machine: ListenerMachine,
    config: ConnectionConfig,
    host: String,
    service: String,
    mut dispose: mpsc::UnboundedReceiver<()>,
    state: watch::Sender<ListenerState>,
) {
    let socket = match net.listen(&host, &service).await {
        Ok(socket) => {
            machine.bound(net.listener_address(&socket));
            Some(socket)
        }
        Err(e) => {
            machine.bound(Err(e));
            None
        }
    };
    publish(&state, machine.state());
    let Some(socket) = socket else {
        return;
    };
    // Closed connections are counted without waking the listener; only a listener paused at
    // its limit needs the wake-up, to resume accepting (N3).
    let closed = Arc::new(AtomicUsize::new(0));
    let (closed_tx, mut closed_rx) = mpsc::unbounded_channel::<()>();
    let mut handles_alive = true;
    while machine.is_listening() {
        count_closed(&mut machine, &closed);
        tokio::select! {
            biased;
            msg = dispose.recv(), if handles_alive => match msg {
                Some(()) => machine.close(),
                // Every handle dropped: keep listening, as a Pony listener does.
                None => handles_alive = false,
            },
            // The count is taken at the top of the loop. Only a limit needs the wake-up.
            Some(()) = closed_rx.recv(), if machine.limit() > 0 => {}
            accepted = net.accept(&socket), if machine.wants_accept() => match accepted {
                Ok((stream, _peer)) => {
                    // Closes while waiting for this peer count before its `connected`.
                    count_closed(&mut machine, &closed);
                    if let Some(notify) = machine.accepted() {
                        let on_finish = OnFinish {
                            closed: closed.clone(),
                            wake: (machine.limit() > 0).then(|| closed_tx.clone()),
                        };
                        ConnectionDriver::spawn_server(net.clone(), notify, config, stream, on_finish);
                    }
                }
                Err(e) => {
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(ACCEPT_ERROR_BACKOFF).await;
                }
            },
        }
        publish(&state, machine.state());
    }
}

/// What an accepted connection's task does when it ends: counts itself closed, and wakes the
/// listener only if a limit may have paused it (N3). A struct, not a boxed closure, so an
/// accept allocates nothing for it.
pub(crate) struct OnFinish {
    closed: Arc<AtomicUsize>,
    wake: Option<mpsc::UnboundedSender<()>>,
}

impl OnFinish {
    pub(crate) fn call(self) {
        self.closed.fetch_add(1, Ordering::AcqRel);
        if let Some(wake) = self.wake {
            let _ = wake.send(());
        }
    }
}

/// Tells the machine of the connections that closed since last asked.
fn count_closed(machine: &mut ListenerMachine, closed: &AtomicUsize) {
    for _ in 0..closed.swap(0, Ordering::AcqRel) {
        machine.connection_closed();
    }
}

/// Publishes the listener's state to its handles when it changed: most turns (an accept, a
/// connection closing) leave it as it was, and a send would wake every waiter for nothing.
fn publish(state: &watch::Sender<ListenerState>, current: &ListenerState) {
    state.send_if_modified(|published| {
        if published == current {
            return false;
        }
        *published = current.clone();
        true
    });
}
