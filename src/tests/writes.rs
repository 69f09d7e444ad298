//! Write rules W1–W5: dropped writes, `sent`/`sentv` as transforms, order under backpressure,
//! and the alternation of `throttled` and `unthrottled`.

use super::harness::{client, config, server, server_with, Conn, Log, Script, NOTHING};
use crate::proto::{ConnectionConfig, Phase, TcpConnection};
use crate::record::{Callback, CallbackLog, Recorded};
use bytes::{Bytes, BytesMut};
use std::io::ErrorKind;
use std::sync::{Arc, Mutex};

#[test]
fn w1_writes_before_connect_are_dropped_without_callback_and_counted() {
    let log = Log::new();
    let mut conn = client(Script::new(&log).on_connecting(|conn, _| conn.write("from connecting")));
    conn.machine().handle_dial("example.org", "7000");
    conn.machine()
        .handle_resolved(Ok(vec![super::harness::addr(1)]));
    conn.handle.write("early");
    conn.handle.writev(vec![b"early".to_vec()]);
    assert_eq!(conn.messages(), 3);
    let transport = conn.wire.transport();
    assert!(conn.machine().handle_attempt_connected(transport).is_ok());
    conn.drive();
    assert_eq!(
        log.take(),
        ["proxy_via(example.org, 7000)", "connecting(1)", "connected"]
    );
    assert_eq!(conn.wire.written(), b"");
    assert_eq!(conn.handle.stats().writes_dropped, 3);
}

#[test]
fn w1_writes_after_close_are_dropped_without_callback_and_counted() {
    let log = Log::new();
    let mut conn = server(Script::new(&log).on_received(|conn, _, _| {
        conn.write_final("final");
        true
    }));
    conn.accept();
    conn.handle.dispose();
    conn.handle.write("late");
    conn.handle.writev(vec![b"late".to_vec()]);
    conn.messages();
    conn.wire.push("x");
    conn.machine().handle_readable();
    assert_eq!(conn.phase(), Phase::Closing { write_shut: true });
    assert_eq!(log.take(), ["accepted", "received(\"x\", 1)"]);
    assert_eq!(conn.wire.written(), b"");
    assert_eq!(conn.handle.stats().writes_dropped, 3);
}

#[test]
fn w1_writes_after_closed_are_dropped_without_callback_and_counted() {
    let log = Log::new();
    let mut conn = server(Script::new(&log));
    conn.wire.push_eof();
    conn.accept();
    conn.handle.write("late");
    conn.handle.writev(vec![b"late".to_vec()]);
    conn.messages();
    assert_eq!(log.take(), ["accepted", "closed"]);
    assert_eq!(conn.handle.stats().writes_dropped, 2);
}

#[test]
fn w1_writes_after_the_task_ended_are_counted_by_the_handle() {
    let conn = server(Script::new(&Log::new()));
    let handle = conn.handle.clone();
    drop(conn);
    handle.write("nobody reads this");
    handle.writev(vec![b"nor this".to_vec()]);
    handle.mute();
    assert_eq!(handle.stats().writes_dropped, 2);
}

/// The dropped writes an observer set from the first callback was told of, one line each.
fn drops_reported_to(log: &Log) -> impl Fn(&mut TcpConnection) + Send + 'static {
    let log = log.clone();
    move |conn: &mut TcpConnection| {
        let log = log.clone();
        conn.on_write_dropped(move |dropped| log.push(format!("dropped {dropped}")));
    }
}

#[test]
fn w1_a_graceful_close_inside_sent_drops_what_sent_returned_and_reports_it() {
    let log = Log::new();
    let observe = drops_reported_to(&log);
    let script = Script::new(&log)
        .on_accepted(move |conn| observe(conn))
        .on_sent(|conn, data| {
            if data == b"bye"[..] {
                conn.close();
            }
            data
        });
    let mut conn = server(script);
    conn.accept();
    conn.handle.write("one");
    conn.handle.write("bye");
    conn.messages();
    assert_eq!(
        log.take(),
        [
            "accepted",
            "sent(\"one\")",
            "sent(\"bye\")",
            "dropped sent result(3B) while closing(shut), dropped write #1",
        ]
    );
    assert_eq!(conn.wire.written_str(), "one");
    assert!(conn.wire.is_shut(), "the close goes on as graceful");
    assert_eq!(conn.handle.stats().writes_dropped, 1);
    assert_eq!(conn.handle.stats().bytes_discarded, 0);
}

