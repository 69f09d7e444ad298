//! The recorders (`crate::record`): what a sink is told of a connection and a listener, and
//! in what order, as the simulator's trace and stream check read it.

use super::harness::{addr, show, Conn, ListenScript, Log, Script};
use crate::proto::{
    ConnectionConfig, ConnectionStats, DroppedWrite, ListenerMachine, Muting, TcpConnection,
    TcpConnectionNotify,
};
use crate::record::{
    Callback, CallbackLog, CallbackSink, DataFlow, FinalWriteBefore, Name, Payload, Recorded,
    RecordedListener,
};
use std::io;
use std::sync::Arc;

/// A sink that writes everything it is told to a [`Log`], one line each.
struct Told(Log);

impl Told {
    fn sink(log: &Log) -> Arc<dyn CallbackSink> {
        Arc::new(Told(log.clone()))
    }
}

impl CallbackSink for Told {
    fn record(&self, who: &Name, _conn: Option<&TcpConnection>, callback: Callback) {
        self.0.push(format!("{who} {callback}"));
    }
    fn data(&self, who: &Name, _conn: &TcpConnection, flow: DataFlow<'_>) {
        let (what, bytes) = match flow {
            DataFlow::Queued(bytes) => ("queued", bytes),
            DataFlow::Delivered(bytes) => ("delivered", bytes),
        };
        self.0.push(format!("{who} {what} {}", show(bytes)));
    }
    fn counters(&self, who: &Name, stats: ConnectionStats) {
        self.0.push(format!(
            "{who} counters sent={} received={} dropped={}",
            stats.bytes_sent, stats.bytes_received, stats.writes_dropped
        ));
    }
    fn write_dropped(&self, who: &Name, dropped: &DroppedWrite) {
        self.0.push(format!("{who} dropped {}B", dropped.bytes));
    }
    fn mute_changed(&self, who: &Name, muting: Muting) {
        self.0.push(format!("{who} {muting:?}"));
    }
    fn final_written(&self, who: &Name, data: &Payload, before: FinalWriteBefore) {
        self.0.push(format!("{who} final {data} before {before:?}"));
    }
    fn dialled(&self, by: &Name, who: &Name, host: &str, service: &str) {
        self.0
            .push(format!("{by} dialled {who} to {host}:{service}"));
    }
    fn enter(&self, who: &Name) {
        self.0.push(format!("{who} enter"));
    }
    fn exit(&self, who: &Name) {
        self.0.push(format!("{who} exit"));
    }
}

/// Lines of `told` that are not `enter` or `exit`.
fn records(told: &Log) -> Vec<String> {
    (told.take().into_iter())
        .filter(|line| !line.ends_with(" enter") && !line.ends_with(" exit"))
        .collect()
}

#[test]
fn each_dial_of_a_callback_is_recorded_once_named_in_turn_and_told_after_the_callbacks_line() {
    let (log, told) = (Log::new(), Log::new());
    let script = Script::new(&log)
        .on_connected(|conn| {
            conn.dial(Script::new(&Log::new()), "a.test", "1");
        })
        .on_received(|conn, _, _| {
            conn.dial(Script::new(&Log::new()), "b.test", "2");
            conn.dial(Script::new(&Log::new()), "c.test", "3");
            true
        });
    let recorded = Recorded::new(script, "c1", Told::sink(&told));
    let mut conn = Conn::new_client(Box::new(recorded), ConnectionConfig::default(), &log);
    conn.wire.push("x");
    conn.connect();
    assert_eq!(
        records(&told),
        [
            "c1 proxy_via(example.org, 7000)",
            "c1 connecting(1)",
            "c1 connected",
            "c1 dialled c1~1 to a.test:1",
            "c1 delivered \"x\"",
            "c1 received(1B \"x\", times=1) -> true",
            "c1 dialled c1~2 to b.test:2",
            "c1 dialled c1~3 to c.test:3",
        ]
    );
    // Each dialled connection's notifier is recorded under the name it was told as, once.
    let dials = conn.machine().poll_dials();
    assert_eq!(dials.len(), 3);
    for mut dial in dials {
        dial.notify.proxy_via(&dial.host, &dial.service);
    }
    assert_eq!(
        records(&told),
        [
            "c1~1 proxy_via(a.test, 1)",
            "c1~2 proxy_via(b.test, 2)",
            "c1~3 proxy_via(c.test, 3)",
        ]
    );
    assert_eq!(
        log.take(),
        [
            "proxy_via(example.org, 7000)",
            "connecting(1)",
            "connected",
            "received(\"x\", 1)"
        ],
        "the notifier's own callbacks ran once each"
    );
}

