//! A reliable sender whose resend forgets what it resent. The client sends numbered records
//! one at a time (the next once the server acknowledged the last) and keeps those not yet
//! acknowledged in its outbox, across connections; a lost connection is dialled again, and the
//! next connection resends the outbox before anything new. The server stores records in
//! order, acknowledges each (a duplicate again, without storing it), and checks that none is
//! skipped. The bug: the resend *drains* the outbox (`drain(..)` where `iter()` was meant), so
//! a record resent on a redial is no longer tracked (and the next one goes out beside it); if
//! that connection is lost too before the record reached the server, the record is gone, and
//! the server next sees a record after it. The fix resends without taking the records out.
//!
//! Only a redial lost after it resent the record and before the server read it shows it:
//! every loss of the first connection is safe (it resends nothing), and a redial lost after
//! one of its `received` has had its resent record stored; the server stores a record when
//! it reads it, so a loss timed by the server's reads comes too late as well. Until the
//! fifteenth session the swarm reset a redial (`c1~1` only) after one of its `received`,
//! never after its `sent` (a false green: 1,000 seeds); it now also resets a client's
//! redials `c1~1` to `c1~3` after one of their first `sent` (and a listener's later accepted
//! connections, `server.2` and `server.3`), and catches it. Two resets written by hand catch
//! it too.

use crate::support::{
    assert_caught_within, assert_fix_passes_many, assert_plan_catches, reset_after, store_record,
    Budget, Records,
};
use std::collections::VecDeque;
use tcpnotify::{ConnectFailure, TcpConnection, TcpConnectionNotify};
use tcpnotify_sim::fault::FaultPlan;
use tcpnotify_sim::notifiers::pattern;
use tcpnotify_sim::{factory, run_passing, run_state, Scenario, Seed};

/// A record's payload.
const RECORD: usize = 1024;
const RECORDS: u64 = 32;
/// A record on the wire: its number (8 bytes, big-endian), then its payload.
const FRAME: usize = 8 + RECORD;
/// A bound on the redials of a run that keeps failing, far above what any drawn fault takes
/// to heal.
const MAX_REDIALS: u32 = 10_000;

/// The payload of record `n`.
fn payload(n: u64) -> Vec<u8> {
    let from = n as usize * RECORD;
    pattern(0, from + RECORD)[from..].to_vec()
}

/// Record `n` as it is written.
fn frame(n: u64) -> Vec<u8> {
    let mut frame = n.to_be_bytes().to_vec();
    frame.extend(payload(n));
    frame
}

/// The client's memory, kept across its connections.
#[derive(Debug, Default)]
struct Outbox {
    /// Records sent and not yet acknowledged, oldest first.
    unacked: VecDeque<u64>,
    /// The next record never sent.
    next: u64,
    /// The server acknowledged the last record.
    done: bool,
    redials: u32,
}

struct Sender {
    /// The fix: resend without taking the records out of the outbox.
    fixed: bool,
}

impl Sender {
    /// Sends the next record, if any, when none is waiting for its acknowledgement.
    fn send_next(outbox: &mut Outbox, conn: &mut TcpConnection) {
        if !outbox.unacked.is_empty() || outbox.next >= RECORDS {
            return;
        }
        conn.write(frame(outbox.next));
        outbox.unacked.push_back(outbox.next);
        outbox.next += 1;
    }

    fn redial(&self, conn: &mut TcpConnection) {
        let Some(outbox) = run_state::<Outbox>() else {
            return;
        };
        let mut outbox = outbox.lock();
        if outbox.done || outbox.redials >= MAX_REDIALS {
            return;
        }
        outbox.redials += 1;
        conn.dial(Sender { fixed: self.fixed }, "server", "7000");
    }
}