#[test]
fn w1_each_dropped_write_is_reported_with_its_phase_and_running_count() {
    let log = Log::new();
    let observe = drops_reported_to(&log);
    let mut conn = client(Script::new(&log).on_connecting(move |conn, _| observe(conn)));
    conn.machine().handle_dial("example.org", "7000");
    conn.machine()
        .handle_resolved(Ok(vec![super::harness::addr(1)]));
    conn.handle.write("early");
    conn.handle.writev(vec![b"ear".to_vec(), b"ly".to_vec()]);
    conn.messages();
    let transport = conn.wire.transport();
    assert!(conn.machine().handle_attempt_connected(transport).is_ok());
    conn.handle.dispose();
    conn.handle.write("late");
    conn.messages();
    assert_eq!(
        log.take(),
        [
            "proxy_via(example.org, 7000)",
            "connecting(1)",
            "dropped write(5B) while connecting(1), dropped write #1",
            "dropped writev(5B) while connecting(1), dropped write #2",
            "connected",
            "dropped write(4B) while closing(shut), dropped write #3",
        ]
    );
    assert_eq!(conn.handle.stats().writes_dropped, 3);
}

#[test]
fn w1_a_write_final_dropped_after_closed_is_reported_at_once() {
    let log = Log::new();
    let observe = drops_reported_to(&log);
    let mut conn = server(
        Script::new(&log)
            .on_accepted(move |conn| observe(conn))
            .on_closed(|conn| conn.write_final("too late")),
    );
    conn.wire.push_eof();
    conn.accept();
    assert_eq!(
        log.take(),
        [
            "accepted",
            "closed",
            "dropped write_final(8B) while closed, dropped write #1"
        ]
    );
    assert_eq!(conn.connection().stats().writes_dropped, 1);
}

#[test]
fn w1_writes_refused_after_the_task_ended_are_reported_with_the_phase_it_ended_in() {
    let log = Log::new();
    let observe = drops_reported_to(&log);
    let mut conn = server(Script::new(&log).on_accepted(move |conn| observe(conn)));
    conn.wire.push_eof();
    conn.accept();
    conn.handle.write("queued before the end");
    conn.finish();
    conn.handle.write("after");
    conn.handle.mute();
    conn.handle.writev(vec![b"after".to_vec()]);
    assert_eq!(
        log.take(),
        [
            "accepted",
            "closed",
            "dropped write(21B) while closed, dropped write #1",
            "dropped write(5B) while closed (sent after the connection ended), dropped write #2",
            "dropped writev(5B) while closed (sent after the connection ended), dropped write #3",
        ]
    );
    assert_eq!(conn.handle.stats().writes_dropped, 3);
}

#[test]
fn w2_a_bytes_buffer_that_is_not_shared_reaches_sent_without_a_copy() {
    let log = Log::new();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let noted = seen.clone();
    let mut conn = server(Script::new(&log).on_sent(move |_, data| {
        noted.lock().unwrap().push(data.as_ptr() as usize);
        data
    }));
    conn.accept();
    let unique = Bytes::from(b"unique".to_vec());
    let unique_at = unique.as_ptr() as usize;
    let mut builder = BytesMut::with_capacity(64);
    builder.extend_from_slice(b" built");
    let built_at = builder.as_ptr() as usize;
    conn.handle.write(unique);
    conn.handle.write(builder);
    conn.messages();
    assert_eq!(conn.wire.written_str(), "unique built");
    assert_eq!(*seen.lock().unwrap(), [unique_at, built_at]);
}

