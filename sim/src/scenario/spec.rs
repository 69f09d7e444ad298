//! A scenario: the hosts, names, listeners and clients of a simulated run, which notifier each
//! uses, the fault settings or an explicit plan, and how long it may run.

use super::field;
use super::{Expectations, LogFilter, Properties};
use crate::fault::{Dial, FaultPlan, Faults, Topology};
use crate::seed::Seed;
use crate::validate::{
    at_most, count_at_most, name, positive_at_most, quoted, scenario_name, InvalidField, NameKind,
    EPHEMERAL_PORTS, MAX_BUFFER_BYTES, MAX_CLIENTS, MAX_COUNT, MAX_DURATION_MS, MAX_FAULTS,
    MAX_HOSTS, MAX_LISTENERS, MAX_TOTAL_PAYLOAD_BYTES,
};
use rustc_hash::{FxHashMap, FxHashSet};
use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;
use tcpnotify::{ConnectionConfig, TcpConnectionNotify, TcpListenNotify};

/// How long a run goes on after its active duration, by default: the liveness phase, in
/// simulated milliseconds (see [`Scenario::settle_ms`]).
pub const DEFAULT_SETTLE_MS: u64 = 1_000;

/// Makes a fresh notifier for each connection.
pub type NotifierFactory = Arc<dyn Fn() -> Box<dyn TcpConnectionNotify> + Send + Sync>;

/// Wraps a closure as a [`NotifierFactory`].
pub fn factory<N: TcpConnectionNotify>(
    make: impl Fn() -> N + Send + Sync + 'static,
) -> NotifierFactory {
    Arc::new(move || Box::new(make()) as Box<dyn TcpConnectionNotify>)
}

/// Makes a fresh listen notifier ([`TcpListenNotify`]) for a listener: once per start of its
/// host (a restarted host's listener gets a new one). For a listener that does more than
/// accept every peer with the same notifier: rejects some, closes itself, dials out from
/// `listening` or `connected`.
pub type ListenNotifierFactory = Arc<dyn Fn() -> Box<dyn TcpListenNotify> + Send + Sync>;

/// Wraps a closure as a [`ListenNotifierFactory`].
///
/// ```
/// use tcpnotify::{TcpConnectionNotify, TcpListenNotify, TcpListener};
/// use tcpnotify_sim::notifiers::Echo;
/// use tcpnotify_sim::scenario::listen_factory;
/// use tcpnotify_sim::Scenario;
///
/// /// Accepts two peers with an echo, then closes.
/// struct TwoOnly(usize);
/// impl TcpListenNotify for TwoOnly {
///     fn connected(&mut self, listener: &mut TcpListener) -> Option<Box<dyn TcpConnectionNotify>> {
///         self.0 += 1;
///         if self.0 == 2 {
///             listener.close();
///         }
///         Some(Box::new(Echo))
///     }
///     fn not_listening(&mut self, _listener: &mut TcpListener) {}
/// }
///
/// let scenario = Scenario::new("two").listener_with("server", "server", 7000, listen_factory(|| TwoOnly(0)));
/// assert!(scenario.validate().is_ok());
/// ```
pub fn listen_factory<L: TcpListenNotify>(
    make: impl Fn() -> L + Send + Sync + 'static,
) -> ListenNotifierFactory {
    Arc::new(move || Box::new(make()) as Box<dyn TcpListenNotify>)
}

/// What a listener of a scenario runs.
#[derive(Clone)]
pub enum ListenerNotifier {
    /// Accepts every peer, each with a fresh notifier from the factory: the usual server.
    Accept(NotifierFactory),
    /// Its own listen notifier, which decides each peer's notifier (or rejects it).
    Listen(ListenNotifierFactory),
}

impl ListenerNotifier {
    /// The listen notifier for one start of the listener's host.
    pub fn make(&self) -> Box<dyn TcpListenNotify> {
        match self {
            ListenerNotifier::Accept(make) => {
                let make = make.clone();
                Box::new(super::notifiers::Accept(move || make()))
            }
            ListenerNotifier::Listen(make) => make(),
        }
    }
}

