//! A client that reports late in its run and forgets the report's `connect_failed`. Its
//! session with the server lasts two seconds (the server sends a tick every 100 ms, 20 in
//! all; a lost session is dialled again, a failed connect of it too); after the last tick
//! the client dials a collector on a host of its own and writes its report. The bug: the
//! report's `connect_failed` is ignored (its `closed` before the collector read it is
//! dialled again, not its failed connect), so a refused report is never made (`reported`).
//! The fix dials the report again after a failed connect too.
//!
//! Only a refusal or partition that meets the report's connect shows it, two seconds in.
//! Until the sixteenth session the swarm timed both by a client's first events only (its
//! `connecting`, `connected`, or one of its first three `sent` or `received`), each lasting
//! at most a second or two, and a crash of the collector's host only by its first events
//! too: it missed this (a false green: 1,000 seeds, 2,000 of a first draft). It now also refuses each listener's
//! port after each of a client's redials' `connecting` (`c1~1` to `c1~3`), and catches it.
//! A refusal of the collector's port written by hand catches it too.
//!
//! A second bug (seventeenth session): the report dialled again only when its connect was
//! refused, as while the collector restarts, a connect that timed out taken for a collector
//! gone for good. The refusals above cannot show it, and the partitions the swarm drew, timed
//! by a client's first events, had healed two seconds in: a false green (3,000 seeds). It
//! now also cuts a client's host from a listening host as each of its redials connects, for
//! up to twice the connect timeout, and catches it; a partition written by hand too.

use crate::support::{assert_caught, assert_fix_passes_many, assert_plan_catches, fault_after};
use std::time::Duration;
use tcpnotify::{ConnectFailure, TcpConnection, TcpConnectionNotify};
use tcpnotify_sim::fault::{FaultKind, FaultPlan};
use tcpnotify_sim::{factory, run_passing, run_state, Scenario, Seed};

/// Ticks of the session, one every [`TICK_MS`].
const TICKS: usize = 20;
const TICK_MS: u64 = 100;
/// A bound on the dials of a run that keeps failing, far above what any drawn fault takes
/// to heal.
const MAX_DIALS: u32 = 10_000;

/// The run's state: whether the collector has the report, and the client's dials so far.
#[derive(Debug, Default)]
struct Reported {
    done: bool,
    dials: u32,
}

/// Counts a dial; false once the run has dialled [`MAX_DIALS`] times.
fn may_dial() -> bool {
    let Some(reported) = run_state::<Reported>() else {
        return false;
    };
    let mut reported = reported.lock();
    reported.dials += 1;
    reported.dials < MAX_DIALS
}

/// The server's end of a session: a tick every [`TICK_MS`], from a task of its own.
struct Ticker;

impl TcpConnectionNotify for Ticker {
    fn accepted(&mut self, conn: &mut TcpConnection) {
        let handle = conn.handle();
        tokio::spawn(async move {
            for _ in 0..TICKS {
                tokio::time::sleep(Duration::from_millis(TICK_MS)).await;
                if handle.is_finished() {
                    return;
                }
                handle.write(b"t".to_vec());
            }
        });
    }
    fn connect_failed(&mut self, _conn: &mut TcpConnection, _reason: ConnectFailure) {}
}

/// The collector: has the report once it reads any of it.
struct Collector;

impl TcpConnectionNotify for Collector {
    fn received(&mut self, _conn: &mut TcpConnection, _data: Vec<u8>, _times: usize) -> bool {
        if let Some(reported) = run_state::<Reported>() {
            reported.lock().done = true;
        }
        true
    }
    fn connect_failed(&mut self, _conn: &mut TcpConnection, _reason: ConnectFailure) {}
}

/// Which failed connects of the report are dialled again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Retry {
    /// None: the report's `connect_failed` is ignored (the bug).
    Never,
    /// Only refused ones, as while the collector restarts: a connect that timed out is taken
    /// for a collector gone for good (the second bug).
    Refused,
    /// Every one (the fix).
    Always,
}

/// The client's session: counts ticks across its connections, dials the report after the
/// last.
struct Session {
    ticks: usize,
    retry: Retry,
    over: bool,
}

impl Session {
    fn again(&self, conn: &mut TcpConnection) {
        if may_dial() {
            let next = Session {
                ticks: self.ticks,
                retry: self.retry,
                over: false,
            };
            conn.dial(next, "server", "7000");
        }
    }
}

