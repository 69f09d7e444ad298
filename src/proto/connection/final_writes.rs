//! What `write_final` queued, kept for a wrapper that sees a connection's data in `sent` and
//! so must also be told of the bytes that pass it by. A connection keeps one list for its
//! notifier ([`TcpConnection::keep_final_writes`]) and one for the recorder that may wrap
//! it, so that neither takes the other's bytes, and a notifier that never asked to keep them
//! is given none under a recorder as without one.
//!
//! [`TcpConnection::keep_final_writes`]: super::TcpConnection::keep_final_writes

use bytes::Bytes;

/// The `write_final` data queued since its keeper last took it, in the order queued; nothing
/// until [`keep`](Self::keep) is called.
#[derive(Debug, Default)]
pub(crate) struct FinalWrites(Option<Vec<Bytes>>);

impl FinalWrites {
    /// Keeps what is queued from now on.
    pub(crate) fn keep(&mut self) {
        self.0.get_or_insert_with(Vec::new);
    }

    /// Keeps `data` (shared, not copied) if asked to keep; empty data puts nothing on the wire
    /// and is not kept.
    pub(crate) fn push(&mut self, data: &Bytes) {
        if let Some(kept) = self.0.as_mut().filter(|_| !data.is_empty()) {
            kept.push(data.clone());
        }
    }

    /// What was kept since the last take.
    pub(crate) fn take(&mut self) -> Vec<Bytes> {
        self.0.as_mut().map(std::mem::take).unwrap_or_default()
    }
}