/// Where `bytes` lives: its address and length, as the wire notes what each write took.
fn place(bytes: &[u8]) -> (usize, usize) {
    (bytes.as_ptr() as usize, bytes.len())
}

#[test]
fn w2_a_shared_bytes_written_again_and_again_reaches_the_socket_without_a_copy() {
    let chunk = Bytes::from(b"one chunk, written over and over".to_vec());
    let log = Log::new();
    let in_callback = chunk.clone();
    let mut conn = server(Script::new(&log).on_accepted(move |conn| {
        conn.write(in_callback.clone());
        conn.write(&in_callback);
        conn.write_final(in_callback.slice(..3));
    }));
    conn.accept();
    conn.handle.write(chunk.clone());
    conn.handle.writev([chunk.clone(), chunk.slice(4..9)]);
    conn.drive();
    let whole = place(&chunk);
    let (at, _) = whole;
    assert_eq!(
        conn.wire.taken_from(),
        [(at, 3), whole, whole, whole, whole, (at + 4, 5)],
        "each write read the chunk's own memory"
    );
    drop(conn);
    assert!(
        chunk.is_unique(),
        "the connection let go of every share it was given"
    );
}

#[test]
fn w2_borrowed_data_of_every_kind_is_copied_once_and_written_as_given() {
    let log = Log::new();
    let mut conn = server(Script::new(&log).on_accepted(|conn| {
        let owned = String::from("string,");
        let vec = b"vec-ref,".to_vec();
        let built = BytesMut::from(&b"bytes-mut-ref,"[..]);
        conn.write(&b"array,"[..]);
        conn.write(b"array-ref,");
        conn.write(*b"array-value,");
        conn.write("str,");
        conn.write(&owned);
        conn.write(&vec);
        conn.write(owned.as_str());
        conn.write(std::borrow::Cow::Borrowed(&b"cow,"[..]));
        conn.write(&built);
        conn.writev(["v1,", "v2,"]);
        conn.writev(vec![&b"v3,"[..], b"v4,"]);
        conn.write_final("final,");
    }));
    conn.accept();
    let borrowed = b"handle-slice".to_vec();
    conn.handle.write(&borrowed[..]);
    conn.handle.writev(&[Bytes::from_static(b"|static")]);
    conn.drive();
    assert_eq!(
        conn.wire.written_str(),
        "final,array,array-ref,array-value,str,string,vec-ref,string,cow,bytes-mut-ref,\
         v1,v2,v3,v4,handle-slice|static"
    );
}

#[test]
fn w2_owned_buffers_of_every_kind_move_in_without_a_copy() {
    let vec = b"vec,".to_vec();
    let string = String::from("string,");
    let boxed: Box<[u8]> = Box::from(&b"boxed,"[..]);
    let mut built = BytesMut::with_capacity(64);
    built.extend_from_slice(b"bytes-mut,");
    let cow: std::borrow::Cow<'_, str> = std::borrow::Cow::Owned(String::from("cow"));
    let places = [
        place(&vec),
        place(string.as_bytes()),
        place(&boxed),
        place(&built),
        place(cow.as_bytes()),
    ];
    let log = Log::new();
    let mut conn = server(Script::new(&log));
    conn.accept();
    conn.handle.write(vec);
    conn.handle.write(string);
    conn.handle.write(boxed);
    conn.handle.write(built);
    conn.handle.write(cow);
    conn.drive();
    assert_eq!(conn.wire.written_str(), "vec,string,boxed,bytes-mut,cow");
    assert_eq!(conn.wire.taken_from(), places);
}

#[test]
fn w2_what_sent_returns_is_what_the_socket_is_given_a_slice_or_other_bytes() {
    let replacement = Bytes::from(b"replaced".to_vec());
    let returned = replacement.clone();
    let log = Log::new();
    let mut conn = server(Script::new(&log).on_sent(move |_, data| match &data[..] {
        b"<trimmed>" => data.slice(1..8),
        b"swap" => returned.clone(),
        _ => data,
    }));
    conn.accept();
    let trimmed = Bytes::from(b"<trimmed>".to_vec());
    conn.handle.write(trimmed.clone());
    conn.handle.write("swap");
    conn.drive();
    assert_eq!(
        log.take(),
        ["accepted", "sent(\"<trimmed>\")", "sent(\"swap\")"]
    );
    assert_eq!(conn.wire.written_str(), "trimmedreplaced");
    assert_eq!(
        conn.wire.taken_from(),
        [place(&trimmed[1..8]), place(&replacement)]
    );
}