impl From<NotifierFactory> for ListenerNotifier {
    fn from(factory: NotifierFactory) -> Self {
        ListenerNotifier::Accept(factory)
    }
}

impl From<ListenNotifierFactory> for ListenerNotifier {
    fn from(factory: ListenNotifierFactory) -> Self {
        ListenerNotifier::Listen(factory)
    }
}

/// How a run records and checks data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RunOptions {
    /// Check stream integrity (R6, W3) as data flows, by a running CRC-32 of each direction
    /// on each side (no byte is held; a mismatch is replayed to name the first differing
    /// byte). On by default; off saves one checksum pass per byte sent and per byte received.
    pub check_integrity: bool,
    /// Keep the whole data of every callback in the trace (memory grows with the transfer).
    /// Off by default: the trace keeps counts and previews.
    pub keep_payloads: bool,
}

impl Default for RunOptions {
    fn default() -> Self {
        RunOptions {
            check_integrity: true,
            keep_payloads: false,
        }
    }
}

/// A listener of a scenario.
#[derive(Clone)]
pub struct ListenerSpec {
    /// Its name in the trace; its connections are `name.1`, `name.2`, ...
    pub name: String,
    /// The host it runs on.
    pub host: String,
    /// The port it listens on.
    pub port: u16,
    /// Connection limit (0: none).
    pub limit: usize,
    /// Settings of accepted connections.
    pub config: ConnectionConfig,
    /// What it runs: a notifier for each accepted connection, or a listen notifier of its own.
    pub notifier: ListenerNotifier,
}

/// A client connection of a scenario.
#[derive(Clone)]
pub struct ClientSpec {
    /// Its name in the trace.
    pub name: String,
    /// The host it runs on.
    pub host: String,
    /// The name or host it dials.
    pub target: String,
    /// The port it dials.
    pub port: u16,
    /// When it starts, in simulated milliseconds.
    pub start_ms: u64,
    /// Its settings.
    pub config: ConnectionConfig,
    /// Its notifier.
    pub notifier: NotifierFactory,
}

/// Everything a simulated run needs besides its seed.
///
/// ```
/// use tcpnotify_sim::{factory, Scenario};
/// use tcpnotify_sim::notifiers::{Echo, Sender};
/// let scenario = Scenario::new("echo")
///     .listener("server", "server", 7000, factory(|| Echo))
///     .client("c1", "client", "server", 7000, factory(|| Sender::new(b"hello".to_vec())));
/// assert_eq!(scenario.topology().hosts, vec!["server", "client"]);
/// ```
#[derive(Clone)]
pub struct Scenario {
    /// Its name.
    pub name: String,
    /// How long the run is active: clients start and faults fire within it. A run that has not
    /// ended by itself by then enters its liveness phase (see [`settle_ms`](Self::settle_ms)).
    pub duration_ms: u64,
    /// How long the liveness phase goes on: when the active duration is over, every fault
    /// heals and the run continues for this long at most, so that what must eventually hold
    /// (every client finished, every byte delivered) is judged on a healed network. 0 turns
    /// the phase off: the run ends with the active duration, faults and all.
    pub settle_ms: u64,
    /// Hosts with nothing running on them (e.g. a dead address of a name).
    pub extra_hosts: Vec<String>,
    /// Names that resolve to several hosts, in order.
    pub names: BTreeMap<String, Vec<String>>,
    /// Listeners.
    pub listeners: Vec<ListenerSpec>,
    /// Client connections.
    pub clients: Vec<ClientSpec>,
    /// What plans are drawn from: the swarm (the default: each seed draws its own fault
    /// settings) or settings written by hand.
    pub faults: Faults,
    /// An explicit plan, used instead of drawing one.
    pub plan: Option<FaultPlan>,
    /// How the run records and checks data.
    pub options: RunOptions,
    /// Which `tracing` events the run records into its trace: `RUST_LOG`'s filter unless
    /// set ([`log_filter`](Self::log_filter)).
    pub log_filter: LogFilter,
    /// What must hold at the end.
    pub expectations: Expectations,
    /// The scenario's own properties, judged with the contract and the expectations, and the
    /// sometimes-assertions it declares.
    pub properties: Properties,
    /// What the builder added last, for [`with_config`](Self::with_config).
    last_added: Option<Added>,
}

