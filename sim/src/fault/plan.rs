//! The fault plan: every fault of a run as data, fixed before the run starts. It is generated
//! from the seed and the fault settings, printed with the run, serialisable, and can be edited
//! and replayed or shrunk: a run is a pure function of its scenario and its plan.

use super::settings::{FaultSettings, DEFAULT_CONNECT_TIMEOUT_MS, POLICIES};
use crate::seed::Seed;
use crate::validate::{
    at_most, count_at_most, listed, ordered, positive_at_most, quoted, InvalidField,
    MAX_BUFFER_BYTES, MAX_COUNT, MAX_DURATION_MS, MAX_FAULTS,
};
use serde::{Deserialize, Serialize};
use std::fmt;

/// How many faults [`FaultPlan::describe`] lists one by one: a plan of 10,000 faults (a file
/// may have that many) is not 10,000 lines above its trace. Saved plans keep every fault.
pub(crate) const DESCRIBED_FAULTS: usize = 50;

/// Link latency when the plan sets none.
pub const DEFAULT_LATENCY_MS: u64 = 1;

/// Bytes a stream may have written and its peer not yet read, when the plan sets no
/// [`window`](FaultPlan::window): 4 MiB.
///
/// A real socket pushes its writer back once the sender's send buffer and the receiver's
/// receive buffer are full. Linux lets a send buffer grow to 4 MiB by default (`tcp_wmem`'s
/// largest value), and a writer to a loopback peer that does not read is pushed back after
/// 3.4 to 4.1 MiB (measured here with one 9 MiB write and with 16-byte writes, with and without a
/// small receive buffer). A window as large as the most a real socket takes never makes a
/// writer `throttled` by its bytes where a real one would not be (by its number of segments
/// it may be: [`MAX_SEGMENTS_IN_FLIGHT`]), and still pushes back a writer whose peer stops
/// reading. Smaller buffers are the `send_buffer` fault's job.
pub const DEFAULT_WINDOW: usize = 4 << 20;

/// Segments a stream may have written and its peer not yet wholly read, whatever their bytes:
/// past it a write waits for the peer to read, as it does past the [`window`](FaultPlan::window).
///
/// A kernel holds bytes, not segments, and takes a quarter of a million 16-byte writes to a
/// peer that does not read; the bound is the simulator's own (difference S4 of
/// `docs/contract.md`). turmoil looks through every segment on a link each time one is sent,
/// so a bulk writer's 64 KiB sent as 65,536 one-byte partial writes took a run seconds of CPU.
/// At 4,096 that look stays short for one connection, and only segments under a 4,096th of
/// the window (1 KiB at the default window) reach the bound before the window fills; partial
/// writes make segments smaller than the writes. (turmoil's own default holds a writer at
/// 64.) The bound is per connection and direction, and a link is shared by every connection
/// between its two hosts: C connections writing small partial writes between one pair hold
/// up to C times as many segments there, and the look grows with them (README, "Scale").
/// A bound shared by a pair's connections would let one stall another, so it stays per
/// connection.
pub const MAX_SEGMENTS_IN_FLIGHT: usize = 4096;

/// The largest [`window`](FaultPlan::window) a plan may ask for: 1 GiB, TCP's largest window
/// with window scaling (RFC 7323).
pub const MAX_WINDOW: usize = 1 << 30;

/// What a partition's `a` or `b` says for the host at the other end of the connection whose
/// event fires it (its `after.conn`), found as it fires: the path that connection uses, where
/// the plan cannot know it (a redial to a node a bootstrap server named). Before the
/// connection has a peer (fired by its `proxy_via`, `connecting` or `connect_failed`), the
/// host its `proxy_via` returned (of a name of several hosts, the first it lists). No host is
/// named so: a host name starts with a letter or a digit.
pub const PEER: &str = "@peer";

/// Message latency on every link: each segment takes between `min_ms` and `max_ms`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Latency {
    /// Shortest delivery time.
    pub min_ms: u64,
    /// Longest delivery time.
    pub max_ms: u64,
}

/// Partial writes: each write accepts about `average` bytes (± `variation`, at least 1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PartialWrites {
    /// Mean bytes a write accepts.
    pub average: usize,
    /// Largest deviation from the mean.
    pub variation: usize,
}

/// Read re-chunking: each read returns between 1 and `max` bytes (a size drawn when there are
/// bytes to deliver), splitting the peer's writes and, unless `coalesce` is off, joining
/// several of them into one read as a real socket does when they arrived together.
///
/// With `coalesce` off a read never spans two of the peer's writes (segments), so a large
/// `max` is the same as no re-chunking: shrinking uses it to tell a failure caused by split
/// reads from one caused by joined reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReadChunks {
    /// Most bytes one read returns.
    pub max: usize,
    /// Whether a read may join bytes of several segments (on unless set to `false`; left out
    /// of saved plans when on).
    #[serde(default = "yes", skip_serializing_if = "is_yes")]
    pub coalesce: bool,
}

impl ReadChunks {
    /// Reads of 1 to `max` bytes, split and coalesced.
    pub const fn new(max: usize) -> Self {
        ReadChunks {
            max,
            coalesce: true,
        }
    }
}

fn yes() -> bool {
    true
}

fn is_yes(value: &bool) -> bool {
    *value
}

/// A fault that fires on a trace event: the `nth` (from 1) `callback` of connection `conn`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EventTrigger {
    /// Connection name (`c1`, `server.1`).
    pub conn: String,
    /// Callback name as in the contract (`received`, `sent`, `connected`, ...).
    pub callback: String,
    /// Which occurrence, from 1.
    pub nth: u32,
}

