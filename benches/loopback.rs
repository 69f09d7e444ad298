//! tcpnotify against plain tokio over loopback, in one run:
//!
//! 1. **Echo throughput**: clients send `TCPNOTIFY_BENCH_BYTES` (default 1 GiB) in 16 KiB
//!    chunks to an echo server and count the bytes that come back (one connection per block,
//!    below). tcpnotify: a listener whose connections write back what they receive, and a
//!    client notifier that keeps writing until throttled (resuming on `unthrottled`) and
//!    closes once every byte came back. Plain tokio: a `TcpListener` whose connections
//!    `copy_buf` through a 16 KiB `BufReader` (tcpnotify's default read buffer size;
//!    `tokio::io::copy` would use 8 KiB), and a client that writes and reads 16 KiB chunks
//!    concurrently in one task. Both sides are one task per connection end, as tcpnotify runs
//!    them, and every socket has `TCP_NODELAY`.
//! 2. **Connection cycles**: `TCPNOTIFY_BENCH_CYCLES` (default 10,000) sequential cycles of
//!    connect, accept, client close (FIN), server close on end of stream, client sees end of
//!    stream. tcpnotify: a client notifier that calls `close` in `connected`, dialled with
//!    `connect` (a task of its own) and awaited with `finished`, then again (`cycles in task`)
//!    dialled with `connect_in_task` and run in the benchmark's task, the API for a caller that
//!    only awaits the end. Plain tokio: `connect`, `shutdown`, read to end, in the benchmark's
//!    task; the server reads to end and drops the stream.
//!
//! Both run on one multi-threaded tokio runtime with a worker per core (`TCPNOTIFY_BENCH_WORKERS`
//! overrides), and all of both run in worker tasks (`block_on` only waits for the benchmark
//! task), so neither side gets the main thread to itself. In a round each side does the whole
//! work (1 GiB, 10,000 cycles) in 8 blocks, the sides taking turns block by block, so both meet
//! the same machine state (a shared VM drifts; sockets in TIME_WAIT pile up). Each figure is the
//! best of `TCPNOTIFY_BENCH_ROUNDS` (default 5) rounds, with the slowest round shown too. Two
//! ratios are printed: the bests', and the median of the rounds' own ratios.
//!
//! `cargo bench --bench loopback`; for a quick check:
//! `TCPNOTIFY_BENCH_BYTES=64M TCPNOTIFY_BENCH_CYCLES=1000 cargo bench --bench loopback`.
//! `TCPNOTIFY_BENCH_ONLY=tokio` or `=tcpnotify` runs one side only (for `perf`); `=cycles`
//! races the connection cycles alone (both ways), without the echo before them; `=calibrate`,
//! `=r4`, `=r4-tcpnotify`, `=task` and `=task-tcpnotify` race other pairs of sides, to show
//! how far the machine, rule R4's yields, or a task per connection alone move a ratio, and
//! `=client`, `=client-in-task`, `=client-spawned` and `=server` race one end of tcpnotify's
//! cycles against plain tokio (see `diagnostic`). On a shared machine, running the bench at a
//! real-time priority (`chrt -f 10`, as root) gave steadier ratios than other processes' load
//! otherwise allows.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tcpnotify::TcpConnection;
use tokio::task::JoinHandle;

mod common;

use common::{
    chunk, notify_cycle, notify_server, stop_notify_server, tokio_cycle, tokio_drain_connection,
    tokio_echo_client, tokio_echo_client_yielding, tokio_echo_connection,
    tokio_echo_connection_yielding, tokio_server, BulkClient, Dial, Drain, EchoServer, CHUNK,
};

const MIB: f64 = 1024.0 * 1024.0;

/// Reads a size from the environment; accepts a `K`, `M` or `G` suffix (powers of 1024).
fn env_size(name: &str, default: u64) -> u64 {
    let Ok(text) = std::env::var(name) else {
        return default;
    };
    let text = text.trim();
    let (digits, scale) = match text.chars().last().map(|c| c.to_ascii_uppercase()) {
        Some('K') => (&text[..text.len() - 1], 1 << 10),
        Some('M') => (&text[..text.len() - 1], 1 << 20),
        Some('G') => (&text[..text.len() - 1], 1 << 30),
        _ => (text, 1),
    };
    match digits.trim().parse::<u64>() {
        Ok(n) if n > 0 => n * scale,
        _ => {
            eprintln!("{name}={text:?} is not a positive size; using {default}");
            default
        }
    }
}

