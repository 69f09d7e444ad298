//! The simulation's callback sink: records every callback into the trace with simulated time
//! and host, tells the fault layer which sockets a connection uses, tracks which connections
//! are live, and fires faults triggered by trace events (until the liveness phase disarms
//! them). It also records each write rule W1 drops and each mute and unmute that took effect,
//! and tells the run context which callback runs and each connection's last counters (when its
//! recorder is dropped).

use super::context::Context;
use super::fault_step::FaultStep;
use super::integrity::{Mismatches, StreamEnd, StreamMatcher};
use super::trace::{now_us, EventKind, HostClock, Trace, TraceEvent};
use crate::fault::FaultLayer;
use crate::fault::{Fault, FaultKind, Trigger, PEER};
use crate::scenario::RunOptions;
use rustc_hash::{FxHashMap, FxHashSet};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use tcpnotify::record::{
    Callback, CallbackSink, DataFlow, DataTap, FinalWriteBefore, Name, Payload,
};
use tcpnotify::{ConnectionStats, DroppedWrite, Muting, TcpConnection};

#[derive(Default)]
struct Progress {
    /// Connections started and not yet closed or failed, with their host. Changed on every
    /// connection's start and end, and only asked whether it is empty or which are on a
    /// crashed host: a hash map (never iterated in an order anyone sees) with a cheap
    /// deterministic hash, and both names shared with the recorders.
    live: FxHashMap<Name, Name>,
    /// Clients whose connection ended (or whose host crashed): counted, and asked about by
    /// name, never iterated.
    finished_clients: FxHashSet<Name>,
    /// How many times each (connection, callback) that triggers a fault happened.
    counts: BTreeMap<(String, &'static str), u32>,
    /// What event-triggered faults left for the run loop: faults only it can apply, and the
    /// ends of those that acted at once.
    fired: Vec<Fired>,
    fired_set: BTreeSet<usize>,
    /// How many times each fault kind fired.
    fired_kinds: BTreeMap<String, usize>,
    /// How many faults fired with bytes in flight where they act (or, for a partition, held
    /// some when it healed).
    fired_in_flight: usize,
    /// Partitions in force that found nothing in flight when they cut, by index, each as it
    /// cut (its `@peer` found): each counts when it heals if it holds bytes then
    /// ([`RunState::count_held`]).
    idle_cuts: BTreeMap<usize, FaultKind>,
    /// The host each connection that times a fault dials, as its `proxy_via` returned it: the
    /// `@peer` of a fault it times before it has a peer (by its `proxy_via`, `connecting` or
    /// `connect_failed`).
    dials: FxHashMap<Name, Name>,
}

/// What an event-triggered fault leaves for the run loop.
#[derive(Debug, Clone)]
pub(crate) enum Fired {
    /// The plan's fault of this index is of a kind only the run loop can apply (a latency
    /// change, a slow close, a crash): it fires when the loop next runs.
    ByTheLoop(usize),
    /// A fault that acted at once ([`RunState::act`]) and ends later: the loop schedules its
    /// end.
    Until(FaultEnd),
}

/// How a fault in force for a while ends, and when: what the run loop schedules for a
/// partition or a refusal that [`RunState::act`] applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct FaultEnd {
    /// When it ends, in microseconds of simulated time: `duration_ms` after it acted.
    pub(crate) at_us: u64,
    /// The plan's index of the fault.
    pub(crate) index: usize,
    /// What ends.
    pub(crate) undo: Undo,
}

/// What ends when a fault in force for a while heals.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Undo {
    /// A partition's cuts, each direction `(from, to)`, are repaired.
    Cuts(Vec<(String, String)>),
    /// A refusal ends: the port accepts again once no other refusal holds it.
    Refusal {
        /// The refusing host.
        host: String,
        /// Its port.
        port: u16,
    },
}

/// What [`RunState::act`] did with a fault.
#[derive(Debug, Clone)]
pub(crate) enum Acted {
    /// Nothing: it is of a kind only the run loop can apply (a latency change, a slow close,
    /// a crash).
    NotHere,
    /// It acted, for good (a reset).
    Done,
    /// It acted, and is in force until this end.
    Until(FaultEnd),
}

