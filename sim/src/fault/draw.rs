//! Drawing a plan: where a scenario's settings come from ([`Faults`]: the swarm's draw for
//! the seed, or settings written by hand), then every fault parameter from the seed's `plan`
//! stream and those settings, so the same seed and settings give the same plan, and a plan is
//! data before the run starts.

use super::plan::{
    Dial, EventTrigger, Fault, FaultKind, FaultPlan, Latency, PartialWrites, ReadChunks, Topology,
    Trigger, PEER,
};
use super::settings::{FaultSettings, Span};
use super::swarm::Swarm;
use crate::seed::Seed;
use crate::validate::MAX_FAULTS;
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use rustc_hash::FxHashSet;
use std::collections::BTreeMap;

/// Where a scenario's fault plans come from, when it has no explicit plan: the swarm (the
/// default: each seed draws its own settings), or settings written by hand (a scenario file's
/// `[faults]` table, `Scenario::faults(FaultSettings { .. })`), the same at every seed.
///
/// ```
/// use tcpnotify_sim::fault::{Faults, Swarm};
/// use tcpnotify_sim::FaultSettings;
/// assert_eq!(Faults::default(), Faults::Swarm(Swarm::default()));
/// assert_eq!(Faults::from(FaultSettings::quiet()), Faults::Settings(FaultSettings::quiet()));
/// ```
// One per scenario: boxing the settings would only make matching on them clumsier.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq)]
pub enum Faults {
    /// Swarm testing: each seed draws which fault kinds are on and how strong.
    Swarm(Swarm),
    /// These settings at every seed.
    Settings(FaultSettings),
}

impl Default for Faults {
    fn default() -> Self {
        Faults::Swarm(Swarm::default())
    }
}

impl From<FaultSettings> for Faults {
    fn from(settings: FaultSettings) -> Self {
        Faults::Settings(settings)
    }
}

impl From<Swarm> for Faults {
    fn from(swarm: Swarm) -> Self {
        Faults::Swarm(swarm)
    }
}

impl Faults {
    /// The settings seed `seed` runs under, for `topology`: the swarm's draw (resets and
    /// crashes only if `lost_allowed`, unless the swarm says otherwise), or the written ones.
    pub fn settings_for(
        &self,
        seed: Seed,
        topology: &Topology,
        lost_allowed: bool,
    ) -> FaultSettings {
        match self {
            Faults::Swarm(swarm) => swarm.draw(seed, topology, lost_allowed),
            Faults::Settings(settings) => settings.clone(),
        }
    }

    /// The plan of seed `seed`: drawn from [`settings_for`](Self::settings_for); a swarm's
    /// plan also holds the settings it drew ([`FaultPlan::swarm`]), to be printed with it.
    pub fn plan_for(&self, seed: Seed, topology: &Topology, lost_allowed: bool) -> FaultPlan {
        let settings = self.settings_for(seed, topology, lost_allowed);
        let mut plan = FaultPlan::generate(seed, &settings, topology);
        if let Faults::Swarm(_) = self {
            plan.swarm = Some(settings);
        }
        plan
    }
}

impl FaultPlan {
    /// Generates the plan for `seed` from `settings`: every fault parameter comes from the
    /// seed's `plan` streams, so the same seed and settings give the same plan.
    ///
    /// Partitions and crashes fire at a time drawn from the settings' fault window if they
    /// have one; without one they are timed by the traffic: each fires on an event of a
    /// client connection across the pair of hosts it cuts (or to the host that crashes),
    /// its `connecting`, its `connected`, or one of its first three `sent` or `received`.
    /// What no client connects across may still carry connections notifiers dial (a proxy's
    /// onward connection, a route `proxy_via` chose): a pair of hosts one of which listens
    /// and the other runs something, and a host that listens, are then timed by any client's
    /// traffic, as refusals of a listener's port are. Other pairs of hosts get no partition
    /// then, as nothing can flow between them. A host that runs clients of the scenario is
    /// never crashed: they would never run again. Resets come after one of a client's first
    /// `received`, and, drawn apart so that the rest stays as it was, after one of its first
    /// 64 `sent` and on its first redial; and, drawn apart again, each listener's first
    /// accepted connection (`server.1`) is reset after one of its first 64 `received` or 64
    /// `sent`, a loss timed by the server's progress (a client that writes a long request at
    /// once has no event of its own in its middle). Without a fault window, drawn apart too,
    /// each host that may crash crashes again after one of the first 64 `received` or `sent`
    /// of its listener's first accepted connection. Then, drawn apart again, a client's
    /// first three redials are reset after one of their first 64 `sent` (the first few the
    /// likeliest), the second and third after one of their first `received` too, and each
    /// listener's second and third accepted connections after one of their first 64
    /// `received` or `sent`. Then, drawn apart again, the connections each listener's
    /// first accepted connection dials (a proxy's onward connection `p1.1~1` and its redial
    /// `p1.1~2`) are reset after one of their first `received` and after one of their first
    /// 64 `sent`. After them, drawn apart again, each listener's port refuses as each of a
    /// client's first three redials is `connecting`. Then, drawn apart again and without a
    /// fault window, each pair of hosts a client's first events may cut is cut again (whether
    /// it was cut then or not) after one of the first 64 `sent` or `received` of a client
    /// connection that times it, and the host of each of a client's first three redials from
    /// the host it dials ([`PEER`]) as that redial is `connecting`. After them, drawn apart
    /// again, each listener's first three accepted connections (`server.1` to `server.3`)
    /// send their FIN late, as a client's may. After them, drawn apart again and without a
    /// fault window, each pair of hosts the later partitions may cut is cut once more, deep
    /// in a session: after one of the 65th to 1024th `sent` or `received` of a client
    /// connection that times it; and, drawn apart again, each host that may crash crashes
    /// once more after one of the 65th to 1024th `received` or `sent` of its listener's first
    /// accepted connection.
    /// After them, drawn apart again and without a fault window, in later sessions: each
    /// client's host is cut from the host one of its redials `c1~1` to `c1~8` runs to
    /// ([`PEER`]) after one of the first 1024 `sent` or `received` of that redial, and each
    /// host that may crash
    /// crashes after one of the first 1024 `received` or `sent` of one of its listener's
    /// accepted connections `server.2` to `server.8`. A plan holds at most [`MAX_FAULTS`]
    /// faults.
    pub fn generate(seed: Seed, settings: &FaultSettings, topology: &Topology) -> FaultPlan {
        let mut rng = seed.stream("plan", 0);
        let mut plan = FaultPlan::quiet(seed);
        plan.connect_timeout_ms = settings.connect_timeout_ms;
        plan.latency = settings.latency_ms.map(|s| Latency {
            min_ms: s.min,
            max_ms: s.max,
        });
        draw_policies(&mut rng, settings, &mut plan);
        let between = dials_by_pair(topology);
        let all: Vec<&Dial> = topology.dials.iter().collect();
        let mut draws = Draws {
            seed,
            settings,
            topology,
            window: settings.fault_window_ms,
            all: &all,
            crossings: Crossings::of(topology),
            faults: Faulted(Vec::new()),
        };
        // From the `plan` stream, after the policies: faults on a client's first events.
        let timed = draws.partitions(&mut rng, &between);
        draws.client_resets_and_slow_closes(&mut rng);
        draws.crashes(&mut rng);
        draws.refusals(&mut rng);
        // Each from a stream of its own, so that every fault drawn before it stays as it was.
        draws.later_losses();
        draws.server_losses();
        draws.later_crashes();
        draws.later_connections();
        draws.onward_connections();
        draws.redial_refusals();
        draws.later_partitions(&timed);
        draws.server_slow_closes();
        draws.deep_partitions(&timed);
        draws.deep_crashes();
        draws.later_sessions();
        plan.faults = draws.faults.0;
        plan
    }
}

/// The chunking policies of a plan (partial writes, read re-chunking, a send buffer), each
/// with its setting's probability: the first draws of the `plan` stream.
fn draw_policies(rng: &mut ChaCha8Rng, settings: &FaultSettings, plan: &mut FaultPlan) {
    if rng.random_bool(settings.partial_writes.clamp(0.0, 1.0)) {
        let average = settings.partial_write_bytes.pick(rng).max(1) as usize;
        plan.partial_writes = Some(PartialWrites {
            average,
            variation: rng.random_range(0..=average / 2),
        });
    }
    if rng.random_bool(settings.read_chunks.clamp(0.0, 1.0)) {
        let max = settings.read_chunk_bytes.pick(rng).max(1) as usize;
        plan.read_chunks = Some(ReadChunks::new(max));
    }
    if rng.random_bool(settings.send_buffer.clamp(0.0, 1.0)) {
        plan.send_buffer = Some(settings.send_buffer_bytes.pick(rng).max(1) as usize);
    }
}

/// The client connections between each two hosts, by [`pair`] of hosts.
type DialsByPair<'t> = BTreeMap<(&'t str, &'t str), Vec<&'t Dial>>;

/// A pair of hosts whose partitions the events of client connections time, with those
/// connections ([`partition_timers`]).
struct TimedPair<'t> {
    a: &'t str,
    b: &'t str,
    timers: &'t [&'t Dial],
}

/// What the draws of one plan share: where their streams come from, what they draw from,
/// and the faults drawn so far. Each method draws one kind of fault, in the order
/// [`FaultPlan::generate`] calls them: that order is the plan's, and a later draw never
/// moves an earlier one.
struct Draws<'t> {
    seed: Seed,
    settings: &'t FaultSettings,
    topology: &'t Topology,
    /// The settings' fault window: without one, faults are timed by the traffic.
    window: Option<Span>,
    /// Every client connection: what any client's traffic times, as the connections
    /// notifiers dial are not known before the run.
    all: &'t [&'t Dial],
    crossings: Crossings<'t>,
    faults: Faulted,
}

