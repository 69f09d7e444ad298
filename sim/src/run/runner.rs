//! Runs a scenario under a fault plan over turmoil: one host per scenario host, every
//! callback recorded, the plan's timed faults applied between simulation steps, then, once
//! the active duration is over, the liveness phase (`liveness.rs`). The run is a pure
//! function of (scenario, plan).

#[path = "liveness.rs"]
mod liveness;

pub use liveness::Liveness;

use liveness::Disturbed;

use super::capacity::{Capacities, LimitError};
use super::context::{Context, RunContext};
use super::cutoff::{Cutoff, Stop};
use super::ended::Ended;
use super::fault_step::FaultStep;
use super::integrity::{exact_on_mismatch, Mismatches, StreamMatcher};
use super::latency::{least_ms, LinkLatencies};
use super::log_capture::LogCapture;
use super::network::TurmoilNetwork;
use super::outside::{Answer, OutsideHosts};
use super::panics;
use super::recorder::{Acted, FaultEnd, Fired, HostSink, RunState, Undo};
use super::teardown::Teardown;
use super::trace::{EventKind, Trace};
use crate::fault::FaultLayer;
use crate::fault::{FaultKind, FaultPlan, Trigger};
use crate::scenario::{ListenerSpec, NotifierFactory, Scenario};
use crate::validate::{InvalidField, MAX_TRACE_EVENTS, UNCUT_AFTER_TRACE_EVENTS};
use std::collections::BTreeMap;
use std::net::IpAddr;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::task::Poll;
use std::time::{Duration, UNIX_EPOCH};
use tcpnotify::record::{Name, Recorded, RecordedListener};
use tcpnotify::{ConnectionConfig, Network, TcpConnection, TcpListener};

/// The simulated wall clock starts here (2024-01-01), so no run reads the real clock.
const EPOCH_SECS: u64 = 1_704_067_200;

/// What a run produced.
#[derive(Debug, Clone)]
pub struct RunOutcome {
    /// The scenario's name.
    pub scenario: String,
    /// The plan it ran under.
    pub plan: FaultPlan,
    /// Every callback and fault.
    pub trace: Trace,
    /// How it ended.
    pub ended: Ended,
    /// How many times each fault kind fired. A reset that found its connection not connected
    /// did nothing and is not counted (its trace line says so).
    pub fired: BTreeMap<String, usize>,
    /// How many of the faults that fired found bytes in flight (written and not yet read)
    /// on the connections they act on, at the moment they acted (for a fault an event
    /// triggered, inside that event's callback), or, for a partition that found none then,
    /// when it healed (bytes written while it cut, and held).
    pub fired_in_flight: usize,
    /// Whether the run reached its liveness phase, and what it healed.
    pub liveness: Liveness,
    /// What its notifiers left in the run's context: shared state, assertions, counters.
    pub context: RunContext,
}

/// A run that could not start, reached a limit of the simulator, or was stopped from outside
/// before it ended.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// The plan names a host or connection that does not exist, or is malformed.
    #[error("invalid fault plan: {0}")]
    Plan(InvalidField),
    /// The scenario is malformed.
    #[error("invalid scenario: {0}")]
    Scenario(InvalidField),
    /// The scenario exceeds a limit of the simulated network.
    #[error("scenario too large: {0}")]
    Limit(#[from] LimitError),
    /// It reached a limit of the simulated network partway, which its notifiers' dials made
    /// ([`LimitError::EphemeralPortsUsed`]): it has no verdict.
    #[error("the simulator's limit reached at {at_ms} ms of simulated time: {limit}")]
    LimitReached {
        /// The limit.
        limit: LimitError,
        /// The simulated time it had reached, in milliseconds.
        at_ms: u64,
    },
    /// Its [`Cutoff`] stopped it (see [`run_until`]): it has no verdict.
    #[error("{stop} (stopped at {at_ms} ms of simulated time)")]
    Stopped {
        /// Why.
        stop: Stop,
        /// The simulated time it had reached, in milliseconds.
        at_ms: u64,
    },
}

