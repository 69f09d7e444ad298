//! [`Conn`]: a connection machine in the runtime's own turn loop ([`Actor`]), with its mailbox,
//! a handle for "other tasks" and a scripted socket; pumped by hand, call by call, or the way
//! the connection task does ([`Conn::drive`]).

use super::{addr, Log, Script, Wire};
use crate::proto::{
    ConnectionConfig, ConnectionMachine, Phase, TcpConnection, TcpConnectionNotify,
};
use crate::runtime::{Actor, ConnectionHandle, MachineCall, Settled};
use std::net::SocketAddr;

/// A connection machine, its mailbox and its socket.
pub(crate) struct Conn {
    actor: Actor,
    pub(crate) handle: ConnectionHandle,
    pub(crate) wire: Wire,
    pub(crate) log: Log,
}

impl Conn {
    /// A server-side connection, not accepted yet (script the wire, then [`accept`](Self::accept)).
    pub(crate) fn new_server(
        notify: Box<dyn TcpConnectionNotify>,
        config: ConnectionConfig,
        log: &Log,
    ) -> Conn {
        let (handle, mailbox, attachment) = ConnectionHandle::channel();
        let machine = ConnectionMachine::server(notify, config, Some(attachment));
        Conn::assemble(Actor::new(machine, mailbox), handle, log)
    }

    /// A client that has not started (call [`connect`](Self::connect) or drive it by hand).
    pub(crate) fn new_client(
        notify: Box<dyn TcpConnectionNotify>,
        config: ConnectionConfig,
        log: &Log,
    ) -> Conn {
        let (handle, mailbox, attachment) = ConnectionHandle::channel();
        let machine = ConnectionMachine::client(notify, config, Some(attachment));
        Conn::assemble(Actor::new(machine, mailbox), handle, log)
    }

    fn assemble(actor: Actor, handle: ConnectionHandle, log: &Log) -> Conn {
        Conn {
            actor,
            handle,
            wire: Wire::new(1000),
            log: log.clone(),
        }
    }

    /// The machine, for one call, as the connection task makes them: what the connection sent
    /// itself goes to the back of the mailbox when the call returns.
    pub(crate) fn machine(&mut self) -> MachineCall<'_> {
        self.actor.machine()
    }

    /// Server start: `accepted` and the first read turn, over [`wire`](Self::wire).
    pub(crate) fn accept(&mut self) {
        let transport = self.wire.transport();
        self.machine().handle_accepted(transport);
    }

    /// Client start with one address that connects over [`wire`](Self::wire).
    pub(crate) fn connect(&mut self) {
        self.machine().handle_dial("example.org", "7000");
        self.machine().handle_resolved(Ok(vec![addr(7000)]));
        assert_eq!(self.dialled(), [addr(7000)]);
        let transport = self.wire.transport();
        assert!(self.machine().handle_attempt_connected(transport).is_ok());
    }

    /// The addresses the machine asks to dial now, in order.
    pub(crate) fn dialled(&mut self) -> Vec<SocketAddr> {
        let mut machine = self.machine();
        std::iter::from_fn(|| machine.poll_attempt()).collect()
    }

    /// The connection, as its notifier sees it.
    pub(crate) fn connection(&self) -> &TcpConnection {
        self.actor.connection()
    }

    pub(crate) fn phase(&self) -> Phase {
        self.connection().phase()
    }

    /// Handles every message now in the mailbox, in order, with no readiness in between.
    /// Returns how many there were.
    pub(crate) fn messages(&mut self) -> usize {
        let mut handled = 0;
        while let Some(msg) = self.actor.next_message() {
            self.machine().handle_message(msg);
            handled += 1;
        }
        handled
    }

    /// The resume messages the machine asks for, by name, queued at the end of the mailbox
    /// as the connection task does once other tasks had their turn.
    pub(crate) fn queue_resumes(&mut self) -> Vec<String> {
        let mut names = Vec::new();
        self.actor
            .queue_resumes(|resume| names.push(format!("{resume:?}")));
        names
    }

    /// Queues the resumes and handles the mailbox: one yield-and-resume round.
    pub(crate) fn resume(&mut self) -> Vec<String> {
        let names = self.queue_resumes();
        self.messages();
        names
    }

    /// Whether the machine calls since the last ask queued messages of the connection's own,
    /// for which its task wakes itself once as its poll ends; asking pays it off.
    pub(crate) fn wake_owed(&mut self) -> bool {
        self.actor.take_wake_owed()
    }

    /// Winds the connection up as its task does once it finished: late messages handled,
    /// the mailbox closed, later messages refused.
    pub(crate) fn finish(&mut self) {
        self.actor.finish();
    }

    /// Runs the connection task's turn loop with a socket that is always ready, queueing the
    /// resumes at once after each yield, until nothing progresses or the connection finishes
    /// (then the late messages are handled, as the task does on its way out).
    pub(crate) fn drive(&mut self) {
        for _ in 0..10_000 {
            match self.actor.turns(|_, _| {}) {
                Settled::Finished => {
                    self.messages();
                    return;
                }
                Settled::Idle => return,
                Settled::Yielded => self.actor.queue_resumes(|_| {}),
            }
        }
        panic!("the connection never settled");
    }
}

/// A server connection (not accepted yet) notifying `script`.
pub(crate) fn server(script: Script) -> Conn {
    server_with(script, ConnectionConfig::default())
}

/// A server connection (not accepted yet) notifying `script`, with `config`.
pub(crate) fn server_with(script: Script, config: ConnectionConfig) -> Conn {
    let log = script.log();
    Conn::new_server(Box::new(script), config, &log)
}

/// A client connection (not started yet) notifying `script`.
pub(crate) fn client(script: Script) -> Conn {
    client_with(script, ConnectionConfig::default())
}

/// A client connection (not started yet) notifying `script`, with `config`.
pub(crate) fn client_with(script: Script, config: ConnectionConfig) -> Conn {
    let log = script.log();
    Conn::new_client(Box::new(script), config, &log)
}

/// `ConnectionConfig::default()` with `set` applied, for one-line test setups.
pub(crate) fn config(set: impl FnOnce(&mut ConnectionConfig)) -> ConnectionConfig {
    let mut config = ConnectionConfig::default();
    set(&mut config);
    config
}
