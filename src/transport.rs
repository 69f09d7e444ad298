//! The seam between the sans-IO connection state and a real or simulated socket.
//!
//! The state machine asks for non-blocking I/O through [`Transport`]; "would block" is
//! `ErrorKind::WouldBlock`, after which the driver wakes the connection when the socket is ready.
//! Unit tests implement it with scripted reads and write capacities.

use std::io::{self, IoSlice};
use std::mem::MaybeUninit;
use std::net::SocketAddr;
pub use tokio::io::ReadBuf;

/// Non-blocking byte-stream I/O for one established connection.
pub trait Transport: Send {
    /// Fills some of `buf`'s unfilled space. Filling nothing is end of stream; `WouldBlock`
    /// means no data yet. A plain buffer type rather than a `Vec`, so the connection can read
    /// into the stack as well as into its read buffer.
    fn read(&mut self, buf: &mut ReadBuf<'_>) -> io::Result<()>;
    /// Writes a prefix of `bufs`, returning how many bytes were taken; may be partial or `WouldBlock`.
    fn write_vectored(&mut self, bufs: &[IoSlice<'_>]) -> io::Result<usize>;
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

/// Reads once from `transport` into `space`, returning the bytes it filled, which are the
/// first ones of `space`.
pub(crate) fn read_into<'a>(
    transport: &mut dyn Transport,
    space: &'a mut [MaybeUninit<u8>],
) -> io::Result<&'a [u8]> {
    let start = space.as_ptr().cast::<u8>();
    let mut buf = ReadBuf::uninit(space);
    transport.read(&mut buf)?;
    let filled = buf.filled();
    if filled.as_ptr() != start {
        // Only a transport that swapped in a buffer of its own gets here.
        return Err(io::Error::other("transport replaced the read buffer"));
    }
    let n = filled.len();
    // SAFETY: `ReadBuf` guarantees its first `n` bytes were initialised, and they are the
    // first `n` bytes of `space` (checked above), which `space`'s borrow keeps alive.
    Ok(unsafe { std::slice::from_raw_parts(start, n) })
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

    /// Fills a buffer of its own instead of the one it was given.
    struct Swapper;

    impl Transport for Swapper {
        fn read(&mut self, buf: &mut ReadBuf<'_>) -> io::Result<()> {
            let own: &'static mut [u8] = Box::leak(vec![7u8; 4].into_boxed_slice());
            *buf = ReadBuf::new(own);
            buf.advance(4);
            Ok(())
        }
        fn write_vectored(&mut self, _: &[IoSlice<'_>]) -> io::Result<usize> {
            Ok(0)
        }
        fn shutdown_write(&mut self) -> io::Result<()> {
            Ok(())
        }
        fn set_nodelay(&mut self, _: bool) -> io::Result<()> {
            Ok(())
        }
        fn nodelay(&self) -> io::Result<bool> {
            Ok(false)
        }
        fn set_keepalive(&mut self, _: u32) -> io::Result<()> {
            Ok(())
        }
        fn local_address(&self) -> Option<SocketAddr> {
            None
        }
        fn remote_address(&self) -> Option<SocketAddr> {
            None
        }
    }

    #[test]
    fn a_transport_that_fills_another_buffer_is_an_error_not_uninitialised_bytes() {
        let mut buf = Vec::new();
        let err = read_appending(&mut Swapper, &mut buf, 16).unwrap_err();
        assert!(
            err.to_string().contains("replaced the read buffer"),
            "{err}"
        );
        assert!(buf.is_empty());
    }
}