/// A kind of thing a scenario holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Added {
    Listener,
    Client,
}

impl fmt::Debug for Scenario {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Scenario")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

impl Scenario {
    /// The smallest useful scenario: an [`Echo`](super::notifiers::Echo) listener `server` on
    /// host `server`, port 7000, and client `c1` on host `client` sending `bytes` of the test
    /// pattern in `chunk`-byte writes and checking the echo.
    ///
    /// ```
    /// let scenario = tcpnotify_sim::scenario::Scenario::echo("echo", 1024, 256);
    /// assert_eq!(scenario.topology().clients, vec!["c1"]);
    /// ```
    pub fn echo(name: &str, bytes: usize, chunk: usize) -> Self {
        use super::notifiers::{Echo, Sender};
        Scenario::new(name)
            .listener("server", "server", 7000, factory(|| Echo))
            .client(
                "c1",
                "client",
                "server",
                7000,
                factory(move || Sender::pattern(bytes).chunked(chunk)),
            )
    }

    /// An empty scenario that may run for 10 simulated seconds, then settle for
    /// [`DEFAULT_SETTLE_MS`] with every fault healed; swarm tested: each seed draws its own
    /// fault settings ([`Faults`]) unless [`faults`](Self::faults) or [`plan`](Self::plan)
    /// says otherwise.
    pub fn new(name: &str) -> Self {
        Scenario {
            name: name.to_string(),
            duration_ms: 10_000,
            settle_ms: DEFAULT_SETTLE_MS,
            extra_hosts: Vec::new(),
            names: BTreeMap::new(),
            listeners: Vec::new(),
            clients: Vec::new(),
            faults: Faults::default(),
            plan: None,
            options: RunOptions::default(),
            log_filter: LogFilter::from_env(),
            expectations: Expectations::default(),
            properties: Properties::default(),
            last_added: None,
        }
    }

    /// Adds a listener with no limit and default settings.
    pub fn listener(self, name: &str, host: &str, port: u16, notifier: NotifierFactory) -> Self {
        self.listener_with(name, host, port, notifier)
    }

    /// Adds a listener that runs `notifier`: a listen notifier of its own
    /// ([`listen_factory`]), or a factory of accepted connections' notifiers as
    /// [`listener`](Self::listener) takes.
    pub fn listener_with(
        mut self,
        name: &str,
        host: &str,
        port: u16,
        notifier: impl Into<ListenerNotifier>,
    ) -> Self {
        self.last_added = Some(Added::Listener);
        self.listeners.push(ListenerSpec {
            name: name.to_string(),
            host: host.to_string(),
            port,
            limit: 0,
            config: ConnectionConfig::default(),
            notifier: notifier.into(),
        });
        self
    }

    /// Adds a client that starts at once with default settings.
    pub fn client(
        mut self,
        name: &str,
        host: &str,
        target: &str,
        port: u16,
        notifier: NotifierFactory,
    ) -> Self {
        self.last_added = Some(Added::Client);
        self.clients.push(ClientSpec {
            name: name.to_string(),
            host: host.to_string(),
            target: target.to_string(),
            port,
            start_ms: 0,
            config: ConnectionConfig::default(),
            notifier,
        });
        self
    }

    /// Makes `name` resolve to `hosts`, in order, each once.
    pub fn name(mut self, name: &str, hosts: &[&str]) -> Self {
        self.names.insert(
            name.to_string(),
            hosts.iter().map(|h| h.to_string()).collect(),
        );
        self
    }

    /// Adds a host that runs nothing.
    pub fn host(mut self, host: &str) -> Self {
        self.extra_hosts.push(host.to_string());
        self
    }