impl<'t> Draws<'t> {
    /// A partition of each pair of hosts, with the partitions' probability, at a time of the
    /// window or on an event of a client connection that times the pair; without a window, a
    /// pair no client connection times gets none. Returns the pairs that are timed, in the
    /// order walked, for [`later_partitions`](Self::later_partitions) and
    /// [`deep_partitions`](Self::deep_partitions).
    fn partitions<'p>(
        &mut self,
        rng: &mut ChaCha8Rng,
        between: &'p DialsByPair<'t>,
    ) -> Vec<TimedPair<'p>>
    where
        't: 'p,
    {
        let (topology, settings, window, all) =
            (self.topology, self.settings, self.window, self.all);
        let partitions = settings.partitions.clamp(0.0, 1.0);
        let mut timed = Vec::new();
        for (i, a) in topology.hosts.iter().enumerate() {
            for b in &topology.hosts[i + 1..] {
                let may_dial = self.crossings.may_dial(a, b);
                let timers = partition_timers(between, all, may_dial, a, b);
                if !timers.is_empty() {
                    timed.push(TimedPair { a, b, timers });
                } else if window.is_none() {
                    continue;
                }
                if rng.random_bool(partitions) {
                    let fault = partition(rng, settings, a, b, |rng| when(rng, window, timers));
                    self.faults.push(fault);
                }
            }
        }
        timed
    }

    /// For each client, with their settings' probabilities, a reset of its connection after
    /// one of its first `reset_after_received` `received`, and a slow close of it.
    fn client_resets_and_slow_closes(&mut self, rng: &mut ChaCha8Rng) {
        let (topology, settings) = (self.topology, self.settings);
        for conn in &topology.clients {
            if rng.random_bool(settings.resets.clamp(0.0, 1.0)) {
                let nth = received_nth(settings, rng);
                self.faults.push(reset_after(conn, "received", nth));
            }
            if rng.random_bool(settings.slow_close.clamp(0.0, 1.0)) {
                self.faults.push(Fault::at(
                    0,
                    FaultKind::SlowClose {
                        conn: conn.clone(),
                        delay_ms: settings.slow_close_ms.pick(rng),
                    },
                ));
            }
        }
    }

    /// A crash of each server host, with the crashes' probability, at a time of the window
    /// or on an event of a client connection to it (of any client, where only notifiers'
    /// connections may reach it).
    fn crashes(&mut self, rng: &mut ChaCha8Rng) {
        let (topology, settings, window) = (self.topology, self.settings, self.window);
        for host in &topology.servers {
            let mut dials = topology.dials_to(host);
            // A host that runs clients of the scenario is never crashed: they never run
            // again after a crash, so a crash there ends their work for good, not only their
            // connections, and nothing they must eventually do can be done, a red for correct
            // code (a resuming uploader beside a metrics listener, or on a host a probe
            // dials). Such a crash is written in a plan, where it is asked for.
            let runs_clients = !self.crossings.may_crash(host);
            if dials.is_empty() && !runs_clients {
                // Only notifiers' connections may reach it: crashed on any client's traffic.
                dials.extend_from_slice(self.all);
            }
            if window.is_none() && dials.is_empty() {
                continue;
            }
            if rng.random_bool(settings.crashes.clamp(0.0, 1.0)) {
                // Drawn even where it is not kept, so the rest of the plan stays as it was.
                let trigger = when(rng, window, &dials);
                if runs_clients {
                    continue;
                }
                self.faults.push(Fault {
                    trigger,
                    kind: FaultKind::Crash {
                        host: host.clone(),
                        restart_after_ms: Some(settings.crash_down_ms.pick(rng)),
                    },
                });
            }
        }
    }

    /// A refusal of each listener's port, with the refusals' probability, at a time of the
    /// window or on the traffic of any client: what dials a port may be a connection the
    /// plan does not know (a proxy's onward connection, a client's redial).
    fn refusals(&mut self, rng: &mut ChaCha8Rng) {
        let (topology, settings, window, all) =
            (self.topology, self.settings, self.window, self.all);
        for (host, port) in &topology.ports {
            if window.is_none() && all.is_empty() {
                break;
            }
            if rng.random_bool(settings.refusals.clamp(0.0, 1.0)) {
                let trigger = when(rng, window, all);
                self.faults.push(Fault {
                    trigger,
                    kind: FaultKind::Refuse {
                        host: host.clone(),
                        port: *port,
                        duration_ms: settings.refusal_ms.pick(rng),
                    },
                });
            }
        }
    }

    /// Losses the draws from the `plan` stream never reach, each with the resets'
    /// probability: a reset later in a client's connection, after its 1st to 64th `sent`
    /// (the first reset comes within its first 10 `received`, and a client that only writes
    /// never receives), and a reset of its first redial (`c1~1`), so that a second lost
    /// connection is drawn too.
    fn later_losses(&mut self) {
        let mut later = self.seed.stream("plan-later-losses", 0);
        let (topology, settings) = (self.topology, self.settings);
        let resets = settings.resets.clamp(0.0, 1.0);
        for conn in &topology.clients {
            if later.random_bool(resets) {
                let nth = later.random_range(1..=LATE_RESET_MAX_SENT);
                self.faults.push(reset_after(conn, "sent", nth));
            }
            if later.random_bool(resets) {
                let nth = received_nth(settings, &mut later);
                let redial = format!("{conn}~1");
                self.faults.push(reset_after(&redial, "received", nth));
            }
        }
    }

    /// Losses timed by a server's own progress, each with the resets' probability: a reset
    /// of each listener's first accepted connection after one of its first 64 `received`,
    /// and one after one of its first 64 `sent`. A client that writes its request in one
    /// write and then only waits has no event of its own in the middle of that request, nor
    /// in the middle of a long answer after its first deliveries: only the server's reads
    /// and writes time a loss there.
    fn server_losses(&mut self) {
        let mut served = self.seed.stream("plan-server-losses", 0);
        let resets = self.settings.resets.clamp(0.0, 1.0);
        for listener in &self.topology.listeners {
            let accepted = format!("{listener}.1");
            for callback in ["received", "sent"] {
                if served.random_bool(resets) {
                    let nth = served.random_range(1..=SERVER_LOSS_MAX_EVENTS);
                    self.faults.push(reset_after(&accepted, callback, nth));
                }
            }
        }
    }

    /// Crashes timed by a server's own progress: the first crashes come on a client's first
    /// events, before a long request or answer is under way. Each host they may crash (it
    /// runs no client), with the crashes' probability, after one of the first 64 `received`
    /// or `sent` of the first connection one of its listeners accepted. Not with a fault
    /// window, which times every crash.
    fn later_crashes(&mut self) {
        let mut crashed = self.seed.stream("plan-later-crashes", 0);
        let first_events = |rng: &mut ChaCha8Rng| rng.random_range(1..=SERVER_LOSS_MAX_EVENTS);
        self.crashes_timed_by_servers(&mut crashed, |_| 1, first_events);
    }

    /// Crashes deep in a server's session: the later crashes come within the first 64
    /// `received` or `sent` of a listener's first connection, so what a server does only
    /// after more (start a new segment of its journal, rotate a log, compact) was never
    /// crashed in. Each host they may crash, with the crashes' probability, after one of the
    /// 65th to 1024th `received` or `sent` of its listener's first accepted connection
    /// ([`deep_nth`]). Not with a fault window.
    fn deep_crashes(&mut self) {
        let mut deep_crashed = self.seed.stream("plan-deep-crashes", 0);
        self.crashes_timed_by_servers(&mut deep_crashed, |_| 1, deep_nth);
    }

    /// Each host that may crash (it runs no client and has a listener), with the crashes'
    /// probability, crashed after the `nth` (drawn) `received` or `sent` of its listener's
    /// `accepted`th (drawn, for the first without a draw) accepted connection, drawn from
    /// `rng`; none with a fault window.
    fn crashes_timed_by_servers(
        &mut self,
        rng: &mut ChaCha8Rng,
        accepted: fn(&mut ChaCha8Rng) -> u32,
        nth: fn(&mut ChaCha8Rng) -> u32,
    ) {
        if self.window.is_some() {
            return;
        }
        let settings = self.settings;
        let crashes = settings.crashes.clamp(0.0, 1.0);
        for (host, on_host) in hosts_crashed_by_servers(self.topology, &self.crossings) {
            if !rng.random_bool(crashes) {
                continue;
            }
            let listener = on_host[rng.random_range(0..on_host.len())];
            let k = accepted(rng);
            let callback = either(rng, "received", "sent");
            let event = EventTrigger {
                conn: format!("{listener}.{k}"),
                callback: callback.into(),
                nth: nth(rng),
            };
            let crash = FaultKind::Crash {
                host: host.clone(),
                restart_after_ms: Some(settings.crash_down_ms.pick(rng)),
            };
            self.faults.push(Fault::after(event, crash));
        }
    }

    /// Losses of later connections: the draws before lose a client's first connection and
    /// its first redial (`c1~1`, after a `received` only), and a listener's first accepted
    /// connection (`server.1`), never what comes after them. Each client's redials `c1~1` to
    /// `c1~3`, each with the resets' probability, after one of their first 64 `sent`, the
    /// first few the likeliest ([`early_nth`]): a redial resends first what the lost
    /// connection left unanswered, and a loss before that reached the peer shows whether
    /// the client still holds it; `c1~2` and `c1~3` also after one of their first
    /// `reset_after_received` `received`, as `c1~1` in [`later_losses`](Self::later_losses).
    /// Each listener's accepted connections `server.2` and `server.3` after one of their
    /// first 64 `received` or `sent` (again the first few the likeliest): only the server's
    /// reads time a loss in the middle of a request its client wrote at once.
    fn later_connections(&mut self) {
        let mut again = self.seed.stream("plan-later-connections", 0);
        let (topology, settings) = (self.topology, self.settings);
        let resets = settings.resets.clamp(0.0, 1.0);
        for conn in &topology.clients {
            for k in 1..=LATER_CONNECTIONS {
                let redial = format!("{conn}~{k}");
                if k > 1 && again.random_bool(resets) {
                    let nth = received_nth(settings, &mut again);
                    self.faults.push(reset_after(&redial, "received", nth));
                }
                if again.random_bool(resets) {
                    let nth = early_nth(&mut again);
                    self.faults.push(reset_after(&redial, "sent", nth));
                }
            }
        }
        for listener in &topology.listeners {
            for k in 2..=LATER_CONNECTIONS {
                if again.random_bool(resets) {
                    let accepted = format!("{listener}.{k}");
                    let callback = either(&mut again, "received", "sent");
                    let nth = early_nth(&mut again);
                    self.faults.push(reset_after(&accepted, callback, nth));
                }
            }
        }
    }

    /// Losses of the connections a listener's first accepted connection dials (a proxy's
    /// onward connection `p1.1~1` and its redial `p1.1~2`): the draws before lose the
    /// proxy's accepted connection and the server's end of its onward one, each timed by
    /// their own events, so seldom between the proxy's write of what it forwards and the
    /// server's read of it: the onward connection's own `sent` times a loss right there.
    /// Each, with the resets' probability, after one of its first `reset_after_received`
    /// `received` and after one of its first 64 `sent` (the first few the likeliest). A plan
    /// does not know which notifiers dial: a listener's that never dials never fires them.
    fn onward_connections(&mut self) {
        let mut onward = self.seed.stream("plan-onward-connections", 0);
        let (topology, settings) = (self.topology, self.settings);
        let resets = settings.resets.clamp(0.0, 1.0);
        for listener in &topology.listeners {
            for k in 1..=ONWARD_CONNECTIONS {
                let dialled = format!("{listener}.1~{k}");
                if onward.random_bool(resets) {
                    let nth = received_nth(settings, &mut onward);
                    self.faults.push(reset_after(&dialled, "received", nth));
                }
                if onward.random_bool(resets) {
                    let nth = early_nth(&mut onward);
                    self.faults.push(reset_after(&dialled, "sent", nth));
                }
            }
        }
    }

    /// Refusals a redial's connect meets: the first refusals and partitions are timed by a
    /// client's first events and last at most a second or two, so a redial that comes later
    /// (after a long session, or dialled late to report) never meets one, and a client that
    /// retries a failed first connect but gives up on a failed redial passes. Each
    /// listener's port, with the refusals' probability, refuses as each of a client's
    /// redials `c1~1` to `c1~3` is `connecting`, as its SYN leaves: a redial dials one port,
    /// and the others' refusals heal unseen.
    fn redial_refusals(&mut self) {
        let mut redialled = self.seed.stream("plan-redial-refusals", 0);
        let (topology, settings) = (self.topology, self.settings);
        let refusals = settings.refusals.clamp(0.0, 1.0);
        for conn in &topology.clients {
            for k in 1..=LATER_CONNECTIONS {
                for (host, port) in &topology.ports {
                    if redialled.random_bool(refusals) {
                        let refuse = FaultKind::Refuse {
                            host: host.clone(),
                            port: *port,
                            duration_ms: settings.refusal_ms.pick(&mut redialled),
                        };
                        let connecting = redial_connecting(conn, k);
                        self.faults.push(Fault::after(connecting, refuse));
                    }
                }
            }
        }
    }

    /// Partitions later in a session: the first partitions are timed by a client's first
    /// events and last a second or two at most, so what a partition alone shows (an answer
    /// held past a deadline on a connection that stays up, a connect that times out where a
    /// refused one is retried) was never met later in a session. Each pair of hosts in
    /// `timed` (partitioned by [`partitions`](Self::partitions) or not), with the
    /// partitions' probability, after one of the first 64 `sent` or `received` of a client
    /// connection that times it, any of them as likely; and the host of each of a client's
    /// redials `c1~1` to `c1~3`, with that probability, cut from the host that redial dials
    /// as it is `connecting`: not known before the run (a node a bootstrap server named), so
    /// the plan names it [`PEER`], found as the fault fires (the host its `proxy_via`
    /// returned). Not with a fault window, which times every partition.
    fn later_partitions(&mut self, timed: &[TimedPair<'_>]) {
        let mut later_cut = self.seed.stream("plan-later-partitions", 0);
        let first_events = |rng: &mut ChaCha8Rng| rng.random_range(1..=LATE_PARTITION_MAX_EVENTS);
        self.partitions_in_sessions(&mut later_cut, timed, first_events);
        let (topology, settings, window) = (self.topology, self.settings, self.window);
        let partitions = settings.partitions.clamp(0.0, 1.0);
        for dial in topology.dials.iter().filter(|_| window.is_none()) {
            let others: Vec<&String> = servers_besides(topology, &dial.host).collect();
            for k in 1..=LATER_CONNECTIONS {
                if others.is_empty() || !later_cut.random_bool(partitions) {
                    continue;
                }
                // Until the twenty-first session the host cut was drawn here, among every
                // listening host, and seldom was the one the redial dials where several
                // listen: drawn still, so that every fault after it stays as it was.
                let _ = later_cut.random_range(0..others.len());
                let fault = partition(&mut later_cut, settings, &dial.host, PEER, |_| {
                    Trigger::After(redial_connecting(&dial.client, k))
                });
                self.faults.push(fault);
            }
        }
    }

    /// Partitions deep in a session: the later partitions come within a client connection's
    /// first 64 `sent` or `received`, so a session whose lead-in (a snapshot fetched a page at
    /// a time, a long feed) takes more was never cut after it. Each pair of hosts in `timed`,
    /// with the partitions' probability, after one of the 65th to 1024th `sent` or `received`
    /// of a client connection that times it ([`deep_nth`]). Not with a fault window, which
    /// times every partition.
    fn deep_partitions(&mut self, timed: &[TimedPair<'_>]) {
        let mut deep_cut = self.seed.stream("plan-deep-partitions", 0);
        self.partitions_in_sessions(&mut deep_cut, timed, deep_nth);
    }

    /// Each pair of hosts in `timed`, with the partitions' probability, cut after the `nth`
    /// (drawn) `sent` or `received` of one of the client connections that time it, drawn from
    /// `rng`; none with a fault window.
    fn partitions_in_sessions(
        &mut self,
        rng: &mut ChaCha8Rng,
        timed: &[TimedPair<'_>],
        nth: fn(&mut ChaCha8Rng) -> u32,
    ) {
        let (settings, window) = (self.settings, self.window);
        let partitions = settings.partitions.clamp(0.0, 1.0);
        for hosts in timed.iter().filter(|_| window.is_none()) {
            if !rng.random_bool(partitions) {
                continue;
            }
            let fault = partition(rng, settings, hosts.a, hosts.b, |rng| {
                let dial = hosts.timers[rng.random_range(0..hosts.timers.len())];
                let callback = either(rng, "sent", "received");
                Trigger::After(EventTrigger {
                    conn: dial.client.clone(),
                    callback: callback.into(),
                    nth: nth(rng),
                })
            });
            self.faults.push(fault);
        }
    }

    /// Partitions and crashes in later sessions: every partition and crash drawn before is
    /// timed by a client's first connection, by its first three redials as they connect, or
    /// by a listener's first accepted connection, so a session after those (a data connection
    /// after a login, a client's fifth connection, a listener's second accepted connection)
    /// was never cut or crashed in mid-way. With the partitions' probability, each client's
    /// host is cut from the host at the other end of one of its redials `c1~1` to `c1~8`
    /// ([`later_session`], the first the likeliest), after one of that redial's `sent` or
    /// `received` ([`session_nth`]): what a redial dials is not known before the run (a node
    /// a bootstrap server named), so the plan names it [`PEER`], found as the fault fires,
    /// and a cut of another listening host's path holds nothing of the session; then, with the
    /// crashes' probability, each host that may crash crashes after one of the `received` or
    /// `sent` of one of its listener's accepted connections `server.2` to `server.8`. Not with
    /// a fault window, which times every partition and crash.
    fn later_sessions(&mut self) {
        let mut later = self.seed.stream("plan-later-sessions", 0);
        let (topology, settings, window) = (self.topology, self.settings, self.window);
        let partitions = settings.partitions.clamp(0.0, 1.0);
        for dial in topology.dials.iter().filter(|_| window.is_none()) {
            let others: Vec<&String> = servers_besides(topology, &dial.host).collect();
            if others.is_empty() || !later.random_bool(partitions) {
                continue;
            }
            // Until the twentieth session the host cut was drawn here, among every listening
            // host, and seldom was the redial's where several listen: drawn still, so that
            // every fault after it stays as it was.
            let _ = later.random_range(0..others.len());
            let fault = partition(&mut later, settings, &dial.host, PEER, |rng| {
                let k = later_session(rng, 1);
                let callback = either(rng, "sent", "received");
                Trigger::After(EventTrigger {
                    conn: format!("{}~{k}", dial.client),
                    callback: callback.into(),
                    nth: session_nth(rng),
                })
            });
            self.faults.push(fault);
        }
        self.crashes_timed_by_servers(&mut later, |rng| later_session(rng, 2), session_nth);
    }

    /// Slow closes of a server's FIN: the first slow closes delay a client's FIN only, so a
    /// server's `closed` always came promptly after its answer's last bytes, and a client
    /// that took a late `closed` of a connection it was done with for the loss of the one it
    /// uses now passed. Each listener's accepted connections `server.1` to `server.3`, with
    /// the slow closes' probability, send their FIN late, as a client's may.
    fn server_slow_closes(&mut self) {
        let mut closing = self.seed.stream("plan-server-slow-closes", 0);
        let (topology, settings) = (self.topology, self.settings);
        let slow_close = settings.slow_close.clamp(0.0, 1.0);
        for listener in &topology.listeners {
            for k in 1..=LATER_CONNECTIONS {
                if closing.random_bool(slow_close) {
                    let slow = FaultKind::SlowClose {
                        conn: format!("{listener}.{k}"),
                        delay_ms: settings.slow_close_ms.pick(&mut closing),
                    };
                    self.faults.push(Fault::at(0, slow));
                }
            }
        }
    }
}

/// The `connecting` of `client`'s `k`th redial (`c1~1` for `c1`'s first): where a fault
/// meets a redial's connect, as its SYN leaves, whatever it dials.
fn redial_connecting(client: &str, k: u32) -> EventTrigger {
    EventTrigger {
        conn: format!("{client}~{k}"),
        callback: "connecting".into(),
        nth: 1,
    }
}

/// The listening hosts other than `host`: a client on `host` is cut at its redials (from the
/// host each dials) only if there is one, and one of them is drawn (and not kept) for each
/// cut, so that the faults drawn after stay where they were before the cut named `@peer`.
fn servers_besides<'t>(topology: &'t Topology, host: &'t str) -> impl Iterator<Item = &'t String> {
    (topology.servers.iter()).filter(move |server| *server != host)
}

/// The hosts the crashes timed by servers' connections may crash, in the topology's order,
/// each with its listeners: those that listen and run no client.
fn hosts_crashed_by_servers<'t>(
    topology: &'t Topology,
    crossings: &Crossings<'_>,
) -> Vec<(&'t String, Vec<&'t String>)> {
    // A topology lists its ports in its listeners' order.
    let mut listeners_on: BTreeMap<&str, Vec<&String>> = BTreeMap::new();
    for (listener, (host, _)) in topology.listeners.iter().zip(&topology.ports) {
        listeners_on.entry(host).or_default().push(listener);
    }
    (topology.servers.iter())
        .filter(|host| crossings.may_crash(host))
        .filter_map(|host| Some((host, listeners_on.get(host.as_str())?.clone())))
        .collect()
}

/// The client connections whose events time a partition of hosts `a` and `b`: those between
/// them, or, where none is but a notifier `may_dial` across, any of `all`.
fn partition_timers<'t>(
    between: &'t DialsByPair<'t>,
    all: &'t [&'t Dial],
    may_dial: bool,
    a: &'t str,
    b: &'t str,
) -> &'t [&'t Dial] {
    let dials = between.get(&pair(a, b)).map_or(&[][..], Vec::as_slice);
    match dials.is_empty() && may_dial {
        true => all,
        false => dials,
    }
}

