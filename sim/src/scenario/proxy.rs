//! The built-in proxy ([`Proxy`]): the accepted connection of a proxy server, which dials its
//! onward connection from inside `accepted` (`conn.dial`) and forwards both ways. What a
//! scenario uses to put a hop between a client and a server, and the model of a notifier that
//! dials.

use std::sync::{Arc, Mutex, MutexGuard};
use tcpnotify::{ConnectFailure, ConnectionHandle, TcpConnection, TcpConnectionNotify};

/// What the two sides of one proxied connection share.
#[derive(Default)]
struct Relay {
    /// The onward connection once it is connected.
    onward: Option<ConnectionHandle>,
    /// The attempt being dialled, until it connects (to abandon it if the peer leaves).
    dialling: Option<ConnectionHandle>,
    /// What the peer sent before the onward connection was up.
    held: Vec<u8>,
    /// Onward attempts so far.
    attempts: u32,
    /// The peer's connection ended: nothing more is dialled.
    front_closed: bool,
}

type SharedRelay = Arc<Mutex<Relay>>;

fn lock(relay: &SharedRelay) -> MutexGuard<'_, Relay> {
    relay.lock().unwrap_or_else(|e| e.into_inner())
}

/// Where a proxy forwards to, and how often it tries.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Target {
    host: String,
    port: String,
    attempts: u32,
}

/// A proxy server's accepted connection: as it is accepted it dials `host`:`port` from the
/// proxy's host (`conn.dial`), holds what its peer sends until that onward connection is up,
/// then forwards both ways; each side's end closes the other. An onward connect that fails
/// is dialled again, up to `attempts` attempts in all (a service that refuses while it
/// restarts), then the peer's connection is closed. A peer that sends and closes before the
/// onward connection is up still has what it sent delivered: the dialling goes on, and the
/// onward connection writes what was held, then closes.
///
/// ```
/// use tcpnotify_sim::notifiers::{Echo, Proxy, Sender};
/// use tcpnotify_sim::{factory, run_passing, FaultSettings, Scenario, Seed};
/// let scenario = Scenario::new("proxied")
///     .listener("server", "server", 7000, factory(|| Echo))
///     .listener("proxy", "proxy", 7000, factory(|| Proxy::new("server", 7000)))
///     .client("c1", "client", "proxy", 7000, factory(|| Sender::new(b"hello".to_vec())))
///     .faults(FaultSettings::quiet());
/// let outcome = run_passing(&scenario, Seed(1));
/// assert!(outcome.trace.render_text().contains("proxy.1~1 connected"));
/// ```
#[derive(Clone)]
pub struct Proxy {
    target: Target,
    /// Shared with the onward connection, from `accepted` on.
    relay: SharedRelay,
}

impl std::fmt::Debug for Proxy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Proxy")
            .field("target", &self.target)
            .finish()
    }
}

impl Proxy {
    /// Forwards to `host`:`port`, with one attempt.
    pub fn new(host: &str, port: u16) -> Self {
        Proxy {
            target: Target {
                host: host.to_string(),
                port: port.to_string(),
                attempts: 1,
            },
            relay: SharedRelay::default(),
        }
    }

    /// Dials the onward connection up to `attempts` times (at least once).
    pub fn attempts(mut self, attempts: u32) -> Self {
        self.target.attempts = attempts.max(1);
        self
    }
}

impl TcpConnectionNotify for Proxy {
    fn accepted(&mut self, conn: &mut TcpConnection) {
        // A fresh relay per connection, whatever the factory cloned.
        self.relay = SharedRelay::default();
        let front = conn.handle();
        Onward::dial(conn, &self.relay, front, &self.target);
    }
    fn received(&mut self, _conn: &mut TcpConnection, data: Vec<u8>, _times: usize) -> bool {
        let mut relay = lock(&self.relay);
        match &relay.onward {
            Some(onward) => onward.write(data),
            None => relay.held.extend(data),
        }
        true
    }
    fn closed(&mut self, _conn: &mut TcpConnection) {
        let mut relay = lock(&self.relay);
        relay.front_closed = true;
        // A connected onward connection closes once what it was given is sent; one being
        // dialled is abandoned only if it has nothing to deliver.
        if let Some(onward) = relay.onward.take() {
            onward.dispose();
        }
        if relay.held.is_empty() {
            if let Some(dialling) = relay.dialling.take() {
                dialling.dispose();
            }
        }
    }
    fn connect_failed(&mut self, _conn: &mut TcpConnection, _reason: ConnectFailure) {}
}

/// The onward connection: sends what was held once connected, forwards what it receives
/// back, closes the peer's connection when it ends or when the last attempt failed.
struct Onward {
    relay: SharedRelay,
    front: ConnectionHandle,
    target: Target,
}

impl Onward {
    /// Dials the next attempt from `conn` (the peer's connection or a failed attempt).
    fn dial(
        conn: &mut TcpConnection,
        relay: &SharedRelay,
        front: ConnectionHandle,
        target: &Target,
    ) {
        let onward = Onward {
            relay: relay.clone(),
            front,
            target: target.clone(),
        };
        let handle = conn.dial(onward, &target.host, &target.port);
        let mut relay = lock(relay);
        relay.attempts += 1;
        relay.dialling = Some(handle);
    }
}

impl TcpConnectionNotify for Onward {
    fn connected(&mut self, conn: &mut TcpConnection) {
        let mut relay = lock(&self.relay);
        relay.dialling = None;
        let held = std::mem::take(&mut relay.held);
        if !held.is_empty() {
            conn.write(held);
        }
        if relay.front_closed {
            // A message, so it is handled after the write (a `close` would drop it).
            conn.dispose();
            return;
        }
        relay.onward = Some(conn.handle());
    }
    fn received(&mut self, _conn: &mut TcpConnection, data: Vec<u8>, _times: usize) -> bool {
        self.front.write(data);
        true
    }
    fn closed(&mut self, _conn: &mut TcpConnection) {
        self.front.dispose();
    }
    fn connect_failed(&mut self, conn: &mut TcpConnection, _reason: ConnectFailure) {
        let again = {
            let relay = lock(&self.relay);
            let wanted = !relay.front_closed || !relay.held.is_empty();
            wanted && relay.attempts < self.target.attempts
        };
        match again {
            true => Onward::dial(conn, &self.relay, self.front.clone(), &self.target),
            false => self.front.dispose(),
        }
    }
}
