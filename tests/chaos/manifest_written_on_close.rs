//! A journal server that lists a new segment in its manifest only when its connection
//! closes. A sensor takes 300 numbered readings, one every 10 ms while connected, sends each
//! in a write of its own, and drops a reading once the server acknowledged it (the count of
//! readings stored); a lost connection is dialled again and sends from the first reading not
//! acknowledged. The server appends
//! each reading to its current segment file on disk before it acknowledges it, and starts a
//! new segment every 100 readings; recovery, as the server starts, keeps the segments its
//! manifest lists. The bug: the manifest is written when a connection closes (reset or not),
//! not when a segment is started, so after a crash the readings of the segments started
//! since are gone though acknowledged, and the sensor sends on past the gap (`no reading is
//! skipped`). The fix writes the manifest as it starts a segment.
//!
//! Only a crash of the server after its 100th reading on one connection and before that
//! connection closes shows it: a reset runs `closed`, which writes the manifest, and a crash
//! earlier loses nothing acknowledged. The swarm crashed a server on a client's first events
//! (a sensor's third acknowledgement comes long before the 100th) or after one of the first
//! 64 `received` or `sent` of a listener's first connection: not caught in seeds 0..1000,
//! three times in 0..3000. The swarm now also crashes a server host after one of the 65th to
//! 1024th `received` or `sent` of its listener's first connection (eighteenth session), and
//! catches it at seed 21.

use crate::support::{assert_caught, assert_fix_passes_many, assert_plan_catches, fault_after};
use std::time::Duration;
use tcpnotify::{ConnectFailure, TcpConnection, TcpConnectionNotify, TcpListenNotify, TcpListener};
use tcpnotify_sim::fault::{FaultKind, FaultPlan};
use tcpnotify_sim::run::SharedState;
use tcpnotify_sim::scenario::listen_factory;
use tcpnotify_sim::{always, factory, run_passing, run_state, Scenario, Seed};

/// Readings the sensor sends, one every [`SAMPLE_MS`] while connected.
const READINGS: u64 = 300;
const SAMPLE_MS: u64 = 10;
/// Readings in a segment file.
const SEGMENT: usize = 100;
/// A bound on the dials of a run that keeps failing, far above what any drawn fault takes
/// to heal.
const MAX_DIALS: u32 = 10_000;

/// The server's disk: it survives a crash of its host, the server's memory does not.
#[derive(Debug, Default)]
struct Disk {
    /// The segment files, each holding the readings appended to it.
    segments: Vec<Vec<u64>>,
    /// How many segments the manifest lists: all recovery reads.
    manifest: usize,
}

impl Disk {
    fn stored(&self) -> u64 {
        self.segments.iter().map(Vec::len).sum::<usize>() as u64
    }
}

/// The sensor's side across its connections (the run's state).
#[derive(Debug, Default)]
struct Sensor {
    /// Readings taken so far.
    sampled: u64,
    /// Readings the server acknowledged: dropped by the sensor.
    acked: u64,
    done: bool,
    dials: u32,
}

fn disk() -> SharedState<Disk> {
    run_state::<Disk>().expect("a simulated run")
}

fn sensor() -> SharedState<Sensor> {
    run_state::<Sensor>().expect("a simulated run")
}

/// A number as both ends write it.
fn number(data: &[u8]) -> u64 {
    u64::from_be_bytes(data.try_into().unwrap_or_default())
}

/// The journal server: recovers the journal as it starts (once per start of its host), then
/// gives each peer a connection of its own.
struct JournalServer {
    fixed: bool,
}

impl TcpListenNotify for JournalServer {
    fn listening(&mut self, _listener: &mut TcpListener) {
        // Recovery: the segments the manifest does not list are not the journal's.
        let disk = disk();
        let mut disk = disk.lock();
        let listed = disk.manifest;
        disk.segments.truncate(listed);
        if disk.segments.is_empty() {
            disk.segments.push(Vec::new());
            disk.manifest = 1;
        }
    }
    fn not_listening(&mut self, _listener: &mut TcpListener) {}
    fn connected(&mut self, _listener: &mut TcpListener) -> Option<Box<dyn TcpConnectionNotify>> {
        Some(Box::new(Journal { fixed: self.fixed }))
    }
}

