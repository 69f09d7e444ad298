//! A replica that takes an update held past its gap timer for a lost one, asks for it again
//! and applies it twice. Its session with the server: a snapshot of 80 pages, one request a
//! page, then a live feed of 20 updates, one every 50 ms from the number it follows from. No
//! update for 250 ms (its gap timer) is taken for a lost update, as over a datagram feed, and
//! the replica asks the server to follow from its next update again: the server restarts the
//! feed there. A lost connection is dialled again, and the snapshot and the feed go on from
//! where they were. The bug: an update is applied whatever its number, so the updates a
//! partition held, delivered when it heals, are applied, and then again as the restarted
//! feed sends them (`applied-once`). TCP loses nothing on a connection that stays up: the
//! fix applies only the update after the last applied, which also drops what a restart sends
//! twice.
//!
//! Only updates held past the gap timer on a connection that stays up show it: a reset or a
//! crash loses them with the connection, and the redial follows from the last applied. The
//! feed starts after the client's 80th `sent` and 80th `received`, past the first 64 of
//! either that the swarm timed partitions by, and the snapshot before it is one request at a
//! time, so a partition timed earlier holds the snapshot, and the feed starts after it
//! healed: not caught in seeds 0..3000. The swarm now also cuts a pair of hosts after one
//! of a client connection's 65th to 1024th `sent` or `received` (eighteenth session), and
//! catches it at seed 392.
//!
//! A replica that follows the feed on a connection of its own, dialled once the snapshot is
//! whole (`replicating_fed(.., true)`), has the same bug on a redial (`c1~1`, or later after
//! losses): the swarm cut a redial only as it connects, before the feed started, and the
//! partitions timed by the client's first connection come during the snapshot: not caught in
//! seeds 0..3000. The swarm now also cuts a client's host after one of the `sent` or
//! `received` of one of its redials up to `c1~8` (nineteenth session), and catches it at
//! seed 114 (12 of seeds 0..3000), shrunk to 3 faults: a crash during the snapshot, a reset
//! of `c1~3` after its 1st `sent`, and a one-way partition for 511 ms after the feed
//! connection `c1~4`'s 2nd `received`: the client's fifth connection, cut mid-way.

use crate::support::{assert_caught, assert_fix_passes_many, assert_plan_catches, fault_after};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tcpnotify::{ConnectFailure, TcpConnection, TcpConnectionNotify};
use tcpnotify_sim::fault::{Fault, FaultKind, FaultPlan, Trigger};
use tcpnotify_sim::run::SharedState;
use tcpnotify_sim::{factory, run_passing, run_state, Scenario, Seed};

/// Pages of the snapshot, one request each.
const PAGES: u64 = 80;
/// Updates of the feed, one every [`UPDATE_MS`].
const UPDATES: u64 = 20;
const UPDATE_MS: u64 = 50;
/// How long the replica waits for the next update before it takes it for lost.
const GAP_MS: u64 = 250;
/// A bound on the dials of a run that keeps failing, far above what any drawn fault takes
/// to heal.
const MAX_DIALS: u32 = 10_000;

/// What a message is: the client asks for a page or to follow the feed from an update; the
/// server sends a page or an update. Each message is the tag and a number, 16 bytes.
const PAGE: u64 = 1;
const FOLLOW: u64 = 2;
const UPDATE: u64 = 3;

fn message(tag: u64, number: u64) -> Vec<u8> {
    [tag.to_be_bytes(), number.to_be_bytes()].concat()
}

/// A message's tag and number.
fn parsed(data: &[u8]) -> (u64, u64) {
    let (tag, number) = data.split_at(8);
    let read = |b: &[u8]| u64::from_be_bytes(b.try_into().unwrap_or_default());
    (read(tag), read(number))
}

/// The replica's session across its connections (the run's state).
#[derive(Debug, Default)]
struct Session {
    pages: u64,
    /// Each update applied, in order.
    applied: Vec<u64>,
    /// Updates received on any connection: what the gap timer watches.
    updates_seen: u64,
    done: bool,
    dials: u32,
}

impl Session {
    /// The update after the last applied.
    fn next(&self) -> u64 {
        self.applied.last().map_or(1, |u| u + 1)
    }
}

