//! A checkpointing uploader whose checkpoint is wrong, seen only when a connection is lost
//! late. It keeps two chunks in flight to an echo server (the next chunk each time one comes
//! back) and every `CHECKPOINT` echoed chunks records a checkpoint; a lost connection is
//! redialled from `closed` (or `connect_failed`) and resumes from the last checkpoint, or from
//! the start when there is none. The bug: the checkpoint records the bytes *written* (W2/W3:
//! a `write`, even with `sent` called, is not a delivery), not the bytes echoed; a connection
//! lost after a checkpoint and before the chunks in flight at it came back resumes past them,
//! leaving a gap. A loss before the first checkpoint restarts from 0 and hides it.
//!
//! Two chunks in flight make at most two echoes a delivery, so the first checkpoint (24
//! echoes) comes after the 12th `received` at the earliest. The swarm's faults used to fire
//! only earlier in a connection (resets after one of its first 1–10 `received`), so it missed
//! this bug (a false green, found in the thirteenth session); it now also resets a client
//! after one of its first 64 `sent`, and catches it. A reset written by hand after the
//! checkpoint catches it too. Since the fourteenth session the swarm first catches it with
//! a crash of the server timed by its own connection's `sent` (seed 757; at seed 306 such a
//! crash now comes before the reset that caught it there), so its sweep has a budget of its
//! own (see its test).

use crate::support::{
    assert_caught_within, assert_fix_passes_many, assert_plan_catches, reset_after, Budget,
    MAX_SEEDS,
};
use tcpnotify::{ConnectFailure, TcpConnection, TcpConnectionNotify};
use tcpnotify_sim::fault::FaultPlan;
use tcpnotify_sim::notifiers::{pattern, Echo};
use tcpnotify_sim::{always, factory, run_passing, run_state, Scenario, Seed};

const CHUNK: usize = 256;
const CHUNKS: usize = 64;
const PAYLOAD: usize = CHUNK * CHUNKS;
const CHECKPOINT: usize = 24;
const IN_FLIGHT: usize = 2;
const MAX_ATTEMPTS: u32 = 10_000;

/// Test oracle: the highest byte offset echoed so far over every connection, and dials.
#[derive(Debug, Default)]
struct Oracle {
    echoed: usize,
    attempts: u32,
}

struct Uploader {
    /// Offset this connection started at.
    start: usize,
    /// Bytes written and echoed on this connection.
    written: usize,
    acked: usize,
    /// The last checkpoint, carried from connection to connection.
    checkpoint: usize,
    /// The fix: checkpoint what came back.
    fixed: bool,
}

impl Uploader {
    fn new(start: usize, checkpoint: usize, fixed: bool) -> Self {
        Uploader {
            start,
            written: 0,
            acked: 0,
            checkpoint,
            fixed,
        }
    }

    fn fill(&mut self, conn: &mut TcpConnection) {
        while self.written < self.acked + IN_FLIGHT * CHUNK && self.start + self.written < PAYLOAD {
            let from = self.start + self.written;
            let end = (from + CHUNK).min(PAYLOAD);
            conn.write(pattern(0, PAYLOAD)[from..end].to_vec());
            self.written += end - from;
        }
    }

    fn redial(&self, conn: &mut TcpConnection, from: usize) {
        let Some(oracle) = run_state::<Oracle>() else {
            return;
        };
        let mut oracle = oracle.lock();
        if oracle.attempts >= MAX_ATTEMPTS {
            return;
        }
        oracle.attempts += 1;
        conn.dial(Uploader::new(from, from, self.fixed), "server", "7000");
    }
}

