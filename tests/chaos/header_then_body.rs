//! A protocol whose framing changes mid-stream: each upload is a text header line,
//! `PUT <n>\n`, read in line mode (`expect(0)`, lines split off a buffer of its own), then an
//! `n`-byte binary body read with `expect(n)`; then line mode again. The bug: when the header
//! line is complete the server switches to `expect(n)` and throws away what its buffer holds
//! after the newline, as if the connection would deliver those bytes again under the new
//! framing. They were already delivered; `expect` frames only what is still unread (R2). On a
//! quiet network each write arrives in a delivery of its own and the buffer holds nothing
//! after the newline; when reads join the header to the start of its body, the server loses
//! those bytes and waits forever for a body that is short.

use crate::support::{assert_caught, assert_fix_passes, assert_fix_passes_many};
use tcpnotify::{ConnectFailure, TcpConnection, TcpConnectionNotify};
use tcpnotify_sim::fault::Swarm;
use tcpnotify_sim::notifiers::pattern;
use tcpnotify_sim::{factory, run_passing, run_state, FaultPlan, Scenario, Seed};

/// Body sizes of the uploads, in order.
const BODIES: [usize; 4] = [300, 1500, 40, 5000];

/// Uploads the server stored whole, in the run's shared state.
#[derive(Debug, Default)]
struct Stored(Vec<usize>);

/// Splits the first line (without its `\n`) off `buffer`.
fn take_line(buffer: &mut Vec<u8>) -> Option<String> {
    let end = buffer.iter().position(|b| *b == b'\n')?;
    let line: Vec<u8> = buffer.drain(..=end).collect();
    Some(String::from_utf8_lossy(&line[..end]).into_owned())
}

/// The storage server. `keeps_leftover` is the fix: bytes after the header line are the
/// body's first bytes.
struct Storage {
    keeps_leftover: bool,
    /// Line mode: bytes of a header line not yet complete.
    line: Vec<u8>,
    /// Body mode: the body's size and what has arrived of it.
    body: Option<(usize, Vec<u8>)>,
}

impl Storage {
    fn new(keeps_leftover: bool) -> Self {
        Storage {
            keeps_leftover,
            line: Vec::new(),
            body: None,
        }
    }

    /// Stores a whole body and answers.
    fn store(conn: &mut TcpConnection, body: &[u8]) {
        if body != pattern(0, body.len()) {
            conn.hard_close();
            return;
        }
        if let Some(stored) = run_state::<Stored>() {
            stored.lock().0.push(body.len());
        }
        conn.write(format!("OK {}\n", body.len()));
    }

    /// Line mode: handles every header in the buffer, switching to body mode for each.
    fn lines(&mut self, conn: &mut TcpConnection) {
        while let Some(header) = take_line(&mut self.line) {
            let Some(n) = header
                .strip_prefix("PUT ")
                .and_then(|n| n.parse::<usize>().ok())
            else {
                conn.hard_close();
                return;
            };
            if !self.keeps_leftover {
                // The bug: "the connection delivers the rest again, framed".
                self.line.clear();
                self.body = Some((n, Vec::new()));
                let _ = conn.expect(n);
                return;
            }
            let have = n.min(self.line.len());
            let first: Vec<u8> = self.line.drain(..have).collect();
            if first.len() == n {
                Self::store(conn, &first);
                continue;
            }
            self.body = Some((n, first));
            let _ = conn.expect(n - have);
            return;
        }
    }
}

impl TcpConnectionNotify for Storage {
    fn received(&mut self, conn: &mut TcpConnection, data: Vec<u8>, _times: usize) -> bool {
        match self.body.take() {
            Some((n, mut body)) => {
                body.extend_from_slice(&data);
                if body.len() < n {
                    self.body = Some((n, body));
                    return true;
                }
                Self::store(conn, &body);
                let _ = conn.expect(0);
                self.lines(conn);
            }
            None => {
                self.line.extend_from_slice(&data);
                self.lines(conn);
            }
        }
        true
    }
    fn connect_failed(&mut self, _conn: &mut TcpConnection, _reason: ConnectFailure) {}
}

/// Uploads each body in turn (header and body as two writes), waits for its `OK`, and closes
/// after the last.
#[derive(Default)]
struct Uploader {
    next: usize,
    replies: Vec<u8>,
}

impl Uploader {
    fn upload(&mut self, conn: &mut TcpConnection) {
        let n = BODIES[self.next];
        conn.write(format!("PUT {n}\n"));
        conn.write(pattern(0, n));
    }
}

impl TcpConnectionNotify for Uploader {
    fn connected(&mut self, conn: &mut TcpConnection) {
        self.upload(conn);
    }
    fn received(&mut self, conn: &mut TcpConnection, data: Vec<u8>, _times: usize) -> bool {
        self.replies.extend_from_slice(&data);
        while let Some(reply) = take_line(&mut self.replies) {
            if reply != format!("OK {}", BODIES[self.next]) {
                conn.hard_close();
                return true;
            }
            self.next += 1;
            if self.next == BODIES.len() {
                conn.close();
                return true;
            }
            self.upload(conn);
        }
        true
    }
    fn connect_failed(&mut self, _conn: &mut TcpConnection, _reason: ConnectFailure) {}
}

fn storage(keeps_leftover: bool) -> Scenario {
    Scenario::new("header-then-body")
        .listener(
            "storage",
            "storage",
            7000,
            factory(move || Storage::new(keeps_leftover)),
        )
        .client("c1", "client", "storage", 7000, factory(Uploader::default))
        .duration_ms(3000)
        // The client does not reconnect: the swarm must not draw faults that lose its
        // connection, which the expectations (none but `finished`) would allow.
        .faults(Swarm::lost_connections(false))
        .eventually("every-upload-stored", |run| {
            let stored = run.state::<Stored>().map(|s| s.lock().0.clone());
            let stored = stored.unwrap_or_default();
            match stored == BODIES {
                true => Ok(()),
                false => Err(format!("stored {stored:?} of {BODIES:?}")),
            }
        })
}

/// The bug hides on a quiet network: no delivery holds more than its header line.
#[test]
fn header_then_body_passes_on_a_quiet_network() {
    run_passing(&storage(false).plan(FaultPlan::quiet(Seed(1))), Seed(1));
}

/// R2: bytes after the header line, delivered with it, are lost when the server switches to
/// `expect(n)`; the swarm catches the stalled upload; the server that keeps them passes.
#[test]
fn header_then_body_dropping_the_leftover_is_caught_and_shrunk() {
    let failure = assert_caught(&storage(false), "finished");
    assert!(
        failure.shrunk.plan.read_chunks.is_some(),
        "the failure needs a read that joins a header to its body:\n{failure}"
    );
    assert_fix_passes(storage(true), &failure);
}

/// The fixed server passes many seeds (`TCPNOTIFY_SEEDS` sweeps more).
#[test]
fn header_then_body_keeping_the_leftover_passes_many_seeds() {
    assert_fix_passes_many(storage(true));
}