/// What a fault does.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
// Unknown fields are refused here, not in `FaultTable`, which flattens this beside its
// trigger (and serde cannot refuse them across a flatten).
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum FaultKind {
    /// Hosts `a` and `b` cannot reach each other (one way: only `a` to `b`) for a while.
    /// Data in flight is held, not lost, and arrives after the partition heals; connects across
    /// it wait, and time out after the plan's connect timeout. `b = "*"` means every other host;
    /// [`PEER`] (`@peer`) as `a` or `b`, with an `after` trigger, the host at the other end
    /// of the trigger's connection as the fault fires (before it connects, the host its
    /// `proxy_via` returned).
    Partition {
        /// One side.
        a: String,
        /// The other side, or `*`.
        b: String,
        /// How long it lasts.
        duration_ms: u64,
        /// Only traffic from `a` to `b` is cut.
        #[serde(default)]
        one_way: bool,
    },
    /// The link between `a` and `b` gets a new latency from now on: fixed, or drawn per
    /// message between `latency_ms` and `max_latency_ms`.
    Latency {
        /// One side.
        a: String,
        /// The other side.
        b: String,
        /// The new latency (the least, if `max_latency_ms` is set).
        latency_ms: u64,
        /// The most latency, for a distribution; absent means fixed.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        max_latency_ms: Option<u64>,
    },
    /// Connection `conn` is reset (both ends see a connection reset on their next I/O).
    Reset {
        /// Connection name.
        conn: String,
    },
    /// The peer of connection `conn` sees its end of stream `delay_ms` late.
    SlowClose {
        /// Connection name.
        conn: String,
        /// Delay of the FIN.
        delay_ms: u64,
    },
    /// Port `port` of host `host` refuses connects for `duration_ms`: the host stays up and
    /// its connections go on, but every connect to that port in the meantime is refused (a
    /// round trip later, as a RST comes back), as while a service restarts. Then connects
    /// are accepted again.
    Refuse {
        /// Host name.
        host: String,
        /// The refusing port.
        port: u16,
        /// How long it refuses.
        duration_ms: u64,
    },
    /// Host `host` crashes, and restarts after `restart_after_ms` if given.
    Crash {
        /// Host name.
        host: String,
        /// Down time before the restart.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        restart_after_ms: Option<u64>,
    },
}

impl FaultKind {
    /// Whether this is a partition with a side that is [`PEER`]: a host found as it fires.
    pub fn names_peer(&self) -> bool {
        matches!(self, FaultKind::Partition { a, b, .. } if a == PEER || b == PEER)
    }

    /// The kind's name, as in plans and coverage reports.
    pub fn name(&self) -> &'static str {
        match self {
            FaultKind::Partition { one_way: false, .. } => "partition",
            FaultKind::Partition { one_way: true, .. } => "partition_one_way",
            FaultKind::Latency { .. } => "latency",
            FaultKind::Reset { .. } => "reset",
            FaultKind::SlowClose { .. } => "slow_close",
            FaultKind::Crash { .. } => "crash",
            FaultKind::Refuse { .. } => "refuse",
        }
    }
}

impl fmt::Display for FaultKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FaultKind::Partition {
                a,
                b,
                duration_ms,
                one_way,
            } => {
                let arrow = if *one_way { "->" } else { "<->" };
                write!(f, "partition {a} {arrow} {b} for {duration_ms}ms")
            }
            FaultKind::Latency {
                a,
                b,
                latency_ms,
                max_latency_ms: None,
            } => write!(f, "latency {a} <-> {b} = {latency_ms}ms"),
            FaultKind::Latency {
                a,
                b,
                latency_ms,
                max_latency_ms: Some(max),
            } => write!(f, "latency {a} <-> {b} = {latency_ms}..{max}ms"),
            FaultKind::Reset { conn } => write!(f, "reset {conn}"),
            FaultKind::SlowClose { conn, delay_ms } => {
                write!(f, "slow close of {conn} by {delay_ms}ms")
            }
            FaultKind::Crash {
                host,
                restart_after_ms: Some(ms),
            } => write!(f, "crash {host}, restart after {ms}ms"),
            FaultKind::Crash { host, .. } => write!(f, "crash {host}"),
            FaultKind::Refuse {
                host,
                port,
                duration_ms,
            } => write!(f, "refuse connects to {host}:{port} for {duration_ms}ms"),
        }
    }
}

/// When a fault fires: at a simulated time, or on a trace event. A plan file writes it as
/// the fault's `at_ms` or its `after` table, and a fault with both or neither does not load.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Trigger {
    /// At this simulated time, in milliseconds from the start (`at_ms = 250`).
    At(u64),
    /// On a trace event (`after = { conn = "c1", callback = "received", nth = 3 }`).
    After(EventTrigger),
}

impl fmt::Display for Trigger {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Trigger::At(at) => write!(f, "at {at}ms"),
            Trigger::After(t) => write!(f, "after {}'s {} {}", t.conn, ordinal(t.nth), t.callback),
        }
    }
}

/// One fault: what it does and when.
///
/// ```
/// use tcpnotify_sim::fault::{Fault, FaultKind, Trigger};
/// let fault: Fault = toml_edit::de::from_str("at_ms = 5\nkind = 'reset'\nconn = 'c1'").unwrap();
/// assert_eq!(fault, Fault::at(5, FaultKind::Reset { conn: "c1".into() }));
/// assert_eq!(fault.trigger, Trigger::At(5));
/// // Both triggers, or none: the fault does not load.
/// let both = "at_ms = 5\nafter = { conn = 'c1', callback = 'received', nth = 1 }\nkind = 'reset'\nconn = 'c1'";
/// assert!(toml_edit::de::from_str::<Fault>(both).is_err());
/// assert!(toml_edit::de::from_str::<Fault>("kind = 'reset'\nconn = 'c1'").is_err());
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "FaultTable", into = "FaultTable")]
pub struct Fault {
    /// When it fires.
    pub trigger: Trigger,
    /// What it does.
    pub kind: FaultKind,
}

