//! Read rules R1–R6: framing with `expect`, deliveries per turn, read yields, mute, and what
//! arrives being a prefix of what the peer sent.

use super::harness::{client, config, server, server_with, Conn, Log, Script, NOTHING};
use crate::proto::{ConnectFailure, ConnectionConfig, ExpectError, Phase};
use crate::proto::{TcpConnection, TcpConnectionNotify};
use crate::proto::{DEFAULT_READ_BUFFER_SIZE, DEFAULT_YIELD_AFTER_READING, MAX_RECEIVED_PER_TURN};
use bytes::Bytes;
use std::io::ErrorKind;
use std::sync::{Arc, Mutex};

/// Deliveries as `(data, times)`.
type Frames = Vec<(Vec<u8>, usize)>;

/// Every delivery, shared between a test and its notifier's hook.
#[derive(Clone, Default)]
struct Deliveries(Arc<Mutex<Frames>>);

impl Deliveries {
    fn record(&self, data: &[u8], times: usize) {
        self.0.lock().unwrap().push((data.to_vec(), times));
    }

    fn take(&self) -> Frames {
        std::mem::take(&mut *self.0.lock().unwrap())
    }

    /// The `times` of every delivery since the last `take`.
    fn take_times(&self) -> Vec<usize> {
        self.take().into_iter().map(|(_, times)| times).collect()
    }
}

/// A notifier that records its deliveries and always asks for more.
fn recording(log: &Log, deliveries: &Deliveries) -> Script {
    let deliveries = deliveries.clone();
    Script::new(log).on_received(move |_, data, times| {
        deliveries.record(data, times);
        true
    })
}

/// `n` distinct bytes.
fn pattern(n: usize) -> Vec<u8> {
    (0..n).map(|i| b'a' + (i % 26) as u8).collect()
}

/// Scripts `data` as reads of `chunk` bytes each, then end of stream.
fn push_chunked(conn: &Conn, data: &[u8], chunk: usize) {
    for part in data.chunks(chunk) {
        conn.wire.push(part);
    }
    conn.wire.push_eof();
}

#[test]
fn r1_every_delivery_is_exactly_expect_bytes_whatever_the_peers_write_boundaries() {
    let data = pattern(30);
    for expect in [1, 2, 3, 5, 8] {
        for chunk in [1, 2, 3, 4, 7, 30] {
            let log = Log::new();
            let deliveries = Deliveries::default();
            let mut conn = server(recording(&log, &deliveries).expecting(expect));
            push_chunked(&conn, &data, chunk);
            conn.accept();

            let frames: Frames = data
                .chunks_exact(expect)
                .enumerate()
                .map(|(i, frame)| (frame.to_vec(), i + 1))
                .collect();
            assert_eq!(deliveries.take(), frames, "expect {expect}, chunk {chunk}");
            let lines = log.take();
            assert_eq!(
                lines.len(),
                3 + frames.len(),
                "expect {expect}, chunk {chunk}"
            );
            assert_eq!(lines[..2], ["accepted", &format!("expect({expect})")]);
            assert_eq!(lines.last().map(String::as_str), Some("closed"));
        }
    }
}

#[test]
fn r1_a_trailing_partial_frame_is_never_delivered() {
    let log = Log::new();
    let mut conn = server(Script::new(&log).expecting(4));
    conn.wire.push("abcdef").push_eof();
    conn.accept();
    assert_eq!(
        log.take(),
        ["accepted", "expect(4)", "received(\"abcd\", 1)", "closed"]
    );
    assert_eq!(conn.handle.stats().bytes_received, 6);
}

#[test]
fn r1_expect_0_delivers_at_least_one_byte_and_never_more_than_the_read_buffer() {
    let log = Log::new();
    let config = config(|c| c.set_read_buffer_size(4));
    let mut conn = server_with(Script::new(&log), config);
    conn.wire.push("abcdefghij").push("k");
    conn.accept();
    assert_eq!(
        log.take(),
        [
            "accepted",
            "received(\"abcd\", 1)",
            "received(\"efgh\", 2)",
            "received(\"ij\", 3)",
            "received(\"k\", 4)"
        ]
    );
    // Every read asks for at most the buffer's free space; the last one found nothing.
    assert_eq!(conn.wire.read_sizes(), [4, 4, 4, 4, 4]);
}

