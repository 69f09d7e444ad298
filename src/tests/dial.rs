//! Dialling from a callback: the core queues the request (notifier, target, the requester's
//! settings) for the runtime to start, from any callback of a connection or a listener,
//! including the last one; nothing is dialled by the core itself.

use super::harness::{client, ListenScript, Log, Script};
use crate::proto::{ConnectFailure, ConnectionConfig, ListenerMachine};
use std::io;

#[test]
fn a_dial_from_connect_failed_is_queued_with_its_target_and_the_dialler_settings() {
    let log = Log::new();
    let redial_log = log.clone();
    let mut conn = client(Script::new(&log).on_connect_failed(move |conn, _| {
        let handle = conn.dial(Script::named(&redial_log, "again"), "backup.test", "7001");
        // Sent through the handle before the new connection runs: it waits in its mailbox.
        handle.mute();
    }));
    conn.machine().handle_dial("primary.test", "7000");
    conn.machine()
        .handle_resolved(Err::<Vec<_>, _>(io::Error::other("no such host")));
    assert_eq!(
        log.take(),
        ["proxy_via(primary.test, 7000)", "connect_failed(resolve)"]
    );
    let config = conn.connection().config();
    let dials = conn.machine().poll_dials();
    assert_eq!(
        dials.len(),
        1,
        "the last callback's dial is still handed out"
    );
    let dial = &dials[0];
    assert_eq!(
        (dial.host.as_str(), dial.service.as_str()),
        ("backup.test", "7001")
    );
    assert_eq!(dial.config, config);
    assert!(conn.machine().poll_dials().is_empty(), "handed out once");
    // The core never runs the new notifier: no callback of `again` happened.
    assert!(log.take().is_empty());
}

#[test]
fn a_listener_queues_a_dial_from_listening_with_its_connection_settings() {
    let log = Log::new();
    let mut config = ConnectionConfig::default();
    config.set_read_buffer_size(512);
    let dial_log = log.clone();
    let script = ListenScript::new(&log).on_listening(move |listener| {
        listener.dial(Script::named(&dial_log, "announcer"), "registry.test", "53");
    });
    let mut machine = ListenerMachine::new(Box::new(script), 0, config);
    machine.handle_bound(Ok(super::harness::addr(8080)));
    let dials = machine.poll_dials();
    assert_eq!(dials.len(), 1);
    assert_eq!(dials[0].host, "registry.test");
    assert_eq!(dials[0].config.read_buffer_size(), 512);
    assert!(machine.poll_dials().is_empty());
}

#[test]
fn a_connection_that_never_dials_hands_out_nothing() {
    let log = Log::new();
    let mut conn = client(Script::new(&log));
    conn.machine().handle_dial("example.org", "7000");
    conn.machine()
        .handle_attempt_failed(ConnectFailure::Refused);
    assert!(conn.machine().poll_dials().is_empty());
}
