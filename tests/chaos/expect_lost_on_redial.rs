//! `expect` taken for a setting of the notifier rather than of the connection. A client
//! exchanges length-prefixed frames with `FramedEcho`, reading each echo with `expect(4)` for
//! the header and `expect(n)` for the body. It sets `expect(4)` in `connected` once, guarded
//! by a flag, and when its connection is lost it dials again (`conn.dial` from `closed` or
//! `connect_failed`) with a notifier carrying its state — the flag too. But `expect` belongs
//! to the connection: a new one starts at `expect(0)` (the connection defaults), so after a
//! redial the client reads arbitrary chunks as headers. On a quiet network no connection is
//! lost; the fix calls `expect(4)` in every `connected`.

use crate::support::{assert_caught, assert_fix_passes, assert_fix_passes_many};
use tcpnotify::{ConnectFailure, TcpConnection, TcpConnectionNotify};
use tcpnotify_sim::fault::FaultPlan;
use tcpnotify_sim::notifiers::{frame, frame_len, pattern, FramedEcho};
use tcpnotify_sim::{always, factory, run_passing, run_state, Scenario, Seed};

const FRAMES: usize = 12;
const MAX_ATTEMPTS: u32 = 10_000;

fn body(i: usize) -> Vec<u8> {
    pattern(i * 97, 100 + 61 * i)
}

/// Frames echoed so far, over every connection; dials so far.
#[derive(Debug, Default)]
struct Done {
    frames: usize,
    attempts: u32,
}

#[derive(Clone)]
struct Client {
    /// Whether `expect(4)` was set (the bug: carried to the next connection).
    framed: bool,
    /// Length of the body being read, after its header.
    body: Option<usize>,
    /// The fix: `expect(4)` in every `connected`.
    fixed: bool,
}

impl Client {
    fn new(fixed: bool) -> Self {
        Client {
            framed: false,
            body: None,
            fixed,
        }
    }

    fn send_next(conn: &mut TcpConnection) {
        let Some(done) = run_state::<Done>() else {
            return;
        };
        let next = done.lock().frames;
        if next >= FRAMES {
            conn.close();
        } else {
            conn.write(frame(&body(next)));
        }
    }

    fn again(&self, conn: &mut TcpConnection) {
        let Some(done) = run_state::<Done>() else {
            return;
        };
        let mut done = done.lock();
        if done.frames >= FRAMES || done.attempts >= MAX_ATTEMPTS {
            return;
        }
        done.attempts += 1;
        let mut next = self.clone();
        next.body = None;
        if self.fixed {
            next.framed = false;
        }
        conn.dial(next, "server", "7000");
    }
}

impl TcpConnectionNotify for Client {
    fn connected(&mut self, conn: &mut TcpConnection) {
        if !self.framed {
            let _ = conn.expect(4);
            self.framed = true;
        }
        Self::send_next(conn);
    }
    fn received(&mut self, conn: &mut TcpConnection, data: Vec<u8>, _times: usize) -> bool {
        match self.body.take() {
            None => {
                let len = frame_len(&data);
                if len == 0 || conn.expect(len).is_err() {
                    always(
                        "a frame header",
                        false,
                        format_args!("{} bytes read as a header", data.len()),
                    );
                    conn.hard_close();
                    return true;
                }
                self.body = Some(len);
            }
            Some(_) => {
                let _ = conn.expect(4);
                let Some(done) = run_state::<Done>() else {
                    return true;
                };
                let ok = {
                    let mut done = done.lock();
                    let ok = done.frames < FRAMES && data == body(done.frames);
                    always(
                        "echo is the frame sent",
                        ok,
                        format_args!("frame {}", done.frames),
                    );
                    done.frames += 1;
                    ok
                };
                if ok {
                    Self::send_next(conn);
                }
            }
        }
        true
    }
    fn closed(&mut self, conn: &mut TcpConnection) {
        self.again(conn);
    }
    fn connect_failed(&mut self, conn: &mut TcpConnection, _reason: ConnectFailure) {
        self.again(conn);
    }
}

fn exchange(fixed: bool) -> Scenario {
    Scenario::new("expect-lost-on-redial")
        .listener("server", "server", 7000, factory(FramedEcho::new))
        .client(
            "c1",
            "client",
            "server",
            7000,
            factory(move || Client::new(fixed)),
        )
        .duration_ms(4000)
        .eventually("all-frames-echoed", |run| {
            let frames = run.state::<Done>().map_or(0, |d| d.lock().frames);
            match frames == FRAMES {
                true => Ok(()),
                false => Err(format!("{frames} of {FRAMES} frames echoed")),
            }
        })
}

/// The bug hides on a quiet network: the first connection does all the work.
#[test]
fn expect_lost_on_redial_passes_on_a_quiet_network() {
    run_passing(&exchange(false).plan(FaultPlan::quiet(Seed(1))), Seed(1));
}

/// R1 and the connection defaults: a redialled connection starts at `expect(0)`; the swarm
/// catches the client that carried its flag over; the client that sets it again passes.
#[test]
fn expect_lost_on_redial_is_caught_and_shrunk() {
    let failure = assert_caught(&exchange(false), "a frame header");
    assert_fix_passes(exchange(true), &failure);
}

/// The fixed client passes many seeds (`TCPNOTIFY_SEEDS` sweeps more).
#[test]
fn expect_every_connection_passes_many_seeds() {
    assert_fix_passes_many(exchange(true));
}