#[test]
fn r1_expect_frames_a_client_connection_from_its_first_read() {
    let log = Log::new();
    let mut conn = client(Script::new(&log).expecting(3));
    conn.wire.push("ab").push("cdefg").push("hi");
    conn.connect();
    assert_eq!(
        log.take(),
        [
            "proxy_via(example.org, 7000)",
            "connecting(1)",
            "connected",
            "expect(3)",
            "received(\"abc\", 1)",
            "received(\"def\", 2)",
            "received(\"ghi\", 3)"
        ]
    );
}

#[test]
fn r2_expect_beyond_the_read_buffer_is_an_error_and_leaves_the_framing_unchanged() {
    let log = Log::new();
    let notes = log.clone();
    let config = config(|c| c.set_read_buffer_size(8));
    let script = Script::new(&log)
        .on_accepted(move |conn| {
            conn.expect(3).expect("3 fits the buffer");
        })
        .on_received(move |conn, _, _| {
            let result = conn.expect(9);
            assert_eq!(
                result,
                Err(ExpectError {
                    requested: 9,
                    read_buffer_size: 8
                })
            );
            if let Err(e) = result {
                notes.push(e.to_string());
            }
            true
        });
    let mut conn = server_with(script, config);
    conn.wire.push("abcdefg");
    conn.accept();
    assert_eq!(
        log.take(),
        [
            "accepted",
            "expect(3)",
            "received(\"abc\", 1)",
            "expect(9) exceeds the read buffer size 8",
            "received(\"def\", 2)",
            "expect(9) exceeds the read buffer size 8"
        ]
    );
    assert_eq!(conn.connection().expect_size(), 3);
    // Refused up front, so the notifier's hook never saw it and nothing was rejected later.
    assert_eq!(conn.handle.stats().expect_rejected, 0);
}

#[test]
fn r2_expect_of_exactly_the_read_buffer_size_is_allowed() {
    let log = Log::new();
    let config = config(|c| c.set_read_buffer_size(4));
    let mut conn = server_with(Script::new(&log).expecting(4), config);
    conn.wire.push("ab").push("cdef").push("gh");
    conn.accept();
    assert_eq!(
        log.take(),
        [
            "accepted",
            "expect(4)",
            "received(\"abcd\", 1)",
            "received(\"efgh\", 2)"
        ]
    );
}

#[test]
fn r2_a_notifier_expect_result_beyond_the_read_buffer_is_rejected_counted_and_ignored() {
    let log = Log::new();
    let config = config(|c| c.set_read_buffer_size(8));
    let script = Script::new(&log)
        .expecting(2)
        .on_expect(|_, qty| if qty == 5 { 100 } else { qty })
        .on_received(|conn, data, _| {
            if data == b"aa" {
                conn.expect(5).expect("5 fits the buffer");
            }
            true
        });
    let mut conn = server_with(script, config);
    conn.wire.push("aabbcc");
    conn.accept();
    assert_eq!(
        log.take(),
        [
            "accepted",
            "expect(2)",
            "received(\"aa\", 1)",
            "expect(5)",
            "received(\"bb\", 2)",
            "received(\"cc\", 3)"
        ]
    );
    assert_eq!(conn.connection().expect_size(), 2);
    assert_eq!(conn.handle.stats().expect_rejected, 1);
    assert_eq!(conn.phase(), Phase::Open);
}

#[test]
fn r2_an_expect_change_inside_received_applies_to_the_very_next_delivery_from_the_same_buffer() {
    let log = Log::new();
    let script = Script::new(&log).expecting(2).on_received(|conn, data, _| {
        if data == b"aa" {
            conn.expect(3).expect("3 fits the buffer");
        }
        true
    });
    let mut conn = server(script);
    conn.wire.push("aabbbcccdd");
    conn.accept();
    assert_eq!(conn.wire.unread(), 0);
    conn.wire.push("d");
    conn.machine().handle_readable();
    assert_eq!(
        log.take(),
        [
            "accepted",
            "expect(2)",
            "received(\"aa\", 1)",
            "expect(3)",
            "received(\"bbb\", 2)",
            "received(\"ccc\", 3)",
            "received(\"ddd\", 1)"
        ]
    );
}

