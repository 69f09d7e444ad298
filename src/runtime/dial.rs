//! Dialling from inside a callback: [`TcpConnection::dial`] and [`TcpListener::dial`], defined
//! here rather than in the sans-IO core because they hand back a [`ConnectionHandle`], a
//! runtime type. The core queues the request with the new connection's mailbox already made
//! (so the handle works at once: what it sends waits in that mailbox); the task of the
//! connection or listener that asked starts it after the turn, over its own network
//! ([`start`]).

use super::backend::Network;
use super::connection_task::ConnectionTask;
use super::handle::ConnectionHandle;
use super::mailbox::Mailbox;
use crate::proto::{
    Attachment, ConnectionConfig, DialRequest, Dials, TcpConnection, TcpConnectionNotify,
    TcpListener,
};

/// What a request carries for the runtime: the new connection's mailbox and attachment.
type Channel = (Mailbox, Attachment);

/// Queues in `dials` a request for a connection to `host` and `service` with `notify`, and
/// returns the handle to it.
fn request(
    dials: &mut Dials,
    notify: Box<dyn TcpConnectionNotify>,
    host: &str,
    service: &str,
    config: ConnectionConfig,
) -> ConnectionHandle {
    let (handle, mailbox, attachment) = ConnectionHandle::channel();
    let channel: Channel = (mailbox, attachment);
    let request = DialRequest {
        notify,
        host: host.to_string(),
        service: service.to_string(),
        config,
        prepared: Box::new(channel),
    };
    dials.push(request);
    handle
}

/// Starts every request in `requests` over `net`: each a client connection of its own task,
/// on the host (and tokio runtime) of the task that calls this.
pub(crate) fn start<N: Network>(net: &N, requests: Vec<DialRequest>) {
    // Nearly always none (the listener asks after every accept): no iterator to make and drop.
    if requests.is_empty() {
        return;
    }
    for request in requests {
        let channel = match request.prepared.downcast::<Channel>() {
            Ok(channel) => *channel,
            // Only this module makes requests; a fresh channel keeps the connection running.
            Err(_) => {
                let (_, mailbox, attachment) = ConnectionHandle::channel();
                (mailbox, attachment)
            }
        };
        ConnectionTask::spawn_client_on(
            net,
            request.notify,
            request.config,
            &request.host,
            &request.service,
            channel,
        );
    }
}

impl TcpConnection {
    /// Opens a new client connection to `host` and `service`, from this connection's host and
    /// over its network, with `notify` and this connection's settings: a proxy forwarding
    /// onward, a client reconnecting after `connect_failed` or `closed`, a failover client
    /// trying the next server. Callable from any callback, including the last one.
    ///
    /// The new connection starts once this callback's turn ends, as a client of its own
    /// (`proxy_via`, `connecting`, then `connected` or `connect_failed`). The handle works at
    /// once; what is sent through it waits in the new connection's mailbox, and writes handled
    /// before it connected are dropped (W1), so forward data once its `connected` ran. A
    /// connection no runtime runs (a unit test's) never starts it. The simulator names the new
    /// connection after this one (`c1~1`, `c1~2`, ...) and traces it like the others.
    ///
    /// ```
    /// use tcpnotify::{ConnectFailure, TcpConnection, TcpConnectionNotify};
    ///
    /// /// Tries `servers` in turn until one answers.
    /// struct Failover { servers: Vec<&'static str> }
    ///
    /// impl TcpConnectionNotify for Failover {
    ///     fn connect_failed(&mut self, conn: &mut TcpConnection, _reason: ConnectFailure) {
    ///         if let Some((next, rest)) = self.servers.split_first() {
    ///             let rest = rest.to_vec();
    ///             conn.dial(Failover { servers: rest }, next, "7000");
    ///         }
    ///     }
    /// }
    /// ```
    pub fn dial(
        &mut self,
        notify: impl TcpConnectionNotify,
        host: &str,
        service: &str,
    ) -> ConnectionHandle {
        let config = self.config();
        request(self.dials(), Box::new(notify), host, service, config)
    }
}

impl TcpListener {
    /// Opens a new client connection to `host` and `service` from the listener's host, with
    /// `notify` and the settings of its accepted connections: as
    /// [`TcpConnection::dial`], from a listener's callback (a proxy that opens its onward
    /// connection as a peer connects). The simulator names it after the listener
    /// (`server~1`, ...).
    pub fn dial(
        &mut self,
        notify: impl TcpConnectionNotify,
        host: &str,
        service: &str,
    ) -> ConnectionHandle {
        let config = self.config();
        request(self.dials(), Box::new(notify), host, service, config)
    }
}