    /// Sets how long the run is active (clients start and faults fire within it).
    pub fn duration_ms(mut self, ms: u64) -> Self {
        self.duration_ms = ms;
        self
    }

    /// Sets how long the liveness phase lasts at most (0: no liveness phase). A run that has
    /// not ended by itself when its active duration is over then heals every fault — a trace
    /// note says what — and goes on for up to `ms`, ending as soon as every client finished
    /// and no connection is open; what must eventually hold is judged after it. What heals:
    /// partitions (two-way and one-way) are repaired, crashed hosts restart, every link's
    /// latency returns to the quiet 1 ms, the chunking policies stop (writes and reads pass
    /// whole, send buffers are the full window), slow closes deliver their end of stream,
    /// and no fault of the plan fires any more. A reset connection stays reset.
    ///
    /// ```
    /// use tcpnotify_sim::Scenario;
    /// let scenario = Scenario::echo("echo", 64, 64).duration_ms(500).settle_ms(2_000);
    /// assert_eq!((scenario.duration_ms, scenario.settle_ms), (500, 2_000));
    /// ```
    pub fn settle_ms(mut self, ms: u64) -> Self {
        self.settle_ms = ms;
        self
    }

    /// Sets what plans are drawn from: fault settings written by hand, the same at every seed
    /// (`FaultSettings::quiet()` for runs without faults, `FaultSettings::healing()`, or your
    /// own), or a [`Swarm`](crate::fault::Swarm) (the default).
    ///
    /// ```
    /// use tcpnotify_sim::{FaultSettings, Scenario, Seed};
    /// let quiet = Scenario::echo("echo", 64, 64).faults(FaultSettings::quiet());
    /// assert_eq!(quiet.plan_for(Seed(3)).size(), 0);
    /// ```
    pub fn faults(mut self, faults: impl Into<Faults>) -> Self {
        self.faults = faults.into();
        self
    }

    /// Uses an explicit plan instead of drawing one.
    pub fn plan(mut self, plan: FaultPlan) -> Self {
        self.plan = Some(plan);
        self
    }

    /// Keeps the whole data of every callback in the trace.
    pub fn keep_payloads(mut self) -> Self {
        self.options.keep_payloads = true;
        self
    }

    /// Records the `tracing` events `filter` lets through into the run's trace, stamped with
    /// simulated time, host and connection, instead of those `RUST_LOG` names: what a test
    /// sets so that it does not depend on the environment.
    ///
    /// ```
    /// use tcpnotify_sim::scenario::{LogFilter, Scenario};
    /// let scenario = Scenario::echo("echo", 16, 16).log_filter(LogFilter::new("debug").unwrap());
    /// assert_eq!(scenario.log_filter.to_string(), "debug");
    /// ```
    pub fn log_filter(mut self, filter: LogFilter) -> Self {
        self.log_filter = filter;
        self
    }

    /// Starts the last added client at `ms` simulated milliseconds instead of at once.
    pub fn starting_at(mut self, ms: u64) -> Self {
        if let Some(c) = self.clients.last_mut() {
            c.start_ms = ms;
        }
        self
    }

    /// Changes the settings of the listener or client added last.
    pub fn with_config(mut self, config: ConnectionConfig) -> Self {
        match self.last_added {
            Some(Added::Client) => self.clients.last_mut().map(|c| c.config = config),
            Some(Added::Listener) => self.listeners.last_mut().map(|l| l.config = config),
            None => None,
        };
        self
    }

    /// What must hold at the end of every run.
    pub fn expecting(mut self, expectations: Expectations) -> Self {
        self.expectations = expectations;
        self
    }