/// State shared by every host of one run.
pub(crate) struct RunState {
    /// The run's trace.
    pub(crate) trace: Trace,
    /// The fault layer.
    pub(crate) layer: Arc<FaultLayer>,
    faults: Vec<Fault>,
    /// The event-triggered faults by connection and callback: (nth, fault index), so a
    /// callback looks only at its own triggers, however many faults the plan has.
    triggers: BTreeMap<String, BTreeMap<String, Vec<(u32, usize)>>>,
    options: RunOptions,
    progress: Mutex<Progress>,
    matcher: Mutex<StreamMatcher>,
    /// The run's context: the callback running now, each connection's counters.
    pub(crate) context: Arc<Context>,
    /// Set by the liveness phase: no event-triggered fault fires any more.
    disarmed: AtomicBool,
}

impl RunState {
    /// The state of a run with these plan faults, with room for about `connections` live
    /// connections at once (a hint).
    pub(crate) fn new(
        trace: Trace,
        layer: Arc<FaultLayer>,
        faults: Vec<Fault>,
        options: RunOptions,
        context: Arc<Context>,
        matcher: StreamMatcher,
        connections: usize,
    ) -> Arc<Self> {
        let mut triggers: BTreeMap<String, BTreeMap<String, Vec<(u32, usize)>>> = BTreeMap::new();
        for (index, fault) in faults.iter().enumerate() {
            if let Trigger::After(t) = &fault.trigger {
                let by_callback = triggers.entry(t.conn.clone()).or_default();
                by_callback
                    .entry(t.callback.clone())
                    .or_default()
                    .push((t.nth, index));
            }
        }
        Arc::new(RunState {
            trace,
            layer,
            faults,
            triggers,
            options,
            progress: Mutex::new(Progress {
                live: FxHashMap::with_capacity_and_hasher(connections, Default::default()),
                // The clients' ends, half of the connections: each client finishes once, and
                // growing the set on the way cost some 200 instructions a client.
                finished_clients: FxHashSet::with_capacity_and_hasher(
                    connections / 2,
                    Default::default(),
                ),
                ..Progress::default()
            }),
            matcher: Mutex::new(matcher),
            context,
            disarmed: AtomicBool::new(false),
        })
    }

    /// From now on no event-triggered fault fires (the liveness phase).
    pub(crate) fn disarm(&self) {
        self.disarmed.store(true, Ordering::Relaxed);
        // The run loop took what was left just before (the same turn of the loop): faults
        // still in force are in its schedule, which the liveness phase heals.
        self.lock().fired.clear();
    }

    /// Whether any fault of the plan is triggered by a callback.
    fn has_triggers(&self) -> bool {
        !self.triggers.is_empty()
    }

    /// Whether recorders must keep callback data whole (for the trace).
    pub(crate) fn needs_payloads(&self) -> bool {
        self.options.keep_payloads
    }

    /// Registers established connection `conn` with the integrity check: the end its data
    /// is fed to, if the check is on (and the connection has its addresses).
    fn stream_end(&self, conn: &TcpConnection) -> Option<StreamEnd> {
        if !self.options.check_integrity {
            return None;
        }
        let (local, remote) = (conn.local_address()?, conn.remote_address()?);
        let mut matcher = self.matcher.lock().unwrap_or_else(|e| e.into_inner());
        Some(matcher.register(local, remote))
    }

    /// The stream segments whose CRCs disagreed (see `integrity.rs`).
    pub(crate) fn mismatches(&self) -> Mismatches {
        (self.matcher.lock().unwrap_or_else(|e| e.into_inner())).mismatches()
    }

