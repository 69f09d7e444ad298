//! The seam between the sans-IO connection state and a real or simulated socket.
//!
//! The state machine asks for non-blocking I/O through [`Transport`]; "would block" is
//! `ErrorKind::WouldBlock`, after which the driver wakes the connection when the socket is ready.
//! Unit tests implement it with scripted reads and write capacities.

use std::io::{self, IoSlice};
use std::net::SocketAddr;

/// Non-blocking byte-stream I/O for one established connection.
pub trait Transport: Send {
    /// Appends at most `max` bytes to `buf`. `Ok(0)` is end of stream; `WouldBlock` means no data yet.
    fn read(&mut self, buf: &mut Vec<u8>, max: usize) -> io::Result<usize>;
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
