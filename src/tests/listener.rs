//! Listener rules N1–N4: how bind results, accepts, closes and the connection limit turn into
//! `TcpListenNotify` callbacks.

use super::harness::{addr, Conn, ListenScript, Log, Script, NOTHING};
use crate::proto::ConnectionConfig;
use crate::proto::TcpConnectionNotify;
use crate::proto::{BindError, ListenerMachine, ListenerState, TcpListener};
use std::io::{self, ErrorKind};

fn listener(script: ListenScript, limit: usize) -> ListenerMachine {
    ListenerMachine::new(Box::new(script), limit, Default::default())
}

/// A factory that notes the listener's count and pause state on each `connected`, then
/// accepts with a `Script` named `conn`.
fn noting_factory(
    log: &Log,
) -> impl FnMut(&mut TcpListener) -> Option<Box<dyn TcpConnectionNotify>> + Send + 'static {
    let log = log.clone();
    move |listener| {
        log.push(format!(
            "live {} of {}, paused {}",
            listener.live_connections(),
            listener.limit(),
            listener.is_paused()
        ));
        Some(Box::new(Script::named(&log, "conn")))
    }
}

#[test]
fn n1_listening_comes_first_and_alone_when_the_bind_succeeds() {
    let log = Log::new();
    let notes = log.clone();
    let mut machine = listener(
        ListenScript::new(&log).on_listening(move |listener| {
            notes.push(format!("{}", listener.state()));
            assert_eq!(listener.local_address(), Some(addr(8080)));
        }),
        0,
    );
    assert_eq!(machine.state(), &ListenerState::Binding);
    assert!(!machine.wants_accept());
    machine.handle_bound(Ok(addr(8080)));
    assert_eq!(log.take(), ["listening", "listening on 127.0.0.1:8080"]);
    assert_eq!(machine.state(), &ListenerState::Listening(addr(8080)));
    assert!(machine.is_listening());
    assert!(machine.wants_accept());
}

#[test]
fn n1_not_listening_comes_first_and_alone_when_the_bind_fails() {
    let log = Log::new();
    let mut machine = listener(ListenScript::new(&log), 0);
    machine.handle_bound(Err(io::Error::new(ErrorKind::AddrInUse, "address in use")));
    assert_eq!(log.take(), ["not_listening"]);
    assert_eq!(
        machine.state(),
        &ListenerState::NotListening(BindError {
            kind: ErrorKind::AddrInUse,
            message: "address in use".to_string()
        })
    );
    assert!(!machine.is_listening());
    assert!(!machine.wants_accept());
}

#[test]
fn n2_closed_fires_once_however_often_the_listener_is_closed() {
    let log = Log::new();
    let mut machine = listener(
        ListenScript::new(&log).on_closed(|listener| listener.close()),
        0,
    );
    machine.handle_bound(Ok(addr(80)));
    machine.handle_dispose();
    machine.handle_dispose();
    assert_eq!(log.take(), ["listening", "listener.closed"]);
    assert_eq!(machine.state(), &ListenerState::Closed);
    assert!(!machine.wants_accept());

    // Connections accepted earlier may still close; that revives nothing.
    machine.handle_connection_closed();
    machine.handle_dispose();
    assert_eq!(log.take(), NOTHING);
    assert_eq!(machine.state(), &ListenerState::Closed);
}

#[test]
fn n2_never_closed_after_not_listening() {
    let log = Log::new();
    let mut machine = listener(ListenScript::new(&log), 0);
    machine.handle_dispose();
    machine.handle_bound(Err(io::Error::new(ErrorKind::PermissionDenied, "denied")));
    machine.handle_dispose();
    assert_eq!(log.take(), ["not_listening"]);
    assert_eq!(
        machine.state(),
        &ListenerState::NotListening(BindError {
            kind: ErrorKind::PermissionDenied,
            message: "denied".to_string()
        })
    );
}

#[test]
fn n2_close_inside_listening_fires_closed_right_after_listening_returns() {
    let log = Log::new();
    let notes = log.clone();
    let mut machine = listener(
        ListenScript::new(&log).on_listening(move |listener| {
            listener.close();
            notes.push(format!("after close: {}", listener.state()));
        }),
        0,
    );
    machine.handle_bound(Ok(addr(80)));
    assert_eq!(
        log.take(),
        [
            "listening",
            "after close: listening on 127.0.0.1:80",
            "listener.closed"
        ]
    );
    assert!(!machine.wants_accept());
}

#[test]
fn n2_a_close_before_the_bind_finished_closes_right_after_listening() {
    let log = Log::new();
    let mut machine = listener(ListenScript::new(&log), 0);
    machine.handle_dispose();
    assert_eq!(log.take(), NOTHING);
    assert_eq!(machine.state(), &ListenerState::Binding);
    machine.handle_bound(Ok(addr(80)));
    assert_eq!(log.take(), ["listening", "listener.closed"]);
    assert_eq!(machine.state(), &ListenerState::Closed);
}

