//! The turn loop of one connection, the Rust form of a Pony actor: a machine and its mailbox.
//! Each pass handles the next message and then readiness; what the machine sent itself goes
//! to the back of the mailbox as soon as the call that sent it returns; and when it yields,
//! its resumes wait until other tasks had their turn (R4).
//!
//! The connection task runs this loop inside its future; the unit tests run the very same
//! loop by hand, with a scripted socket that is always ready.

use super::mailbox::Mailbox;
use crate::proto::{ConnectionMachine, Message};
use std::ops::{Deref, DerefMut};

/// How a run of turns ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Settled {
    /// The connection reached `closed` or `connect_failed`.
    Finished,
    /// It yielded: its resumes are to be queued by [`Actor::queue_resumes`] once other tasks ran.
    Yielded,
    /// Nothing more to do until a message or readiness arrives, or the runtime's wake after a
    /// write gave way ([`ConnectionMachine::gave_way`]).
    Idle,
}

/// A connection machine and its mailbox.
pub(crate) struct Actor {
    machine: ConnectionMachine,
    mailbox: Mailbox,
}

impl Actor {
    #[inline]
    pub(crate) fn new(machine: ConnectionMachine, mailbox: Mailbox) -> Self {
        Actor { machine, mailbox }
    }

    /// The connection, as its notifier sees it.
    #[cfg(test)]
    pub(crate) fn connection(&self) -> &crate::proto::TcpConnection {
        self.machine.connection()
    }

    /// The mailbox, for its waker.
    pub(crate) fn mailbox(&self) -> &Mailbox {
        &self.mailbox
    }

    /// Records the waker of the task's current poll, for messages and socket readiness.
    pub(crate) fn register(&mut self, waker: &std::task::Waker) {
        self.mailbox.register(waker);
    }

    /// Whether the current poll queued messages of its own, and so owes itself a wake as it
    /// ends; asking pays it off.
    pub(crate) fn take_wake_owed(&mut self) -> bool {
        self.mailbox.take_wake_owed()
    }

    /// Whether the notifier asked for connections not started yet (see
    /// [`ConnectionMachine::poll_dials`]). Asked without a [`machine`](Self::machine) call,
    /// whose end hands over messages and counters: after every run of turns, for nothing.
    pub(crate) fn has_dials(&self) -> bool {
        self.machine.has_dials()
    }

    /// Whether the notifier asked for the yield its turns ended in (`received` returned
    /// false), rather than a turn reaching its limits (see [`ConnectionMachine::yield_asked`]).
    pub(crate) fn yield_asked(&self) -> bool {
        self.machine.yield_asked()
    }

    /// The next message in the mailbox, if any.
    #[cfg(test)]
    pub(crate) fn next_message(&mut self) -> Option<Message> {
        self.mailbox.try_recv()
    }

    /// The machine, for one call: when the call ends, the messages the machine sent itself go
    /// to the back of the mailbox, and its counters to the handles.
    pub(crate) fn machine(&mut self) -> MachineCall<'_> {
        MachineCall { actor: self }
    }

    /// Runs passes until nothing progresses, the connection yields, or it finishes. `progress`
    /// runs first in each pass (the connection task polls resolution and connect attempts
    /// there), with the mailbox for the socket's waker.
    pub(crate) fn turns(
        &mut self,
        mut progress: impl FnMut(&mut ConnectionMachine, &Mailbox),
    ) -> Settled {
        let settled = loop {
            if self.machine.is_finished() {
                break Settled::Finished;
            }
            progress(&mut self.machine, &self.mailbox);
            self.send_messages();
            let msg = self.mailbox.try_recv();
            let progressed = self.machine.pass(msg);
            self.send_messages();
            if self.machine.is_finished() {
                break Settled::Finished;
            }
            if self.machine.has_resumes() {
                break Settled::Yielded;
            }
            if !progressed || self.machine.gave_way() {
                break Settled::Idle;
            }
        };
        // Once per run of turns: no other task runs meanwhile to read them.
        self.mailbox.publish(self.machine.connection().stats());
        settled
    }

    /// Queues the resumes of the last yield behind what other tasks sent meanwhile (R4), each
    /// shown to `seen` first. The connection task calls it at the start of the poll after a
    /// yield; the machine was not touched since, so they are the yield's resumes.
    pub(crate) fn queue_resumes(&mut self, mut seen: impl FnMut(&Message)) {
        if !self.machine.has_resumes() {
            return;
        }
        let machine = &mut self.machine;
        self.mailbox.push(std::iter::from_fn(|| {
            let resume = machine.poll_resume()?;
            seen(&resume);
            Some(resume)
        }));
    }

    /// Winds the connection up: messages that arrived too late are handled as the contract
    /// says (writes are dropped and counted, W1; nothing else has an effect on a finished
    /// connection), the final counters are published, and `finished()` waiters wake.
    pub(crate) fn finish(&mut self) {
        self.flush();
        let conn = self.machine.connection();
        if let Some(observer) = conn.drop_observer() {
            // Before the mailbox closes, so no refused write goes unreported.
            self.mailbox
                .report_refused_writes(observer.clone(), conn.phase());
        }
        if let Some(late) = self.mailbox.close() {
            for msg in late {
                self.machine.handle_message(msg);
            }
        }
        self.mailbox.publish(self.machine.connection().stats());
        self.mailbox.finish();
    }

    /// Hands the mailbox what the machine sent itself, and the handles its counters.
    fn flush(&mut self) {
        self.send_messages();
        self.mailbox.publish(self.machine.connection().stats());
    }

    /// Hands the mailbox what the machine sent itself, behind what is there.
    #[inline]
    fn send_messages(&mut self) {
        if self.machine.has_messages() {
            self.mailbox.push_from(self.machine.poll_messages());
        }
    }
}

/// One call into an actor's machine (see [`Actor::machine`]).
pub(crate) struct MachineCall<'a> {
    actor: &'a mut Actor,
}

impl Deref for MachineCall<'_> {
    type Target = ConnectionMachine;
    fn deref(&self) -> &ConnectionMachine {
        &self.actor.machine
    }
}

impl DerefMut for MachineCall<'_> {
    fn deref_mut(&mut self) -> &mut ConnectionMachine {
        &mut self.actor.machine
    }
}

impl Drop for MachineCall<'_> {
    fn drop(&mut self) {
        self.actor.flush();
    }
}
