//! Flow control: yielding from `received`, mute and unmute, backpressure, and a hard close
//! with data still queued.
//!
//! These run on a current-thread runtime (the `#[tokio::test]` default, and each simulated
//! host's), whose run queue is FIFO: a task woken inside a connection's turn runs before that
//! connection's next turn.

use crate::conformance::Difference;
use crate::support::{
    finished, pattern, peer_reads_to_end, read_all, read_exact, within, write_all, Trace,
};
use crate::world::World;
use std::time::Duration;
use tcpnotify::record::Recorded;
use tcpnotify::{ConnectFailure, ConnectionHandle, TcpConnection, TcpConnectionNotify};
use tcpnotify_sim::fault::MAX_SEGMENTS_IN_FLIGHT;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::oneshot;

conformance! {
    r3_r4_received_false_yields_to_a_message_from_another_task: yields_to_another_task;
    r5_mute_holds_data_and_peer_close_until_unmute: mute_holds_data;
    r6_two_writes_waiting_in_the_buffer_arrive_whole_and_in_order: buffered_writes_read;
    w3_w4_w5_throttled_until_a_stalled_peer_reads_everything: throttled_until_read;
    w3_w4_thousands_of_tiny_writes_to_a_stalled_peer_arrive: tiny_writes_until_read;
    l5_hard_close_drops_unsent_data: hard_close_drops_unsent;
}

/// Reads 3-byte frames; yields after the first and wakes another task, and closes after the
/// second.
struct Yielding {
    wake_other_task: Option<oneshot::Sender<()>>,
}

impl TcpConnectionNotify for Yielding {
    fn connected(&mut self, conn: &mut TcpConnection) {
        conn.expect(3).expect("fits the read buffer");
    }
    fn received(&mut self, conn: &mut TcpConnection, _data: Vec<u8>, _times: usize) -> bool {
        match self.wake_other_task.take() {
            Some(wake) => {
                let _ = wake.send(());
                false
            }
            None => {
                conn.close();
                true
            }
        }
    }
    fn connect_failed(&mut self, _conn: &mut TcpConnection, _reason: ConnectFailure) {}
}

/// Two frames arrive in one segment; the first yields and wakes a task that writes.
async fn yields_to_another_task<W: World>(w: W) -> String {
    let trace = w.trace();
    let (raw, port) = w.raw_listener(false).await;
    let (wake, woken) = oneshot::channel();
    let conn = w.connect(
        &trace,
        "client",
        Yielding {
            wake_other_task: Some(wake),
        },
        port,
    );
    let other = conn.clone();
    tokio::spawn(async move {
        if woken.await.is_ok() {
            other.write("from another task");
        }
    });
    let mut peer = w.accept(&raw).await;
    // Both frames in one segment: the second is already buffered when the first yields.
    write_all(&mut peer, b"onetwo").await;
    peer_reads_to_end(&trace, peer, &conn).await;
    trace.render(&["client", "peer"])
}

/// Mutes after the first delivery and says so to the peer.
struct Muting;

impl TcpConnectionNotify for Muting {
    fn received(&mut self, conn: &mut TcpConnection, _data: Vec<u8>, _times: usize) -> bool {
        conn.mute();
        // Handled after the mute, so a peer that reads this knows the mute is in force.
        conn.write("muted");
        true
    }
    fn connect_failed(&mut self, _conn: &mut TcpConnection, _reason: ConnectFailure) {}
}

/// A muted client gets neither the peer's data nor its close until the test unmutes it.
async fn mute_holds_data<W: World>(w: W) -> String {
    let trace = w.trace();
    let (raw, port) = w.raw_listener(false).await;
    let conn = w.connect(&trace, "client", Muting, port);
    let mut peer = w.accept(&raw).await;
    write_all(&mut peer, b"first").await;
    assert_eq!(read_exact(&mut peer, 5).await, "muted");
    write_all(&mut peer, b"second").await;
    peer.shutdown().await.expect("peer shutdown");
    // Time for "second" and the FIN to arrive; a muted connection must not see either.
    tokio::time::sleep(Duration::from_millis(100)).await;
    trace.note("client", "(100ms later, still muted: the test unmutes)");
    conn.unmute();
    finished(&conn).await;
    trace.render(&["client"])
}