    fn lock(&self) -> MutexGuard<'_, Progress> {
        self.progress.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Appends `who`'s event on `host` that is not a callback (a dropped write, a mute, bytes
    /// queued by `write_final`, a dial) at the current time. Fault lines go through
    /// [`fault_line`](Self::fault_line), the run loop's notes through [`line`](Self::line).
    pub(crate) fn note(&self, host: impl Into<Name>, who: impl Into<Name>, kind: EventKind) {
        self.trace.push(TraceEvent {
            at_us: now_us(),
            host: host.into(),
            who: who.into(),
            kind,
        });
    }

    /// Appends a line of the run's own (no host, no connection) at `at_us`: a fault's
    /// ([`fault_line`](Self::fault_line)), or a note of the run loop's.
    pub(crate) fn line(&self, at_us: u64, kind: EventKind) {
        self.trace.push(TraceEvent {
            at_us,
            host: "-".into(),
            who: "-".into(),
            kind,
        });
    }

    /// Marks client `name` finished.
    pub(crate) fn client_finished(&self, name: &Name) {
        self.lock().finished_clients.insert(name.clone());
    }

    /// Whether all of the scenario's `clients` clients finished. Only the scenario's clients
    /// (by their unique names) are ever marked finished, so counting them is enough, and the
    /// run loop asks this every step at a cost that does not grow with the clients.
    pub(crate) fn all_finished(&self, clients: usize) -> bool {
        self.lock().finished_clients.len() >= clients
    }

