//! A reconnecting client that resumes an upload from the wrong offset. It sends a payload to
//! an echo server one chunk at a time (the next chunk once the last one came back), checks
//! every echoed byte against the payload, and when its connection ends before the upload is
//! done it dials again from inside `closed` or `connect_failed` (`conn.dial`) and resumes. The
//! bug: it resumes from the bytes it had *written*, not from the bytes that came back. A
//! written chunk is not a delivered one: a reset right after a chunk was queued loses it, the
//! new connection skips it, and the echo no longer continues the payload. On a quiet network
//! nothing ends early and the upload never resumes.

use crate::support::{assert_caught, assert_fix_passes, assert_fix_passes_many};
use tcpnotify::{ConnectFailure, TcpConnection, TcpConnectionNotify};
use tcpnotify_sim::fault::FaultPlan;
use tcpnotify_sim::notifiers::{pattern, Echo};
use tcpnotify_sim::{always, factory, run_passing, run_state, Scenario, Seed};

const PAYLOAD: usize = 2048;
const CHUNK: usize = 256;

/// How far the upload got, shared by every connection of the run (`run_state`).
#[derive(Debug, Default)]
struct Upload {
    /// Bytes handed to `write` so far.
    written: usize,
    /// Bytes that came back.
    acked: usize,
    /// Connections dialled so far.
    attempts: u32,
}

/// Most connections the client makes: a bound on a run that keeps failing, far more than
/// any fault the swarm draws takes to heal (a refused connect takes a round trip, and a
/// refusal lasts up to a second), so that an upload that must eventually finish does.
const MAX_ATTEMPTS: u32 = 10_000;

/// One connection of the upload.
struct Uploader {
    /// Whether it resumes from what came back (the fix) or from what was written (the bug).
    resumes_from_acked: bool,
}

impl Uploader {
    /// Writes the next chunk, or closes when the whole payload came back.
    fn send_next(conn: &mut TcpConnection, upload: &mut Upload) {
        if upload.acked >= PAYLOAD {
            conn.close();
            return;
        }
        let end = (upload.written + CHUNK).min(PAYLOAD);
        if upload.written < end {
            conn.write(pattern(0, PAYLOAD)[upload.written..end].to_vec());
            upload.written = end;
        }
    }

    /// Dials again unless the upload is done or out of attempts.
    fn again(&self, conn: &mut TcpConnection) {
        let Some(upload) = run_state::<Upload>() else {
            return;
        };
        let mut upload = upload.lock();
        if upload.acked >= PAYLOAD || upload.attempts >= MAX_ATTEMPTS {
            return;
        }
        upload.attempts += 1;
        conn.dial(
            Uploader {
                resumes_from_acked: self.resumes_from_acked,
            },
            "server",
            "7000",
        );
    }
}

impl TcpConnectionNotify for Uploader {
    fn connected(&mut self, conn: &mut TcpConnection) {
        let Some(upload) = run_state::<Upload>() else {
            return;
        };
        let mut upload = upload.lock();
        if self.resumes_from_acked {
            // What was written and never came back may never have arrived: send it again.
            upload.written = upload.acked;
        }
        Self::send_next(conn, &mut upload);
    }
    fn received(&mut self, conn: &mut TcpConnection, data: Vec<u8>, _times: usize) -> bool {
        let Some(upload) = run_state::<Upload>() else {
            return true;
        };
        let mut upload = upload.lock();
        let expected = pattern(0, PAYLOAD);
        let from = upload.acked.min(PAYLOAD);
        let to = (from + data.len()).min(PAYLOAD);
        always(
            "echo continues the payload",
            expected[from..to] == data[..],
            format_args!("{} bytes echoed at offset {from}", data.len()),
        );
        upload.acked = from + data.len();
        if upload.acked == upload.written {
            Self::send_next(conn, &mut upload);
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

fn upload(resumes_from_acked: bool) -> Scenario {
    Scenario::new("resume-from-written")
        .listener("server", "server", 7000, factory(|| Echo))
        .client(
            "c1",
            "client",
            "server",
            7000,
            factory(move || Uploader { resumes_from_acked }),
        )
        .duration_ms(5000)
}

/// The bug hides on a quiet network: the first connection uploads everything.
#[test]
fn resume_from_written_passes_on_a_quiet_network() {
    let scenario = upload(false).plan(FaultPlan::quiet(Seed(1)));
    run_passing(&scenario, Seed(1));
}

/// A reset after a chunk was queued loses it; the buggy client resumes past it and its own
/// check of the echo fails. Caught with no fault settings written; the fix passes.
#[test]
fn resume_from_written_is_caught_and_shrunk() {
    let failure = assert_caught(&upload(false), "echo continues the payload");
    assert_fix_passes(upload(true), &failure);
}

/// The fixed client passes many seeds (`TCPNOTIFY_SEEDS` sweeps more).
#[test]
fn resume_from_acked_passes_many_seeds() {
    assert_fix_passes_many(upload(true));
}

/// The fixed client on a host that also listens, on a port no client dials (a metrics port
/// beside the application): the swarm crashes listening hosts no client dials, but not one
/// that runs the scenario's clients, which never run again after a crash. When it first
/// crashed such hosts it crashed this one too (seed 4, as the client connected), and the
/// upload, which must eventually finish, failed for correct code.
#[test]
fn resume_from_acked_on_a_host_that_also_listens_passes() {
    let mut scenario = upload(true)
        .listener("metrics", "client", 9000, factory(|| Echo))
        .eventually("uploaded", |run| {
            let acked = run.state::<Upload>().map_or(0, |u| u.lock().acked);
            match acked == PAYLOAD {
                true => Ok(()),
                false => Err(format!("{acked} of {PAYLOAD} bytes came back")),
            }
        });
    scenario.name = "resume-from-acked-listening-host".into();
    assert_fix_passes_many(scenario);
}