/// The journal server's end of one connection.
struct Journal {
    /// Whether the manifest is written as a segment is started (the fix), or only in
    /// `closed`.
    fixed: bool,
}

impl TcpConnectionNotify for Journal {
    fn accepted(&mut self, conn: &mut TcpConnection) {
        let _ = conn.expect(8);
    }
    fn received(&mut self, conn: &mut TcpConnection, data: Vec<u8>, _times: usize) -> bool {
        let reading = number(&data);
        let disk = disk();
        let mut disk = disk.lock();
        let stored = disk.stored();
        if reading >= stored {
            always(
                "no reading is skipped",
                reading == stored,
                format_args!("reading {reading} arrived with {stored} stored"),
            );
            if !matches!(disk.segments.last(), Some(s) if s.len() < SEGMENT) {
                disk.segments.push(Vec::new());
                if self.fixed {
                    disk.manifest = disk.segments.len();
                }
            }
            if let Some(segment) = disk.segments.last_mut() {
                segment.push(reading);
            }
        }
        conn.write(disk.stored().to_be_bytes().to_vec());
        true
    }
    fn closed(&mut self, _conn: &mut TcpConnection) {
        let disk = disk();
        let mut disk = disk.lock();
        disk.manifest = disk.segments.len();
    }
    fn connect_failed(&mut self, _conn: &mut TcpConnection, _reason: ConnectFailure) {}
}

/// The sensor's end of one connection.
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
}

impl TcpConnectionNotify for Reporter {
    fn connected(&mut self, conn: &mut TcpConnection) {
        let _ = conn.expect(8);
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
    fn received(&mut self, conn: &mut TcpConnection, data: Vec<u8>, _times: usize) -> bool {
        let sensor = sensor();
        let mut sensor = sensor.lock();
        sensor.acked = sensor.acked.max(number(&data));
        if sensor.acked >= READINGS && !sensor.done {
            sensor.done = true;
            conn.dispose();
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

fn journalling(fixed: bool) -> Scenario {
    Scenario::new("manifest-written-on-close")
        .listener_with(
            "journal",
            "server",
            7000,
            listen_factory(move || JournalServer { fixed }),
        )
        .client("c1", "client", "server", 7000, factory(|| Reporter))
        .duration_ms(8000)
        .eventually("all-acked", |run| {
            match run.state::<Sensor>().is_some_and(|s| s.lock().done) {
                true => Ok(()),
                false => Err("the sensor never had its last reading acknowledged".to_string()),
            }
        })
}

/// The bug hides on a quiet network: the connection closes cleanly, writing the manifest.
#[test]
fn manifest_written_on_close_passes_on_a_quiet_network() {
    run_passing(&journalling(false).plan(FaultPlan::quiet(Seed(1))), Seed(1));
}

/// A crash of the server after its 150th `sent` (its 150th acknowledgement), restarted after
/// 100 ms, loses the second segment.
#[test]
fn manifest_written_on_close_is_caught_by_a_crash_by_hand() {
    let mut plan = FaultPlan::quiet(Seed(1));
    let crash = FaultKind::Crash {
        host: "server".into(),
        restart_after_ms: Some(100),
    };
    plan.faults = vec![fault_after("journal.1", "sent", 150, crash)];
    assert_plan_catches(
        &journalling(false),
        &journalling(true),
        &plan,
        "no reading is skipped",
    );
}

/// The swarm with no settings catches it with a crash timed deep in a server's session.
#[test]
fn manifest_written_on_close_is_caught_by_the_swarm() {
    assert_caught(&journalling(false), "no reading is skipped");
}

/// The manifest written as a segment starts passes the swarm (`TCPNOTIFY_SEEDS` sweeps
/// more).
#[test]
fn manifest_written_at_rotation_passes_many_seeds() {
    assert_fix_passes_many(journalling(true));
}
