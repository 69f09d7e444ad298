//! A client of a three-node key-value cluster that abandons a request whose reply is late
//! and sends the next one on the same connection, so the late reply is read as the next
//! request's: redis-py before 4.5.4 (CVE-2023-28858 and CVE-2023-28859, the ChatGPT outage of
//! 20 March 2023), where a command cancelled after it was sent left its reply on the pooled
//! connection for the next command to read. The client asks the bootstrap node (`n1`) which
//! node leads its key, closes that connection, and dials the leader (`n3`, the client's
//! first redial `c1~1`): there it sends 50 requests, one at a time, each given 100 ms for
//! its reply before the next is sent. A lost connection to the leader is dialled again and
//! the requests go on; a request that got no reply counts as unanswered. Replies carry no
//! request id (as RESP's do not), and the value of request `q` is [`value`]`(q)`. The bug:
//! a reply is taken for the request sent last, so a reply held past its timeout is recorded
//! as the next request's (`replies-right`). The fix, redis-py's: a connection whose request
//! timed out is closed, and nothing more is read from it.
//!
//! Only a stall of the path between the client and the leader while the connection stays up
//! shows it (a partition: a congested or flapping link), in the session on the leader: a
//! crash of the leader or a reset loses the late reply with its connection, a cut before the
//! session holds its connect, not a reply, and a cut of the path to another node holds
//! nothing of it. The swarm cut a later session (a redial's, after one of its `sent` or
//! `received`) from a listening host drawn among the three, the leader one time in three:
//! caught in 33 of seeds 0..3000. It now cuts the path the redial uses (`@peer`, the host at
//! the other end of the redial, found as the fault fires; twentieth session): 98 of seeds
//! 0..3000, the 33 among them.

use crate::support::{assert_caught_within, assert_fix_passes_many, assert_plan_catches};
use crate::support::{assert_seed_shrinks_to, fault_after, Budget};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tcpnotify::{ConnectFailure, TcpConnection, TcpConnectionNotify};
use tcpnotify_sim::fault::{Fault, FaultKind, FaultPlan, Trigger};
use tcpnotify_sim::run::SharedState;
use tcpnotify_sim::{factory, run_passing, run_state, Scenario, Seed};

/// Requests sent to the leader, one every [`TIMEOUT_MS`] at most.
const REQUESTS: u64 = 50;
/// How long a request waits for its reply before it is abandoned.
const TIMEOUT_MS: u64 = 100;
/// The node the bootstrap node names as the key's leader.
const LEADER: u64 = 3;
/// A bound on the dials of a run that keeps failing, far above what any drawn fault takes
/// to heal.
const MAX_DIALS: u32 = 10_000;

/// What a message is: the client asks who leads its key or for the value of a request; a
/// node names the leader or replies with a value. Each message is a tag and a number, 16
/// bytes.
const WHO_LEADS: u64 = 1;
const LEADER_IS: u64 = 2;
const GET: u64 = 3;
const REPLY: u64 = 4;

fn message(tag: u64, number: u64) -> Vec<u8> {
    [tag.to_be_bytes(), number.to_be_bytes()].concat()
}

/// A message's tag and number.
fn parsed(data: &[u8]) -> (u64, u64) {
    let (tag, number) = data.split_at(8);
    let read = |b: &[u8]| u64::from_be_bytes(b.try_into().unwrap_or_default());
    (read(tag), read(number))
}

/// The value a node replies to request `q` with.
fn value(q: u64) -> u64 {
    q * 1000 + 7
}

/// The node a client dials: the bootstrap node, or the leader.
fn node(n: u64) -> String {
    format!("n{n}")
}

/// The client's session across its connections (the run's state).
#[derive(Debug, Default)]
struct Session {
    /// The leader, once the bootstrap node named it.
    leader: Option<u64>,
    /// The last request sent (0: none yet).
    sent: u64,
    /// Each reply recorded: the request it was taken for, and the value.
    replies: Vec<(u64, u64)>,
    done: bool,
    dials: u32,
}