/// Something the run loop does at a simulated time.
#[derive(Debug, Clone)]
enum Action {
    Fire(usize),
    /// The end of the plan's fault `index`, a partition's heal or a refusal's end.
    End {
        index: usize,
        undo: Undo,
    },
    Restart {
        index: usize,
        host: String,
    },
}

/// The turmoil builder of a run under `plan` that may last `duration` of simulated time:
/// turmoil's seed derived from the plan's, the fixed epoch, 1 ms ticks and the plan's least
/// latency, fixed (a run varies each link's latency itself: `run::latency`).
/// [`run`] builds every scenario's simulation with it; a test that drives the stack over
/// turmoil by hand (the loopback conformance suite) builds its simulation the same way.
pub fn simulation_builder(plan: &FaultPlan, duration: Duration) -> turmoil::Builder {
    let mut builder = turmoil::Builder::new();
    let least = least_ms(plan);
    builder
        .rng_seed(plan.seed.derive("turmoil"))
        .epoch(UNIX_EPOCH + Duration::from_secs(EPOCH_SECS))
        .simulation_duration(duration)
        .tcp_capacity(super::capacity::TCP_CAPACITY)
        .tick_duration(Duration::from_millis(1))
        .min_message_latency(Duration::from_millis(least))
        .max_message_latency(Duration::from_millis(least));
    builder
}

/// Runs `scenario` under `plan`.
pub fn run(scenario: &Scenario, plan: &FaultPlan) -> Result<RunOutcome, RunError> {
    run_until(scenario, plan, &Cutoff::never())
}

/// Runs `scenario` under `plan` unless `cutoff` stops it first, between two steps of the
/// simulation: then [`RunError::Stopped`]. A run the cutoff does not stop is the same as
/// [`run`]'s.
pub fn run_until(
    scenario: &Scenario,
    plan: &FaultPlan,
    cutoff: &Cutoff,
) -> Result<RunOutcome, RunError> {
    exact_on_mismatch(|mismatches| run_pass(scenario, plan, cutoff, mismatches))
}