#[test]
fn a_recorded_listener_records_its_callbacks_and_names_what_it_accepts_and_dials_in_turn() {
    let (log, told) = (Log::new(), Log::new());
    let mut refuse = false;
    let script = ListenScript::new(&log)
        .on_listening(|listener| {
            listener.dial(Script::new(&Log::new()), "registry.test", "53");
        })
        .factory(move |_| {
            refuse = !refuse;
            match refuse {
                false => None,
                true => Some(Box::new(Script::new(&Log::new()))),
            }
        });
    let recorded = RecordedListener::new(script, "server", Told::sink(&told));
    let mut machine = ListenerMachine::new(Box::new(recorded), 0, ConnectionConfig::default());
    machine.handle_bound(Ok(addr(8080)));
    let mut accepted = Vec::new();
    for _ in 0..3 {
        accepted.extend(machine.handle_accepted());
    }
    machine.handle_dispose();
    assert_eq!(
        records(&told),
        [
            "server listening",
            "server dialled server~1 to registry.test:53",
            "server listener.connected -> accept",
            "server listener.connected -> reject",
            "server listener.connected -> accept",
            "server listener.closed",
        ]
    );
    // The accepted connections are recorded as the listener's, numbered from 1, and so is
    // the dialled one, under the name it was told as.
    for notify in &mut accepted {
        notify.proxy_via("h", "1");
    }
    for mut dial in machine.poll_dials() {
        dial.notify.proxy_via(&dial.host, &dial.service);
    }
    assert_eq!(
        records(&told),
        [
            "server.1 proxy_via(h, 1)",
            "server.2 proxy_via(h, 1)",
            "server~1 proxy_via(registry.test, 53)",
        ]
    );
}

#[test]
fn a_recorded_connection_tells_its_data_final_writes_mutes_drops_and_last_counters_in_order() {
    let (log, told) = (Log::new(), Log::new());
    let script = Script::new(&log)
        .on_accepted(|conn| conn.write("hi"))
        .on_sent(|conn, data| {
            conn.write_final("<");
            data.slice(1..)
        })
        .on_received(|conn, _, _| {
            conn.mute();
            conn.unmute();
            conn.close();
            conn.write("late");
            true
        });
    let recorded = Recorded::new(script, "s", Told::sink(&told));
    let mut conn = Conn::new_server(Box::new(recorded), ConnectionConfig::default(), &log);
    conn.accept();
    conn.messages();
    conn.wire.push("yo");
    conn.machine().handle_readable();
    conn.drive();
    // What `sent` queued with `write_final` goes out before what it returned, and flows first.
    assert_eq!(conn.wire.written_str(), "<i");
    drop(conn);
    assert_eq!(
        records(&told),
        [
            "s accepted",
            "s queued \"<\"",
            "s queued \"i\"",
            "s sent(2B \"hi\") -> 1B \"i\"",
            "s final 1B \"<\" before OwnResult",
            "s delivered \"yo\"",
            "s received(2B \"yo\", times=1) -> true",
            "s Muted",
            "s Unmuted",
            "s dropped 4B",
            // As of the last callback, `received`: the drop came after it.
            "s counters sent=2 received=2 dropped=0",
        ]
    );
}

#[test]
fn a_recorded_connection_records_a_failed_connect_and_an_auth_failure_its_wrapper_reports() {
    let (log, told) = (Log::new(), Log::new());
    let mut recorded = Recorded::new(Script::new(&log), "c1", Told::sink(&told));
    // A wrapper (a TLS layer, say) reports the failed authentication through the recorder.
    let outer = Script::new(&Log::new())
        .on_connected(move |conn| TcpConnectionNotify::auth_failed(&mut recorded, conn));
    let mut conn = Conn::new_client(Box::new(outer), ConnectionConfig::default(), &log);
    conn.connect();
    assert_eq!(records(&told), ["c1 auth_failed"]);
    assert_eq!(log.take(), ["auth_failed"]);

    let recorded = Recorded::new(Script::new(&log), "c2", Told::sink(&told));
    let mut conn = Conn::new_client(Box::new(recorded), ConnectionConfig::default(), &log);
    conn.machine().handle_dial("nowhere.test", "1");
    conn.machine()
        .handle_resolved(Err::<Vec<_>, _>(io::Error::other("no such host")));
    assert_eq!(
        records(&told),
        [
            "c2 proxy_via(nowhere.test, 1)",
            "c2 connect_failed(resolve)"
        ]
    );
    assert_eq!(
        log.take(),
        ["proxy_via(nowhere.test, 1)", "connect_failed(resolve)"]
    );
}

