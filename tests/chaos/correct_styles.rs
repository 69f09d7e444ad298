//! Correct notifiers written in styles the other demos do not use, each swept by the swarm
//! (a false red here is a simulator defect): writes, unmutes and closes sent through a handle
//! from a task of the notifier's own, a server that paces its reads, socket options and
//! addresses asked of a simulated connection, a client that fans out to a second connection,
//! tiny read buffers and yields, a listener that rejects peers and stops listening, a reader
//! that starts late. Hunted in the fourteenth session with 3,000 seeds each (all passed,
//! after the paced server's false red was fixed: `liveness.rs`); `write_final` and
//! `set_notify`, whose false reds that hunt found, are `tests/simulation/wrapping.rs`. These
//! tests honour `TCPNOTIFY_SEEDS` and the other variables, as a user's test would.

use crate::paced_echo::PacedEcho;
use crate::support::echoed;
use std::time::Duration;
use tcpnotify::{ConnectFailure, TcpConnection, TcpConnectionNotify};
use tcpnotify_sim::notifiers::{Echo, Sender};
use tcpnotify_sim::{factory, Chaos, Expectations, Scenario};

/// Seeds each sweeps by default (CI).
const SEEDS: u64 = 300;

/// Pings through a handle from a task of its own, every 3 ms, then disposes.
struct Heartbeat {
    pings: usize,
}

impl TcpConnectionNotify for Heartbeat {
    fn connected(&mut self, conn: &mut TcpConnection) {
        let handle = conn.handle();
        let pings = self.pings;
        tokio::spawn(async move {
            for i in 0..pings {
                tokio::time::sleep(Duration::from_millis(3)).await;
                if handle.is_finished() {
                    return;
                }
                handle.write(format!("ping {i}\n").into_bytes());
            }
            handle.dispose();
        });
    }
    fn connect_failed(&mut self, _conn: &mut TcpConnection, _reason: ConnectFailure) {}
}

#[test]
fn heartbeat_through_a_handle_passes() {
    let s = Scenario::new("heartbeat")
        .listener("server", "server", 7000, factory(|| Echo))
        .client(
            "c1",
            "client",
            "server",
            7000,
            factory(|| Heartbeat { pings: 30 }),
        )
        .client(
            "c2",
            "client2",
            "server",
            7000,
            factory(|| Heartbeat { pings: 5 }),
        )
        .duration_ms(2000);
    let pass = Chaos::new(s).seeds(0..SEEDS).assert_passes();
    println!("{pass}");
}

#[test]
fn paced_echo_passes() {
    let s = Scenario::new("paced-echo")
        .listener("server", "server", 7000, factory(|| PacedEcho))
        .client(
            "c1",
            "client",
            "server",
            7000,
            factory(|| Sender::pattern(20_000).chunked(700)),
        )
        .client(
            "c2",
            "client2",
            "server",
            7000,
            factory(|| Sender::pattern(3_000).chunked(3000)),
        )
        .duration_ms(3000)
        .expecting(echoed());
    let pass = Chaos::new(s).seeds(0..SEEDS).assert_passes();
    println!("{pass}");
}

/// Sets socket options as a real server would, and asks for its addresses.
struct Tuned;

impl TcpConnectionNotify for Tuned {
    fn accepted(&mut self, conn: &mut TcpConnection) {
        conn.set_nodelay(true)
            .expect("nodelay on an accepted connection");
        assert!(conn.nodelay().expect("asked"));
        conn.set_keepalive(30).expect("keepalive");
        assert!(conn.local_address().is_some() && conn.remote_address().is_some());
    }
    fn received(&mut self, conn: &mut TcpConnection, data: Vec<u8>, _times: usize) -> bool {
        conn.write(data);
        true
    }
    fn connect_failed(&mut self, _conn: &mut TcpConnection, _reason: ConnectFailure) {}
}

/// Fans out: its first connection dials a second to the same place, then closes itself.
struct FanOut {
    first: bool,
}

