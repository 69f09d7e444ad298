//! A collector that acknowledges a reading as it buffers it and writes its buffer to the
//! journal on disk only when a connection closes (a group commit at the end of a session). A
//! sensor registers on a connection of its own (its hello, the collector's answer), closes
//! it, and then sends 300 numbered readings on a data connection, one every 10 ms, each in a
//! write of its own; it drops a reading once the collector acknowledged it (the count of
//! readings held), and a lost data connection is dialled again and sends from the first
//! reading not acknowledged. The bug: after a crash of the collector's host the buffered
//! readings are gone though acknowledged, and the sensor sends on past the gap (`no reading
//! is skipped`). The fix writes each reading to the journal before it acknowledges it.
//!
//! Only a crash of the collector during the data connection, its second accepted connection
//! (`collector.2`), shows it: a reset runs `closed`, which writes the buffer, and the
//! registration carries no reading. The swarm crashed a server on a client's first events
//! (the registration's), or after one of the events of a listener's first accepted connection
//! (the registration again): caught in 1 of seeds 0..3000 (seed 69, where a crash during the
//! registration restarts the host a second time, in the data connection, as a second crash's
//! restart does). The swarm now also crashes a server host after one of the first 1024
//! `received` or `sent` of one of its listener's accepted connections `server.2` to
//! `server.8` (nineteenth session), and catches it at seed 13 (198 of seeds 0..3000).

use crate::support::{assert_caught, assert_fix_passes_many, assert_plan_catches, fault_after};
use crate::support::{store_record, Records};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tcpnotify::{ConnectFailure, TcpConnection, TcpConnectionNotify, TcpListenNotify, TcpListener};
use tcpnotify_sim::fault::{Fault, FaultKind, FaultPlan, Trigger};
use tcpnotify_sim::run::SharedState;
use tcpnotify_sim::scenario::listen_factory;
use tcpnotify_sim::{always, factory, run_passing, run_state, Scenario, Seed};

/// Readings the sensor sends, one every [`SAMPLE_MS`] while its data connection is up.
const READINGS: u64 = 300;
const SAMPLE_MS: u64 = 10;
/// What the sensor's registration says and what the collector answers it: 8 bytes each.
const HELLO: u64 = u64::MAX;
const WELCOME: u64 = u64::MAX - 1;
/// A bound on the dials of a run that keeps failing, far above what any drawn fault takes
/// to heal.
const MAX_DIALS: u32 = 10_000;

/// The sensor's side across its connections (the run's state).
#[derive(Debug, Default)]
struct Sensor {
    registered: bool,
    /// Readings taken so far.
    sampled: u64,
    /// Readings the collector acknowledged: dropped by the sensor.
    acked: u64,
    done: bool,
    dials: u32,
}

fn sensor() -> SharedState<Sensor> {
    run_state::<Sensor>().expect("a simulated run")
}

/// The journal on disk ([`Records`]): it survives a crash of the collector's host.
fn journal() -> SharedState<Records> {
    run_state::<Records>().expect("a simulated run")
}

/// A number as both ends write it.
fn number(data: &[u8]) -> u64 {
    u64::from_be_bytes(data.try_into().unwrap_or_default())
}

/// The collector: its buffer of readings acknowledged but not yet written lives in its
/// memory, shared by its connections, and is lost with its host.
struct Collector {
    fixed: bool,
    buffered: Arc<Mutex<Vec<u64>>>,
}

impl TcpListenNotify for Collector {
    fn not_listening(&mut self, _listener: &mut TcpListener) {}
    fn connected(&mut self, _listener: &mut TcpListener) -> Option<Box<dyn TcpConnectionNotify>> {
        Some(Box::new(Session {
            fixed: self.fixed,
            buffered: Arc::clone(&self.buffered),
        }))
    }
}

/// The collector's end of one connection.
struct Session {
    /// Whether a reading is written before it is acknowledged (the fix), or buffered and
    /// written in `closed`.
    fixed: bool,
    buffered: Arc<Mutex<Vec<u64>>>,
}

impl Session {
    /// Writes the buffered readings to the journal.
    fn flush(&self) {
        let mut buffered = self.buffered.lock().unwrap_or_else(|e| e.into_inner());
        for reading in buffered.drain(..) {
            store_record(reading, true);
        }
    }
}

impl TcpConnectionNotify for Session {
    fn accepted(&mut self, conn: &mut TcpConnection) {
        let _ = conn.expect(8);
    }
    fn received(&mut self, conn: &mut TcpConnection, data: Vec<u8>, _times: usize) -> bool {
        let reading = number(&data);
        if reading == HELLO {
            conn.write(WELCOME.to_be_bytes().to_vec());
            return true;
        }
        let mut buffered = self.buffered.lock().unwrap_or_else(|e| e.into_inner());
        let held = journal().lock().stored + buffered.len() as u64;
        if reading >= held {
            always(
                "no reading is skipped",
                reading == held,
                format_args!("reading {reading} arrived with {held} held"),
            );
            if self.fixed {
                store_record(reading, true);
            } else {
                buffered.push(reading);
            }
        }
        let held = journal().lock().stored + buffered.len() as u64;
        conn.write(held.to_be_bytes().to_vec());
        true
    }
    fn closed(&mut self, _conn: &mut TcpConnection) {
        self.flush();
    }
    fn connect_failed(&mut self, _conn: &mut TcpConnection, _reason: ConnectFailure) {}
}

