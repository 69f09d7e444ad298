//! A client of a three-node cluster that retries a refused connect to the node leading its
//! key (the leader restarting) but takes a timed-out one for the leader being gone for good,
//! and stops. The client asks the bootstrap node (`n1`) which node leads its key, closes
//! that connection, and dials the leader (`n3`, its first redial `c1~1`) for its answer. A
//! lost connection or a failed connect is dialled again, until the answer came. The bug: a
//! connect to the leader that times out (its SYNs lost behind a partition: a flapping link,
//! a black-holed route) ends the session, so the answer never comes (`answered`, checked
//! once every fault healed). The fix dials again after every failed connect.
//!
//! Only a connect to the leader that meets a dead path shows it: a partition of the leader's
//! path as the redial connects, longer than the connect timeout, or a crash of the leader
//! (a host that is down answers no SYN) for as long; a refusal fails the connect as refused,
//! and a cut timed by the bootstrap connection heals before the redial. The swarm cut a
//! client's host as a redial connects from a listening host drawn among the three, the
//! leader one time in three: caught in 61 of seeds 0..3000. It now cuts the host the redial
//! dials (`@peer`: the host its `proxy_via` returned, found as the fault fires; twenty-first
//! session): 110 of seeds 0..3000, first seed 3 (a crash) either way.

use crate::support::{assert_caught, assert_fix_passes_many, assert_plan_catches};
use crate::support::{assert_seed_shrinks_to, fault_after};
use tcpnotify::{ConnectFailure, TcpConnection, TcpConnectionNotify};
use tcpnotify_sim::fault::{Fault, FaultKind, FaultPlan, Trigger};
use tcpnotify_sim::run::SharedState;
use tcpnotify_sim::{factory, run_passing, run_state, Scenario, Seed};

/// The node the bootstrap node names as the key's leader.
const LEADER: u64 = 3;
/// A bound on the dials of a run that keeps failing, far above what any drawn fault takes
/// to heal.
const MAX_DIALS: u32 = 10_000;

/// The client's question to the bootstrap node, the node's answer (the leader's number as
/// its byte), the client's request to the leader, the leader's answer.
const WHO_LEADS: &[u8] = b"who";
const GET: &[u8] = b"get";
const ANSWER: &[u8] = b"val";

/// The client's session across its connections (the run's state).
#[derive(Debug, Default)]
struct Session {
    /// The leader, once the bootstrap node named it.
    leader: Option<u64>,
    answered: bool,
    dials: u32,
}

fn shared() -> SharedState<Session> {
    run_state::<Session>().expect("a simulated run")
}

/// The node a client dials: the bootstrap node, or the leader.
fn node(n: u64) -> String {
    format!("n{n}")
}

/// A node of the cluster: names the leader, and answers a request.
struct Node;

impl TcpConnectionNotify for Node {
    fn accepted(&mut self, conn: &mut TcpConnection) {
        let _ = conn.expect(3);
    }
    fn received(&mut self, conn: &mut TcpConnection, data: Vec<u8>, _times: usize) -> bool {
        match &data[..] {
            WHO_LEADS => conn.write(vec![LEADER as u8]),
            GET => conn.write(ANSWER.to_vec()),
            _ => {}
        }
        true
    }
    fn connect_failed(&mut self, _conn: &mut TcpConnection, _reason: ConnectFailure) {}
}

/// The client's end of one connection of the session: to the bootstrap node until the
/// leader is known, to the leader after.
struct Client {
    /// Whether a connect that timed out is dialled again (the fix).
    fixed: bool,
}

impl Client {
    /// Dials the leader once it is known, the bootstrap node before.
    fn again(&self, conn: &mut TcpConnection) {
        let session = shared();
        let mut session = session.lock();
        if session.answered || session.dials >= MAX_DIALS {
            return;
        }
        session.dials += 1;
        let n = session.leader.unwrap_or(1);
        drop(session);
        conn.dial(Client { fixed: self.fixed }, &node(n), "7000");
    }
}