impl TcpConnectionNotify for Session {
    fn received(&mut self, conn: &mut TcpConnection, data: Vec<u8>, _times: usize) -> bool {
        self.ticks += data.len();
        if self.ticks >= TICKS && !self.over {
            self.over = true;
            conn.dispose();
            conn.dial(Report { retry: self.retry }, "collector", "7001");
        }
        true
    }
    fn closed(&mut self, conn: &mut TcpConnection) {
        if !self.over {
            self.again(conn);
        }
    }
    fn connect_failed(&mut self, conn: &mut TcpConnection, _reason: ConnectFailure) {
        self.again(conn);
    }
}

/// The report: written as it connects.
struct Report {
    retry: Retry,
}

impl Report {
    fn again(&self, conn: &mut TcpConnection) {
        if may_dial() {
            conn.dial(Report { retry: self.retry }, "collector", "7001");
        }
    }
}

impl TcpConnectionNotify for Report {
    fn connected(&mut self, conn: &mut TcpConnection) {
        conn.write(b"report".to_vec());
        conn.dispose();
    }
    fn closed(&mut self, conn: &mut TcpConnection) {
        if !run_state::<Reported>().is_some_and(|r| r.lock().done) {
            self.again(conn);
        }
    }
    fn connect_failed(&mut self, conn: &mut TcpConnection, reason: ConnectFailure) {
        let again = match self.retry {
            Retry::Never => false,
            Retry::Refused => reason == ConnectFailure::Refused,
            Retry::Always => true,
        };
        if again {
            self.again(conn);
        }
    }
}

pub(crate) fn session(retry: Retry) -> Scenario {
    let client = move || Session {
        ticks: 0,
        retry,
        over: false,
    };
    Scenario::new("late-report-connect-failed")
        .listener("session", "server", 7000, factory(|| Ticker))
        .listener("reports", "collector", 7001, factory(|| Collector))
        .client("c1", "client", "server", 7000, factory(client))
        .duration_ms(6000)
        .eventually("reported", |run| {
            match run.state::<Reported>().is_some_and(|r| r.lock().done) {
                true => Ok(()),
                false => Err("the collector never had the report".to_string()),
            }
        })
}

/// The bug hides on a quiet network: the report connects.
#[test]
fn late_report_connect_failed_passes_on_a_quiet_network() {
    run_passing(
        &session(Retry::Never).plan(FaultPlan::quiet(Seed(1))),
        Seed(1),
    );
}

/// The collector's port refusing for 100 ms as the report (`c1~1`) connects.
#[test]
fn late_report_connect_failed_is_caught_by_a_refusal_by_hand() {
    let refuse = FaultKind::Refuse {
        host: "collector".into(),
        port: 7001,
        duration_ms: 100,
    };
    assert_caught_as_the_report_connects(Retry::Never, refuse);
}

/// Asserts that `kind`, as the report (`c1~1`) connects, keeps the collector from having the
/// report of a client that retries as `buggy` says, and not of the fixed one.
fn assert_caught_as_the_report_connects(buggy: Retry, kind: FaultKind) {
    let mut plan = FaultPlan::quiet(Seed(1));
    plan.faults = vec![fault_after("c1~1", "connecting", 1, kind)];
    assert_plan_catches(&session(buggy), &session(Retry::Always), &plan, "reported");
}

/// The swarm with no settings catches it with a refusal or a partition timed by a redial's
/// `connecting`.
#[test]
fn late_report_connect_failed_is_caught_by_the_swarm() {
    assert_caught(&session(Retry::Never), "reported");
}

/// The report dialled again after a failed connect passes the swarm (`TCPNOTIFY_SEEDS`
/// sweeps more).
#[test]
fn late_report_dialled_again_passes_many_seeds() {
    assert_fix_passes_many(session(Retry::Always));
}

/// The collector's host cut from the client's for 1.5 s as the report (`c1~1`) connects:
/// its connect times out.
#[test]
fn late_report_retried_when_refused_is_caught_by_a_partition_by_hand() {
    let cut = FaultKind::Partition {
        a: "client".into(),
        b: "collector".into(),
        duration_ms: 1500,
        one_way: false,
    };
    assert_caught_as_the_report_connects(Retry::Refused, cut);
}

/// The swarm with no settings catches the report retried only when refused with a partition
/// as a redial connects.
#[test]
fn late_report_retried_only_when_refused_is_caught_by_the_swarm() {
    assert_caught(&session(Retry::Refused), "reported");
}