#[test]
fn what_a_transform_returned_unchanged_shares_what_the_recorder_kept_of_its_input() {
    let (log, calls) = (Log::new(), CallbackLog::new());
    let recorded = Recorded::new(Script::new(&log), "c1", Arc::new(calls.clone()));
    let mut conn = Conn::new_client(Box::new(recorded), ConnectionConfig::default(), &log);
    conn.connect();
    conn.handle.write("hello");
    conn.messages();
    let entries = calls.entries();
    let Some((
        _,
        Callback::ProxyVia {
            host,
            service,
            target,
        },
    )) = entries.first()
    else {
        panic!("proxy_via first: {entries:?}");
    };
    assert!(std::ptr::eq(host.as_str(), target.0.as_str()));
    assert!(std::ptr::eq(service.as_str(), target.1.as_str()));
    let Some((_, Callback::Sent { data, result })) = entries.last() else {
        panic!("sent last: {entries:?}");
    };
    let at = |payload: &Payload| payload.bytes().map(<[u8]>::as_ptr);
    assert_eq!(result, data);
    assert_eq!(at(result), at(data), "one copy kept, not two");
}

#[test]
fn a_recorded_connection_frames_its_reads_with_the_size_its_notifier_returned() {
    let (log, told) = (Log::new(), Log::new());
    let script = Script::new(&log).expecting(3).on_expect(|_, qty| qty - 1);
    let recorded = Recorded::new(script, "s", Told::sink(&told));
    let mut conn = Conn::new_server(Box::new(recorded), ConnectionConfig::default(), &log);
    conn.wire.push("abcd");
    conn.accept();
    assert_eq!(
        records(&told),
        [
            // `expect` asked for inside `accepted` runs once `accepted` returned.
            "s accepted",
            "s expect(3) -> 2",
            "s delivered \"ab\"",
            "s received(2B \"ab\", times=1) -> true",
            "s delivered \"cd\"",
            "s received(2B \"cd\", times=2) -> true",
        ]
    );
}

#[test]
fn a_recorded_listener_records_a_failed_bind_before_its_notifier_hears_of_it() {
    let (log, told) = (Log::new(), Log::new());
    let recorded = RecordedListener::new(ListenScript::new(&log), "server", Told::sink(&told));
    let mut machine = ListenerMachine::new(Box::new(recorded), 0, ConnectionConfig::default());
    machine.handle_bound(Err(io::Error::from(io::ErrorKind::AddrInUse)));
    assert_eq!(
        told.take(),
        ["server not_listening", "server enter", "server exit"]
    );
    assert_eq!(log.take(), ["not_listening"]);
}

#[test]
fn what_sent_returned_flows_after_every_callback_deferred_inside_it_as_the_wire_has_it() {
    // Pony nests `expect` inside `sent`; here each runs once `sent` returned, and what they
    // queue with `write_final` goes out before `sent`'s result: the flows must say so too.
    let (log, told) = (Log::new(), Log::new());
    let script = Script::new(&log)
        .on_sent(|conn, data| {
            conn.expect(2).expect("2 bytes fit");
            conn.expect(3).expect("3 bytes fit");
            data
        })
        .on_expect(|conn, qty| {
            conn.write_final(qty.to_string());
            qty
        });
    let recorded = Recorded::new(script, "s", Told::sink(&told));
    let mut conn = Conn::new_server(Box::new(recorded), ConnectionConfig::default(), &log);
    conn.accept();
    conn.handle.write("data");
    conn.messages();
    assert_eq!(conn.wire.written_str(), "23data");
    assert_eq!(
        records(&told),
        [
            "s accepted",
            "s sent(4B \"data\")",
            "s queued \"2\"",
            "s expect(2)",
            "s final 1B \"2\" before SentResult",
            "s queued \"3\"",
            "s queued \"data\"",
            "s expect(3)",
            "s final 1B \"3\" before SentResult",
        ]
    );
}