/// One pass of [`run_until`]: with `mismatches`, the integrity check keeps the exact bytes of
/// those stream segments. Also returns the segments whose CRCs disagreed.
fn run_pass(
    scenario: &Scenario,
    plan: &FaultPlan,
    cutoff: &Cutoff,
    mismatches: Option<&Mismatches>,
) -> Result<(RunOutcome, Mismatches), RunError> {
    let topology = scenario.validated_topology().map_err(RunError::Scenario)?;
    plan.validate(&topology).map_err(RunError::Plan)?;
    let capacities = Capacities::for_run(scenario, plan)?;
    panics::install_recorder();

    let longest = (scenario.duration_ms)
        .saturating_add(scenario.settle_ms)
        .saturating_add(1000);
    let mut builder = simulation_builder(plan, Duration::from_millis(longest));
    capacities.apply(&mut builder);
    let mut sim = builder.build();

    // Each host's listeners and clients, found in one pass (not one pass per host).
    let mut software: BTreeMap<&str, HostSoftware> = BTreeMap::new();
    for l in &scenario.listeners {
        let on_host = software.entry(l.host.as_str()).or_default();
        on_host.listeners.push(l.clone());
    }
    for target in topology.dials.iter().flat_map(|d| &d.targets) {
        software.entry(target.as_str()).or_default().dialled = true;
    }
    // Clients dialling the same target and port share their text.
    let mut shared: BTreeMap<(&str, u16), (Name, Name)> = BTreeMap::new();
    for c in &scenario.clients {
        let (target, service) = shared
            .entry((c.target.as_str(), c.port))
            .or_insert_with(|| {
                (
                    Name::from(c.target.as_str()),
                    Name::from(c.port.to_string()),
                )
            });
        let client = HostClient {
            who: Name::from(c.name.as_str()),
            target: target.clone(),
            service: service.clone(),
            start_ms: c.start_ms,
            config: c.config,
            notifier: c.notifier.clone(),
        };
        software
            .entry(c.host.as_str())
            .or_default()
            .clients
            .push(client);
    }
    // Every host's address, in the order of the hosts, whether turmoil runs the host or not.
    let addresses: BTreeMap<String, IpAddr> = topology
        .hosts
        .iter()
        .map(|h| (h.clone(), sim.lookup(h.as_str())))
        .collect();
    // turmoil logs every message it sends and delivers at trace level: a filter that may
    // record those keeps dialled hosts in turmoil, where their SYNs are logged.
    let logged = scenario.log_filter.may_record_trace();
    let answers: BTreeMap<&String, Answer> = (topology.hosts.iter())
        .filter_map(|h| match software.get(h.as_str()) {
            None => Some((h, Answer::Silent)),
            Some(s) => s.left_out(logged).map(|answer| (h, answer)),
        })
        .collect();
    let left_out: BTreeMap<String, IpAddr> = (answers.keys())
        .map(|h| ((*h).clone(), addresses[*h]))
        .collect();
    let outside = Arc::new(OutsideHosts::new(
        topology.hosts.iter().map(|h| addresses[h]),
        answers.iter().map(|(h, answer)| (addresses[*h], *answer)),
    ));
    // The hosts a SYN may reach: turmoil's, and those outside it that refuse.
    let reachable: BTreeMap<String, IpAddr> = (addresses.iter())
        .filter(|(h, _)| answers.get(h) != Some(&Answer::Silent))
        .map(|(h, ip)| (h.clone(), *ip))
        .collect();
    let linked = topology
        .dials
        .iter()
        .flat_map(|d| (d.targets.iter()).map(move |target| (d.host.as_str(), target.as_str())));
    let latencies = LinkLatencies::new(
        plan,
        &reachable,
        left_out.values().copied().collect(),
        linked,
    );
    // The scenario's `[names]`, one copy shared by the fault layer and the network.
    let names = Arc::new(scenario.names.clone());
    let layer = FaultLayer::with_names(plan.clone(), addresses.clone(), names.clone());
    // A SYN to a silent host is lost wherever it is (turmoil's connect to one never ends):
    // the layer counts that wait toward the connect timeout.
    for (host, _) in answers.iter().filter(|(_, a)| **a == Answer::Silent) {
        layer.host_silent(host);
    }
    let trace = Trace::new();
    // Each client's connection and the one a listener accepts for it: what the run's maps
    // of connections are sized for.
    let connections = scenario.clients.len().saturating_mul(2);
    layer.reserve_connections(connections);
    let context = Context::new(
        trace.clone(),
        scenario.properties.declared_sometimes(),
        connections,
    );
    let run = RunState::new(
        trace.clone(),
        layer,
        plan.faults.clone(),
        scenario.options,
        context.clone(),
        mismatches.map_or_else(StreamMatcher::new, StreamMatcher::exact_around),
        connections,
    );
    let rechunking = plan.rechunking_policies();
    if !rechunking.is_empty() {
        let layer = run.layer.clone();
        trace.on_passing(UNCUT_AFTER_TRACE_EVENTS, move || {
            stop_rechunking(&layer, &rechunking)
        });
    }
    // One network for the run, which each host sees from its own side (`on_host`).
    let network =
        TurmoilNetwork::new("", names, Arc::new(addresses)).with_outside_hosts(outside.clone());
    for host in topology.hosts.iter().filter(|h| !left_out.contains_key(*h)) {
        let on_host = software.remove(host.as_str()).unwrap_or_default();
        register_host(&mut sim, host, on_host, &run, &network);
    }

    let mut schedule: BTreeMap<(u64, usize), Action> = BTreeMap::new();
    for (i, fault) in plan.faults.iter().enumerate() {
        if let Trigger::At(at) = fault.trigger {
            schedule.insert((at.saturating_mul(1000), i), Action::Fire(i));
        }
    }
    let logs = LogCapture::new(&scenario.log_filter, &trace);
    let mut loop_state = Loop {
        sim,
        run: run.clone(),
        schedule,
        next_seq: plan.faults.len(),
        scenario,
        latencies,
        left_out,
        outside,
        cutoff,
        stopped: None,
        disturbed: Disturbed::default(),
        liveness: Liveness::NotReached,
        logs: logs.clone(),
        teardown: network.teardown().clone(),
        restarted_now: false,
    };
    // Every notifier of the run reaches its context, until the run ended.
    let entered = context.enter();
    loop_state.note(
        0,
        format!(
            "run started: scenario {}, seed {}",
            scenario.name, plan.seed
        ),
    );

    panics::record();
    let result = logs.during(|| catch_unwind(AssertUnwindSafe(|| loop_state.run_steps())));
    let panics = panics::take();
    if let (Some(stop), true) = (loop_state.stopped, panics.is_empty()) {
        return Err(RunError::Stopped {
            stop,
            at_ms: loop_state.elapsed_us() / 1000,
        });
    }
    // turmoil's own panic at a limit of its network blames no notifier.
    if let Some(limit) = panics.first().and_then(|p| LimitError::reached_in(p)) {
        return Err(RunError::LimitReached {
            limit,
            at_ms: loop_state.elapsed_us() / 1000,
        });
    }
    let ended = match (result, panics.first()) {
        (_, Some(message)) => Ended::Panicked {
            message: message.clone(),
        },
        (Ok(ended), None) => ended,
        (Err(_), None) => Ended::Panicked {
            message: "panic without a message".into(),
        },
    };
    let at = loop_state.elapsed_us();
    let end = EventKind::RunEnded {
        ended: ended.clone(),
    };
    loop_state.run.line(at, end);
    drop(entered);
    let Loop { sim, liveness, .. } = loop_state;
    // The connections still in the simulation's tasks tell their last counters as their
    // recorders are dropped (`CallbackSink::counters`): before the context is finished.
    drop(sim);
    let outcome = RunOutcome {
        scenario: scenario.name.clone(),
        plan: plan.clone(),
        trace,
        ended,
        fired: run.fired_kinds(),
        fired_in_flight: run.fired_in_flight(),
        liveness,
        context: context.finish(),
    };
    Ok((outcome, run.mismatches()))
}