    /// Clients among `clients` that did not finish.
    pub(crate) fn unfinished<'a>(&self, clients: impl Iterator<Item = &'a str>) -> Vec<String> {
        let progress = self.lock();
        clients
            .filter(|c| !progress.finished_clients.contains(*c))
            .map(str::to_string)
            .collect()
    }

    /// Whether no connection is live.
    pub(crate) fn quiescent(&self) -> bool {
        self.lock().live.is_empty()
    }

    /// Connection `who` was dialled on `host` from a callback: live from now on, before its
    /// task first runs, so the run cannot end in between.
    fn dialled(&self, host: &Name, who: &Name) {
        self.lock().live.insert(who.clone(), host.clone());
    }

    /// Forgets the connections of a crashed host: they end without a callback.
    pub(crate) fn host_crashed(&self, host: &str, clients_on_host: &[String]) {
        let mut progress = self.lock();
        progress.live.retain(|_, h| *h != host);
        for c in clients_on_host {
            progress.finished_clients.insert(c.as_str().into());
        }
    }

    /// What event-triggered faults left for the run loop since the last call.
    pub(crate) fn take_fired(&self) -> Vec<Fired> {
        std::mem::take(&mut self.lock().fired)
    }

    /// Counts one firing of a fault of kind `kind`, about to act: whether it found bytes in
    /// flight (returned) is asked of the fault layer now, before it acts.
    pub(crate) fn count_fired(&self, kind: &FaultKind) -> bool {
        self.counted(kind, self.layer.in_flight_under(kind))
    }

    /// Called as the partition of the plan's fault `index` heals, before its cuts are
    /// repaired: if it found nothing in flight when it cut, but bytes across its cut are in
    /// flight now, it held them (they were written while it cut), and it counts as a fault
    /// that found bytes in flight. A partition triggered by a client's event cuts just
    /// before that client writes, so what it holds shows only here.
    pub(crate) fn count_held(&self, index: usize) {
        let cut = self.lock().idle_cuts.remove(&index);
        let Some(cut) = cut else {
            return;
        };
        if self.layer.in_flight_under(&cut) > 0 {
            self.lock().fired_in_flight += 1;
        }
    }

    /// Fires the plan's fault `index` at `at_us`, if it is of a kind that acts from anywhere
    /// and at once: a reset, a partition, a refusal. The one place these fire, whether their
    /// time came (the run loop, between steps) or an event triggered them (inside the
    /// callback, so that the very next I/O sees them: a partition triggered by `connecting`
    /// holds the SYN about to leave, a refusal refuses that connect). Each is counted with
    /// the bytes in flight just before it acts, gets its `FAULT` line at `at_us`, and a
    /// partition or a refusal ends `duration_ms` after `at_us`: the end is returned for the
    /// run loop to schedule. A reset of a connection that is not connected does nothing,
    /// says so, and is not counted as a fault that fired; so does a partition of `@peer`
    /// whose trigger's connection neither is connected nor dials a host. One that cuts
    /// names in its line the host it found.
    pub(crate) fn act(&self, index: usize, at_us: u64) -> Acted {
        let Some(fault) = self.faults.get(index) else {
            return Acted::Done;
        };
        let kind = &fault.kind;
        let until = |duration_ms: u64, undo: Undo| {
            Acted::Until(FaultEnd {
                at_us: at_us.saturating_add(duration_ms.saturating_mul(1000)),
                index,
                undo,
            })
        };
        let (acted, description) = match kind {
            FaultKind::Reset { conn } => {
                let in_flight = self.layer.in_flight_under(kind);
                if self.layer.reset(conn) {
                    self.counted(kind, in_flight);
                    (Acted::Done, kind.to_string())
                } else {
                    (
                        Acted::Done,
                        FaultStep::without_effect(kind, "not connected"),
                    )
                }
            }
            FaultKind::Partition {
                a,
                b,
                duration_ms,
                one_way,
            } => match self.sides(&fault.trigger, a, b) {
                Err(why) => (Acted::Done, FaultStep::without_effect(kind, &why)),
                Ok((a, b)) => {
                    let cut = FaultKind::Partition {
                        a: a.clone(),
                        b: b.clone(),
                        duration_ms: *duration_ms,
                        one_way: *one_way,
                    };
                    let idle = !self.count_fired(&cut);
                    let cuts = self.layer.partition(&a, &b, *one_way);
                    let description = cut.to_string();
                    if idle {
                        self.lock().idle_cuts.insert(index, cut);
                    }
                    (until(*duration_ms, Undo::Cuts(cuts)), description)
                }
            },
            FaultKind::Refuse {
                host,
                port,
                duration_ms,
            } => {
                self.count_fired(kind);
                self.layer.refuse(index, host, *port);
                let undo = Undo::Refusal {
                    host: host.clone(),
                    port: *port,
                };
                (until(*duration_ms, undo), kind.to_string())
            }
            FaultKind::Latency { .. } | FaultKind::SlowClose { .. } | FaultKind::Crash { .. } => {
                return Acted::NotHere
            }
        };
        self.fault_line(at_us, index, FaultStep::Fired(description));
        acted
    }

    /// The hosts a partition of sides `a` and `b` fired by `trigger` cuts: a side that is
    /// [`PEER`] is the host at the other end of the trigger's connection as it fires, or,
    /// before it has one (fired by its `proxy_via`, `connecting` or `connect_failed`), the
    /// host its `proxy_via` named (of a name of several hosts, the first). `Err` says why it
    /// cuts nothing: that connection never connected nor dialled a host of the simulation, or
    /// its peer is the partition's other side.
    fn sides(&self, trigger: &Trigger, a: &str, b: &str) -> Result<(String, String), String> {
        if a != PEER && b != PEER {
            return Ok((a.to_string(), b.to_string()));
        }
        // A plan's validation refuses `@peer` with a time for a trigger.
        let Trigger::After(event) = trigger else {
            return Err("no connection fired it".into());
        };
        let conn = &event.conn;
        let peer = match self.layer.peer_host(conn) {
            Some(peer) => peer,
            None => {
                let dialled = self.lock().dials.get(conn.as_str()).cloned();
                let target = dialled.ok_or_else(|| format!("{conn} not connected"))?;
                (self.layer.host_named(&target))
                    .ok_or_else(|| format!("{conn} dials {target}, no host of the simulation"))?
            }
        };
        let side = |s: &str| {
            if s == PEER {
                peer.clone()
            } else {
                s.to_string()
            }
        };
        let (a, b) = (side(a), side(b));
        if a == b {
            return Err(format!("{conn} runs within {a}"));
        }
        Ok((a, b))
    }

    /// Appends the line of the plan's fault `index` at `at_us` telling `step`: its firing or
    /// the end of its span. Every fault line of a run is made here, whether an event fired
    /// the fault ([`act`](Self::act)) or the run loop did or ended it.
    pub(crate) fn fault_line(&self, at_us: u64, index: usize, step: FaultStep) {
        self.line(at_us, EventKind::Fault { index, step });
    }

    /// Counts one firing of a fault of kind `kind` that found `in_flight` bytes in flight, and
    /// says whether it found any.
    fn counted(&self, kind: &FaultKind, in_flight: usize) -> bool {
        let mut progress = self.lock();
        *progress
            .fired_kinds
            .entry(kind.name().to_string())
            .or_default() += 1;
        progress.fired_in_flight += usize::from(in_flight > 0);
        in_flight > 0
    }

    /// How many times each fault kind fired.
    pub(crate) fn fired_kinds(&self) -> BTreeMap<String, usize> {
        self.lock().fired_kinds.clone()
    }

    /// How many faults fired while bytes were in flight where they act.
    pub(crate) fn fired_in_flight(&self) -> usize {
        self.lock().fired_in_flight
    }

    /// The plan's fault `index`.
    pub(crate) fn fault(&self, index: usize) -> Option<&Fault> {
        self.faults.get(index)
    }

    /// Takes note of callback `seen` of connection `who` on `host`, recorded at `at_us`:
    /// which connections are live and on which sockets, and the faults it triggers.
    fn observe(
        &self,
        host: &Name,
        who: &Name,
        conn: Option<&TcpConnection>,
        seen: Observed,
        at_us: u64,
    ) {
        let Observed {
            name,
            milestone,
            dials,
        } = seen;
        // Only callbacks that trigger a fault are counted: most runs have no trigger, and
        // counting every callback cost an allocation and a map search each.
        let by_callback = name.and_then(|_| self.triggers.get(who.as_str()));
        let triggers = name
            .zip(by_callback)
            .and_then(|(name, by_callback)| Some((name, by_callback.get(name)?)));
        if milestone == Milestone::None && triggers.is_none() {
            // Most callbacks (data, `expect`, throttling) change nothing the state keeps.
            return;
        }
        let mut progress = self.lock();
        match milestone {
            Milestone::Accepted | Milestone::ProxyVia => {
                progress.live.insert(who.clone(), host.clone());
            }
            Milestone::Ended => {
                progress.live.remove(who);
            }
            Milestone::Connected | Milestone::None => {}
        }
        if let Some(target) = dials.filter(|_| by_callback.is_some()) {
            progress.dials.insert(who.clone(), target);
        }
        if let (Milestone::Connected | Milestone::Accepted, Some(conn)) = (milestone, conn) {
            if let (Some(local), Some(remote)) = (conn.local_address(), conn.remote_address()) {
                self.layer.register_connection(who.clone(), local, remote);
            }
        }
        let Some((name, triggers)) = triggers else {
            return;
        };
        let count = progress.counts.entry((who.to_string(), name)).or_insert(0);
        *count += 1;
        let count = *count;
        if self.disarmed.load(Ordering::Relaxed) {
            return;
        }
        // In plan order, as the index lists are.
        let due: Vec<usize> = (triggers.iter())
            .filter(|(nth, i)| *nth == count && !progress.fired_set.contains(i))
            .map(|(_, i)| *i)
            .collect();
        progress.fired_set.extend(due.iter().copied());
        drop(progress);
        for index in due {
            // Resets, partitions and refusals act now, inside the callback that triggered
            // them, and count and log themselves at its time; the run loop applies the rest.
            let fired = match self.act(index, at_us) {
                Acted::Done => continue,
                Acted::Until(end) => Fired::Until(end),
                Acted::NotHere => Fired::ByTheLoop(index),
            };
            self.lock().fired.push(fired);
        }
    }
}

