//! The connection task: the Rust form of Pony's connection actor. It owns an [`Actor`] (the
//! sans-IO machine and its mailbox) and feeds it from name resolution, the connect attempts,
//! the mailbox and socket readiness, over any [`Network`].

use super::actor::{Actor, Settled};
use super::backend::{BoxFuture, Network};
use super::dial;
use super::handle::ConnectionHandle;
use super::mailbox::Mailbox;
use super::stream_transport::StreamTransport;
use crate::proto::{
    Addresses, Attachment, ConnectFailure, ConnectionConfig, ConnectionMachine, TcpConnectionNotify,
};
use smallvec::SmallVec;
use std::future::{poll_fn, Future};
use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use tokio::sync::mpsc;
use tracing::Instrument;

/// Maps a failed connect attempt to the reason `connect_failed` reports.
fn failure_reason(error: &io::Error) -> ConnectFailure {
    match error.kind() {
        io::ErrorKind::TimedOut => ConnectFailure::TimedOut,
        _ => ConnectFailure::Refused,
    }
}

/// One connect attempt in flight.
type Attempt<N> = BoxFuture<'static, io::Result<<N as Network>::Stream>>;

/// Where the resolution of a client's name stands.
enum Resolution {
    /// Known at once (an address literal, see [`Network::resolve_at_once`]): handled in the
    /// first turn, where a future ready at its first poll would be.
    Ready(io::Result<SocketAddr>),
    /// The backend's resolution.
    Waiting(BoxFuture<'static, io::Result<Vec<SocketAddr>>>),
}

impl Resolution {
    /// Starts resolving `host` and `service` over `net`.
    fn start<N: Network>(net: &N, host: &str, service: &str) -> Self {
        match net.resolve_at_once(host, service) {
            Some(resolved) => Resolution::Ready(resolved),
            None => Resolution::Waiting(net.resolve(host, service)),
        }
    }
}

/// The host and service a client was asked to dial, kept until its first poll runs
/// `proxy_via` with them (which must run in its task). Inline when they are short, as an
/// address literal and a port are: no allocation per connect for them.
#[derive(Default)]
struct DialledNames {
    /// The host's bytes, then the service's.
    text: SmallVec<[u8; 64]>,
    host_len: usize,
}

impl DialledNames {
    fn new(host: &str, service: &str) -> Self {
        let mut text = SmallVec::from_slice(host.as_bytes());
        text.extend_from_slice(service.as_bytes());
        DialledNames {
            text,
            host_len: host.len(),
        }
    }

