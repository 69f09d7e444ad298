//! Where a test body runs. A body written against [`World`] gets listeners, clients, raw
//! peers, a name with two addresses, a dead address and traces from it, and runs unchanged
//! over real loopback sockets ([`Loopback`]) and over the simulator ([`Simulated`]).
//!
//! A raw peer is the backend's own stream (`Network::Stream`: a tokio `TcpStream`, or the
//! simulator's `FaultyStream`, so its reads free the fault layer's windows as a connection's
//! do), read and written with tokio's `AsyncReadExt`/`AsyncWriteExt`.
//!
//! What only real sockets have gets a counterpart here: a socket's `SO_RCVBUF` and the
//! kernel's `tcp_wmem` (how much a peer that does not read takes before it pushes back) are
//! the simulated network's window in the simulator; where loopback holds a bound socket so that
//! nothing listens at an address, the simulator has a port nobody binds and a second host where
//! nothing listens. What has no counterpart is in `docs/contract.md`, "Where the simulator
//! differs", and [`World::differs`] says which of those a world shows.

use crate::conformance::Difference;
use crate::support::{within, Accept, Trace};
use std::any::Any;
use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex, OnceLock};
use tcpnotify::record::{CallbackLog, Recorded, RecordedListener};
use tcpnotify::{
    BoxFuture, ConnectionHandle, ListenerHandle, Network, TcpConnection, TcpConnectionNotify,
    TcpListener, TokioNetwork,
};
use tcpnotify_sim::judge::{check, CheckOptions, CheckReport};
use tcpnotify_sim::run::SimNetwork;
use tcpnotify_sim::run::{EventKind, Trace as SimTrace, TraceEvent};
use tokio::net::TcpSocket;

/// The name that resolves to a dead address first and the live one second, in every world.
pub const PAIR: &str = "pair.test";

/// The address loopback tests listen on and dial.
pub const LOOPBACK_HOST: &str = "127.0.0.1";

/// The simulated host a test body runs on: its listeners, clients and raw peers.
pub const SIM_HOST: &str = "local.sim";

/// The simulated host where nothing listens: the dead address of [`PAIR`].
pub const SIM_DEAD_HOST: &str = "dead.sim";

/// A port nothing listens on in the simulator: bodies' listeners take ephemeral ports
/// (turmoil's start at 49152).
const SIM_DEAD_PORT: u16 = 9;

/// Bytes a simulated writer writes to a peer that does not read: far more than the simulated
/// network's window, as the loopback's [`Loopback::bulk`] is more than the kernel's buffers.
/// Fixed, so that a simulated run does not depend on the machine it runs on.
const SIM_BULK: usize = 9 << 20;

/// A listening socket of a world's network.
pub type RawListener<W> = <<W as World>::Net as Network>::Listener;

/// A stream of a world's network: what a raw peer reads and writes.
pub type RawStream<W> = <<W as World>::Net as Network>::Stream;

/// Something a test holds for as long as it needs it: on loopback, a bound socket that keeps
/// an address dead; in the simulator, nothing.
pub type Reserved = Box<dyn Any>;

/// What a test body recorded, for the contract checker: its traces and callback logs, and
/// its listeners' limits. Shared by every clone of a world.
#[derive(Clone, Default)]
pub struct Recording {
    sources: Arc<Mutex<Vec<Source>>>,
    limits: Arc<Mutex<BTreeMap<String, usize>>>,
}

/// Callbacks a test body recorded.
enum Source {
    /// Every callback of a trace.
    Trace(Trace),
    /// The callbacks of `whos` in a callback log (other names there are not connections).
    Log(Arc<CallbackLog>, Vec<String>),
}

impl Recording {
    /// A new trace of callbacks on `host` that the checker will judge.
    fn trace(&self, host: &str) -> Trace {
        let trace = Trace::new(host);
        self.lock_sources().push(Source::Trace(trace.clone()));
        trace
    }

    /// Listener `who` accepts at most `limit` connections at once (0: unlimited).
    pub fn set_limit(&self, who: &str, limit: usize) {
        let mut limits = self.limits.lock().unwrap_or_else(|e| e.into_inner());
        limits.insert(who.to_string(), limit);
    }

    fn lock_sources(&self) -> std::sync::MutexGuard<'_, Vec<Source>> {
        self.sources.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Each recorded source's callbacks as a simulator trace (a callback log's on `host`),
    /// in the order they were made.
    pub fn traces(&self, host: &str) -> Vec<SimTrace> {
        let event = |who: String, callback| TraceEvent {
            at_us: 0,
            host: host.into(),
            who: who.into(),
            kind: EventKind::Callback {
                callback,
                local: None,
                remote: None,
            },
        };
        self.lock_sources()
            .iter()
            .map(|source| match source {
                Source::Trace(trace) => trace.callbacks(),
                Source::Log(log, whos) => SimTrace::from_events(
                    log.entries()
                        .into_iter()
                        .filter(|(who, _)| whos.contains(who))
                        .map(|(who, callback)| event(who, callback))
                        .collect(),
                ),
            })
            .collect()
    }

    /// The contract check of each recorded source, with its trace.
    pub fn check(&self, host: &str) -> Vec<(CheckReport, SimTrace)> {
        let options = CheckOptions {
            listener_limits: self
                .limits
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .clone(),
            ..CheckOptions::default()
        };
        self.traces(host)
            .into_iter()
            .map(|trace| (check(&trace, &options), trace))
            .collect()
    }
}

