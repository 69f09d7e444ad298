//! Overhead of tcpnotify over the fault layer against raw turmoil, on the same echo workload
//! (issue 12, items 1 and 2): clients each echo their bytes through one server, with 1..5ms
//! latency, no faults firing, at three sizes: 10 clients × 1 MiB, 100 × 64 KiB, 1,000 × 4 KiB
//! (clients spread over at most 10 hosts, in both). Raw turmoil gets the capacity tcpnotify's
//! run gives turmoil (`tcp_capacity`), so it does not hit its own wall at 1,000 clients.
//!
//! Three variants: raw turmoil; tcpnotify with the stream-integrity check off; tcpnotify with
//! default options (the check on). Each round runs the three once, in an order that rotates
//! from round to round, so they meet the same state of the machine; a ratio is taken within
//! each round and the median and range of those are printed, of wall time and of CPU time
//! (user and system, which a machine shared with other work disturbs far less), beside each
//! variant's medians.
//!
//! Then the same rounds again with each run in a fresh process of its own, as the issue
//! measured whole processes: the child times its one run (not its start, its scenario
//! building or its exit, which are the same for every variant) and reports it. Runs in one
//! process share what earlier runs left behind: the allocator's free lists, memory already
//! faulted in. A fresh process pays for its memory as a single `tcpnotify-sim run` does. Peak
//! memory is the median of those processes' own (`VmHWM`).
//!
//! `cargo bench -p tcpnotify-sim --bench overhead`; `TCPNOTIFY_BENCH_RUNS` sets the rounds (5),
//! `TCPNOTIFY_BENCH_SIZES=10,100` the sizes by client count, `TCPNOTIFY_BENCH_PROFILE=
//! raw|plain|integrity[:clients]` runs only that variant (for a profiler).

mod common;

use common::raw_echo::{echo_client, echo_plan, echo_simulation, CHUNK};
use common::{median, peak_mib, range, timed};
use std::process::Command;
use tcpnotify_sim::notifiers::{Echo, Sender};
use tcpnotify_sim::{factory, Scenario, Seed};

const CLIENT_HOSTS: usize = 10;
const CHILD: &str = "TCPNOTIFY_BENCH_CHILD";

/// A workload: how many clients, and how many bytes each echoes.
#[derive(Clone, Copy)]
struct Size {
    clients: usize,
    bytes: usize,
}

const SIZES: [Size; 3] = [
    Size {
        clients: 10,
        bytes: 1024 * 1024,
    },
    Size {
        clients: 100,
        bytes: 64 * 1024,
    },
    Size {
        clients: 1000,
        bytes: 4 * 1024,
    },
];

#[derive(Clone, Copy, PartialEq, Eq)]
enum Variant {
    Raw,
    Plain,
    Integrity,
}

const VARIANTS: [Variant; 3] = [Variant::Raw, Variant::Plain, Variant::Integrity];

impl Variant {
    fn name(self) -> &'static str {
        match self {
            Variant::Raw => "raw",
            Variant::Plain => "plain",
            Variant::Integrity => "integrity",
        }
    }

    fn parse(s: &str) -> Option<Variant> {
        VARIANTS.into_iter().find(|v| v.name() == s)
    }
}

/// Raw turmoil: one server spawning an echo task per connection; each client host runs its
/// share of the clients as tasks, each checking its echo byte for byte as `Sender` does.
fn raw_turmoil(size: Size) {
    let hosts = size.clients.min(CLIENT_HOSTS);
    let mut sim = echo_simulation(hosts + 1);
    for h in 0..hosts {
        let mine = (h..size.clients).step_by(hosts).count();
        sim.client(format!("client{h}"), async move {
            let clients = (0..mine).map(|_| tokio::spawn(echo_client(size.bytes)));
            for client in clients.collect::<Vec<_>>() {
                client.await??;
            }
            Ok(())
        });
    }
    if let Err(e) = sim.run() {
        panic!("raw turmoil run failed: {e}");
    }
}

fn scenario(size: Size, check_integrity: bool) -> Scenario {
    let mut scenario =
        Scenario::new("overhead").listener("server", "server", 7000, factory(|| Echo));
    let hosts = size.clients.min(CLIENT_HOSTS);
    for i in 0..size.clients {
        let bytes = size.bytes;
        scenario = scenario.client(
            &format!("c{i}"),
            &format!("client{}", i % hosts),
            "server",
            7000,
            factory(move || Sender::pattern(bytes).chunked(CHUNK)),
        );
    }
    scenario.options.check_integrity = check_integrity;
    scenario.duration_ms(600_000).plan(echo_plan())
}

fn through_tcpnotify(scenario: &Scenario) {
    let plan = scenario.plan_for(Seed(1));
    let outcome = tcpnotify_sim::run::run(scenario, &plan).expect("valid scenario");
    assert_eq!(outcome.ended, tcpnotify_sim::run::Ended::AllFinished);
    assert!(outcome.fired.is_empty(), "no fault may fire");
}

/// Runs `variant` at `size` once.
fn run_once(variant: Variant, size: Size, scenarios: &[Scenario; 2]) {
    match variant {
        Variant::Raw => raw_turmoil(size),
        Variant::Plain => through_tcpnotify(&scenarios[0]),
        Variant::Integrity => through_tcpnotify(&scenarios[1]),
    }
}

/// `variant:clients`, as the profile and child variables give them.
fn parse_spec(spec: &str) -> Option<(Variant, Size)> {
    let (variant, clients) = spec.split_once(':').unwrap_or((spec, "10"));
    let clients: usize = clients.parse().ok()?;
    let size = SIZES.into_iter().find(|s| s.clients == clients)?;
    Some((Variant::parse(variant)?, size))
}