// ---- the two sides, in turns ----

/// One side of a benchmark: a server on loopback, and a client that does `work` (bytes to
/// echo, or connection cycles) against it.
trait Side: Sized {
    async fn start() -> Self;
    /// Does `work` and returns how long it took.
    async fn run(&mut self, work: u64) -> Duration;
    async fn stop(self);
}

/// Blocks a round's work is split into, the two sides taking turns block by block.
const BLOCKS: u64 = 8;

/// One round: `work` through each side that runs, in [`BLOCKS`] blocks taken in turns (which
/// side goes first alternating), so both meet the same machine state; for one, thousands of
/// sockets pile up in TIME_WAIT as a round of connection cycles goes on and slow every
/// connect. Returns each side's total time.
async fn in_turns<T: Side, N: Side>(
    work: u64,
    round: u64,
    run_tokio: bool,
    run_notify: bool,
) -> (Option<Duration>, Option<Duration>) {
    let mut tokio = if run_tokio {
        Some(T::start().await)
    } else {
        None
    };
    let mut notify = if run_notify {
        Some(N::start().await)
    } else {
        None
    };
    let (mut tokio_time, mut notify_time) = (Duration::ZERO, Duration::ZERO);
    for block in 0..BLOCKS {
        let size = work / BLOCKS + u64::from(block < work % BLOCKS);
        let notify_first = (round + block) % 2 == 1;
        for notify_turn in [notify_first, !notify_first] {
            match (notify_turn, tokio.as_mut(), notify.as_mut()) {
                (false, Some(side), _) => tokio_time += side.run(size).await,
                (true, _, Some(side)) => notify_time += side.run(size).await,
                _ => {}
            }
        }
    }
    if let Some(side) = tokio {
        side.stop().await;
    }
    if let Some(side) = notify {
        side.stop().await;
    }
    (
        run_tokio.then_some(tokio_time),
        run_notify.then_some(notify_time),
    )
}

/// Every round's times, per side.
async fn every_round<T: Side, N: Side>(
    work: u64,
    rounds: u64,
    run_tokio: bool,
    run_notify: bool,
) -> (Vec<Duration>, Vec<Duration>) {
    let (mut tokio_runs, mut notify_runs) = (Vec::new(), Vec::new());
    for round in 0..rounds {
        let (tokio, notify) = in_turns::<T, N>(work, round, run_tokio, run_notify).await;
        tokio_runs.extend(tokio);
        notify_runs.extend(notify);
    }
    (tokio_runs, notify_runs)
}

// ---- echo ----

struct NotifyEcho {
    listener: tcpnotify::ListenerHandle,
    port: String,
    chunk: Vec<u8>,
}

impl Side for NotifyEcho {
    async fn start() -> Self {
        let (listener, port) = notify_server(|| Box::new(EchoServer)).await;
        NotifyEcho {
            listener,
            port,
            chunk: chunk(),
        }
    }

    async fn run(&mut self, bytes: u64) -> Duration {
        let result = Arc::new(AtomicU64::new(0));
        let client = BulkClient::new(self.chunk.clone(), bytes, result.clone());
        let start = Instant::now();
        TcpConnection::connect(client, "127.0.0.1", &self.port)
            .finished()
            .await;
        let elapsed = start.elapsed();
        assert_eq!(
            result.load(Ordering::Relaxed),
            bytes,
            "tcpnotify echo lost bytes"
        );
        elapsed
    }

    async fn stop(self) {
        stop_notify_server(self.listener).await;
    }
}

/// Plain tokio's echo; with `YIELDING`, both ends yield to the runtime after every 16 KiB read,
/// a Pony actor's schedule under R4 (`TCPNOTIFY_BENCH_ONLY=r4`: the yields alone's cost), which
/// a tcpnotify connection on tokio's sockets keeps only once its task's budget is spent.
struct TokioEchoOf<const YIELDING: bool> {
    addr: SocketAddr,
    server: JoinHandle<()>,
    chunk: Vec<u8>,
}

