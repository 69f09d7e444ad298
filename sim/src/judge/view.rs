//! A finished run as a scenario's properties read it ([`RunView`]): its trace, the shared
//! state its notifiers left, its assertions, how it ended and whether it reached its liveness
//! phase, and the end state of each connection ([`ConnectionEnd`]: what it sent and received,
//! how it ended, its counters, its dropped writes) and of its peer.

use crate::run::{
    tally, Assertions, Ended, Ending, EventKind, Liveness, RunOutcome, SharedState, Tally, Trace,
    TraceEvent,
};
use crate::scenario::Scenario;
use crate::seed::Seed;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, OnceLock};
use tcpnotify::{ConnectionStats, Role};

/// One connection at the end of a run: a client or an accepted connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectionEnd {
    /// Its name in the trace (`c1`, `server.1`).
    pub name: String,
    /// The host it ran on.
    pub host: String,
    /// Client or accepted.
    pub role: Role,
    /// Bytes it sent, that went out: what its `sent` and `sentv` returned and what it queued
    /// with `write_final`, less what W1 dropped or a close at once discarded of them
    /// ([`Tally::sent`]).
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

    /// Connection `name` as the run's [`tally`] summed it, with its counters from the run's
    /// context; `None` for a listener.
    fn of(name: String, tally: Tally, outcome: &RunOutcome) -> Option<Self> {
        Some(ConnectionEnd {
            stats: outcome.context.stats(&name),
            name,
            host: tally.host,
            role: tally.role?,
            sent_bytes: tally.sent,
            received_bytes: tally.received,
            sent: tally.sent_data,
            received: tally.received_data,
            ending: tally.ending,
            writes_dropped: tally.writes_dropped,
        })
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
    events: Arc<Vec<TraceEvent>>,
    connections: BTreeMap<String, ConnectionEnd>,
    /// Each connection's peer, by name: paired when first asked for ([`peer`](Self::peer)),
    /// as only a failure's message and some properties need it.
    peers: OnceLock<BTreeMap<String, String>>,
}