/// What the run state observes of a callback, taken before the callback moves into the trace
/// (cloning the callback instead copied its data previews, once per callback).
#[derive(Debug, Clone)]
struct Observed {
    /// The callback's name, if the run has event-triggered faults: only they ask for it.
    name: Option<&'static str>,
    milestone: Milestone,
    /// The host a `proxy_via` returned, if the run has event-triggered faults (a `@peer`
    /// partition the connection times before it has a peer cuts it).
    dials: Option<Name>,
}

/// Where a callback leaves its connection, as far as the run state cares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Milestone {
    /// `accepted`: live, and its sockets known.
    Accepted,
    /// `proxy_via`: a client's connection is live.
    ProxyVia,
    /// `connected`: its sockets known.
    Connected,
    /// `closed` or `connect_failed`: no longer live.
    Ended,
    /// Any other callback.
    None,
}

impl Observed {
    /// What to observe of `callback`, with its name if `named` (the run has triggers).
    fn of(callback: &Callback, named: bool) -> Observed {
        let (milestone, dials) = match callback {
            Callback::Accepted => (Milestone::Accepted, None),
            Callback::ProxyVia { target, .. } => {
                (Milestone::ProxyVia, named.then(|| target.0.clone()))
            }
            Callback::Connected => (Milestone::Connected, None),
            Callback::Closed | Callback::ConnectFailed(_) => (Milestone::Ended, None),
            _ => (Milestone::None, None),
        };
        Observed {
            name: named.then(|| callback.name()),
            milestone,
            dials,
        }
    }
}

