//! Lifetime rules L1–L5: `closed` once, nothing after it, end of stream as a full close, and
//! the graceful and immediate closes.

use super::harness::{addr, client, server, Conn, Log, Script, NOTHING};
use crate::proto::ConnectFailure;
use crate::proto::ConnectionConfig;
use crate::proto::Phase;
use std::io::ErrorKind;
use std::sync::{Arc, Mutex};

#[test]
fn l1_closed_fires_once_however_often_the_connection_is_closed() {
    let log = Log::new();
    let mut conn = server(
        Script::new(&log)
            .on_received(|conn, _, _| {
                conn.hard_close();
                conn.hard_close();
                conn.close();
                true
            })
            .on_closed(|conn| {
                conn.hard_close();
                conn.close();
                conn.dispose();
            }),
    );
    conn.wire.push("x");
    conn.accept();
    assert_eq!(log.take(), ["accepted", "received(\"x\", 1)", "closed"]);

    conn.handle.dispose();
    assert_eq!(conn.messages(), 2);
    assert!(!conn.machine().handle_readable());
    assert_eq!(log.take(), NOTHING);
}

#[test]
fn l1_closed_only_after_connected_or_accepted() {
    let log = Log::new();
    let mut conn = client(Script::new(&log).on_connecting(|conn, _| conn.hard_close()));
    conn.machine().handle_dial("example.org", "7000");
    conn.machine()
        .handle_resolved(Ok(vec![super::harness::addr(1)]));
    conn.machine()
        .handle_attempt_failed(ConnectFailure::Refused);
    assert_eq!(
        log.take(),
        [
            "proxy_via(example.org, 7000)",
            "connecting(1)",
            "connect_failed(aborted)"
        ]
    );
    assert_eq!(conn.phase(), Phase::ConnectFailed);
}

#[test]
fn l1_set_notify_hands_later_callbacks_and_the_one_closed_to_the_new_notifier() {
    let log = Log::new();
    let mut conn = Conn::new_server(
        Box::new(Script::named(&log, "a")),
        ConnectionConfig::default(),
        &log,
    );
    conn.accept();
    conn.handle.set_notify(Box::new(Script::named(&log, "b")));
    conn.handle.write("w");
    conn.messages();
    conn.wire.push("r").push_eof();
    conn.machine().handle_readable();
    assert_eq!(
        log.take(),
        [
            "a:accepted",
            "b:sent(\"w\")",
            "b:received(\"r\", 1)",
            "b:closed"
        ]
    );
}

/// Tags every callback of the notifier it wraps, the one a `set_notify` swaps in too.
struct Tagging(Box<dyn crate::proto::TcpConnectionNotify>, Log);

impl crate::proto::TcpConnectionNotify for Tagging {
    fn accepted(&mut self, conn: &mut crate::proto::TcpConnection) {
        self.1.push("tag");
        self.0.accepted(conn)
    }
    fn received(
        &mut self,
        conn: &mut crate::proto::TcpConnection,
        data: Vec<u8>,
        times: usize,
    ) -> bool {
        self.1.push("tag");
        self.0.received(conn, data, times)
    }
    fn connect_failed(&mut self, conn: &mut crate::proto::TcpConnection, reason: ConnectFailure) {
        self.0.connect_failed(conn, reason)
    }
    fn replaced_by(
        mut self: Box<Self>,
        next: Box<dyn crate::proto::TcpConnectionNotify>,
    ) -> Box<dyn crate::proto::TcpConnectionNotify> {
        self.0 = next;
        self
    }
}

#[test]
fn l1_a_wrapper_that_takes_the_swapped_in_notifier_goes_on_wrapping_it() {
    let log = Log::new();
    let tagging = Tagging(Box::new(Script::named(&log, "a")), log.clone());
    let mut conn = Conn::new_server(Box::new(tagging), ConnectionConfig::default(), &log);
    conn.accept();
    conn.handle.set_notify(Box::new(Script::named(&log, "b")));
    conn.messages();
    conn.wire.push("r");
    conn.machine().handle_readable();
    assert_eq!(
        log.take(),
        ["tag", "a:accepted", "tag", "b:received(\"r\", 1)"]
    );
}