impl TcpConnectionNotify for Uploader {
    fn connected(&mut self, conn: &mut TcpConnection) {
        if let Some(oracle) = run_state::<Oracle>() {
            let echoed = oracle.lock().echoed;
            always(
                "resume leaves no gap",
                self.start <= echoed,
                format_args!("resumes at {} with {echoed} bytes echoed", self.start),
            );
        }
        self.fill(conn);
    }
    fn received(&mut self, conn: &mut TcpConnection, data: Vec<u8>, _times: usize) -> bool {
        let from = self.start + self.acked;
        always(
            "echo continues the payload",
            pattern(0, PAYLOAD).get(from..from + data.len()) == Some(&data[..]),
            format_args!("{} bytes at {from}", data.len()),
        );
        let before = self.acked / CHUNK;
        self.acked += data.len();
        if let Some(oracle) = run_state::<Oracle>() {
            let mut oracle = oracle.lock();
            oracle.echoed = oracle.echoed.max(self.start + self.acked);
        }
        self.fill(conn);
        let after = self.acked / CHUNK;
        if (before + 1..=after).any(|c| c % CHECKPOINT == 0) {
            self.checkpoint = match self.fixed {
                true => self.start + self.acked,
                false => self.start + self.written, // the bug: written, not echoed
            };
        }
        if self.start + self.acked >= PAYLOAD {
            conn.close();
        }
        true
    }
    fn closed(&mut self, conn: &mut TcpConnection) {
        if self.start + self.acked < PAYLOAD {
            self.redial(conn, self.checkpoint);
        }
    }
    fn connect_failed(&mut self, conn: &mut TcpConnection, _reason: ConnectFailure) {
        self.redial(conn, self.checkpoint);
    }
}

fn upload(fixed: bool) -> Scenario {
    Scenario::new("late-loss-checkpoint")
        .listener("server", "server", 7000, factory(|| Echo))
        .client(
            "c1",
            "client",
            "server",
            7000,
            factory(move || Uploader::new(0, 0, fixed)),
        )
        .duration_ms(5000)
        .eventually("uploaded", |run| {
            let echoed = run.state::<Oracle>().map_or(0, |o| o.lock().echoed);
            match echoed >= PAYLOAD {
                true => Ok(()),
                false => Err(format!("{echoed} of {PAYLOAD} bytes echoed")),
            }
        })
}

/// A loss before the first checkpoint restarts from 0: the buggy uploader passes.
#[test]
fn late_loss_checkpoint_survives_an_early_reset() {
    let mut plan = FaultPlan::quiet(Seed(1));
    plan.faults = vec![reset_after("c1", "received", 10)];
    run_passing(&upload(false).plan(plan), Seed(1));
}

/// A reset right after the first checkpoint's write: the buggy uploader resumes past the
/// chunks still in flight; the fixed one passes the same plan.
#[test]
fn late_loss_checkpoint_is_caught_by_a_late_reset_by_hand() {
    let mut plan = FaultPlan::quiet(Seed(1));
    plan.faults = vec![reset_after("c1", "sent", (CHECKPOINT + IN_FLIGHT) as u32)];
    assert_plan_catches(&upload(false), &upload(true), &plan, "resume leaves no gap");
}

/// The swarm with no settings catches it with a loss late in the connection: a reset or a
/// crash timed by `server.1`'s or `c1`'s progress, or a reset of a redial. Only a loss in a
/// window of a few events after a checkpoint shows the bug, so about one seed in 140 does
/// (21 of seeds 0..3000 in the fifteenth session, the first 757): a sweep of the default
/// 1,000 seeds would miss it after a change of the draws with a chance near 0.1%, and
/// after one that lowered the rate more often; 3,000 seeds leave room (the sweep stops at the
/// first seed that fails).
#[test]
fn late_loss_checkpoint_is_caught_by_the_swarm() {
    let budget = Budget {
        seeds: 3 * MAX_SEEDS,
        ..Budget::default()
    };
    assert_caught_within(&upload(false), "resume leaves no gap", budget);
}

/// The fixed uploader passes the swarm (`TCPNOTIFY_SEEDS` sweeps more).
#[test]
fn late_loss_checkpoint_fixed_passes_many_seeds() {
    assert_fix_passes_many(upload(true));
}