impl Session {
    /// Whether request `q` has its reply recorded.
    fn replied(&self, q: u64) -> bool {
        self.replies.last().is_some_and(|(r, _)| *r == q)
    }
}

/// The run's session; asked from callbacks, which run inside the run.
fn shared() -> SharedState<Session> {
    run_state::<Session>().expect("a simulated run")
}

/// A node of the cluster: names the leader, and replies to each request with its value.
struct Node;

impl TcpConnectionNotify for Node {
    fn accepted(&mut self, conn: &mut TcpConnection) {
        let _ = conn.expect(16);
    }
    fn received(&mut self, conn: &mut TcpConnection, data: Vec<u8>, _times: usize) -> bool {
        match parsed(&data) {
            (WHO_LEADS, _) => conn.write(message(LEADER_IS, LEADER)),
            (GET, q) => conn.write(message(REPLY, value(q))),
            _ => {}
        }
        true
    }
    fn connect_failed(&mut self, _conn: &mut TcpConnection, _reason: ConnectFailure) {}
}

/// Which node a client's connection talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Role {
    /// The bootstrap node, asked who leads the key.
    Bootstrap,
    /// The leader, sent the requests.
    Leader,
}

/// The client's end of one connection of the session.
struct Client {
    /// Whether a connection whose request timed out is closed and read no more (the fix).
    fixed: bool,
    role: Role,
    /// Set when the fix gives up on this connection: its late replies are not read.
    abandoned: Arc<AtomicBool>,
}

impl Client {
    fn new(fixed: bool, role: Role) -> Self {
        Client {
            fixed,
            role,
            abandoned: Arc::default(),
        }
    }

    /// Sends the remaining requests from a task, each after the last one's reply came or
    /// timed out, then disposes of the connection.
    fn send_requests(&self, conn: &mut TcpConnection) {
        let session = shared();
        let handle = conn.handle();
        let (fixed, abandoned) = (self.fixed, Arc::clone(&self.abandoned));
        tokio::spawn(async move {
            loop {
                if handle.is_finished() {
                    return;
                }
                let q = {
                    let mut session = session.lock();
                    if session.sent == REQUESTS {
                        session.done = true;
                        break;
                    }
                    session.sent += 1;
                    session.sent
                };
                handle.write(message(GET, q));
                tokio::time::sleep(Duration::from_millis(TIMEOUT_MS)).await;
                // The fix: a timed-out request's reply may still come; not on this connection.
                if fixed && !session.lock().replied(q) {
                    abandoned.store(true, Ordering::Relaxed);
                    break;
                }
            }
            handle.dispose();
        });
    }

    /// Dials the leader once it is known, the bootstrap node before.
    fn again(&self, conn: &mut TcpConnection) {
        let session = shared();
        let mut session = session.lock();
        if session.done || session.dials >= MAX_DIALS {
            return;
        }
        session.dials += 1;
        let (role, n) = match session.leader {
            Some(leader) => (Role::Leader, leader),
            None => (Role::Bootstrap, 1),
        };
        drop(session);
        conn.dial(Client::new(self.fixed, role), &node(n), "7000");
    }
}

impl TcpConnectionNotify for Client {
    fn connected(&mut self, conn: &mut TcpConnection) {
        let _ = conn.expect(16);
        match self.role {
            Role::Bootstrap => conn.write(message(WHO_LEADS, 0)),
            Role::Leader => self.send_requests(conn),
        }
    }
    fn received(&mut self, conn: &mut TcpConnection, data: Vec<u8>, _times: usize) -> bool {
        match parsed(&data) {
            (LEADER_IS, leader) => {
                shared().lock().leader = Some(leader);
                conn.dispose();
            }
            (REPLY, v) if !self.abandoned.load(Ordering::Relaxed) => {
                let session = shared();
                let mut session = session.lock();
                // The bug: a reply is taken for the request sent last, whichever it answers.
                let q = session.sent;
                session.replies.push((q, v));
            }
            _ => {}
        }
        true
    }
    fn closed(&mut self, conn: &mut TcpConnection) {
        self.again(conn);
    }
    fn connect_failed(&mut self, conn: &mut TcpConnection, _reason: ConnectFailure) {
        self.again(conn);
    }
}

