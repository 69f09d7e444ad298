//! A finished run as a scenario's properties read it ([`RunView`]): its trace, the shared
//! state its notifiers left, its assertions, how it ended and whether it reached its liveness
//! phase, and the end state of each connection ([`ConnectionEnd`]: what it sent and received,
//! how it ended, its counters, its dropped writes).

use crate::fault::FaultKind;
use crate::run::{
    Assertions, Ended, EventKind, Liveness, RunOutcome, SharedState, Trace, TraceEvent,
};
use crate::scenario::Scenario;
use crate::seed::Seed;
use std::collections::BTreeMap;
use tcpnotify::record::{Callback, Payload};
use tcpnotify::{ConnectFailure, ConnectionStats, Role};

/// How a connection ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ending {
    /// `closed` ran.
    Closed,
    /// `connect_failed` ran, for this reason.
    ConnectFailed(ConnectFailure),
    /// Its host crashed while it was open: it ended with no callback.
    Lost,
    /// It was still open when the run ended.
    Open,
}

/// One connection at the end of a run: a client or an accepted connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectionEnd {
    /// Its name in the trace (`c1`, `server.1`).
    pub name: String,
    /// The host it ran on.
    pub host: String,
    /// Client or accepted.
    pub role: Role,
    /// Bytes it queued for sending (what `sent` and `sentv` returned).
    pub sent_bytes: usize,
    /// Bytes `received` delivered to it.
    pub received_bytes: usize,
    /// Those bytes themselves, in order, when the run kept whole payloads
    /// ([`Scenario::keep_payloads`]); `None` otherwise.
    pub sent: Option<Vec<u8>>,
    /// The bytes delivered to it, in order, when the run kept whole payloads.
    pub received: Option<Vec<u8>>,
    /// How it ended.
    pub ending: Ending,
    /// Its counters as of its last callback (writes dropped, bytes sent and received), if it
    /// had a callback that carried the connection.
    pub stats: Option<ConnectionStats>,
    /// Its writes that rule W1 dropped, over the whole run (the trace's `W1 dropped` lines,
    /// also those sent after it ended).
    pub writes_dropped: u64,
}

impl ConnectionEnd {
    /// Whether it ended (closed, failed to connect, or lost with its host).
    pub fn is_finished(&self) -> bool {
        self.ending != Ending::Open
    }

    fn new(name: &str, host: &str, role: Role) -> Self {
        ConnectionEnd {
            name: name.to_string(),
            host: host.to_string(),
            role,
            sent_bytes: 0,
            received_bytes: 0,
            sent: Some(Vec::new()),
            received: Some(Vec::new()),
            ending: Ending::Open,
            stats: None,
            writes_dropped: 0,
        }
    }
}

/// Appends `payload`'s bytes to `data`, or forgets `data` when the payload kept only a
/// summary.
fn extend(data: &mut Option<Vec<u8>>, payload: &Payload) {
    match (data.as_mut(), payload.bytes()) {
        (Some(data), Some(bytes)) => data.extend_from_slice(bytes),
        _ => *data = None,
    }
}

/// A finished run, as the properties of its scenario see it.
///
/// ```
/// use tcpnotify_sim::judge::{Ending, RunView};
/// use tcpnotify_sim::run::run;
/// use tcpnotify_sim::{FaultPlan, Scenario, Seed};
/// let scenario = Scenario::echo("echo", 100, 10);
/// let outcome = run(&scenario, &FaultPlan::quiet(Seed(1))).unwrap();
/// let view = RunView::new(&scenario, &outcome);
/// let c1 = view.connection("c1").unwrap();
/// assert_eq!((c1.sent_bytes, c1.received_bytes, c1.ending), (100, 100, Ending::Closed));
/// assert_eq!(view.connection("server.1").unwrap().received_bytes, 100);
/// ```
pub struct RunView<'a> {
    scenario: &'a Scenario,
    outcome: &'a RunOutcome,
    events: Vec<TraceEvent>,
    connections: BTreeMap<String, ConnectionEnd>,
}

impl<'a> RunView<'a> {
    /// The view of `outcome`, a run of `scenario`.
    pub fn new(scenario: &'a Scenario, outcome: &'a RunOutcome) -> Self {
        let events = outcome.trace.events();
        let connections = connections(&events, outcome);
        RunView {
            scenario,
            outcome,
            events,
            connections,
        }
    }