/// Stops `layer`'s partial writes and re-chunked reads (its plan's `policies`) as the trace
/// passes [`UNCUT_AFTER_TRACE_EVENTS`], and says so for the trace's note; nothing if the
/// layer no longer cuts (the liveness phase calmed it).
fn stop_rechunking(layer: &FaultLayer, policies: &[&str]) -> Option<String> {
    if !layer.rechunks() {
        return None;
    }
    layer.stop_rechunking();
    Some(format!(
        "the trace passed {UNCUT_AFTER_TRACE_EVENTS} events: {} stop, writes and reads pass \
         whole from here so that the run fits its trace (limit {MAX_TRACE_EVENTS})",
        policies.join(" and ")
    ))
}

/// What runs on one host: its listeners and its clients.
#[derive(Default)]
struct HostSoftware {
    listeners: Vec<ListenerSpec>,
    clients: Vec<HostClient>,
    /// Some client may dial it: it must answer, if only with a refusal.
    dialled: bool,
}

/// A client as its host's task runs it: what the task reads of its
/// [`ClientSpec`](crate::scenario::ClientSpec), with its name made once as the [`Name`] its
/// recorder, its trace lines and the run state share, and its target and service shared with
/// the clients that dial the same. Copying the whole spec cost three `String`s per client,
/// and the task's port as text a fourth.
struct HostClient {
    who: Name,
    target: Name,
    service: Name,
    start_ms: u64,
    config: ConnectionConfig,
    notifier: NotifierFactory,
}

