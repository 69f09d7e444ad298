//! An application that ignores `connect_failed` and waits forever. It keeps a control
//! connection open while an upload runs on a second connection, and shuts the control
//! connection when the upload ends; it listens for the upload's `closed` but not for its
//! `connect_failed`. On a quiet network the upload always connects; when a partition makes the
//! upload's connect time out, the application waits for an end that never comes, the control
//! connection stays open, and the run does not finish.

use crate::support::{assert_caught, assert_fix_passes, without_settings, Sink};
use std::cell::RefCell;
use tcpnotify::{ConnectFailure, ConnectionHandle, TcpConnection, TcpConnectionNotify};
use tcpnotify_sim::fault::{FaultKind, FaultPlan};
use tcpnotify_sim::fault::{FaultSettings, Span};
use tcpnotify_sim::notifiers::pattern;
use tcpnotify_sim::{factory, run_passing, Scenario, Seed};

const UPLOAD_BYTES: usize = 2048;
const UPLOAD_START_MS: u64 = 300;

thread_local! {
    /// The application's control connection. A simulation runs entirely on one thread, one
    /// run at a time, so this is the current run's; the control client clears it when it
    /// starts, first in every run.
    static CONTROL: RefCell<Option<ConnectionHandle>> = const { RefCell::new(None) };
}

/// The application is done: shut its control connection.
fn finish_application() {
    if let Some(control) = CONTROL.with(|c| c.borrow_mut().take()) {
        control.dispose();
    }
}

/// The control connection: open until the application is done.
struct Control;

impl TcpConnectionNotify for Control {
    fn proxy_via(&mut self, host: &str, service: &str) -> (String, String) {
        CONTROL.with(|c| *c.borrow_mut() = None);
        (host.to_string(), service.to_string())
    }
    fn connected(&mut self, conn: &mut TcpConnection) {
        CONTROL.with(|c| *c.borrow_mut() = Some(conn.handle()));
    }
    fn connect_failed(&mut self, _conn: &mut TcpConnection, _reason: ConnectFailure) {}
}

/// The upload: writes its bytes and closes; the application is done when it ends.
struct Upload {
    /// Whether `connect_failed` also ends the application (the fix).
    handles_connect_failed: bool,
}

impl TcpConnectionNotify for Upload {
    fn connected(&mut self, conn: &mut TcpConnection) {
        conn.write(pattern(0, UPLOAD_BYTES));
        conn.dispose();
    }
    fn closed(&mut self, _conn: &mut TcpConnection) {
        finish_application();
    }
    fn connect_failed(&mut self, _conn: &mut TcpConnection, _reason: ConnectFailure) {
        // The bug: without this the application waits for `closed`, which never comes (C5).
        if self.handles_connect_failed {
            finish_application();
        }
    }
}

fn application(handles_connect_failed: bool) -> Scenario {
    Scenario::new("forgotten-connect-failed")
        .listener("control", "server", 7000, factory(|| Sink))
        .listener("uploads", "server", 7001, factory(|| Sink))
        .client("ctl", "app", "server", 7000, factory(|| Control))
        .client(
            "upload",
            "app",
            "server",
            7001,
            factory(move || Upload {
                handles_connect_failed,
            }),
        )
        .starting_at(UPLOAD_START_MS)
        .duration_ms(2000)
        .faults(FaultSettings {
            latency_ms: Some(Span::new(1, 5)),
            partitions: 0.5,
            partition_ms: Span::new(50, 600),
            resets: 0.5,
            slow_close: 0.5,
            connect_timeout_ms: 200,
            ..FaultSettings::default()
        })
}

/// The bug hides on a quiet network: the upload connects, ends, and the application with it.
#[test]
fn forgotten_connect_failed_passes_on_a_quiet_network() {
    let scenario = application(false).plan(FaultPlan::quiet(Seed(1)));
    run_passing(&scenario, Seed(1));
}

/// C5: the sweep catches the run that never finishes and shrinks the plan to the one
/// partition that times the upload's connect out; handling `connect_failed` passes the same
/// seeds.
#[test]
fn forgotten_connect_failed_is_caught_and_shrunk() {
    let failure = assert_caught(&application(false), "finished");
    let faults = &failure.shrunk.plan.faults;
    assert_eq!(faults.len(), 1, "{failure}");
    assert!(
        matches!(faults[0].kind, FaultKind::Partition { .. }),
        "{failure}"
    );
    assert_fix_passes(application(true), &failure);
}

/// With no fault settings written (the swarm), the same bug is caught: the swarm has the
/// upload's connect fail (refused, or timed out behind a partition) and the application waits
/// for good. The README's table gives both columns.
#[test]
fn forgotten_connect_failed_is_caught_by_the_swarm() {
    let failure = assert_caught(&without_settings(application(false)), "finished");
    let faults = &failure.shrunk.plan.faults;
    assert_eq!(faults.len(), 1, "{failure}");
    assert!(
        matches!(
            faults[0].kind,
            FaultKind::Refuse { .. } | FaultKind::Partition { .. }
        ),
        "{failure}"
    );
    assert_fix_passes(without_settings(application(true)), &failure);
}