    /// Every host the scenario mentions, in the order its topology lists them, with where:
    /// listeners, clients, `hosts`, then `[names]`.
    fn mentioned_hosts(&self) -> impl Iterator<Item = (HostSource<'_>, &String)> {
        let listeners =
            (self.listeners.iter().enumerate()).map(|(i, l)| (HostSource::Listener(i), &l.host));
        let clients =
            (self.clients.iter().enumerate()).map(|(i, c)| (HostSource::Client(i), &c.host));
        let extra = (self.extra_hosts.iter().enumerate()).map(|(i, h)| (HostSource::Hosts(i), h));
        let names = (self.names.iter()).flat_map(|(alias, hosts)| {
            (hosts.iter().enumerate()).map(move |(j, h)| (HostSource::Name(alias, j), h))
        });
        listeners.chain(clients).chain(extra).chain(names)
    }

    /// Checks the number of different hosts, `total`, against [`MAX_HOSTS`]. They come from
    /// several places, so the error is at the one that adds the first host past the limit,
    /// and says how many of them the file's `hosts` lists.
    fn check_host_count(&self, total: usize) -> Result<(), InvalidField> {
        if total <= MAX_HOSTS {
            return Ok(());
        }
        let mut seen: FxHashSet<&str> = FxHashSet::default();
        let first_past = self
            .mentioned_hosts()
            .find(|(_, h)| seen.insert(h) && seen.len() > MAX_HOSTS)
            .map(|(source, _)| source.to_string());
        let listed = match self.extra_hosts.len() {
            0 => String::new(),
            n => format!("{n} in `hosts`, plus "),
        };
        Err(InvalidField::new(
            first_past.unwrap_or_else(|| "hosts".into()),
            format!(
                "{total} hosts in all ({listed}the hosts of listeners, clients and [names]) are \
                 more than the limit of {MAX_HOSTS}: this is the first past it"
            ),
        ))
    }

    /// The hosts (in order of first mention), servers, client names and duration.
    pub fn topology(&self) -> Topology {
        let mut hosts: Vec<String> = Vec::new();
        // Which are in `hosts` already: a file may name hundreds of thousands of hosts before
        // validation refuses more than MAX_HOSTS, and a search of the list for each would take
        // minutes. Only asked, never iterated (`hosts` keeps the order): hashed.
        let mut seen: FxHashSet<&str> = FxHashSet::default();
        for (_, h) in self.mentioned_hosts() {
            if seen.insert(h) {
                hosts.push(h.clone());
            }
        }
        let mut servers: Vec<String> = Vec::new();
        for l in &self.listeners {
            if !servers.contains(&l.host) {
                servers.push(l.host.clone());
            }
        }
        let dials = self
            .clients
            .iter()
            .map(|c| Dial {
                client: c.name.clone(),
                host: c.host.clone(),
                targets: match self.names.get(&c.target) {
                    Some(hosts) => hosts.clone(),
                    None => vec![c.target.clone()],
                },
            })
            .collect();
        Topology {
            hosts,
            servers,
            clients: self.clients.iter().map(|c| c.name.clone()).collect(),
            listeners: self.listeners.iter().map(|l| l.name.clone()).collect(),
            duration_ms: self.duration_ms,
            dials,
            ports: (self.listeners.iter())
                .map(|l| (l.host.clone(), l.port))
                .collect(),
        }
    }

    /// Checks everything a run takes from the scenario before it starts: names (unique, of
    /// the allowed characters, none that the simulator's own names could collide with), host
    /// lists (`hosts`, each name's) without a host twice, targets, every size, count and
    /// duration against its limit ([`crate::validate`]), the fault settings, the explicit plan
    /// and the expectations. Fields are named as in a scenario file (`clients[1].target`,
    /// `plan.faults[0].b`).
    ///
    /// ```
    /// use tcpnotify_sim::notifiers::Echo;
    /// use tcpnotify_sim::{factory, Scenario};
    /// let scenario = Scenario::echo("echo", 10, 10)
    ///     .listener("server.1", "server", 7001, factory(|| Echo));
    /// let err = scenario.validate().unwrap_err();
    /// assert_eq!(err.field, "listeners[1].name");
    /// ```
    pub fn validate(&self) -> Result<(), InvalidField> {
        self.validated_topology().map(drop)
    }