impl HostSoftware {
    /// How the host answers a SYN if the run leaves it out of turmoil, which links every pair
    /// of the hosts it runs: memory grows with their square, every step ticks every link, and
    /// each host whose software runs scans every link (issue 12). A host that runs nothing is
    /// left out: its name still takes its address, in the order of the hosts, so every other
    /// host's address is the same. If no client dials it, a SYN to it is lost, as to a host
    /// whose software ended; if one does, it refuses the SYN when and as turmoil would
    /// (`outside.rs`). `None`, turmoil runs it, if it runs something, or if a client dials it
    /// and `logged`: the run's log filter may record turmoil's trace-level events, which log
    /// every message turmoil carries, the SYNs to it among them.
    ///
    /// turmoil gives each host it runs a seed for its runtime as the host is registered, so
    /// leaving one out changes the seeds of the hosts registered after it. Listeners' and
    /// clients' hosts come first in the order of the hosts, so only hosts first named in
    /// `hosts` or `[names]` can follow one, and those run nothing: no task draws from those
    /// seeds. turmoil's own later draws decide nothing here: its latency is fixed (the
    /// delay it draws for each message it carries is ignored, so a SYN it no longer carries
    /// moves nothing), its loss rate 0, its host order not shuffled.
    fn left_out(&self, logged: bool) -> Option<Answer> {
        if !self.listeners.is_empty() || !self.clients.is_empty() {
            return None;
        }
        match (self.dialled, logged) {
            (false, _) => Some(Answer::Silent),
            (true, false) => Some(Answer::Refusal),
            (true, true) => None,
        }
    }
}

fn register_host(
    sim: &mut turmoil::Sim<'_>,
    host: &str,
    software: HostSoftware,
    run: &Arc<RunState>,
    network: &TurmoilNetwork,
) {
    // Shared by every incarnation of the host and every client task, not copied for each.
    let listeners: Arc<[ListenerSpec]> = software.listeners.into();
    let clients: Arc<[HostClient]> = software.clients.into();
    let incarnations = Arc::new(AtomicU32::new(0));
    let (host, run, network) = (host.to_string(), run.clone(), network.clone());
    sim.host(host.clone().as_str(), move || {
        let (host, run, network) = (host.clone(), run.clone(), network.clone());
        let (listeners, clients) = (listeners.clone(), clients.clone());
        let incarnation = incarnations.fetch_add(1, Ordering::SeqCst) + 1;
        // Moved into the software, and so dropped with it, polled or not.
        let teardown = network.teardown().guard(&host);
        async move {
            let _teardown = teardown;
            let net = network.on_host(&host).with_faults(run.layer.clone());
            let sink = HostSink::new(&host, run.clone());
            for l in listeners.iter() {
                // A restarted host's listener is a new one: `server#2`, with `server#2.1`, ...
                let who = match incarnation {
                    1 => l.name.clone(),
                    n => format!("{}#{n}", l.name),
                };
                let notify = RecordedListener::new(l.notifier.make(), who, sink.clone())
                    .keeping_payloads(run.needs_payloads());
                TcpListener::builder()
                    .network(net.clone())
                    .limit(l.limit)
                    .config(l.config)
                    .listen(notify, "", &l.port.to_string());
            }
            // Clients run once; after a crash they count as finished.
            if incarnation == 1 {
                for i in 0..clients.len() {
                    let (sink, run) = (sink.clone(), run.clone());
                    let clients = clients.clone();
                    let client_net = net.clone();
                    net.spawn(async move {
                        let c = &clients[i];
                        if c.start_ms > 0 {
                            tokio::time::sleep(Duration::from_millis(c.start_ms)).await;
                        }
                        let notify = Recorded::new((c.notifier)(), c.who.clone(), sink)
                            .keeping_payloads(run.needs_payloads());
                        // The connection runs in this task rather than one of its own (a
                        // spawn, and a wake at its end, fewer per client), from where its own
                        // task would have started.
                        let (_, connection) = TcpConnection::builder()
                            .network(client_net)
                            .config(c.config)
                            .connect_in_task(notify, &c.target, &c.service);
                        behind_queued_tasks().await;
                        connection.await;
                        run.client_finished(&c.who);
                    });
                }
            }
            std::future::pending::<()>().await;
            Ok(())
        }
    });
}

