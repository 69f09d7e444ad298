//! A reconnecting uploader whose state is right after one lost connection and wrong after two.
//! Each connection's notifier knows where its part of the upload started (`start`) and how
//! many bytes came back on it (`acked`). When the connection closes before the upload is
//! done, it dials again from `closed`; a failed connect dials again with the same `start`.
//! The bug: the next connection starts at `self.acked` — the bytes this connection got
//! back — instead of `self.start + self.acked`. After the first loss `start` is 0, so both
//! are the same and the upload resumes correctly; only a second connection lost after it got
//! an echo back resumes from the wrong offset, and the echo no longer continues the payload.
//!
//! The swarm used to draw resets only for the scenario's own clients (`c1`), not for the
//! connections they dial (`c1~1`), so no drawn plan lost two live connections of this client
//! and it missed this bug (a false green, found in the thirteenth session); it now also
//! resets a client's first redial, and catches it. Two resets written by hand do too.

use crate::support::{assert_caught, assert_fix_passes_many, assert_plan_catches, reset_after};
use tcpnotify::{ConnectFailure, TcpConnection, TcpConnectionNotify};
use tcpnotify_sim::fault::FaultPlan;
use tcpnotify_sim::notifiers::{pattern, Echo};
use tcpnotify_sim::{always, factory, run_passing, run_state, Scenario, Seed};

const PAYLOAD: usize = 4096;
const CHUNK: usize = 256;
/// A bound on a run that keeps failing, far above what any drawn fault takes to heal.
const MAX_ATTEMPTS: u32 = 10_000;

/// The upload's progress as a test oracle: bytes that came back over every connection.
#[derive(Debug, Default)]
struct Progress {
    acked: usize,
    attempts: u32,
}

struct Uploader {
    /// Offset of the payload this connection starts at.
    start: usize,
    /// Bytes echoed back on this connection.
    acked: usize,
    /// Bytes written on this connection.
    written: usize,
    /// The fix: the next connection starts at `start + acked`.
    fixed: bool,
}

impl Uploader {
    fn new(start: usize, fixed: bool) -> Self {
        Uploader {
            start,
            acked: 0,
            written: 0,
            fixed,
        }
    }

    fn position(&self) -> usize {
        self.start + self.acked
    }

    /// Writes the next chunk once the last came back, or closes when the payload is done.
    fn send_next(&mut self, conn: &mut TcpConnection) {
        if self.position() >= PAYLOAD {
            conn.close();
            return;
        }
        if self.acked < self.written {
            return;
        }
        let from = self.start + self.written;
        let end = (from + CHUNK).min(PAYLOAD);
        conn.write(pattern(0, PAYLOAD)[from..end].to_vec());
        self.written += end - from;
    }

    fn redial(&self, conn: &mut TcpConnection, start: usize) {
        let Some(progress) = run_state::<Progress>() else {
            return;
        };
        let mut progress = progress.lock();
        if start >= PAYLOAD || progress.attempts >= MAX_ATTEMPTS {
            return;
        }
        progress.attempts += 1;
        conn.dial(Uploader::new(start, self.fixed), "server", "7000");
    }
}

impl TcpConnectionNotify for Uploader {
    fn connected(&mut self, conn: &mut TcpConnection) {
        self.send_next(conn);
    }
    fn received(&mut self, conn: &mut TcpConnection, data: Vec<u8>, _times: usize) -> bool {
        if let Some(progress) = run_state::<Progress>() {
            let mut progress = progress.lock();
            let from = progress.acked.min(PAYLOAD);
            let to = (from + data.len()).min(PAYLOAD);
            always(
                "echo continues the payload",
                pattern(0, PAYLOAD)[from..to] == data[..],
                format_args!("{} bytes echoed at offset {from}", data.len()),
            );
            progress.acked = from + data.len();
        }
        self.acked += data.len();
        self.send_next(conn);
        true
    }
    fn closed(&mut self, conn: &mut TcpConnection) {
        if self.position() >= PAYLOAD {
            return; // done
        }
        let start = match self.fixed {
            true => self.start + self.acked,
            false => self.acked, // the bug: this connection's count taken for the offset
        };
        self.redial(conn, start);
    }
    fn connect_failed(&mut self, conn: &mut TcpConnection, _reason: ConnectFailure) {
        self.redial(conn, self.start);
    }
}

fn upload(fixed: bool) -> Scenario {
    Scenario::new("second-loss-resume")
        .listener("server", "server", 7000, factory(|| Echo))
        .client(
            "c1",
            "client",
            "server",
            7000,
            factory(move || Uploader::new(0, fixed)),
        )
        .duration_ms(5000)
        .eventually("uploaded", |run| {
            let acked = run.state::<Progress>().map_or(0, |p| p.lock().acked);
            match acked >= PAYLOAD {
                true => Ok(()),
                false => Err(format!("{acked} of {PAYLOAD} bytes came back")),
            }
        })
}

/// One lost connection: the buggy uploader resumes correctly (its `start` was 0).
#[test]
fn second_loss_resume_survives_one_reset() {
    let mut plan = FaultPlan::quiet(Seed(1));
    plan.faults = vec![reset_after("c1", "received", 3)];
    run_passing(&upload(false).plan(plan), Seed(1));
}

/// Two lost connections, each after some echo came back: the buggy uploader resumes the
/// third connection from the second's count and its check of the echo fails; the fix
/// passes the same plan.
#[test]
fn second_loss_resume_is_caught_by_two_resets_by_hand() {
    let mut plan = FaultPlan::quiet(Seed(1));
    plan.faults = vec![
        reset_after("c1", "received", 3),
        reset_after("c1~1", "received", 3),
    ];
    assert_plan_catches(
        &upload(false),
        &upload(true),
        &plan,
        "echo continues the payload",
    );
}

/// The swarm with no settings catches it by resetting the connection and its redial.
#[test]
fn second_loss_resume_is_caught_by_the_swarm() {
    assert_caught(&upload(false), "echo continues the payload");
}

/// The fixed uploader passes the swarm (`TCPNOTIFY_SEEDS` sweeps more).
#[test]
fn second_loss_resume_fixed_passes_many_seeds() {
    assert_fix_passes_many(upload(true));
}