#[test]
fn l1_a_recorded_wrapper_that_takes_the_swapped_in_notifier_goes_on_wrapping_it() {
    // The recorder sits outside the user's notifier and takes `next` inside itself; the
    // notifier it records still decides what replaces it, as it does unrecorded (it once
    // did not: a framing layer was dropped at the swap in the simulator only).
    let log = Log::new();
    let tagging = Tagging(Box::new(Script::named(&log, "a")), log.clone());
    let sink = Arc::new(crate::record::CallbackLog::new());
    let recorded = crate::record::Recorded::new(tagging, "s", sink.clone());
    let mut conn = Conn::new_server(Box::new(recorded), ConnectionConfig::default(), &log);
    conn.accept();
    conn.handle.set_notify(Box::new(Script::named(&log, "b")));
    conn.messages();
    conn.wire.push("r");
    conn.machine().handle_readable();
    assert_eq!(
        log.take(),
        ["tag", "a:accepted", "tag", "b:received(\"r\", 1)"]
    );
    assert_eq!(sink.of("s").len(), 2, "{}", sink.render());
}

#[test]
fn l2_nothing_is_read_or_sent_before_accepted() {
    let log = Log::new();
    let mut conn = server(Script::new(&log));
    conn.wire.push("early");
    conn.handle.write("early");
    conn.messages();
    assert!(!conn.machine().handle_readable());
    assert!(!conn.machine().handle_writable());
    assert_eq!(log.take(), NOTHING);
    assert_eq!(conn.wire.unread(), 1);
    assert_eq!(conn.handle.stats().writes_dropped, 1);

    conn.accept();
    assert_eq!(log.take(), ["accepted", "received(\"early\", 1)"]);
    assert_eq!(conn.wire.written(), b"");
}

#[test]
fn l2_hard_close_inside_an_expect_hook_stops_delivery_from_the_same_buffer() {
    let log = Log::new();
    let mut conn = server(
        Script::new(&log)
            .expecting(2)
            .on_received(|conn, _, _| {
                conn.expect(3).expect("3 fits the buffer");
                true
            })
            .on_expect(|conn, qty| {
                if qty == 3 {
                    conn.hard_close();
                }
                qty
            }),
    );
    conn.wire.push("aabbbccc").push("ddd");
    conn.accept();
    assert_eq!(
        log.take(),
        [
            "accepted",
            "expect(2)",
            "received(\"aa\", 1)",
            "expect(3)",
            "closed"
        ]
    );
    assert_eq!(conn.wire.unread(), 1);
}

#[test]
fn l2_no_sent_throttled_or_unthrottled_after_closed() {
    let log = Log::new();
    let mut conn = server(Script::new(&log));
    conn.accept();
    conn.wire.block_writes();
    conn.handle.write("queued");
    conn.messages();
    conn.wire.push_eof();
    conn.machine().handle_readable();
    assert_eq!(
        log.take(),
        ["accepted", "sent(\"queued\")", "throttled", "closed"]
    );

    conn.wire.unblock_writes();
    conn.handle.write("late");
    conn.handle.writev(vec![b"late".to_vec()]);
    conn.messages();
    assert!(!conn.machine().handle_writable());
    assert_eq!(log.take(), NOTHING);
    assert_eq!(conn.wire.written(), b"");
}

#[test]
fn l3_peer_end_of_stream_drops_queued_writes_and_fires_closed() {
    let log = Log::new();
    let mut conn = server(Script::new(&log));
    conn.accept();
    conn.wire.block_writes();
    conn.handle.write("unsent");
    conn.messages();
    assert_eq!(conn.connection().queued_bytes(), 6);

    conn.wire.push("last").push_eof();
    conn.machine().handle_readable();
    assert_eq!(
        log.take(),
        [
            "accepted",
            "sent(\"unsent\")",
            "throttled",
            "received(\"last\", 1)",
            "closed"
        ]
    );
    assert_eq!(conn.phase(), Phase::Closed);
    assert_eq!(conn.connection().queued_bytes(), 0);
    assert!(!conn.wire.is_shut());
    assert!(conn.wire.is_dropped());
    // Counted as L5's are: the peer that waits for them is never told.
    assert_eq!(conn.connection().stats().bytes_discarded, 6);
}