type TokioEcho = TokioEchoOf<false>;

impl<const YIELDING: bool> Side for TokioEchoOf<YIELDING> {
    async fn start() -> Self {
        let (addr, server) = match YIELDING {
            false => tokio_server(tokio_echo_connection).await,
            true => tokio_server(tokio_echo_connection_yielding).await,
        };
        TokioEchoOf {
            addr,
            server,
            chunk: chunk(),
        }
    }

    async fn run(&mut self, bytes: u64) -> Duration {
        let start = Instant::now();
        let echoed = match YIELDING {
            false => tokio_echo_client(self.addr, &self.chunk, bytes).await,
            true => tokio_echo_client_yielding(self.addr, &self.chunk, bytes).await,
        };
        let elapsed = start.elapsed();
        assert_eq!(echoed, bytes, "tokio echo lost bytes");
        elapsed
    }

    async fn stop(self) {
        self.server.abort();
    }
}

// ---- connection cycles ----

/// tcpnotify's connection cycles: each client dialled with `connect` (a task of its own) and
/// awaited with `finished`; with `IN_TASK`, dialled with `connect_in_task` and run in the
/// bench's task, as plain tokio's client runs (the API for a caller that only awaits the end).
struct NotifyCyclesOf<const IN_TASK: bool> {
    listener: tcpnotify::ListenerHandle,
    port: String,
    connected: Arc<AtomicU64>,
    dialled: u64,
}

type NotifyCycles = NotifyCyclesOf<false>;

impl<const IN_TASK: bool> Side for NotifyCyclesOf<IN_TASK> {
    async fn start() -> Self {
        let (listener, port) = notify_server(|| Box::new(Drain)).await;
        NotifyCyclesOf {
            listener,
            port,
            connected: Arc::new(AtomicU64::new(0)),
            dialled: 0,
        }
    }

    async fn run(&mut self, cycles: u64) -> Duration {
        let dial = if IN_TASK { Dial::InTask } else { Dial::Connect };
        let start = Instant::now();
        for _ in 0..cycles {
            notify_cycle(dial, &self.connected, &self.port).await;
        }
        self.dialled += cycles;
        start.elapsed()
    }

    async fn stop(self) {
        let connected = self.connected.load(Ordering::Relaxed);
        assert_eq!(connected, self.dialled, "tcpnotify cycles failed");
        stop_notify_server(self.listener).await;
    }
}

/// Plain tokio's connection cycles; with `SPAWNED`, each cycle's client runs in a task of its
/// own, awaited, as a tcpnotify connection runs in its task (`TCPNOTIFY_BENCH_ONLY=task`: what
/// the task per connection alone costs).
struct TokioCyclesOf<const SPAWNED: bool> {
    addr: SocketAddr,
    server: JoinHandle<()>,
}

type TokioCycles = TokioCyclesOf<false>;

impl<const SPAWNED: bool> Side for TokioCyclesOf<SPAWNED> {
    async fn start() -> Self {
        let (addr, server) = tokio_server(tokio_drain_connection).await;
        TokioCyclesOf { addr, server }
    }

    async fn run(&mut self, cycles: u64) -> Duration {
        let start = Instant::now();
        for _ in 0..cycles {
            match SPAWNED {
                false => tokio_cycle(self.addr).await,
                true => tokio::spawn(tokio_cycle(self.addr))
                    .await
                    .expect("cycle task"),
            }
        }
        start.elapsed()
    }

    async fn stop(self) {
        self.server.abort();
    }
}

/// How a [`HalfCyclesOf`] side runs the client of its cycles (a const parameter's value).
mod half {
    /// Plain tokio's client ([`super::tokio_cycle`]), against tcpnotify's listener.
    pub const TOKIO_CLIENT: u8 = 0;
    /// tcpnotify's client dialled with `connect` and awaited with `finished`.
    pub const CONNECT: u8 = 1;
    /// tcpnotify's client run with `connect_in_task` in the bench's task.
    pub const IN_TASK: u8 = 2;
    /// tcpnotify's `connect_in_task` future spawned and its `JoinHandle` awaited: a task per
    /// client as `connect` makes, without `finished`.
    pub const SPAWNED: u8 = 3;
}

