//! A resuming upload whose client dials again when its first connect fails, but gives the
//! upload up when a redial's connect fails. The client (`support::resuming_upload`) redials
//! whenever a connection is lost before the server said it had the whole file; a failed
//! connect of its first connection is dialled again too. The bug: a redial whose connect
//! fails (refused while the service restarts, or timed out behind a partition) is taken for
//! the end, so the upload never completes (`uploaded`). The fix dials again after every
//! failed connect.
//!
//! Only a refusal or partition that meets a redial's connect shows it: one that meets the
//! first connect is handled. Until the sixteenth session the swarm timed both by a client's
//! first events only (its `connecting`, `connected`, or one of its first three `sent` or
//! `received`), never by a redial's; yet this was no false green: a loss drawn while a
//! refusal is still on (up to a second) has the redial refused, and the swarm caught it at
//! seed 2 (a refusal of the
//! server's port for 291 ms after `c1`'s 1st `sent`, a reset of `server.1` after its 27th
//! `received`). A refusal of the server's port and a reset of the client's first connection,
//! written by hand, catch it too.

use crate::resume_offset_counts_unstored::upload_redialling;
use crate::support::{assert_caught, assert_fix_passes_many, assert_plan_catches};
use crate::support::{reset_after, FailedConnects};
use tcpnotify_sim::fault::{EventTrigger, Fault, FaultKind, FaultPlan};
use tcpnotify_sim::{run_passing, Scenario, Seed};

fn upload(failed_connects: FailedConnects) -> Scenario {
    upload_redialling(true, failed_connects)
}

/// The bug hides on a quiet network: the first connection uploads the whole file.
#[test]
fn failed_redial_gives_up_passes_on_a_quiet_network() {
    let scenario = upload(FailedConnects::FirstOnly).plan(FaultPlan::quiet(Seed(1)));
    run_passing(&scenario, Seed(1));
}

/// A reset of the client's connection after its first `received` (the server's "have 0"),
/// its port refusing from then on for 100 ms: the redial is refused, and the buggy client
/// gives the upload up; the fixed one dials again once the port accepts.
#[test]
fn failed_redial_gives_up_is_caught_by_a_refused_redial_by_hand() {
    let mut plan = FaultPlan::quiet(Seed(1));
    let received = EventTrigger {
        conn: "c1".into(),
        callback: "received".into(),
        nth: 1,
    };
    let refuse = FaultKind::Refuse {
        host: "server".into(),
        port: 7000,
        duration_ms: 100,
    };
    plan.faults = vec![
        Fault::after(received, refuse),
        reset_after("c1", "received", 1),
    ];
    assert_plan_catches(
        &upload(FailedConnects::FirstOnly),
        &upload(FailedConnects::Redialled),
        &plan,
        "uploaded",
    );
}

/// The swarm with no settings catches it: a loss while a refusal timed by the client's
/// first events is still on.
#[test]
fn failed_redial_gives_up_is_caught_by_the_swarm() {
    assert_caught(&upload(FailedConnects::FirstOnly), "uploaded");
}

/// The client that dials again after every failed connect passes the swarm
/// (`TCPNOTIFY_SEEDS` sweeps more).
#[test]
fn failed_redial_dialled_again_passes_many_seeds() {
    assert_fix_passes_many(upload(FailedConnects::Redialled));
}