#[test]
fn w3_partial_writes_of_a_shared_bytes_deliver_every_byte_in_order_from_its_own_memory() {
    let chunk = Bytes::from((0..=255u8).cycle().take(1000).collect::<Vec<u8>>());
    for per_call in [1, 7, 64, 999] {
        let log = Log::new();
        let mut conn = server(Script::new(&log));
        conn.accept();
        conn.wire.block_writes().per_call(per_call);
        for _ in 0..3 {
            conn.handle.write(chunk.clone());
        }
        conn.messages();
        while conn.connection().queued_bytes() > 0 {
            conn.wire.grant(per_call + 3);
            conn.machine().handle_writable();
        }
        assert_eq!(conn.wire.written(), chunk.repeat(3), "per_call {per_call}");
        // Each write call took the next bytes of the chunk where they lie: no copy, and the
        // offset within the chunk moves on by what the socket took.
        let mut offset = 0;
        for (at, len) in conn.wire.taken_from() {
            assert_eq!(at, chunk.as_ptr() as usize + offset, "per_call {per_call}");
            offset = (offset + len) % chunk.len();
        }
        assert_eq!(offset, 0);
        assert_eq!(conn.handle.stats().bytes_sent, 3 * chunk.len() as u64);
    }
}

#[test]
fn w2_a_recorder_keeps_what_was_written_by_sharing_it_not_copying_it() {
    let chunk = Bytes::from(b"kept, not copied".to_vec());
    let sink = CallbackLog::new();
    let recorded = Recorded::new(Script::new(&Log::new()), "s", Arc::new(sink.clone()));
    let mut conn = Conn::new_server(Box::new(recorded), ConnectionConfig::default(), &Log::new());
    conn.accept();
    conn.handle.write(chunk.clone());
    conn.handle.writev([chunk.slice(..4)]);
    conn.drive();
    let kept: Vec<Option<usize>> = (sink.of("s").iter())
        .flat_map(|callback| match callback {
            Callback::Sent { data, result } => vec![data, result],
            Callback::Sentv { data, result } => data.iter().chain(result).collect(),
            _ => Vec::new(),
        })
        .map(|payload| payload.bytes().map(|b| b.as_ptr() as usize))
        .collect();
    assert_eq!(kept, [Some(chunk.as_ptr() as usize); 4]);
    assert_eq!(conn.wire.taken_from(), [place(&chunk), place(&chunk[..4])]);
}

/// A write the connection alone holds (an echo's read buffer, written back) is copied into
/// the trace at its length, not kept whole: sharing it would hold its whole allocation (16 KiB
/// for the 3 bytes here) for the trace's life, and the connection could not read into it once
/// written.
#[test]
fn w2_a_recorder_copies_a_write_nothing_else_holds_and_the_buffer_is_still_read_into() {
    let size = crate::proto::DEFAULT_READ_BUFFER_SIZE;
    let sink = CallbackLog::new();
    let recorded = Recorded::new(Script::new(&Log::new()), "s", Arc::new(sink.clone()));
    let mut conn = Conn::new_server(Box::new(recorded), ConnectionConfig::default(), &Log::new());
    conn.accept();
    let mut buffer = Vec::with_capacity(size);
    buffer.extend_from_slice(b"abc");
    let written = buffer.as_ptr() as usize;
    conn.handle.write(buffer);
    conn.drive();
    assert_eq!(conn.wire.written(), b"abc");
    assert_eq!(
        conn.wire.taken_from(),
        [(written, 3)],
        "written without a copy"
    );
    let kept: Vec<(usize, usize)> = (sink.of("s").iter())
        .flat_map(|callback| match callback {
            Callback::Sent { data, result } => vec![data, result],
            _ => Vec::new(),
        })
        .filter_map(|payload| payload.bytes().map(place))
        .collect();
    assert_eq!(kept.len(), 2);
    assert!(
        kept.iter().all(|&(at, len)| at != written && len == 3),
        "the trace keeps a copy of the 3 bytes: {kept:?}"
    );
    assert_eq!(
        conn.connection().read_buffer_capacity(),
        size,
        "the written buffer became the read buffer"
    );
}

