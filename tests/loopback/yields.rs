//! Yields on real sockets. Over tokio a turn that reached one of its limits (R4's bytes read
//! here) goes on in the same poll while the task has tokio's cooperative budget left
//! (`Network::poll_after_yield`), where the simulator always goes back through the runtime.
//! These pin what R4 still promises there, and that a connection reading without end leaves
//! another connection's callbacks their turn on a single worker.

use crate::support::within;
use std::future::Future;
use std::io::Write;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use tcpnotify::{Bytes, ConnectFailure, TcpConnection, TcpConnectionNotify};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::{oneshot, watch, Notify};

/// Each read takes at most this much...
const READ_BUFFER: usize = 1024;
/// ...and a turn yields once it read this much (R4).
const YIELD_AFTER: usize = 4 * READ_BUFFER;
/// What the peer sends: enough for three turns that reach the limit.
const SENT: usize = 3 * YIELD_AFTER;
/// Written through the connection's handle at the last delivery of a turn that reached the
/// limit, as another task's message would arrive while the connection runs.
const MARK: &[u8] = b"mark";

/// A listener on a free loopback port, and that port.
async fn local_listener() -> (tokio::net::TcpListener, String) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("binds");
    let port = listener.local_addr().expect("address").port().to_string();
    (listener, port)
}

/// What the connection's notifier saw, in order.
#[derive(Debug, PartialEq)]
enum Seen {
    Received { times: usize, len: usize },
    Sent(Vec<u8>),
}

/// Mutes once connected (so the peer's bytes are all buffered before the first read), logs
/// each delivery and each `sent`, and queues [`MARK`] through its handle at the delivery that
/// brings its first turn to the limit.
struct TurnLog {
    seen: Arc<Mutex<Vec<Seen>>>,
    connected: Arc<Notify>,
    turn_bytes: usize,
    marked: bool,
}

impl TcpConnectionNotify for TurnLog {
    fn connected(&mut self, conn: &mut TcpConnection) {
        conn.mute();
        self.connected.notify_one();
    }
    fn received(&mut self, conn: &mut TcpConnection, data: Vec<u8>, times: usize) -> bool {
        if times == 1 {
            self.turn_bytes = 0;
        }
        self.turn_bytes += data.len();
        let mut seen = self.seen.lock().unwrap_or_else(|e| e.into_inner());
        seen.push(Seen::Received {
            times,
            len: data.len(),
        });
        if !self.marked && self.turn_bytes >= YIELD_AFTER {
            self.marked = true;
            conn.handle().write(MARK);
        }
        true
    }
    fn sent(&mut self, _conn: &mut TcpConnection, data: Bytes) -> Bytes {
        let mut seen = self.seen.lock().unwrap_or_else(|e| e.into_inner());
        seen.push(Seen::Sent(data.to_vec()));
        data
    }
    fn connect_failed(&mut self, _conn: &mut TcpConnection, reason: ConnectFailure) {
        panic!("loopback connect failed: {reason}");
    }
}