/// Where a test body runs: one backend's network and what real sockets and the simulator
/// each need to give a body the same situation.
pub trait World: Clone + Send + Sync + 'static {
    /// The backend's network.
    type Net: Network;

    /// The network every listener, client and raw peer of the body uses. [`PAIR`] resolves to
    /// a dead address, then [`host`](Self::host).
    fn net(&self) -> Self::Net;

    /// The address listeners listen on and clients dial, as a client names it.
    fn host(&self) -> &str;

    /// What the body recorded, for the contract checker.
    fn recording(&self) -> &Recording;

    /// Bytes to write at once to a peer that does not read, so that the writer must be
    /// pushed back: more than the network buffers between the two.
    fn bulk(&self) -> usize;

    /// A raw listener on [`host`](Self::host), any port. With `small_receive_buffer`, a peer
    /// that does not read pushes back sooner (on loopback, `SO_RCVBUF`; in the simulator every
    /// stream has the network's window).
    async fn raw_listener(&self, small_receive_buffer: bool) -> (RawListener<Self>, u16);

    /// A port on [`host`](Self::host) where nothing listens, kept so while the reservation
    /// lives: dialling it is refused.
    fn dead_port(&self) -> (Reserved, u16);

    /// Makes [`PAIR`]'s first address dead at `port` (its second is [`host`](Self::host))
    /// while the reservation lives; the name to dial.
    fn dead_then_live(&self, port: u16) -> (&'static str, Reserved);

    /// Whether this world shows `difference` (`docs/contract.md`, "Where the simulator
    /// differs"): a body that meets it asserts what this says.
    fn differs(&self, _difference: Difference) -> bool {
        false
    }

    /// A trace for the body's callbacks, judged by the contract checker when the body ends.
    fn trace(&self) -> Trace {
        self.recording().trace(self.host())
    }

    /// Has the contract checker judge the callbacks of `whos` in `log` when the body ends.
    fn check_log(&self, log: &Arc<CallbackLog>, whos: &[&str]) {
        let whos = whos.iter().map(|w| w.to_string()).collect();
        self.recording()
            .lock_sources()
            .push(Source::Log(log.clone(), whos));
    }

    /// Dials [`host`](Self::host) at `port` with `notify`'s callbacks recorded as `who`.
    fn connect(
        &self,
        trace: &Trace,
        who: &str,
        notify: impl TcpConnectionNotify,
        port: u16,
    ) -> ConnectionHandle {
        trace.redact_port(port);
        let host = self.host().to_string();
        self.dial(Recorded::new(notify, who, trace.sink()), &host, port)
    }

    /// Dials `host` at `port` with an already recorded notifier.
    fn dial<N: TcpConnectionNotify>(
        &self,
        recorded: Recorded<N>,
        host: &str,
        port: u16,
    ) -> ConnectionHandle {
        TcpConnection::builder()
            .network(self.net())
            .connect(recorded, host, &port.to_string())
    }

    /// Listens on [`host`](Self::host), any port, accepting at most `limit` connections at
    /// once (0: unlimited), recorded as `who` and its connections as `who.1`, `who.2`, ...
    async fn listen<F>(
        &self,
        trace: &Trace,
        who: &str,
        limit: usize,
        make: F,
    ) -> (ListenerHandle, u16)
    where
        F: FnMut() -> Box<dyn TcpConnectionNotify> + Send + 'static,
    {
        self.recording().set_limit(who, limit);
        let listener = TcpListener::builder()
            .network(self.net())
            .limit(limit)
            .listen(
                RecordedListener::new(Accept(make), who, trace.sink()),
                self.host(),
                "0",
            );
        let address = within("listening", listener.listening())
            .await
            .expect("listen");
        trace.redact_port(address.port());
        (listener, address.port())
    }

    /// Accepts one peer on a raw listener.
    async fn accept(&self, listener: &RawListener<Self>) -> RawStream<Self> {
        within("accept", self.net().accept(listener))
            .await
            .expect("accept")
            .0
    }

    /// A raw peer dialling [`host`](Self::host) at `port`. Sendable, so another task can
    /// wait for the handshake.
    fn raw_connect(&self, port: u16) -> BoxFuture<'static, RawStream<Self>> {
        let net = self.net();
        let resolving = net.resolve(self.host(), &port.to_string());
        Box::pin(async move {
            let address = resolving
                .await
                .expect("resolve")
                .into_iter()
                .next()
                .expect("an address");
            within("peer connect", net.connect(address))
                .await
                .expect("connect")
        })
    }
}