/// The sensor's end of one connection: its registration until it is registered, then its
/// data connection.
struct Reporter;

impl Reporter {
    fn again(&self, conn: &mut TcpConnection) {
        let sensor = sensor();
        let mut sensor = sensor.lock();
        if sensor.done || sensor.dials >= MAX_DIALS {
            return;
        }
        sensor.dials += 1;
        drop(sensor);
        conn.dial(Reporter, "server", "7000");
    }

    /// Sends what is not yet acknowledged, then a reading every [`SAMPLE_MS`].
    fn send_readings(&self, conn: &mut TcpConnection) {
        let sensor = sensor();
        let (acked, sampled) = {
            let sensor = sensor.lock();
            (sensor.acked, sensor.sampled)
        };
        for reading in acked..sampled {
            conn.write(reading.to_be_bytes().to_vec());
        }
        let handle = conn.handle();
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(Duration::from_millis(SAMPLE_MS)).await;
                if handle.is_finished() {
                    return;
                }
                let reading = {
                    let mut sensor = sensor.lock();
                    if sensor.sampled == READINGS {
                        return;
                    }
                    sensor.sampled += 1;
                    sensor.sampled - 1
                };
                handle.write(reading.to_be_bytes().to_vec());
            }
        });
    }
}

impl TcpConnectionNotify for Reporter {
    fn connected(&mut self, conn: &mut TcpConnection) {
        let _ = conn.expect(8);
        let registered = sensor().lock().registered;
        match registered {
            true => self.send_readings(conn),
            false => conn.write(HELLO.to_be_bytes().to_vec()),
        }
    }
    fn received(&mut self, conn: &mut TcpConnection, data: Vec<u8>, _times: usize) -> bool {
        let sensor = sensor();
        let mut sensor = sensor.lock();
        match number(&data) {
            WELCOME => {
                sensor.registered = true;
                conn.dispose();
            }
            acked => {
                sensor.acked = sensor.acked.max(acked);
                if sensor.acked >= READINGS && !sensor.done {
                    sensor.done = true;
                    conn.dispose();
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

fn collecting(fixed: bool) -> Scenario {
    let collector = move || Collector {
        fixed,
        buffered: Arc::default(),
    };
    Scenario::new("acked-before-written")
        .listener_with("collector", "server", 7000, listen_factory(collector))
        .client("c1", "client", "server", 7000, factory(|| Reporter))
        .duration_ms(8000)
        .eventually("all-acked", |run| {
            match run.state::<Sensor>().is_some_and(|s| s.lock().done) {
                true => Ok(()),
                false => Err("the sensor never had its last reading acknowledged".to_string()),
            }
        })
}

/// The bug hides on a quiet network: the data connection closes cleanly, writing the buffer.
#[test]
fn acked_before_written_passes_on_a_quiet_network() {
    run_passing(&collecting(false).plan(FaultPlan::quiet(Seed(1))), Seed(1));
}

/// A crash of the collector's host after the data connection's 100th `sent` (its 100th
/// acknowledgement), restarted after 100 ms, loses the buffered readings.
#[test]
fn acked_before_written_is_caught_by_a_crash_by_hand() {
    let mut plan = FaultPlan::quiet(Seed(1));
    let crash = FaultKind::Crash {
        host: "server".into(),
        restart_after_ms: Some(100),
    };
    plan.faults = vec![fault_after("collector.2", "sent", 100, crash)];
    assert_plan_catches(
        &collecting(false),
        &collecting(true),
        &plan,
        "no reading is skipped",
    );
}

/// The swarm with no settings catches it with a crash timed by the data connection: first at
/// seed 13, shrunk to that crash alone. Without the crashes of later sessions the first catch
/// was seed 69, by a second restart of a host crashed twice during the registration.
#[test]
fn acked_before_written_is_caught_by_the_swarm() {
    let failure = assert_caught(&collecting(false), "no reading is skipped");
    assert_eq!(failure.seed, Seed(13), "{failure}");
    let timed_by_data_connection = |fault: &Fault| {
        matches!(
            (&fault.trigger, &fault.kind),
            (Trigger::After(event), FaultKind::Crash { .. }) if event.conn == "collector.2"
        )
    };
    let faults = &failure.shrunk.plan.faults;
    assert!(faults.iter().any(timed_by_data_connection), "{failure}");
}

/// Each reading written before it is acknowledged passes the swarm (`TCPNOTIFY_SEEDS` sweeps
/// more).
#[test]
fn written_before_acked_passes_many_seeds() {
    assert_fix_passes_many(collecting(true));
}
