//! Mutes and unmutes as an observer sees them: the turn that handles a `mute` stops reading
//! and the turn that handles an `unmute` starts it again (R5), and no callback tells the
//! notifier either. A connection reports each one that changed its state to the observers set
//! with [`TcpConnection::on_mute_changed`], so that a trace shows why a connection stopped
//! reading, and when.
//!
//! [`TcpConnection::on_mute_changed`]: super::TcpConnection::on_mute_changed

use std::fmt;

/// A change of whether a connection reads, made by a handled `mute` or `unmute`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Muting {
    /// A `mute` was handled on a connection that was reading: nothing is read or delivered,
    /// and the peer's close goes unnoticed, until an unmute (R5).
    Muted,
    /// An `unmute` was handled on a muted connection: what was buffered is delivered first.
    Unmuted,
}

impl Muting {
    /// The change to `muted`.
    pub(crate) fn to(muted: bool) -> Muting {
        match muted {
            true => Muting::Muted,
            false => Muting::Unmuted,
        }
    }

    /// Whether the connection is muted after it.
    pub fn is_muted(self) -> bool {
        self == Muting::Muted
    }
}

impl fmt::Display for Muting {
    /// `muted` or `unmuted`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Muting::Muted => "muted",
            Muting::Unmuted => "unmuted",
        })
    }
}