/// Waits once, behind every task queued to run now: where a task spawned now would first
/// run (tokio's current-thread scheduler queues a task that woke itself while it ran at the
/// back, as it queues a new one), so that what a client's connection does first happens in
/// the same order among the other tasks as when it had a task of its own. Not
/// `tokio::task::yield_now`: that defers its wake until the runtime has polled its drivers,
/// later than a new task would run.
async fn behind_queued_tasks() {
    let mut queued = false;
    std::future::poll_fn(|cx| {
        if queued {
            return Poll::Ready(());
        }
        queued = true;
        cx.waker().wake_by_ref();
        Poll::Pending
    })
    .await;
}

/// The run loop's state.
struct Loop<'s, 'a> {
    sim: turmoil::Sim<'a>,
    run: Arc<RunState>,
    schedule: BTreeMap<(u64, usize), Action>,
    next_seq: usize,
    scenario: &'s Scenario,
    latencies: LinkLatencies,
    /// The hosts turmoil does not run ([`HostSoftware::left_out`]), with their addresses: no
    /// crash or restart reaches turmoil for them, and they have no links whose latency to set.
    left_out: BTreeMap<String, IpAddr>,
    /// What answers a SYN to one of those: told of their crashes and restarts, and of the end
    /// of every step.
    outside: Arc<OutsideHosts>,
    cutoff: &'s Cutoff,
    /// Why the cutoff stopped the run, if it did.
    stopped: Option<Stop>,
    /// What the faults fired so far left that the liveness phase heals.
    disturbed: Disturbed,
    /// Whether the liveness phase started, and what it healed.
    liveness: Liveness,
    /// Records the run's `tracing` events; told the loop's time for those logged between
    /// host polls.
    logs: LogCapture,
    /// Through which a crash or restart ends a host's tasks in the order they started.
    teardown: Arc<Teardown>,
    /// Whether a host restarted since the last step: its software has not run yet.
    restarted_now: bool,
}

impl Loop<'_, '_> {
    fn elapsed_us(&self) -> u64 {
        u64::try_from(self.sim.elapsed().as_micros()).unwrap_or(u64::MAX)
    }

    fn note(&self, at_us: u64, text: String) {
        self.run.line(at_us, EventKind::Note { text });
    }

    fn run_steps(&mut self) -> Ended {
        let mut end_us = self.scenario.duration_ms.saturating_mul(1000);
        let clients: Vec<&str> = self
            .scenario
            .clients
            .iter()
            .map(|c| c.name.as_str())
            .collect();
        loop {
            let now = self.elapsed_us();
            self.logs.set_now(now);
            for fired in self.run.take_fired() {
                match fired {
                    Fired::ByTheLoop(index) => self.apply(now, Action::Fire(index)),
                    Fired::Until(end) => self.schedule_end(end),
                }
            }
            while let Some(entry) = self.schedule.first_entry() {
                if entry.key().0 > now {
                    break;
                }
                let action = entry.remove();
                self.apply(now, action);
            }
            // A host due to restart is not done: its software runs again, and what its
            // listeners' notifiers do then (dial a backend from `listening`) is the run's; a
            // host restarted now runs its software in the next step.
            if self.run.all_finished(clients.len())
                && self.run.quiescent()
                && !self.restarted_now
                && !self.restart_pending()
            {
                return Ended::AllFinished;
            }
            if now >= end_us {
                match self.liveness {
                    Liveness::NotReached if self.scenario.settle_ms > 0 => {
                        self.start_liveness(now);
                        end_us = now.saturating_add(self.scenario.settle_ms.saturating_mul(1000));
                    }
                    _ => {
                        self.liveness_off();
                        return Ended::DurationReached {
                            unfinished: self.run.unfinished(clients.iter().copied()),
                        };
                    }
                }
            }
            if panics::any() {
                return Ended::Panicked {
                    message: String::new(),
                };
            }
            if self.run.trace.is_full() {
                return Ended::Failed {
                    message: format!(
                        "the trace reached its limit of {MAX_TRACE_EVENTS} events; send fewer \
                         bytes, or in larger writes and reads (a notifier's `chunk`, its read \
                         buffer or `expect`; the plan's cuts stop at \
                         {UNCUT_AFTER_TRACE_EVENTS})"
                    ),
                };
            }
            self.latencies.step(&self.sim);
            if let Some(stop) = self
                .cutoff
                .is_set()
                .then(|| self.cutoff.reached())
                .flatten()
            {
                self.stopped = Some(stop);
                return Ended::Failed {
                    message: stop.to_string(),
                };
            }
            if let Err(e) = self.sim.step() {
                return Ended::Failed {
                    message: e.to_string(),
                };
            }
            let latencies = &self.latencies;
            (self.outside).after_step(now / 1000, |a, b| latencies.latency_ms(a, b));
            self.restarted_now = false;
        }
    }