/// A fault as plan files write it: its trigger as `at_ms` or `after`, beside the fields of
/// its kind.
#[derive(Serialize, Deserialize)]
struct FaultTable {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    at_ms: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    after: Option<EventTrigger>,
    #[serde(flatten)]
    kind: FaultKind,
}

impl TryFrom<FaultTable> for Fault {
    type Error = &'static str;
    fn try_from(table: FaultTable) -> Result<Self, Self::Error> {
        let trigger = match (table.at_ms, table.after) {
            (Some(at), None) => Trigger::At(at),
            (None, Some(after)) => Trigger::After(after),
            _ => return Err("set exactly one of at_ms and after"),
        };
        Ok(Fault {
            trigger,
            kind: table.kind,
        })
    }
}

impl From<Fault> for FaultTable {
    fn from(fault: Fault) -> Self {
        let (at_ms, after) = match fault.trigger {
            Trigger::At(at) => (Some(at), None),
            Trigger::After(after) => (None, Some(after)),
        };
        FaultTable {
            at_ms,
            after,
            kind: fault.kind,
        }
    }
}

impl fmt::Display for Fault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.kind, self.trigger)
    }
}

impl Fault {
    /// A fault that fires at `ms` simulated milliseconds.
    pub fn at(ms: u64, kind: FaultKind) -> Self {
        Fault {
            trigger: Trigger::At(ms),
            kind,
        }
    }

    /// A fault that fires on the trace event `event`.
    pub fn after(event: EventTrigger, kind: FaultKind) -> Self {
        Fault {
            trigger: Trigger::After(event),
            kind,
        }
    }
}

impl Fault {
    /// Checks one fault against the run's names; fields are named from the fault's table.
    fn validate(&self, topology: &Topology) -> Result<(), InvalidField> {
        match &self.trigger {
            Trigger::At(at) if *at >= topology.duration_ms => {
                return Err(InvalidField::new(
                    "at_ms",
                    format!(
                        "{at} is not before the end of the run (duration_ms = {}): the fault \
                         would never fire",
                        topology.duration_ms
                    ),
                ))
            }
            Trigger::At(_) => {}
            Trigger::After(event) => event.validate(topology)?,
        }
        let host = |field: &str, h: &str| -> Result<(), InvalidField> {
            if topology.hosts.iter().any(|x| x == h) {
                return Ok(());
            }
            let message = match h {
                "*" => "`*` (every other host) is only for the `b` of a partition or a \
                        latency change"
                    .to_string(),
                PEER => "`@peer` (the other end of the trigger's connection) is only for the \
                         `a` or `b` of a partition"
                    .to_string(),
                _ => format!(
                    "unknown host {} (hosts: {})",
                    quoted(h),
                    listed(&topology.hosts)
                ),
            };
            Err(InvalidField::new(field, message))
        };
        // A partition's side may be `@peer` where a connection's event fires it.
        let side = |field: &str, h: &str| -> Result<(), InvalidField> {
            match (h, &self.trigger) {
                (PEER, Trigger::After(_)) => Ok(()),
                (PEER, Trigger::At(_)) => Err(InvalidField::new(
                    field,
                    "`@peer` (the other end of the trigger's connection) needs an `after` \
                     trigger: at `at_ms` no connection fires the fault",
                )),
                _ => host(field, h),
            }
        };
        // `b` of a partition or a latency change may be `*`: every host but `a`.
        let pair = |a: &str, b: &str, side: &dyn Fn(&str, &str) -> Result<(), InvalidField>| {
            side("a", a)?;
            if b != "*" {
                side("b", b)?;
            }
            if a == b {
                return Err(InvalidField::new(
                    "b",
                    format!("{b:?} is also `a`: a link joins two hosts"),
                ));
            }
            Ok(())
        };
        match &self.kind {
            FaultKind::Partition {
                a, b, duration_ms, ..
            } => {
                pair(a, b, &side)?;
                at_most("duration_ms", *duration_ms, MAX_DURATION_MS)?;
            }
            FaultKind::Latency {
                a,
                b,
                latency_ms,
                max_latency_ms,
            } => {
                pair(a, b, &host)?;
                at_most("latency_ms", *latency_ms, MAX_DURATION_MS)?;
                if let Some(max) = max_latency_ms {
                    ordered("max_latency_ms", *latency_ms, *max)?;
                    at_most("max_latency_ms", *max, MAX_DURATION_MS)?;
                }
            }
            FaultKind::Crash {
                host: h,
                restart_after_ms,
            } => {
                host("host", h)?;
                if let Some(ms) = restart_after_ms {
                    at_most("restart_after_ms", *ms, MAX_DURATION_MS)?;
                }
            }
            FaultKind::Reset { conn } => {
                topology.connection("conn", conn)?;
            }
            FaultKind::Refuse {
                host: h,
                port,
                duration_ms,
            } => {
                host("host", h)?;
                positive_at_most("port", u64::from(*port), u64::from(u16::MAX))?;
                at_most("duration_ms", *duration_ms, MAX_DURATION_MS)?;
            }
            FaultKind::SlowClose { conn, delay_ms } => {
                topology.connection("conn", conn)?;
                at_most("delay_ms", *delay_ms, MAX_DURATION_MS)?;
            }
        }
        Ok(())
    }
}