#[test]
fn w2_sent_runs_once_per_write_and_its_result_is_what_goes_on_the_wire() {
    let log = Log::new();
    let mut conn = server(Script::new(&log).on_sent(|_, data| data.to_ascii_uppercase().into()));
    conn.accept();
    conn.handle.write("ab");
    conn.handle.write("cd");
    conn.messages();
    assert_eq!(log.take(), ["accepted", "sent(\"ab\")", "sent(\"cd\")"]);
    assert_eq!(conn.wire.written_str(), "ABCD");
    assert_eq!(conn.handle.stats().bytes_sent, 4);
}

#[test]
fn w2_a_zero_length_write_calls_sent_and_puts_nothing_on_the_wire() {
    let log = Log::new();
    let mut conn = server(Script::new(&log));
    conn.accept();
    conn.handle.write("");
    conn.messages();
    assert_eq!(log.take(), ["accepted", "sent(\"\")"]);
    assert_eq!(conn.wire.write_calls(), 0);
}

#[test]
fn w2_sent_returning_empty_sends_nothing() {
    let log = Log::new();
    let mut conn = server(Script::new(&log).on_sent(|_, _| Bytes::new()));
    conn.accept();
    conn.handle.write("swallowed");
    conn.messages();
    assert_eq!(log.take(), ["accepted", "sent(\"swallowed\")"]);
    assert_eq!(conn.wire.write_calls(), 0);
    assert_eq!(conn.handle.stats().writes_dropped, 0);
}

#[test]
fn w2_sentv_runs_once_per_writev_and_empty_chunks_are_skipped() {
    let log = Log::new();
    let mut conn = server(Script::new(&log).on_sentv(|_, mut chunks| {
        chunks.push(Bytes::new());
        chunks.push(Bytes::from_static(b"!"));
        chunks
    }));
    conn.accept();
    conn.handle
        .writev(vec![b"he".to_vec(), Vec::new(), b"llo".to_vec()]);
    conn.messages();
    assert_eq!(log.take(), ["accepted", "sentv([\"he\", \"\", \"llo\"])"]);
    assert_eq!(conn.wire.written_str(), "hello!");
    assert_eq!(conn.wire.write_calls(), 1);
}

#[test]
fn w3_bytes_reach_the_peer_in_write_order_exactly_once_whatever_the_partial_writes() {
    for per_call in 1..=7 {
        for grant in [1, 3, 64] {
            let log = Log::new();
            let mut conn = server(Script::new(&log));
            conn.accept();
            conn.wire.block_writes().per_call(per_call);
            let mut expected = Vec::new();
            for i in 0..20 {
                let msg = format!("<{i}:{}>", "x".repeat(i % 6));
                expected.extend_from_slice(msg.as_bytes());
                if i % 3 == 0 {
                    conn.handle.writev(vec![msg.into_bytes(), b"".to_vec()]);
                } else {
                    conn.handle.write(msg);
                }
                conn.messages();
                conn.wire.grant(grant);
                conn.machine().handle_writable();
            }
            while conn.connection().queued_bytes() > 0 {
                conn.wire.grant(grant);
                conn.machine().handle_writable();
            }
            assert_eq!(
                conn.wire.written(),
                expected,
                "per_call {per_call}, grant {grant}"
            );
            let stats = conn.handle.stats();
            assert_eq!(stats.bytes_sent, expected.len() as u64);
            assert_eq!(stats.writes_dropped, 0);
        }
    }
}

