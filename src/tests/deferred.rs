//! Nested callbacks, the Rust way: where Pony calls back into the notifier from inside a
//! callback (`expect`, `throttled`, `unthrottled`, `closed`, `connect_failed`), the notifier is
//! still borrowed, so the connection delivers the callback as soon as the calling one returns,
//! before anything else happens, in the order they were requested.

use super::harness::{addr, client, server, Log, Script, Wire};
use crate::proto::Phase;

#[test]
fn r2_the_expect_hook_runs_right_after_the_callback_that_called_expect_returns() {
    let log = Log::new();
    let notes = log.clone();
    let mut conn = server(Script::new(&log).on_accepted(move |conn| {
        conn.expect(3).expect("3 fits the buffer");
        notes.push(format!("framing {} inside accepted", conn.expect_size()));
    }));
    conn.wire.push("abcde");
    conn.accept();
    assert_eq!(
        log.take(),
        [
            "accepted",
            "framing 0 inside accepted",
            "expect(3)",
            "received(\"abc\", 1)"
        ]
    );
    assert_eq!(conn.connection().expect_size(), 3);
}

#[test]
fn r2_an_expect_called_inside_the_expect_hook_runs_after_it_and_wins() {
    let log = Log::new();
    let mut conn = server(Script::new(&log).expecting(2).on_expect(|conn, qty| {
        if qty == 2 {
            conn.expect(4).expect("4 fits the buffer");
        }
        qty
    }));
    conn.wire.push("abcdef");
    conn.accept();
    assert_eq!(
        log.take(),
        [
            "accepted",
            "expect(2)",
            "expect(4)",
            "received(\"abcd\", 1)"
        ]
    );
}

#[test]
fn r2_an_expect_requested_while_connecting_runs_then_and_frames_the_first_delivery() {
    let log = Log::new();
    let mut conn = client(Script::new(&log).on_connecting(|conn, _| {
        conn.expect(4).expect("4 fits the buffer");
    }));
    conn.wire.push("abcdefg");
    conn.connect();
    assert_eq!(
        log.take(),
        [
            "proxy_via(example.org, 7000)",
            "connecting(1)",
            "expect(4)",
            "connected",
            "received(\"abcd\", 1)"
        ]
    );
}

#[test]
fn r2_an_expect_requested_before_a_hard_close_in_the_same_callback_is_dropped() {
    let log = Log::new();
    let mut conn = server(Script::new(&log).on_received(|conn, _, _| {
        conn.expect(2).expect("2 fits the buffer");
        conn.hard_close();
        true
    }));
    conn.wire.push("abcd");
    conn.accept();
    assert_eq!(log.take(), ["accepted", "received(\"abcd\", 1)", "closed"]);
}

#[test]
fn r2_an_expect_requested_inside_closed_is_never_delivered() {
    let log = Log::new();
    let mut conn = server(Script::new(&log).on_closed(|conn| {
        conn.expect(2).expect("the size check still passes");
    }));
    conn.wire.push_eof();
    conn.accept();
    assert_eq!(log.take(), ["accepted", "closed"]);
    assert_eq!(conn.connection().expect_size(), 0);
}

#[test]
fn l5_closed_requested_inside_received_comes_right_after_received_returns() {
    let log = Log::new();
    let notes = log.clone();
    let mut conn = server(Script::new(&log).on_received(move |conn, _, _| {
        conn.hard_close();
        notes.push(format!("phase {} inside received", conn.phase()));
        true
    }));
    conn.wire.push("abc");
    conn.accept();
    assert_eq!(
        log.take(),
        [
            "accepted",
            "received(\"abc\", 1)",
            "phase closed inside received",
            "closed"
        ]
    );
}

#[test]
fn l5_closed_requested_inside_a_delivered_callback_comes_after_it() {
    let log = Log::new();
    let notes = log.clone();
    let mut conn = server(Script::new(&log).on_throttled(move |conn| {
        conn.hard_close();
        notes.push("hard closed inside throttled");
    }));
    conn.accept();
    conn.wire.block_writes();
    conn.handle.write("stuck");
    conn.messages();
    assert_eq!(
        log.take(),
        [
            "accepted",
            "sent(\"stuck\")",
            "throttled",
            "hard closed inside throttled",
            "closed"
        ]
    );
    assert_eq!(conn.phase(), Phase::Closed);
}