#[test]
fn l3_a_read_error_is_a_full_close_too() {
    let log = Log::new();
    let mut conn = server(Script::new(&log));
    conn.wire.push("a").push_error(ErrorKind::ConnectionReset);
    conn.accept();
    assert_eq!(log.take(), ["accepted", "received(\"a\", 1)", "closed"]);
    assert_eq!(conn.phase(), Phase::Closed);
}

#[test]
fn l4_a_shutdown_that_would_block_is_tried_again_and_one_that_fails_closes_at_once() {
    let log = Log::new();
    let mut conn = server(Script::new(&log));
    conn.accept();
    conn.wire.fail_next_shutdown(ErrorKind::WouldBlock);
    conn.handle.dispose();
    conn.messages();
    assert_eq!(conn.phase(), Phase::Closing { write_shut: false });
    assert!(!conn.wire.is_shut());
    conn.machine().handle_writable();
    assert!(conn.wire.is_shut());
    assert_eq!(conn.phase(), Phase::Closing { write_shut: true });
    assert_eq!(log.take(), ["accepted"]);

    let mut conn = server(Script::new(&log));
    conn.accept();
    conn.wire.fail_next_shutdown(ErrorKind::NotConnected);
    conn.handle.dispose();
    conn.messages();
    assert_eq!(conn.phase(), Phase::Closed);
    assert_eq!(log.take(), ["accepted", "closed"]);
}

#[test]
fn l4_graceful_close_drains_the_queue_shuts_the_write_side_and_reads_until_the_peer_closes() {
    let log = Log::new();
    let mut conn = server(Script::new(&log));
    conn.accept();
    conn.wire.block_writes().grant(2);
    conn.handle.write("hello");
    conn.handle.dispose();
    conn.handle.write("refused");
    conn.messages();
    assert_eq!(conn.phase(), Phase::Closing { write_shut: false });
    assert_eq!(conn.wire.written_str(), "he");
    assert!(!conn.wire.is_shut());
    assert_eq!(conn.handle.stats().writes_dropped, 1);

    conn.wire.grant(10);
    assert!(conn.machine().handle_writable());
    assert_eq!(conn.wire.written_str(), "hello");
    assert!(conn.wire.is_shut());
    assert_eq!(conn.phase(), Phase::Closing { write_shut: true });

    conn.wire.push("still arriving");
    conn.machine().handle_readable();
    assert_eq!(conn.phase(), Phase::Closing { write_shut: true });
    conn.wire.push_eof();
    conn.machine().handle_readable();
    assert_eq!(
        log.take(),
        [
            "accepted",
            "sent(\"hello\")",
            "throttled",
            "unthrottled",
            "received(\"still arriving\", 1)",
            "closed"
        ]
    );
    assert_eq!(conn.phase(), Phase::Closed);
}

#[test]
fn l4_close_inside_a_callback_with_nothing_queued_shuts_at_once() {
    let log = Log::new();
    let notes = log.clone();
    let mut conn = server(Script::new(&log).on_received(move |conn, _, _| {
        conn.close();
        notes.push(format!("phase {}", conn.phase()));
        true
    }));
    conn.wire.push("bye");
    conn.accept();
    assert!(conn.wire.is_shut());
    assert_eq!(
        log.take(),
        ["accepted", "received(\"bye\", 1)", "phase closing(shut)"]
    );
}

#[test]
fn l4_a_peer_that_never_closes_keeps_the_connection_open() {
    let log = Log::new();
    let mut conn = server(Script::new(&log));
    conn.accept();
    conn.handle.dispose();
    conn.drive();
    for _ in 0..10 {
        conn.wire.push_would_block();
        conn.machine().handle_readable();
        conn.machine().handle_writable();
    }
    conn.drive();
    assert!(conn.wire.is_shut());
    assert!(!conn.machine().is_finished());
    assert_eq!(conn.phase(), Phase::Closing { write_shut: true });
    assert_eq!(log.take(), ["accepted"]);
}