/// One end of a cycle from each side, for the `client…` and `server` modes of
/// `TCPNOTIFY_BENCH_ONLY` (see [`diagnostic`]): a tcpnotify client run as `CLIENT` says against
/// plain tokio's server, or ([`half::TOKIO_CLIENT`]) plain tokio's client against tcpnotify's
/// listener. Raced against plain tokio at both ends, they show which end a gap comes from.
struct HalfCyclesOf<const CLIENT: u8> {
    server: HalfServer,
    /// The server's port, as tcpnotify dials it.
    port: String,
    connected: Arc<AtomicU64>,
}

/// The server of a [`HalfCyclesOf`].
enum HalfServer {
    Tokio(SocketAddr, JoinHandle<()>),
    Notify(tcpnotify::ListenerHandle, SocketAddr),
}

impl HalfServer {
    fn address(&self) -> SocketAddr {
        match self {
            HalfServer::Tokio(addr, _) | HalfServer::Notify(_, addr) => *addr,
        }
    }
}

impl<const CLIENT: u8> Side for HalfCyclesOf<CLIENT> {
    async fn start() -> Self {
        let server = if CLIENT == half::TOKIO_CLIENT {
            let (listener, port) = notify_server(|| Box::new(Drain)).await;
            let port: u16 = port.parse().expect("a port");
            HalfServer::Notify(listener, SocketAddr::from(([127, 0, 0, 1], port)))
        } else {
            let (addr, server) = tokio_server(tokio_drain_connection).await;
            HalfServer::Tokio(addr, server)
        };
        HalfCyclesOf {
            port: server.address().port().to_string(),
            server,
            connected: Arc::new(AtomicU64::new(0)),
        }
    }

    async fn run(&mut self, cycles: u64) -> Duration {
        let addr = self.server.address();
        // tcpnotify's client, or none: plain tokio's.
        let dial = match CLIENT {
            half::CONNECT => Some(Dial::Connect),
            half::IN_TASK => Some(Dial::InTask),
            half::SPAWNED => Some(Dial::Spawned),
            _ => None,
        };
        let start = Instant::now();
        for _ in 0..cycles {
            match dial {
                Some(dial) => notify_cycle(dial, &self.connected, &self.port).await,
                None => tokio_cycle(addr).await,
            }
        }
        start.elapsed()
    }

    async fn stop(self) {
        match self.server {
            HalfServer::Tokio(_, server) => server.abort(),
            HalfServer::Notify(listener, _) => stop_notify_server(listener).await,
        }
    }
}

// ---- report ----

/// Prints each side's best and slowest rate, the ratio of the bests, and the median of the
/// rounds' own ratios (round i of tcpnotify against round i of tokio, run back to back, so
/// drift in the machine's state, such as sockets piling up in TIME_WAIT, cancels out). A side
/// that did not run is left out.
fn report(what: &str, unit: &str, work: f64, tokio: &[Duration], notify: &[Duration]) {
    report_as(
        what,
        unit,
        work,
        [("plain tokio", tokio), ("tcpnotify  ", notify)],
    );
}

/// [`report`] with other names for the two sides.
fn report_as(what: &str, unit: &str, work: f64, sides: [(&str, &[Duration]); 2]) {
    let [(_, tokio), (_, notify)] = sides;
    let rate = |d: &Duration| work / d.as_secs_f64();
    let best = |runs: &[Duration]| runs.iter().min().map(rate);
    for (name, runs) in sides {
        if let (Some(best), Some(worst)) = (best(runs), runs.iter().max().map(rate)) {
            println!("{what:<17} {name} {best:10.1} {unit}  (slowest round {worst:.1})");
        }
    }
    let (Some(tokio_best), Some(notify_best)) = (best(tokio), best(notify)) else {
        return;
    };
    let mut paired: Vec<f64> = tokio
        .iter()
        .zip(notify)
        .map(|(t, n)| t.as_secs_f64() / n.as_secs_f64())
        .collect();
    paired.sort_by(f64::total_cmp);
    let median = paired[paired.len() / 2];
    println!(
        "{what:<17} ratio       {:10.3}  ({} / {}, best rounds; median of paired rounds {median:.3})",
        notify_best / tokio_best,
        sides[1].0.trim(),
        sides[0].0.trim(),
    );
}