#[test]
fn w4_throttled_requested_by_write_final_inside_a_callback_comes_right_after_it_returns() {
    let log = Log::new();
    let notes = log.clone();
    let mut conn = server(Script::new(&log).on_received(move |conn, data, _| {
        conn.write_final(data.to_vec());
        notes.push(format!("{} queued inside received", conn.queued_bytes()));
        true
    }));
    conn.wire.block_writes().push("echo");
    conn.accept();
    assert_eq!(
        log.take(),
        [
            "accepted",
            "received(\"echo\", 1)",
            "4 queued inside received",
            "throttled"
        ]
    );
    assert_eq!(conn.wire.written(), b"");
}

#[test]
fn w5_unthrottled_requested_inside_a_callback_comes_right_after_it_returns() {
    let log = Log::new();
    let notes = log.clone();
    let wire = Wire::new(1000);
    let peer = wire.clone();
    let mut conn = server(Script::new(&log).on_received(move |conn, _, _| {
        peer.unblock_writes();
        conn.write_final("b");
        notes.push(format!("{} queued inside received", conn.queued_bytes()));
        true
    }));
    conn.wire = wire;
    conn.accept();
    conn.wire.block_writes();
    conn.handle.write("a");
    conn.messages();
    conn.wire.push("go");
    conn.machine().handle_readable();
    assert_eq!(
        log.take(),
        [
            "accepted",
            "sent(\"a\")",
            "throttled",
            "received(\"go\", 1)",
            "0 queued inside received",
            "unthrottled"
        ]
    );
    assert_eq!(conn.wire.written_str(), "ab");
}

#[test]
fn w4_throttled_requested_inside_unthrottled_comes_right_after_it_returns() {
    let log = Log::new();
    let notes = log.clone();
    let wire = Wire::new(1000);
    let peer = wire.clone();
    let mut conn = server(Script::new(&log).on_unthrottled(move |conn| {
        peer.block_writes();
        conn.write_final("more");
        notes.push(format!(
            "throttled {} inside unthrottled",
            conn.is_throttled()
        ));
    }));
    conn.wire = wire;
    conn.accept();
    conn.wire.block_writes();
    conn.handle.write("a");
    conn.messages();
    conn.wire.grant(1);
    conn.machine().handle_writable();
    assert_eq!(
        log.take(),
        [
            "accepted",
            "sent(\"a\")",
            "throttled",
            "unthrottled",
            "throttled true inside unthrottled",
            "throttled"
        ]
    );
    assert_eq!(conn.wire.written_str(), "a");
    assert_eq!(conn.connection().queued_bytes(), 4);
}

#[test]
fn w4_callbacks_requested_in_one_callback_come_in_the_order_they_were_requested() {
    for expect_first in [true, false] {
        let log = Log::new();
        let mut conn = server(Script::new(&log).on_received(move |conn, _, _| {
            if expect_first {
                conn.expect(2).expect("2 fits the buffer");
                conn.write_final("x");
            } else {
                conn.write_final("x");
                conn.expect(2).expect("2 fits the buffer");
            }
            true
        }));
        conn.wire.block_writes().push("go");
        conn.accept();
        let expected = if expect_first {
            ["accepted", "received(\"go\", 1)", "expect(2)", "throttled"]
        } else {
            ["accepted", "received(\"go\", 1)", "throttled", "expect(2)"]
        };
        assert_eq!(log.take(), expected, "expect first: {expect_first}");
        assert_eq!(conn.connection().expect_size(), 2);
    }
}

#[test]
fn c6_connect_failed_requested_inside_connecting_comes_right_after_it_returns() {
    let log = Log::new();
    let notes = log.clone();
    let mut conn = client(Script::new(&log).on_connecting(move |conn, _| {
        conn.close();
        notes.push(format!("phase {} inside connecting", conn.phase()));
    }));
    conn.machine().handle_dial("example.org", "7000");
    conn.machine().handle_resolved(Ok(vec![addr(1), addr(2)]));
    assert!(conn.dialled().is_empty());
    assert_eq!(
        log.take(),
        [
            "proxy_via(example.org, 7000)",
            "connecting(2)",
            "phase connect-failed inside connecting",
            "connect_failed(aborted)"
        ]
    );
}