#[test]
fn n2_close_inside_connected_still_hands_out_that_connections_notifier() {
    let log = Log::new();
    let conn_log = log.clone();
    let mut machine = listener(
        ListenScript::new(&log).factory(move |listener| {
            listener.close();
            Some(Box::new(Script::named(&conn_log, "conn")))
        }),
        0,
    );
    machine.handle_bound(Ok(addr(80)));
    let notify = machine.handle_accepted().expect("the factory accepted");
    assert_eq!(
        log.take(),
        ["listening", "listener.connected", "listener.closed"]
    );
    assert!(!machine.wants_accept());

    let mut conn = Conn::new_server(notify, ConnectionConfig::default(), &log);
    conn.accept();
    assert_eq!(conn.log.take(), ["conn:accepted"]);
}

#[test]
fn n3_at_the_limit_the_listener_stops_accepting_and_resumes_as_connections_close() {
    let log = Log::new();
    let mut machine = listener(ListenScript::new(&log).factory(noting_factory(&log)), 2);
    machine.handle_bound(Ok(addr(80)));
    assert!(machine.wants_accept());
    assert!(machine.handle_accepted().is_some());
    assert!(machine.wants_accept());
    assert!(machine.handle_accepted().is_some());
    assert!(!machine.wants_accept());

    machine.handle_connection_closed();
    assert!(machine.wants_accept());
    assert!(machine.handle_accepted().is_some());
    assert!(!machine.wants_accept());

    machine.handle_connection_closed();
    machine.handle_connection_closed();
    assert!(machine.wants_accept());
    assert!(machine.handle_accepted().is_some());
    assert_eq!(
        log.take(),
        [
            "listening",
            "listener.connected",
            "live 0 of 2, paused false",
            "listener.connected",
            "live 1 of 2, paused false",
            "listener.connected",
            "live 1 of 2, paused false",
            "listener.connected",
            "live 0 of 2, paused false"
        ]
    );
}

#[test]
fn n3_rejected_connections_do_not_count_against_the_limit() {
    let log = Log::new();
    let conn_log = log.clone();
    let mut offers = 0;
    let mut machine = listener(
        ListenScript::new(&log).factory(move |listener| {
            offers += 1;
            conn_log.push(format!("live {}", listener.live_connections()));
            if offers < 3 {
                None
            } else {
                Some(Box::new(Script::named(&conn_log, "conn")))
            }
        }),
        1,
    );
    machine.handle_bound(Ok(addr(80)));
    assert!(machine.handle_accepted().is_none());
    assert!(machine.handle_accepted().is_none());
    assert!(machine.wants_accept());
    assert!(machine.handle_accepted().is_some());
    assert!(!machine.wants_accept());
    assert_eq!(
        log.take(),
        [
            "listening",
            "listener.connected",
            "live 0",
            "listener.connected",
            "live 0",
            "listener.connected",
            "live 0"
        ]
    );
}

#[test]
fn n3_limit_0_is_unlimited() {
    let log = Log::new();
    let mut machine = listener(ListenScript::new(&log), 0);
    machine.handle_bound(Ok(addr(80)));
    for _ in 0..100 {
        assert!(machine.wants_accept());
        assert!(machine.handle_accepted().is_some());
    }
    assert!(machine.wants_accept());
    let lines = log.take();
    assert_eq!(lines.len(), 101);
    assert!(lines[1..].iter().all(|l| l == "listener.connected"));
}

#[test]
fn n4_each_notifier_from_connected_yields_exactly_one_accepted_and_none_yields_none() {
    let log = Log::new();
    let conn_log = log.clone();
    let mut offered = 0;
    let mut machine = listener(
        ListenScript::new(&log).factory(move |_| {
            offered += 1;
            (offered % 2 == 1).then(|| {
                Box::new(Script::named(&conn_log, &format!("c{offered}")))
                    as Box<dyn TcpConnectionNotify>
            })
        }),
        0,
    );
    machine.handle_bound(Ok(addr(80)));
    let mut conns = Vec::new();
    for _ in 0..4 {
        if let Some(notify) = machine.handle_accepted() {
            let mut conn = Conn::new_server(notify, ConnectionConfig::default(), &log);
            conn.wire.push("hi").push_eof();
            conn.accept();
            conns.push(conn);
        }
    }
    assert_eq!(conns.len(), 2);
    for conn in &mut conns {
        conn.drive();
        assert!(conn.machine().is_finished());
    }
    assert_eq!(
        log.take(),
        [
            "listening",
            "listener.connected",
            "c1:accepted",
            "c1:received(\"hi\", 1)",
            "c1:closed",
            "listener.connected",
            "listener.connected",
            "c3:accepted",
            "c3:received(\"hi\", 1)",
            "c3:closed",
            "listener.connected"
        ]
    );
}