/// A broken stream found in data about to be delivered, logged after its `received`: one
/// per host, shared by its sink and its connections' taps. Whether one is held is a flag of
/// its own, which every `received` reads instead of taking the lock (some 20 instructions a
/// delivery, and most runs break nothing).
#[derive(Default)]
struct Broken {
    /// Whether `note` holds one.
    any: AtomicBool,
    /// The connection whose stream broke, and how.
    note: Mutex<Option<(Name, String)>>,
}

impl Broken {
    /// Notes that `who`'s stream broke, as `message` says.
    fn note(&self, who: &Name, message: String) {
        *self.note.lock().unwrap_or_else(|e| e.into_inner()) = Some((who.clone(), message));
        self.any.store(true, Ordering::Relaxed);
    }

    /// What broke in `who`'s stream, if that is what is noted: taken.
    fn take(&self, who: &Name) -> Option<String> {
        if !self.any.load(Ordering::Relaxed) {
            return None;
        }
        let mut note = self.note.lock().unwrap_or_else(|e| e.into_inner());
        let taken = note.take_if(|(w, _)| *w == *who);
        self.any.store(note.is_some(), Ordering::Relaxed);
        taken.map(|(_, message)| message)
    }
}

/// One connection's data fed to the integrity check, a broken stream noted for the trace.
struct IntegrityTap {
    who: Name,
    end: StreamEnd,
    broken: Arc<Broken>,
}

/// Tests only: how the check is to see one connection's queued bytes ([`TAMPERED_WRITER`]),
/// to show what it reports of a stream that differs from them.
#[cfg(test)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Tamper {
    /// Not at all, as if its notifier wrote past the recorder (no notifier can:
    /// `write_final` and a swapped-in notifier are recorded).
    Unseen,
    /// With the first byte of each write changed (bit 0x20 flipped), as if the bytes
    /// changed between the notifier's write and the wire.
    Altered,
}