/// The cluster of three nodes and the client, bootstrapping from `n1`.
fn cluster(fixed: bool) -> Scenario {
    let mut scenario = Scenario::new("timed-out-reply-read-by-next");
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
            factory(move || Client::new(fixed, Role::Bootstrap)),
        )
        .duration_ms(8000)
        // Room for the whole session once every fault healed: a correct client that the
        // faults held back to its first request at the end of the active duration.
        .settle_ms(REQUESTS * TIMEOUT_MS + 1000)
        .property("replies-right", |run| {
            let session = run.state::<Session>().expect("the session");
            let session = session.lock();
            match session.replies.iter().find(|(q, v)| *v != value(*q)) {
                Some((q, v)) => Err(format!("request {q} took the value {v}")),
                None => Ok(()),
            }
        })
        .eventually("all-sent", |run| {
            match run.state::<Session>().is_some_and(|s| s.lock().done) {
                true => Ok(()),
                false => Err("the client never sent its last request".to_string()),
            }
        })
}

/// The bug hides on a quiet network: every reply comes in time.
#[test]
fn timed_out_reply_read_by_next_passes_on_a_quiet_network() {
    run_passing(&cluster(false).plan(FaultPlan::quiet(Seed(1))), Seed(1));
}

/// A partition of the client from the leader for 300 ms after the leader connection's 5th
/// `sent` (its 5th request) holds the reply past its timeout.
#[test]
fn timed_out_reply_read_by_next_is_caught_by_a_partition_by_hand() {
    let mut plan = FaultPlan::quiet(Seed(1));
    let cut = FaultKind::Partition {
        a: "client".into(),
        b: node(LEADER),
        duration_ms: 300,
        one_way: false,
    };
    plan.faults = vec![fault_after("c1~1", "sent", 5, cut)];
    assert_plan_catches(&cluster(false), &cluster(true), &plan, "replies-right");
}

/// Whether `fault` is a partition of the path a redial of the client uses (`@peer`), timed
/// by that redial's `sent` or `received`: a cut in a later session.
fn cut_of_a_redials_path(fault: &Fault) -> bool {
    matches!(
        (&fault.trigger, &fault.kind),
        (Trigger::After(event), kind) if kind.names_peer() && event.conn.starts_with("c1~")
    )
}

/// The swarm with no settings catches it with a partition of the leader's path timed by a
/// session on the leader: first at seed 4, a cut of the fifth connection `c1~5` after four
/// losses (a crash of the bootstrap node, resets of `c1~2` and `c1~3`, a crash of the
/// leader), each needed to reach it, as the shrinker removes faults and never moves one: so
/// this test allows five.
#[test]
fn timed_out_reply_read_by_next_is_caught_by_the_swarm() {
    let budget = Budget {
        shrunk_causes: 5,
        ..Budget::default()
    };
    let failure = assert_caught_within(&cluster(false), "replies-right", budget);
    assert_eq!(failure.seed, Seed(4), "{failure}");
    let faults = &failure.shrunk.plan.faults;
    assert!(faults.iter().any(cut_of_a_redials_path), "{failure}");
}

/// Seed 5, which the swarm missed while it cut a later session from a listening host drawn
/// (one of the three nodes, there not the leader), now fails on one fault: the client cut
/// from its leader (`@peer`) after the leader connection's 1st `received`.
#[test]
fn timed_out_reply_read_by_next_is_caught_on_the_leaders_path_at_seed_5() {
    assert_seed_shrinks_to(
        &cluster(false),
        Seed(5),
        "replies-right",
        cut_of_a_redials_path,
    );
}

/// A connection closed when its request timed out passes the swarm (`TCPNOTIFY_SEEDS` sweeps
/// more).
#[test]
fn timed_out_connection_closed_passes_many_seeds() {
    assert_fix_passes_many(cluster(true));
}