    /// The scenario that ran.
    pub fn scenario(&self) -> &Scenario {
        self.scenario
    }

    /// The whole outcome (plan, trace, end, context).
    pub fn outcome(&self) -> &RunOutcome {
        self.outcome
    }

    /// The seed of the run.
    pub fn seed(&self) -> Seed {
        self.outcome.plan.seed
    }

    /// The run's trace.
    pub fn trace(&self) -> &Trace {
        &self.outcome.trace
    }

    /// Every event of the trace, in order (line `n` is `events()[n - 1]`).
    pub fn events(&self) -> &[TraceEvent] {
        &self.events
    }

    /// The run's shared value of type `T` ([`run_state`](crate::run_state)), if any code of
    /// the run asked for it.
    pub fn state<T: Send + 'static>(&self) -> Option<SharedState<T>> {
        self.outcome.context.state::<T>()
    }

    /// The run's assertions, by name.
    pub fn assertions(&self) -> &Assertions {
        self.outcome.context.assertions()
    }

    /// How the run ended.
    pub fn ended(&self) -> &Ended {
        &self.outcome.ended
    }

    /// Whether the run reached its liveness phase, and what it healed.
    pub fn liveness(&self) -> &Liveness {
        &self.outcome.liveness
    }

    /// Connection `name` (a client or an accepted connection) at the end, if it had a
    /// callback.
    pub fn connection(&self, name: &str) -> Option<&ConnectionEnd> {
        self.connections.get(name)
    }

    /// Every connection that had a callback, by name.
    pub fn connections(&self) -> impl Iterator<Item = &ConnectionEnd> {
        self.connections.values()
    }

    /// The scenario's clients that had a callback, in the scenario's order.
    pub fn clients(&self) -> impl Iterator<Item = &ConnectionEnd> {
        (self.scenario.clients.iter()).filter_map(|c| self.connections.get(&c.name))
    }
}

/// The end state of every connection of the trace.
fn connections(events: &[TraceEvent], outcome: &RunOutcome) -> BTreeMap<String, ConnectionEnd> {
    let mut all: BTreeMap<String, ConnectionEnd> = BTreeMap::new();
    for event in events {
        match &event.kind {
            EventKind::Callback { callback, .. } => {
                let role = match callback {
                    Callback::Listening(_)
                    | Callback::NotListening
                    | Callback::ListenerConnected { .. }
                    | Callback::ListenerClosed => continue,
                    Callback::Accepted => Role::Server,
                    _ => Role::Client,
                };
                let end = (all.entry(event.who.clone()))
                    .or_insert_with(|| ConnectionEnd::new(&event.who, &event.host, role));
                match callback {
                    Callback::Sent { result, .. } => {
                        end.sent_bytes += result.len();
                        extend(&mut end.sent, result);
                    }
                    Callback::Sentv { result, .. } => {
                        for chunk in result {
                            end.sent_bytes += chunk.len();
                            extend(&mut end.sent, chunk);
                        }
                    }
                    Callback::Received { data, .. } => {
                        end.received_bytes += data.len();
                        extend(&mut end.received, data);
                    }
                    Callback::Closed => end.ending = Ending::Closed,
                    Callback::ConnectFailed(reason) => end.ending = Ending::ConnectFailed(*reason),
                    _ => {}
                }
            }
            EventKind::WriteDropped { .. } => {
                if let Some(end) = all.get_mut(&event.who) {
                    end.writes_dropped += 1;
                }
            }
            EventKind::Fault { index, description } if !description.starts_with("restarted ") => {
                // A crash ends the open connections of its host with no callback.
                if let Some(FaultKind::Crash { host, .. }) =
                    outcome.plan.faults.get(*index).map(|f| &f.kind)
                {
                    for end in all.values_mut().filter(|e| &e.host == host) {
                        if end.ending == Ending::Open {
                            end.ending = Ending::Lost;
                        }
                    }
                }
            }
            _ => {}
        }
    }
    for end in all.values_mut() {
        end.stats = outcome.context.stats(&end.name);
    }
    all
}