#[test]
fn r3_times_counts_from_1_to_50_in_a_turn_and_the_rest_comes_in_a_later_turn() {
    let log = Log::new();
    let deliveries = Deliveries::default();
    let mut conn = server(recording(&log, &deliveries).expecting(1));
    conn.wire.push(pattern(60));
    conn.accept();
    assert_eq!(MAX_RECEIVED_PER_TURN, 50);
    assert_eq!(deliveries.take_times(), (1..=50).collect::<Vec<_>>());

    // Yielded: readiness alone delivers nothing until the resume is handled.
    assert!(!conn.machine().wants_read());
    assert!(!conn.machine().handle_readable());
    assert_eq!(deliveries.take_times(), Vec::<usize>::new());

    assert_eq!(conn.resume(), ["ReadAgain"]);
    assert_eq!(deliveries.take_times(), (1..=10).collect::<Vec<_>>());
    assert_eq!(log.lines().len(), 2 + 60);
    assert!(conn.machine().wants_read());
}

#[test]
fn r3_received_returning_false_yields_and_the_next_delivery_is_a_later_turn_with_times_1() {
    let log = Log::new();
    let mut conn = server(
        Script::new(&log)
            .expecting(1)
            .on_received(|_, data, _| data != b"b"),
    );
    conn.wire.push("abcde");
    conn.accept();
    assert_eq!(
        log.take(),
        [
            "accepted",
            "expect(1)",
            "received(\"a\", 1)",
            "received(\"b\", 2)"
        ]
    );
    assert!(!conn.machine().handle_readable());
    assert_eq!(log.take(), NOTHING);

    // A yield, not a stop: the rest comes once the resume is handled.
    assert_eq!(conn.resume(), ["ReadAgain"]);
    assert_eq!(
        log.take(),
        [
            "received(\"c\", 1)",
            "received(\"d\", 2)",
            "received(\"e\", 3)"
        ]
    );
    assert_eq!(conn.queue_resumes(), Vec::<String>::new());
}

#[test]
fn r3_the_count_restarts_at_1_in_each_readiness_turn() {
    let log = Log::new();
    let mut conn = server(Script::new(&log));
    conn.wire.push("a").push_would_block().push("b").push("c");
    conn.accept();
    conn.machine().handle_readable();
    assert_eq!(
        log.take(),
        [
            "accepted",
            "received(\"a\", 1)",
            "received(\"b\", 1)",
            "received(\"c\", 2)"
        ]
    );
}

#[test]
fn r4_after_yield_after_reading_bytes_other_tasks_messages_come_before_the_next_delivery() {
    let log = Log::new();
    let config = config(|c| c.set_yield_after_reading(4));
    let mut conn = server_with(Script::new(&log), config);
    conn.wire
        .push("ab")
        .push("cd")
        .push("ef")
        .push("gh")
        .push("ij");
    conn.accept();
    assert_eq!(
        log.take(),
        ["accepted", "received(\"ab\", 1)", "received(\"cd\", 2)"]
    );
    assert_eq!(conn.wire.unread(), 3);

    // Another task's message, sent while the connection yielded, is handled first.
    let other = conn.handle.clone();
    other.write("from another task");
    assert_eq!(conn.resume(), ["ReadAgain"]);
    assert_eq!(
        log.take(),
        [
            "sent(\"from another task\")",
            "received(\"ef\", 1)",
            "received(\"gh\", 2)"
        ]
    );
    assert_eq!(conn.wire.written_str(), "from another task");

    assert_eq!(conn.resume(), ["ReadAgain"]);
    assert_eq!(log.take(), ["received(\"ij\", 1)"]);
    assert_eq!(conn.resume(), Vec::<String>::new());
}

