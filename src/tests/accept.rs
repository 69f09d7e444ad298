//! Accept rules A1–A2: a server-side connection starts with `accepted`, after the listener's
//! `connected`.

use super::harness::{addr, server, Conn, ListenScript, Log, Script, Wire, NOTHING};
use crate::proto::ConnectFailure;
use crate::proto::ConnectionConfig;
use crate::proto::ListenerMachine;
use crate::proto::{Phase, Role};

#[test]
fn a1_accepted_is_the_first_callback_and_reading_starts_in_the_same_turn() {
    let log = Log::new();
    let mut conn = server(Script::new(&log));
    conn.wire.push("hello");
    assert_eq!(conn.phase(), Phase::New);
    conn.accept();
    assert_eq!(log.take(), ["accepted", "received(\"hello\", 1)"]);
    assert_eq!(conn.phase(), Phase::Open);
    assert_eq!(conn.connection().role(), Role::Server);
}

#[test]
fn a1_client_events_on_an_accepted_connection_cause_no_client_callback() {
    let log = Log::new();
    let mut conn = server(Script::new(&log));
    conn.accept();
    assert_eq!(log.take(), ["accepted"]);

    conn.machine().handle_resolved(Ok(vec![addr(1)]));
    assert!(conn.dialled().is_empty());
    conn.machine()
        .handle_attempt_failed(ConnectFailure::Refused);
    let other = Wire::new(2);
    assert!(conn
        .machine()
        .handle_attempt_connected(other.transport())
        .is_err());
    assert!(other.is_dropped());
    conn.handle.dispose();
    conn.messages();

    assert!(!conn.machine().is_connecting());
    assert_eq!(log.take(), NOTHING);
    assert_eq!(conn.phase(), Phase::Closing { write_shut: true });
}

#[test]
fn a1_hard_close_inside_accepted_gives_closed_never_connect_failed() {
    let log = Log::new();
    let mut conn = server(Script::new(&log).on_accepted(|conn| conn.hard_close()));
    conn.wire.push("never read");
    conn.accept();
    assert_eq!(log.take(), ["accepted", "closed"]);
    assert_eq!(conn.phase(), Phase::Closed);
    assert_eq!(conn.wire.unread(), 1);
    assert!(conn.wire.is_dropped());
}

#[test]
fn a2_listener_connected_comes_before_the_connections_accepted() {
    let log = Log::new();
    let mut listener =
        ListenerMachine::new(Box::new(ListenScript::new(&log)), 0, Default::default());
    listener.handle_bound(Ok(addr(80)));
    let notify = listener.handle_accepted().expect("the factory accepts");
    assert_eq!(log.lines(), ["listening", "listener.connected"]);

    let mut conn = Conn::new_server(notify, ConnectionConfig::default(), &log);
    conn.wire.push("hi");
    conn.accept();
    assert_eq!(
        log.take(),
        [
            "listening",
            "listener.connected",
            "conn:accepted",
            "conn:received(\"hi\", 1)"
        ]
    );
}
