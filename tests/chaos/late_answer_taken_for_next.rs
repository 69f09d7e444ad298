//! A client that takes an answer which comes after its question's deadline for the answer to
//! the question it asked next. Its session with the server: a feed of 25 ticks, one every
//! 100 ms, each acknowledged; then 10 questions on the same connection, one every 200 ms:
//! a question not answered before the next is asked counts as unanswered (its deadline). A
//! lost connection is dialled again, and the feed and the questions go on from where they
//! were. Answers carry their question's number. The bug: the client records an answer as
//! the answer to the question it asked last, its number unread, so an answer held past its
//! deadline is recorded as the next question's (`answers-right`). The fix drops an
//! answer to any question but the last asked.
//!
//! Only an answer held past its deadline shows it, and only a partition holds one without
//! losing the connection (a reset or a crash loses the answer with it, and the redial is a
//! fresh connection). The questions start two and a half seconds into the session, after the
//! client's first events (which the swarm timed partitions by), and after every partition so
//! timed has healed.

use crate::support::{assert_caught, assert_fix_passes_many, assert_plan_catches, fault_after};
use std::time::Duration;
use tcpnotify::{ConnectFailure, TcpConnection, TcpConnectionNotify};
use tcpnotify_sim::fault::{FaultKind, FaultPlan};
use tcpnotify_sim::run::SharedState;
use tcpnotify_sim::{factory, run_passing, run_state, Scenario, Seed};

/// Ticks of the feed, one every [`TICK_MS`].
const TICKS: u64 = 25;
const TICK_MS: u64 = 100;
/// Questions asked after the feed, one every [`DEADLINE_MS`].
const QUESTIONS: u64 = 10;
const DEADLINE_MS: u64 = 200;
/// A bound on the dials of a run that keeps failing, far above what any drawn fault takes
/// to heal.
const MAX_DIALS: u32 = 10_000;

/// The right answer to question `q`.
fn answer(q: u64) -> u64 {
    q * 1000 + 7
}

/// A message of the server: a tick (number 0) or the answer to question `number`.
fn message(number: u64, value: u64) -> Vec<u8> {
    [number.to_be_bytes(), value.to_be_bytes()].concat()
}

/// A number as the client writes it: 0 acknowledges a tick, any other asks that question.
fn number(data: &[u8]) -> u64 {
    u64::from_be_bytes(data.try_into().unwrap_or_default())
}

/// The client's session across its connections (the run's state).
#[derive(Debug, Default)]
struct Session {
    ticks: u64,
    /// The last question asked (0: none yet).
    asked: u64,
    /// Each answer recorded: the question it was recorded for, and the answer.
    answers: Vec<(u64, u64)>,
    done: bool,
    dials: u32,
}

/// The server's end: the feed of ticks, from a task of its own, and an answer to each
/// question.
struct Oracle;

impl TcpConnectionNotify for Oracle {
    fn accepted(&mut self, conn: &mut TcpConnection) {
        let _ = conn.expect(8);
        let handle = conn.handle();
        tokio::spawn(async move {
            for tick in 1..=TICKS {
                tokio::time::sleep(Duration::from_millis(TICK_MS)).await;
                if handle.is_finished() {
                    return;
                }
                handle.write(message(0, tick));
            }
        });
    }
    fn received(&mut self, conn: &mut TcpConnection, data: Vec<u8>, _times: usize) -> bool {
        let q = number(&data);
        if q != 0 {
            conn.write(message(q, answer(q)));
        }
        true
    }
    fn connect_failed(&mut self, _conn: &mut TcpConnection, _reason: ConnectFailure) {}
}

/// The run's session; asked from callbacks, which run inside the run.
fn shared() -> SharedState<Session> {
    run_state::<Session>().expect("a simulated run")
}

/// The client's end of one connection of the session.
struct Asker {
    /// Whether an answer is checked against the question asked last (the fix).
    fixed: bool,
    asking: bool,
}

impl Asker {
    fn new(fixed: bool) -> Self {
        Asker {
            fixed,
            asking: false,
        }
    }