impl TcpConnectionNotify for Client {
    fn connected(&mut self, conn: &mut TcpConnection) {
        match shared().lock().leader {
            None => {
                let _ = conn.expect(1);
                conn.write(WHO_LEADS.to_vec());
            }
            Some(_) => {
                let _ = conn.expect(3);
                conn.write(GET.to_vec());
            }
        }
    }
    fn received(&mut self, conn: &mut TcpConnection, data: Vec<u8>, _times: usize) -> bool {
        let session = shared();
        let mut session = session.lock();
        match &data[..] {
            ANSWER => session.answered = true,
            [leader] => session.leader = Some(u64::from(*leader)),
            _ => {}
        }
        drop(session);
        conn.dispose();
        true
    }
    fn closed(&mut self, conn: &mut TcpConnection) {
        self.again(conn);
    }
    fn connect_failed(&mut self, conn: &mut TcpConnection, reason: ConnectFailure) {
        let to_leader = shared().lock().leader.is_some();
        // The bug: a leader that does not answer the connect is taken for gone, and the
        // session, one connection at a time, ends without dialling again.
        if !self.fixed && to_leader && reason == ConnectFailure::TimedOut {
            return;
        }
        self.again(conn);
    }
}

/// The cluster of three nodes and the client, bootstrapping from `n1`.
fn cluster(fixed: bool) -> Scenario {
    let mut scenario = Scenario::new("leader-connect-timeout-gives-up");
    for n in 1..=3 {
        let name = format!("node{n}");
        scenario = scenario.listener(&name, &node(n), 7000, factory(|| Node));
    }
    scenario
        .client(
            "c1",
            "client",
            &node(1),
            7000,
            factory(move || Client { fixed }),
        )
        .duration_ms(3000)
        .eventually("answered", |run| {
            match run.state::<Session>().is_some_and(|s| s.lock().answered) {
                true => Ok(()),
                false => Err("the client never got its answer".to_string()),
            }
        })
}

/// The bug hides on a quiet network: the leader's connect succeeds.
#[test]
fn leader_connect_timeout_gives_up_passes_on_a_quiet_network() {
    run_passing(&cluster(false).plan(FaultPlan::quiet(Seed(1))), Seed(1));
}

/// A partition of the client from the leader as its redial `c1~1` connects, for longer than
/// the connect timeout, times that connect out.
#[test]
fn leader_connect_timeout_gives_up_is_caught_by_a_partition_by_hand() {
    let mut plan = FaultPlan::quiet(Seed(1));
    plan.connect_timeout_ms = 500;
    let cut = FaultKind::Partition {
        a: "client".into(),
        b: node(LEADER),
        duration_ms: 800,
        one_way: false,
    };
    plan.faults = vec![fault_after("c1~1", "connecting", 1, cut)];
    assert_plan_catches(&cluster(false), &cluster(true), &plan, "answered");
}

/// Whether `fault` is a partition of the path a redial of the client dials (`@peer`), timed
/// by that redial's `connecting`.
fn cut_as_a_redial_connects(fault: &Fault) -> bool {
    matches!(
        (&fault.trigger, &fault.kind),
        (Trigger::After(event), kind)
            if kind.names_peer() && event.conn.starts_with("c1~") && event.callback == "connecting"
    )
}

/// The swarm with no settings catches it first at seed 3 with a crash of the leader after
/// the bootstrap connection's 1st `received`: down for 674 ms, past the 414 ms connect
/// timeout, it answers no SYN of the redial.
#[test]
fn leader_connect_timeout_gives_up_is_caught_by_the_swarm() {
    let failure = assert_caught(&cluster(false), "answered");
    assert_eq!(failure.seed, Seed(3), "{failure}");
    let crash =
        |f: &Fault| matches!(&f.kind, FaultKind::Crash { host, .. } if *host == node(LEADER));
    assert!(failure.shrunk.plan.faults.iter().any(crash), "{failure}");
}

/// Seed 18, which the swarm missed while it cut a redial as it connects from a listening
/// host drawn (one of the three nodes, there not the leader), now fails on one fault: the
/// client cut from the host its redial dials (`@peer`) as that redial connects. The cut
/// catches 110 of seeds 0..3000 with the crashes, against 61 while a host was drawn.
#[test]
fn leader_connect_timeout_gives_up_is_caught_on_the_leaders_path_at_seed_18() {
    assert_seed_shrinks_to(
        &cluster(false),
        Seed(18),
        "answered",
        cut_as_a_redial_connects,
    );
}

/// A client that dials again after every failed connect passes the swarm (`TCPNOTIFY_SEEDS`
/// sweeps more).
#[test]
fn leader_connect_timed_out_dialled_again_passes_many_seeds() {
    assert_fix_passes_many(cluster(true));
}
