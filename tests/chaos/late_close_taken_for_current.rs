//! A client that takes the late `closed` of a connection it is done with for the loss of the
//! one it uses now. It fetches 20 items, one per connection: it asks for the next item when
//! its connection is `connected`, and the server answers and closes (a graceful close: the
//! answer goes out first, then the FIN). The client dials the next connection as soon as an
//! answer comes, without waiting for that connection's `closed`, and dials a connection again
//! when it closes before its answer came. The bug: whether the answer came is kept for the
//! session, not for the connection (`answered`, set by an answer, cleared as the next item is
//! asked), so a `closed` that comes after the next connection asked its item reads the next
//! item as unanswered, and asks for it again on a new connection: it is fetched twice
//! (`fetched-once`). The fix keeps whether the answer came in each connection's notifier.
//!
//! Only a late server FIN shows it: the FIN follows the answer on the same connection, and
//! the next connection asks its item a round trip after the answer, so its `closed` comes
//! first however the links' latency, the writes' sizes and the reads' chunks fall; a reset
//! or a crash of the server ends a connection before its answer or after it came, and a
//! partition holds the next connection's handshake with the old FIN. The swarm delayed a
//! client's FIN only, never the server's.

use crate::support::{assert_caught, assert_fix_passes_many, assert_plan_catches};
use tcpnotify::{ConnectFailure, TcpConnection, TcpConnectionNotify};
use tcpnotify_sim::fault::{Fault, FaultKind, FaultPlan};
use tcpnotify_sim::run::SharedState;
use tcpnotify_sim::{factory, run_passing, run_state, Scenario, Seed};

/// Items fetched, one per connection.
const ITEMS: u64 = 20;
/// A bound on the dials of a run that keeps failing, far above what any drawn fault takes
/// to heal.
const MAX_DIALS: u32 = 10_000;

/// The server's answer for item `item`.
fn value(item: u64) -> u64 {
    item * 1000 + 7
}

/// A number as both ends write it.
fn number(data: &[u8]) -> u64 {
    u64::from_be_bytes(data.try_into().unwrap_or_default())
}

/// The client's fetches across its connections (the run's state).
#[derive(Debug, Default)]
struct Fetches {
    /// The item the next connection asks for (from 1).
    next: u64,
    /// Whether the item asked last was answered: the buggy client's view of every
    /// connection's answer.
    answered: bool,
    /// Each answer recorded: the item, and the value.
    recorded: Vec<(u64, u64)>,
    done: bool,
    dials: u32,
}

/// The run's fetches; asked from callbacks, which run inside the run.
fn shared() -> SharedState<Fetches> {
    run_state::<Fetches>().expect("a simulated run")
}

/// Answers the item asked for and closes gracefully.
struct Store;

impl TcpConnectionNotify for Store {
    fn accepted(&mut self, conn: &mut TcpConnection) {
        let _ = conn.expect(8);
    }
    fn received(&mut self, conn: &mut TcpConnection, data: Vec<u8>, _times: usize) -> bool {
        let item = number(&data);
        conn.write([item.to_be_bytes(), value(item).to_be_bytes()].concat());
        // A message, as `write` is: handled after the write (`close()` now would drop it).
        conn.dispose();
        true
    }
    fn connect_failed(&mut self, _conn: &mut TcpConnection, _reason: ConnectFailure) {}
}

/// The client's end of one fetch.
struct Fetcher {
    /// Whether `closed` asks whether this connection's answer came (the fix), or whether the
    /// item asked last was answered.
    fixed: bool,
    answered: bool,
}

impl Fetcher {
    fn new(fixed: bool) -> Self {
        Fetcher {
            fixed,
            answered: false,
        }
    }

    /// Dials a connection for the next item (or the same one again).
    fn dial(&self, conn: &mut TcpConnection) {
        let fetches = shared();
        let mut fetches = fetches.lock();
        if fetches.done || fetches.dials >= MAX_DIALS {
            return;
        }
        fetches.dials += 1;
        drop(fetches);
        conn.dial(Fetcher::new(self.fixed), "server", "7000");
    }
}

impl TcpConnectionNotify for Fetcher {
    fn connected(&mut self, conn: &mut TcpConnection) {
        let _ = conn.expect(16);
        let fetches = shared();
        let mut fetches = fetches.lock();
        fetches.next = fetches.next.max(1);
        fetches.answered = false;
        conn.write(fetches.next.to_be_bytes().to_vec());
    }
    fn received(&mut self, conn: &mut TcpConnection, data: Vec<u8>, _times: usize) -> bool {
        let (item, value) = data.split_at(8);
        let item = number(item);
        self.answered = true;
        {
            let fetches = shared();
            let mut fetches = fetches.lock();
            fetches.answered = true;
            fetches.recorded.push((item, number(value)));
            fetches.next = item + 1;
            fetches.done = item == ITEMS;
        }
        self.dial(conn);
        true
    }
    fn closed(&mut self, conn: &mut TcpConnection) {
        let answered = match self.fixed {
            true => self.answered,
            // The bug: the session's flag, which the next connection cleared if it asked.
            false => shared().lock().answered,
        };
        if !answered {
            self.dial(conn);
        }
    }
    fn connect_failed(&mut self, conn: &mut TcpConnection, _reason: ConnectFailure) {
        self.dial(conn);
    }
}

fn fetching(fixed: bool) -> Scenario {
    Scenario::new("late-close-taken-for-current")
        .listener("store", "server", 7000, factory(|| Store))
        .client(
            "c1",
            "client",
            "server",
            7000,
            factory(move || Fetcher::new(fixed)),
        )
        .duration_ms(5000)
        .property("fetched-once", |run| {
            let fetches = run.state::<Fetches>().expect("the fetches");
            let fetches = fetches.lock();
            let items: Vec<u64> = fetches.recorded.iter().map(|(item, _)| *item).collect();
            let expected: Vec<u64> = (1..=items.len() as u64).collect();
            if items != expected {
                return Err(format!("fetched items {items:?}"));
            }
            match fetches.recorded.iter().find(|(item, v)| *v != value(*item)) {
                Some((item, v)) => Err(format!("item {item} recorded value {v}")),
                None => Ok(()),
            }
        })
        .eventually("all-fetched", |run| {
            match run.state::<Fetches>().is_some_and(|f| f.lock().done) {
                true => Ok(()),
                false => Err("the client never fetched its last item".to_string()),
            }
        })
}

/// The bug hides on a quiet network: each connection's FIN comes right after its answer.
#[test]
fn late_close_taken_for_current_passes_on_a_quiet_network() {
    run_passing(&fetching(false).plan(FaultPlan::quiet(Seed(1))), Seed(1));
}

/// The server's FIN of the first fetch 50 ms late comes after the second fetch asked.
#[test]
fn late_close_taken_for_current_is_caught_by_a_slow_close_by_hand() {
    let mut plan = FaultPlan::quiet(Seed(1));
    let slow = FaultKind::SlowClose {
        conn: "store.1".into(),
        delay_ms: 50,
    };
    plan.faults = vec![Fault::at(0, slow)];
    assert_plan_catches(&fetching(false), &fetching(true), &plan, "fetched-once");
}

/// The swarm with no settings catches it with a slow close of a server's connection.
#[test]
fn late_close_taken_for_current_is_caught_by_the_swarm() {
    assert_caught(&fetching(false), "fetched-once");
}

/// Whether the answer came kept per connection passes the swarm (`TCPNOTIFY_SEEDS` sweeps
/// more).
#[test]
fn late_close_checked_passes_many_seeds() {
    assert_fix_passes_many(fetching(true));
}