#[test]
fn r4_the_byte_budget_counts_reads_not_deliveries() {
    let log = Log::new();
    let config = config(|c| c.set_yield_after_reading(3));
    let mut conn = server_with(Script::new(&log).expecting(4), config);
    conn.wire.push("ab").push("cd").push("ef").push("gh");
    conn.accept();
    // Two reads (4 bytes) complete one frame, then the budget is spent.
    assert_eq!(
        log.take(),
        ["accepted", "expect(4)", "received(\"abcd\", 1)"]
    );
    assert_eq!(conn.wire.unread(), 2);
    assert_eq!(conn.resume(), ["ReadAgain"]);
    assert_eq!(log.take(), ["received(\"efgh\", 1)"]);
}

#[test]
fn r5_while_muted_nothing_is_read_or_delivered_and_the_peers_close_is_not_noticed() {
    let log = Log::new();
    let mut conn = server(Script::new(&log));
    conn.wire.push("a");
    conn.accept();
    let reads = conn.wire.read_sizes().len();
    conn.handle.mute();
    assert_eq!(conn.messages(), 1);
    assert!(conn.connection().is_muted());

    conn.wire.push("b").push_eof();
    assert!(!conn.machine().wants_read());
    assert!(!conn.machine().handle_readable());
    assert_eq!(conn.wire.read_sizes().len(), reads);
    assert_eq!(conn.phase(), Phase::Open);
    assert_eq!(log.take(), ["accepted", "received(\"a\", 1)"]);

    conn.handle.unmute();
    conn.messages();
    assert_eq!(log.take(), ["received(\"b\", 1)", "closed"]);
}

#[test]
fn r5_unmute_first_delivers_what_was_already_buffered() {
    let log = Log::new();
    let mut conn = server(
        Script::new(&log)
            .expecting(1)
            .on_received(|_, data, _| data != b"a"),
    );
    conn.wire.push("abc");
    conn.accept();
    assert_eq!(conn.wire.unread(), 0);
    // The mute is handled before the resume of the yield, which then delivers nothing.
    conn.handle.mute();
    assert_eq!(conn.queue_resumes(), ["ReadAgain"]);
    assert_eq!(conn.messages(), 2);
    conn.wire.push("d");
    assert!(!conn.machine().handle_readable());
    assert_eq!(log.take(), ["accepted", "expect(1)", "received(\"a\", 1)"]);

    conn.handle.unmute();
    conn.messages();
    assert_eq!(
        log.take(),
        [
            "received(\"b\", 1)",
            "received(\"c\", 2)",
            "received(\"d\", 3)"
        ]
    );
}

#[test]
fn r5_mute_inside_received_takes_effect_from_the_turn_that_handles_it() {
    let log = Log::new();
    let mut conn = server(Script::new(&log).expecting(1).on_received(|conn, data, _| {
        if data == b"a" {
            conn.mute();
        }
        true
    }));
    conn.wire.push("abc");
    conn.accept();
    assert_eq!(
        log.take(),
        [
            "accepted",
            "expect(1)",
            "received(\"a\", 1)",
            "received(\"b\", 2)",
            "received(\"c\", 3)"
        ]
    );
    assert_eq!(conn.messages(), 1);
    conn.wire.push("d");
    assert!(!conn.machine().handle_readable());
    assert_eq!(log.take(), NOTHING);
    assert_eq!(conn.wire.unread(), 1);
}

#[test]
fn r5_each_mute_and_unmute_that_takes_effect_is_reported_in_its_turn_and_no_other() {
    let log = Log::new();
    let observer_log = log.clone();
    let mut conn = server(Script::new(&log).on_accepted(move |conn| {
        let log = observer_log.clone();
        conn.on_mute_changed(move |muting| log.push(format!("-- {muting}")));
    }));
    conn.accept();
    conn.handle.mute();
    conn.handle.mute();
    conn.handle.unmute();
    conn.handle.unmute();
    conn.wire.push("a");
    conn.handle.mute();
    assert_eq!(conn.messages(), 5);
    // The second mute and unmute changed nothing; the unmute's turn read "a" after saying so.
    assert_eq!(
        log.take(),
        [
            "accepted",
            "-- muted",
            "-- unmuted",
            "received(\"a\", 1)",
            "-- muted"
        ]
    );
    assert!(conn.connection().is_muted());

    // A mute handled after `closed` (queued before it) is not reported.
    conn.handle.unmute();
    conn.wire.push_eof();
    conn.handle.mute();
    assert_eq!(conn.messages(), 2);
    assert_eq!(log.take(), ["-- unmuted", "closed"]);
}