/// The run's session; asked from callbacks, which run inside the run.
fn shared() -> SharedState<Session> {
    run_state::<Session>().expect("a simulated run")
}

/// The server's end: a page for each request, and the feed from a task, restarted from the
/// update each `FOLLOW` names.
#[derive(Default)]
struct Publisher {
    /// Which feed of this connection is the live one: an older feed's task stops.
    feed: Arc<AtomicU64>,
}

impl TcpConnectionNotify for Publisher {
    fn accepted(&mut self, conn: &mut TcpConnection) {
        let _ = conn.expect(16);
    }
    fn received(&mut self, conn: &mut TcpConnection, data: Vec<u8>, _times: usize) -> bool {
        match parsed(&data) {
            (PAGE, page) => conn.write(message(PAGE, page)),
            (FOLLOW, from) => {
                let live = self.feed.fetch_add(1, Ordering::Relaxed) + 1;
                let feed = Arc::clone(&self.feed);
                let handle = conn.handle();
                tokio::spawn(async move {
                    for update in from..=UPDATES {
                        if handle.is_finished() || feed.load(Ordering::Relaxed) != live {
                            return;
                        }
                        handle.write(message(UPDATE, update));
                        tokio::time::sleep(Duration::from_millis(UPDATE_MS)).await;
                    }
                });
            }
            _ => {}
        }
        true
    }
    fn connect_failed(&mut self, _conn: &mut TcpConnection, _reason: ConnectFailure) {}
}

/// The client's end of one connection of the session.
struct Replica {
    /// Whether an update is applied only after the last applied (the fix).
    fixed: bool,
    /// Whether the feed is followed on a connection of its own, dialled once the snapshot
    /// is whole, rather than on the snapshot's.
    own_feed: bool,
    /// Whether this connection fetched pages of the snapshot.
    fetched: bool,
}

impl Replica {
    /// Asks for the next page, or, with the snapshot whole, to follow the feed from the next
    /// update, with the gap timer watching it.
    fn go_on(&self, conn: &mut TcpConnection) {
        let session = shared();
        let (pages, next) = {
            let session = session.lock();
            (session.pages, session.next())
        };
        if pages < PAGES {
            conn.write(message(PAGE, pages + 1));
            return;
        }
        if self.own_feed && self.fetched {
            // The feed's connection is dialled as this one closes.
            conn.dispose();
            return;
        }
        conn.write(message(FOLLOW, next));
        let handle = conn.handle();
        tokio::spawn(async move {
            let mut seen = session.lock().updates_seen;
            loop {
                tokio::time::sleep(Duration::from_millis(GAP_MS)).await;
                if handle.is_finished() {
                    return;
                }
                let (now, next) = {
                    let session = session.lock();
                    if session.done {
                        return;
                    }
                    (session.updates_seen, session.next())
                };
                // No update for a whole gap: taken for a lost one, asked for again.
                if now == seen {
                    handle.write(message(FOLLOW, next));
                }
                seen = now;
            }
        });
    }

    fn again(&self, conn: &mut TcpConnection) {
        let session = shared();
        let mut session = session.lock();
        if session.done || session.dials >= MAX_DIALS {
            return;
        }
        session.dials += 1;
        drop(session);
        let next = Replica {
            fetched: false,
            ..*self
        };
        conn.dial(next, "server", "7000");
    }
}