/// Two writes of the peer, and its close, wait while the client is muted; then the test
/// unmutes it. A kernel's read takes both writes at once: one `received`. The simulator on a
/// quiet plan (no re-chunked reads) reads each write by itself: two, in one turn. Difference
/// S5; either way every byte arrives, in order.
async fn buffered_writes_read<W: World>(w: W) -> String {
    let trace = w.trace();
    let (raw, port) = w.raw_listener(false).await;
    let conn = w.connect(&trace, "client", Muting, port);
    let mut peer = w.accept(&raw).await;
    write_all(&mut peer, b"first").await;
    assert_eq!(read_exact(&mut peer, 5).await, "muted");
    write_all(&mut peer, b"one").await;
    write_all(&mut peer, b"two").await;
    peer.shutdown().await.expect("peer shutdown");
    // Time for both writes and the FIN to wait in the client's buffer.
    tokio::time::sleep(Duration::from_millis(100)).await;
    let before = trace.lines_of("client").len();
    conn.unmute();
    finished(&conn).await;
    let after: Vec<String> = trace.lines_of("client").split_off(before);
    let deliveries: Vec<&str> = (after.iter())
        .filter(|l| l.starts_with("received("))
        .filter_map(|l| l.split('"').nth(1))
        .collect();
    let expected: &[&str] = match w.differs(Difference::S5) {
        true => &["one", "two"],
        false => &["onetwo"],
    };
    assert_eq!(
        deliveries,
        expected,
        "how the two writes were delivered (S5):\n{}",
        trace.render(&["client"])
    );
    trace.note(
        "reader",
        format!("after the unmute: \"{}\"", deliveries.concat()),
    );
    let others: Vec<&str> = (after.iter().map(String::as_str))
        .filter(|l| !l.starts_with("received(") && !l.starts_with("sent(5B \"muted\""))
        .collect();
    trace.note("reader", format!("and otherwise: {}", others.join(", ")));
    trace.render(&["reader"])
}

/// Writes `bulk` bytes in one write, then a tail while throttled; closes once unthrottled.
struct Bulk {
    bulk: usize,
}

impl TcpConnectionNotify for Bulk {
    fn connected(&mut self, conn: &mut TcpConnection) {
        conn.write(pattern(self.bulk));
    }
    fn throttled(&mut self, conn: &mut TcpConnection) {
        conn.write("tail");
    }
    fn unthrottled(&mut self, conn: &mut TcpConnection) {
        conn.close();
    }
    fn connect_failed(&mut self, _conn: &mut TcpConnection, _reason: ConnectFailure) {}
}

/// Dials `port` with a recorder that keeps counts and previews only: no megabyte copies in
/// the trace, whose `bulk` byte counts show as `<bulk>`.
fn connect_summarised<W: World>(
    w: &W,
    trace: &Trace,
    notify: impl TcpConnectionNotify,
    port: u16,
) -> ConnectionHandle {
    trace.redact(format!("({}B ", w.bulk()), "(<bulk>B ");
    trace.redact_port(port);
    let host = w.host().to_string();
    w.dial(
        Recorded::new(notify, "client", trace.sink()).keeping_payloads(false),
        &host,
        port,
    )
}

/// A peer that does not read pushes a bulk writer back; once it reads, everything arrives.
async fn throttled_until_read<W: World>(w: W) -> String {
    let trace = w.trace();
    let bulk = w.bulk();
    let (raw, port) = w.raw_listener(true).await;
    let conn = connect_summarised(&w, &trace, Bulk { bulk }, port);
    let mut peer = w.accept(&raw).await;
    trace.wait_for("client", "throttled").await;
    trace.wait_for("client", "sent(4B").await;
    trace.note("client", "(the peer starts reading)");
    let data = read_all(&mut peer).await;
    let expected = [pattern(bulk), b"tail".to_vec()].concat();
    let all = data.len() == expected.len();
    trace.note("peer", format!("read <bulk> + 4 bytes: {all}"));
    trace.note(
        "peer",
        format!("every byte, in order: {}", data == expected),
    );
    drop(peer);
    finished(&conn).await;
    trace.render(&["client", "peer"])
}

/// Tiny writes, each its own segment, more of them than the simulator lets be in flight.
const TINY_WRITES: usize = 2 * MAX_SEGMENTS_IN_FLIGHT;