impl EventTrigger {
    /// Checks that the trigger can fire: a known connection, a callback that connection
    /// gets, and an occurrence from 1. Fields are named from the fault (`after.nth`).
    fn validate(&self, topology: &Topology) -> Result<(), InvalidField> {
        let kind = topology.connection("after.conn", &self.conn)?;
        let callbacks = kind.callbacks();
        if !callbacks.contains(&self.callback.as_str()) {
            let what = match kind {
                ConnectionKind::Client => "a client connection",
                ConnectionKind::Accepted => "an accepted connection",
                ConnectionKind::Dialled => "a dialled connection (a client)",
            };
            return Err(InvalidField::new(
                "after.callback",
                format!(
                    "{} is not a callback of {what}, so the fault would never fire \
                     (callbacks: {})",
                    quoted(&self.callback),
                    callbacks.join(", ")
                ),
            ));
        }
        positive_at_most("after.nth", u64::from(self.nth), MAX_COUNT).map_err(|e| {
            InvalidField::new(e.field, format!("{} (occurrences count from 1)", e.message))
        })
    }
}

/// The callbacks every connection may get, as trace events name them.
const CONNECTION_CALLBACKS: &[&str] = &[
    "auth_failed",
    "sent",
    "sentv",
    "received",
    "expect",
    "throttled",
    "unthrottled",
    "closed",
];

impl ConnectionKind {
    /// The callbacks a connection of this kind gets, as trace events name them: what an
    /// event trigger on it may wait for. Only clients get `proxy_via`, `connecting`,
    /// `connected` and `connect_failed`; only accepted connections get `accepted` (C1, A1).
    pub(crate) fn callbacks(self) -> Vec<&'static str> {
        let own: &[&str] = match self {
            ConnectionKind::Client | ConnectionKind::Dialled => {
                &["proxy_via", "connecting", "connected", "connect_failed"]
            }
            ConnectionKind::Accepted => &["accepted"],
        };
        own.iter().chain(CONNECTION_CALLBACKS).copied().collect()
    }
}

fn ordinal(n: u32) -> String {
    let suffix = match (n % 10, n % 100) {
        (1, 11) | (2, 12) | (3, 13) => "th",
        (1, _) => "st",
        (2, _) => "nd",
        (3, _) => "rd",
        _ => "th",
    };
    format!("{n}{suffix}")
}

/// Every fault and chunking policy of one run.
///
/// ```
/// use tcpnotify_sim::FaultPlan;
/// let plan: FaultPlan = toml_edit::de::from_str(r#"
///     seed = 7
///     [partial_writes]
///     average = 1
///     variation = 0
///     [[faults]]
///     kind = "reset"
///     conn = "c1"
///     after = { conn = "c1", callback = "received", nth = 3 }
/// "#).unwrap();
/// assert_eq!(plan.faults[0].to_string(), "reset c1 after c1's 3rd received");
/// assert_eq!(toml_edit::de::from_str::<FaultPlan>(&plan.to_toml().unwrap()).unwrap(), plan);
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FaultPlan {
    /// Seeds the per-stream chunking streams and turmoil (a scenario file's plan may leave
    /// it out: the run's seed is used).
    #[serde(default)]
    pub seed: Seed,
    /// Message latency on every link; none means a fixed [`DEFAULT_LATENCY_MS`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latency: Option<Latency>,
    /// Partial writes on every stream.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub partial_writes: Option<PartialWrites>,
    /// Read re-chunking on every stream.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub read_chunks: Option<ReadChunks>,
    /// Bytes a stream may have written and its peer not yet read (a send buffer); past it,
    /// writes block. A fault: a buffer smaller than [`window`](Self::window).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub send_buffer: Option<usize>,
    /// Bytes each direction of a connection may hold written and not yet read by the peer
    /// (a real socket's send buffer and receive window together); past it, writes block
    /// until the peer reads, as they do past [`MAX_SEGMENTS_IN_FLIGHT`] unread segments.
    /// [`DEFAULT_WINDOW`] unless set, at most [`MAX_WINDOW`]; the default is left out of
    /// saved plans and descriptions.
    #[serde(default = "default_window", skip_serializing_if = "is_default_window")]
    pub window: usize,
    /// How long a connect's SYNs may be lost in all (across a partition, to a host that is
    /// down) before it times out; a SYN waiting in a live listener's backlog counts nothing.
    #[serde(default = "default_connect_timeout")]
    pub connect_timeout_ms: u64,
    /// The faults, in no particular order.
    #[serde(default)]
    pub faults: Vec<Fault>,
    /// The settings the swarm drew for this seed, when the plan was drawn by one (a scenario
    /// with no fault settings written): which fault kinds the seed turned on and how strong.
    /// For reading and for coverage: the run uses the plan's faults and policies, not these.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub swarm: Option<FaultSettings>,
}

fn default_connect_timeout() -> u64 {
    DEFAULT_CONNECT_TIMEOUT_MS
}

fn default_window() -> usize {
    DEFAULT_WINDOW
}

fn is_default_window(window: &usize) -> bool {
    *window == DEFAULT_WINDOW
}

impl FaultPlan {
    /// A plan with no faults and no chunking.
    pub fn quiet(seed: Seed) -> Self {
        FaultPlan {
            seed,
            latency: None,
            partial_writes: None,
            read_chunks: None,
            send_buffer: None,
            window: DEFAULT_WINDOW,
            connect_timeout_ms: DEFAULT_CONNECT_TIMEOUT_MS,
            faults: Vec::new(),
            swarm: None,
        }
    }

