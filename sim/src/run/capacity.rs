//! turmoil's capacities for one run, chosen from the scenario and its plan, and the limits of
//! the simulated network that no setting raises. Every capacity decision of the simulator is
//! made here.
//!
//! turmoil 0.7.2 has one TCP capacity, `tcp_capacity` (default 64), and uses it three ways:
//! - the SYNs a listening port holds before its listener accepts them: one more panics inside
//!   turmoil ("server socket buffer full"). All the SYNs of one simulation step arrive before
//!   the listening host runs, so no accept loop, however eager, keeps ahead of 65 clients
//!   dialling at once;
//! - the segments a stream's receive channel holds: a FIN that finds it full is never
//!   delivered;
//! - a stream's send credits: a write beyond them would block.
//!
//! The capacity is therefore at least [`TCP_CAPACITY`], which keeps a slot for the FIN however
//! many segments the fault layer lets a writer have in flight (`fault::layer`), and at least
//! the number of SYNs that may wait at once in one listener's backlog, an attempt being one
//! turmoil connect, one SYN. A scenario's clients make one per address each resolves, and one
//! more each time a crash or a restart of its host loses that SYN, as it is then sent again
//! (`fault::network`); but any notifier may dial more (`TcpConnection::dial`, from any
//! callback, as often as it likes: a load generator opening thousands of connections from one
//! `connected`), which no scenario tells. What bounds them is the ports: every attempt holds
//! an ephemeral port of its host while it waits, so no more SYNs wait anywhere than
//! [`EPHEMERAL_PORTS`] for each host that runs a notifier ([`tcp_capacity`]). A listener's
//! backlog can then never overflow, even when it is at its connection limit (N3) and accepts
//! nothing: peers wait for it, however long. tokio's channels allocate their slots only as
//! they fill, and turmoil's flow control is a counter, so a large capacity costs nothing up
//! front; and as the fault layer never lets more than [`TCP_CAPACITY`] segments be in flight,
//! a larger one changes nothing else.
//!
//! A real limit: turmoil gives each host the ephemeral ports 49152 to 65535, and a port stays
//! taken for the life of the simulation once a connect attempt used it (turmoil never frees
//! the socket of a refused or abandoned attempt). A host that could make more attempts than
//! that is refused before the run starts ([`LimitError::EphemeralPorts`]), rather than
//! panicking inside turmoil ("ports exhausted") halfway through. The connections notifiers
//! dial are not known before the run: a host that dials more than its ports at once, or leaks
//! them through many refused or abandoned attempts, still makes turmoil panic, and the run
//! ends with that limit named ([`LimitError::EphemeralPortsUsed`]) and no verdict, as an error
//! of the simulator rather than a failed `no_panic`. Failing such a connect as a kernel would
//! (`AddrNotAvailable`) needs the count of the ports turmoil holds, which it does not show
//! (a reset it receives frees a port at a moment the stack sees only later).

use crate::fault::MAX_SEGMENTS_IN_FLIGHT;
use crate::fault::{FaultKind, FaultPlan};
use crate::scenario::Scenario;
use std::collections::{BTreeMap, BTreeSet};

/// The turmoil `tcp_capacity` (`Builder::tcp_capacity`) the fault layer needs: one slot more
/// than the segments a direction may have in flight, so a stream's receive channel, which
/// holds only unread segments, always has room for the FIN; turmoil's own send credits, as
/// many, then never hold a write back before the fault layer does.
///
/// turmoil also bounds each listener's backlog by it. tokio's channels allocate their slots as
/// they fill, so a large capacity costs nothing until segments are actually outstanding.
pub(crate) const TCP_CAPACITY: usize = MAX_SEGMENTS_IN_FLIGHT + 1;

pub use crate::validate::EPHEMERAL_PORTS;

/// The turmoil `tcp_capacity` a run sets when `dialling_hosts` hosts run notifiers: the FIN's
/// slot past the fault layer's segments, and a backlog that holds every SYN those hosts can
/// send at once (each holds one of its host's [`EPHEMERAL_PORTS`] while it waits), whether a
/// scenario's client or a notifier dials it. A simulation written on turmoil directly (the
/// benches' raw baseline) sets the same with it.
pub fn tcp_capacity(dialling_hosts: usize) -> usize {
    EPHEMERAL_PORTS
        .saturating_mul(dialling_hosts)
        .max(TCP_CAPACITY)
}