/// Real sockets on loopback: `127.0.0.1`, with `127.0.0.2` as the dead address.
#[derive(Clone)]
pub struct Loopback {
    net: TokioNetwork,
    recording: Recording,
}

impl Loopback {
    /// The loopback world, [`PAIR`] resolving to `127.0.0.2`, then `127.0.0.1`.
    pub fn new() -> Self {
        let dead: IpAddr = [127, 0, 0, 2].into();
        let live: IpAddr = [127, 0, 0, 1].into();
        Loopback {
            net: TokioNetwork::new().with_host(PAIR, [dead, live]),
            recording: Recording::default(),
        }
    }
}

/// A socket bound to `ip`, any port or `port`, that does not listen: dialling it is refused,
/// and nothing else can listen there while it lives.
fn dead_socket(ip: [u8; 4], port: u16) -> (TcpSocket, u16) {
    let socket = TcpSocket::new_v4().expect("socket");
    socket
        .bind(SocketAddr::from((ip, port)))
        .expect("bind without listening");
    let port = socket.local_addr().expect("local address").port();
    (socket, port)
}

impl World for Loopback {
    type Net = TokioNetwork;

    fn net(&self) -> TokioNetwork {
        self.net.clone()
    }

    fn host(&self) -> &str {
        LOOPBACK_HOST
    }

    fn recording(&self) -> &Recording {
        &self.recording
    }

    /// Twice the most the kernel lets a socket's send buffer grow to (`tcp_wmem`; 4 MiB
    /// where unknown), and more.
    fn bulk(&self) -> usize {
        // Asked for several times a test, from inside callbacks too: read the setting once.
        static BULK: OnceLock<usize> = OnceLock::new();
        *BULK.get_or_init(|| {
            let max_send_buffer = std::fs::read_to_string("/proc/sys/net/ipv4/tcp_wmem")
                .ok()
                .and_then(|text| text.split_whitespace().nth(2)?.parse::<usize>().ok())
                .unwrap_or(4 << 20);
            2 * max_send_buffer + (1 << 20)
        })
    }

    /// Accepted sockets of a listener with `small_receive_buffer` get a 16 KiB receive buffer.
    async fn raw_listener(&self, small_receive_buffer: bool) -> (tokio::net::TcpListener, u16) {
        let socket = TcpSocket::new_v4().expect("socket");
        if small_receive_buffer {
            socket.set_recv_buffer_size(16 << 10).expect("SO_RCVBUF");
        }
        socket
            .bind(SocketAddr::from(([127, 0, 0, 1], 0)))
            .expect("bind");
        let listener = socket.listen(16).expect("listen");
        let port = listener.local_addr().expect("local address").port();
        (listener, port)
    }

    fn dead_port(&self) -> (Reserved, u16) {
        let (socket, port) = dead_socket([127, 0, 0, 1], 0);
        (Box::new(socket), port)
    }

    fn dead_then_live(&self, port: u16) -> (&'static str, Reserved) {
        // Nothing can listen on 127.0.0.2 at this port while this socket holds it.
        let (socket, _) = dead_socket([127, 0, 0, 2], port);
        (PAIR, Box::new(socket))
    }
}

/// The simulator: the body runs on host [`SIM_HOST`] of a turmoil simulation with a quiet
/// fault plan, through the fault layer; [`SIM_DEAD_HOST`] is a host where nothing listens.
#[derive(Clone)]
pub struct Simulated {
    net: SimNetwork,
    recording: Recording,
}

impl Simulated {
    /// The world of [`SIM_HOST`] over `net`.
    pub fn new(net: SimNetwork) -> Self {
        Simulated {
            net,
            recording: Recording::default(),
        }
    }
}

impl World for Simulated {
    type Net = SimNetwork;

    fn net(&self) -> SimNetwork {
        self.net.clone()
    }

    fn host(&self) -> &str {
        SIM_HOST
    }

    fn recording(&self) -> &Recording {
        &self.recording
    }

    fn bulk(&self) -> usize {
        SIM_BULK
    }

    fn differs(&self, difference: Difference) -> bool {
        match difference {
            Difference::S1 | Difference::S4 | Difference::S5 => true,
        }
    }

    /// Every simulated stream has the network's window, whatever `small_receive_buffer` says.
    async fn raw_listener(
        &self,
        _small_receive_buffer: bool,
    ) -> (tcpnotify_sim::run::TurmoilListener, u16) {
        let listener = self.net.listen("", "0").await.expect("listen");
        let port = self
            .net
            .listener_address(&listener)
            .expect("bound address")
            .port();
        (listener, port)
    }

    fn dead_port(&self) -> (Reserved, u16) {
        (Box::new(()), SIM_DEAD_PORT)
    }

    /// [`SIM_DEAD_HOST`] never listens: nothing to reserve.
    fn dead_then_live(&self, _port: u16) -> (&'static str, Reserved) {
        (PAIR, Box::new(()))
    }
}
