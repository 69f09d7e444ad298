//! A connection a notifier asked for from inside a callback (`conn.dial(...)`,
//! `listener.dial(...)`): a proxy forwarding onward, a client reconnecting after
//! `connect_failed` or `closed`, a failover client trying the next server.
//!
//! The core only queues the request, as it queues the messages a connection sends itself:
//! the runtime takes the queue after each turn ([`Dials::take`]) and starts the new connection
//! from the same host, over the same network, with the notifier given. The runtime prepares
//! the new connection's mailbox when the request is made, so the caller gets its handle at
//! once; the core keeps that preparation opaque ([`Prepared`]), as it keeps the attachment.

use super::config::ConnectionConfig;
use super::notify::TcpConnectionNotify;
use std::any::Any;
use std::fmt;

/// What the runtime prepared for a requested connection (its mailbox), opaque to the core.
pub(crate) type Prepared = Box<dyn Any + Send>;

/// One requested connection, not started yet.
pub(crate) struct DialRequest {
    /// The new connection's notifier.
    pub(crate) notify: Box<dyn TcpConnectionNotify>,
    /// The host to dial (before the new notifier's `proxy_via`).
    pub(crate) host: String,
    /// The service (port) to dial.
    pub(crate) service: String,
    /// The new connection's buffer and yield settings: the requester's.
    pub(crate) config: ConnectionConfig,
    /// What the runtime prepared for it.
    pub(crate) prepared: Prepared,
}

impl fmt::Debug for DialRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DialRequest")
            .field("host", &self.host)
            .field("service", &self.service)
            .finish()
    }
}

/// The requests a connection or listener made and the runtime has not taken yet, oldest first.
#[derive(Debug, Default)]
pub(crate) struct Dials {
    queue: Vec<DialRequest>,
}

impl Dials {
    /// Queues one request.
    pub(crate) fn push(&mut self, request: DialRequest) {
        self.queue.push(request);
    }

    /// How many requests wait: a recorder notes the count before a callback, to find the
    /// ones that callback made.
    pub(crate) fn len(&self) -> usize {
        self.queue.len()
    }

    /// The requests from the `from`-th on, for a recorder to wrap their notifiers.
    pub(crate) fn since(&mut self, from: usize) -> &mut [DialRequest] {
        let from = from.min(self.queue.len());
        &mut self.queue[from..]
    }

    /// Every waiting request, oldest first, for the runtime to start.
    pub(crate) fn take(&mut self) -> Vec<DialRequest> {
        std::mem::take(&mut self.queue)
    }
}