#[cfg(test)]
thread_local! {
    /// Tests only: the connection whose queued bytes reach the check tampered with, and how.
    pub(crate) static TAMPERED_WRITER: std::cell::RefCell<Option<(&'static str, Tamper)>> =
        const { std::cell::RefCell::new(None) };
}

impl DataTap for IntegrityTap {
    fn data(&mut self, flow: DataFlow<'_>) {
        match flow {
            DataFlow::Queued(bytes) => {
                #[cfg(test)]
                let mut altered: Vec<u8>;
                #[cfg(test)]
                let bytes = match TAMPERED_WRITER.with_borrow(|w| *w) {
                    Some((who, tamper)) if who == &*self.who => match tamper {
                        Tamper::Unseen => return,
                        Tamper::Altered => {
                            altered = bytes.to_vec();
                            if let Some(first) = altered.first_mut() {
                                *first ^= 0x20;
                            }
                            &altered[..]
                        }
                    },
                    _ => bytes,
                };
                self.end.sent(bytes)
            }
            DataFlow::Delivered(bytes) => {
                if let Some(message) = self.end.received(bytes) {
                    self.broken.note(&self.who, message);
                }
            }
        }
    }
}

/// Records one host's callbacks into the run's trace.
pub(crate) struct HostSink {
    host: Name,
    run: Arc<RunState>,
    broken: Arc<Broken>,
    /// The time its callbacks are stamped with (one sink serves one host incarnation).
    clock: HostClock,
    /// The hosts and services its connections' `proxy_via` named, each made once: every
    /// client of a host mostly dials the same few.
    names: Mutex<FxHashSet<Name>>,
}

impl HostSink {
    /// The sink of host `host`.
    pub(crate) fn new(host: &str, run: Arc<RunState>) -> Arc<Self> {
        Arc::new(HostSink {
            host: host.into(),
            run,
            broken: Arc::default(),
            clock: HostClock::default(),
            names: Mutex::default(),
        })
    }
}

impl CallbackSink for HostSink {
    fn tap(&self, who: &Name, conn: &TcpConnection) -> Option<Box<dyn DataTap>> {
        let end = self.run.stream_end(conn)?;
        Some(Box::new(IntegrityTap {
            who: who.clone(),
            end,
            broken: self.broken.clone(),
        }))
    }

    fn record(&self, who: &Name, conn: Option<&TcpConnection>, callback: Callback) {
        let broken = match callback {
            Callback::Received { .. } => self.broken.take(who),
            _ => None,
        };
        // Observed after the callback's own line, so a fault it triggers is logged after it.
        let observed = Observed::of(&callback, self.run.has_triggers());
        let discarded = match (&callback, conn) {
            (Callback::Closed, Some(conn)) => conn.stats().bytes_discarded,
            _ => 0,
        };
        let at_us = self.clock.now_us();
        (self.run.trace).push_callback(at_us, &self.host, who, conn, callback);
        // What the callback's line leaves out, on lines of its own right after it.
        let after = |kind| {
            self.run.trace.push(TraceEvent {
                at_us,
                host: self.host.clone(),
                who: who.clone(),
                kind,
            })
        };
        if discarded > 0 {
            // No callback tells of them, and a peer waiting for them only sees it wait.
            let bytes = usize::try_from(discarded).unwrap_or(usize::MAX);
            after(EventKind::Discarded { bytes });
        }
        if let Some(message) = broken {
            after(EventKind::Violation {
                rule: "R6".into(),
                message,
            });
        }
        self.run.observe(&self.host, who, conn, observed, at_us);
    }

    fn name(&self, text: &str) -> Name {
        let mut names = self.names.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(name) = names.get(text) {
            return name.clone();
        }
        let name = Name::from(text);
        names.insert(name.clone());
        name
    }

    fn counters(&self, who: &Name, stats: ConnectionStats) {
        self.run.context.record_stats(who, stats);
    }

    fn write_dropped(&self, who: &Name, dropped: &DroppedWrite) {
        self.run
            .note(&self.host, who, EventKind::write_dropped(dropped));
    }

    fn mute_changed(&self, who: &Name, muting: Muting) {
        self.run.note(&self.host, who, EventKind::muting(muting));
    }

    fn final_written(&self, who: &Name, data: &Payload, before: FinalWriteBefore) {
        let kind = EventKind::FinalWritten {
            data: data.clone(),
            before,
        };
        self.run.note(&self.host, who, kind);
    }

    fn dialled(&self, by: &Name, who: &Name, host: &str, service: &str) {
        self.run.dialled(&self.host, who);
        self.run
            .note(&self.host, by, EventKind::dialled(who, host, service));
    }

    fn enter(&self, who: &Name) {
        self.run.context.callback_started(&self.host, who);
    }

    fn exit(&self, _who: &Name) {
        self.run.context.callback_ended();
    }
}