    /// The chunking policies the plan turns on (`latency`, `partial_writes`, `read_chunks`,
    /// `send_buffer`): with its faults, what a failure under it may come from.
    ///
    /// ```
    /// use tcpnotify_sim::fault::{FaultPlan, ReadChunks};
    /// use tcpnotify_sim::Seed;
    /// let plan = FaultPlan { read_chunks: Some(ReadChunks::new(8)), ..FaultPlan::quiet(Seed(1)) };
    /// assert_eq!(plan.policies(), vec!["read_chunks"]);
    /// ```
    pub fn policies(&self) -> Vec<&'static str> {
        let on = [
            self.latency.is_some(),
            self.partial_writes.is_some(),
            self.read_chunks.is_some(),
            self.send_buffer.is_some(),
        ];
        POLICIES
            .into_iter()
            .zip(on)
            .filter_map(|(name, on)| on.then_some(name))
            .collect()
    }

    /// The policies of [`policies`](Self::policies) that cut writes and reads finer
    /// (`partial_writes`, `read_chunks`): what a run stops once its trace grows long
    /// ([`UNCUT_AFTER_TRACE_EVENTS`](crate::validate::UNCUT_AFTER_TRACE_EVENTS)).
    pub fn rechunking_policies(&self) -> Vec<&'static str> {
        let mut policies = self.policies();
        policies.retain(|name| matches!(*name, "partial_writes" | "read_chunks"));
        policies
    }

    /// How many faults and policies the plan holds: the size of the cause of a failure under
    /// it, as shrinking minimises and reports it.
    pub fn size(&self) -> usize {
        self.faults.len() + self.policies().len()
    }

    /// The fault kinds and policies this plan could exercise: what its swarm drew
    /// ([`FaultSettings::enabled`]) for a swarm's plan, otherwise the kinds of its own faults
    /// and its policies.
    pub fn enabled(&self) -> Vec<&'static str> {
        if let Some(drawn) = &self.swarm {
            return drawn.enabled();
        }
        let mut enabled = self.policies();
        for fault in &self.faults {
            if !enabled.contains(&fault.kind.name()) {
                enabled.push(fault.kind.name());
            }
        }
        enabled
    }

    /// The plan as TOML, as scenario files and `--plan` take it. Fails only for a value TOML
    /// cannot hold (a number above `i64::MAX`), which a validated plan never has.
    pub fn to_toml(&self) -> Result<String, toml::ser::Error> {
        toml::to_string(self)
    }

    /// Human-readable lines: the policies, then one line per fault, the first 50 of them
    /// (then how many more; a saved plan keeps every fault).
    pub fn describe(&self) -> String {
        let mut out = format!("seed {}\n", self.seed);
        if let Some(l) = self.latency {
            out += &format!("latency {}..{}ms\n", l.min_ms, l.max_ms);
        }
        if let Some(p) = self.partial_writes {
            out += &format!("partial writes ~{}B ±{}\n", p.average, p.variation);
        }
        if let Some(r) = self.read_chunks {
            let split_only = if r.coalesce { "" } else { ", never coalesced" };
            out += &format!("reads re-chunked to 1..{}B{split_only}\n", r.max);
        }
        if let Some(b) = self.send_buffer {
            out += &format!("send buffer {b}B\n");
        }
        if self.window != DEFAULT_WINDOW {
            out += &format!("window {}B\n", self.window);
        }
        out += &format!("connect timeout {}ms\n", self.connect_timeout_ms);
        for (i, fault) in self.faults.iter().enumerate().take(DESCRIBED_FAULTS) {
            out += &format!("fault #{i}: {fault}\n");
        }
        if let Some(more) = self
            .faults
            .len()
            .checked_sub(DESCRIBED_FAULTS)
            .filter(|n| *n > 0)
        {
            out += &format!(
                "faults #{DESCRIBED_FAULTS}..#{}: {more} more, not shown (`run --save-plan FILE` \
                 writes every one)\n",
                self.faults.len() - 1
            );
        }
        if let Some(drawn) = &self.swarm {
            out += "drawn by the swarm from:\n";
            for line in drawn.describe().lines() {
                out += &format!("  {line}\n");
            }
        }
        out
    }

    /// Checks the plan against the hosts and connections of a run: names must exist, each
    /// fault's trigger can fire, ranges are ordered, and every size,
    /// count and duration is within its limit ([`crate::validate`]). Fields are named from
    /// the plan's top (`faults[2].after.nth`).
    pub fn validate(&self, topology: &Topology) -> Result<(), InvalidField> {
        if let Some(l) = self.latency {
            ordered("latency", l.min_ms, l.max_ms)?;
            at_most("latency.max_ms", l.max_ms, MAX_DURATION_MS)?;
        }
        if let Some(p) = self.partial_writes {
            positive_at_most("partial_writes.average", p.average as u64, MAX_BUFFER_BYTES)?;
            at_most(
                "partial_writes.variation",
                p.variation as u64,
                MAX_BUFFER_BYTES,
            )?;
        }
        if let Some(r) = self.read_chunks {
            positive_at_most("read_chunks.max", r.max as u64, MAX_BUFFER_BYTES)?;
        }
        if let Some(b) = self.send_buffer {
            positive_at_most("send_buffer", b as u64, MAX_BUFFER_BYTES)?;
        }
        at_most(
            "connect_timeout_ms",
            self.connect_timeout_ms,
            MAX_DURATION_MS,
        )?;
        count_at_most("faults", self.faults.len(), MAX_FAULTS)?;
        for (i, fault) in self.faults.iter().enumerate() {
            fault
                .validate(topology)
                .map_err(|e| e.within(&format!("faults[{i}]")))?;
        }
        positive_at_most("window", self.window as u64, MAX_WINDOW as u64)?;
        Ok(())
    }
}

/// Which side a named connection is on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ConnectionKind {
    /// A client's connection (`c1`).
    Client,
    /// A connection a listener accepted (`server.1`, or `server#2.1` after a restart).
    Accepted,
    /// A connection a notifier dialled (`c1~1`, `proxy.1~1`, `server~1`): a client
    /// connection that exists only if the notifier dials it.
    Dialled,
}