    /// Whether a crashed host's restart is scheduled and has not happened yet.
    fn restart_pending(&self) -> bool {
        (self.schedule.values()).any(|action| matches!(action, Action::Restart { .. }))
    }

    /// The connections of `host` ended with its software: they get no callback, and its
    /// clients count as finished.
    fn forget_host(&self, host: &str) {
        let on_host: Vec<String> = self
            .scenario
            .clients
            .iter()
            .filter(|c| c.host == host)
            .map(|c| c.name.clone())
            .collect();
        self.run.host_crashed(host, &on_host);
    }

    fn schedule_at(&mut self, at_us: u64, action: Action) {
        self.next_seq += 1;
        self.schedule.insert((at_us, self.next_seq), action);
    }

    /// Schedules the end of a fault that acted ([`RunState::act`]): its heal, or the end of
    /// its refusal.
    fn schedule_end(&mut self, end: FaultEnd) {
        let FaultEnd { at_us, index, undo } = end;
        self.schedule_at(at_us, Action::End { index, undo });
    }

    fn apply(&mut self, now: u64, action: Action) {
        match action {
            Action::Fire(index) => self.fire(now, index),
            Action::End { index, undo } => {
                match undo {
                    Undo::Cuts(cuts) => {
                        self.run.count_held(index);
                        for (from, to) in &cuts {
                            self.run.layer.heal(from, to);
                        }
                    }
                    Undo::Refusal { host, port } => self.run.layer.accept_again(index, &host, port),
                }
                self.run.fault_line(now, index, FaultStep::Healed);
            }
            Action::Restart { index, host } => {
                // turmoil restarts a running host too (a second crash's restart): what ran on
                // it is gone, as in a crash.
                match self.left_out.get(&host) {
                    Some(ip) => self.outside.restarted(*ip),
                    None => {
                        let sim = &mut self.sim;
                        self.teardown.crashing(&host, || sim.bounce(host.as_str()));
                    }
                }
                self.disturbed.crashed.remove(&host);
                self.forget_host(&host);
                self.run.layer.host_restarted(&host);
                self.restarted_now = true;
                let restarted = FaultStep::Restarted { host };
                self.run.fault_line(now, index, restarted);
            }
        }
    }

