//! One test per defect row of the "Where we differ from Pony" table of `docs/contract.md`:
//! each runs the conditions of the Pony defect and pins our behaviour.

use super::harness::{addr, client, config, server, server_with, Conn, Log, Script, Wire, NOTHING};
use crate::proto::ConnectFailure;
use crate::proto::Phase;
use std::io::{self, ErrorKind};

#[test]
fn c6_close_while_connecting_fires_connect_failed_aborted_lori_179() {
    let log = Log::new();
    let mut conn = client(Script::new(&log).on_connecting(|conn, count| {
        if count == 1 {
            conn.close();
        }
    }));
    conn.machine().handle_dial("example.org", "7000");
    conn.machine().handle_resolved(Ok(vec![addr(1), addr(2)]));
    assert_eq!(conn.dialled(), [addr(1), addr(2)]);
    conn.machine()
        .handle_attempt_failed(ConnectFailure::Refused);
    assert_eq!(conn.phase(), Phase::ConnectFailed);

    // The attempt still in flight succeeds later: closed silently.
    let late = Wire::new(2);
    assert!(conn
        .machine()
        .handle_attempt_connected(late.transport())
        .is_err());
    assert!(late.is_dropped());
    assert_eq!(
        log.take(),
        [
            "proxy_via(example.org, 7000)",
            "connecting(2)",
            "connecting(1)",
            "connect_failed(aborted)"
        ]
    );
}

#[test]
fn c6_hard_close_while_connecting_abandons_and_a_later_success_never_goes_live_lori_175() {
    let log = Log::new();
    let mut conn = client(Script::new(&log).on_connecting(|conn, count| {
        if count == 2 {
            conn.hard_close();
        }
    }));
    conn.machine().handle_dial("example.org", "7000");
    conn.machine()
        .handle_resolved(Ok(vec![addr(1), addr(2), addr(3)]));
    conn.machine()
        .handle_attempt_failed(ConnectFailure::TimedOut);
    assert!(!conn.machine().is_connecting());

    let late = Wire::new(2);
    late.push("never delivered");
    assert!(conn
        .machine()
        .handle_attempt_connected(late.transport())
        .is_err());
    assert!(late.is_dropped());
    assert_eq!(late.unread(), 1);
    conn.machine()
        .handle_attempt_failed(ConnectFailure::Refused);
    conn.handle.write("never sent");
    conn.messages();
    assert_eq!(
        log.take(),
        [
            "proxy_via(example.org, 7000)",
            "connecting(3)",
            "connecting(2)",
            "connect_failed(aborted)"
        ]
    );
    assert_eq!(conn.phase(), Phase::ConnectFailed);
    assert_eq!(conn.handle.stats().writes_dropped, 1);
}

#[test]
fn l2_hard_close_inside_received_stops_delivery_of_buffered_frames_lori_307() {
    let log = Log::new();
    let mut conn = server(Script::new(&log).expecting(2).on_received(|conn, _, _| {
        conn.hard_close();
        true
    }));
    conn.wire.push("aabbcc").push("dd");
    conn.accept();
    assert_eq!(
        log.take(),
        ["accepted", "expect(2)", "received(\"aa\", 1)", "closed"]
    );
    conn.drive();
    assert!(!conn.machine().handle_readable());
    assert_eq!(log.take(), NOTHING);
    assert_eq!(conn.wire.unread(), 1);
    assert_eq!(conn.phase(), Phase::Closed);
}

#[test]
fn w5_unthrottled_fires_when_the_drain_finishes_in_a_write_yield_turn() {
    let log = Log::new();
    let config = config(|c| c.set_yield_after_writing(4));
    let mut conn = server_with(Script::new(&log), config);
    conn.accept();
    conn.wire.block_writes();
    conn.handle.write("0123456789");
    conn.messages();
    conn.wire.unblock_writes().per_call(3);
    assert!(conn.machine().handle_writable());
    assert_eq!(conn.wire.written_str(), "012345");
    assert!(!conn.machine().wants_write());
    assert_eq!(
        log.take(),
        ["accepted", "sent(\"0123456789\")", "throttled"]
    );

    assert_eq!(conn.resume(), ["WriteAgain"]);
    assert_eq!(conn.wire.written_str(), "0123456789");
    assert_eq!(log.take(), ["unthrottled"]);
    assert!(!conn.connection().is_throttled());
}

#[test]
fn l4_fin_is_sent_as_soon_as_the_drain_finishes_in_a_write_yield_turn() {
    let log = Log::new();
    let config = config(|c| c.set_yield_after_writing(4));
    let mut conn = server_with(Script::new(&log), config);
    conn.accept();
    conn.wire.block_writes();
    conn.handle.write("0123456789");
    conn.handle.dispose();
    conn.messages();
    conn.wire.unblock_writes().per_call(3);
    conn.machine().handle_writable();
    assert_eq!(conn.wire.written_str(), "012345");
    assert!(!conn.wire.is_shut());
    assert_eq!(conn.phase(), Phase::Closing { write_shut: false });

    assert_eq!(conn.resume(), ["WriteAgain"]);
    assert_eq!(conn.wire.written_str(), "0123456789");
    assert!(conn.wire.is_shut());
    assert_eq!(conn.phase(), Phase::Closing { write_shut: true });
    assert!(!conn.machine().wants_write());
    assert_eq!(
        log.take(),
        [
            "accepted",
            "sent(\"0123456789\")",
            "throttled",
            "unthrottled"
        ]
    );
}