    /// Validates the scenario ([`validate`](Self::validate)) and returns its topology, which
    /// the checks need too: a run takes both, and building a topology copies every client's
    /// names.
    ///
    /// Field names are only formatted for an error: this runs before every run, once per
    /// listener and client.
    pub(crate) fn validated_topology(&self) -> Result<Topology, InvalidField> {
        scenario_name("name", &self.name)?;
        positive_at_most("duration_ms", self.duration_ms, MAX_DURATION_MS)?;
        at_most("settle_ms", self.settle_ms, MAX_DURATION_MS)?;
        self.properties.validate()?;
        count_at_most("listeners", self.listeners.len(), MAX_LISTENERS)?;
        count_at_most("clients", self.clients.len(), MAX_CLIENTS)?;
        let topology = self.topology();
        self.check_host_count(topology.hosts.len())?;
        let mut entries: FxHashMap<&str, usize> = FxHashMap::default();
        for (i, host) in self.extra_hosts.iter().enumerate() {
            name("", host, NameKind::Host).map_err(|e| e.within(&format!("hosts[{i}]")))?;
            once_in_list(&mut entries, "hosts", i, host)?;
        }
        // Asked once per client and name, never iterated: hashed, where a B-tree of the hosts
        // compared some 170 instructions of text per question.
        let hosts: FxHashSet<&str> = topology.hosts.iter().map(String::as_str).collect();
        for (alias, targets) in &self.names {
            let field = field::join("names", alias);
            name(&field, alias, NameKind::Host)?;
            if hosts.contains(alias.as_str()) {
                return Err(InvalidField::new(
                    field,
                    format!("{alias:?} is also a host: a name must differ from every host"),
                ));
            }
            if targets.is_empty() {
                return Err(InvalidField::new(field, "a name needs at least one host"));
            }
            entries.clear();
            for (j, host) in targets.iter().enumerate() {
                name(&format!("{field}[{j}]"), host, NameKind::Host)?;
                once_in_list(&mut entries, &field, j, host)?;
            }
        }
        let named = (self.listeners.iter().enumerate())
            .map(|(i, l)| (Entry::Listener(i), l.name.as_str()))
            .chain(
                (self.clients.iter().enumerate()).map(|(i, c)| (Entry::Client(i), c.name.as_str())),
            );
        let mut seen: FxHashMap<&str, Entry> = FxHashMap::with_capacity_and_hasher(
            self.listeners.len() + self.clients.len(),
            Default::default(),
        );
        for (entry, value) in named {
            name("name", value, NameKind::Connection).map_err(|e| entry.error(e))?;
            if let Some(first) = seen.insert(value, entry) {
                return Err(entry.error(InvalidField::new(
                    "name",
                    format!("{value:?} is already the name of {first}"),
                )));
            }
        }
        let mut bound: BTreeMap<(&str, u16), &str> = BTreeMap::new();
        for (i, l) in self.listeners.iter().enumerate() {
            let entry = Entry::Listener(i);
            port("port", l.port).map_err(|e| entry.error(e))?;
            if let Some(first) = bound.insert((&l.host, l.port), &l.name) {
                return Err(entry.error(InvalidField::new(
                    "port",
                    format!("listener {first} already listens on {}:{}", l.host, l.port),
                )));
            }
            name("host", &l.host, NameKind::Host).map_err(|e| entry.error(e))?;
            at_most("limit", l.limit as u64, MAX_COUNT).map_err(|e| entry.error(e))?;
            check_config(&l.config).map_err(|e| entry.error(e))?;
        }
        for (i, c) in self.clients.iter().enumerate() {
            let entry = Entry::Client(i);
            port("port", c.port).map_err(|e| entry.error(e))?;
            name("host", &c.host, NameKind::Host).map_err(|e| entry.error(e))?;
            if !self.names.contains_key(&c.target) && !hosts.contains(c.target.as_str()) {
                return Err(entry.error(InvalidField::new(
                    "target",
                    format!(
                        "{} is neither a host nor a name of this scenario",
                        quoted(&c.target)
                    ),
                )));
            }
            if c.start_ms >= self.duration_ms {
                return Err(entry.error(InvalidField::new(
                    "start_ms",
                    format!(
                        "{} is not before the end of the run (duration_ms = {})",
                        c.start_ms, self.duration_ms
                    ),
                )));
            }
            check_config(&c.config).map_err(|e| entry.error(e))?;
        }
        // Every attempt takes one of its host's ephemeral ports for the rest of the run; the
        // runner also counts the SYNs a plan's crashes make it send again.
        let mut attempts: FxHashMap<&str, usize> = FxHashMap::default();
        for (i, c) in self.clients.iter().enumerate() {
            let on_host = attempts.entry(c.host.as_str()).or_default();
            *on_host += self.names.get(&c.target).map_or(1, Vec::len);
            if *on_host > EPHEMERAL_PORTS {
                return Err(InvalidField::new(
                    format!("clients[{i}].host"),
                    format!(
                        "the clients of host {:?} up to this one make {on_host} connect \
                         attempts (one per address they dial), but a simulated host has \
                         {EPHEMERAL_PORTS} ephemeral ports: spread the clients over more hosts",
                        c.host
                    ),
                ));
            }
        }
        if let Faults::Settings(settings) = &self.faults {
            self.check_settings(settings, &topology)?;
        }
        if let Some(plan) = &self.plan {
            plan.validate(&topology).map_err(|e| e.within("plan"))?;
        }
        let expect = &self.expectations;
        let counts = [
            ("expect.closed", expect.closed),
            ("expect.connect_failed", expect.connect_failed),
            ("expect.accepted", expect.accepted),
        ];
        for (field, count) in counts {
            if let Some(count) = count {
                at_most(field, count as u64, MAX_COUNT)?;
            }
        }
        for (who, bytes) in &expect.delivered {
            let field = field::join("expect.delivered", who);
            topology.connection(&field, who)?;
            at_most(&field, *bytes as u64, MAX_TOTAL_PAYLOAD_BYTES)?;
        }
        Ok(topology)
    }

