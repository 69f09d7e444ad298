//! The seam between the sans-IO connection state and a real or simulated socket.
//!
//! The state machine asks for non-blocking I/O through [`Transport`]; "would block" is
//! `ErrorKind::WouldBlock`, after which the runtime wakes the connection when the socket is
//! ready. The runtime implements it over a backend stream; unit tests implement it with
//! scripted reads and write capacities.

use std::io::{self, IoSlice};
use std::mem::MaybeUninit;
use std::net::SocketAddr;

/// Non-blocking byte-stream I/O for one established connection.
pub(crate) trait Transport: Send {
    /// Fills some of `buf`'s unfilled space. Filling nothing is end of stream; `WouldBlock`
    /// means no data yet.
    fn read(&mut self, buf: &mut ReadBuf<'_>) -> io::Result<()>;
    /// Writes a prefix of `bufs`, returning how many bytes were taken; may be partial or `WouldBlock`.
    fn write_vectored(&mut self, bufs: &[IoSlice<'_>]) -> io::Result<usize>;
    /// Whether the last `WouldBlock` came while the runtime asked the task to give way (tokio's
    /// cooperative budget spent), usually without the socket being tried: it is not taken for
    /// backpressure, brings no `throttled`, and the write is tried again once the runtime
    /// wakes the task, which it has arranged; a socket that is full then says so.
    fn gave_way(&self) -> bool;
    /// Shuts the write side (sends FIN) once everything queued was written.
    fn shutdown_write(&mut self) -> io::Result<()>;
    /// Turns Nagle's algorithm off (`true`) or on.
    fn set_nodelay(&mut self, nodelay: bool) -> io::Result<()>;
    /// Whether Nagle's algorithm is off (`TCP_NODELAY` set).
    fn nodelay(&self) -> io::Result<bool>;
    /// Sets TCP keepalive to `secs` seconds; 0 turns it off.
    fn set_keepalive(&mut self, secs: u32) -> io::Result<()>;
    /// This end's address.
    fn local_address(&self) -> Option<SocketAddr>;
    /// The peer's address.
    fn remote_address(&self) -> Option<SocketAddr>;
}

/// The space one read goes into: the caller's buffer, which may be uninitialised, and how much
/// of it the read filled. The connection reads into the stack as well as into its read buffer,
/// and neither is zeroed first. A transport can only fill it, never swap in a buffer of its
/// own, so the bytes the connection sees are always its own.
pub(crate) struct ReadBuf<'a> {
    buf: &'a mut [MaybeUninit<u8>],
    filled: usize,
}

impl<'a> ReadBuf<'a> {
    /// An empty read over `buf`.
    pub(crate) fn uninit(buf: &'a mut [MaybeUninit<u8>]) -> Self {
        ReadBuf { buf, filled: 0 }
    }

    /// Bytes that can still be filled.
    pub(crate) fn remaining(&self) -> usize {
        self.buf.len() - self.filled
    }

    /// Copies as much of `data` as fits; returns how many bytes. For scripted transports.
    #[cfg(test)]
    pub(crate) fn put_slice(&mut self, data: &[u8]) -> usize {
        let n = data.len().min(self.remaining());
        for (slot, byte) in self.buf[self.filled..self.filled + n].iter_mut().zip(data) {
            slot.write(*byte);
        }
        self.filled += n;
        n
    }

    /// The space not filled yet, for a transport that reads into it in place.
    pub(crate) fn unfilled(&mut self) -> &mut [MaybeUninit<u8>] {
        &mut self.buf[self.filled..]
    }

    /// Marks the first `n` bytes of [`unfilled`](Self::unfilled) as filled.
    ///
    /// # Safety
    /// Those bytes must have been initialised, and `n` must not exceed
    /// [`remaining`](Self::remaining).
    pub(crate) unsafe fn assume_filled(&mut self, n: usize) {
        debug_assert!(n <= self.remaining());
        self.filled += n;
    }

    /// The filled bytes, for as long as the buffer is borrowed.
    fn into_filled(self) -> &'a [u8] {
        let buf: &'a [MaybeUninit<u8>] = self.buf;
        let filled = &buf[..self.filled];
        // SAFETY: the first `filled` bytes were initialised, by `put_slice` or by a caller of
        // `assume_filled`, and `MaybeUninit<u8>` has the layout of `u8`.
        unsafe { std::slice::from_raw_parts(filled.as_ptr().cast::<u8>(), filled.len()) }
    }
}

/// Reads once from `transport` into `space`, returning the bytes it filled, which are the
/// first ones of `space`.
pub(crate) fn read_into<'a>(
    transport: &mut dyn Transport,
    space: &'a mut [MaybeUninit<u8>],
) -> io::Result<&'a [u8]> {
    let mut buf = ReadBuf::uninit(space);
    transport.read(&mut buf)?;
    Ok(buf.into_filled())
}

/// Reads once from `transport` into the spare capacity of `buf`, at most `max` bytes, and
/// appends them; returns how many.
pub(crate) fn read_appending(
    transport: &mut dyn Transport,
    buf: &mut Vec<u8>,
    max: usize,
) -> io::Result<usize> {
    buf.reserve(max);
    let len = buf.len();
    let n = read_into(transport, &mut buf.spare_capacity_mut()[..max])?.len();
    // SAFETY: `read_into` initialised the first `n` bytes of the spare capacity.
    unsafe { buf.set_len(len + n) };
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_read_buffer_fills_only_what_fits_and_hands_back_exactly_the_filled_bytes() {
        let mut space = [MaybeUninit::uninit(); 4];
        let mut buf = ReadBuf::uninit(&mut space);
        assert_eq!(buf.put_slice(b"ab"), 2);
        assert_eq!(buf.remaining(), 2);
        assert_eq!(buf.put_slice(b"cdef"), 2, "only what fits");
        assert_eq!(buf.remaining(), 0);
        assert_eq!(buf.into_filled(), b"abcd");
    }
}
