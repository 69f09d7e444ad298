//! The messages of a connection's mailbox: what other tasks send it through a handle, what the
//! connection sends itself from inside a callback (its outbox), and its own resumes after a
//! yield. Each is handled in a turn of its own, in the order it was queued.

use super::notify::TcpConnectionNotify;
use bytes::Bytes;
use std::fmt;

/// One message for a connection.
pub(crate) enum Message {
    Write(Bytes),
    Writev(Vec<Bytes>),
    Mute,
    Unmute,
    Dispose,
    SetNotify(Box<dyn TcpConnectionNotify>),
    /// Resume reading after a read yield.
    ReadAgain,
    /// Resume writing after a write yield.
    WriteAgain,
}

impl fmt::Debug for Message {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Message::Write(d) => write!(f, "Write({} bytes)", d.len()),
            Message::Writev(c) => write!(f, "Writev({} chunks)", c.len()),
            Message::Mute => f.write_str("Mute"),
            Message::Unmute => f.write_str("Unmute"),
            Message::Dispose => f.write_str("Dispose"),
            Message::SetNotify(_) => f.write_str("SetNotify"),
            Message::ReadAgain => f.write_str("ReadAgain"),
            Message::WriteAgain => f.write_str("WriteAgain"),
        }
    }
}
