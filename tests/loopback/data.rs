//! Data in both directions: echo, `expect` framing, `writev`/`sentv`, and `sent` as a transform.

use crate::support::{finished, peer_reads_to_end, read_exact, stop, write_all, Echo};
use crate::world::World;
use std::time::Duration;
use tcpnotify::{Bytes, ConnectFailure, Stream, TcpConnection, TcpConnectionNotify};

/// Sends one line at a time and waits for its echo before the next, so every echo is one
/// segment and one `received`; closes after the last.
struct LineByLine {
    lines: Vec<&'static str>,
    next: usize,
    /// Bytes written and not yet echoed.
    outstanding: usize,
}

impl LineByLine {
    fn send_next(&mut self, conn: &mut TcpConnection) {
        match self.lines.get(self.next) {
            Some(line) => {
                conn.write(*line);
                self.outstanding = line.len();
                self.next += 1;
            }
            None => conn.close(),
        }
    }
}

impl TcpConnectionNotify for LineByLine {
    fn connected(&mut self, conn: &mut TcpConnection) {
        self.send_next(conn);
    }
    fn received(&mut self, conn: &mut TcpConnection, data: Vec<u8>, _times: usize) -> bool {
        self.outstanding = self.outstanding.saturating_sub(data.len());
        if self.outstanding == 0 {
            self.send_next(conn);
        }
        true
    }
    fn connect_failed(&mut self, _conn: &mut TcpConnection, _reason: ConnectFailure) {}
}

conformance! {
    echo_round_trips_each_line_then_both_sides_close: echo_round_trips;
    r1_expect_frames_a_length_prefixed_protocol_written_byte_by_byte: expect_frames;
    w2_writev_calls_sentv_once_and_queues_its_result: |w| against_a_reading_peer(w, Vectored);
    w2_sent_rewrites_and_swallows_data: |w| against_a_reading_peer(w, Rewriting);
}

/// A line client against an echo server: each line comes back in one delivery.
async fn echo_round_trips<W: World>(w: W) -> String {
    let trace = w.trace();
    let (listener, port) = w.listen(&trace, "server", 0, || Box::new(Echo)).await;
    let client = LineByLine {
        lines: vec!["hello\n", "from\n", "tcpnotify\n"],
        next: 0,
        outstanding: 0,
    };
    let conn = w.connect(&trace, "client", client, port);
    finished(&conn).await;
    trace.wait_for("server.1", "closed").await;
    stop(listener).await;
    trace.render(&["client", "server.1", "server"])
}

/// Reads a length-prefixed protocol with `expect`: a 4-byte big-endian header, then a body of
/// that length. Replies to each message with `ok:` and the body. Yields after every frame, so
/// each delivery starts a turn and `times` is 1 however the peer's bytes were segmented.
#[derive(Default)]
struct Framed {
    in_body: bool,
}

impl TcpConnectionNotify for Framed {
    fn accepted(&mut self, conn: &mut TcpConnection) {
        conn.expect(4).expect("header fits the read buffer");
    }
    fn received(&mut self, conn: &mut TcpConnection, data: Vec<u8>, _times: usize) -> bool {
        if self.in_body {
            conn.write([b"ok:".as_slice(), &data].concat());
            conn.expect(4).expect("header fits the read buffer");
        } else {
            let header: [u8; 4] = data.as_slice().try_into().expect("a 4-byte frame");
            let len = u32::from_be_bytes(header) as usize;
            if conn.expect(len).is_err() {
                conn.hard_close();
            }
        }
        self.in_body = !self.in_body;
        false
    }
    fn connect_failed(&mut self, _conn: &mut TcpConnection, _reason: ConnectFailure) {}
}

/// A raw peer writes three framed messages one byte at a time, each after the last reply.
async fn expect_frames<W: World>(w: W) -> String {
    let trace = w.trace();
    let (listener, port) = w
        .listen(&trace, "server", 0, || Box::<Framed>::default())
        .await;
    let mut peer = w.raw_connect(port).await;
    peer.set_nodelay(true).expect("nodelay");
    for body in ["hi", "framing", "one byte at a time"] {
        let message = [&(body.len() as u32).to_be_bytes()[..], body.as_bytes()].concat();
        for byte in message {
            write_all(&mut peer, &[byte]).await;
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        let reply = read_exact(&mut peer, 3 + body.len()).await;
        trace.note("peer", format!("read {reply:?}"));
    }
    drop(peer);
    trace.wait_for("server.1", "closed").await;
    stop(listener).await;
    trace.render(&["server.1", "peer"])
}

/// Writes with `writev`; its `sentv` drops empty chunks and adds a trailer chunk.
struct Vectored;

impl TcpConnectionNotify for Vectored {
    fn connected(&mut self, conn: &mut TcpConnection) {
        conn.writev(vec![b"alpha,".to_vec(), Vec::new(), b"beta,".to_vec()]);
        conn.writev(vec![b"gamma".to_vec()]);
        conn.write("|plain write");
        conn.dispose();
    }
    fn sentv(&mut self, _conn: &mut TcpConnection, chunks: Vec<Bytes>) -> Vec<Bytes> {
        let mut out: Vec<Bytes> = chunks.into_iter().filter(|c| !c.is_empty()).collect();
        out.push(Bytes::from_static(b";"));
        out
    }
    fn connect_failed(&mut self, _conn: &mut TcpConnection, _reason: ConnectFailure) {}
}

/// Runs `client` against a raw peer that reads to end of stream; the trace of both.
async fn against_a_reading_peer<W: World>(w: W, client: impl TcpConnectionNotify) -> String {
    let trace = w.trace();
    let (raw, port) = w.raw_listener(false).await;
    let conn = w.connect(&trace, "client", client, port);
    let peer = w.accept(&raw).await;
    peer_reads_to_end(&trace, peer, &conn).await;
    trace.render(&["client", "peer"])
}

/// Upper-cases what it sends and swallows any write of `secret`.
struct Rewriting;

impl TcpConnectionNotify for Rewriting {
    fn connected(&mut self, conn: &mut TcpConnection) {
        for data in ["hello ", "secret", "", "world"] {
            conn.write(data);
        }
        conn.dispose();
    }
    fn sent(&mut self, _conn: &mut TcpConnection, data: Bytes) -> Bytes {
        if data == b"secret"[..] {
            Bytes::new()
        } else {
            data.to_ascii_uppercase().into()
        }
    }
    fn connect_failed(&mut self, _conn: &mut TcpConnection, _reason: ConnectFailure) {}
}