    /// Checks fault settings written by hand: valid ranges, a window inside the run, and no
    /// plan drawn from them beyond [`MAX_FAULTS`] faults (unless an explicit plan replaces
    /// them).
    fn check_settings(
        &self,
        settings: &crate::fault::FaultSettings,
        topology: &Topology,
    ) -> Result<(), InvalidField> {
        settings.validate().map_err(|e| e.within("faults"))?;
        if let Some(window) = settings.fault_window_ms {
            if window.max >= self.duration_ms {
                return Err(InvalidField::new(
                    "faults.fault_window_ms",
                    format!(
                        "ends at {}, not before the end of the run (duration_ms = {}): \
                         faults drawn there would never fire",
                        window.max, self.duration_ms
                    ),
                ));
            }
        }
        if self.plan.is_none() {
            self.check_drawn_faults(settings, topology)?;
        }
        Ok(())
    }

    /// Checks that no plan drawn from `s` can hold more than [`MAX_FAULTS`] faults, counted
    /// as the draw counts them ([`most_faults`](crate::fault::most_faults)). (A swarm's plans
    /// are cut at the limit instead: nothing was written to blame.)
    fn check_drawn_faults(
        &self,
        s: &crate::fault::FaultSettings,
        topology: &Topology,
    ) -> Result<(), InvalidField> {
        let hosts = topology.hosts.len();
        let drawn = crate::fault::most_faults(s, topology);
        let total: usize = drawn.iter().map(|(_, n)| n).sum();
        match drawn.iter().max_by_key(|(_, n)| *n) {
            Some((field, most)) if total > MAX_FAULTS => Err(InvalidField::new(
                format!("faults.{field}"),
                format!(
                    "plans drawn for {hosts} hosts and {} clients may hold {total} faults \
                     ({most} of them from {field}), above the limit of {MAX_FAULTS}",
                    topology.clients.len()
                ),
            )),
            _ => Ok(()),
        }
    }