impl<'a> RunView<'a> {
    /// The view of `outcome`, a run of `scenario`. It reads the trace's events without
    /// copying them.
    pub fn new(scenario: &'a Scenario, outcome: &'a RunOutcome) -> Self {
        let events = outcome.trace.shared_events();
        let connections = connections(&events, outcome);
        RunView {
            scenario,
            outcome,
            events,
            connections,
            peers: OnceLock::new(),
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

    /// The connection at the other end of connection `name` (`server.1` of client `c1`, and
    /// `c1` of `server.1`): the one whose local and peer addresses, as its callbacks in the
    /// trace carry them, are `name`'s swapped. `None` if either end had no callback with its
    /// addresses (a connect that failed has no peer).
    ///
    /// ```
    /// use tcpnotify_sim::judge::RunView;
    /// use tcpnotify_sim::run::run;
    /// use tcpnotify_sim::{FaultPlan, Scenario, Seed};
    /// let scenario = Scenario::echo("echo", 100, 10);
    /// let outcome = run(&scenario, &FaultPlan::quiet(Seed(1))).unwrap();
    /// let view = RunView::new(&scenario, &outcome);
    /// assert_eq!(view.peer("c1").map(|p| p.name.as_str()), Some("server.1"));
    /// assert_eq!(view.peer("server.1").map(|p| p.name.as_str()), Some("c1"));
    /// ```
    pub fn peer(&self, name: &str) -> Option<&ConnectionEnd> {
        let peers = (self.peers).get_or_init(|| peers(&self.events, &self.connections));
        self.connections.get(peers.get(name)?)
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

/// The end state of every connection of the trace (not the listeners).
fn connections(events: &[TraceEvent], outcome: &RunOutcome) -> BTreeMap<String, ConnectionEnd> {
    (tally(events, &outcome.plan).into_iter())
        .filter_map(|(name, t)| Some((name.clone(), ConnectionEnd::of(name, t, outcome)?)))
        .collect()
}

/// The peer of each of `connections` that has one, by name: the two ends of a connection are
/// paired by their addresses, one's local address being the other's peer address, from the
/// first of each one's callbacks in `events` that carries them. Addresses two connections
/// of the run had (a port used again after a host's restart) pair neither: which one met
/// which cannot be told from them.
fn peers(
    events: &[TraceEvent],
    connections: &BTreeMap<String, ConnectionEnd>,
) -> BTreeMap<String, String> {
    let mut addresses: BTreeMap<&str, (SocketAddr, SocketAddr)> = BTreeMap::new();
    for event in events {
        let EventKind::Callback {
            local: Some(local),
            remote: Some(remote),
            ..
        } = &event.kind
        else {
            continue;
        };
        let who = event.who.as_str();
        if connections.contains_key(who) {
            addresses.entry(who).or_insert((*local, *remote));
        }
    }
    let names: Vec<&str> = addresses.keys().copied().collect();
    let ends: Vec<_> = addresses.values().copied().map(Some).collect();
    (names.iter().zip(pair_by_addresses(&ends)))
        .filter_map(|(who, peer)| Some((who.to_string(), names[peer?].to_string())))
        .collect()
}

/// For each of `ends` (a connection end's local and peer address, if known), the index of the
/// end whose addresses are its own swapped: the two ends of one connection. Addresses more
/// than one end had (a port used again after a host's restart) pair none of them, as which
/// met which cannot be told from them. The judge's [`RunView::peer`] and the timeline's
/// lanes pair by it.
pub(crate) fn pair_by_addresses(ends: &[Option<(SocketAddr, SocketAddr)>]) -> Vec<Option<usize>> {
    // `None` for addresses more than one end had.
    let mut by_addresses: BTreeMap<(SocketAddr, SocketAddr), Option<usize>> = BTreeMap::new();
    for (i, addresses) in ends.iter().enumerate() {
        if let Some(addresses) = addresses {
            by_addresses
                .entry(*addresses)
                .and_modify(|one| *one = None)
                .or_insert(Some(i));
        }
    }
    let only = |ends: (SocketAddr, SocketAddr)| by_addresses.get(&ends).copied().flatten();
    (ends.iter().enumerate())
        .map(|(i, addresses)| {
            let (local, remote) = (*addresses)?;
            only((local, remote))?;
            only((remote, local)).filter(|&peer| peer != i)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use tcpnotify::record::Callback;

    fn end(name: &str) -> (String, ConnectionEnd) {
        let end = ConnectionEnd {
            name: name.into(),
            host: "h".into(),
            role: Role::Client,
            sent_bytes: 0,
            received_bytes: 0,
            sent: None,
            received: None,
            ending: Ending::Closed,
            stats: None,
            writes_dropped: 0,
        };
        (name.into(), end)
    }

    fn connected(who: &str, local: &str, remote: &str) -> TraceEvent {
        TraceEvent {
            at_us: 0,
            host: "h".into(),
            who: who.into(),
            kind: EventKind::Callback {
                callback: Callback::Connected,
                local: Some(local.parse().unwrap()),
                remote: Some(remote.parse().unwrap()),
            },
        }
    }

    /// A port used again (a client host restarted) gives two connections the same addresses:
    /// neither is paired, where the last would have been named the peer of both ends.
    #[test]
    fn ends_pair_by_swapped_addresses_unless_two_connections_had_them() {
        let (a, b) = ("10.0.0.1:49152", "10.0.0.2:7000");
        let connections = ["c1", "server.1", "c2", "server.2", "c3", "server.3"]
            .into_iter()
            .map(end)
            .collect();
        let events = [
            connected("c1", a, b),
            connected("server.1", b, a),
            connected("c2", "10.0.0.1:49153", b),
            connected("server.2", b, "10.0.0.1:49153"),
            // c3 had c1's port after a restart.
            connected("c3", a, b),
            connected("server.3", b, a),
        ];
        let peers = peers(&events, &connections);
        let pairs: Vec<(&str, &str)> = (peers.iter())
            .map(|(who, peer)| (who.as_str(), peer.as_str()))
            .collect();
        assert_eq!(pairs, [("c2", "server.2"), ("server.2", "c2")]);
    }

    /// A view lists the scenario's clients in the scenario's order, not the servers'
    /// connections, and holds the run's assertions, declared ones too.
    #[test]
    fn a_view_lists_the_clients_in_order_and_the_run_s_assertions() {
        use crate::notifiers::Sender;
        use crate::{factory, FaultPlan};
        // c1 first, then c0: the scenario's order is not the names' order.
        let scenario = Scenario::echo("two", 10, 10)
            .client(
                "c0",
                "client",
                "server",
                7000,
                factory(|| Sender::pattern(10)),
            )
            .sometimes("reconnected");
        let outcome = crate::run::run(&scenario, &FaultPlan::quiet(Seed(1))).expect("runs");
        let view = RunView::new(&scenario, &outcome);
        let clients: Vec<&str> = view.clients().map(|c| c.name.as_str()).collect();
        assert_eq!(clients, ["c1", "c0"]);
        assert!(view.assertions().get("reconnected").is_some(), "declared");
    }

    /// A connection still open when the run ended is the one kind that did not finish.
    #[test]
    fn only_a_connection_left_open_is_unfinished() {
        let (_, mut c1) = end("c1");
        let failed = Ending::ConnectFailed(tcpnotify::ConnectFailure::Refused);
        for (ending, finished) in [
            (Ending::Closed, true),
            (failed, true),
            (Ending::Lost, true),
            (Ending::Open, false),
        ] {
            c1.ending = ending;
            assert_eq!(c1.is_finished(), finished, "{ending:?}");
        }
    }
}
