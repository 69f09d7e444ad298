//! The notifier traits' defaults, as the callback table of `docs/contract.md` gives them, and
//! the `Box` impls, which must hand every callback on: a notifier that writes only the
//! callbacks it needs runs on these.

use super::harness::{addr, Conn, Log, Script, NOTHING};
use crate::proto::{ConnectFailure, ConnectionConfig, TcpConnection, TcpConnectionNotify};

/// Writes two chunks and asks for 3-byte frames once connected; every other callback, but the
/// required `connect_failed`, is the trait's default.
struct Bare;

impl TcpConnectionNotify for Bare {
    fn connected(&mut self, conn: &mut TcpConnection) {
        conn.writev([&b"ab"[..], &b"cd"[..]]);
        conn.expect(3).expect("3 bytes fit the read buffer");
    }

    fn connect_failed(&mut self, _conn: &mut TcpConnection, _reason: ConnectFailure) {}
}

#[test]
fn a_notifier_of_defaults_dials_what_it_was_given_writes_chunks_as_they_are_and_keeps_reading() {
    let log = Log::new();
    let mut conn = Conn::new_client(Box::new(Bare), ConnectionConfig::default(), &log);
    // `proxy_via`: the target it was given.
    assert_eq!(
        conn.machine().handle_dial("example.org", "7000"),
        ("example.org".to_string(), "7000".to_string())
    );
    conn.machine().handle_resolved(Ok(vec![addr(7000)]));
    assert_eq!(conn.dialled(), [addr(7000)]);
    conn.wire.push("xyzuvw");
    let transport = conn.wire.transport();
    assert!(conn.machine().handle_attempt_connected(transport).is_ok());
    conn.messages();
    // `sentv`: the chunks as they were written.
    assert_eq!(conn.wire.written_str(), "abcd");
    // `expect`: the size asked for.
    assert_eq!(conn.connection().expect_size(), 3);
    conn.machine().handle_readable();
    // `received`: `true`, so both frames came in one turn, and the connection reads on
    // rather than waiting for a resume.
    assert_eq!(conn.connection().stats().bytes_received, 6);
    assert!(conn.machine().wants_read());
    assert_eq!(conn.queue_resumes(), NOTHING);
    assert_eq!(log.take(), NOTHING);
}

#[test]
fn a_boxed_notifier_hands_every_callback_to_the_one_inside() {
    let log = Log::new();
    let inner_log = Log::new();
    let outer = Script::new(&log).on_connected({
        let inner_log = inner_log.clone();
        move |conn| {
            let mut inner: Box<Script> = Box::new(Script::new(&inner_log));
            let inner = &mut inner;
            TcpConnectionNotify::accepted(inner, conn);
            assert_eq!(
                TcpConnectionNotify::proxy_via(inner, "h", "7"),
                ("h".to_string(), "7".to_string())
            );
            TcpConnectionNotify::connecting(inner, conn, 2);
            TcpConnectionNotify::connected(inner, conn);
            TcpConnectionNotify::connect_failed(inner, conn, ConnectFailure::Refused);
            TcpConnectionNotify::auth_failed(inner, conn);
            assert_eq!(TcpConnectionNotify::sent(inner, conn, "s".into()), "s");
            assert_eq!(
                TcpConnectionNotify::sentv(inner, conn, vec!["v".into()]),
                ["v"]
            );
            assert!(TcpConnectionNotify::received(inner, conn, b"r".to_vec(), 1));
            assert_eq!(TcpConnectionNotify::expect(inner, conn, 4), 4);
            TcpConnectionNotify::throttled(inner, conn);
            TcpConnectionNotify::unthrottled(inner, conn);
            TcpConnectionNotify::closed(inner, conn);
        }
    });
    let mut conn = Conn::new_client(Box::new(outer), ConnectionConfig::default(), &log);
    conn.connect();
    assert_eq!(
        inner_log.take(),
        [
            "accepted",
            "proxy_via(h, 7)",
            "connecting(2)",
            "connected",
            "connect_failed(refused)",
            "auth_failed",
            "sent(\"s\")",
            "sentv([\"v\"])",
            "received(\"r\", 1)",
            "expect(4)",
            "throttled",
            "unthrottled",
            "closed",
        ]
    );
}