/// A count as the simulator writes it in a name: digits, no leading zero, at least `min`.
fn is_count(text: &str, min: u64) -> bool {
    !text.starts_with('0')
        && text.bytes().all(|b| b.is_ascii_digit())
        && text.parse::<u64>().is_ok_and(|n| n >= min)
}

impl Topology {
    /// What `conn` names: a client; a connection accepted by one of the listeners
    /// (`server.1`, `server#2.1`: a listener name, an optional restart count from 2, and a
    /// count from 1); or a connection dialled by one of those or by a listener (`c1~1`,
    /// `server.1~2`, `server~1`, `server#2~1`: the dialler, `~`, and a count from 1, as the
    /// recorders name them: every connection a family dials counts on from its root's, so
    /// `c1~1` dials `c1~2`, never `c1~1~1`). A dialled name is valid whether or not the run
    /// dials it: a fault on a connection that never exists finds nothing to act on. An
    /// error, at `field`, if it names none of these.
    pub(crate) fn connection(
        &self,
        field: &str,
        conn: &str,
    ) -> Result<ConnectionKind, InvalidField> {
        if self.clients.iter().any(|c| c == conn) {
            return Ok(ConnectionKind::Client);
        }
        if self.accepted(conn) {
            return Ok(ConnectionKind::Accepted);
        }
        let Some((dialler, n)) = conn.split_once('~') else {
            let listeners: Vec<String> = self.listeners.iter().map(|l| format!("{l}.N")).collect();
            return Err(InvalidField::new(
                field,
                format!(
                    "unknown connection {} (clients: {}; accepted: {}; dialled: any of \
                     these or a listener, then `~` and a count from 1, like c1~1)",
                    quoted(conn),
                    listed(&self.clients),
                    listed(&listeners),
                ),
            ));
        };
        let dials = self.clients.iter().any(|c| c == dialler)
            || self.accepted(dialler)
            || self.listener(dialler);
        if !dials {
            return Err(InvalidField::new(
                field,
                format!(
                    "unknown connection {}: {} is no client, accepted connection or \
                     listener of the scenario, so nothing dials it (clients: {}; listeners: {})",
                    quoted(conn),
                    quoted(dialler),
                    listed(&self.clients),
                    listed(&self.listeners),
                ),
            ));
        }
        if !is_count(n, 1) {
            return Err(InvalidField::new(
                field,
                format!(
                    "unknown connection {}: what {dialler} dials is named {dialler}~1, \
                     {dialler}~2, ... (a count from 1 after `~`, and the connections those \
                     dial count on from there)",
                    quoted(conn)
                ),
            ));
        }
        Ok(ConnectionKind::Dialled)
    }

    /// Whether `name` is a listener of the scenario, or one restarted (`server#2`).
    fn listener(&self, name: &str) -> bool {
        let name = match name.split_once('#') {
            Some((name, restart)) if is_count(restart, 2) => name,
            Some(_) => return false,
            None => name,
        };
        self.listeners.iter().any(|l| l == name)
    }

    /// Whether `name` is a connection one of the scenario's listeners may accept
    /// (`server.1`, `server#2.1`).
    fn accepted(&self, name: &str) -> bool {
        (name.rsplit_once('.'))
            .is_some_and(|(listener, n)| is_count(n, 1) && self.listener(listener))
    }
}

/// A client connection as plans see it: where it connects from and to.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Dial {
    /// The client's name (`c1`).
    pub client: String,
    /// The host it runs on.
    pub host: String,
    /// The hosts it may connect to: its target, or every host its target's name resolves to.
    pub targets: Vec<String>,
}

/// The names a plan may refer to, and the run's length: taken from the scenario.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Topology {
    /// Every host.
    pub hosts: Vec<String>,
    /// Hosts with a listener.
    pub servers: Vec<String>,
    /// Client connection names.
    pub clients: Vec<String>,
    /// Listener names (their connections are `name.1`, ...; after a restart `name#2.1`).
    pub listeners: Vec<String>,
    /// Simulated run length.
    pub duration_ms: u64,
    /// Every client connection, with the hosts it connects across: what traffic-timed faults
    /// are timed by.
    pub dials: Vec<Dial>,
    /// Every listening port, with its host, in the scenario's order (that of `listeners`):
    /// what may refuse.
    pub ports: Vec<(String, u16)>,
}

impl Topology {
    /// The client connections between hosts `a` and `b`, in either direction.
    pub fn dials_between(&self, a: &str, b: &str) -> Vec<&Dial> {
        let joins =
            |from: &str, to: &str, d: &Dial| d.host == from && d.targets.iter().any(|t| t == to);
        self.dials
            .iter()
            .filter(|d| joins(a, b, d) || joins(b, a, d))
            .collect()
    }

    /// The client connections that may connect to host `host`.
    pub fn dials_to(&self, host: &str) -> Vec<&Dial> {
        self.dials
            .iter()
            .filter(|d| d.targets.iter().any(|t| t == host))
            .collect()
    }
}

#[cfg(test)]
impl Dial {
    /// Client `client` on `host`, dialling `targets`.
    pub(crate) fn of(client: &str, host: &str, targets: &[&str]) -> Dial {
        Dial {
            client: client.into(),
            host: host.into(),
            targets: targets.iter().map(|t| t.to_string()).collect(),
        }
    }
}