    /// The host and the service.
    fn split(&self) -> (&str, &str) {
        let (host, service) = self.text.split_at(self.host_len);
        // SAFETY: `text` is the bytes of two `str`s, host then service, and `host_len` the
        // first's length, so each half is exactly one of them: valid UTF-8. (Checking again
        // cost more than the allocation this type saves.)
        unsafe {
            (
                std::str::from_utf8_unchecked(host),
                std::str::from_utf8_unchecked(service),
            )
        }
    }
}

/// A client's way to its peer: the names to dial, the name being resolved, then the attempts
/// in flight.
struct Dialling<N: Network> {
    names: DialledNames,
    resolving: Option<Resolution>,
    /// Inline for the usual one or two addresses: no allocation per connect.
    attempts: SmallVec<[Option<Attempt<N>>; 2]>,
}

impl<N: Network> Dialling<N> {
    /// Polls resolution and the connect attempts, in resolution order (C2), and tells the
    /// machine what came of them. Returns whether dialling is over (connected or failed).
    fn poll(
        &mut self,
        net: &N,
        machine: &mut ConnectionMachine,
        mailbox: &Mailbox,
        cx: &mut Context<'_>,
    ) -> bool {
        let resolved = match self.resolving.take() {
            None => None,
            Some(Resolution::Ready(result)) => {
                Some(result.map(|address| Addresses::from_iter([address])))
            }
            Some(Resolution::Waiting(mut resolving)) => match resolving.as_mut().poll(cx) {
                Poll::Ready(result) => Some(result.map(Addresses::from)),
                Poll::Pending => {
                    self.resolving = Some(Resolution::Waiting(resolving));
                    None
                }
            },
        };
        if let Some(result) = resolved {
            machine.handle_resolved(result);
            while let Some(address) = machine.poll_attempt() {
                self.attempts.push(Some(net.connect(address)));
            }
        }
        for slot in self.attempts.iter_mut() {
            if !machine.is_connecting() {
                break;
            }
            let Some(attempt) = slot.as_mut() else {
                continue;
            };
            let Poll::Ready(result) = attempt.as_mut().poll(cx) else {
                continue;
            };
            *slot = None;
            match result {
                Ok(stream) => {
                    let transport = StreamTransport::new(stream, mailbox.waker());
                    // A late success after the connection was decided is dropped: closed silently.
                    let _ = machine.handle_attempt_connected(Box::new(transport));
                }
                Err(e) => machine.handle_attempt_failed(failure_reason(&e)),
            }
        }
        // Once over, the caller drops this: the other attempts are abandoned, and dropping them
        // closes their sockets (C2, C6).
        !machine.is_connecting()
    }
}

/// One running connection over network `N`.
///
/// Its futures hold it boxed: it is some 550 bytes, and tokio moves a spawned future about ten
/// times between `spawn` and completion (into the task, and each stage change over it), where a
/// box moves as a pointer. Unboxed, those copies were an eighth of a connection cycle's
/// instructions; the box is one allocation of a size the allocator serves from its cache.
pub(crate) struct ConnectionTask<N: Network> {
    actor: Actor,
    /// The network it runs over, for its connect attempts and the connections its notifier
    /// dials.
    net: N,
    /// `None` for an accepted connection, which dials nothing, and for a client once it
    /// connected or failed.
    dialling: Option<Dialling<N>>,
    on_finish: Option<OnFinish>,
}

impl<N: Network> ConnectionTask<N> {
    /// A client that dials `host` and `service`: its handle, and the future that runs it, for
    /// the caller to spawn or to await in a task of its own.
    pub(crate) fn client(
        net: N,
        notify: Box<dyn TcpConnectionNotify>,
        config: ConnectionConfig,
        host: &str,
        service: &str,
    ) -> (ConnectionHandle, impl Future<Output = ()> + Send + 'static) {
        let (handle, mailbox, attachment) = ConnectionHandle::channel();
        let run = Self::client_on(net, notify, config, host, service, (mailbox, attachment));
        (handle, run)
    }

    /// Spawns a client that dials `host` and `service`, on a mailbox made beforehand (a
    /// connection a notifier dialled, whose handle it already holds).
    pub(crate) fn spawn_client_on(
        net: &N,
        notify: Box<dyn TcpConnectionNotify>,
        config: ConnectionConfig,
        host: &str,
        service: &str,
        channel: (Mailbox, Attachment),
    ) {
        net.spawn(Self::client_on(
            net.clone(),
            notify,
            config,
            host,
            service,
            channel,
        ));
    }

    /// The future that runs a client dialling `host` and `service` on a mailbox made
    /// beforehand. Nothing happens until it is first polled.
    fn client_on(
        net: N,
        notify: Box<dyn TcpConnectionNotify>,
        config: ConnectionConfig,
        host: &str,
        service: &str,
        (mailbox, attachment): (Mailbox, Attachment),
    ) -> impl Future<Output = ()> + Send + 'static {
        let machine = ConnectionMachine::client(notify, config, Some(attachment));
        let dialling = Dialling {
            names: DialledNames::new(host, service),
            resolving: None,
            attempts: SmallVec::new(),
        };
        let mut task = Box::new(ConnectionTask {
            actor: Actor::new(machine, mailbox),
            net,
            dialling: Some(dialling),
            on_finish: None,
        });
        async move {
            if let Some(dialling) = task.dialling.as_mut() {
                let names = std::mem::take(&mut dialling.names);
                let (host, service) = names.split();
                let (host, service) = task.actor.machine().handle_dial(host, service);
                dialling.resolving = Some(Resolution::start(&task.net, &host, &service));
            }
            task.run().await;
        }
        .instrument(tracing::debug_span!(crate::spans::CONNECTION))
    }

