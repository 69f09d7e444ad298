//! The write side of a connection: the write queue, vectored writes within a turn's budget,
//! throttling on backpressure (W3, W4, W5), and the shut of a graceful close once drained (L4).

use super::{Deferred, Phase, TcpConnection};
use bytes::Bytes;
use std::collections::VecDeque;
use std::io::{ErrorKind, IoSlice};

/// Most buffers handed to one vectored write.
const MAX_WRITE_SLICES: usize = 64;

/// The buffers queued for writing, oldest first, as `sent` returned them: the socket is given
/// their own memory, and a partial write moves an offset (`head_written`), copying nothing.
/// The oldest is held apart from the rest: a connection mostly has one write queued at a
/// time, and a heap queue for it was an allocation per connection.
#[derive(Default)]
pub(super) struct WriteQueue {
    /// `None` only when the queue is empty.
    head: Option<Bytes>,
    rest: VecDeque<Bytes>,
}

impl WriteQueue {
    fn push_back(&mut self, data: Bytes) {
        match self.head {
            None => self.head = Some(data),
            Some(_) => self.rest.push_back(data),
        }
    }

    fn front(&self) -> Option<&Bytes> {
        self.head.as_ref()
    }

    fn pop_front(&mut self) -> Option<Bytes> {
        let head = self.head.take();
        self.head = self.rest.pop_front();
        head
    }

    fn len(&self) -> usize {
        usize::from(self.head.is_some()) + self.rest.len()
    }

    pub(super) fn is_empty(&self) -> bool {
        self.head.is_none()
    }

    pub(super) fn iter(&self) -> impl Iterator<Item = &Bytes> {
        self.head.iter().chain(&self.rest)
    }

    pub(super) fn clear(&mut self) {
        self.head = None;
        self.rest.clear();
    }
}

impl TcpConnection {
    /// Appends to the write queue; empty data puts nothing on the wire.
    pub(crate) fn enqueue(&mut self, data: Bytes) {
        if !data.is_empty() {
            self.write_queue.push_back(data);
        }
    }

    /// Writes from the queue until it drains, the socket pushes back, this turn's write
    /// budget is spent, or the runtime asks the task to give way (`gave_way`). Returns true if
    /// anything was written.
    pub(crate) fn flush(&mut self) -> bool {
        if !self.is_live() {
            // A hard close left `throttled` set: it must not turn into `unthrottled` (W4, L2).
            return false;
        }
        self.gave_way = false;
        let budget = self.config.yield_after_writing();
        let mut written_this_turn = 0usize;
        while !self.write_queue.is_empty() {
            if written_this_turn >= budget {
                self.write_again_pending = true;
                return true;
            }
            let (Some(transport), Some(front)) =
                (self.transport.as_mut(), self.write_queue.front())
            else {
                return written_this_turn > 0;
            };
            // On the stack, not allocated per write; a lone buffer (the common case) needs no
            // array at all.
            let head = IoSlice::new(&front[self.head_written..]);
            let one;
            let mut many;
            let slices: &[IoSlice<'_>] = if self.write_queue.len() == 1 {
                one = [head];
                &one
            } else {
                many = [IoSlice::new(&[]); MAX_WRITE_SLICES];
                many[0] = head;
                let mut count = 1;
                for (slot, buf) in many[1..].iter_mut().zip(self.write_queue.iter().skip(1)) {
                    *slot = IoSlice::new(buf);
                    count += 1;
                }
                &many[..count]
            };
            let offered: usize = slices.iter().map(|s| s.len()).sum();
            match transport.write_vectored(slices) {
                Ok(0) => {
                    tracing::debug!("write returned 0; closing");
                    self.hard_close();
                    return written_this_turn > 0;
                }
                Ok(n) => {
                    self.consume_written(n);
                    self.stats.sent(n);
                    written_this_turn += n;
                    if n < offered {
                        self.enter_throttle();
                    }
                }
                Err(e) if e.kind() == ErrorKind::WouldBlock && transport.gave_way() => {
                    // The runtime's turn, not the socket's pushback: the task gives way, and
                    // its next pass, after the runtime's wake, writes again.
                    self.gave_way = true;
                    return written_this_turn > 0;
                }
                Err(e) if e.kind() == ErrorKind::WouldBlock => {
                    self.enter_throttle();
                    return written_this_turn > 0;
                }
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) => {
                    tracing::debug!(error = %e, "write failed; closing");
                    self.hard_close();
                    return written_this_turn > 0;
                }
            }
        }
        // Drained in whichever turn this is (W5), and FIN goes out as soon as it drains (L4).
        if self.throttled {
            self.throttled = false;
            self.deferred.push(Deferred::Unthrottled);
        }
        self.shut_if_drained();
        written_this_turn > 0
    }

    fn consume_written(&mut self, mut n: usize) {
        while n > 0 {
            let Some(head) = self.write_queue.front() else {
                break;
            };
            let left = head.len() - self.head_written;
            if n >= left {
                n -= left;
                if let Some(written) = self.write_queue.pop_front() {
                    self.recycle(written);
                }
                self.head_written = 0;
            } else {
                self.head_written += n;
                n = 0;
            }
        }
    }

    fn enter_throttle(&mut self) {
        if !self.throttled {
            self.throttled = true;
            self.deferred.push(Deferred::Throttled);
        }
    }

    /// In a graceful close, shuts the write side once the queue is empty.
    pub(super) fn shut_if_drained(&mut self) {
        if self.phase != (Phase::Closing { write_shut: false }) || !self.write_queue.is_empty() {
            return;
        }
        let Some(transport) = self.transport.as_mut() else {
            return;
        };
        match transport.shutdown_write() {
            Ok(()) => self.phase = Phase::Closing { write_shut: true },
            Err(e) if e.kind() == ErrorKind::WouldBlock => {}
            Err(e) => {
                tracing::debug!(error = %e, "shutdown failed; closing");
                self.hard_close();
            }
        }
    }
}