#[test]
fn w3_a_write_from_a_callback_is_handled_after_the_messages_already_queued() {
    let log = Log::new();
    let mut conn = server(Script::new(&log).on_received(|conn, data, _| {
        conn.write([b"echo ", data].concat());
        true
    }));
    conn.accept();
    conn.handle.write("first ");
    conn.wire.push("x");
    conn.machine().handle_readable();
    assert_eq!(conn.messages(), 2);
    assert_eq!(conn.wire.written_str(), "first echo x");
}

#[test]
fn w3_a_callbacks_own_writes_queue_when_its_call_returns_behind_a_handle_write_made_inside_it() {
    // `conn`'s messages wait in the outbox until the machine call returns; a handle reaches the
    // mailbox at once. Inside a callback, `conn` is the way to keep one order.
    let log = Log::new();
    let mut conn = server(Script::new(&log).on_accepted(|conn| {
        conn.write("own ");
        conn.handle().write("handle ");
        conn.write("own-again");
    }));
    conn.accept();
    conn.drive();
    assert_eq!(conn.wire.written_str(), "handle own own-again");
}

#[test]
fn a_callbacks_own_messages_owe_the_task_one_wake_as_another_tasks_would_have_woken_it() {
    // So a connection's task is polled as often whether its messages come from its own
    // callbacks or from other tasks (which wake it through the mailbox).
    let log = Log::new();
    let mut conn = server(Script::new(&log).on_accepted(|conn| {
        conn.write("one");
        conn.write("two");
    }));
    assert!(!conn.wake_owed());
    conn.accept();
    assert!(conn.wake_owed(), "accepted sent the connection two writes");
    assert!(!conn.wake_owed(), "one wake, paid off by asking");
    conn.handle.write("three");
    conn.messages();
    assert!(
        !conn.wake_owed(),
        "another task's write woke the task itself"
    );
    assert_eq!(conn.wire.written_str(), "onetwothree");
}

#[test]
fn w3_writes_while_throttled_are_queued_never_dropped() {
    let log = Log::new();
    let mut conn = server(Script::new(&log));
    conn.accept();
    conn.wire.block_writes();
    for i in 0..100 {
        conn.handle.write(format!("{i:03},"));
    }
    conn.messages();
    assert!(conn.connection().is_throttled());
    assert_eq!(conn.connection().queued_bytes(), 400);
    assert_eq!(conn.wire.written(), b"");

    conn.wire.unblock_writes();
    assert!(conn.machine().handle_writable());
    let expected: String = (0..100).map(|i| format!("{i:03},")).collect();
    assert_eq!(conn.wire.written_str(), expected);
    assert_eq!(conn.handle.stats().writes_dropped, 0);
    let lines = log.take();
    assert_eq!(lines.len(), 103);
    assert_eq!(lines[..3], ["accepted", "sent(\"000,\")", "throttled"]);
    assert_eq!(lines[102], "unthrottled");
}

#[test]
fn w4_throttled_and_unthrottled_strictly_alternate_starting_with_throttled() {
    let log = Log::new();
    let mut conn = server(Script::new(&log));
    conn.accept();
    conn.wire.block_writes();
    conn.handle.write("a");
    conn.handle.write("b");
    conn.messages();
    conn.wire.grant(1);
    conn.machine().handle_writable();
    assert!(conn.connection().is_throttled());
    conn.wire.grant(1);
    conn.machine().handle_writable();
    assert!(!conn.connection().is_throttled());
    conn.machine().handle_writable();
    // Pressure again after a release throttles again (ponyc #1476).
    conn.handle.write("c");
    conn.messages();
    conn.wire.unblock_writes();
    conn.machine().handle_writable();
    assert_eq!(
        log.take(),
        [
            "accepted",
            "sent(\"a\")",
            "throttled",
            "sent(\"b\")",
            "unthrottled",
            "sent(\"c\")",
            "throttled",
            "unthrottled"
        ]
    );
    assert_eq!(conn.wire.written_str(), "abc");
}