#[cfg(test)]
impl FaultKind {
    /// One fault of each kind, and of each variant of a kind (a one-way partition from a host
    /// to every other, latency that varies, a crash with and without its restart), for tests
    /// that go over every kind.
    pub(crate) fn one_of_each() -> Vec<FaultKind> {
        let s = |x: &str| x.to_string();
        vec![
            FaultKind::Partition {
                a: s("client"),
                b: s("server"),
                duration_ms: 400,
                one_way: false,
            },
            FaultKind::Partition {
                a: s("client"),
                b: s("*"),
                duration_ms: 5,
                one_way: true,
            },
            FaultKind::Latency {
                a: s("a"),
                b: s("b"),
                latency_ms: 3,
                max_latency_ms: None,
            },
            FaultKind::Latency {
                a: s("a"),
                b: s("b"),
                latency_ms: 3,
                max_latency_ms: Some(9),
            },
            FaultKind::Reset { conn: s("c1") },
            FaultKind::SlowClose {
                conn: s("c1"),
                delay_ms: 250,
            },
            FaultKind::Crash {
                host: s("server"),
                restart_after_ms: None,
            },
            FaultKind::Crash {
                host: s("server"),
                restart_after_ms: Some(50),
            },
            FaultKind::Refuse {
                host: s("server"),
                port: 7000,
                duration_ms: 120,
            },
        ]
    }
}

#[cfg(test)]
mod flow_window_tests {
    use super::*;

    #[test]
    fn a_window_outside_one_byte_to_max_window_is_rejected() {
        let topology = Topology::default();
        for window in [0, MAX_WINDOW + 1, usize::MAX] {
            let plan = FaultPlan {
                window,
                ..FaultPlan::quiet(Seed(1))
            };
            assert!(
                plan.validate(&topology).is_err_and(|e| e.field == "window"),
                "{window}"
            );
        }
        for window in [1, DEFAULT_WINDOW, MAX_WINDOW] {
            let plan = FaultPlan {
                window,
                ..FaultPlan::quiet(Seed(1))
            };
            assert_eq!(plan.validate(&topology), Ok(()), "{window}");
        }
    }

    #[test]
    fn a_description_lists_fifty_faults_then_counts_the_rest() {
        let plan_of = |n: u64| FaultPlan {
            faults: (0..n)
                .map(|i| {
                    Fault::at(
                        i,
                        FaultKind::Reset {
                            conn: format!("c{i}"),
                        },
                    )
                })
                .collect(),
            ..FaultPlan::quiet(Seed(1))
        };
        let fault_lines = |plan: &FaultPlan| {
            let text = plan.describe();
            (text.lines())
                .filter(|l| l.starts_with("fault"))
                .map(String::from)
                .collect::<Vec<_>>()
        };
        let fifty = fault_lines(&plan_of(50));
        assert_eq!(fifty.len(), 50);
        assert!(fifty[49].starts_with("fault #49: "), "{}", fifty[49]);
        let many = fault_lines(&plan_of(10_000));
        assert_eq!(many.len(), 51);
        assert_eq!(many[49], fifty[49]);
        assert_eq!(
            many[50],
            "faults #50..#9999: 9950 more, not shown (`run --save-plan FILE` writes every one)"
        );
    }

    /// A partition of `@peer`, as the swarm draws one in a later session and the shrinker
    /// saves it, reads back as itself, and says `@peer` where its host is found as it fires.
    #[test]
    fn a_partition_of_the_peer_is_saved_and_read_back() {
        let event = EventTrigger {
            conn: "c1~2".into(),
            callback: "received".into(),
            nth: 7,
        };
        let cut = FaultKind::Partition {
            a: PEER.into(),
            b: "client".into(),
            duration_ms: 300,
            one_way: true,
        };
        assert!(cut.names_peer());
        let plan = FaultPlan {
            faults: vec![Fault::after(event, cut)],
            ..FaultPlan::quiet(Seed(1))
        };
        let saved = plan.to_toml().unwrap();
        assert!(saved.contains("a = \"@peer\""), "{saved}");
        assert_eq!(toml_edit::de::from_str::<FaultPlan>(&saved).unwrap(), plan);
        assert_eq!(
            plan.faults[0].to_string(),
            "partition @peer -> client for 300ms after c1~2's 7th received"
        );
        let to_a_host = FaultKind::one_of_each();
        assert!(!to_a_host.iter().any(FaultKind::names_peer));
    }

    #[test]
    fn the_default_window_is_left_out_of_saved_plans_and_read_back() {
        let quiet = FaultPlan::quiet(Seed(1));
        assert!(!quiet.to_toml().unwrap().contains("window"));
        assert!(!quiet.describe().contains("window"));
        assert_eq!(
            toml_edit::de::from_str::<FaultPlan>(&quiet.to_toml().unwrap()),
            Ok(quiet)
        );
        let small = FaultPlan {
            window: 65_536,
            ..FaultPlan::quiet(Seed(1))
        };
        assert!(small.describe().contains("window 65536B"));
        assert_eq!(
            toml_edit::de::from_str::<FaultPlan>(&small.to_toml().unwrap()),
            Ok(small)
        );
    }
}

#[cfg(test)]
mod plan_tests {
    use super::*;

    #[test]
    fn an_event_trigger_counts_in_english_ordinals() {
        let said = |nth: u32| {
            let trigger = Trigger::After(EventTrigger {
                conn: "c1".into(),
                callback: "sent".into(),
                nth,
            });
            trigger
                .to_string()
                .replace("after c1's ", "")
                .replace(" sent", "")
        };
        let ordinals: Vec<String> = [
            1, 2, 3, 4, 10, 11, 12, 13, 21, 22, 23, 101, 111, 112, 113, 1002,
        ]
        .into_iter()
        .map(said)
        .collect();
        assert_eq!(
            ordinals,
            [
                "1st", "2nd", "3rd", "4th", "10th", "11th", "12th", "13th", "21st", "22nd", "23rd",
                "101st", "111th", "112th", "113th", "1002nd"
            ]
        );
    }