/// Two sides raced as the benchmark races plain tokio and tcpnotify, for the diagnostic modes
/// of `TCPNOTIFY_BENCH_ONLY` (see [`diagnostic`]): `what` and `unit` name the figure, a side's
/// work is `work` units (`scale` converts them to the unit), `names` name the two sides.
async fn race<T: Side, N: Side>(
    (what, unit, scale): (&str, &str, f64),
    names: [&str; 2],
    (warm_up, work, rounds): (u64, u64, u64),
) {
    in_turns::<T, N>(warm_up, 0, true, true).await;
    let (first, second) = every_round::<T, N>(work, rounds, true, true).await;
    let sides = [(names[0], &first[..]), (names[1], &second[..])];
    report_as(what, unit, work as f64 * scale, sides);
}

/// Runs the diagnostic race `mode` names, if it names one, and says whether it did. `cycles` is
/// the benchmark's own cycle race alone (no 1 GiB echo first, whose minutes a shared machine's
/// load may change); each other shows how far something other than tcpnotify moves a ratio:
/// - `calibrate`: plain tokio's cycles against themselves (the machine alone);
/// - `r4`: plain tokio's echo against the same yielding to the runtime after every 16 KiB
///   read, a Pony actor's schedule under rule R4 (what those yields alone cost; a tcpnotify
///   connection on tokio goes on in the same poll while its task has budget), and
///   `r4-tcpnotify` that yielding echo against tcpnotify (what tcpnotify costs beyond them);
/// - `task`: plain tokio's cycles against the same with each client in a task of its own, as a
///   tcpnotify connection runs (a task per connection alone), and `task-tcpnotify` those
///   against tcpnotify;
/// - `client`, `client-in-task`, `client-spawned` and `server`: plain tokio's cycles against
///   half of tcpnotify's (see [`HalfCyclesOf`]): its client (dialled with `connect`, with
///   `connect_in_task`, or with `connect_in_task` in a spawned task) against plain tokio's
///   server, or plain tokio's client against its listener, to tell which end a gap is at.
fn diagnostic(mode: &str, bytes: u64, cycles: u64, rounds: u64) -> bool {
    let echo = ("echo throughput", "MiB/s", 1.0 / MIB);
    let echo_work = (bytes.min(16 << 20), bytes, rounds);
    let cycle = ("connect cycles", "cycles/s", 1.0);
    let cycle_work = (cycles.min(200), cycles, rounds);
    let (plain, yielding, spawned) = ("plain tokio", "yielding   ", "task/client");
    let runtime = runtime(cores_and_workers().1);
    // Spawned with concrete sides, so each future is known to be `Send`; everything runs in
    // worker tasks, as in the benchmark itself.
    let body = match mode {
        "cycles" => runtime.spawn(async move {
            race::<TokioCycles, NotifyCycles>(cycle, [plain, "tcpnotify  "], cycle_work).await;
            let in_task = ("cycles in task", "cycles/s", 1.0);
            race::<TokioCycles, NotifyCyclesOf<true>>(in_task, [plain, "tcpnotify  "], cycle_work)
                .await;
        }),
        "calibrate" => runtime.spawn(race::<TokioCycles, TokioCycles>(
            cycle,
            ["tokio (1st)", "tokio (2nd)"],
            cycle_work,
        )),
        "r4" => runtime.spawn(race::<TokioEcho, TokioEchoOf<true>>(
            echo,
            [plain, yielding],
            echo_work,
        )),
        "r4-tcpnotify" => runtime.spawn(race::<TokioEchoOf<true>, NotifyEcho>(
            echo,
            [yielding, "tcpnotify  "],
            echo_work,
        )),
        "task" => runtime.spawn(race::<TokioCycles, TokioCyclesOf<true>>(
            cycle,
            [plain, spawned],
            cycle_work,
        )),
        "client" => runtime.spawn(race::<TokioCycles, HalfCyclesOf<{ half::CONNECT }>>(
            cycle,
            [plain, "tcpn client"],
            cycle_work,
        )),
        "client-in-task" => runtime.spawn(race::<TokioCycles, HalfCyclesOf<{ half::IN_TASK }>>(
            cycle,
            [plain, "tcpn client"],
            cycle_work,
        )),
        "client-spawned" => runtime.spawn(race::<TokioCycles, HalfCyclesOf<{ half::SPAWNED }>>(
            cycle,
            [plain, "tcpn client"],
            cycle_work,
        )),
        "server" => runtime.spawn(race::<TokioCycles, HalfCyclesOf<{ half::TOKIO_CLIENT }>>(
            cycle,
            [plain, "tcpn server"],
            cycle_work,
        )),
        "task-tcpnotify" => runtime.spawn(race::<TokioCyclesOf<true>, NotifyCycles>(
            cycle,
            [spawned, "tcpnotify  "],
            cycle_work,
        )),
        _ => return false,
    };
    println!(
        "{mode}: {bytes} bytes, {cycles} cycles, {rounds} round(s), {} worker(s)",
        cores_and_workers().1
    );
    runtime.block_on(body).expect("diagnostic task");
    true
}