#[test]
fn r6_received_data_is_what_the_peer_sent_whatever_the_chunking_and_settings() {
    let data = pattern(50);
    for read_buffer_size in [3, 8, 64] {
        for yield_after_reading in [1, 5, DEFAULT_YIELD_AFTER_READING] {
            for expect in [0, 1, 3] {
                for chunk in [1, 3, 10] {
                    let context = format!(
                        "buffer {read_buffer_size}, yield {yield_after_reading}, \
                         expect {expect}, chunk {chunk}"
                    );
                    let log = Log::new();
                    let deliveries = Deliveries::default();
                    let config = config(|c| {
                        c.set_read_buffer_size(read_buffer_size);
                        c.set_yield_after_reading(yield_after_reading);
                    });
                    let mut conn =
                        server_with(recording(&log, &deliveries).expecting(expect), config);
                    push_chunked(&conn, &data, chunk);
                    conn.accept();
                    conn.drive();

                    let frames: Vec<Vec<u8>> =
                        deliveries.take().into_iter().map(|(d, _)| d).collect();
                    for frame in &frames {
                        match expect {
                            0 => {
                                assert!((1..=read_buffer_size).contains(&frame.len()), "{context}")
                            }
                            n => assert_eq!(frame.len(), n, "{context}"),
                        }
                    }
                    let whole = match expect {
                        0 => data.len(),
                        n => data.len() - data.len() % n,
                    };
                    assert_eq!(frames.concat(), data[..whole], "{context}");
                    assert_eq!(
                        log.lines().last().map(String::as_str),
                        Some("closed"),
                        "{context}"
                    );
                    assert_eq!(conn.phase(), Phase::Closed, "{context}");
                }
            }
        }
    }
}

#[test]
fn r6_after_a_reset_what_was_delivered_is_a_prefix_of_what_was_sent() {
    let log = Log::new();
    let mut conn = server(Script::new(&log));
    conn.wire
        .push("abc")
        .push("def")
        .push_error(ErrorKind::ConnectionReset)
        .push("ghi");
    conn.accept();
    assert_eq!(
        log.take(),
        [
            "accepted",
            "received(\"abc\", 1)",
            "received(\"def\", 2)",
            "closed"
        ]
    );
    assert_eq!(conn.wire.unread(), 1);
}

#[test]
fn r6_after_a_hard_close_what_was_delivered_is_a_prefix_of_what_was_sent() {
    let log = Log::new();
    let deliveries = Deliveries::default();
    let recorder = deliveries.clone();
    let mut conn = client(
        Script::new(&log)
            .expecting(2)
            .on_received(move |conn, data, times| {
                recorder.record(data, times);
                if data == b"bb" {
                    conn.hard_close();
                }
                true
            }),
    );
    conn.wire.push("aab").push("bccdd");
    conn.connect();
    assert_eq!(
        deliveries.take(),
        [(b"aa".to_vec(), 1), (b"bb".to_vec(), 2)]
    );
    assert_eq!(log.lines().last().map(String::as_str), Some("closed"));
    assert_eq!(conn.phase(), Phase::Closed);
}