    /// Fires the plan's fault `index` at `now`: resets, partitions and refusals as an event
    /// would fire them ([`RunState::act`]), the kinds only the loop can apply here.
    fn fire(&mut self, now: u64, index: usize) {
        match self.run.act(index, now) {
            Acted::Done => return,
            Acted::Until(end) => return self.schedule_end(end),
            Acted::NotHere => {}
        }
        let Some(fault) = self.run.fault(index).cloned() else {
            return;
        };
        self.run.count_fired(&fault.kind);
        match &fault.kind {
            FaultKind::Latency {
                a,
                b,
                latency_ms,
                max_latency_ms,
            } => {
                let max = max_latency_ms.unwrap_or(*latency_ms);
                for b in self.run.layer.others(a, b) {
                    self.latencies.set(a, &b, *latency_ms, max);
                }
                self.disturbed.latency = true;
            }
            FaultKind::SlowClose { conn, delay_ms } => {
                self.run
                    .layer
                    .slow_close(conn, Duration::from_millis(*delay_ms));
                self.disturbed.slow_closes = true;
            }
            FaultKind::Crash {
                host,
                restart_after_ms,
            } => {
                match self.left_out.get(host) {
                    Some(ip) => self.outside.crashed(*ip),
                    None => {
                        let sim = &mut self.sim;
                        self.teardown.crashing(host, || sim.crash(host.as_str()));
                    }
                }
                self.disturbed.crashed.insert(host.clone(), index);
                self.run.layer.host_crashed(host);
                self.forget_host(host);
                if let Some(ms) = restart_after_ms {
                    self.schedule_at(
                        now.saturating_add(ms.saturating_mul(1000)),
                        Action::Restart {
                            index,
                            host: host.clone(),
                        },
                    );
                }
            }
            // Acted in `RunState::act` above.
            FaultKind::Reset { .. } | FaultKind::Partition { .. } | FaultKind::Refuse { .. } => {
                return
            }
        }
        let fired = FaultStep::Fired(fault.kind.to_string());
        self.run.fault_line(now, index, fired);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fault::{Fault, FaultSettings};
    use crate::scenario::factory;
    use crate::scenario::notifiers::{Echo, QuietClient};
    use crate::seed::Seed;
    use std::sync::atomic::AtomicBool;
    use tcpnotify::{ConnectFailure, TcpConnectionNotify};

    /// Sets its flag once connected: an interrupt at a simulated time of the test's choosing.
    struct InterruptsOnConnect(Arc<AtomicBool>);

    impl TcpConnectionNotify for InterruptsOnConnect {
        fn connected(&mut self, _conn: &mut TcpConnection) {
            self.0.store(true, Ordering::SeqCst);
        }

        fn connect_failed(&mut self, _conn: &mut TcpConnection, reason: ConnectFailure) {
            panic!("the connect failed: {reason:?}");
        }
    }

    /// A run its cutoff stopped says when, in milliseconds of simulated time: the step after
    /// the interrupt, here just after the client started at 2.5 s.
    #[test]
    fn a_stopped_run_says_when_in_simulated_milliseconds() {
        let flag = Arc::new(AtomicBool::new(false));
        let set_by = flag.clone();
        let interrupts = factory(move || InterruptsOnConnect(set_by.clone()));
        let scenario = Scenario::new("stopped")
            .listener("server", "server", 7000, factory(|| Echo))
            .client("c1", "client", "server", 7000, interrupts)
            .starting_at(2_500)
            .faults(FaultSettings::quiet());
        let cutoff = Cutoff::never().interrupted_by(flag);
        match run_until(&scenario, &scenario.plan_for(Seed(1)), &cutoff) {
            Err(RunError::Stopped {
                stop: Stop::Interrupted,
                at_ms,
            }) => assert!((2_500..2_600).contains(&at_ms), "stopped at {at_ms} ms"),
            Err(e) => panic!("another error: {e}"),
            Ok(outcome) => panic!("the run ended: {}", outcome.ended),
        }
    }

    /// Two faults whose spans end at the same moment both end: each end the loop schedules
    /// keeps its own place, however many share a time.
    #[test]
    fn faults_ending_at_the_same_moment_each_end() {
        let partition = |a: &str, b: &str| FaultKind::Partition {
            a: a.into(),
            b: b.into(),
            duration_ms: 100,
            one_way: false,
        };
        // A client that stays connected and quiet, so the run lasts its duration.
        let scenario = Scenario::new("idle")
            .listener("server", "server", 7000, factory(|| Echo))
            .client("c1", "client", "server", 7000, factory(|| QuietClient))
            .duration_ms(500);
        let plan = FaultPlan {
            faults: vec![
                Fault::at(10, partition("client", "server")),
                Fault::at(10, partition("server", "client")),
            ],
            ..FaultPlan::quiet(Seed(1))
        };
        let outcome = run(&scenario, &plan).expect("ran");
        let healed: Vec<(u64, usize)> = (outcome.trace.events().into_iter())
            .filter_map(|event| match event.kind {
                EventKind::Fault {
                    index,
                    step: FaultStep::Healed,
                } => Some((event.at_us, index)),
                _ => None,
            })
            .collect();
        assert_eq!(healed, [(110_000, 0), (110_000, 1)]);
    }
}
