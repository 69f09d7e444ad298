//! Counters of what a connection did, shared between its task and its handles so that
//! writes dropped after the task ended are still counted.

use std::sync::atomic::{AtomicU64, Ordering};

/// A snapshot of a connection's counters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ConnectionStats {
    /// `write`/`writev`/`write_final` calls dropped because the connection was not open
    /// (before connect, after `close`, after `closed`): contract rule W1.
    pub writes_dropped: u64,
    /// Bytes handed to the network.
    pub bytes_sent: u64,
    /// Bytes read from the network.
    pub bytes_received: u64,
    /// Notifier `expect` results rejected for exceeding the read buffer size (rule R2).
    pub expect_rejected: u64,
}

/// The live counters behind [`ConnectionStats`].
#[derive(Debug, Default)]
pub(crate) struct SharedStats {
    writes_dropped: AtomicU64,
    bytes_sent: AtomicU64,
    bytes_received: AtomicU64,
    expect_rejected: AtomicU64,
}

impl SharedStats {
    pub(crate) fn write_dropped(&self) {
        self.writes_dropped.fetch_add(1, Ordering::Relaxed);
    }
    pub(crate) fn sent(&self, n: usize) {
        self.bytes_sent.fetch_add(n as u64, Ordering::Relaxed);
    }
    pub(crate) fn received(&self, n: usize) {
        self.bytes_received.fetch_add(n as u64, Ordering::Relaxed);
    }
    pub(crate) fn expect_rejected(&self) {
        self.expect_rejected.fetch_add(1, Ordering::Relaxed);
    }
    pub(crate) fn snapshot(&self) -> ConnectionStats {
        ConnectionStats {
            writes_dropped: self.writes_dropped.load(Ordering::Relaxed),
            bytes_sent: self.bytes_sent.load(Ordering::Relaxed),
            bytes_received: self.bytes_received.load(Ordering::Relaxed),
            expect_rejected: self.expect_rejected.load(Ordering::Relaxed),
        }
    }
}