#[test]
fn r1_the_first_read_asks_for_the_whole_read_buffer_wherever_it_reads_into() {
    // The default size: the first read goes to the stack, and no buffer is allocated until
    // data comes; 64 KiB: the first read goes into an allocated buffer.
    for (size, allocated_before_data) in [(DEFAULT_READ_BUFFER_SIZE, 0), (64 * 1024, 64 * 1024)] {
        let log = Log::new();
        let deliveries = Deliveries::default();
        let config = config(|c| c.set_read_buffer_size(size));
        let mut conn = server_with(recording(&log, &deliveries), config);
        conn.accept();
        let capacity = conn.connection().read_buffer_capacity();
        assert_eq!(capacity, allocated_before_data, "size {size}");
        let data = pattern(40_000);
        conn.wire.push(data.clone());
        conn.drive();
        let frames = deliveries.take();
        let first = frames[0].0.len();
        assert_eq!(
            first,
            size.min(data.len()),
            "one read, as large as it can be"
        );
        let joined: Vec<u8> = frames.into_iter().flat_map(|(d, _)| d).collect();
        assert_eq!(joined, data, "size {size}");
        assert_eq!(conn.wire.read_sizes()[..2], [size, size], "size {size}");
    }
}

#[test]
fn r1_a_connection_that_only_reads_end_of_stream_never_allocates_a_read_buffer() {
    let log = Log::new();
    let mut conn = server(Script::new(&log));
    conn.accept();
    assert_eq!(conn.connection().read_buffer_capacity(), 0);
    conn.wire.push_eof();
    conn.drive();
    assert_eq!(log.take(), ["accepted", "closed"]);
}

#[test]
fn r1_a_connection_that_received_less_than_a_buffer_reads_on_without_allocating_another() {
    let size = DEFAULT_READ_BUFFER_SIZE;
    let log = Log::new();
    let deliveries = Deliveries::default();
    let mut conn = server(recording(&log, &deliveries));
    conn.wire.push("request");
    conn.accept();
    conn.drive();
    assert_eq!(deliveries.take(), [(b"request".to_vec(), 1)]);
    assert_eq!(
        conn.connection().read_buffer_capacity(),
        0,
        "the read after the delivery found nothing and allocated nothing"
    );
    // Data after that still arrives whole, from reads as large as the buffer; past a buffer's
    // worth received, reads go straight into an allocated buffer again.
    let more = pattern(size);
    conn.wire.push(more.clone());
    conn.drive();
    let joined: Vec<u8> = deliveries.take().into_iter().flat_map(|(d, _)| d).collect();
    assert_eq!(joined, more);
    assert!(
        conn.wire.read_sizes().iter().all(|&asked| asked == size),
        "every read asks for the whole read buffer: {:?}",
        conn.wire.read_sizes()
    );
    conn.wire.push("tail");
    conn.drive();
    assert_eq!(deliveries.take(), [(b"tail".to_vec(), 1)]);
    assert_eq!(conn.connection().read_buffer_capacity(), size);
}

/// Writes back every delivery, noting where each one's bytes live.
struct EchoNotingBuffers(Arc<Mutex<Vec<usize>>>);

impl TcpConnectionNotify for EchoNotingBuffers {
    fn received(&mut self, conn: &mut TcpConnection, data: Vec<u8>, _times: usize) -> bool {
        self.0.lock().unwrap().push(data.as_ptr() as usize);
        conn.write(data);
        true
    }
    fn connect_failed(&mut self, _conn: &mut TcpConnection, _reason: ConnectFailure) {}
}

/// A server connection with `notify`, once the peer's four read buffers' worth (the pattern,
/// one buffer per write) has been read and delivered, each read asking for a whole buffer.
fn four_buffers_delivered(notify: Box<dyn TcpConnectionNotify>) -> Conn {
    let size = DEFAULT_READ_BUFFER_SIZE;
    let mut conn = Conn::new_server(notify, ConnectionConfig::default(), &Log::new());
    for part in pattern(4 * size).chunks(size) {
        conn.wire.push(part);
    }
    conn.accept();
    conn.drive();
    assert!(
        conn.wire.read_sizes().iter().all(|&asked| asked == size),
        "every read asks for the whole read buffer: {:?}",
        conn.wire.read_sizes()
    );
    conn
}