#[tokio::test]
async fn r4_on_real_sockets_a_turn_ends_at_the_limit_and_a_message_queued_meanwhile_comes_first() {
    let (listener, port) = local_listener().await;
    let seen = Arc::new(Mutex::new(Vec::new()));
    let connected = Arc::new(Notify::new());
    let notify = TurnLog {
        seen: seen.clone(),
        connected: connected.clone(),
        turn_bytes: 0,
        marked: false,
    };
    let conn = TcpConnection::builder()
        .read_buffer_size(READ_BUFFER)
        .yield_after_reading(YIELD_AFTER)
        .connect(notify, "127.0.0.1", &port);
    let (mut peer, _) = within("accept", listener.accept()).await.expect("accepts");
    // Muted by the time this task runs again: its task handled the mute before it went idle.
    within("connected", connected.notified()).await;
    within("peer writing", peer.write_all(&vec![7u8; SENT]))
        .await
        .expect("peer writes");
    conn.unmute();
    let mut mark = vec![0u8; MARK.len()];
    within("peer reading the mark", peer.read_exact(&mut mark))
        .await
        .expect("peer reads");
    assert_eq!(mark, MARK);
    drop(peer);
    within("connection finished", conn.finished()).await;

    let seen = std::mem::take(&mut *seen.lock().unwrap_or_else(|e| e.into_inner()));
    let mut turns: Vec<usize> = Vec::new();
    let mut last_of_marked_turn = None;
    for (i, event) in seen.iter().enumerate() {
        match *event {
            Seen::Received { times: 1, len } => turns.push(len),
            Seen::Received { times, len } => {
                let in_turn = seen[..i]
                    .iter()
                    .rev()
                    .find_map(|e| match e {
                        Seen::Received { times, .. } => Some(*times),
                        Seen::Sent(_) => None,
                    })
                    .expect("a delivery with times > 1 follows one in its turn");
                assert_eq!(
                    times,
                    in_turn + 1,
                    "times grows by 1 in a turn (R3): {seen:?}"
                );
                *turns.last_mut().expect("a turn under way") += len;
            }
            Seen::Sent(ref data) if data == MARK => {
                last_of_marked_turn = Some(i - 1);
            }
            Seen::Sent(_) => {}
        }
    }
    assert_eq!(
        turns.iter().sum::<usize>(),
        SENT,
        "every byte delivered: {seen:?}"
    );
    assert!(
        turns.iter().all(|&bytes| bytes < YIELD_AFTER + READ_BUFFER),
        "no turn reads on past the limit (R4): {turns:?}"
    );
    assert!(
        turns.iter().filter(|&&bytes| bytes >= YIELD_AFTER).count() >= 2,
        "the buffered bytes took turns that reached the limit, and the next started again at \
         times 1: {turns:?}"
    );
    // The mark, queued at the last delivery of a turn, is handled before the next delivery.
    let last = last_of_marked_turn.expect("the mark was sent");
    assert!(
        matches!(seen[last], Seen::Received { .. }),
        "the mark's `sent` directly follows the delivery that queued it: {seen:?}"
    );
    assert!(
        matches!(seen.get(last + 2), Some(Seen::Received { times: 1, .. })),
        "the next delivery starts a new turn, after the mark: {seen:?}"
    );
}

/// Publishes how much it has received so far.
struct Counter(watch::Sender<u64>);

impl TcpConnectionNotify for Counter {
    fn received(&mut self, _conn: &mut TcpConnection, data: Vec<u8>, _times: usize) -> bool {
        self.0.send_modify(|total| *total += data.len() as u64);
        true
    }
    fn connect_failed(&mut self, _conn: &mut TcpConnection, reason: ConnectFailure) {
        panic!("loopback connect failed: {reason}");
    }
}

/// Tells, at its first delivery, how much the endless reader had received by then.
struct Bystander {
    reader_received: watch::Receiver<u64>,
    ran: Option<oneshot::Sender<u64>>,
}

impl TcpConnectionNotify for Bystander {
    fn received(&mut self, _conn: &mut TcpConnection, _data: Vec<u8>, _times: usize) -> bool {
        if let Some(ran) = self.ran.take() {
            let _ = ran.send(*self.reader_received.borrow());
        }
        true
    }
    fn connect_failed(&mut self, _conn: &mut TcpConnection, reason: ConnectFailure) {
        panic!("loopback connect failed: {reason}");
    }
}

/// A peer on a thread of its own, which the runtime's worker does not have to run: it accepts
/// one connection and writes `chunk` to it, once, or with `endless` until `stop` is set or the
/// connection breaks. Returns its port.
fn peer_thread(chunk: Vec<u8>, endless: bool, stop: Arc<AtomicBool>) -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("binds");
    let port = listener.local_addr().expect("address").port().to_string();
    std::thread::spawn(move || {
        let Ok((mut stream, _)) = listener.accept() else {
            return;
        };
        while stream.write_all(&chunk).is_ok() && endless && !stop.load(Ordering::Relaxed) {}
        // Held open until the connection is disposed, so it ends by the test's doing.
        let _ = std::io::Read::read_to_end(&mut stream, &mut Vec::new());
    });
    port
}