/// Bytes per tiny write.
const TINY: usize = 16;

/// Writes [`TINY_WRITES`] writes of [`TINY`] bytes as soon as it is connected, one at a time.
struct TinyWriter;

impl TcpConnectionNotify for TinyWriter {
    fn connected(&mut self, conn: &mut TcpConnection) {
        let data = pattern(TINY_WRITES * TINY);
        for chunk in data.chunks(TINY) {
            conn.write(chunk.to_vec());
        }
    }
    fn connect_failed(&mut self, _conn: &mut TcpConnection, _reason: ConnectFailure) {}
}

/// Thousands of tiny writes to a peer that does not read yet all arrive, in order, once it
/// reads. A kernel's buffers hold bytes: it takes them all without pushing back. The
/// simulator lets at most [`MAX_SEGMENTS_IN_FLIGHT`] segments be unread, so there the writer
/// is `throttled` until the peer reads: difference S4.
async fn tiny_writes_until_read<W: World>(w: W) -> String {
    let trace = w.trace();
    let (raw, port) = w.raw_listener(false).await;
    let conn = w.connect(&trace, "client", TinyWriter, port);
    let mut peer = w.accept(&raw).await;
    trace.wait_for("client", "connected").await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    let pushed_back = trace.lines_of("client").iter().any(|l| l == "throttled");
    assert_eq!(
        pushed_back,
        w.differs(Difference::S4),
        "whether the writer was pushed back before the peer read (S4):\n{}",
        trace.render(&["client"])
    );
    let total = TINY_WRITES * TINY;
    let mut data = vec![0; total];
    within("peer reading", peer.read_exact(&mut data))
        .await
        .expect("peer read");
    trace.note(
        "peer",
        format!("read {total} bytes, in order: {}", data == pattern(total)),
    );
    if pushed_back {
        trace.wait_for("client", "unthrottled").await;
    }
    drop(peer);
    finished(&conn).await;
    // The writer's callbacks but `throttled` and `unthrottled`, which S4 has only the
    // simulator show; the `sent`s are counted.
    let lines = trace.lines_of("client");
    if !w.differs(Difference::S4) {
        assert!(
            !lines.iter().any(|l| l.ends_with("throttled")),
            "pushed back at some point (S4):\n{}",
            trace.render(&["client"])
        );
    }
    let sent = lines.iter().filter(|l| l.starts_with("sent(16B")).count();
    let others: Vec<&str> = (lines.iter().map(String::as_str))
        .filter(|l| !l.starts_with("sent(16B") && !l.ends_with("throttled"))
        .collect();
    trace.note("writer", format!("sent {sent} writes of {TINY} bytes"));
    trace.note("writer", format!("and otherwise: {}", others.join(", ")));
    trace.render(&["writer", "peer"])
}

/// Writes `bulk` bytes and hard-closes as soon as the socket pushes back.
struct HardCloser {
    bulk: usize,
}

impl TcpConnectionNotify for HardCloser {
    fn connected(&mut self, conn: &mut TcpConnection) {
        conn.write(pattern(self.bulk));
    }
    fn throttled(&mut self, conn: &mut TcpConnection) {
        conn.hard_close();
    }
    fn connect_failed(&mut self, _conn: &mut TcpConnection, _reason: ConnectFailure) {}
}

/// A writer hard-closes when pushed back: its peer gets what the socket took, no more.
async fn hard_close_drops_unsent<W: World>(w: W) -> String {
    let trace = w.trace();
    let bulk = w.bulk();
    let (raw, port) = w.raw_listener(true).await;
    let conn = connect_summarised(&w, &trace, HardCloser { bulk }, port);
    let mut peer = w.accept(&raw).await;
    finished(&conn).await;
    // What the socket had taken before the hard close still arrives; the queue's rest never does.
    let data = read_all(&mut peer).await;
    let sent = conn.stats().bytes_sent as usize;
    trace.note(
        "peer",
        format!("read fewer bytes than written: {}", data.len() < bulk),
    );
    trace.note(
        "peer",
        format!("read what the socket took: {}", data.len() == sent),
    );
    trace.note(
        "peer",
        format!(
            "a prefix of what was written: {}",
            data == pattern(bulk)[..data.len()]
        ),
    );
    trace.render(&["client", "peer"])
}
