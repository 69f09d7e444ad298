//! The simulator's fault layer over real loopback sockets: the same partial writes, re-chunked
//! reads and small send buffer that a simulated run draws wrap tokio's sockets
//! (`FaultNetwork<TokioNetwork>`), and a length-prefixed protocol read with `expect` still
//! gets whole frames, in order, with its writer throttled by the small buffer. The chunk sizes
//! come from the sockets' addresses, so they differ from run to run: nothing here is a
//! snapshot, every assertion holds for any chunking.

use crate::support::{finished, stop, within, Accept, Trace};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use tcpnotify::record::{Callback, Recorded, RecordedListener};
use tcpnotify::{ConnectFailure, TcpConnection, TcpConnectionNotify, TcpListener, TokioNetwork};
use tcpnotify_sim::fault::{FaultLayer, FaultNetwork, PartialWrites, ReadChunks};
use tcpnotify_sim::judge::{check, CheckOptions};
use tcpnotify_sim::notifiers::{frame, frame_len, pattern, FramedEcho};
use tcpnotify_sim::{FaultPlan, Seed};

/// The host the fault layer knows loopback's address by.
const HOST: &str = "localhost";

/// Sends every body as a frame at once, reads each echoed frame back with `expect` (header,
/// then body), keeps the bodies it got, and closes once all came back.
struct FramedClient {
    bodies: Vec<Vec<u8>>,
    echoed: Arc<Mutex<Vec<Vec<u8>>>>,
    /// The length of the body expected next, once its header came.
    body: Option<usize>,
}

impl TcpConnectionNotify for FramedClient {
    fn connected(&mut self, conn: &mut TcpConnection) {
        if conn.expect(4).is_err() {
            conn.hard_close();
            return;
        }
        for body in &self.bodies {
            conn.write(frame(body));
        }
    }
    fn received(&mut self, conn: &mut TcpConnection, data: Vec<u8>, _times: usize) -> bool {
        let next = match self.body.take() {
            None => {
                let len = frame_len(&data);
                self.body = Some(len);
                len
            }
            Some(_) => {
                let mut echoed = self.echoed.lock().unwrap_or_else(|e| e.into_inner());
                echoed.push(data);
                if echoed.len() == self.bodies.len() {
                    conn.close();
                    return true;
                }
                4
            }
        };
        if conn.expect(next).is_err() {
            conn.hard_close();
        }
        true
    }
    fn connect_failed(&mut self, _conn: &mut TcpConnection, _reason: ConnectFailure) {}
}

#[tokio::test]
async fn w4_r1_a_framed_echo_over_loopback_survives_partial_writes_rechunked_reads_and_a_small_send_buffer(
) {
    let plan = FaultPlan {
        partial_writes: Some(PartialWrites {
            average: 7,
            variation: 6,
        }),
        read_chunks: Some(ReadChunks::new(5)),
        send_buffer: Some(64),
        ..FaultPlan::quiet(Seed(1))
    };
    let hosts = BTreeMap::from([(HOST.to_string(), [127, 0, 0, 1].into())]);
    let net = FaultNetwork::new(TokioNetwork::new(), HOST, FaultLayer::new(plan, hosts));
    let trace = Trace::new(HOST);

    let listener = TcpListener::builder().network(net.clone()).listen(
        RecordedListener::new(
            Accept(|| Box::new(FramedEcho::new()) as Box<dyn TcpConnectionNotify>),
            "server",
            trace.sink(),
        ),
        "127.0.0.1",
        "0",
    );
    let port = within("listening", listener.listening())
        .await
        .expect("listen")
        .port();
    let sizes = [1, 2, 3, 17, 64, 65, 100, 255, 256, 300, 499, 500];
    let bodies: Vec<Vec<u8>> = sizes.iter().map(|&n| pattern(n, n)).collect();
    let echoed = Arc::new(Mutex::new(Vec::new()));
    let client = FramedClient {
        bodies: bodies.clone(),
        echoed: echoed.clone(),
        body: None,
    };
    let conn = TcpConnection::builder().network(net).connect(
        Recorded::new(client, "client", trace.sink()),
        "127.0.0.1",
        &port.to_string(),
    );
    finished(&conn).await;
    trace.wait_for("server.1", "closed").await;
    stop(listener).await;

    // Every frame came back whole and in order, however the bytes were cut on the way.
    assert_eq!(*echoed.lock().unwrap_or_else(|e| e.into_inner()), bodies);
    let callbacks = trace.callbacks();
    let received = |who: &str| -> Vec<usize> {
        let events = callbacks.events().into_iter().filter(|e| e.who == who);
        events
            .filter_map(|e| match e.callback() {
                Some(Callback::Received { data, .. }) => Some(data.len()),
                _ => None,
            })
            .collect()
    };
    // R1: the server's `expect` delivered each header and each body whole, though no read
    // returned more than 5 bytes.
    let frames: Vec<usize> = sizes.iter().flat_map(|&n| [4, n]).collect();
    assert_eq!(received("server.1"), frames);
    assert_eq!(received("client"), frames);
    // W4: partial writes and the 64-byte send buffer push the client back (on a quiet
    // loopback its 2,000-odd bytes go out at once, unthrottled). Each fault's own effect on a
    // real socket is pinned by the fault layer's unit tests (`fault::network`).
    let throttled = callbacks
        .events()
        .iter()
        .any(|e| e.who == "client" && e.callback() == Some(&Callback::Throttled));
    assert!(throttled, "{}", callbacks.render_text());
    let report = check(&callbacks, &CheckOptions::default());
    assert!(report.is_ok(), "{report}\n{}", callbacks.render_text());
}