#[test]
fn set_nodelay_sets_tcp_nodelay_and_no_other_option_lori_pr_217() {
    let log = Log::new();
    let notes = log.clone();
    let mut conn = server(Script::new(&log).on_accepted(move |conn| {
        let before = conn.nodelay().expect("open");
        conn.set_nodelay(true).expect("open");
        let after = conn.nodelay().expect("open");
        notes.push(format!("nodelay {before} -> {after}"));
    }));
    conn.accept();
    assert_eq!(log.take(), ["accepted", "nodelay false -> true"]);
    assert!(conn.wire.nodelay());
    assert_eq!(conn.wire.keepalive(), 0);
    assert_eq!(conn.connection().nodelay().ok(), Some(true));
}

#[test]
fn set_nodelay_back_off_and_keepalive_are_independent_options() {
    let log = Log::new();
    let mut conn = server(Script::new(&log).on_received(|conn, data, _| {
        match data {
            b"on" => conn.set_nodelay(true).expect("open"),
            b"off" => conn.set_nodelay(false).expect("open"),
            _ => conn.set_keepalive(30).expect("open"),
        }
        true
    }));
    conn.accept();
    conn.wire.push("on");
    conn.machine().handle_readable();
    conn.wire.push("keepalive");
    conn.machine().handle_readable();
    assert!(conn.wire.nodelay());
    assert_eq!(conn.wire.keepalive(), 30);
    conn.wire.push("off");
    conn.machine().handle_readable();
    assert!(!conn.wire.nodelay());
    assert_eq!(conn.wire.keepalive(), 30);

    conn.wire.push_eof();
    conn.machine().handle_readable();
    assert_eq!(conn.phase(), Phase::Closed);
    let err = conn.connection().nodelay().expect_err("closed");
    assert_eq!(err.kind(), ErrorKind::NotConnected);
}

#[test]
fn r2_a_wrappers_expect_larger_than_the_buffer_is_an_error_not_end_of_stream_lori_324() {
    let log = Log::new();
    let config = config(|c| c.set_read_buffer_size(8));
    // A wrapper (say, a record layer) asks the connection for four times what its caller wants.
    let script = Script::new(&log)
        .expecting(2)
        .on_expect(|_, qty| qty * 4)
        .on_received(|conn, data, _| {
            if data == b"abcdefgh" {
                conn.expect(3).expect("3 fits the buffer");
            }
            true
        });
    let mut conn = server_with(script, config);
    conn.wire.push("abcdefgh").push("ijklmnop").push("q");
    conn.accept();
    assert_eq!(
        log.take(),
        [
            "accepted",
            "expect(2)",
            "received(\"abcdefgh\", 1)",
            "expect(3)",
            "received(\"ijklmnop\", 2)"
        ]
    );
    assert_eq!(conn.connection().expect_size(), 8);
    assert_eq!(conn.handle.stats().expect_rejected, 1);
    assert_eq!(conn.phase(), Phase::Open);
    assert!(!conn.wire.is_dropped());
    assert_eq!(conn.wire.unread(), 0);
}

#[test]
fn c4_no_connect_failed_after_connected_when_a_straggler_is_reaped_ponyc_3829() {
    let log = Log::new();
    let mut conn = client(Script::new(&log));
    conn.machine().handle_dial("example.org", "7000");
    conn.machine()
        .handle_resolved(Ok(vec![addr(1), addr(2), addr(3)]));
    conn.wire.push("hi").push_eof();
    let transport = conn.wire.transport();
    assert!(conn.machine().handle_attempt_connected(transport).is_ok());
    assert_eq!(conn.phase(), Phase::Closed);

    // The stragglers are reaped after the connection already closed.
    conn.machine()
        .handle_attempt_failed(ConnectFailure::TimedOut);
    let straggler = Wire::new(3);
    assert!(conn
        .machine()
        .handle_attempt_connected(straggler.transport())
        .is_err());
    assert!(straggler.is_dropped());
    assert_eq!(
        log.take(),
        [
            "proxy_via(example.org, 7000)",
            "connecting(3)",
            "connected",
            "received(\"hi\", 1)",
            "closed"
        ]
    );
}

#[test]
fn c4_connect_failed_carries_a_reason() {
    type Steps = fn(&mut Conn);
    let cases: [(Steps, &[&str]); 4] = [
        (
            |conn| {
                conn.machine()
                    .handle_resolved(Err::<Vec<_>, _>(io::Error::other("no such host")));
            },
            &["proxy_via(example.org, 7000)", "connect_failed(resolve)"],
        ),
        (
            |conn| {
                conn.machine().handle_resolved(Ok(vec![addr(1), addr(2)]));
                conn.machine()
                    .handle_attempt_failed(ConnectFailure::Refused);
                conn.machine()
                    .handle_attempt_failed(ConnectFailure::Refused);
            },
            &[
                "proxy_via(example.org, 7000)",
                "connecting(2)",
                "connecting(1)",
                "connect_failed(refused)",
            ],
        ),
        (
            |conn| {
                conn.machine().handle_resolved(Ok(vec![addr(1), addr(2)]));
                conn.machine()
                    .handle_attempt_failed(ConnectFailure::Refused);
                conn.machine()
                    .handle_attempt_failed(ConnectFailure::TimedOut);
            },
            &[
                "proxy_via(example.org, 7000)",
                "connecting(2)",
                "connecting(1)",
                "connect_failed(timed out)",
            ],
        ),
        (
            |conn| {
                conn.machine().handle_resolved(Ok(vec![addr(1)]));
                conn.handle.dispose();
                conn.messages();
            },
            &[
                "proxy_via(example.org, 7000)",
                "connecting(1)",
                "connect_failed(aborted)",
            ],
        ),
    ];
    for (steps, expected) in cases {
        let log = Log::new();
        let mut conn = client(Script::new(&log));
        conn.machine().handle_dial("example.org", "7000");
        steps(&mut conn);
        assert_eq!(log.take(), expected);
        assert_eq!(conn.phase(), Phase::ConnectFailed);
    }
}