    /// Once the feed is over, asks the remaining questions from a task, one every
    /// [`DEADLINE_MS`], then disposes of the connection.
    fn ask_when_fed(&mut self, conn: &mut TcpConnection) {
        let session = shared();
        if self.asking || session.lock().ticks < TICKS {
            return;
        }
        self.asking = true;
        let handle = conn.handle();
        tokio::spawn(async move {
            loop {
                if handle.is_finished() {
                    return;
                }
                let q = {
                    let mut session = session.lock();
                    if session.asked == QUESTIONS {
                        session.done = true;
                        break;
                    }
                    session.asked += 1;
                    session.asked
                };
                handle.write(q.to_be_bytes().to_vec());
                tokio::time::sleep(Duration::from_millis(DEADLINE_MS)).await;
            }
            handle.dispose();
        });
    }

    fn again(&self, conn: &mut TcpConnection) {
        let session = shared();
        let mut session = session.lock();
        if session.done || session.dials >= MAX_DIALS {
            return;
        }
        session.dials += 1;
        drop(session);
        conn.dial(Asker::new(self.fixed), "server", "7000");
    }
}

impl TcpConnectionNotify for Asker {
    fn connected(&mut self, conn: &mut TcpConnection) {
        let _ = conn.expect(16);
        self.ask_when_fed(conn);
    }
    fn received(&mut self, conn: &mut TcpConnection, data: Vec<u8>, _times: usize) -> bool {
        let (q, value) = data.split_at(8);
        match number(q) {
            0 => {
                shared().lock().ticks += 1;
                conn.write(0u64.to_be_bytes().to_vec());
                self.ask_when_fed(conn);
            }
            q => {
                let session = shared();
                let mut session = session.lock();
                let asked = session.asked;
                // The bug: without the check, an answer is taken for the last question.
                if !self.fixed || q == asked {
                    session.answers.push((asked, number(value)));
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

pub(crate) fn session(fixed: bool) -> Scenario {
    Scenario::new("late-answer-taken-for-next")
        .listener("oracle", "server", 7000, factory(|| Oracle))
        .client(
            "c1",
            "client",
            "server",
            7000,
            factory(move || Asker::new(fixed)),
        )
        .duration_ms(8000)
        .property("answers-right", |run| {
            let session = run.state::<Session>().expect("the session");
            let session = session.lock();
            match session.answers.iter().find(|(q, v)| *v != answer(*q)) {
                Some((q, v)) => Err(format!("question {q} recorded answer {v}")),
                None => Ok(()),
            }
        })
        .eventually("all-asked", |run| {
            match run.state::<Session>().is_some_and(|s| s.lock().done) {
                true => Ok(()),
                false => Err("the client never asked its last question".to_string()),
            }
        })
}

/// The bug hides on a quiet network: every answer comes in time.
#[test]
fn late_answer_taken_for_next_passes_on_a_quiet_network() {
    run_passing(&session(false).plan(FaultPlan::quiet(Seed(1))), Seed(1));
}

/// A partition of 300 ms as the client asks its first question (its 26th `sent`, after 25
/// acknowledgements) holds the answer past the deadline.
#[test]
fn late_answer_taken_for_next_is_caught_by_a_partition_by_hand() {
    let mut plan = FaultPlan::quiet(Seed(1));
    let cut = FaultKind::Partition {
        a: "client".into(),
        b: "server".into(),
        duration_ms: 300,
        one_way: false,
    };
    plan.faults = vec![fault_after("c1", "sent", 26, cut)];
    assert_plan_catches(&session(false), &session(true), &plan, "answers-right");
}

/// The swarm with no settings catches it with a partition timed later in the session.
#[test]
fn late_answer_taken_for_next_is_caught_by_the_swarm() {
    assert_caught(&session(false), "answers-right");
}

/// An answer to an earlier question dropped passes the swarm (`TCPNOTIFY_SEEDS` sweeps more).
#[test]
fn late_answer_checked_passes_many_seeds() {
    assert_fix_passes_many(session(true));
}
