//! What a connection counts as it runs: plain numbers owned by the connection. The runtime
//! publishes them to the connection's handles after each of its turns.

/// A snapshot of a connection's counters. Non-exhaustive: a counter added later breaks no
/// code that reads these (it is made by connections, not by their users).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
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
    /// Bytes queued by writes that a close at once threw away before they reached the network
    /// (the peer's end of stream, `hard_close`, a reset or failed socket, `close` or `dispose`
    /// while muted), with what a `sent` that hard-closed returned: no callback says so, and
    /// a peer that waits for them waits for ever.
    pub bytes_discarded: u64,
}

impl ConnectionStats {
    pub(crate) fn write_dropped(&mut self) {
        self.writes_dropped += 1;
    }

    pub(crate) fn discarded(&mut self, n: usize) {
        self.bytes_discarded += n as u64;
    }

    pub(crate) fn sent(&mut self, n: usize) {
        self.bytes_sent += n as u64;
    }

    pub(crate) fn received(&mut self, n: usize) {
        self.bytes_received += n as u64;
    }

    pub(crate) fn expect_rejected(&mut self) {
        self.expect_rejected += 1;
    }
}