#[test]
fn r1_an_echo_reads_into_the_buffer_it_wrote_back_and_allocates_none_per_delivery() {
    let buffers = Arc::new(Mutex::new(Vec::new()));
    let conn = four_buffers_delivered(Box::new(EchoNotingBuffers(buffers.clone())));
    assert_eq!(
        conn.wire.written(),
        pattern(4 * DEFAULT_READ_BUFFER_SIZE),
        "echoed in order"
    );
    let buffers = buffers.lock().unwrap();
    assert_eq!(buffers.len(), 4);
    assert!(
        buffers.iter().all(|&at| at == buffers[0]),
        "each delivery is the buffer written back before it: {buffers:?}"
    );
}

/// A buffer of each capacity around the read buffer size, offered by `offer` inside the first
/// `received` of a connection that yields after it (so no read runs after it), becomes the
/// read buffer only if it takes a whole read without growing and holds at most twice the read
/// buffer size.
fn offered_buffers_are_taken_only_near_the_read_buffer_size(
    offer: fn(&mut TcpConnection, Vec<u8>),
) {
    let size = DEFAULT_READ_BUFFER_SIZE;
    for (capacity, kept) in [
        (size - 1, 0),
        (size, size),
        (2 * size, 2 * size),
        (2 * size + 1, 0),
    ] {
        let script = Script::new(&Log::new()).on_received(move |conn, _, _| {
            let mut buffer = Vec::with_capacity(capacity);
            buffer.push(b'y');
            offer(conn, buffer);
            true
        });
        let mut conn = server_with(script, config(|c| c.set_yield_after_reading(1)));
        conn.wire.push("x");
        conn.accept();
        // A write is handled in a later turn; a buffer given back is taken at once.
        conn.messages();
        assert_eq!(
            conn.connection().read_buffer_capacity(),
            kept,
            "a buffer of capacity {capacity}"
        );
    }
}

#[test]
fn r1_a_written_buffer_becomes_the_read_buffer_only_if_it_takes_a_whole_read_and_is_not_much_larger(
) {
    offered_buffers_are_taken_only_near_the_read_buffer_size(|conn, buffer| conn.write(buffer));
}

#[test]
fn r1_a_written_buffer_something_else_still_holds_never_becomes_the_read_buffer() {
    // Were it taken, the next read would overwrite bytes the notifier still holds (`Bytes` is
    // immutable): a shared chunk, written over and over, is only let go.
    let size = DEFAULT_READ_BUFFER_SIZE;
    let chunk = Bytes::from(vec![b'c'; size]);
    let held = chunk.clone();
    let log = Log::new();
    let config = config(|c| c.set_yield_after_reading(1));
    let script = Script::new(&log).on_received(move |conn, _, _| {
        conn.write(held.clone());
        true
    });
    let mut conn = server_with(script, config);
    conn.wire.push("x");
    conn.accept();
    conn.messages();
    assert_eq!(conn.wire.written().len(), size);
    assert_eq!(conn.connection().read_buffer_capacity(), 0);
    conn.wire.push(vec![b'r'; size]);
    conn.drive();
    assert!(
        chunk.iter().all(|&b| b == b'c'),
        "the chunk was not read into"
    );
}

#[test]
fn r1_a_written_buffer_that_sent_trimmed_still_becomes_the_read_buffer_when_nothing_else_holds_it()
{
    let size = DEFAULT_READ_BUFFER_SIZE;
    let log = Log::new();
    let config = config(|c| c.set_yield_after_reading(1));
    let script = Script::new(&log)
        .on_received(move |conn, _, _| {
            let mut reply = Vec::with_capacity(size);
            reply.extend_from_slice(b"<reply>");
            conn.write(reply);
            true
        })
        .on_sent(|_, data| data.slice(1..6));
    let mut conn = server_with(script, config);
    conn.wire.push("x");
    conn.accept();
    conn.messages();
    assert_eq!(conn.wire.written_str(), "reply");
    assert_eq!(conn.connection().read_buffer_capacity(), size);
    let more = pattern(100);
    conn.wire.push(more.clone());
    conn.drive();
    assert!(log
        .lines()
        .contains(&format!("received(\"{}\", 1)", more.escape_ascii())));
}

