//! A resumable upload whose server, restarted after a crash, resumes from its last checkpoint
//! but keeps the bytes it wrote after it. The server appends what it receives to its file on
//! disk and commits the file's length (a checkpoint, as an fsync would) every 32 KiB, and
//! again in `closed`, when its connection ends cleanly, reset or not. Each connection starts
//! with "have N", N the committed length: the client (`support::resuming_upload`) writes the
//! rest of the file from there. After a crash no `closed` ran, so the file may hold bytes
//! past the last checkpoint; the fix cuts the file back to the checkpoint before it answers,
//! the buggy server forgets to, and the resent bytes land after the stale ones.
//!
//! Only a crash of the server while it holds part of the upload shows it (a reset runs
//! `closed`, which commits), and the swarm drew no such crash: it timed crashes by a client's
//! first events (its `connecting`, `connected`, first three `sent` or `received`), and this
//! client receives "have", writes once (a fault on that `sent` acts before the bytes leave)
//! and receives nothing more until the upload is done (a false green, found in the
//! fourteenth session). The swarm now also crashes a server host after one of the first 64 `received` or `sent` of
//! a listener's first connection on it, and catches it. A crash written by hand after the
//! server's fifth `received` catches it too.

use crate::support::{assert_caught, assert_fix_passes_many, assert_plan_catches, resuming_upload};
use tcpnotify::{ConnectFailure, TcpConnection, TcpConnectionNotify};
use tcpnotify_sim::fault::{EventTrigger, Fault, FaultKind, FaultPlan};
use tcpnotify_sim::notifiers::pattern;
use tcpnotify_sim::{always, factory, run_passing, run_state, Scenario, Seed};

const FILE: usize = 96 * 1024;
/// Bytes between two checkpoints.
const CHECKPOINT: usize = 32 * 1024;

/// The server's disk: it survives a crash of its host, the server's memory does not.
#[derive(Debug, Default)]
struct Disk {
    file: Vec<u8>,
    /// The length last committed.
    committed: usize,
}

struct Server {
    /// The fix: cut the file back to its committed length before resuming.
    fixed: bool,
}

impl TcpConnectionNotify for Server {
    fn accepted(&mut self, conn: &mut TcpConnection) {
        let Some(disk) = run_state::<Disk>() else {
            return;
        };
        let mut disk = disk.lock();
        if self.fixed {
            let committed = disk.committed;
            disk.file.truncate(committed);
        }
        conn.write((disk.committed as u64).to_be_bytes().to_vec());
    }
    fn received(&mut self, conn: &mut TcpConnection, data: Vec<u8>, _times: usize) -> bool {
        let Some(disk) = run_state::<Disk>() else {
            return true;
        };
        let mut disk = disk.lock();
        let at = disk.file.len().min(FILE);
        let end = (at + data.len()).min(FILE);
        always(
            "the file on disk continues the upload",
            data.len() == end - at && data[..] == pattern(0, FILE)[at..end],
            format_args!("{} bytes received at offset {at}", data.len()),
        );
        disk.file.extend_from_slice(&data);
        if disk.file.len() >= disk.committed + CHECKPOINT {
            disk.committed = disk.file.len();
        }
        if disk.file.len() >= FILE {
            disk.committed = disk.file.len();
            conn.write((FILE as u64).to_be_bytes().to_vec());
        }
        true
    }
    fn closed(&mut self, _conn: &mut TcpConnection) {
        if let Some(disk) = run_state::<Disk>() {
            let mut disk = disk.lock();
            disk.committed = disk.file.len();
        }
    }
    fn connect_failed(&mut self, _conn: &mut TcpConnection, _reason: ConnectFailure) {}
}

fn upload(fixed: bool) -> Scenario {
    let scenario = Scenario::new("recovery-keeps-uncommitted")
        .listener("server", "server", 7000, factory(move || Server { fixed }))
        .duration_ms(5000);
    resuming_upload(scenario, FILE)
}

/// The bug hides on a quiet network and under resets (`closed` commits what was written).
#[test]
fn recovery_keeps_uncommitted_passes_on_a_quiet_network() {
    run_passing(&upload(false).plan(FaultPlan::quiet(Seed(1))), Seed(1));
}

/// A crash of the server host after its fifth `received` (a send buffer of 8 KiB spreads the
/// upload over a delivery a millisecond; a crash a callback asks for comes at the next step):
/// 40 KiB written, 32 KiB committed, the restarted buggy server has the client resend from
/// 32 KiB after the 8 KiB it kept; the fixed one cuts them and passes the same plan.
#[test]
fn recovery_keeps_uncommitted_is_caught_by_a_late_crash_by_hand() {
    let mut plan = FaultPlan::quiet(Seed(1));
    plan.send_buffer = Some(8192);
    let fifth = EventTrigger {
        conn: "server.1".into(),
        callback: "received".into(),
        nth: 5,
    };
    let crash = FaultKind::Crash {
        host: "server".into(),
        restart_after_ms: Some(50),
    };
    plan.faults = vec![Fault::after(fifth, crash)];
    assert_plan_catches(
        &upload(false),
        &upload(true),
        &plan,
        "the file on disk continues the upload",
    );
}

/// The swarm with no settings catches it with a crash timed by the server's `received`.
#[test]
fn recovery_keeps_uncommitted_is_caught_by_the_swarm() {
    assert_caught(&upload(false), "the file on disk continues the upload");
}

/// The fixed server passes the swarm (`TCPNOTIFY_SEEDS` sweeps more).
#[test]
fn recovery_cuts_to_the_checkpoint_passes_many_seeds() {
    assert_fix_passes_many(upload(true));
}