    #[test]
    fn reads_that_do_not_coalesce_say_so_in_saved_plans_and_read_back() {
        let plan_of = |coalesce: bool| FaultPlan {
            read_chunks: Some(ReadChunks { max: 8, coalesce }),
            ..FaultPlan::quiet(Seed(1))
        };
        for coalesce in [true, false] {
            let saved = plan_of(coalesce).to_toml().unwrap();
            assert_eq!(saved.contains("coalesce"), !coalesce, "{saved}");
            assert_eq!(
                toml_edit::de::from_str::<FaultPlan>(&saved),
                Ok(plan_of(coalesce))
            );
        }
        assert!(plan_of(false)
            .to_toml()
            .unwrap()
            .contains("coalesce = false"));
    }

    #[test]
    fn the_peer_is_named_where_it_cannot_stand() {
        let topology = Topology {
            hosts: vec!["a".into(), "b".into()],
            clients: vec!["c1".into()],
            duration_ms: 1000,
            ..Topology::default()
        };
        let event = EventTrigger {
            conn: "c1".into(),
            callback: "received".into(),
            nth: 1,
        };
        let partition = FaultKind::Partition {
            a: PEER.into(),
            b: "b".into(),
            duration_ms: 10,
            one_way: false,
        };
        assert_eq!(
            Fault::after(event.clone(), partition.clone()).validate(&topology),
            Ok(())
        );
        let at_a_time = Fault::at(5, partition).validate(&topology).unwrap_err();
        assert!(
            at_a_time.message.contains("needs an `after` trigger"),
            "{at_a_time}"
        );
        let crash = FaultKind::Crash {
            host: PEER.into(),
            restart_after_ms: None,
        };
        let crash = Fault::after(event, crash).validate(&topology).unwrap_err();
        assert!(
            crash
                .message
                .contains("only for the `a` or `b` of a partition"),
            "{crash}"
        );
    }

    #[test]
    fn a_plans_size_counts_its_faults_and_its_policies() {
        let quiet = FaultPlan::quiet(Seed(1));
        assert_eq!(quiet.size(), 0);
        let plan = FaultPlan {
            latency: Some(Latency {
                min_ms: 1,
                max_ms: 3,
            }),
            read_chunks: Some(ReadChunks::new(8)),
            partial_writes: Some(PartialWrites {
                average: 4,
                variation: 2,
            }),
            faults: FaultKind::one_of_each()
                .into_iter()
                .map(|kind| Fault::at(1, kind))
                .collect(),
            ..quiet.clone()
        };
        assert_eq!(plan.size(), FaultKind::one_of_each().len() + 3);
        assert_eq!(
            plan.rechunking_policies(),
            ["partial_writes", "read_chunks"]
        );
        assert_eq!(quiet.rechunking_policies(), Vec::<&str>::new());
        // Each kind once, after the policies, in the order the faults first name it.
        assert_eq!(
            plan.enabled(),
            [
                "latency",
                "partial_writes",
                "read_chunks",
                "partition",
                "partition_one_way",
                "reset",
                "slow_close",
                "crash",
                "refuse"
            ]
        );
        assert_eq!(quiet.enabled(), Vec::<&str>::new());
        // A swarm's plan could exercise what its swarm drew, whatever it drew for the seed.
        let drawn = FaultSettings {
            crashes: 0.5,
            ..FaultSettings::quiet()
        };
        let swarmed = FaultPlan {
            swarm: Some(drawn),
            ..plan
        };
        assert_eq!(swarmed.enabled(), ["crash"]);
    }

    #[test]
    fn dials_to_a_host_are_the_clients_that_may_reach_it() {
        let dial = Dial::of;
        let topology = Topology {
            dials: vec![
                dial("c1", "h1", &["s1"]),
                dial("c2", "h1", &["s2", "s1"]),
                dial("c3", "h2", &["s2"]),
            ],
            ..Topology::default()
        };
        let clients = |host: &str| -> Vec<String> {
            topology
                .dials_to(host)
                .iter()
                .map(|d| d.client.clone())
                .collect()
        };
        assert_eq!(clients("s1"), ["c1", "c2"]);
        assert_eq!(clients("s2"), ["c2", "c3"]);
        assert_eq!(clients("h1"), Vec::<String>::new());
    }
}

#[cfg(test)]
mod connection_name_tests {
    use super::*;

    fn topology() -> Topology {
        Topology {
            clients: vec!["c1".into()],
            listeners: vec!["server".into()],
            ..Topology::default()
        }
    }

    #[test]
    fn a_dialled_name_is_a_client_connection_of_an_existing_dialler_counted_from_1() {
        let topology = topology();
        for conn in [
            "c1~1",
            "c1~20",
            "server.1~1",
            "server#2.1~3",
            "server~1",
            "server#3~2",
        ] {
            assert_eq!(
                topology.connection("conn", conn),
                Ok(ConnectionKind::Dialled),
                "{conn}"
            );
        }
        assert_eq!(
            ConnectionKind::Dialled.callbacks(),
            ConnectionKind::Client.callbacks()
        );
        for conn in [
            "c1~0",
            "c1~x",
            "c1~01",
            "c1~",
            "c1~1~1",
            "c2~1",
            "~1",
            "server.0~1",
            "server#1~1",
            "server.1~-1",
        ] {
            let err = topology.connection("conn", conn).unwrap_err();
            assert_eq!(err.field, "conn", "{conn}");
            assert!(
                err.message
                    .starts_with(&format!("unknown connection {conn:?}")),
                "{conn}: {}",
                err.message
            );
        }
    }
}
