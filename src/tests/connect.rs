//! Connect rules C1–C6: a client from `proxy_via` to its one terminal callback.

use super::harness::{addr, client, server, Log, Script, Wire};
use crate::proto::ConnectFailure;
use crate::proto::{Phase, Role};
use std::io;

#[test]
fn c1_proxy_via_is_first_exactly_once_and_its_target_is_what_is_resolved() {
    let log = Log::new();
    let mut conn = client(
        Script::new(&log).on_proxy_via(|_, _| ("proxy.local".to_string(), "3128".to_string())),
    );
    assert_eq!(conn.phase(), Phase::New);
    let target = conn.machine().handle_dial("example.org", "7000");
    assert_eq!(target, ("proxy.local".to_string(), "3128".to_string()));
    assert_eq!(conn.phase(), Phase::Resolving);
    assert_eq!(log.take(), ["proxy_via(example.org, 7000)"]);

    conn.machine().handle_resolved(Ok(vec![addr(3128)]));
    let transport = conn.wire.transport();
    assert!(conn.machine().handle_attempt_connected(transport).is_ok());
    assert_eq!(log.take(), ["connecting(1)", "connected"]);
    assert_eq!(conn.connection().role(), Role::Client);
}

#[test]
fn c1_proxy_via_never_runs_on_accepted_connections() {
    let log = Log::new();
    let mut conn = server(Script::new(&log));
    conn.wire.push("hi").push_eof();
    conn.accept();
    assert_eq!(log.take(), ["accepted", "received(\"hi\", 1)", "closed"]);
}

#[test]
fn c2_every_resolved_address_is_dialled_at_once_in_resolution_order() {
    let log = Log::new();
    let mut conn = client(Script::new(&log));
    conn.machine().handle_dial("example.org", "7000");
    conn.machine()
        .handle_resolved(Ok(vec![addr(3), addr(1), addr(2)]));
    let dialled = conn.dialled();
    assert_eq!(dialled, [addr(3), addr(1), addr(2)]);
    assert_eq!(conn.phase(), Phase::Connecting { outstanding: 3 });
    assert_eq!(
        log.take(),
        ["proxy_via(example.org, 7000)", "connecting(3)"]
    );
}

#[test]
fn c2_first_success_wins_and_later_successes_are_handed_back_with_no_callback() {
    let log = Log::new();
    let mut conn = client(Script::new(&log));
    let (winner, loser) = (Wire::new(1), Wire::new(2));
    conn.machine().handle_dial("example.org", "7000");
    conn.machine().handle_resolved(Ok(vec![addr(1), addr(2)]));

    assert!(conn
        .machine()
        .handle_attempt_connected(winner.transport())
        .is_ok());
    let back = conn
        .machine()
        .handle_attempt_connected(loser.transport())
        .expect_err("a second success is handed back to be closed");
    assert_eq!(back.local_address(), Some(addr(2)));
    drop(back);

    assert!(loser.is_dropped());
    assert!(!winner.is_dropped());
    assert_eq!(conn.connection().local_address(), Some(addr(1)));
    assert_eq!(
        log.take(),
        ["proxy_via(example.org, 7000)", "connecting(2)", "connected"]
    );
}

#[test]
fn c3_connecting_counts_down_by_one_per_failed_attempt_before_the_terminal_callback() {
    let log = Log::new();
    let mut conn = client(Script::new(&log));
    conn.machine().handle_dial("example.org", "7000");
    conn.machine()
        .handle_resolved(Ok(vec![addr(1), addr(2), addr(3)]));
    conn.machine()
        .handle_attempt_failed(ConnectFailure::Refused);
    assert_eq!(conn.phase(), Phase::Connecting { outstanding: 2 });
    conn.machine()
        .handle_attempt_failed(ConnectFailure::TimedOut);
    let transport = conn.wire.transport();
    assert!(conn.machine().handle_attempt_connected(transport).is_ok());
    assert_eq!(
        log.take(),
        [
            "proxy_via(example.org, 7000)",
            "connecting(3)",
            "connecting(2)",
            "connecting(1)",
            "connected"
        ]
    );
    assert_eq!(conn.phase(), Phase::Open);
}

#[test]
fn c3_no_connecting_when_resolution_fails_or_finds_nothing() {
    for result in [Err(io::Error::other("no such host")), Ok(vec![])] {
        let log = Log::new();
        let mut conn = client(Script::new(&log));
        conn.machine().handle_dial("nowhere.invalid", "7000");
        conn.machine().handle_resolved(result);
        assert!(conn.dialled().is_empty());
        assert_eq!(
            log.take(),
            [
                "proxy_via(nowhere.invalid, 7000)",
                "connect_failed(resolve)"
            ]
        );
        assert_eq!(conn.phase(), Phase::ConnectFailed);
        assert!(conn.machine().is_finished());
    }
}

