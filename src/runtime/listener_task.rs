//! The listener task: binds over a [`Network`], feeds the sans-IO [`ListenerMachine`] its bind
//! and accept events, spawns a connection task per accepted peer, and publishes the
//! listener's state to its [`ListenerHandle`]s.

use super::backend::Network;
use super::connection_task::{ConnectionTask, OnFinish};
use super::dial;
use super::published::{self, Publisher, Subscriber};
use crate::proto::{BindError, ConnectionConfig, ListenerMachine, ListenerState, TcpListenNotify};
use std::future::poll_fn;
use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::Poll;
use std::time::Duration;
use tokio::sync::mpsc;
use tracing::Instrument;

/// Pause after an accept error, so a persistent one (too many open files) cannot spin (ponyc #4917).
const ACCEPT_ERROR_BACKOFF: Duration = Duration::from_millis(10);

/// Why [`ListenerHandle::listening`] gave no address.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ListenError {
    /// Binding or listening on `host`:`service` failed (the listener called `not_listening`).
    #[error("cannot listen on {host}:{service}: {source}")]
    NotListening {
        /// The host asked for.
        host: String,
        /// The service asked for.
        service: String,
        /// What the network reported.
        source: BindError,
    },
    /// The listener on `host`:`service` had already closed, or its task ended.
    #[error("the listener on {host}:{service} is closed")]
    Closed {
        /// The host asked for.
        host: String,
        /// The service asked for.
        service: String,
    },
}

/// For callers that handle every failure as an `io::Error`: a bind error keeps its kind; a
/// closed listener is `NotConnected`.
impl From<ListenError> for io::Error {
    fn from(error: ListenError) -> Self {
        let kind = match &error {
            ListenError::NotListening { source, .. } => source.kind,
            ListenError::Closed { .. } => io::ErrorKind::NotConnected,
        };
        io::Error::new(kind, error)
    }
}

/// A handle to a running listener.
#[derive(Clone, Debug)]
pub struct ListenerHandle {
    dispose: mpsc::UnboundedSender<()>,
    state: Subscriber<ListenerState>,
    host: String,
    service: String,
}

impl ListenerHandle {
    /// Queues a close of the listener. Connections it accepted are not affected.
    pub fn dispose(&self) {
        let _ = self.dispose.send(());
    }

    /// The listener's current state.
    pub fn state(&self) -> ListenerState {
        self.state.get()
    }

    /// Waits until binding finished: the bound address, or why there is none.
    pub async fn listening(&self) -> Result<SocketAddr, ListenError> {
        let state = (self.state)
            .wait_for(|s| *s != ListenerState::Binding)
            .await
            .unwrap_or(ListenerState::Closed);
        let (host, service) = (self.host.clone(), self.service.clone());
        match state {
            ListenerState::Listening(address) => Ok(address),
            ListenerState::NotListening(source) => Err(ListenError::NotListening {
                host,
                service,
                source,
            }),
            ListenerState::Binding | ListenerState::Closed => {
                Err(ListenError::Closed { host, service })
            }
        }
    }