    /// The plan for `seed`: the explicit plan (with this seed), or one drawn from the
    /// settings, or from the settings the swarm draws for the seed (resets and crashes only
    /// if the expectations allow lost connections:
    /// [`Expectations::allows_lost_connections`]).
    pub fn plan_for(&self, seed: Seed) -> FaultPlan {
        match &self.plan {
            Some(plan) => FaultPlan {
                seed,
                ..plan.clone()
            },
            None => self.faults.plan_for(
                seed,
                &self.topology(),
                self.expectations.allows_lost_connections(),
            ),
        }
    }

    /// The fault kinds and policies a run of `plan`, one of this scenario's plans, could
    /// exercise: those its settings (written, or drawn by the swarm for its seed) turn on, or
    /// those of an explicit plan. A coverage report lists the ones that never fired.
    pub fn enabled(&self, plan: &FaultPlan) -> Vec<&'static str> {
        match (&self.faults, &self.plan, &plan.swarm) {
            (Faults::Settings(settings), None, None) => settings.enabled(),
            _ => plan.enabled(),
        }
    }
}

/// Checks a port: 0 would mean "any free port", which no client could dial.
fn port(field: &str, port: u16) -> Result<(), InvalidField> {
    if port == 0 {
        return Err(InvalidField::new(
            field,
            "must be from 1 to 65535 (0 picks a port no client could dial)",
        ));
    }
    Ok(())
}

/// Checks a connection's settings against [`MAX_BUFFER_BYTES`]; fields are named from the
/// connection's own table (`config.read_buffer_size`).
fn check_config(config: &ConnectionConfig) -> Result<(), InvalidField> {
    for (key, value) in [
        ("read_buffer_size", config.read_buffer_size()),
        ("yield_after_reading", config.yield_after_reading()),
        ("yield_after_writing", config.yield_after_writing()),
    ] {
        positive_at_most(key, value as u64, MAX_BUFFER_BYTES).map_err(|e| e.within("config"))?;
    }
    Ok(())
}

/// A listener or client of a scenario, by its index: the table its fields are named from
/// (`listeners[0]`, `clients[3]`), formatted only for an error.
#[derive(Debug, Clone, Copy)]
enum Entry {
    Listener(usize),
    Client(usize),
}

impl Entry {
    /// `error`, its field seen from this entry's table.
    fn error(self, error: InvalidField) -> InvalidField {
        error.within(&self.to_string())
    }
}

/// Checks that `host`, entry `index` of the host list `field` (`hosts`, `names.svc`), is not
/// an entry before it, which `listed` holds with their indexes. A host listed twice is a
/// mistake: a name's client would dial the same address twice, and `hosts` adds a host once.
fn once_in_list<'a>(
    listed: &mut FxHashMap<&'a str, usize>,
    field: &str,
    index: usize,
    host: &'a str,
) -> Result<(), InvalidField> {
    match listed.insert(host, index) {
        None => Ok(()),
        Some(first) => Err(InvalidField::new(
            format!("{field}[{index}]"),
            format!(
                "{} is already {field}[{first}]: a host list names each host once",
                quoted(host)
            ),
        )),
    }
}

/// Where a scenario names a host, as a file's field.
#[derive(Debug, Clone, Copy)]
enum HostSource<'a> {
    Listener(usize),
    Client(usize),
    /// The scenario's `hosts`.
    Hosts(usize),
    /// A host a `[names]` name resolves to.
    Name(&'a str, usize),
}

impl fmt::Display for HostSource<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HostSource::Listener(i) => write!(f, "listeners[{i}].host"),
            HostSource::Client(i) => write!(f, "clients[{i}].host"),
            HostSource::Hosts(i) => write!(f, "hosts[{i}]"),
            HostSource::Name(alias, j) => write!(f, "{}[{j}]", field::join("names", alias)),
        }
    }
}

impl fmt::Display for Entry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Entry::Listener(i) => write!(f, "listeners[{i}]"),
            Entry::Client(i) => write!(f, "clients[{i}]"),
        }
    }
}