    /// Spawns a connection for a stream a listener accepted.
    pub(crate) fn spawn_server(
        net: &N,
        notify: Box<dyn TcpConnectionNotify>,
        config: ConnectionConfig,
        stream: N::Stream,
        on_finish: OnFinish,
    ) -> ConnectionHandle {
        let (handle, mailbox, attachment) = ConnectionHandle::channel();
        let machine = ConnectionMachine::server(notify, config, Some(attachment));
        let mut task = Box::new(ConnectionTask::<N> {
            actor: Actor::new(machine, mailbox),
            net: net.clone(),
            dialling: None,
            on_finish: Some(on_finish),
        });
        net.spawn(
            async move {
                let transport = StreamTransport::new(stream, task.actor.mailbox().waker());
                task.actor.machine().handle_accepted(Box::new(transport));
                task.start_dials();
                task.run().await;
            }
            .instrument(tracing::debug_span!(crate::spans::CONNECTION)),
        );
        handle
    }

    /// Runs the connection to its end. Borrows the task, so the spawned future holds one
    /// task rather than a second copy moved into this future (smaller tasks, cheaper spawns).
    async fn run(&mut self) {
        poll_fn(|cx| self.poll_turns(cx)).await;
        self.actor.finish();
        // Asked for in the last callback (a reconnect from `closed` or `connect_failed`).
        self.start_dials();
        if let Some(on_finish) = self.on_finish.take() {
            on_finish.call();
        }
    }

    /// Runs turns until nothing is ready, the connection yields to the runtime, or it
    /// finishes.
    fn poll_turns(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        self.actor.register(cx.waker());
        let mut wake_owed = false;
        loop {
            // Queued only now, so messages other tasks sent during the yield come first (R4).
            self.actor.queue_resumes(|_| {});
            let (dialling, net) = (&mut self.dialling, &self.net);
            let settled = self.actor.turns(|machine, mailbox| {
                if let Some(over) = dialling.as_mut().map(|d| d.poll(net, machine, mailbox, cx)) {
                    if over {
                        *dialling = None;
                    }
                }
            });
            self.start_dials();
            // Messages the task sent itself were handled in these turns, but would have woken
            // it as another task's do: it wakes itself once as it returns `Pending`, so it is
            // polled just as often.
            wake_owed |= self.actor.take_wake_owed();
            match settled {
                Settled::Finished => return Poll::Ready(()),
                Settled::Yielded if self.actor.yield_asked() => {
                    // The notifier asked to let other work run first (R3).
                    cx.waker().wake_by_ref();
                    return Poll::Pending;
                }
                // A turn reached its limits: like a Pony actor ending its turn, unless the
                // network lets it go on in this poll (see `Network::poll_after_yield`).
                Settled::Yielded => match self.net.poll_after_yield(cx) {
                    Poll::Ready(()) => continue,
                    Poll::Pending => return Poll::Pending,
                },
                Settled::Idle => {
                    if wake_owed {
                        cx.waker().wake_by_ref();
                    }
                    return Poll::Pending;
                }
            }
        }
    }
}

impl<N: Network> ConnectionTask<N> {
    /// Starts the connections the notifier dialled since last asked, on this task's host.
    fn start_dials(&mut self) {
        if self.actor.has_dials() {
            dial::start(&self.net, self.actor.machine().poll_dials());
        }
    }
}

/// What an accepted connection's task does when it ends: counts itself closed, and wakes the
/// listener only if a limit may have paused it (N3). A struct, not a boxed closure, so an
/// accept allocates nothing for it.
pub(crate) struct OnFinish {
    pub(crate) closed: Arc<AtomicUsize>,
    pub(crate) wake: Option<mpsc::UnboundedSender<()>>,
}

impl OnFinish {
    fn call(self) {
        self.closed.fetch_add(1, Ordering::AcqRel);
        if let Some(wake) = self.wake {
            let _ = wake.send(());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::DialledNames;

    #[test]
    fn dialled_names_give_back_the_host_and_service_whether_inline_or_not() {
        let long = "a-host-name-longer-than-the-inline-space.of.the.names.example.org";
        for (host, service) in [
            ("127.0.0.1", "7000"),
            ("", ""),
            ("héte", "80"),
            (long, "443"),
        ] {
            assert_eq!(DialledNames::new(host, service).split(), (host, service));
        }
        assert_eq!(DialledNames::default().split(), ("", ""));
    }
}