/// A partition of hosts `a` and `b` for one of the settings' durations, one-way (either way)
/// with the settings' probability, at the trigger `trigger` draws: the draws in the order
/// plans always had them (the trigger before the duration).
fn partition(
    rng: &mut ChaCha8Rng,
    settings: &FaultSettings,
    a: &str,
    b: &str,
    trigger: impl FnOnce(&mut ChaCha8Rng) -> Trigger,
) -> Fault {
    let one_way = rng.random_bool(settings.one_way.clamp(0.0, 1.0));
    let (a, b) = match one_way && rng.random_bool(0.5) {
        true => (b, a),
        false => (a, b),
    };
    let trigger = trigger(rng);
    Fault {
        trigger,
        kind: FaultKind::Partition {
            a: a.into(),
            b: b.into(),
            duration_ms: settings.partition_ms.pick(rng),
            one_way,
        },
    }
}

/// One of a connection's first `reset_after_received` `received`, as a trigger counts it.
fn received_nth(settings: &FaultSettings, rng: &mut ChaCha8Rng) -> u32 {
    let nth = settings.reset_after_received.pick(rng).max(1);
    u32::try_from(nth).unwrap_or(u32::MAX)
}

/// `heads` or `tails`, as a fair coin from `rng` falls: which of two callbacks (`sent` or
/// `received`) times a fault.
fn either<'a>(rng: &mut ChaCha8Rng, heads: &'a str, tails: &'a str) -> &'a str {
    match rng.random_bool(0.5) {
        true => heads,
        false => tails,
    }
}

/// A reset of `conn` after its `nth` `callback`.
fn reset_after(conn: &str, callback: &str, nth: u32) -> Fault {
    let event = EventTrigger {
        conn: conn.into(),
        callback: callback.into(),
        nth,
    };
    Fault::after(event, FaultKind::Reset { conn: conn.into() })
}

