//! Writes that rule W1 drops, as an observer sees them: a `write`, `writev` or `write_final`
//! handled before the connection is established, after `close()`, after `closed`, or sent
//! through a handle after the connection's task ended. The notifier is never told (W1: no
//! callback); the connection counts each in [`ConnectionStats::writes_dropped`] and reports
//! each to the observers set with [`TcpConnection::on_write_dropped`], so a recorder or a test
//! can see when a write vanished, not only how many did.
//!
//! [`ConnectionStats::writes_dropped`]: crate::ConnectionStats::writes_dropped
//! [`TcpConnection::on_write_dropped`]: super::TcpConnection::on_write_dropped

use super::observer::Observer;
use super::Phase;
use crate::proto::message::Message;
use bytes::Bytes;
use std::fmt;

/// Which call a dropped write came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WriteKind {
    /// `write` (from a callback or a handle).
    Write,
    /// `writev`.
    Writev,
    /// `write_final`, dropped at once inside the callback that called it.
    WriteFinal,
    /// What `sent` returned for a `write`, dropped because the notifier called `close()`
    /// inside `sent` (W1): unlike a write dropped before `sent`, its `sent` ran.
    SentResult,
    /// What `sentv` returned for a `writev`, dropped the same way.
    SentvResult,
}

impl WriteKind {
    /// Whether the write got its `sent` or `sentv` before it was dropped (the notifier closed
    /// the connection inside that callback), so that what the callback returned, which a
    /// recorder saw, never reaches the socket.
    pub fn after_sent(self) -> bool {
        matches!(self, WriteKind::SentResult | WriteKind::SentvResult)
    }
}

impl fmt::Display for WriteKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            WriteKind::Write => "write",
            WriteKind::Writev => "writev",
            WriteKind::WriteFinal => "write_final",
            WriteKind::SentResult => "sent result",
            WriteKind::SentvResult => "sentv result",
        })
    }
}

/// One write dropped by rule W1.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DroppedWrite {
    /// The call it came from.
    pub kind: WriteKind,
    /// Its bytes (every chunk of a `writev`).
    pub bytes: usize,
    /// Where the connection was when the write was handled: not yet connected (`new`,
    /// `resolving`, `connecting(n)`), closing, `closed` or `connect-failed`. Never `open`.
    pub phase: Phase,
    /// It was sent through a handle after the connection's task ended, so no turn handled
    /// it; `phase` is then the phase the connection ended in.
    pub after_end: bool,
    /// The connection's dropped writes so far, this one included: what
    /// [`ConnectionStats::writes_dropped`](crate::ConnectionStats::writes_dropped) says once
    /// it is published. Consecutive reports of one connection count 1, 2, 3, ...
    pub total: u64,
}

impl fmt::Display for DroppedWrite {
    /// `write(5B) while closed, dropped write #1`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}({}B) while {}", self.kind, self.bytes, self.phase)?;
        if self.after_end {
            f.write_str(" (sent after the connection ended)")?;
        }
        write!(f, ", dropped write #{}", self.total)
    }
}

/// What is told of every dropped write of a connection (see
/// [`TcpConnection::on_write_dropped`](super::TcpConnection::on_write_dropped)).
pub(crate) type DropObserver = Observer<DroppedWrite>;

/// The kind and size of `msg` if it is a write, which is counted and reported when it is
/// dropped (W1); `None` for other messages.
pub(crate) fn write_size(msg: &Message) -> Option<(WriteKind, usize)> {
    match msg {
        Message::Write(data) => Some((WriteKind::Write, data.len())),
        Message::Writev(chunks) => Some((WriteKind::Writev, chunks.iter().map(Bytes::len).sum())),
        _ => None,
    }
}