/// The machine's cores, and the workers to run: one per core (`TCPNOTIFY_BENCH_WORKERS`
/// overrides).
fn cores_and_workers() -> (usize, usize) {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    (
        cores,
        env_size("TCPNOTIFY_BENCH_WORKERS", cores as u64) as usize,
    )
}

/// A multi-threaded runtime with `workers` workers.
fn runtime(workers: usize) -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(workers)
        .enable_all()
        .build()
        .expect("runtime")
}

fn main() {
    let bytes = env_size("TCPNOTIFY_BENCH_BYTES", 1 << 30);
    let cycles = env_size("TCPNOTIFY_BENCH_CYCLES", 10_000);
    let rounds = env_size("TCPNOTIFY_BENCH_ROUNDS", 5);
    // "tokio" or "tcpnotify" runs one side only, to profile it; the diagnostic modes race
    // other pairs of sides.
    let only = std::env::var("TCPNOTIFY_BENCH_ONLY").unwrap_or_default();
    if diagnostic(&only, bytes, cycles, rounds) {
        return;
    }
    let (run_tokio, run_notify) = (only != "tcpnotify", only != "tokio");
    let (cores, workers) = cores_and_workers();
    let runtime = runtime(workers);
    println!(
        "loopback: {bytes} bytes ({:.1} MiB) echoed in {CHUNK}-byte chunks, \
         {cycles} connection cycles, {rounds} round(s), {cores} core(s), {workers} worker(s)",
        bytes as f64 / MIB
    );

    // Everything runs in worker tasks, as a server's code would; `block_on` only waits.
    let body = runtime.spawn(async move {
        // Warm-up: first connections, allocator and page faults.
        in_turns::<TokioEcho, NotifyEcho>(bytes.min(16 << 20), 0, run_tokio, run_notify).await;
        in_turns::<TokioCycles, NotifyCycles>(cycles.min(200), 0, run_tokio, run_notify).await;

        let (tokio, notify) =
            every_round::<TokioEcho, NotifyEcho>(bytes, rounds, run_tokio, run_notify).await;
        report(
            "echo throughput",
            "MiB/s",
            bytes as f64 / MIB,
            &tokio,
            &notify,
        );
        let (tokio, notify) =
            every_round::<TokioCycles, NotifyCycles>(cycles, rounds, run_tokio, run_notify).await;
        report("connect cycles", "cycles/s", cycles as f64, &tokio, &notify);
        let (tokio, notify) =
            every_round::<TokioCycles, NotifyCyclesOf<true>>(cycles, rounds, run_tokio, run_notify)
                .await;
        report("cycles in task", "cycles/s", cycles as f64, &tokio, &notify);
    });
    runtime.block_on(body).expect("benchmark task");
}
