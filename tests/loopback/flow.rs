//! Flow control: yielding from `received`, mute and unmute, backpressure, and a hard close
//! with data still queued.
//!
//! These run on tokio's current-thread runtime (the `#[tokio::test]` default), whose run queue
//! is FIFO: a task woken inside a connection's turn runs before that connection's next turn.

use crate::support::{
    accept, connect, dial, finished, pattern, peer_reads_to_end, raw_listener, read_all,
    read_exact, write_all, Trace,
};
use std::sync::OnceLock;
use std::time::Duration;
use tcpnotify::record::Recorded;
use tcpnotify::{ConnectFailure, ConnectionHandle, TcpConnection, TcpConnectionNotify};
use tokio::io::AsyncWriteExt;
use tokio::sync::oneshot;

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

#[tokio::test]
async fn r3_r4_received_false_yields_to_a_message_from_another_task() {
    let trace = Trace::new();
    let (raw, port) = raw_listener(None);
    let (wake, woken) = oneshot::channel();
    let conn = connect(
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
    let mut peer = accept(&raw).await;
    // Both frames in one segment: the second is already buffered when the first yields.
    write_all(&mut peer, b"onetwo").await;
    peer_reads_to_end(&trace, peer, &conn).await;
    insta::assert_snapshot!(trace.render(&["client", "peer"]));
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

#[tokio::test]
async fn r5_mute_holds_data_and_peer_close_until_unmute() {
    let trace = Trace::new();
    let (raw, port) = raw_listener(None);
    let conn = connect(&trace, "client", Muting, port);
    let mut peer = accept(&raw).await;
    write_all(&mut peer, b"first").await;
    assert_eq!(read_exact(&mut peer, 5).await, "muted");
    write_all(&mut peer, b"second").await;
    peer.shutdown().await.expect("peer shutdown");
    // Time for "second" and the FIN to arrive; a muted connection must not see either.
    tokio::time::sleep(Duration::from_millis(100)).await;
    trace.note("client", "(100ms later, still muted: the test unmutes)");
    conn.unmute();
    finished(&conn).await;
    insta::assert_snapshot!(trace.render(&["client"]));
}

/// Bytes to write to a peer that does not read: twice the most the kernel lets a socket's
/// send buffer grow to (4 MiB where unknown), and more, so the socket must push back.
fn bulk() -> usize {
    // Asked for several times a test, from inside callbacks too: read the kernel's setting once.
    static BULK: OnceLock<usize> = OnceLock::new();
    *BULK.get_or_init(|| {
        let max_send_buffer = std::fs::read_to_string("/proc/sys/net/ipv4/tcp_wmem")
            .ok()
            .and_then(|text| text.split_whitespace().nth(2)?.parse::<usize>().ok())
            .unwrap_or(4 << 20);
        2 * max_send_buffer + (1 << 20)
    })
}

/// The peer's receive buffer.
const SMALL_RECV_BUFFER: u32 = 16 << 10;

/// Writes [`bulk`] bytes in one write, then a tail while throttled; closes once unthrottled.
struct Bulk;

impl TcpConnectionNotify for Bulk {
    fn connected(&mut self, conn: &mut TcpConnection) {
        conn.write(pattern(bulk()));
    }
    fn throttled(&mut self, conn: &mut TcpConnection) {
        conn.write("tail");
    }
    fn unthrottled(&mut self, conn: &mut TcpConnection) {
        conn.close();
    }
    fn connect_failed(&mut self, _conn: &mut TcpConnection, _reason: ConnectFailure) {}
}

/// Dials with a recorder that keeps counts and previews only: no megabyte copies in the trace.
fn connect_summarised(
    trace: &Trace,
    notify: impl TcpConnectionNotify,
    port: u16,
) -> ConnectionHandle {
    trace.redact(format!("({}B ", bulk()), "(<bulk>B ");
    dial(
        trace,
        Recorded::new(notify, "client", trace.sink()).keeping_payloads(false),
        port,
    )
}

#[tokio::test]
async fn w3_w4_w5_throttled_until_a_stalled_peer_reads_everything() {
    let trace = Trace::new();
    let (raw, port) = raw_listener(Some(SMALL_RECV_BUFFER));
    let conn = connect_summarised(&trace, Bulk, port);
    let mut peer = accept(&raw).await;
    trace.wait_for("client", "throttled").await;
    trace.wait_for("client", "sent(4B").await;
    trace.note("client", "(the peer starts reading)");
    let data = read_all(&mut peer).await;
    let expected = [pattern(bulk()), b"tail".to_vec()].concat();
    let all = data.len() == expected.len();
    trace.note("peer", format!("read <bulk> + 4 bytes: {all}"));
    trace.note(
        "peer",
        format!("every byte, in order: {}", data == expected),
    );
    drop(peer);
    finished(&conn).await;
    insta::assert_snapshot!(trace.render(&["client", "peer"]));
}

/// Writes [`bulk`] bytes and hard-closes as soon as the socket pushes back.
struct HardCloser;

impl TcpConnectionNotify for HardCloser {
    fn connected(&mut self, conn: &mut TcpConnection) {
        conn.write(pattern(bulk()));
    }
    fn throttled(&mut self, conn: &mut TcpConnection) {
        conn.hard_close();
    }
    fn connect_failed(&mut self, _conn: &mut TcpConnection, _reason: ConnectFailure) {}
}

#[tokio::test]
async fn l5_hard_close_drops_unsent_data() {
    let trace = Trace::new();
    let (raw, port) = raw_listener(Some(SMALL_RECV_BUFFER));
    let conn = connect_summarised(&trace, HardCloser, port);
    let mut peer = accept(&raw).await;
    finished(&conn).await;
    // What the socket had taken before the hard close still arrives; the queue's rest never does.
    let data = read_all(&mut peer).await;
    let sent = conn.stats().bytes_sent as usize;
    trace.note(
        "peer",
        format!("read fewer bytes than written: {}", data.len() < bulk()),
    );
    trace.note(
        "peer",
        format!("read what the socket took: {}", data.len() == sent),
    );
    trace.note(
        "peer",
        format!(
            "a prefix of what was written: {}",
            data == pattern(bulk())[..data.len()]
        ),
    );
    insta::assert_snapshot!(trace.render(&["client", "peer"]));
}