/// A limit of the simulated network that a scenario exceeds.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LimitError {
    /// One host could make more connect attempts (each from a port of its own) than it has
    /// ephemeral ports.
    #[error(
        "host {host:?} may dial {attempts} connect attempts, but a simulated host has \
         {EPHEMERAL_PORTS} ephemeral ports: spread the clients over more hosts (the `host` of \
         each client)"
    )]
    EphemeralPorts {
        /// The client host.
        host: String,
        /// The most connect attempts it could make in the run.
        attempts: usize,
    },
    /// One host's notifiers dialled (`TcpConnection::dial`) when every one of its ephemeral
    /// ports was taken, which no scenario tells before the run: turmoil panicked ("ports
    /// exhausted"), where a kernel would have failed the connect.
    #[error(
        "host {host:?} used all its {EPHEMERAL_PORTS} ephemeral ports (turmoil never frees \
         the port of a refused or abandoned connect attempt): dial fewer connections at once \
         from its notifiers, or redial a refusing peer less often"
    )]
    EphemeralPortsUsed {
        /// The host whose ports ran out.
        host: String,
    },
}

impl LimitError {
    /// The limit a panic of turmoil's says the run reached, from `panic` as the panic hook
    /// shows it (`panicked at FILE:LINE:COLUMN:\nMESSAGE`), or `None` for any other panic.
    /// turmoil 0.7.2 panics in its `host.rs` with "Host: 'HOST' ports exhausted" when a
    /// connect finds no ephemeral port free; the file tells it from a notifier's panic of the
    /// same words.
    pub(crate) fn reached_in(panic: &str) -> Option<LimitError> {
        let (location, message) = panic.strip_prefix("panicked at ")?.split_once(":\n")?;
        let file = location.rsplitn(3, ':').nth(2)?;
        if !file.contains("turmoil") || !file.ends_with("host.rs") {
            return None;
        }
        let host = message
            .strip_prefix("Host: '")?
            .strip_suffix("' ports exhausted")?;
        Some(LimitError::EphemeralPortsUsed {
            host: host.to_string(),
        })
    }
}

/// The turmoil capacities of one run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Capacities {
    /// The most connect attempts (SYNs) the scenario's clients can make, over every client
    /// (not counting the connections notifiers dial).
    pub(crate) connect_attempts: usize,
    /// turmoil's `tcp_capacity`: SYN backlog per port, receive channel and send credits per
    /// stream, in segments.
    pub(crate) tcp: usize,
}

/// How many hosts run a notifier of `scenario` (a client's, a listener's): each may dial, from
/// its callbacks, as many connections as it has ephemeral ports, which no scenario tells.
fn dialling_hosts(scenario: &Scenario) -> usize {
    let clients = scenario.clients.iter().map(|c| c.host.as_str());
    let listeners = scenario.listeners.iter().map(|l| l.host.as_str());
    clients.chain(listeners).collect::<BTreeSet<&str>>().len()
}

impl Capacities {
    /// The capacities `scenario` needs under `plan`, or the limit it exceeds.
    pub(crate) fn for_run(scenario: &Scenario, plan: &FaultPlan) -> Result<Capacities, LimitError> {
        let crashes = crashes_per_host(plan);
        let mut per_host: BTreeMap<&str, usize> = BTreeMap::new();
        let mut total = 0usize;
        // One SYN per address, and one more after each crash and each restart of its host.
        let attempts_to = |host: &str| {
            let resends = crashes.get(host).copied().unwrap_or(0).saturating_mul(2);
            resends.saturating_add(1)
        };
        for client in &scenario.clients {
            // Summed where the addresses are, not collected first: that was an allocation per
            // client.
            let attempts = match scenario.names.get(&client.target) {
                Some(hosts) => {
                    (hosts.iter()).fold(0usize, |sum, host| sum.saturating_add(attempts_to(host)))
                }
                None => attempts_to(&client.target),
            };
            let on_host = per_host.entry(client.host.as_str()).or_default();
            *on_host = on_host.saturating_add(attempts);
            total = total.saturating_add(attempts);
        }
        if let Some((host, attempts)) = per_host.into_iter().find(|(_, n)| *n > EPHEMERAL_PORTS) {
            return Err(LimitError::EphemeralPorts {
                host: host.to_string(),
                attempts,
            });
        }
        Ok(Capacities {
            connect_attempts: total,
            tcp: tcp_capacity(dialling_hosts(scenario)),
        })
    }

    /// Sets these capacities on a simulation being built.
    pub(crate) fn apply(&self, builder: &mut turmoil::Builder) {
        builder.tcp_capacity(self.tcp);
    }
}