#[tokio::test(flavor = "multi_thread", worker_threads = 1)]
async fn r4_a_connection_reading_without_end_on_one_worker_lets_another_connections_callbacks_run()
{
    const MIB: u64 = 1 << 20;
    let stop = Arc::new(AtomicBool::new(false));
    let (counter, mut reader_received) = watch::channel(0u64);
    let reader = TcpConnection::connect(
        Counter(counter),
        "127.0.0.1",
        &peer_thread(vec![1u8; 64 << 10], true, stop.clone()),
    );
    within(
        "the reader reading",
        reader_received.wait_for(|&n| n >= 4 * MIB),
    )
    .await
    .expect("reads");

    // Connected while the reader reads on, on the same worker: its delivery needs a turn of
    // its own in between the reader's.
    let (ran, bystander_ran) = oneshot::channel();
    let bystander = TcpConnection::connect(
        Bystander {
            reader_received: reader_received.clone(),
            ran: Some(ran),
        },
        "127.0.0.1",
        &peer_thread(b"ping".to_vec(), false, stop.clone()),
    );
    // How much the reader had received when the other connection's delivery ran.
    let when = within("the other connection's delivery", bystander_ran)
        .await
        .expect("delivered");
    // The reader was made to give way, not stopped: it reads on.
    within(
        "the reader reading on",
        reader_received.wait_for(|&n| n >= when + 4 * MIB),
    )
    .await
    .expect("reads on");
    stop.store(true, Ordering::Relaxed);
    reader.dispose();
    bystander.dispose();
    within("the reader finished", reader.finished()).await;
    within("the other connection finished", bystander.finished()).await;
}

/// Notes, at the first delivery of each turn (`times` 1), which poll of its task that was, and
/// tells once every byte of [`SENT`] came.
struct TurnPolls {
    polls: Arc<AtomicUsize>,
    turn_starts: Arc<Mutex<Vec<usize>>>,
    connected: Arc<Notify>,
    received: usize,
    all_came: Option<oneshot::Sender<()>>,
}

impl TcpConnectionNotify for TurnPolls {
    fn connected(&mut self, conn: &mut TcpConnection) {
        conn.mute();
        self.connected.notify_one();
    }
    fn received(&mut self, _conn: &mut TcpConnection, data: Vec<u8>, times: usize) -> bool {
        if times == 1 {
            let poll = self.polls.load(Ordering::Relaxed);
            self.turn_starts
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .push(poll);
        }
        self.received += data.len();
        if self.received >= SENT {
            if let Some(all_came) = self.all_came.take() {
                let _ = all_came.send(());
            }
        }
        true
    }
    fn connect_failed(&mut self, _conn: &mut TcpConnection, reason: ConnectFailure) {
        panic!("loopback connect failed: {reason}");
    }
}

#[tokio::test]
async fn r4_on_tokio_turns_that_reach_the_limit_go_on_in_the_same_poll_of_the_task() {
    let (listener, port) = local_listener().await;
    let polls = Arc::new(AtomicUsize::new(0));
    let turn_starts = Arc::new(Mutex::new(Vec::new()));
    let connected = Arc::new(Notify::new());
    let (all_came, came) = oneshot::channel();
    let notify = TurnPolls {
        polls: polls.clone(),
        turn_starts: turn_starts.clone(),
        connected: connected.clone(),
        received: 0,
        all_came: Some(all_came),
    };
    let (conn, run) = TcpConnection::builder()
        .read_buffer_size(READ_BUFFER)
        .yield_after_reading(YIELD_AFTER)
        .connect_in_task(notify, "127.0.0.1", &port);
    // The connection's task, counting its polls.
    let mut run = Box::pin(run);
    let counted = polls.clone();
    let task = tokio::spawn(std::future::poll_fn(move |cx| {
        counted.fetch_add(1, Ordering::Relaxed);
        run.as_mut().poll(cx)
    }));
    let (mut peer, _) = within("accept", listener.accept()).await.expect("accepts");
    within("connected", connected.notified()).await;
    // Three turns' worth, all buffered before the connection reads (it is muted).
    within("peer writing", peer.write_all(&vec![7u8; SENT]))
        .await
        .expect("peer writes");
    conn.unmute();
    within("every byte delivered", came)
        .await
        .expect("delivered");
    let starts = std::mem::take(&mut *turn_starts.lock().unwrap_or_else(|e| e.into_inner()));
    assert!(
        starts.len() >= 3,
        "the bytes took three turns that reached the limit (R4): {starts:?}"
    );
    // Going back to the runtime at each limit, every turn would start in a poll of its own.
    assert!(
        starts.windows(2).any(|pair| pair[0] == pair[1]),
        "a turn that reached the limit went on in the same poll: turns started in polls \
         {starts:?}"
    );
    drop(peer);
    within("connection finished", conn.finished()).await;
    within("task ended", task).await.expect("task");
}