impl TcpConnectionNotify for FanOut {
    fn connected(&mut self, conn: &mut TcpConnection) {
        conn.set_nodelay(true).expect("nodelay once connected");
        conn.write(b"hi".to_vec());
        if self.first {
            conn.dial(FanOut { first: false }, "server", "7000");
        }
    }
    fn received(&mut self, conn: &mut TcpConnection, _data: Vec<u8>, _times: usize) -> bool {
        conn.close();
        true
    }
    fn connect_failed(&mut self, _conn: &mut TcpConnection, _reason: ConnectFailure) {}
}

#[test]
fn tuned_server_and_fan_out_client_pass() {
    let s = Scenario::new("tuned")
        .listener("server", "server", 7000, factory(|| Tuned))
        .client(
            "c1",
            "client",
            "server",
            7000,
            factory(|| FanOut { first: true }),
        )
        .client(
            "c2",
            "client2",
            "server",
            7000,
            factory(|| FanOut { first: true }),
        )
        .duration_ms(2000);
    let pass = Chaos::new(s).seeds(0..SEEDS).assert_passes();
    println!("{pass}");
}

/// Writes through a handle from a task right away, in many small and empty pieces, and
/// disposes from the task.
struct Burst;

impl TcpConnectionNotify for Burst {
    fn connected(&mut self, conn: &mut TcpConnection) {
        let handle = conn.handle();
        tokio::spawn(async move {
            for i in 0..50u8 {
                handle.write(Vec::new());
                handle.writev(vec![vec![i], Vec::new(), vec![i, i]]);
                tokio::task::yield_now().await;
            }
            handle.dispose();
        });
    }
    fn connect_failed(&mut self, _conn: &mut TcpConnection, _reason: ConnectFailure) {}
}

/// Counts what it reads and closes once it has 150 bytes, from `received`.
struct Counter(usize);

impl TcpConnectionNotify for Counter {
    fn received(&mut self, conn: &mut TcpConnection, data: Vec<u8>, _times: usize) -> bool {
        self.0 += data.len();
        if self.0 >= 150 {
            conn.close();
        }
        true
    }
    fn connect_failed(&mut self, _conn: &mut TcpConnection, _reason: ConnectFailure) {}
}

#[test]
fn burst_of_handle_writes_passes() {
    let s = Scenario::new("burst")
        .listener("server", "server", 7000, factory(|| Counter(0)))
        .client("c1", "client", "server", 7000, factory(|| Burst))
        .duration_ms(2000)
        .expecting(Expectations {
            delivered: [("server.1".to_string(), 150)].into(),
            ..Expectations::default()
        });
    let pass = Chaos::new(s).seeds(0..SEEDS).assert_passes();
    println!("{pass}");
}

fn tiny_config(buffer: usize) -> tcpnotify::ConnectionConfig {
    let mut config = tcpnotify::ConnectionConfig::default();
    config.set_read_buffer_size(buffer);
    config.set_yield_after_reading(1);
    config.set_yield_after_writing(1);
    config
}

#[test]
fn tiny_buffers_and_yields_pass() {
    let s = Scenario::new("tiny")
        .listener("server", "server", 7000, factory(|| Echo))
        .with_config(tiny_config(64))
        .client(
            "c1",
            "client",
            "server",
            7000,
            factory(|| Sender::pattern(5000).chunked(333).expecting(50)),
        )
        .with_config(tiny_config(128))
        .client(
            "c2",
            "client",
            "server",
            7000,
            factory(|| Sender::pattern(3000).chunked(1)),
        )
        .with_config(tiny_config(1))
        .duration_ms(3000)
        .expecting(echoed());
    let pass = Chaos::new(s).seeds(0..SEEDS).assert_passes();
    println!("{pass}");
}

/// Disposes its connection from a watchdog task 30 ms after connecting, whatever came back.
struct Watchdog;

impl TcpConnectionNotify for Watchdog {
    fn connected(&mut self, conn: &mut TcpConnection) {
        conn.write(tcpnotify_sim::notifiers::pattern(0, 20_000));
        let handle = conn.handle();
        tokio::spawn(async move {
            tokio::select! {
                biased;
                _ = handle.finished() => {}
                _ = tokio::time::sleep(Duration::from_millis(30)) => handle.dispose(),
            }
        });
    }
    fn connect_failed(&mut self, _conn: &mut TcpConnection, _reason: ConnectFailure) {}
}