/// How many times the plan crashes each host (a `*` host crashes none: only partitions take
/// it).
fn crashes_per_host(plan: &FaultPlan) -> BTreeMap<&str, usize> {
    let mut crashes = BTreeMap::new();
    for fault in &plan.faults {
        if let FaultKind::Crash { host, .. } = &fault.kind {
            *crashes.entry(host.as_str()).or_default() += 1;
        }
    }
    crashes
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fault::Fault;
    use crate::scenario::factory;
    use crate::scenario::notifiers::Echo;
    use crate::seed::Seed;

    fn clients(n: usize, host: &str) -> Scenario {
        (0..n).fold(
            Scenario::new("many").listener("server", "server", 7000, factory(|| Echo)),
            |s, i| s.client(&format!("c{i}"), host, "server", 7000, factory(|| Echo)),
        )
    }

    #[test]
    fn the_backlog_holds_every_connect_attempt_of_the_run() {
        let quiet = FaultPlan::quiet(Seed(1));
        let small = Capacities::for_run(&Scenario::echo("echo", 16, 16), &quiet).unwrap();
        assert_eq!(small.connect_attempts, 1);
        let caps = Capacities::for_run(&clients(1000, "client"), &quiet).unwrap();
        assert_eq!(caps.connect_attempts, 1000);
        // A name of two addresses dials both.
        let named = clients(100, "client").name("svc", &["server", "server2"]);
        let named = named.client("c-svc", "client", "svc", 7000, factory(|| Echo));
        assert_eq!(
            Capacities::for_run(&named, &quiet)
                .unwrap()
                .connect_attempts,
            102
        );
        // A crash of the target, and its restart, may each lose a SYN that is sent again.
        let crashing = FaultPlan {
            faults: vec![Fault::at(
                5,
                FaultKind::Crash {
                    host: "server".into(),
                    restart_after_ms: Some(10),
                },
            )],
            ..quiet
        };
        let caps = Capacities::for_run(&clients(100, "client"), &crashing).unwrap();
        assert_eq!(caps.connect_attempts, 300);
    }

    #[test]
    fn the_backlog_holds_every_syn_the_hosts_running_notifiers_can_send() {
        let quiet = FaultPlan::quiet(Seed(1));
        // A client and a server: either may dial as many connections as it has ports.
        let small = Capacities::for_run(&Scenario::echo("echo", 16, 16), &quiet).unwrap();
        assert_eq!(small.tcp, 2 * EPHEMERAL_PORTS);
        // Clients sharing a host add no host.
        let caps = Capacities::for_run(&clients(1000, "client"), &quiet).unwrap();
        assert_eq!(caps.tcp, 2 * EPHEMERAL_PORTS);
        assert!(caps.tcp > TCP_CAPACITY);
        // However few hosts dial, a stream's receive channel keeps a slot for the FIN past
        // every segment the fault layer lets be in flight.
        assert!(tcp_capacity(0) > MAX_SEGMENTS_IN_FLIGHT);
    }

    #[test]
    fn turmoil_running_out_of_a_hosts_ports_is_a_limit_and_other_panics_are_not() {
        let turmoil = "/home/u/.cargo/registry/src/index.crates.io-1949cf8c6b5b557f/\
                       turmoil-0.7.2/src/host.rs:116:9";
        let panic = |location: &str, message: &str| format!("panicked at {location}:\n{message}");
        assert_eq!(
            LimitError::reached_in(&panic(turmoil, "Host: 'client' ports exhausted")),
            Some(LimitError::EphemeralPortsUsed {
                host: "client".into()
            })
        );
        // The same words from a notifier, or another panic of turmoil's, are not the limit.
        let notifier = "tests/simulation/dial.rs:12:5";
        assert_eq!(
            LimitError::reached_in(&panic(notifier, "Host: 'client' ports exhausted")),
            None
        );
        let full = "192.168.0.1:7000 server socket buffer full";
        assert_eq!(LimitError::reached_in(&panic(turmoil, full)), None);
        // Only turmoil's own `host.rs` says it: not a notifier's file of that name, nor
        // another file of turmoil's.
        let notifiers_host = "tests/simulation/host.rs:3:9";
        let turmoils_other = turmoil.replace("host.rs", "world.rs");
        for location in [notifiers_host, turmoils_other.as_str()] {
            let words = panic(location, "Host: 'client' ports exhausted");
            assert_eq!(LimitError::reached_in(&words), None, "{location}");
        }
        let err = LimitError::EphemeralPortsUsed {
            host: "client".into(),
        };
        assert!(err.to_string().contains("16384 ephemeral ports"), "{err}");
    }

    #[test]
    fn a_host_with_more_attempts_than_ephemeral_ports_is_refused_before_running() {
        let quiet = FaultPlan::quiet(Seed(1));
        let err = Capacities::for_run(&clients(EPHEMERAL_PORTS + 1, "client"), &quiet).unwrap_err();
        assert_eq!(
            err,
            LimitError::EphemeralPorts {
                host: "client".into(),
                attempts: EPHEMERAL_PORTS + 1
            }
        );
        assert!(
            err.to_string().contains("the `host` of each client"),
            "{err}"
        );
        assert!(Capacities::for_run(&clients(EPHEMERAL_PORTS, "client"), &quiet).is_ok());
    }
}