/// Gives each delivery's buffer back for the next read, noting where each delivery's bytes
/// live and its buffer's capacity. The first buffer is grown to twice the read buffer size
/// before it is given back, so that a delivery in it is told apart from one in a buffer the
/// connection allocated (which the allocator may well place where a freed one was).
struct GivingBuffersBack(Arc<Mutex<Vec<(usize, usize)>>>);

impl TcpConnectionNotify for GivingBuffersBack {
    fn received(&mut self, conn: &mut TcpConnection, mut data: Vec<u8>, _times: usize) -> bool {
        self.0
            .lock()
            .unwrap()
            .push((data.as_ptr() as usize, data.capacity()));
        let grown = 2 * DEFAULT_READ_BUFFER_SIZE;
        if data.capacity() < grown {
            data.reserve_exact(grown - data.len());
        }
        conn.reuse_for_reading(data);
        true
    }
    fn connect_failed(&mut self, _conn: &mut TcpConnection, _reason: ConnectFailure) {}
}

#[test]
fn r1_a_notifier_that_gives_its_deliveries_back_is_handed_the_same_buffer_each_time() {
    let buffers = Arc::new(Mutex::new(Vec::new()));
    four_buffers_delivered(Box::new(GivingBuffersBack(buffers.clone())));
    let buffers = buffers.lock().unwrap();
    assert_eq!(buffers.len(), 4);
    let (first_given, _) = buffers[1];
    assert!(
        (buffers[1..].iter())
            .all(|&delivery| delivery == (first_given, 2 * DEFAULT_READ_BUFFER_SIZE)),
        "each delivery after the first is in the (grown) buffer given back before it: \
         {buffers:?}"
    );
}

#[test]
fn r1_a_buffer_given_back_becomes_the_read_buffer_only_if_it_takes_a_whole_read_and_is_not_much_larger(
) {
    offered_buffers_are_taken_only_near_the_read_buffer_size(|conn, buffer| {
        conn.reuse_for_reading(buffer)
    });
}

#[test]
fn r1_a_buffer_given_back_while_the_connection_still_has_its_read_buffer_is_dropped() {
    let size = DEFAULT_READ_BUFFER_SIZE;
    // Framed deliveries are copied out of the read buffer, which the connection keeps.
    let script = Script::new(&Log::new())
        .expecting(2)
        .on_received(move |conn, _, _| {
            conn.reuse_for_reading(Vec::with_capacity(2 * size));
            true
        });
    let mut conn = server_with(script, config(|c| c.set_yield_after_reading(1)));
    conn.wire.push("abcd");
    conn.accept();
    assert_eq!(conn.connection().read_buffer_capacity(), size);
}

#[test]
fn r1_a_buffer_given_back_once_the_connection_closed_is_dropped() {
    let size = DEFAULT_READ_BUFFER_SIZE;
    let script = Script::new(&Log::new()).on_received(move |conn, _, _| {
        conn.hard_close();
        conn.reuse_for_reading(Vec::with_capacity(size));
        true
    });
    let mut conn = server_with(script, config(|c| c.set_yield_after_reading(1)));
    conn.wire.push(pattern(size));
    conn.accept();
    assert_eq!(conn.connection().phase(), Phase::Closed);
    assert_eq!(conn.connection().read_buffer_capacity(), 0);
}

#[test]
fn r5_a_mute_then_an_unmute_inside_one_callback_leave_the_connection_reading() {
    let log = Log::new();
    let mut conn = server(Script::new(&log).on_received(|conn, data, _| {
        if data == b"a" {
            conn.mute();
            conn.unmute();
        }
        true
    }));
    conn.wire.push("a");
    conn.accept();
    assert_eq!(conn.messages(), 2);
    assert!(!conn.connection().is_muted());
    conn.wire.push("b");
    assert!(conn.machine().handle_readable());
    assert_eq!(
        log.take(),
        ["accepted", "received(\"a\", 1)", "received(\"b\", 1)"]
    );
}

#[test]
fn r5_a_mute_change_says_whether_the_connection_is_muted_after_it() {
    use crate::proto::Muting;
    assert!(Muting::to(true).is_muted());
    assert!(!Muting::to(false).is_muted());
    assert_eq!(Muting::to(true), Muting::Muted);
}
