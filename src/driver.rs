//! The connection task: the Rust form of Pony's connection actor. It owns a
//! [`ConnectionMachine`] and feeds it one turn at a time from the connect attempts, the
//! mailbox and socket readiness, over any [`Network`].

use crate::backend::{BoxFuture, Network};
use crate::config::ConnectionConfig;
use crate::connection::Message;
use crate::handle::{ConnectionHandle, Mailbox};
use crate::listener::OnFinish;
use crate::machine::ConnectionMachine;
use crate::notify::{ConnectFailure, TcpConnectionNotify};
use crate::stream_transport::StreamTransport;
use smallvec::SmallVec;
use std::future::poll_fn;
use std::io;
use std::net::SocketAddr;
use std::task::{Context, Poll};

/// Maps a failed connect attempt to the reason `connect_failed` reports.
pub(crate) fn failure_reason(error: &io::Error) -> ConnectFailure {
    match error.kind() {
        io::ErrorKind::TimedOut => ConnectFailure::TimedOut,
        _ => ConnectFailure::Refused,
    }
}

/// One connect attempt in flight.
type Attempt<N> = BoxFuture<'static, io::Result<<N as Network>::Stream>>;

/// One running connection over network `N`.
pub(crate) struct ConnectionDriver<N: Network> {
    net: N,
    machine: ConnectionMachine,
    mailbox: Mailbox,
    handle: ConnectionHandle,
    resolving: Option<BoxFuture<'static, io::Result<Vec<SocketAddr>>>>,
    /// Inline for the usual one or two addresses: no allocation per connect.
    attempts: SmallVec<[Option<Attempt<N>>; 2]>,
    /// Resume messages to queue on the next poll, after other tasks had their turn.
    resumes: Vec<Message>,
    on_finish: Option<OnFinish>,
}

impl<N: Network> ConnectionDriver<N> {
    /// Spawns a client that dials `host` and `service`.
    pub(crate) fn spawn_client(
        net: N,
        notify: Box<dyn TcpConnectionNotify>,
        config: ConnectionConfig,
        host: &str,
        service: &str,
    ) -> ConnectionHandle {
        let (handle, mailbox) = ConnectionHandle::channel();
        let machine = ConnectionMachine::client(notify, config, handle.clone());
        let mut driver = Self::new(net, machine, mailbox, handle.clone(), None);
        // Both names in one allocation: `proxy_via` runs in the task, which must own them.
        let names = [host, service].concat();
        let host_len = host.len();
        tokio::spawn(async move {
            // Scoped so the dialled names are not kept in the task across the await.
            {
                let (host, service) = names.split_at(host_len);
                let (host, service) = driver.machine.start_client(host, service);
                drop(names);
                driver.resolving = Some(driver.net.resolve(&host, &service));
            }
            driver.run().await;
        });
        handle
    }

    /// Spawns a connection for a stream a listener accepted.
    pub(crate) fn spawn_server(
        net: N,
        notify: Box<dyn TcpConnectionNotify>,
        config: ConnectionConfig,
        stream: N::Stream,
        on_finish: OnFinish,
    ) -> ConnectionHandle {
        let (handle, mailbox) = ConnectionHandle::channel();
        let machine = ConnectionMachine::server(notify, config, handle.clone());
        let mut driver = Self::new(net, machine, mailbox, handle.clone(), Some(on_finish));
        tokio::spawn(async move {
            let transport = StreamTransport::new(stream, driver.mailbox.waker());
            driver.machine.accept(Box::new(transport));
            driver.run().await;
        });
        handle
    }

    fn new(
        net: N,
        machine: ConnectionMachine,
        mailbox: Mailbox,
        handle: ConnectionHandle,
        on_finish: Option<OnFinish>,
    ) -> Self {
        ConnectionDriver {
            net,
            machine,
            mailbox,
            handle,
            resolving: None,
            attempts: SmallVec::new(),
            resumes: Vec::new(),
            on_finish,
        }
    }

    /// Runs the connection to its end. Borrows the driver, so the spawned task holds one
    /// driver rather than a second copy moved into this future (smaller tasks, cheaper spawns).
    async fn run(&mut self) {
        poll_fn(|cx| self.poll_turns(cx)).await;
        self.finish();
    }

    /// Runs turns until nothing is ready, the connection yields, or it finishes.
    fn poll_turns(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        self.mailbox.register(cx.waker());
        // Queued only now, so messages other tasks sent during the yield come first (R4).
        for resume in self.resumes.drain(..) {
            self.handle.send(resume);
        }
        loop {
            if self.machine.is_finished() {
                return Poll::Ready(());
            }
            // Connect progress needs no second pass: everything below sees it in this one.
            self.poll_connect(cx);
            let progressed = self.machine.pass(self.mailbox.try_recv());
            if self.machine.is_finished() {
                return Poll::Ready(());
            }
            let resumes = self.machine.take_resumes();
            if !resumes.is_empty() {
                // Yield to the runtime like a Pony actor ending its turn.
                self.resumes = resumes;
                cx.waker().wake_by_ref();
                return Poll::Pending;
            }
            if !progressed {
                return Poll::Pending;
            }
        }
    }

    /// Polls resolution and the connect attempts, in resolution order (C2).
    fn poll_connect(&mut self, cx: &mut Context<'_>) {
        if let Some(resolving) = self.resolving.as_mut() {
            if let Poll::Ready(result) = resolving.as_mut().poll(cx) {
                self.resolving = None;
                for address in self.machine.resolved(result) {
                    self.attempts.push(Some(self.net.connect(address)));
                }
            }
        }
        for slot in self.attempts.iter_mut() {
            if !self.machine.is_connecting() {
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
                    let transport = StreamTransport::new(stream, self.mailbox.waker());
                    // A late success after the connection was decided is dropped: closed silently.
                    let _ = self.machine.attempt_connected(Box::new(transport));
                }
                Err(e) => self.machine.attempt_failed(failure_reason(&e)),
            }
        }
        if !self.machine.is_connecting() {
            // The other attempts are abandoned; dropping them closes their sockets (C2, C6).
            self.attempts.clear();
            self.resolving = None;
        }
    }

    fn finish(&mut self) {
        // Messages that arrived too late are handled as the contract says: writes are dropped
        // and counted (W1); nothing else has an effect on a finished connection.
        for msg in self.mailbox.close() {
            self.machine.handle(msg);
        }
        self.mailbox.finish();
        if let Some(on_finish) = self.on_finish.take() {
            on_finish.call();
        }
    }
}
