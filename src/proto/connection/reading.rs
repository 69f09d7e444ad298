//! The read side of a connection: reads from the transport into the read buffer, and
//! `expect` framing that cuts it into deliveries (R1, R2).

use super::{Phase, TcpConnection};
use crate::proto::config::DEFAULT_READ_BUFFER_SIZE;
use crate::proto::transport::{read_appending, read_into};
use bytes::Bytes;
use std::io::ErrorKind;
use std::mem::MaybeUninit;

/// The largest read made into the stack rather than an allocated read buffer.
const READ_ON_STACK: usize = DEFAULT_READ_BUFFER_SIZE;

/// The outcome of one read from the transport.
pub(crate) enum ReadOutcome {
    Data(usize),
    WouldBlock,
    /// End of stream or a read error: the connection was hard-closed.
    Ended,
}

impl TcpConnection {
    /// Takes the next complete frame from the read buffer, if one is there (R1).
    pub(crate) fn next_frame(&mut self) -> Option<Vec<u8>> {
        let buffered = self.read_buf.len() - self.read_start;
        if buffered == 0 || buffered < self.expect {
            return None;
        }
        if self.expect == 0 && self.read_start == 0 {
            // The buffer itself is the delivery, with no copy. The next read goes into a buffer
            // the write side is done with (see `recycle`), or allocates one.
            return Some(std::mem::take(&mut self.read_buf));
        }
        let take = if self.expect == 0 {
            buffered
        } else {
            self.expect
        };
        let frame = self.read_buf[self.read_start..self.read_start + take].to_vec();
        self.read_start += take;
        if self.read_start == self.read_buf.len() {
            self.read_buf.clear();
            self.read_start = 0;
        }
        Some(frame)
    }

    /// Offers a buffer the write side has finished with as the next read buffer. A connection
    /// that writes back what it receives (an echo, a proxy) then reads into the very buffers it
    /// delivered, and allocates nothing per delivery. Taken only if nothing else holds it (a
    /// `Bytes` written many times, or kept by a recorder, is only let go), and then on the
    /// terms of [`reuse_for_reading`](Self::reuse_for_reading).
    pub(crate) fn recycle(&mut self, written: Bytes) {
        let most = self.config.read_buffer_size().saturating_mul(2);
        if self.read_buf.capacity() != 0 || written.len() > most || !written.is_unique() {
            return;
        }
        // `Bytes::try_into_mut` and back to a `Vec` took some 140 more instructions per echoed
        // buffer under callgrind. `Vec::from` moves the bytes to the start of their own
        // allocation (bytes 1.x copies them even when they are there already): at most twice
        // the read buffer size, the length checked above.
        self.reuse_for_reading(Vec::from(written));
    }

    /// Offers `buffer`, which the notifier has finished with (most often the data `received`
    /// handed it), as the buffer the next read goes into, so that a notifier that only looks
    /// at what it receives makes its connection allocate nothing per delivery. Its contents
    /// are discarded. It is taken only while the connection has no read buffer (it handed the
    /// last one out), and only if it takes a whole read without growing and holds at most
    /// twice the read buffer size, so a large buffer is not kept for the connection's life,
    /// and only while the connection is open or closing (reading); otherwise it is dropped.
    /// Reads are the same size whichever buffer they go into. A buffer given back is held
    /// until the next read fills it, or to the connection's end: after the last data a
    /// notifier expects, dropping it may be better (a connection that has received less than
    /// one read buffer's worth reads the end of the stream without one).
    ///
    /// ```
    /// use tcpnotify::{ConnectFailure, TcpConnection, TcpConnectionNotify};
    ///
    /// /// Counts what it receives, and gives each buffer back for the next read.
    /// struct Counter(u64);
    ///
    /// impl TcpConnectionNotify for Counter {
    ///     fn received(&mut self, conn: &mut TcpConnection, data: Vec<u8>, _times: usize) -> bool {
    ///         self.0 += data.len() as u64;
    ///         conn.reuse_for_reading(data);
    ///         true
    ///     }
    ///     fn connect_failed(&mut self, _conn: &mut TcpConnection, _reason: ConnectFailure) {}
    /// }
    /// ```
    pub fn reuse_for_reading(&mut self, mut buffer: Vec<u8>) {
        let size = self.config.read_buffer_size();
        if self.read_buf.capacity() == 0
            && matches!(self.phase, Phase::Open | Phase::Closing { .. })
            && (size..=size.saturating_mul(2)).contains(&buffer.capacity())
        {
            buffer.clear();
            self.read_buf = buffer;
        }
    }

    /// Reads once from the transport into the free space of the read buffer.
    pub(crate) fn read_once(&mut self) -> ReadOutcome {
        if self.read_start > 0 {
            self.read_buf.drain(..self.read_start);
            self.read_start = 0;
        }
        let free = self
            .config
            .read_buffer_size()
            .saturating_sub(self.read_buf.len());
        let Some(transport) = self.transport.as_mut() else {
            return ReadOutcome::WouldBlock;
        };
        if free == 0 {
            // Only reachable if framing left a full buffer undeliverable; never read 0 bytes
            // and mistake it for end of stream (lori #324).
            return ReadOutcome::WouldBlock;
        }
        let size = self.config.read_buffer_size();
        // Fewer bytes than one read buffer received so far.
        let little_yet = self.stats.bytes_received < size as u64;
        let read = if self.read_buf.capacity() == 0 && little_yet && free <= READ_ON_STACK {
            // With no read buffer (none yet, or the last delivered), a connection that has
            // received less than a buffer's worth reads to the stack, and a buffer is
            // allocated only if data came: many connections only ever read the end of the
            // stream, and many more a request or a reply and then the end, which otherwise
            // took a buffer of its own. What this copies is bounded: less than two buffers'
            // worth per connection. Later reads go straight into a buffer (allocated here if
            // the last one was delivered and none was recycled), not through the stack and a
            // copy.
            let mut first = [MaybeUninit::uninit(); READ_ON_STACK];
            read_into(transport.as_mut(), &mut first[..free]).map(|data| {
                if !data.is_empty() {
                    self.read_buf.reserve_exact(size);
                    self.read_buf.extend_from_slice(data);
                }
                data.len()
            })
        } else {
            if self.read_buf.capacity() == 0 {
                // Allocated at its size in one step: `reserve` on an empty buffer takes the
                // general growth path, some 75 instructions more under callgrind.
                self.read_buf = Vec::with_capacity(size);
            }
            read_appending(transport.as_mut(), &mut self.read_buf, free)
        };
        match read {
            Ok(0) => {
                self.hard_close();
                ReadOutcome::Ended
            }
            Ok(n) => {
                self.stats.received(n);
                ReadOutcome::Data(n)
            }
            Err(e) if e.kind() == ErrorKind::WouldBlock => ReadOutcome::WouldBlock,
            Err(e) if e.kind() == ErrorKind::Interrupted => ReadOutcome::Data(0),
            Err(e) => {
                tracing::debug!(error = %e, "read failed; closing");
                self.hard_close();
                ReadOutcome::Ended
            }
        }
    }
}