#[test]
fn c4_connected_and_connect_failed_are_exclusive() {
    let log = Log::new();
    let mut conn = client(Script::new(&log));
    conn.machine().handle_dial("example.org", "7000");
    conn.machine()
        .handle_resolved(Ok(vec![addr(1), addr(2), addr(3)]));
    let transport = conn.wire.transport();
    assert!(conn.machine().handle_attempt_connected(transport).is_ok());
    // The stragglers report afterwards, the last one bringing the count to zero.
    conn.machine()
        .handle_attempt_failed(ConnectFailure::Refused);
    conn.machine()
        .handle_attempt_failed(ConnectFailure::TimedOut);
    assert_eq!(
        log.take(),
        ["proxy_via(example.org, 7000)", "connecting(3)", "connected"]
    );
    assert_eq!(conn.phase(), Phase::Open);
}

#[test]
fn c4_connect_failed_follows_connecting_1_with_the_last_attempts_reason() {
    let log = Log::new();
    let mut conn = client(Script::new(&log));
    conn.machine().handle_dial("example.org", "7000");
    conn.machine().handle_resolved(Ok(vec![addr(1), addr(2)]));
    conn.machine()
        .handle_attempt_failed(ConnectFailure::Refused);
    conn.machine()
        .handle_attempt_failed(ConnectFailure::TimedOut);
    assert_eq!(
        log.take(),
        [
            "proxy_via(example.org, 7000)",
            "connecting(2)",
            "connecting(1)",
            "connect_failed(timed out)"
        ]
    );
    assert!(conn.machine().is_finished());
}

#[test]
fn c5_nothing_follows_connect_failed() {
    let log = Log::new();
    let mut conn = client(Script::new(&log).on_connect_failed(|conn, _| {
        conn.close();
        conn.hard_close();
        conn.write_final("final");
        conn.write("queued");
        conn.expect(4).expect("4 fits the buffer");
    }));
    conn.machine().handle_dial("example.org", "7000");
    conn.machine().handle_resolved(Ok(vec![addr(1)]));
    conn.machine()
        .handle_attempt_failed(ConnectFailure::Refused);
    assert_eq!(
        log.take(),
        [
            "proxy_via(example.org, 7000)",
            "connecting(1)",
            "connect_failed(refused)"
        ]
    );

    let late = Wire::new(5);
    assert!(conn
        .machine()
        .handle_attempt_connected(late.transport())
        .is_err());
    assert!(late.is_dropped());
    conn.machine()
        .handle_attempt_failed(ConnectFailure::Refused);
    conn.handle.write("more");
    conn.handle.writev(vec![b"v".to_vec()]);
    conn.handle.mute();
    conn.handle.unmute();
    conn.handle.dispose();
    assert_eq!(conn.messages(), 6);
    assert!(!conn.machine().handle_readable());
    assert!(!conn.machine().handle_writable());

    assert_eq!(log.take(), super::harness::NOTHING);
    assert_eq!(conn.phase(), Phase::ConnectFailed);
    // write_final, the queued write from the callback, write and writev.
    assert_eq!(conn.handle.stats().writes_dropped, 4);
}

#[test]
fn c6_dispose_while_connecting_abandons_every_attempt_with_connect_failed_aborted() {
    let log = Log::new();
    let mut conn = client(Script::new(&log));
    conn.machine().handle_dial("example.org", "7000");
    conn.machine().handle_resolved(Ok(vec![addr(1), addr(2)]));
    conn.handle.dispose();
    assert_eq!(conn.messages(), 1);
    assert_eq!(conn.phase(), Phase::ConnectFailed);
    assert!(!conn.machine().is_connecting());

    // An abandoned attempt that succeeds later is closed silently; one that fails is ignored.
    let transport = conn.wire.transport();
    assert!(conn.machine().handle_attempt_connected(transport).is_err());
    assert!(conn.wire.is_dropped());
    conn.machine()
        .handle_attempt_failed(ConnectFailure::Refused);
    assert_eq!(
        log.take(),
        [
            "proxy_via(example.org, 7000)",
            "connecting(2)",
            "connect_failed(aborted)"
        ]
    );
}

#[test]
fn c6_dispose_while_resolving_aborts_and_nothing_is_dialled() {
    let log = Log::new();
    let mut conn = client(Script::new(&log));
    conn.machine().handle_dial("example.org", "7000");
    conn.handle.dispose();
    conn.messages();
    conn.machine().handle_resolved(Ok(vec![addr(1)]));
    assert!(conn.dialled().is_empty());
    assert_eq!(
        log.take(),
        ["proxy_via(example.org, 7000)", "connect_failed(aborted)"]
    );
}

#[test]
fn c6_close_inside_connecting_dials_nothing_more() {
    let log = Log::new();
    let mut conn = client(Script::new(&log).on_connecting(|conn, _| conn.close()));
    conn.machine().handle_dial("example.org", "7000");
    conn.machine().handle_resolved(Ok(vec![addr(1), addr(2)]));
    assert!(conn.dialled().is_empty());
    assert_eq!(
        log.take(),
        [
            "proxy_via(example.org, 7000)",
            "connecting(2)",
            "connect_failed(aborted)"
        ]
    );
}
