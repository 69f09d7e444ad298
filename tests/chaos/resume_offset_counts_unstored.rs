//! A resumable upload whose server tells the client to resume from what it received, not from
//! what it stored. The file is a run of fixed-size records; the server stores whole records
//! only (a record is checked before it is kept) and holds the partial one in memory, while its
//! session counts every byte received for progress. Each connection starts with the server's
//! "have N"; the client (`support::resuming_upload`) then writes the rest of the file,
//! `file[N..]`, in one write, and redials when the connection is lost before the server's
//! final "have".
//! The bug: "have" is the session's byte count, which includes the partial record the lost
//! connection took with it, so the client skips bytes the server never stored. The fix
//! answers with the length stored.
//!
//! Only a loss in the middle of the upload shows it, and the client's own events never time
//! one: it receives "have", writes once (a fault on that `sent` acts before the bytes
//! leave) and receives nothing more until the upload is done. Only the server's progress
//! (its `received`) times such a loss, and until the fourteenth session the swarm timed
//! resets by clients' events only (a false green); it now also resets a listener's first
//! accepted connection after one of its first 64 `received` or `sent`, and catches it. A reset
//! written by hand after the server's first `received` catches it too.

use crate::support::{
    assert_caught, assert_fix_passes_many, assert_plan_catches, reset_after,
    resuming_upload_redialling, FailedConnects,
};
use tcpnotify::{ConnectFailure, TcpConnection, TcpConnectionNotify};
use tcpnotify_sim::fault::FaultPlan;
use tcpnotify_sim::notifiers::pattern;
use tcpnotify_sim::{always, factory, run_passing, run_state, Scenario, Seed};

/// A record's size: not a divisor of a read's 16 KiB, so a loss between reads leaves part of
/// a record in memory.
const RECORD: usize = 6000;
const FILE: usize = 10 * RECORD;
/// The server's upload session, kept across connections (its disk).
#[derive(Debug, Default)]
struct Session {
    /// Whole records, checked and kept.
    stored: Vec<u8>,
    /// Bytes received over every connection, for progress.
    received: usize,
}

struct Server {
    /// The partial record, kept in memory until it is whole.
    partial: Vec<u8>,
    /// The fix: resume from the length stored.
    fixed: bool,
}

impl Server {
    fn have(&self, session: &Session) -> usize {
        match self.fixed {
            true => session.stored.len(),
            false => session.received, // the bug: counts the partial record a loss drops
        }
    }
}

impl TcpConnectionNotify for Server {
    fn accepted(&mut self, conn: &mut TcpConnection) {
        if let Some(session) = run_state::<Session>() {
            let have = self.have(&session.lock());
            conn.write((have as u64).to_be_bytes().to_vec());
        }
    }
    fn received(&mut self, conn: &mut TcpConnection, data: Vec<u8>, _times: usize) -> bool {
        let Some(session) = run_state::<Session>() else {
            return true;
        };
        let mut session = session.lock();
        session.received += data.len();
        self.partial.extend_from_slice(&data);
        while self.partial.len() >= RECORD {
            let record: Vec<u8> = self.partial.drain(..RECORD).collect();
            let at = session.stored.len().min(FILE - RECORD);
            always(
                "stored records continue the file",
                record == pattern(0, FILE)[at..at + RECORD],
                format_args!("record {} differs from the file", at / RECORD),
            );
            session.stored.extend_from_slice(&record);
        }
        if session.stored.len() >= FILE {
            conn.write((FILE as u64).to_be_bytes().to_vec());
        }
        true
    }
    fn connect_failed(&mut self, _conn: &mut TcpConnection, _reason: ConnectFailure) {}
}

fn upload(fixed: bool) -> Scenario {
    upload_redialling(fixed, FailedConnects::Redialled)
}

/// The upload to a server resuming from what it stored (`fixed`) or received, by a client
/// dialling again after the failed connects `failed_connects` names.
pub(crate) fn upload_redialling(fixed: bool, failed_connects: FailedConnects) -> Scenario {
    let server = move || Server {
        partial: Vec::new(),
        fixed,
    };
    let scenario = Scenario::new("resume-offset-counts-unstored")
        .listener("server", "server", 7000, factory(server))
        .duration_ms(5000);
    resuming_upload_redialling(scenario, FILE, failed_connects)
}

/// The bug hides on a quiet network: nothing is lost, "have" is 0 and then the whole file.
#[test]
fn resume_offset_counts_unstored_passes_on_a_quiet_network() {
    run_passing(&upload(false).plan(FaultPlan::quiet(Seed(1))), Seed(1));
}

/// A reset of the server's connection after its first `received` (16 KiB: two records stored,
/// the third in memory): the buggy server has the client resume past the partial record it
/// dropped; the fixed one passes the same plan.
#[test]
fn resume_offset_counts_unstored_is_caught_by_a_server_side_reset_by_hand() {
    let mut plan = FaultPlan::quiet(Seed(1));
    plan.faults = vec![reset_after("server.1", "received", 1)];
    assert_plan_catches(
        &upload(false),
        &upload(true),
        &plan,
        "stored records continue the file",
    );
}

/// The swarm with no settings catches it with a reset timed by the server's `received`.
#[test]
fn resume_offset_counts_unstored_is_caught_by_the_swarm() {
    assert_caught(&upload(false), "stored records continue the file");
}

/// The fixed server passes the swarm (`TCPNOTIFY_SEEDS` sweeps more).
#[test]
fn resume_offset_from_stored_passes_many_seeds() {
    assert_fix_passes_many(upload(true));
}
