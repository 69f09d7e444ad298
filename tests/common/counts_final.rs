//! A wrapper that counts what its inner notifier queues past `sent`, as the doc of
//! `TcpConnection::take_final_writes` shows one, shared by the test crates that pin the
//! recorder's own copy of those bytes (`tests/simulation/wrapping.rs`) and sweep it as a
//! correct style (`tests/chaos/correct_styles_4.rs`).

use tcpnotify::{Bytes, ConnectFailure, TcpConnection, TcpConnectionNotify};
use tcpnotify_sim::always;

/// Counts the bytes its inner notifier queues with `write_final`: keeps them from `accepted`
/// on and takes them after every callback that may queue them, or never asks to keep them
/// (`keeping` false) and asserts that it is given none (`take_final_writes` is empty until
/// `keep_final_writes` is called). At `closed` it asserts `counted(bytes, sends)` of what it
/// kept and of the `sent` calls it saw. It passes on only `accepted`, `received`, `sent`,
/// `closed` and `connect_failed`, all its inner notifiers implement: an inner notifier's
/// other callbacks (and what they queue) would be lost.
pub struct CountsFinal<N> {
    inner: N,
    keeping: bool,
    counted: fn(usize, usize) -> bool,
    final_bytes: usize,
    sends: usize,
}

impl<N> CountsFinal<N> {
    /// Wraps `inner`, keeping its final writes or not; `counted` judges the count at `closed`.
    pub fn new(inner: N, keeping: bool, counted: fn(usize, usize) -> bool) -> Self {
        CountsFinal {
            inner,
            keeping,
            counted,
            final_bytes: 0,
            sends: 0,
        }
    }

    fn count(&mut self, conn: &mut TcpConnection) {
        let taken: usize = conn.take_final_writes().iter().map(Bytes::len).sum();
        always(
            "final-writes-only-once-kept",
            self.keeping || taken == 0,
            taken,
        );
        self.final_bytes += taken;
    }
}

impl<N: TcpConnectionNotify> TcpConnectionNotify for CountsFinal<N> {
    fn accepted(&mut self, conn: &mut TcpConnection) {
        if self.keeping {
            conn.keep_final_writes();
        }
        self.inner.accepted(conn);
        self.count(conn);
    }
    fn received(&mut self, conn: &mut TcpConnection, data: Vec<u8>, times: usize) -> bool {
        let more = self.inner.received(conn, data, times);
        self.count(conn);
        more
    }
    fn sent(&mut self, conn: &mut TcpConnection, data: Bytes) -> Bytes {
        self.sends += 1;
        let data = self.inner.sent(conn, data);
        self.count(conn);
        data
    }
    fn closed(&mut self, conn: &mut TcpConnection) {
        self.inner.closed(conn);
        let counted = !self.keeping || (self.counted)(self.final_bytes, self.sends);
        always("final-bytes-counted", counted, self.final_bytes);
    }
    fn connect_failed(&mut self, conn: &mut TcpConnection, reason: ConnectFailure) {
        self.inner.connect_failed(conn, reason);
    }
}