#[test]
fn w4_a_partial_write_throttles_and_the_drain_that_follows_unthrottles() {
    let log = Log::new();
    let mut conn = server(Script::new(&log));
    conn.accept();
    conn.wire.per_call(2);
    conn.handle.write("abcde");
    conn.messages();
    assert_eq!(
        log.take(),
        ["accepted", "sent(\"abcde\")", "throttled", "unthrottled"]
    );
    assert_eq!(conn.wire.written_str(), "abcde");
    assert_eq!(conn.wire.write_calls(), 3);
}

#[test]
fn w4_a_write_that_gives_way_to_other_tasks_is_tried_again_without_throttled() {
    // A tokio socket whose task spent its cooperative budget answers `Pending` without trying
    // the socket: that is the runtime's turn, not backpressure (128 tiny writes in one
    // callback were `throttled` on loopback while the kernel had taken every byte).
    let log = Log::new();
    let mut conn = server(Script::new(&log));
    conn.accept();
    conn.wire.give_way(1);
    conn.handle.write("abc");
    conn.messages();
    assert_eq!(conn.wire.written_str(), "");
    assert!(conn.machine().gave_way(), "the task ends its turns");
    assert!(
        conn.machine().wants_write(),
        "the write waits for the next pass"
    );
    // The pass after the runtime's wake.
    assert!(conn.machine().handle_writable());
    assert!(!conn.machine().gave_way());
    assert_eq!(conn.wire.written_str(), "abc");
    assert_eq!(log.take(), ["accepted", "sent(\"abc\")"]);
}

#[test]
fn a_write_turn_says_whether_it_wrote_anything() {
    // The runtime's turn loop goes on while a pass progressed, and settles once none did.
    let log = Log::new();
    let mut conn = server(Script::new(&log));
    conn.accept();
    assert!(!conn.machine().handle_writable(), "nothing queued");
    conn.wire.block_writes();
    conn.handle.write("abcd");
    conn.messages();
    assert!(!conn.machine().handle_writable(), "the socket took nothing");
    conn.wire.give_way(1);
    assert!(!conn.machine().handle_writable(), "the task gave way first");
    conn.wire.grant(2);
    assert!(conn.machine().handle_writable(), "2 bytes, then full");
    conn.wire.unblock_writes();
    assert!(conn.machine().handle_writable(), "the rest");
    assert_eq!(conn.wire.written_str(), "abcd");
    assert_eq!(
        log.take(),
        ["accepted", "sent(\"abcd\")", "throttled", "unthrottled"]
    );
}

#[test]
fn an_interrupted_write_is_tried_again_not_a_close() {
    let log = Log::new();
    let mut conn = server(Script::new(&log));
    conn.accept();
    conn.wire.fail_next_write(ErrorKind::Interrupted);
    conn.handle.write("abc");
    conn.messages();
    assert_eq!(conn.wire.written_str(), "abc");
    assert_eq!(conn.phase(), Phase::Open);
    assert_eq!(log.take(), ["accepted", "sent(\"abc\")"]);
}

#[test]
fn w4_a_write_error_while_throttled_closes_and_unthrottled_never_comes() {
    let log = Log::new();
    let mut conn = server(Script::new(&log));
    conn.accept();
    conn.wire.block_writes();
    conn.handle.write("doomed");
    conn.messages();
    conn.wire.fail_writes(ErrorKind::BrokenPipe);
    assert!(!conn.machine().handle_writable());
    conn.wire.unblock_writes();
    conn.machine().handle_writable();
    assert_eq!(
        log.take(),
        ["accepted", "sent(\"doomed\")", "throttled", "closed"]
    );
}