impl TcpConnectionNotify for Replica {
    fn connected(&mut self, conn: &mut TcpConnection) {
        let _ = conn.expect(16);
        self.go_on(conn);
    }
    fn received(&mut self, conn: &mut TcpConnection, data: Vec<u8>, _times: usize) -> bool {
        match parsed(&data) {
            (PAGE, page) => {
                self.fetched = true;
                {
                    let session = shared();
                    let mut session = session.lock();
                    if page == session.pages + 1 {
                        session.pages = page;
                    }
                }
                self.go_on(conn);
            }
            (UPDATE, update) => {
                let session = shared();
                let mut session = session.lock();
                session.updates_seen += 1;
                // The bug: without the check, a held update and its resend are both applied.
                if !self.fixed || update == session.next() {
                    session.applied.push(update);
                }
                if session.next() > UPDATES && !session.done {
                    session.done = true;
                    conn.dispose();
                }
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

fn replicating(fixed: bool) -> Scenario {
    replicating_fed(fixed, false)
}

/// The replica with its feed on a connection of its own (`own_feed`) or on the snapshot's.
fn replicating_fed(fixed: bool, own_feed: bool) -> Scenario {
    Scenario::new("held-update-applied-twice")
        .listener("publisher", "server", 7000, factory(Publisher::default))
        .client(
            "c1",
            "client",
            "server",
            7000,
            factory(move || Replica {
                fixed,
                own_feed,
                fetched: false,
            }),
        )
        .duration_ms(8000)
        .property("applied-once", |run| {
            let session = run.state::<Session>().expect("the session");
            let session = session.lock();
            let expected: Vec<u64> = (1..=session.applied.len() as u64).collect();
            match session.applied == expected {
                true => Ok(()),
                false => Err(format!("applied updates {:?}", session.applied)),
            }
        })
        .eventually("all-applied", |run| {
            match run.state::<Session>().is_some_and(|s| s.lock().done) {
                true => Ok(()),
                false => Err("the replica never applied its last update".to_string()),
            }
        })
}

/// The bug hides on a quiet network: every update comes within its gap.
#[test]
fn held_update_applied_twice_passes_on_a_quiet_network() {
    run_passing(&replicating(false).plan(FaultPlan::quiet(Seed(1))), Seed(1));
}

/// A partition of 400 ms after the client's 85th `received` (its 5th update) holds the next
/// updates past the gap timer.
#[test]
fn held_update_applied_twice_is_caught_by_a_partition_by_hand() {
    assert_caught_by_a_cut_after("c1", 85, false);
}

/// The replica (fed on a connection of its own with `own_feed`) caught, and its fix passing,
/// with the plan of one partition of 400 ms after `conn`'s `nth` `received`.
fn assert_caught_by_a_cut_after(conn: &str, nth: u32, own_feed: bool) {
    let mut plan = FaultPlan::quiet(Seed(1));
    let cut = FaultKind::Partition {
        a: "client".into(),
        b: "server".into(),
        duration_ms: 400,
        one_way: false,
    };
    plan.faults = vec![fault_after(conn, "received", nth, cut)];
    assert_plan_catches(
        &replicating_fed(false, own_feed),
        &replicating_fed(true, own_feed),
        &plan,
        "applied-once",
    );
}

/// The swarm with no settings catches it with a partition timed deep in the session.
#[test]
fn held_update_applied_twice_is_caught_by_the_swarm() {
    assert_caught(&replicating(false), "applied-once");
}

/// Only the update after the last applied applied passes the swarm (`TCPNOTIFY_SEEDS` sweeps
/// more).
#[test]
fn held_update_deduplicated_passes_many_seeds() {
    assert_fix_passes_many(replicating(true));
}

/// With the feed on a connection of its own, a partition of 400 ms after that connection's
/// 5th `received` (its 5th update) holds the next updates past the gap timer.
#[test]
fn held_update_on_its_own_feed_connection_is_caught_by_a_partition_by_hand() {
    assert_caught_by_a_cut_after("c1~1", 5, true);
}

/// With the feed on a connection of its own the swarm catches it with a partition timed by
/// that connection, a redial of the client: first at seed 114. Without the partitions of
/// later sessions no seed of 0..3000 caught it.
#[test]
fn held_update_on_its_own_feed_connection_is_caught_by_the_swarm() {
    let failure = assert_caught(&replicating_fed(false, true), "applied-once");
    assert_eq!(failure.seed, Seed(114), "{failure}");
    let timed_by_a_redial = |fault: &Fault| {
        matches!(
            (&fault.trigger, &fault.kind),
            (Trigger::After(event), FaultKind::Partition { .. })
                if event.conn.starts_with("c1~") && event.callback != "connecting"
        )
    };
    let faults = &failure.shrunk.plan.faults;
    assert!(faults.iter().any(timed_by_a_redial), "{failure}");
}

/// The fix passes the swarm with the feed on a connection of its own too.
#[test]
fn held_update_deduplicated_on_its_own_feed_connection_passes_many_seeds() {
    assert_fix_passes_many(replicating_fed(true, true));
}