impl TcpConnectionNotify for Sender {
    fn connected(&mut self, conn: &mut TcpConnection) {
        let _ = conn.expect(8);
        let Some(outbox) = run_state::<Outbox>() else {
            return;
        };
        let mut outbox = outbox.lock();
        let resend: Vec<u64> = match self.fixed {
            true => outbox.unacked.iter().copied().collect(),
            false => outbox.unacked.drain(..).collect(), // the bug: no longer tracked
        };
        for n in resend {
            conn.write(frame(n));
        }
        Self::send_next(&mut outbox, conn);
    }
    fn received(&mut self, conn: &mut TcpConnection, data: Vec<u8>, _times: usize) -> bool {
        let acked = u64::from_be_bytes(data.try_into().unwrap_or_default());
        if let Some(outbox) = run_state::<Outbox>() {
            let mut outbox = outbox.lock();
            outbox.unacked.retain(|n| *n > acked);
            if acked + 1 >= RECORDS {
                outbox.done = true;
                conn.close();
            } else {
                Self::send_next(&mut outbox, conn);
            }
        }
        true
    }
    fn closed(&mut self, conn: &mut TcpConnection) {
        self.redial(conn);
    }
    fn connect_failed(&mut self, conn: &mut TcpConnection, _reason: ConnectFailure) {
        self.redial(conn);
    }
}

/// Stores each record in order and acknowledges it; one resent after its acknowledgement was
/// lost is acknowledged again and not stored twice.
struct Server;

impl TcpConnectionNotify for Server {
    fn accepted(&mut self, conn: &mut TcpConnection) {
        let _ = conn.expect(FRAME);
    }
    fn received(&mut self, conn: &mut TcpConnection, data: Vec<u8>, _times: usize) -> bool {
        let (number, body) = data.split_at(8.min(data.len()));
        let n = u64::from_be_bytes(number.try_into().unwrap_or_default());
        store_record(n, body == payload(n));
        conn.write(n.to_be_bytes().to_vec());
        true
    }
    fn connect_failed(&mut self, _conn: &mut TcpConnection, _reason: ConnectFailure) {}
}

fn transfer(fixed: bool) -> Scenario {
    Scenario::new("resend-drains-unacked")
        .listener("server", "server", 7000, factory(|| Server))
        .client(
            "c1",
            "client",
            "server",
            7000,
            factory(move || Sender { fixed }),
        )
        .duration_ms(5000)
        .eventually("stored", |run| {
            let stored = run.state::<Records>().map_or(0, |r| r.lock().stored);
            match stored >= RECORDS {
                true => Ok(()),
                false => Err(format!("{stored} of {RECORDS} records stored")),
            }
        })
}

/// Losses of the first connection and of a redial after its first acknowledgement: the
/// buggy sender resends what it must each time and passes.
#[test]
fn resend_drains_unacked_survives_the_losses_the_swarm_drew_before() {
    let mut plan = FaultPlan::quiet(Seed(1));
    plan.faults = vec![
        reset_after("c1", "received", 3),
        reset_after("c1~1", "received", 1),
        reset_after("server.1", "received", 2),
    ];
    run_passing(&transfer(false).plan(plan), Seed(1));
}

/// The first connection lost, then its redial lost as it resends the record left
/// unacknowledged, before that record reached the server: the buggy sender has forgotten it
/// and the server sees the next one; the fixed one passes the same plan.
#[test]
fn resend_drains_unacked_is_caught_by_a_reset_of_a_redial_as_it_resends_by_hand() {
    let mut plan = FaultPlan::quiet(Seed(1));
    plan.faults = vec![
        reset_after("c1", "received", 3),
        reset_after("c1~1", "sent", 1),
    ];
    assert_plan_catches(
        &transfer(false),
        &transfer(true),
        &plan,
        "no record is skipped",
    );
}

/// The swarm with no settings catches it with a reset of a redial timed by its `sent`. The
/// first seed that does (15) loses four connections in a row, the last as it resends: each
/// reset is needed to reach that redial, and the shrinker removes faults, it does not move
/// one to an earlier connection, so its plan keeps four (later seeds keep two).
#[test]
fn resend_drains_unacked_is_caught_by_the_swarm() {
    let budget = Budget {
        shrunk_causes: 4,
        ..Budget::default()
    };
    assert_caught_within(&transfer(false), "no record is skipped", budget);
}

/// The fixed sender passes the swarm (`TCPNOTIFY_SEEDS` sweeps more).
#[test]
fn resend_drains_unacked_fixed_passes_many_seeds() {
    assert_fix_passes_many(transfer(true));
}
