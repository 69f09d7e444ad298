//! Notifiers that dial, and listeners with a listen notifier of their own, in scenarios: the
//! dialled connection is named after its family (`c1~1`, `server~1`), traced like the others
//! (a `dials` note on the dialler, then its own callbacks), and a run does not end while one
//! is live.

use crate::support::callbacks_of;
use tcpnotify::{ConnectFailure, TcpConnection, TcpConnectionNotify, TcpListenNotify, TcpListener};
use tcpnotify_sim::notifiers::{Echo, Sender};
use tcpnotify_sim::run::{Ended, EventKind};
use tcpnotify_sim::scenario::{factory, listen_factory, Scenario};
use tcpnotify_sim::{run_passing, seed_or};

/// Refused by its target, it dials `server` with a sender of `hello`.
struct Redial;

impl TcpConnectionNotify for Redial {
    fn connect_failed(&mut self, conn: &mut TcpConnection, _reason: ConnectFailure) {
        conn.dial(Sender::new(b"hello".to_vec()), "server", "7000");
    }
}

/// The notes of `who` in the run's trace.
fn notes_of(outcome: &tcpnotify_sim::run::RunOutcome, who: &str) -> Vec<String> {
    (outcome.trace.events().into_iter())
        .filter(|e| e.who == who)
        .filter_map(|e| match e.kind {
            EventKind::Note { text } => Some(text),
            _ => None,
        })
        .collect()
}

#[test]
fn a_client_dials_from_connect_failed_and_the_run_waits_for_the_dialled_connection() {
    let scenario = Scenario::new("redial")
        .host("dead")
        .listener("server", "server", 7000, factory(|| Echo))
        .client("c1", "client", "dead", 7000, factory(|| Redial));
    let outcome = run_passing(&scenario, seed_or(1));
    assert_eq!(
        callbacks_of(&outcome, "c1"),
        [
            "proxy_via(dead, 7000)",
            "connecting(1)",
            "connect_failed(refused)"
        ]
    );
    assert_eq!(notes_of(&outcome, "c1"), ["dials c1~1 to server:7000"]);
    let dialled = callbacks_of(&outcome, "c1~1");
    assert_eq!(
        dialled.first().map(String::as_str),
        Some("proxy_via(server, 7000)")
    );
    assert!(dialled.iter().any(|c| c == "connected"), "{dialled:?}");
    assert_eq!(
        dialled.last().map(String::as_str),
        Some("closed"),
        "{dialled:?}"
    );
    // c1 finished at once; the run ended only once its dialled connection had closed too.
    assert_eq!(outcome.ended, Ended::AllFinished);
}

/// Accepts `accept` peers with an echo, then rejects the rest; dials `server` from
/// `listening` to announce itself.
struct Gate {
    accept: usize,
}

impl TcpListenNotify for Gate {
    fn listening(&mut self, listener: &mut TcpListener) {
        listener.dial(Sender::new(b"up".to_vec()), "server", "7000");
    }
    fn connected(&mut self, _listener: &mut TcpListener) -> Option<Box<dyn TcpConnectionNotify>> {
        self.accept = self.accept.checked_sub(1)?;
        Some(Box::new(Echo))
    }
    fn not_listening(&mut self, _listener: &mut TcpListener) {}
}

#[test]
fn a_listen_notifier_of_a_scenario_rejects_peers_and_dials_from_listening() {
    let scenario = Scenario::new("gate")
        .listener("server", "server", 7000, factory(|| Echo))
        .listener_with("gate", "gate", 7000, listen_factory(|| Gate { accept: 1 }))
        .client(
            "c1",
            "client",
            "gate",
            7000,
            factory(|| Sender::new(b"a".to_vec())),
        )
        .client(
            "c2",
            "client",
            "gate",
            7000,
            factory(|| Sender::new(b"b".to_vec())),
        )
        .starting_at(50);
    let outcome = tcpnotify_sim::run::run(&scenario, &scenario.plan_for(seed_or(1)))
        .expect("the scenario runs");
    let gate = callbacks_of(&outcome, "gate");
    assert_eq!(
        gate.iter()
            .filter(|c| c.starts_with("listener.connected"))
            .count(),
        2,
        "{gate:?}"
    );
    assert_eq!(notes_of(&outcome, "gate"), ["dials gate~1 to server:7000"]);
    let announcer = callbacks_of(&outcome, "gate~1");
    assert!(announcer.iter().any(|c| c == "connected"), "{announcer:?}");
    // The rejected peer is closed at once, so c2 never gets its echo.
    let c2 = callbacks_of(&outcome, "c2");
    assert!(!c2.iter().any(|c| c.starts_with("received")), "{c2:?}");
    assert!(callbacks_of(&outcome, "c1")
        .iter()
        .any(|c| c.starts_with("received")));
}