#[test]
fn w4_no_unthrottled_after_closed_when_a_write_resume_was_pending() {
    // ponyc #5287: a resume queued before the connection closed must not revive it.
    let log = Log::new();
    let config = config(|c| c.set_yield_after_writing(4));
    let mut conn = server_with(Script::new(&log), config);
    conn.accept();
    conn.wire.block_writes();
    conn.handle.write("0123456789");
    conn.messages();
    conn.wire.unblock_writes().per_call(3);
    conn.machine().handle_writable();
    assert_eq!(conn.wire.written_str(), "012345");
    assert_eq!(conn.queue_resumes(), ["WriteAgain"]);

    conn.wire.push_error(ErrorKind::ConnectionReset);
    conn.machine().handle_readable();
    conn.messages();
    assert!(!conn.machine().handle_writable());
    assert_eq!(
        log.take(),
        ["accepted", "sent(\"0123456789\")", "throttled", "closed"]
    );
    assert_eq!(conn.wire.written_str(), "012345");
}

#[test]
fn w4_closed_while_throttled_by_a_muted_dispose_never_unthrottles() {
    let log = Log::new();
    let mut conn = server(Script::new(&log));
    conn.accept();
    conn.wire.block_writes();
    conn.handle.write("stuck");
    conn.handle.mute();
    conn.handle.dispose();
    conn.drive();
    conn.wire.unblock_writes();
    conn.machine().handle_writable();
    assert_eq!(
        log.take(),
        ["accepted", "sent(\"stuck\")", "throttled", "closed"]
    );
}

#[test]
fn w5_unthrottled_fires_in_the_readiness_turn_that_drains_the_queue() {
    let log = Log::new();
    let mut conn = server(Script::new(&log));
    conn.accept();
    conn.wire.block_writes();
    conn.handle.write("abc");
    conn.messages();
    conn.wire.grant(2);
    conn.machine().handle_writable();
    assert_eq!(log.take(), ["accepted", "sent(\"abc\")", "throttled"]);
    // Writes handled while throttled wait for readiness; they do not drain the queue.
    conn.wire.grant(100);
    conn.handle.write("d");
    conn.messages();
    assert_eq!(log.take(), ["sent(\"d\")"]);
    assert_eq!(conn.wire.written_str(), "ab");
    conn.machine().handle_writable();
    assert_eq!(log.take(), ["unthrottled"]);
    assert_eq!(conn.wire.written_str(), "abcd");
    assert_eq!(log.take(), NOTHING);
}

#[test]
fn w3_final_writes_are_kept_for_a_wrapper_in_stream_order_once_asked() {
    let log = Log::new();
    let mut conn = server(Script::new(&log).on_received(|conn, _, _| {
        conn.write_final("before,");
        conn.keep_final_writes();
        conn.write_final("one,");
        conn.write_final("");
        conn.write_final("two");
        let kept = conn.take_final_writes();
        assert_eq!(kept, ["one,", "two"]);
        assert!(conn.take_final_writes().is_empty(), "taken once");
        true
    }));
    conn.wire.push("x");
    conn.accept();
    assert_eq!(conn.wire.written(), b"before,one,two");
}

#[test]
fn w1_an_empty_sent_result_after_a_close_inside_sent_drops_no_write() {
    let log = Log::new();
    let script = Script::new(&log).on_sent(|conn, data| {
        conn.close();
        data.slice(..0)
    });
    let mut conn = server(script);
    conn.accept();
    conn.handle.write("one");
    conn.messages();
    assert_eq!(log.take(), ["accepted", "sent(\"one\")"]);
    assert!(conn.wire.is_shut(), "the close goes on as graceful");
    assert_eq!(conn.handle.stats().writes_dropped, 0);
    assert_eq!(conn.handle.stats().bytes_discarded, 0);
}

#[test]
fn w1_only_what_sent_or_sentv_returned_was_dropped_after_its_callback() {
    use crate::proto::WriteKind;
    let after: Vec<WriteKind> = [
        WriteKind::Write,
        WriteKind::Writev,
        WriteKind::WriteFinal,
        WriteKind::SentResult,
        WriteKind::SentvResult,
    ]
    .into_iter()
    .filter(|kind| kind.after_sent())
    .collect();
    assert_eq!(after, [WriteKind::SentResult, WriteKind::SentvResult]);
}