/// The most faults of each kind a plan drawn from `settings` for `topology` may hold, by the
/// name of the setting that draws them: as many as [`FaultPlan::generate`] draws when each
/// probability that is not 0 is 1, which no plan drawn from `settings` passes. What a
/// scenario's `[faults]` table is checked against, so a file is refused only if some plan
/// drawn from it may pass [`MAX_FAULTS`].
///
/// With a fault window: a partition per pair of hosts, a crash per host that may crash
/// (runs no client), a refusal per listener's port. Without one, only what traffic times:
/// a partition per pair of hosts a client connection times ([`partition_timers`]), two more
/// (later and deep in a session), and one per client's redial up to [`LATER_CONNECTIONS`]
/// and one more per client (in a later session) where another host listens; four crashes
/// per host that may crash (on a client's events, then later and deep in its listener's
/// first accepted connection, and in a later one); a refusal per port;
/// none on a client's events without a client connection. Either way, per client two
/// resets of it and of each of its redials up to [`LATER_CONNECTIONS`] (after a `received`,
/// after a `sent`) and a slow close; per listener a reset and a slow close of each of its
/// accepted connections up to [`LATER_CONNECTIONS`] (two resets of the first) and two
/// resets of each connection its first dials up to [`ONWARD_CONNECTIONS`]; a refusal per
/// port for each client's redial up to [`LATER_CONNECTIONS`].
pub(crate) fn most_faults(
    settings: &FaultSettings,
    topology: &Topology,
) -> [(&'static str, usize); 5] {
    let per = |p: f64, n: usize| if p > 0.0 { n } else { 0 };
    let later = LATER_CONNECTIONS as usize;
    let onward = ONWARD_CONNECTIONS as usize;
    let (clients, listeners, ports) = (
        topology.clients.len(),
        topology.listeners.len(),
        topology.ports.len(),
    );
    let crossings = Crossings::of(topology);
    let timed_by_traffic = settings.fault_window_ms.is_none();
    // The first partitions, crashes and refusals have a time: the window's, or an event of
    // a client connection.
    let first_timed = !timed_by_traffic || !topology.dials.is_empty();
    let may_crash = (topology.servers.iter())
        .filter(|host| crossings.may_crash(host))
        .count();
    let (partitions, crashes) = match timed_by_traffic {
        false => {
            let hosts = topology.hosts.len();
            (hosts * hosts.saturating_sub(1) / 2, may_crash)
        }
        true => {
            let redialled_near_a_listener = (topology.dials.iter())
                .filter(|dial| servers_besides(topology, &dial.host).next().is_some())
                .count();
            let crashed_by_servers = hosts_crashed_by_servers(topology, &crossings).len();
            (
                3 * timed_pairs(topology, &crossings) + (later + 1) * redialled_near_a_listener,
                usize::from(first_timed) * may_crash + 3 * crashed_by_servers,
            )
        }
    };
    let resets = 2 * (1 + later) * clients + (1 + later + 2 * onward) * listeners;
    let refusals = (usize::from(first_timed) + later * clients) * ports;
    [
        ("partitions", per(settings.partitions, partitions)),
        ("resets", per(settings.resets, resets)),
        (
            "slow_close",
            per(settings.slow_close, clients + later * listeners),
        ),
        ("crashes", per(settings.crashes, crashes)),
        ("refusals", per(settings.refusals, refusals)),
    ]
}

/// How many pairs of hosts a client connection times a partition of ([`partition_timers`]):
/// one a notifier may dial across, or a client's host and a host it connects to; none
/// without a client connection. Counted, not bounded by every pair of hosts, which refused
/// files with many client hosts that no plan could fill.
fn timed_pairs(topology: &Topology, crossings: &Crossings<'_>) -> usize {
    if topology.dials.is_empty() {
        return 0;
    }
    let connected_across = (dials_by_pair(topology).into_keys())
        .filter(|&(a, b)| a != b && !crossings.may_dial(a, b))
        .count();
    crossings.may_dial_pairs() + connected_across
}

/// The last redial of a client (`c1~3`) and the last accepted connection of a listener
/// (`server.3`) a plan's resets may reach.
const LATER_CONNECTIONS: u32 = 3;

/// The last connection a listener's first accepted connection dials (`p1.1~2`: a proxy's
/// onward connection and its first redial) a plan's resets may reach.
const ONWARD_CONNECTIONS: u32 = 2;

/// The last redial of a client (`c1~8`) and the last accepted connection of a listener
/// (`server.8`) whose events time a partition or a crash in a later session.
const LATER_SESSIONS: u32 = 8;

/// A later session, from the `first`th (1 or 2) to the [`LATER_SESSIONS`]th, the nearer the
/// likelier: a bound drawn from `first`, 2, 4 and 8 (from 2 for `first` 2), then a session up
/// to it (the `first`th about half the time, the fifth to the eighth about one time in
/// eight for `first` 1, one in six for `first` 2).
fn later_session(rng: &mut ChaCha8Rng, first: u32) -> u32 {
    let bound = 1 << rng.random_range(first.ilog2()..=LATER_SESSIONS.ilog2());
    rng.random_range(first..=bound)
}

/// One of a session's first [`DEEP_PARTITION_MAX_EVENTS`] events, each scale as likely: a
/// bound drawn from 1, 2, 4, ... 1024, then an event up to it (the first with a chance of
/// about 0.18, one past the 64th of about 0.28): where in a later session a bug shows is not
/// known, early as for a resend on a redial or deep as for a segment a server starts.
fn session_nth(rng: &mut ChaCha8Rng) -> u32 {
    let bound = 1 << rng.random_range(0..=DEEP_PARTITION_MAX_EVENTS.ilog2());
    rng.random_range(1..=bound)
}

/// One of a connection's first [`SERVER_LOSS_MAX_EVENTS`] events, the first few the likeliest:
/// a bound drawn from 1, 2, 4, ... 64, then an event up to it (the first with a chance of
/// about 0.3, the 64th of about 0.002).
fn early_nth(rng: &mut ChaCha8Rng) -> u32 {
    let most = SERVER_LOSS_MAX_EVENTS.ilog2();
    let bound = 1 << rng.random_range(0..=most);
    rng.random_range(1..=bound)
}

/// A reset of a server's connection, or a crash of its host, fires after one of the
/// connection's first this many `received` (or `sent`), any of them as likely: a server reads a
/// long upload in many deliveries, and only a loss between two of them may show what it does
/// with a partial one.
const SERVER_LOSS_MAX_EVENTS: u32 = 64;

/// A later partition fires after one of a client connection's first this many `sent` or
/// `received`, any of them as likely: a session's middle, past its first events.
const LATE_PARTITION_MAX_EVENTS: u32 = 64;

/// A deep partition fires after one of a client connection's first this many `sent` or
/// `received`, past the later partitions' [`LATE_PARTITION_MAX_EVENTS`] (a deep crash after
/// one of a server connection's, past [`SERVER_LOSS_MAX_EVENTS`], the same number): a
/// session's middle after a lead-in of hundreds of exchanges.
const DEEP_PARTITION_MAX_EVENTS: u32 = 1024;

// `deep_nth` starts past the later partitions' events for the deep crashes too: it must also
// start past the server losses' and later crashes'.
const _: () = assert!(SERVER_LOSS_MAX_EVENTS == LATE_PARTITION_MAX_EVENTS);

/// One of a connection's 65th to [`DEEP_PARTITION_MAX_EVENTS`]th events, the nearer the
/// likelier, for the deep partitions and the deep crashes: a bound drawn from 128, 256, 512
/// and 1024, then an event past the 64th up to it, so each scale of session is reached as
/// often (an event of the 65th to the 128th with a chance of about 0.4, one of the last 512
/// of about 0.13).
fn deep_nth(rng: &mut ChaCha8Rng) -> u32 {
    let least = LATE_PARTITION_MAX_EVENTS.ilog2() + 1;
    let bound = 1 << rng.random_range(least..=DEEP_PARTITION_MAX_EVENTS.ilog2());
    rng.random_range(LATE_PARTITION_MAX_EVENTS + 1..=bound)
}

/// A late reset fires after one of a client's first this many `sent`, any of them as likely:
/// a bug may show only in a narrow window (a loss between a checkpoint and the echo of what
/// was in flight at it).
const LATE_RESET_MAX_SENT: u32 = 64;

/// A plan's faults as they are drawn, up to [`MAX_FAULTS`]: the rest are left out.
struct Faulted(Vec<Fault>);

impl Faulted {
    fn push(&mut self, fault: Fault) {
        if self.0.len() < MAX_FAULTS {
            self.0.push(fault);
        }
    }
}

/// Two hosts as a key that is the same in either order.
fn pair<'a>(a: &'a str, b: &'a str) -> (&'a str, &'a str) {
    if a <= b {
        (a, b)
    } else {
        (b, a)
    }
}

/// The hosts that listen and the hosts that run a client: a notifier may dial across a pair
/// of a listening host and one that runs something (listens or runs a client), whatever the
/// scenario's clients connect to.
struct Crossings<'t> {
    listening: FxHashSet<&'t str>,
    clients_on: FxHashSet<&'t str>,
}

impl<'t> Crossings<'t> {
    fn of(topology: &'t Topology) -> Self {
        Crossings {
            listening: topology.servers.iter().map(String::as_str).collect(),
            clients_on: topology.dials.iter().map(|d| d.host.as_str()).collect(),
        }
    }

    /// Whether a generated plan may crash `host`: it runs no client of the scenario (see
    /// [`Draws::crashes`]).
    fn may_crash(&self, host: &str) -> bool {
        !self.clients_on.contains(host)
    }

    fn runs_something(&self, host: &str) -> bool {
        self.listening.contains(host) || self.clients_on.contains(host)
    }

    /// Whether a notifier on one of `a` and `b` may dial the other: one listens and the
    /// other runs something.
    fn may_dial(&self, a: &str, b: &str) -> bool {
        (self.listening.contains(a) && self.runs_something(b))
            || (self.listening.contains(b) && self.runs_something(a))
    }

    /// How many pairs of hosts [`may_dial`](Self::may_dial) holds for: two listening hosts,
    /// or one listening and one that only runs clients.
    fn may_dial_pairs(&self) -> usize {
        let listening = self.listening.len();
        let clients_only = (self.clients_on.iter())
            .filter(|host| !self.listening.contains(*host))
            .count();
        listening * listening.saturating_sub(1) / 2 + listening * clients_only
    }
}

/// The client connections between each two hosts, in either direction, in the topology's
/// order: [`Topology::dials_between`] for every pair at once. Asking it for each pair would
/// go through every dial for every pair of hosts, billions of steps at the limits (2,048
/// hosts, 10,000 clients), and drawing a plan would hang.
fn dials_by_pair(topology: &Topology) -> DialsByPair<'_> {
    let mut between = DialsByPair::new();
    for dial in &topology.dials {
        for target in &dial.targets {
            let joined = between.entry(pair(&dial.host, target)).or_default();
            // A dial is listed once for a pair, however often its targets name the host.
            if !joined.last().is_some_and(|d| std::ptr::eq(*d, dial)) {
                joined.push(dial);
            }
        }
    }
    between
}

