//! Tunables of a connection, with Pony's defaults.

/// Size of the receive buffer and the largest allowed `expect` (Pony: 16384).
pub const DEFAULT_READ_BUFFER_SIZE: usize = 16384;
/// Bytes read from the socket in one turn before the connection yields (Pony: 16384).
pub const DEFAULT_YIELD_AFTER_READING: usize = 16384;
/// Bytes written to the socket in one turn before the connection yields (Pony: 16384).
pub const DEFAULT_YIELD_AFTER_WRITING: usize = 16384;
/// Deliveries (`received` calls) in one turn before a forced yield (fixed in Pony).
pub const MAX_RECEIVED_PER_TURN: usize = 50;

/// The per-connection buffer and yield settings (Pony's constructor parameters).
///
/// A listener passes its config on to every connection it accepts. Each setting has a getter
/// and a `set_` setter; the builders ([`ConnectionBuilder`](crate::ConnectionBuilder),
/// [`ListenerBuilder`](crate::ListenerBuilder)) set them in a chain.
///
/// ```
/// use tcpnotify::{ConnectionConfig, DEFAULT_YIELD_AFTER_WRITING};
/// let mut config = ConnectionConfig::default();
/// config.set_read_buffer_size(4096);
/// config.set_yield_after_reading(1024);
/// assert_eq!(config.read_buffer_size(), 4096);
/// assert_eq!(config.yield_after_writing(), DEFAULT_YIELD_AFTER_WRITING);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnectionConfig {
    read_buffer_size: usize,
    yield_after_reading: usize,
    yield_after_writing: usize,
}

impl Default for ConnectionConfig {
    fn default() -> Self {
        ConnectionConfig {
            read_buffer_size: DEFAULT_READ_BUFFER_SIZE,
            yield_after_reading: DEFAULT_YIELD_AFTER_READING,
            yield_after_writing: DEFAULT_YIELD_AFTER_WRITING,
        }
    }
}

impl ConnectionConfig {
    /// The receive buffer size, which is also the largest `expect` (default
    /// [`DEFAULT_READ_BUFFER_SIZE`]).
    pub fn read_buffer_size(&self) -> usize {
        self.read_buffer_size
    }

    /// Sets the receive buffer size. At least 1.
    pub fn set_read_buffer_size(&mut self, bytes: usize) {
        self.read_buffer_size = bytes.max(1);
    }

    /// Bytes read in one turn before yielding (default [`DEFAULT_YIELD_AFTER_READING`]).
    pub fn yield_after_reading(&self) -> usize {
        self.yield_after_reading
    }

    /// Sets the bytes read in one turn before yielding. At least 1.
    pub fn set_yield_after_reading(&mut self, bytes: usize) {
        self.yield_after_reading = bytes.max(1);
    }

    /// Bytes written in one turn before yielding (default [`DEFAULT_YIELD_AFTER_WRITING`]).
    pub fn yield_after_writing(&self) -> usize {
        self.yield_after_writing
    }

    /// Sets the bytes written in one turn before yielding. At least 1.
    pub fn set_yield_after_writing(&mut self, bytes: usize) {
        self.yield_after_writing = bytes.max(1);
    }
}