#[test]
fn watchdog_dispose_passes() {
    let s = Scenario::new("watchdog")
        .listener("server", "server", 7000, factory(|| Echo))
        .client("c1", "client", "server", 7000, factory(|| Watchdog))
        .client("c2", "client2", "server", 7000, factory(|| Watchdog))
        .duration_ms(2000);
    let pass = Chaos::new(s).seeds(0..SEEDS).assert_passes();
    println!("{pass}");
}

/// Rejects every other peer; serves the rest with an echo; stops listening after 6 accepts.
struct Picky {
    seen: usize,
    accepted: usize,
}

impl tcpnotify::TcpListenNotify for Picky {
    fn not_listening(&mut self, _listener: &mut tcpnotify::TcpListener) {}
    fn connected(
        &mut self,
        listener: &mut tcpnotify::TcpListener,
    ) -> Option<Box<dyn TcpConnectionNotify>> {
        self.seen += 1;
        if self.seen % 2 == 0 {
            return None;
        }
        self.accepted += 1;
        if self.accepted == 6 {
            listener.close();
        }
        Some(Box::new(Echo))
    }
}

/// Retries (up to 20 connections) until it has an echo of its greeting.
struct Persistent {
    tries: u32,
    done: bool,
}

impl TcpConnectionNotify for Persistent {
    fn connected(&mut self, conn: &mut TcpConnection) {
        conn.write(b"hello".to_vec());
    }
    fn received(&mut self, conn: &mut TcpConnection, _data: Vec<u8>, _times: usize) -> bool {
        self.done = true;
        conn.close();
        true
    }
    fn closed(&mut self, conn: &mut TcpConnection) {
        self.retry(conn);
    }
    fn connect_failed(&mut self, conn: &mut TcpConnection, _reason: ConnectFailure) {
        self.retry(conn);
    }
}

impl Persistent {
    fn retry(&mut self, conn: &mut TcpConnection) {
        if !self.done && self.tries < 20 {
            conn.dial(
                Persistent {
                    tries: self.tries + 1,
                    done: false,
                },
                "server",
                "7000",
            );
        }
    }
}

#[test]
fn picky_listener_and_persistent_clients_pass() {
    let mut s = Scenario::new("picky")
        .listener_with(
            "server",
            "server",
            7000,
            tcpnotify_sim::scenario::listen_factory(|| Picky {
                seen: 0,
                accepted: 0,
            }),
        )
        .duration_ms(3000);
    for i in 0..4 {
        s = s.client(
            &format!("c{i}"),
            "client",
            "server",
            7000,
            factory(|| Persistent {
                tries: 0,
                done: false,
            }),
        );
    }
    let pass = Chaos::new(s).seeds(0..SEEDS).assert_passes();
    println!("{pass}");
}

/// Mutes as it connects and reads only 40 ms later.
struct LateReader;

impl TcpConnectionNotify for LateReader {
    fn connected(&mut self, conn: &mut TcpConnection) {
        conn.mute();
        let handle = conn.handle();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(40)).await;
            handle.unmute();
        });
    }
    fn connect_failed(&mut self, _conn: &mut TcpConnection, _reason: ConnectFailure) {}
}

/// Greets 3,000 bytes and closes gracefully.
struct Greeter;

impl TcpConnectionNotify for Greeter {
    fn accepted(&mut self, conn: &mut TcpConnection) {
        conn.write(tcpnotify_sim::notifiers::pattern(0, 3000));
        conn.dispose();
    }
    fn connect_failed(&mut self, _conn: &mut TcpConnection, _reason: ConnectFailure) {}
}

#[test]
fn late_reader_of_a_greeting_passes() {
    let s = Scenario::new("late-reader")
        .listener("server", "server", 7000, factory(|| Greeter))
        .client("c1", "client", "server", 7000, factory(|| LateReader))
        .client("c2", "client2", "server", 7000, factory(|| LateReader))
        .duration_ms(2000)
        .expecting(Expectations {
            delivered: [("c1".to_string(), 3000), ("c2".to_string(), 3000)].into(),
            ..Expectations::default()
        });
    let pass = Chaos::new(s).seeds(0..SEEDS).assert_passes();
    println!("{pass}");
}