/// One run of `variant` at `size` in a fresh child process: its wall time and CPU time in
/// seconds, and the child's peak memory in MiB.
fn child_run(variant: Variant, size: Size) -> (f64, f64, f64) {
    let exe = std::env::current_exe().expect("the bench binary");
    let out = Command::new(exe)
        .env(CHILD, format!("{}:{}", variant.name(), size.clients))
        .output()
        .expect("run the child");
    assert!(
        out.status.success(),
        "child failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    let figures: Result<Vec<f64>, _> = text.split_whitespace().map(str::parse).collect();
    match figures.as_deref() {
        Ok(&[wall, cpu, peak]) => (wall, cpu, peak),
        _ => panic!("the child printed {text:?}, not `wall cpu peak`"),
    }
}

/// Each variant's wall and CPU times (in seconds), one entry per round.
#[derive(Default)]
struct Rounds {
    wall: [Vec<f64>; 3],
    cpu: [Vec<f64>; 3],
}

impl Rounds {
    /// Runs `runs` rounds of the three variants, in an order that rotates from round to
    /// round; `once` runs one (given with its index in [`VARIANTS`]) and gives its wall and
    /// CPU time.
    fn measure(runs: usize, mut once: impl FnMut(usize, Variant) -> (f64, f64)) -> Self {
        let mut rounds = Rounds::default();
        for round in 0..runs {
            for k in 0..3 {
                let v = (round + k) % 3;
                let (wall, cpu) = once(v, VARIANTS[v]);
                rounds.wall[v].push(wall);
                rounds.cpu[v].push(cpu);
            }
        }
        rounds
    }

    /// Each variant's medians (and peak memory, where these rounds measured it), then the
    /// ratios the targets name.
    fn print(&self, peaks: Option<&[f64; 3]>) {
        for (v, variant) in VARIANTS.iter().enumerate() {
            let peak = peaks.map_or(String::new(), |p| format!("  peak {:>7.1} MiB", p[v]));
            println!(
                "  {:<10} wall {:>8.1} ms  CPU {:>8.1} ms (medians){peak}",
                variant.name(),
                median(&mut self.wall[v].clone()) * 1e3,
                median(&mut self.cpu[v].clone()) * 1e3,
            );
        }
        let ratios = |t: &[Vec<f64>; 3], a: usize, b: usize| -> Vec<f64> {
            t[a].iter().zip(&t[b]).map(|(x, y)| x / y).collect()
        };
        for (label, a, b, target) in [
            ("plain / raw", 1, 0, "-"),
            ("default (integrity) / raw", 2, 0, "<= 1.05"),
            ("integrity / plain", 2, 1, "<= 1.05"),
        ] {
            let mut wall = ratios(&self.wall, a, b);
            let mut cpu = ratios(&self.cpu, a, b);
            let ((wl, wh), (cl, ch)) = (range(&wall), range(&cpu));
            println!(
                "  {label:<26} wall {:.3} [{wl:.3}..{wh:.3}]  CPU {:.3} [{cl:.3}..{ch:.3}]  \
                 target {target}",
                median(&mut wall),
                median(&mut cpu)
            );
        }
        if let Some(peaks) = peaks {
            println!(
                "  {:<26} {:.3}  target <= 1.2",
                "peak memory default / raw",
                peaks[2] / peaks[0]
            );
        }
    }
}

fn main() {
    if let Some((variant, size)) = std::env::var(CHILD).ok().and_then(|s| parse_spec(&s)) {
        let scenarios = [scenario(size, false), scenario(size, true)];
        let ((), wall, cpu) = timed(|| run_once(variant, size, &scenarios));
        println!("{wall} {cpu} {}", peak_mib());
        return;
    }
    let runs = std::env::var("TCPNOTIFY_BENCH_RUNS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(5usize)
        .max(1);
    if let Ok(spec) = std::env::var("TCPNOTIFY_BENCH_PROFILE") {
        let (variant, size) = parse_spec(&spec).expect("raw|plain|integrity[:10|100|1000]");
        let scenarios = [scenario(size, false), scenario(size, true)];
        for _ in 0..runs {
            run_once(variant, size, &scenarios);
        }
        return;
    }
    let wanted: Option<Vec<usize>> = std::env::var("TCPNOTIFY_BENCH_SIZES")
        .ok()
        .map(|s| s.split(',').filter_map(|n| n.trim().parse().ok()).collect());
    println!("echo through one server, latency 1..5ms, no fault firing; {runs} interleaved rounds");
    println!("ratios: median [min..max] of the rounds' own ratios");
    for size in SIZES {
        if wanted.as_ref().is_some_and(|w| !w.contains(&size.clients)) {
            continue;
        }
        let scenarios = [scenario(size, false), scenario(size, true)];
        for variant in VARIANTS {
            run_once(variant, size, &scenarios); // warm-up
        }
        let in_process = Rounds::measure(runs, |_, variant| {
            let ((), wall, cpu) = timed(|| run_once(variant, size, &scenarios));
            (wall, cpu)
        });
        let mut peaks: [Vec<f64>; 3] = Default::default();
        let processes = Rounds::measure(runs, |v, variant| {
            let (wall, cpu, peak) = child_run(variant, size);
            peaks[v].push(peak);
            (wall, cpu)
        });
        let peaks = peaks.map(|mut p| median(&mut p));
        println!("\n{} clients x {} KiB", size.clients, size.bytes / 1024);
        println!(" rounds in one process:");
        in_process.print(None);
        println!(" one run per fresh process:");
        processes.print(Some(&peaks));
    }
}