/// When a timed fault fires: at a time of `window`, or, without one, on an event of one of
/// `dials` (the client connections it concerns): their `connecting` or `connected`, or one of
/// their first three `sent` or `received`.
fn when(rng: &mut ChaCha8Rng, window: Option<Span>, dials: &[&Dial]) -> Trigger {
    if let Some(window) = window {
        return Trigger::At(window.pick(rng));
    }
    let Some(dial) = dials.get(rng.random_range(0..dials.len().max(1))) else {
        // Callers draw no traffic-timed fault without a connection to time it by.
        return Trigger::At(0);
    };
    let (callback, nth) = match rng.random_range(0..4u32) {
        0 => ("connecting", 1),
        1 => ("connected", 1),
        2 => ("sent", rng.random_range(1..=3)),
        _ => ("received", rng.random_range(1..=3)),
    };
    Trigger::After(EventTrigger {
        conn: dial.client.clone(),
        callback: callback.into(),
        nth,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fault::Trigger;

    fn topology() -> Topology {
        Topology {
            hosts: vec!["server".into(), "client".into(), "spare".into()],
            servers: vec!["server".into()],
            clients: vec!["c1".into()],
            listeners: vec!["server".into()],
            duration_ms: 10_000,
            dials: vec![Dial {
                client: "c1".into(),
                host: "client".into(),
                targets: vec!["server".into()],
            }],
            ports: vec![("server".into(), 7000)],
        }
    }

    /// Partitions and refusals always, resets, slow closes and crashes half the time.
    fn some_of_each_kind() -> FaultSettings {
        FaultSettings {
            resets: 0.5,
            slow_close: 0.5,
            crashes: 0.5,
            ..every_fault_kind()
        }
    }

    /// Every kind of fault on, always.
    fn every_fault_kind() -> FaultSettings {
        FaultSettings {
            partitions: 1.0,
            resets: 1.0,
            slow_close: 1.0,
            crashes: 1.0,
            refusals: 1.0,
            ..FaultSettings::default()
        }
    }

    #[test]
    fn the_dials_of_each_pair_of_hosts_are_those_dials_between_finds_in_its_order() {
        let dial = Dial::of;
        let mut topology = topology();
        topology.hosts.push("edge".into());
        topology.dials = vec![
            dial("c1", "client", &["server"]),
            dial("c2", "server", &["client", "spare", "client"]),
            dial("c3", "spare", &["spare", "edge"]),
            dial("c4", "client", &["server", "edge"]),
        ];
        let between = dials_by_pair(&topology);
        for a in &topology.hosts {
            for b in topology.hosts.iter().filter(|b| *b != a) {
                let listed = between.get(&pair(a, b)).map_or(&[][..], Vec::as_slice);
                assert_eq!(listed, topology.dials_between(a, b).as_slice(), "{a} {b}");
            }
        }
        let clients: Vec<&str> = between[&pair("server", "client")]
            .iter()
            .map(|d| d.client.as_str())
            .collect();
        assert_eq!(clients, ["c1", "c2", "c4"]);
    }

    #[test]
    fn a_plan_for_the_most_hosts_and_clients_is_drawn_without_a_search_per_pair() {
        // 2,048 hosts and 10,000 clients (the limits): 2 million pairs of hosts, each of
        // which went through every dial (20 billion steps) before the map of dials by pair.
        // No time is asserted; a return of that search shows as this test taking hours.
        let mut topology = topology();
        topology.hosts = (0..2048).map(|i| format!("h{i}")).collect();
        topology.dials = (0..10_000)
            .map(|i| Dial {
                client: format!("c{i}"),
                host: format!("h{}", i % 2048),
                targets: vec![format!("h{}", (i + 1) % 2048)],
            })
            .collect();
        let settings = FaultSettings {
            partitions: 1.0,
            ..FaultSettings::default()
        };
        let plan = FaultPlan::generate(Seed(1), &settings, &topology);
        // A partition per pair with traffic, as many later in a session, then the redials'
        // (three of each of the 10,000 clients) up to the limit.
        assert_eq!(plan.faults.len(), MAX_FAULTS);
        let redial = |f: &Fault| matches!(&f.trigger, Trigger::After(e) if e.conn.contains('~'));
        assert_eq!(plan.faults.iter().filter(|f| !redial(f)).count(), 2 * 2048);
    }

    #[test]
    fn timed_faults_fall_inside_the_fault_window() {
        let settings = FaultSettings {
            partitions: 1.0,
            crashes: 1.0,
            fault_window_ms: Some(Span::new(5, 20)),
            ..FaultSettings::default()
        };
        for seed in 0..50 {
            let plan = FaultPlan::generate(Seed(seed), &settings, &topology());
            // A window times a partition for every pair of hosts, traffic or not.
            assert_eq!(plan.faults.len(), 4, "{plan:?}");
            for fault in &plan.faults {
                let Trigger::At(at) = fault.trigger else {
                    panic!("seed {seed}: {fault} is not timed");
                };
                assert!((5..=20).contains(&at), "seed {seed}: {fault}");
            }
        }
    }

    #[test]
    fn every_drawn_plan_of_valid_settings_validates() {
        // A drawn plan the runner refused would fail a sweep's seed with a run error.
        let settings = FaultSettings {
            partial_writes: 1.0,
            read_chunks: 1.0,
            send_buffer: 1.0,
            latency_ms: Some(Span::new(1, 9)),
            ..every_fault_kind()
        };
        assert_eq!(settings.validate(), Ok(()));
        for window in [None, Some(Span::new(0, 100))] {
            let settings = FaultSettings {
                fault_window_ms: window,
                ..settings.clone()
            };
            for seed in 0..50 {
                let plan = FaultPlan::generate(Seed(seed), &settings, &topology());
                assert_eq!(plan.validate(&topology()), Ok(()), "seed {seed}: {plan:?}");
            }
        }
    }

    /// A client of `front` whose notifier routes through `relay` (`proxy_via`) to a backend
    /// only the relay dials: no client connects across (client, relay), (relay, backend) or
    /// (client, backend), yet each may carry a notifier's connection, so each gets
    /// partitions and the backend crashes, timed by the client's traffic; the idle spare host
    /// still gets none.
    #[test]
    fn without_a_window_routes_notifiers_may_dial_are_cut_on_any_clients_traffic() {
        let topology = Topology {
            hosts: ["client", "front", "relay", "backend", "spare"]
                .map(String::from)
                .into(),
            servers: ["front", "relay", "backend"].map(String::from).into(),
            clients: vec!["c1".into()],
            listeners: ["front", "relay", "backend"].map(String::from).into(),
            duration_ms: 10_000,
            dials: vec![Dial {
                client: "c1".into(),
                host: "client".into(),
                targets: vec!["front".into()],
            }],
            ports: ["front", "relay", "backend"]
                .map(|h| (h.to_string(), 7000))
                .into(),
        };
        let settings = FaultSettings {
            partitions: 1.0,
            crashes: 1.0,
            ..FaultSettings::default()
        };
        let plan = FaultPlan::generate(Seed(1), &settings, &topology);
        let mut cut = Vec::new();
        let mut crashed = Vec::new();
        for fault in &plan.faults[..later_partitions_from(&plan)] {
            let Trigger::After(event) = &fault.trigger else {
                panic!("{fault} is not timed by the traffic");
            };
            if late_crash(fault) {
                continue;
            }
            assert_eq!(event.conn, "c1", "{fault}");
            match &fault.kind {
                FaultKind::Partition { a, b, .. } => {
                    let mut pair = [a.as_str(), b.as_str()];
                    pair.sort();
                    cut.push(pair);
                }
                FaultKind::Crash { host, .. } => crashed.push(host.as_str()),
                other => panic!("{other:?}"),
            }
        }
        cut.sort();
        assert_eq!(
            cut,
            [
                ["backend", "client"],
                ["backend", "front"],
                ["backend", "relay"],
                ["client", "front"],
                ["client", "relay"],
                ["front", "relay"],
            ],
            "{}",
            plan.describe()
        );
        assert_eq!(crashed, ["front", "relay", "backend"]);
    }

    #[test]
    fn without_a_window_faults_are_timed_by_the_traffic_of_the_hosts_they_cut() {
        let settings = FaultSettings {
            partitions: 1.0,
            crashes: 1.0,
            ..FaultSettings::default()
        };
        let mut callbacks = std::collections::BTreeSet::new();
        for seed in 0..50 {
            let plan = FaultPlan::generate(Seed(seed), &settings, &topology());
            // The client talks to the server only: one partition (client, server), no
            // partition of the idle spare host, and a crash of the server (and another,
            // timed by the server's traffic: `late_crash`).
            let drawn_first = &plan.faults[..later_partitions_from(&plan)];
            let early: Vec<&Fault> = drawn_first.iter().filter(|f| !late_crash(f)).collect();
            assert_eq!(early.len(), 2, "{}", plan.describe());
            for fault in early {
                let Trigger::After(event) = &fault.trigger else {
                    panic!("seed {seed}: {fault} is not timed by the traffic");
                };
                assert_eq!(event.conn, "c1", "{fault}");
                assert!((1..=3).contains(&event.nth), "{fault}");
                callbacks.insert(event.callback.clone());
                if let FaultKind::Partition { a, b, .. } = &fault.kind {
                    let mut pair = [a.as_str(), b.as_str()];
                    pair.sort();
                    assert_eq!(pair, ["client", "server"], "{fault}");
                }
            }
        }
        let seen: Vec<&str> = callbacks.iter().map(String::as_str).collect();
        assert_eq!(seen, ["connected", "connecting", "received", "sent"]);
    }

    /// Hosts that run the scenario's clients and also listen, on a port no client dials (a
    /// metrics port beside c1) or on one a client dials (c2 beside the server c1 dials):
    /// crashing either would end its client for good (clients never run again after a
    /// crash), so neither crashes, with a window or without; a backend only a notifier
    /// dials does.
    #[test]
    fn a_host_running_clients_never_crashes_in_a_generated_plan() {
        let topology = Topology {
            hosts: ["client", "server", "backend"].map(String::from).into(),
            servers: ["client", "server", "backend"].map(String::from).into(),
            clients: vec!["c1".into(), "c2".into()],
            listeners: ["metrics", "server", "backend"].map(String::from).into(),
            duration_ms: 10_000,
            dials: vec![
                Dial {
                    client: "c1".into(),
                    host: "client".into(),
                    targets: vec!["server".into()],
                },
                Dial {
                    client: "c2".into(),
                    host: "server".into(),
                    targets: vec!["backend".into()],
                },
            ],
            ports: ["client", "server", "backend"]
                .map(|h| (h.to_string(), 7000))
                .into(),
        };
        for window in [None, Some(Span::new(0, 100))] {
            let settings = FaultSettings {
                crashes: 1.0,
                fault_window_ms: window,
                ..FaultSettings::default()
            };
            let plan = FaultPlan::generate(Seed(1), &settings, &topology);
            let crashed: Vec<&str> = (plan.faults.iter())
                .filter_map(|fault| match &fault.kind {
                    FaultKind::Crash { host, .. } => Some(host.as_str()),
                    _ => None,
                })
                .collect();
            // Without a window, again after one of its listener's first events, deep in that
            // connection, and in a later one.
            let expected: &[&str] = match window {
                None => &["backend", "backend", "backend", "backend"],
                Some(_) => &["backend"],
            };
            assert_eq!(crashed, expected, "{window:?}");
        }
    }

    /// A reset as (connection, callback, nth): the connection it resets, and the event of
    /// that connection it comes after.
    type DrawnReset = (String, String, u32);

    /// The resets a plan holds of a listener's accepted connections (`server.1`), as
    /// (connection, callback, nth).
    fn server_resets(plan: &FaultPlan) -> Vec<DrawnReset> {
        resets_where(
            plan,
            |fault| matches!(&fault.kind, FaultKind::Reset { conn } if conn.contains('.')),
        )
    }

    /// The resets of `plan` for which `which` holds, each timed by an event of the connection
    /// it resets, as (connection, callback, nth).
    fn resets_where(plan: &FaultPlan, which: impl Fn(&Fault) -> bool) -> Vec<DrawnReset> {
        (plan.faults.iter())
            .filter(|fault| which(fault))
            .filter_map(|fault| match (&fault.trigger, &fault.kind) {
                (Trigger::After(event), FaultKind::Reset { conn }) => {
                    assert_eq!(&event.conn, conn, "{fault}");
                    Some((conn.clone(), event.callback.clone(), event.nth))
                }
                _ => None,
            })
            .collect()
    }

    #[test]
    fn a_listeners_first_connection_is_reset_after_one_of_its_first_64_received_or_sent() {
        let settings = FaultSettings {
            resets: 1.0,
            ..FaultSettings::default()
        };
        let mut nths = std::collections::BTreeSet::new();
        for seed in 0..200 {
            let plan = FaultPlan::generate(Seed(seed), &settings, &topology());
            let mut resets = server_resets(&plan);
            // Its later connections' resets come from a draw of their own.
            resets.retain(|(conn, _, _)| conn == "server.1");
            let callbacks: Vec<&str> = resets.iter().map(|(_, cb, _)| cb.as_str()).collect();
            assert_eq!(callbacks, ["received", "sent"], "{}", plan.describe());
            for (conn, _, nth) in resets {
                assert_eq!(conn, "server.1");
                assert!((1..=SERVER_LOSS_MAX_EVENTS).contains(&nth));
                nths.insert(nth);
            }
        }
        assert!(nths.contains(&1) && nths.contains(&SERVER_LOSS_MAX_EVENTS));
        let none = FaultPlan::generate(Seed(1), &FaultSettings::default(), &topology());
        assert_eq!(server_resets(&none), []);
    }

    /// Whether `fault` is a crash timed by a listener's first accepted connection
    /// (`server.1`): drawn apart from the crashes timed by a client's first events.
    fn late_crash(fault: &Fault) -> bool {
        matches!(
            (&fault.trigger, &fault.kind),
            (Trigger::After(event), FaultKind::Crash { .. }) if event.conn.contains('.')
        ) && !later_session_fault(fault)
    }

    #[test]
    fn a_server_host_also_crashes_after_one_of_its_listeners_first_64_received_or_sent() {
        let settings = FaultSettings {
            crashes: 1.0,
            crash_down_ms: Span::new(10, 30),
            ..FaultSettings::default()
        };
        let mut seen = std::collections::BTreeSet::new();
        for seed in 0..200 {
            let plan = FaultPlan::generate(Seed(seed), &settings, &topology());
            let late: Vec<&Fault> = (plan.faults.iter())
                .filter(|f| late_crash(f) && !deep_crash(f))
                .collect();
            assert_eq!(late.len(), 1, "{}", plan.describe());
            let (
                Trigger::After(event),
                FaultKind::Crash {
                    host,
                    restart_after_ms,
                },
            ) = (&late[0].trigger, &late[0].kind)
            else {
                unreachable!()
            };
            assert_eq!((event.conn.as_str(), host.as_str()), ("server.1", "server"));
            assert!((1..=SERVER_LOSS_MAX_EVENTS).contains(&event.nth));
            assert!(restart_after_ms.is_some_and(|ms| (10..=30).contains(&ms)));
            seen.insert((event.callback.clone(), event.nth.min(2)));
        }
        assert_eq!(
            seen.len(),
            4,
            "received and sent, first and later: {seen:?}"
        );
        // Never with a window, which times every crash, nor without crashes.
        let windowed = FaultSettings {
            fault_window_ms: Some(Span::new(0, 100)),
            ..settings
        };
        for settings in [windowed, FaultSettings::default()] {
            let plan = FaultPlan::generate(Seed(1), &settings, &topology());
            assert!(!plan.faults.iter().any(late_crash), "{}", plan.describe());
        }
    }

    /// The faults of a server's connection (resets and slow closes of it, crashes of its host
    /// timed by it) come from streams of their own: every other fault of a plan is the one it
    /// drew without them (here: with no listener to time them by).
    #[test]
    fn faults_timed_by_servers_leave_every_other_fault_of_a_plan_as_it_was() {
        let settings = some_of_each_kind();
        let (mut resets, mut crashes) = (0, 0);
        for seed in 0..100 {
            let plan = FaultPlan::generate(Seed(seed), &settings, &topology());
            let without = FaultPlan::generate(
                Seed(seed),
                &settings,
                &Topology {
                    listeners: Vec::new(),
                    ..topology()
                },
            );
            let server_reset =
                |f: &Fault| matches!(&f.kind, FaultKind::Reset { conn } if conn.contains('.'));
            let later_crash =
                |f: &Fault| later_session_fault(f) && matches!(f.kind, FaultKind::Crash { .. });
            let kept: Vec<&Fault> = (plan.faults.iter())
                .filter(|f| !late_crash(f) && !later_crash(f))
                .filter(|f| !server_reset(f) && !server_slow_close(f))
                .collect();
            assert_eq!(
                kept,
                without.faults.iter().collect::<Vec<_>>(),
                "seed {seed}"
            );
            let first = |(conn, _, _): &DrawnReset| conn == "server.1";
            resets += server_resets(&plan).iter().filter(|r| first(r)).count();
            crashes += (plan.faults.iter())
                .filter(|f| late_crash(f) && !deep_crash(f))
                .count();
        }
        assert!(
            (50..=150).contains(&resets),
            "{resets} server resets in 100 plans"
        );
        assert!(
            (25..=75).contains(&crashes),
            "{crashes} late crashes in 100 plans"
        );
    }

    /// Whether `fault` is a reset drawn for a later connection: a client's redial after a
    /// `sent` (`c1~1` to `c1~3`) or after a `received` (`c1~2`, `c1~3`), a listener's second
    /// or third accepted connection.
    fn later_connection_loss(fault: &Fault) -> bool {
        let (Trigger::After(event), FaultKind::Reset { conn }) = (&fault.trigger, &fault.kind)
        else {
            return false;
        };
        if onward_connection_loss(fault) {
            return false;
        }
        let redial = conn.rsplit_once('~').map(|(_, k)| k);
        let accepted = conn.rsplit_once('.').map(|(_, k)| k);
        matches!(
            (redial, accepted, event.callback.as_str()),
            (Some("1"), _, "sent") | (Some("2" | "3"), _, _) | (_, Some("2" | "3"), _)
        )
    }

    /// The plans of seeds 0..200 drawn with every reset on (after one of the first 1..4
    /// `received` where a reset comes after a `received`), each with its resets `which`
    /// picks ([`resets_where`]).
    fn resets_of_every_plan(
        which: impl Fn(&Fault) -> bool + Copy,
    ) -> Vec<(FaultPlan, Vec<DrawnReset>)> {
        let settings = FaultSettings {
            resets: 1.0,
            reset_after_received: Span::new(1, 4),
            ..FaultSettings::default()
        };
        (0..200)
            .map(|seed| {
                let plan = FaultPlan::generate(Seed(seed), &settings, &topology());
                let resets = resets_where(&plan, which);
                (plan, resets)
            })
            .collect()
    }

    #[test]
    fn later_connections_are_reset_early_in_their_life() {
        let mut first_sent = 0;
        let mut nths = std::collections::BTreeSet::new();
        for (plan, later) in resets_of_every_plan(later_connection_loss) {
            let named: Vec<(&str, &str)> = (later.iter())
                .map(|(conn, cb, _)| {
                    (
                        conn.as_str(),
                        if conn.contains('~') { cb.as_str() } else { "" },
                    )
                })
                .collect();
            assert_eq!(
                named,
                [
                    ("c1~1", "sent"),
                    ("c1~2", "received"),
                    ("c1~2", "sent"),
                    ("c1~3", "received"),
                    ("c1~3", "sent"),
                    ("server.2", ""),
                    ("server.3", ""),
                ],
                "{}",
                plan.describe()
            );
            for (conn, callback, nth) in later {
                match callback.as_str() {
                    "received" if conn.contains('~') => assert!((1..=4).contains(&nth)),
                    _ => assert!((1..=SERVER_LOSS_MAX_EVENTS).contains(&nth)),
                }
                if conn.contains('~') && callback == "sent" && nth == 1 {
                    first_sent += 1;
                }
                nths.insert(nth);
            }
        }
        // A redial's first `sent` (its resend) about three times in ten; the 64th too.
        assert!((120..=240).contains(&first_sent), "{first_sent} of 600");
        assert!(nths.contains(&SERVER_LOSS_MAX_EVENTS));
    }

    /// The resets of later connections are drawn from a stream of their own after every
    /// other fault (but the resets of what listeners' connections dial, drawn after them):
    /// appended to the faults drawn before them.
    #[test]
    fn later_connection_losses_come_after_every_other_fault() {
        let settings = some_of_each_kind();
        let mut drawn = 0;
        for seed in 0..100 {
            let plan = FaultPlan::generate(Seed(seed), &settings, &topology());
            let onward = (plan.faults.iter())
                .position(onward_connection_loss)
                .unwrap_or(redial_refusals_from(&plan));
            let first = (plan.faults.iter())
                .position(later_connection_loss)
                .unwrap_or(onward);
            assert!(
                plan.faults[first..onward].iter().all(later_connection_loss),
                "seed {seed}: {}",
                plan.describe()
            );
            drawn += onward - first;
        }
        // Seven draws a plan, each with probability 0.5.
        assert!((250..=450).contains(&drawn), "{drawn} in 100 plans");
    }

    /// Whether `fault` is a reset drawn for a connection a listener's first accepted
    /// connection dials (`server.1~1`, `server.1~2`).
    fn onward_connection_loss(fault: &Fault) -> bool {
        matches!(&fault.kind, FaultKind::Reset { conn } if conn.contains(".1~"))
    }

    #[test]
    fn the_connections_a_listeners_first_connection_dials_are_reset_after_received_or_sent() {
        let mut first_sent = 0;
        let mut nths = std::collections::BTreeSet::new();
        for (plan, onward) in resets_of_every_plan(onward_connection_loss) {
            let named: Vec<(&str, &str)> = (onward.iter())
                .map(|(conn, cb, _)| (conn.as_str(), cb.as_str()))
                .collect();
            assert_eq!(
                named,
                [
                    ("server.1~1", "received"),
                    ("server.1~1", "sent"),
                    ("server.1~2", "received"),
                    ("server.1~2", "sent"),
                ],
                "{}",
                plan.describe()
            );
            for (_, callback, nth) in onward {
                match callback.as_str() {
                    "received" => assert!((1..=4).contains(&nth)),
                    _ => assert!((1..=SERVER_LOSS_MAX_EVENTS).contains(&nth)),
                }
                first_sent += usize::from(callback == "sent" && nth == 1);
                nths.insert(nth);
            }
        }
        // Their first `sent` (the first record forwarded) about three times in ten; one in
        // fourteen past the 32nd.
        assert!((80..=160).contains(&first_sent), "{first_sent} of 400");
        assert!(nths.iter().any(|nth| *nth > SERVER_LOSS_MAX_EVENTS / 2));
    }

    /// The resets of the connections listeners' connections dial are drawn after every other
    /// fault (but the refusals of redials, drawn after them), from a stream of their own:
    /// appended to the faults drawn before them.
    #[test]
    fn onward_connection_losses_come_after_every_other_fault() {
        let settings = some_of_each_kind();
        let mut drawn = 0;
        for seed in 0..100 {
            let plan = FaultPlan::generate(Seed(seed), &settings, &topology());
            let end = redial_refusals_from(&plan);
            let first = (plan.faults.iter())
                .position(onward_connection_loss)
                .unwrap_or(end);
            assert!(
                plan.faults[first..end].iter().all(onward_connection_loss),
                "seed {seed}: {}",
                plan.describe()
            );
            drawn += end - first;
        }
        // Four draws a plan, each with probability 0.5.
        assert!((130..=270).contains(&drawn), "{drawn} in 100 plans");
    }

    /// How many faults of `plan` each setting drew, named as [`most_faults`] names them.
    fn faults_by_setting(plan: &FaultPlan) -> BTreeMap<&'static str, usize> {
        let mut drawn = BTreeMap::new();
        for fault in &plan.faults {
            let setting = match fault.kind {
                FaultKind::Partition { .. } => "partitions",
                FaultKind::Reset { .. } => "resets",
                FaultKind::SlowClose { .. } => "slow_close",
                FaultKind::Crash { .. } => "crashes",
                FaultKind::Refuse { .. } => "refusals",
                _ => panic!("a generated plan drew {fault}"),
            };
            *drawn.entry(setting).or_default() += 1;
        }
        drawn
    }

    /// [`most_faults`] counts every fault a plan may draw: with every probability 1 and a
    /// topology where every pair of hosts carries a client's connection, a plan draws them
    /// all, refusals too.
    #[test]
    fn most_faults_counts_each_kind_a_plan_may_draw() {
        let settings = every_fault_kind();
        let mut topology = topology();
        topology.hosts.retain(|h| h != "spare");
        let plan = FaultPlan::generate(Seed(1), &settings, &topology);
        let drawn = faults_by_setting(&plan);
        let most = most_faults(&settings, &topology);
        for (name, n) in most {
            assert_eq!(
                drawn.get(name).copied().unwrap_or(0),
                n,
                "{name}: {}",
                plan.describe()
            );
        }
        assert_eq!(
            most.iter().map(|(_, n)| n).sum::<usize>(),
            plan.faults.len()
        );
        let quiet = most_faults(&FaultSettings::default(), &topology);
        assert!(quiet.iter().all(|(_, n)| *n == 0), "{quiet:?}");
    }

    /// A topology of `rng`'s drawing, as a scenario gives one: 1 to 7 hosts, listeners on
    /// some (each on a port of its own), clients on any host dialling a listening host, a
    /// spare one or a name with two addresses, and hosts nothing runs on.
    fn random_topology(rng: &mut ChaCha8Rng) -> Topology {
        let hosts: Vec<String> = (0..rng.random_range(1..=7))
            .map(|i| format!("h{i}"))
            .collect();
        let pick = |rng: &mut ChaCha8Rng| hosts[rng.random_range(0..hosts.len())].clone();
        let mut topology = Topology {
            hosts: hosts.clone(),
            servers: Vec::new(),
            clients: Vec::new(),
            listeners: Vec::new(),
            duration_ms: 10_000,
            dials: Vec::new(),
            ports: Vec::new(),
        };
        for i in 0..rng.random_range(0..=3) {
            let host = pick(rng);
            if !topology.servers.contains(&host) {
                topology.servers.push(host.clone());
            }
            topology.listeners.push(format!("l{i}"));
            topology.ports.push((host, 7000 + i));
        }
        for i in 0..rng.random_range(0..=4) {
            let targets = match rng.random_range(0..3) {
                0 if !topology.servers.is_empty() => {
                    let at = rng.random_range(0..topology.servers.len());
                    vec![topology.servers[at].clone()]
                }
                1 => vec![pick(rng), pick(rng)],
                _ => vec![pick(rng)],
            };
            topology.clients.push(format!("c{i}"));
            topology.dials.push(Dial {
                client: format!("c{i}"),
                host: pick(rng),
                targets,
            });
        }
        topology
    }

    /// [`most_faults`] bounds every plan and is reached: over random topologies and settings
    /// (each kind off, drawn at times, or always; with a fault window or without), no plan
    /// draws more of a kind than it counts, and where every kind that is on is always drawn,
    /// a plan draws exactly as many.
    #[test]
    fn most_faults_bounds_every_plan_of_random_topologies_and_settings_and_is_reached() {
        let mut rng = Seed(93).stream("test-topologies", 0);
        let mut reached = 0;
        for round in 0..300 {
            let topology = random_topology(&mut rng);
            let mut probability = || [0.0, 0.3, 1.0][rng.random_range(0..3)];
            let settings = FaultSettings {
                partitions: probability(),
                resets: probability(),
                slow_close: probability(),
                crashes: probability(),
                refusals: probability(),
                one_way: probability(),
                fault_window_ms: [None, Some(Span::new(0, 50))][rng.random_range(0..2)],
                ..FaultSettings::default()
            };
            let always = [
                settings.partitions,
                settings.resets,
                settings.slow_close,
                settings.crashes,
                settings.refusals,
            ]
            .iter()
            .all(|p| *p != 0.3);
            let most = most_faults(&settings, &topology);
            for seed in 0..20 {
                let plan = FaultPlan::generate(Seed(seed), &settings, &topology);
                let drawn = faults_by_setting(&plan);
                for (name, n) in most {
                    let drew = drawn.get(name).copied().unwrap_or(0);
                    let context = || {
                        format!(
                            "round {round}, seed {seed}: {topology:?}\n{settings:?}\n{}",
                            plan.describe()
                        )
                    };
                    assert!(
                        drew <= n,
                        "{name}: {drew} drawn, {n} counted, {}",
                        context()
                    );
                    if always {
                        assert_eq!(drew, n, "{name}: {}", context());
                    }
                }
            }
            reached += usize::from(always && most.iter().any(|(_, n)| *n > 0));
        }
        // Enough of the rounds check the count is reached, not only bounded.
        assert!(reached >= 30, "{reached} rounds with every kind on always");
    }

    #[test]
    fn a_plan_holds_at_most_max_faults() {
        let mut topology = topology();
        topology.clients = (0..MAX_FAULTS + 10).map(|i| format!("c{i}")).collect();
        let settings = FaultSettings {
            slow_close: 1.0,
            ..FaultSettings::default()
        };
        let plan = FaultPlan::generate(Seed(1), &settings, &topology);
        assert_eq!(plan.faults.len(), MAX_FAULTS);
    }

    #[test]
    fn a_swarm_plan_holds_what_the_swarm_drew_and_settings_plans_do_not() {
        let topology = topology();
        let swarm = Faults::default().plan_for(Seed(3), &topology, false);
        let drawn = Swarm::default().draw(Seed(3), &topology, false);
        assert_eq!(swarm.swarm.as_ref(), Some(&drawn));
        assert_eq!(swarm, {
            let mut plan = FaultPlan::generate(Seed(3), &drawn, &topology);
            plan.swarm = Some(drawn.clone());
            plan
        });
        let written = Faults::from(FaultSettings::healing()).plan_for(Seed(3), &topology, false);
        assert_eq!(written.swarm, None);
        assert_eq!(
            Faults::from(FaultSettings::quiet()).plan_for(Seed(3), &topology, true),
            FaultPlan::quiet(Seed(3))
        );
    }

    /// A port refuses on the traffic of any client, and again as each of its redials is
    /// `connecting`.
    #[test]
    fn refusals_refuse_a_listeners_port_on_the_traffic_of_any_client() {
        let settings = FaultSettings {
            refusals: 1.0,
            refusal_ms: Span::new(20, 40),
            ..FaultSettings::default()
        };
        for seed in 0..50 {
            let plan = FaultPlan::generate(Seed(seed), &settings, &topology());
            // The port's refusal, then one after each redial's `connecting`.
            assert_eq!(plan.faults.len(), 4, "{}", plan.describe());
            assert!(!redial_refusal(&plan.faults[0]), "{}", plan.describe());
            for (fault, redial) in plan.faults.iter().zip(["", "c1~1", "c1~2", "c1~3"]) {
                let FaultKind::Refuse {
                    host,
                    port,
                    duration_ms,
                } = &fault.kind
                else {
                    panic!("seed {seed}: {fault} is not a refusal");
                };
                assert_eq!((host.as_str(), *port), ("server", 7000));
                assert!((20..=40).contains(duration_ms), "{fault}");
                let Trigger::After(event) = &fault.trigger else {
                    panic!("seed {seed}: {fault} is not timed by the traffic");
                };
                if !redial.is_empty() {
                    assert_eq!(
                        (event.conn.as_str(), event.callback.as_str()),
                        (redial, "connecting")
                    );
                    assert_eq!(event.nth, 1, "{fault}");
                }
            }
        }
    }

    /// Where the refusals timed by redials start in `plan`: where the later partitions start
    /// without them.
    fn redial_refusals_from(plan: &FaultPlan) -> usize {
        (plan.faults.iter())
            .position(redial_refusal)
            .unwrap_or(later_partitions_from(plan))
    }

    /// Where the later partitions start in `plan`, drawn where a fault of another kind
    /// comes after the first partitions (a refusal of a redial, a crash timed by a server):
    /// where the slow closes of servers' connections start without them.
    fn later_partitions_from(plan: &FaultPlan) -> usize {
        let end = server_slow_closes_from(plan);
        (plan.faults[..end].iter())
            .rposition(|f| !matches!(f.kind, FaultKind::Partition { .. }))
            .map_or(end, |last| last + 1)
    }

    /// Whether `fault` is a refusal timed by a client's redial's `connecting`.
    fn redial_refusal(fault: &Fault) -> bool {
        matches!(
            (&fault.trigger, &fault.kind),
            (Trigger::After(event), FaultKind::Refuse { .. })
                if event.conn.contains('~') && event.callback == "connecting"
        )
    }

    /// The refusals of redials are drawn last, from a stream of their own: appended to the
    /// faults drawn before them, which stay as they were without them.
    #[test]
    fn redial_refusals_come_after_every_other_fault() {
        let settings = some_of_each_kind();
        let mut drawn = 0;
        for seed in 0..100 {
            let plan = FaultPlan::generate(Seed(seed), &settings, &topology());
            let first = redial_refusals_from(&plan);
            let end = later_partitions_from(&plan);
            assert!(
                plan.faults[first..end].iter().all(redial_refusal),
                "seed {seed}: {}",
                plan.describe()
            );
            drawn += end - first;
        }
        // Three draws a plan, each with the refusals' probability, 1.
        assert_eq!(drawn, 300);
    }

    /// Every pair of hosts cut on a client's first events is cut again after one of its
    /// first 64 `sent` or `received`, and the client's host from the host it dials as each of
    /// its redials connects.
    #[test]
    fn later_partitions_cut_a_session_late_and_a_redial_as_it_connects() {
        let settings = FaultSettings {
            partitions: 1.0,
            partition_ms: Span::new(20, 40),
            ..FaultSettings::default()
        };
        let (mut callbacks, mut nths) = (BTreeMap::new(), std::collections::BTreeSet::new());
        for seed in 0..200 {
            let plan = FaultPlan::generate(Seed(seed), &settings, &topology());
            // The first draw's partition, the later one, one for each redial, then the deep
            // one and the one in a later session.
            assert_eq!(plan.faults.len(), 7, "{}", plan.describe());
            for (fault, conn) in plan.faults[1..].iter().zip(["c1", "c1~1", "c1~2", "c1~3"]) {
                let (
                    Trigger::After(event),
                    FaultKind::Partition {
                        a, b, duration_ms, ..
                    },
                ) = (&fault.trigger, &fault.kind)
                else {
                    panic!("seed {seed}: {fault} is not a partition timed by the traffic");
                };
                // A redial's cut is of the host it dials, found as it connects.
                let cut = if conn == "c1" { "server" } else { PEER };
                assert_eq!(pair(a, b), pair("client", cut), "{fault}");
                assert!((20..=40).contains(duration_ms), "{fault}");
                assert_eq!(event.conn, conn, "{fault}");
                match conn {
                    "c1" => {
                        assert!((1..=LATE_PARTITION_MAX_EVENTS).contains(&event.nth));
                        *callbacks.entry(event.callback.clone()).or_insert(0) += 1;
                        nths.insert(event.nth);
                    }
                    _ => assert_eq!((event.callback.as_str(), event.nth), ("connecting", 1)),
                }
            }
        }
        let sent = callbacks.get("sent").copied().unwrap_or(0);
        assert_eq!(callbacks.values().sum::<u32>(), 200, "{callbacks:?}");
        assert!((70..=130).contains(&sent), "{callbacks:?}");
        assert!(nths.iter().any(|nth| *nth > LATE_PARTITION_MAX_EVENTS / 2));
    }

    /// The later partitions are drawn from a stream of their own after every other fault
    /// (but the slow closes of servers' connections and the deep partitions, drawn after
    /// them), the refusals of redials last among those.
    #[test]
    fn later_partitions_come_after_every_other_fault() {
        let settings = some_of_each_kind();
        for seed in 0..100 {
            let plan = FaultPlan::generate(Seed(seed), &settings, &topology());
            let first = later_partitions_from(&plan);
            // One for the pair of hosts the client connects across, one for each redial.
            let end = server_slow_closes_from(&plan);
            assert_eq!(end - first, 4, "{}", plan.describe());
            assert!(plan.faults[..first].iter().any(redial_refusal));
        }
    }

    /// Whether `fault` is a slow close of a listener's accepted connection (`server.1`).
    fn server_slow_close(fault: &Fault) -> bool {
        matches!(&fault.kind, FaultKind::SlowClose { conn, .. } if conn.contains('.'))
    }

    /// Where the slow closes of servers' connections start in `plan`: where the deep
    /// partitions start without them.
    fn server_slow_closes_from(plan: &FaultPlan) -> usize {
        (plan.faults.iter())
            .position(server_slow_close)
            .unwrap_or(deep_partitions_from(plan))
    }

    /// Whether `fault` is a partition deep in a session: after a client connection's 65th
    /// or later `sent` or `received`.
    fn deep_partition(fault: &Fault) -> bool {
        matches!(
            (&fault.trigger, &fault.kind),
            (Trigger::After(event), FaultKind::Partition { .. })
                if event.nth > LATE_PARTITION_MAX_EVENTS && !event.conn.contains('~')
        )
    }

    /// Where the deep partitions start in `plan`: where the deep crashes start without
    /// them.
    fn deep_partitions_from(plan: &FaultPlan) -> usize {
        (plan.faults.iter())
            .position(deep_partition)
            .unwrap_or(deep_crashes_from(plan))
    }

    /// Whether `fault` is a crash deep in a server's session: after its listener's first
    /// connection's 65th or later `received` or `sent`.
    fn deep_crash(fault: &Fault) -> bool {
        late_crash(fault)
            && matches!(&fault.trigger, Trigger::After(e) if e.nth > SERVER_LOSS_MAX_EVENTS)
    }

    /// Where the deep crashes start in `plan`: where the faults of later sessions start
    /// without them.
    fn deep_crashes_from(plan: &FaultPlan) -> usize {
        (plan.faults.iter())
            .position(deep_crash)
            .unwrap_or(later_sessions_from(plan))
    }

    /// Whether `fault` is timed by a later session: a partition after a redial's `sent` or
    /// `received`, a crash after a `received` or `sent` of a listener's second or later
    /// accepted connection.
    fn later_session_fault(fault: &Fault) -> bool {
        let Trigger::After(event) = &fault.trigger else {
            return false;
        };
        match &fault.kind {
            FaultKind::Partition { .. } => {
                event.conn.contains('~') && event.callback != "connecting"
            }
            FaultKind::Crash { .. } => (event.conn.rsplit_once('.')).is_some_and(|(_, k)| k != "1"),
            _ => false,
        }
    }

    /// Where the faults of later sessions start in `plan`: its end without them.
    fn later_sessions_from(plan: &FaultPlan) -> usize {
        (plan.faults.iter())
            .position(later_session_fault)
            .unwrap_or(plan.faults.len())
    }

    /// Each listener's first three accepted connections send their FIN late, each with the
    /// slow closes' probability and for one of their durations, drawn last from a stream of
    /// their own: appended after every other fault.
    #[test]
    fn a_listeners_accepted_connections_close_slowly_after_every_other_fault() {
        let settings = FaultSettings {
            slow_close_ms: Span::new(20, 40),
            ..some_of_each_kind()
        };
        let mut drawn = std::collections::BTreeMap::new();
        for seed in 0..200 {
            let plan = FaultPlan::generate(Seed(seed), &settings, &topology());
            let first = server_slow_closes_from(&plan);
            let mut last = 0;
            for fault in &plan.faults[first..deep_partitions_from(&plan)] {
                let (Trigger::At(0), FaultKind::SlowClose { conn, delay_ms }) =
                    (&fault.trigger, &fault.kind)
                else {
                    panic!("seed {seed}: {fault} is not a slow close from the start");
                };
                let k: u32 = (conn.strip_prefix("server."))
                    .and_then(|k| k.parse().ok())
                    .unwrap_or_else(|| panic!("seed {seed}: {fault}"));
                assert!(k > last && k <= LATER_CONNECTIONS, "seed {seed}: {fault}");
                last = k;
                assert!((20..=40).contains(delay_ms), "{fault}");
                *drawn.entry(k).or_insert(0) += 1;
            }
        }
        // Each of the three with probability 0.5 in 200 plans.
        assert_eq!(drawn.len(), 3, "{drawn:?}");
        assert!(drawn.values().all(|n| (70..=130).contains(n)), "{drawn:?}");
        let none = FaultPlan::generate(Seed(1), &FaultSettings::default(), &topology());
        assert_eq!(server_slow_closes_from(&none), none.faults.len());
    }

    /// Every pair of hosts a client connection times is cut once more deep in its session,
    /// after one of its 65th to 1024th `sent` or `received`, the nearer the likelier; not
    /// with a fault window.
    #[test]
    fn deep_partitions_cut_a_session_after_its_first_64_sent_or_received() {
        let settings = FaultSettings {
            partitions: 1.0,
            partition_ms: Span::new(20, 40),
            ..FaultSettings::default()
        };
        let (mut callbacks, mut nths) = (BTreeMap::new(), Vec::new());
        for seed in 0..400 {
            let plan = FaultPlan::generate(Seed(seed), &settings, &topology());
            let deep = &plan.faults[deep_partitions_from(&plan)..deep_crashes_from(&plan)];
            assert_eq!(deep.len(), 1, "seed {seed}: {}", plan.describe());
            let (
                Trigger::After(event),
                FaultKind::Partition {
                    a, b, duration_ms, ..
                },
            ) = (&deep[0].trigger, &deep[0].kind)
            else {
                panic!("seed {seed}: {} is not a partition after an event", deep[0]);
            };
            assert_eq!(pair(a, b), pair("client", "server"), "{}", deep[0]);
            assert!((20..=40).contains(duration_ms), "{}", deep[0]);
            assert_eq!(event.conn, "c1", "{}", deep[0]);
            let deep_range = LATE_PARTITION_MAX_EVENTS + 1..=DEEP_PARTITION_MAX_EVENTS;
            assert!(deep_range.contains(&event.nth), "{}", deep[0]);
            *callbacks.entry(event.callback.clone()).or_insert(0) += 1;
            nths.push(event.nth);
        }
        let sent = callbacks.get("sent").copied().unwrap_or(0);
        assert!((150..=250).contains(&sent), "{callbacks:?}");
        assert_eq!(callbacks.values().sum::<u32>(), 400, "{callbacks:?}");
        // The 65th to 128th about four times in ten, the last 512 about one in eight.
        let near = nths.iter().filter(|n| **n <= 128).count();
        let far = nths.iter().filter(|n| **n > 512).count();
        assert!((120..=200).contains(&near), "{near} of 400 up to the 128th");
        assert!((25..=80).contains(&far), "{far} of 400 past the 512th");
        let windowed = FaultSettings {
            fault_window_ms: Some(Span::new(0, 100)),
            ..settings
        };
        let plan = FaultPlan::generate(Seed(1), &windowed, &topology());
        assert!(
            !plan.faults.iter().any(deep_partition),
            "{}",
            plan.describe()
        );
    }

    /// The deep partitions are drawn last, from a stream of their own: appended to the
    /// faults drawn before them, none of which is one.
    #[test]
    fn deep_partitions_come_after_every_other_fault() {
        let settings = some_of_each_kind();
        for seed in 0..100 {
            let plan = FaultPlan::generate(Seed(seed), &settings, &topology());
            let first = deep_partitions_from(&plan);
            // One for the pair of hosts the client connects across, after the slow closes
            // of the server's connections drawn before it.
            assert_eq!(deep_crashes_from(&plan) - first, 1, "{}", plan.describe());
            assert!(plan.faults[..first].iter().any(redial_refusal));
            assert!(
                !plan.faults[..first].iter().any(deep_partition),
                "{}",
                plan.describe()
            );
        }
    }

    /// Each host that may crash crashes once more deep in its listener's first accepted
    /// connection, after one of its 65th to 1024th `received` or `sent`; not with a fault
    /// window.
    #[test]
    fn a_server_host_crashes_deep_in_its_listeners_first_connection() {
        let settings = FaultSettings {
            crashes: 1.0,
            crash_down_ms: Span::new(10, 30),
            ..FaultSettings::default()
        };
        let mut seen = std::collections::BTreeSet::new();
        for seed in 0..200 {
            let plan = FaultPlan::generate(Seed(seed), &settings, &topology());
            let deep = &plan.faults[deep_crashes_from(&plan)..later_sessions_from(&plan)];
            assert_eq!(deep.len(), 1, "seed {seed}: {}", plan.describe());
            assert!(deep.iter().all(deep_crash), "{}", plan.describe());
            let (Trigger::After(event), FaultKind::Crash { host, .. }) =
                (&deep[0].trigger, &deep[0].kind)
            else {
                unreachable!()
            };
            assert_eq!((event.conn.as_str(), host.as_str()), ("server.1", "server"));
            assert!(event.nth <= DEEP_PARTITION_MAX_EVENTS, "{}", deep[0]);
            seen.insert((event.callback.clone(), event.nth > 128));
        }
        assert_eq!(seen.len(), 4, "received and sent, near and far: {seen:?}");
        let windowed = FaultSettings {
            fault_window_ms: Some(Span::new(0, 100)),
            ..settings
        };
        let plan = FaultPlan::generate(Seed(1), &windowed, &topology());
        assert!(!plan.faults.iter().any(deep_crash), "{}", plan.describe());
    }

    /// The deep crashes are drawn last, from a stream of their own: appended to the faults
    /// drawn before them, none of which is one.
    #[test]
    fn deep_crashes_come_after_every_other_fault() {
        let settings = some_of_each_kind();
        let mut drawn = 0;
        for seed in 0..100 {
            let plan = FaultPlan::generate(Seed(seed), &settings, &topology());
            let first = deep_crashes_from(&plan);
            assert!(
                plan.faults[first..later_sessions_from(&plan)]
                    .iter()
                    .all(deep_crash),
                "{}",
                plan.describe()
            );
            assert!(deep_partitions_from(&plan) < first, "{}", plan.describe());
            drawn += later_sessions_from(&plan) - first;
        }
        // One draw a plan, with probability 0.5.
        assert!((25..=75).contains(&drawn), "{drawn} in 100 plans");
    }

    /// Each client's host is cut from a listening host after one of the `sent` or
    /// `received` of one of its redials `c1~1` to `c1~8`, and each host that may crash
    /// crashes after one of the `received` or `sent` of its listener's second to eighth
    /// accepted connection: the nearer session and the nearer event the likelier, each up to
    /// the 1024th. Not with a fault window.
    #[test]
    fn later_sessions_are_cut_and_crashed_mid_way() {
        let settings = FaultSettings {
            partitions: 1.0,
            partition_ms: Span::new(20, 40),
            crashes: 1.0,
            crash_down_ms: Span::new(10, 30),
            ..FaultSettings::default()
        };
        let (mut sessions, mut nths) = (BTreeMap::new(), Vec::new());
        let mut callbacks = std::collections::BTreeSet::new();
        for seed in 0..400 {
            let plan = FaultPlan::generate(Seed(seed), &settings, &topology());
            let later = &plan.faults[later_sessions_from(&plan)..];
            assert_eq!(later.len(), 2, "seed {seed}: {}", plan.describe());
            let (
                Trigger::After(cut),
                FaultKind::Partition {
                    a, b, duration_ms, ..
                },
            ) = (&later[0].trigger, &later[0].kind)
            else {
                panic!(
                    "seed {seed}: {} is not a partition after an event",
                    later[0]
                );
            };
            assert_eq!(pair(a, b), pair("client", PEER), "{}", later[0]);
            assert!((20..=40).contains(duration_ms), "{}", later[0]);
            let (
                Trigger::After(crash),
                FaultKind::Crash {
                    host,
                    restart_after_ms,
                },
            ) = (&later[1].trigger, &later[1].kind)
            else {
                panic!("seed {seed}: {} is not a crash after an event", later[1]);
            };
            assert_eq!(host, "server", "{}", later[1]);
            assert!(restart_after_ms.is_some_and(|ms| (10..=30).contains(&ms)));
            for (event, stem) in [(cut, "c1~"), (crash, "server.")] {
                let k: u32 = (event.conn.strip_prefix(stem))
                    .and_then(|k| k.parse().ok())
                    .unwrap_or_else(|| panic!("seed {seed}: {}", event.conn));
                let first = if stem == "c1~" { 1 } else { 2 };
                assert!((first..=LATER_SESSIONS).contains(&k), "{}", event.conn);
                assert!((1..=DEEP_PARTITION_MAX_EVENTS).contains(&event.nth));
                *sessions.entry((stem, k == first, k > 4)).or_insert(0) += 1;
                callbacks.insert((stem, event.callback.clone()));
                nths.push(event.nth);
            }
        }
        // The first session drawn about half the time, the fifth to the eighth about one
        // time in eight (one in six from the second).
        for stem in ["c1~", "server."] {
            let nearest = sessions.get(&(stem, true, false)).copied().unwrap_or(0);
            let far = sessions.get(&(stem, false, true)).copied().unwrap_or(0);
            assert!((160..=240).contains(&nearest), "{stem}: {sessions:?}");
            assert!((25..=100).contains(&far), "{stem}: {sessions:?}");
        }
        assert_eq!(callbacks.len(), 4, "sent and received each: {callbacks:?}");
        // The first event about one time in six, past the 64th more than one in five.
        let first = nths.iter().filter(|n| **n == 1).count();
        let deep = nths
            .iter()
            .filter(|n| **n > LATE_PARTITION_MAX_EVENTS)
            .count();
        assert!(
            (90..=200).contains(&first),
            "{first} of 800 at the first event"
        );
        assert!((160..=300).contains(&deep), "{deep} of 800 past the 64th");
        let windowed = FaultSettings {
            fault_window_ms: Some(Span::new(0, 100)),
            ..settings
        };
        let plan = FaultPlan::generate(Seed(1), &windowed, &topology());
        assert!(
            !plan.faults.iter().any(later_session_fault),
            "{}",
            plan.describe()
        );
    }

    /// A later session is cut from the host its redial runs to (`@peer`, found as the fault
    /// fires), not from a listening host drawn: with three nodes listening beside the client
    /// (a bootstrap node naming the leader a redial dials), a host drawn was the redial's one
    /// time in three. Each client's cut is timed by one of its own redials.
    #[test]
    fn later_sessions_cut_the_path_of_the_redial_that_times_them() {
        let nodes = ["n1", "n2", "n3"].map(String::from);
        let topology = Topology {
            hosts: [&["client".to_string(), "edge".into()][..], &nodes].concat(),
            servers: nodes.to_vec(),
            clients: vec!["c1".into(), "c2".into()],
            listeners: ["node1", "node2", "node3"].map(String::from).into(),
            dials: ["c1", "c2"]
                .map(|client| Dial {
                    client: client.into(),
                    host: if client == "c1" { "client" } else { "edge" }.into(),
                    targets: vec!["n1".into()],
                })
                .into(),
            ports: nodes.clone().map(|n| (n, 7000)).into(),
            ..topology()
        };
        let settings = FaultSettings {
            partitions: 1.0,
            ..FaultSettings::default()
        };
        for seed in 0..100 {
            let plan = FaultPlan::generate(Seed(seed), &settings, &topology);
            let later = &plan.faults[later_sessions_from(&plan)..];
            assert_eq!(later.len(), 2, "seed {seed}: {}", plan.describe());
            for (fault, (client, host)) in later.iter().zip([("c1", "client"), ("c2", "edge")]) {
                let (Trigger::After(event), FaultKind::Partition { a, b, .. }) =
                    (&fault.trigger, &fault.kind)
                else {
                    panic!("seed {seed}: {fault}");
                };
                assert_eq!(pair(a, b), pair(host, PEER), "seed {seed}: {fault}");
                assert!(event.conn.starts_with(&format!("{client}~")), "{fault}");
            }
            assert_eq!(plan.validate(&topology), Ok(()), "seed {seed}");
        }
    }

    /// The faults of later sessions are drawn last, from a stream of their own: appended to
    /// the faults drawn before them, none of which is one.
    #[test]
    fn later_sessions_come_after_every_other_fault() {
        let settings = some_of_each_kind();
        let mut drawn = 0;
        for seed in 0..100 {
            let plan = FaultPlan::generate(Seed(seed), &settings, &topology());
            let first = later_sessions_from(&plan);
            assert!(deep_crashes_from(&plan) <= first, "{}", plan.describe());
            assert!(
                plan.faults[first..].iter().all(later_session_fault),
                "{}",
                plan.describe()
            );
            assert!(plan.faults[..first].iter().any(redial_refusal));
            drawn += plan.faults.len() - first;
        }
        // A partition a plan (probability 1) and a crash half the time.
        assert!((125..=175).contains(&drawn), "{drawn} in 100 plans");
    }

    /// A partial write takes its average give or take up to half of it, and a client's
    /// reset after a `received` fires after one of its first `reset_after_received`: both
    /// drawn per seed, across the whole of their range.
    #[test]
    fn a_partial_writes_variation_and_a_resets_received_span_their_ranges() {
        let settings = FaultSettings {
            partial_writes: 1.0,
            partial_write_bytes: Span::new(1, 2048),
            resets: 1.0,
            reset_after_received: Span::new(1, 10),
            ..FaultSettings::default()
        };
        let mut variations = std::collections::BTreeSet::new();
        let mut nths = std::collections::BTreeSet::new();
        for seed in 0..200 {
            let plan = FaultPlan::generate(Seed(seed), &settings, &topology());
            let writes = plan
                .partial_writes
                .expect("partial writes at probability 1");
            assert!(writes.variation <= writes.average / 2, "{writes:?}");
            variations.insert(writes.variation);
            let received_by_c1 = plan.faults.iter().filter_map(|f| match &f.trigger {
                Trigger::After(e) if e.conn == "c1" && e.callback == "received" => Some(e.nth),
                _ => None,
            });
            for nth in received_by_c1 {
                assert!((1..=10).contains(&nth), "{}", plan.describe());
                nths.insert(nth);
            }
        }
        assert!(variations.len() > 100, "{variations:?}");
        assert_eq!(nths, (1..=10).collect(), "{nths:?}");
    }
}