#[test]
fn l4_writes_queued_before_dispose_go_out_before_the_fin() {
    let log = Log::new();
    let mut conn = server(Script::new(&log));
    conn.accept();
    conn.handle.write("one,");
    conn.handle
        .writev(vec![b"two,".to_vec(), b"three".to_vec()]);
    conn.handle.dispose();
    conn.handle.write("four");
    conn.drive();
    assert_eq!(conn.wire.written_str(), "one,two,three");
    assert!(conn.wire.is_shut());
    assert_eq!(
        log.take(),
        ["accepted", "sent(\"one,\")", "sentv([\"two,\", \"three\"])"]
    );
    assert_eq!(conn.connection().stats().bytes_discarded, 0, "all went out");
}

#[test]
fn l5_close_while_muted_is_immediate_dropping_the_queue_and_unread_data() {
    let log = Log::new();
    let mut conn = server(Script::new(&log).expecting(4));
    conn.wire.push("ab");
    conn.accept();
    conn.wire.block_writes();
    conn.handle.write("out");
    conn.handle.mute();
    conn.handle.dispose();
    conn.messages();
    assert_eq!(
        log.take(),
        [
            "accepted",
            "expect(4)",
            "sent(\"out\")",
            "throttled",
            "closed"
        ]
    );
    assert_eq!(conn.phase(), Phase::Closed);
    assert!(!conn.wire.is_shut());
    assert!(conn.wire.is_dropped());
    assert_eq!(conn.connection().queued_bytes(), 0);
    // Counted, as no callback tells of them (the simulator's trace notes them).
    assert_eq!(conn.connection().stats().bytes_discarded, 3);
    assert_eq!(
        conn.handle.stats().bytes_discarded,
        3,
        "published to handles"
    );
}

#[test]
fn l5_a_hard_close_counts_the_queued_bytes_it_discards_less_what_went_out() {
    let log = Log::new();
    let script = Script::new(&log).on_throttled(|conn| conn.hard_close());
    let mut conn = server(script);
    conn.accept();
    conn.wire.block_writes().grant(2);
    conn.handle.write("first");
    conn.messages();
    assert_eq!(
        log.take(),
        ["accepted", "sent(\"first\")", "throttled", "closed"]
    );
    assert_eq!(conn.wire.written_str(), "fi");
    assert_eq!(conn.phase(), Phase::Closed);
    assert_eq!(conn.connection().stats().bytes_sent, 2);
    assert_eq!(conn.connection().stats().bytes_discarded, 3);
}

#[test]
fn l5_hard_close_inside_sent_fires_closed_right_after_sent_and_drops_the_queue() {
    let log = Log::new();
    let mut conn = server(Script::new(&log).on_sent(|conn, data| {
        if data == b"bye"[..] {
            conn.hard_close();
        }
        data
    }));
    conn.accept();
    conn.wire.block_writes();
    conn.handle.write("one");
    conn.handle.write("bye");
    conn.handle.write("after");
    conn.messages();
    conn.wire.unblock_writes();
    assert!(!conn.machine().handle_writable());
    assert_eq!(
        log.take(),
        [
            "accepted",
            "sent(\"one\")",
            "throttled",
            "sent(\"bye\")",
            "closed"
        ]
    );
    assert_eq!(conn.wire.written(), b"");
    assert_eq!(conn.handle.stats().writes_dropped, 1);
    // The queued "one" and the "bye" that `sent` returned: neither went out, both counted.
    assert_eq!(conn.handle.stats().bytes_discarded, 6);
}

#[test]
fn a_connection_asks_its_transport_for_each_address_once_and_has_none_once_closed() {
    let log = Log::new();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let kept = seen.clone();
    let mut conn = server(Script::new(&log).on_accepted(move |conn| {
        let mut seen = kept.lock().unwrap_or_else(|e| e.into_inner());
        for _ in 0..3 {
            seen.push((conn.local_address(), conn.remote_address()));
        }
        conn.hard_close();
        seen.push((conn.local_address(), conn.remote_address()));
    }));
    conn.accept();
    let open = (Some(addr(1000)), Some(addr(9)));
    let seen = seen.lock().unwrap_or_else(|e| e.into_inner()).clone();
    assert_eq!(seen, [open, open, open, (None, None)]);
    // One ask of each while the transport was held: the rest were remembered.
    assert_eq!(conn.wire.address_calls(), 2);
}