    /// Waits until the listener has closed (or failed to listen).
    pub async fn closed(&self) {
        let _ = (self.state)
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
    host: &str,
    service: &str,
) -> ListenerHandle {
    let (dispose_tx, dispose_rx) = mpsc::unbounded_channel();
    let (state_tx, state_rx) = published::channel(ListenerState::Binding);
    let machine = ListenerMachine::new(notify, limit, config);
    let (host, service) = (host.to_string(), service.to_string());
    net.spawn(
        run_listener(
            net.clone(),
            machine,
            host.clone(),
            service.clone(),
            dispose_rx,
            state_tx,
        )
        .instrument(tracing::debug_span!(crate::spans::LISTENER)),
    );
    ListenerHandle {
        dispose: dispose_tx,
        state: state_rx,
        host,
        service,
    }
}

async fn run_listener<N: Network>(
    net: N,
    mut machine: ListenerMachine,
    host: String,
    service: String,
    mut dispose: mpsc::UnboundedReceiver<()>,
    state: Publisher<ListenerState>,
) {
    let socket = match net.listen(&host, &service).await {
        Ok(socket) => {
            machine.handle_bound(net.listener_address(&socket));
            Some(socket)
        }
        Err(e) => {
            machine.handle_bound(Err(e));
            None
        }
    };
    dial::start(&net, machine.poll_dials());
    // What the handles were last sent: only this task sends, so comparing with this copy
    // needs none of the channel's locking.
    let mut published = ListenerState::Binding;
    publish(&state, &mut published, machine.state());
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
        let event = next_event(
            &net,
            &socket,
            handles_alive.then_some(&mut dispose),
            (machine.limit() > 0).then_some(&mut closed_rx),
            machine.wants_accept(),
        )
        .await;
        match event {
            Event::Dispose(Some(())) => machine.handle_dispose(),
            // Every handle dropped: keep listening, as a Pony listener does.
            Event::Dispose(None) => handles_alive = false,
            // The count is taken at the top of the loop.
            Event::Closed => {}
            Event::Accepted(Ok((stream, _peer))) => {
                // Closes while waiting for this peer count before its `connected`.
                count_closed(&mut machine, &closed);
                if let Some(notify) = machine.handle_accepted() {
                    let on_finish = OnFinish {
                        closed: closed.clone(),
                        wake: (machine.limit() > 0).then(|| closed_tx.clone()),
                    };
                    ConnectionTask::<N>::spawn_server(
                        &net,
                        notify,
                        machine.config(),
                        stream,
                        on_finish,
                    );
                }
            }
            Event::Accepted(Err(e)) => {
                tracing::warn!(error = %e, "accept failed");
                tokio::time::sleep(ACCEPT_ERROR_BACKOFF).await;
            }
        }
        // What its callbacks dialled this turn (`connected`, `closed`).
        dial::start(&net, machine.poll_dials());
        publish(&state, &mut published, machine.state());
    }
}

/// What woke the listener.
enum Event<S> {
    /// A handle's dispose, or `None`: every handle was dropped.
    Dispose(Option<()>),
    /// A connection closed while a limit may pause the listener (N3).
    Closed,
    /// A peer, or why accepting failed.
    Accepted(io::Result<(S, SocketAddr)>),
}

/// Waits for the next event, trying in this order (a biased select): a dispose from
/// `dispose`, a close from `closed` (given only under a limit), a peer (only when
/// `accepting`). A network that can poll its listener ([`Network::poll_accept`]) is polled
/// directly; another's accept future is made for this wait and dropped with it, which its
/// cancel safety allows.
async fn next_event<N: Network>(
    net: &N,
    socket: &N::Listener,
    mut dispose: Option<&mut mpsc::UnboundedReceiver<()>>,
    mut closed: Option<&mut mpsc::UnboundedReceiver<()>>,
    accepting: bool,
) -> Event<N::Stream> {
    let mut accept = None;
    poll_fn(|cx| {
        if let Some(dispose) = dispose.as_mut() {
            if let Poll::Ready(msg) = dispose.poll_recv(cx) {
                return Poll::Ready(Event::Dispose(msg));
            }
        }
        // The listener holds a sender, so the channel never ends.
        if let Some(Poll::Ready(Some(()))) = closed.as_mut().map(|closed| closed.poll_recv(cx)) {
            return Poll::Ready(Event::Closed);
        }
        if !accepting {
            return Poll::Pending;
        }
        let accepted = match net.poll_accept(socket, cx) {
            Some(accepted) => accepted,
            None => accept
                .get_or_insert_with(|| net.accept(socket))
                .as_mut()
                .poll(cx),
        };
        accepted.map(Event::Accepted)
    })
    .await
}

/// Tells the machine of the connections that closed since last asked.
fn count_closed(machine: &mut ListenerMachine, closed: &AtomicUsize) {
    for _ in 0..closed.swap(0, Ordering::AcqRel) {
        machine.handle_connection_closed();
    }
}

/// Publishes the listener's state to its handles when it differs from `published`, what they
/// were last sent (kept up to date here): most turns (an accept, a connection closing) leave it
/// as it was, and a send would wake every waiter for nothing.
fn publish(
    state: &Publisher<ListenerState>,
    published: &mut ListenerState,
    current: &ListenerState,
) {
    if published != current {
        *published = current.clone();
        state.publish(current.clone());
    }
}