#[test]
fn l1_set_notify_inside_a_callback_hands_the_later_callbacks_to_the_new_notifier() {
    let log = Log::new();
    let next = log.clone();
    let first = Script::named(&log, "a").on_accepted(move |conn| {
        conn.set_notify(Box::new(Script::named(&next, "b")));
    });
    let mut conn = Conn::new_server(Box::new(first), ConnectionConfig::default(), &log);
    conn.accept();
    conn.messages();
    conn.wire.push("r").push_eof();
    conn.machine().handle_readable();
    assert_eq!(
        log.take(),
        ["a:accepted", "b:received(\"r\", 1)", "b:closed"]
    );
}

#[test]
fn l5_a_close_while_closing_is_immediate_once_muted_and_nothing_before() {
    let log = Log::new();
    let mut conn = server(Script::new(&log));
    conn.accept();
    conn.wire.block_writes();
    conn.handle.write("out");
    conn.handle.dispose();
    conn.messages();
    assert_eq!(conn.phase(), Phase::Closing { write_shut: false });
    // A second close of an unmuted connection leaves the graceful one draining.
    conn.handle.dispose();
    conn.messages();
    assert_eq!(conn.phase(), Phase::Closing { write_shut: false });
    assert_eq!(log.take(), ["accepted", "sent(\"out\")", "throttled"]);
    conn.handle.mute();
    conn.handle.dispose();
    conn.messages();
    assert_eq!(conn.phase(), Phase::Closed);
    assert_eq!(log.take(), ["closed"]);
    assert!(!conn.wire.is_shut());
    assert_eq!(conn.connection().stats().bytes_discarded, 3);
}

#[test]
fn l5_a_hard_close_deferred_from_sent_discards_what_sent_returned_with_the_queue() {
    let log = Log::new();
    let script = Script::new(&log)
        .on_sent(|conn, data| {
            if data == b"two"[..] {
                conn.expect(1).unwrap();
            }
            data
        })
        .on_expect(|conn, qty| {
            conn.hard_close();
            qty
        });
    let mut conn = server(script);
    conn.accept();
    conn.wire.block_writes();
    conn.handle.write("one");
    conn.handle.write("two");
    conn.messages();
    assert_eq!(
        log.take(),
        [
            "accepted",
            "sent(\"one\")",
            "throttled",
            "sent(\"two\")",
            "expect(1)",
            "closed"
        ]
    );
    assert_eq!(conn.wire.written(), b"");
    // The queued "one" and the "two" that `sent` returned.
    assert_eq!(conn.connection().stats().bytes_discarded, 6);
    assert_eq!(conn.connection().stats().writes_dropped, 0);
}

#[test]
fn l3_an_interrupted_read_is_retried_not_a_close() {
    let log = Log::new();
    let mut conn = server(Script::new(&log));
    conn.accept();
    conn.wire.push_error(ErrorKind::Interrupted).push("after");
    conn.machine().handle_readable();
    assert_eq!(log.take(), ["accepted", "received(\"after\", 1)"]);
    assert_eq!(conn.phase(), Phase::Open);
}

#[test]
fn a_handle_says_finished_once_the_task_wound_up_after_closed_and_not_before() {
    let log = Log::new();
    let mut conn = server(Script::new(&log));
    let handle = conn.handle.clone();
    conn.accept();
    conn.wire.push_eof();
    conn.machine().handle_readable();
    assert_eq!(log.take(), ["accepted", "closed"]);
    assert!(!handle.is_finished(), "the task has not wound up yet");
    conn.finish();
    assert!(handle.is_finished());

    // A task dropped with its connection open (its host crashed) is gone, not finished.
    let conn = server(Script::new(&log));
    let handle = conn.handle.clone();
    drop(conn);
    assert!(!handle.is_finished());
}
