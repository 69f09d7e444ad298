//! How a simulation's cost grows with its connections and with its hosts (issue 12, item 3).
//!
//! - **Connections**: N connections in one simulation, spread over 10 listeners' hosts and
//!   10 clients' hosts (√N listeners, each with N/√N clients; each client echoes 1 KiB through
//!   its listener, 1–5 ms latency, no fault firing, integrity check on), for N = 100, 1,000,
//!   10,000.
//! - **Idle hosts**: one echo connection beside K hosts that run nothing, through tcpnotify and
//!   through raw turmoil side by side, for K = 100, 200, 400, 800, 2,000
//!   (`TCPNOTIFY_SCALE_HOSTS` sets the list; raw turmoil runs up to
//!   `TCPNOTIFY_SCALE_RAW_MAX` hosts, default 800: its time grows with the cube of the hosts).
//! - **Busy hosts**: K hosts with one client each, echoing 1 KiB through one server, through
//!   tcpnotify and raw turmoil, for K = 25, 50, 100, 200 (`TCPNOTIFY_SCALE_BUSY`): hosts that
//!   run something are turmoil's, and cost what turmoil's hosts cost.
//!
//! Each size runs in a child process of its own, so the peak memory it prints (its `VmHWM`) is that size's alone. Prints wall time, CPU time (user and system:
//! steadier than wall time on a shared machine), trace events per CPU second, peak memory,
//! and their growth against the size before.
//!
//! `cargo bench -p tcpnotify-sim --bench scale`; `TCPNOTIFY_SCALE_ONLY=conns|hosts` runs one
//! part; `TCPNOTIFY_SCALE_CONNS` sets the connection counts (default `100,1000,10000`).

mod common;

use common::raw_echo::{echo_client, echo_plan, echo_simulation};
use common::{cpu_secs, peak_mib};
use std::process::Command;
use std::time::Instant;
use tcpnotify_sim::notifiers::{Echo, Sender};
use tcpnotify_sim::{factory, Scenario, Seed};

const CHILD: &str = "TCPNOTIFY_SCALE_CHILD";
const ECHO_BYTES: usize = 1024;

/// `conns` connections: ⌈√conns⌉ listeners over 10 hosts, their clients over 10 more.
fn connections(conns: usize) -> Scenario {
    let listeners = (1..).find(|l| l * l >= conns).unwrap_or(1);
    let mut scenario = Scenario::new("scale");
    for l in 0..listeners {
        scenario = scenario.listener(
            &format!("s{l}"),
            &format!("server{}", l % 10),
            7000 + l as u16,
            factory(|| Echo),
        );
    }
    for c in 0..conns {
        let l = c % listeners;
        scenario = scenario.client(
            &format!("c{c}"),
            &format!("client{}", c % 10),
            &format!("server{}", l % 10),
            7000 + l as u16,
            factory(|| Sender::pattern(ECHO_BYTES)),
        );
    }
    scenario.duration_ms(60_000).plan(echo_plan())
}

/// One echo connection and `idle` hosts that run nothing.
fn idle_hosts(idle: usize) -> Scenario {
    let mut scenario = Scenario::new("idle-hosts")
        .listener("server", "server", 7000, factory(|| Echo))
        .client(
            "c0",
            "client",
            "server",
            7000,
            factory(|| Sender::pattern(ECHO_BYTES)),
        );
    for h in 0..idle {
        scenario = scenario.host(&format!("idle{h}"));
    }
    scenario.duration_ms(60_000).plan(echo_plan())
}

/// `hosts` hosts with one client each, echoing through one server.
fn busy_hosts(hosts: usize) -> Scenario {
    let mut scenario =
        Scenario::new("busy-hosts").listener("server", "server", 7000, factory(|| Echo));
    for h in 0..hosts {
        scenario = scenario.client(
            &format!("c{h}"),
            &format!("client{h}"),
            "server",
            7000,
            factory(|| Sender::pattern(ECHO_BYTES)),
        );
    }
    scenario.duration_ms(60_000).plan(echo_plan())
}

/// Runs `scenario` once; returns its trace's length.
fn through_tcpnotify(scenario: &Scenario) -> usize {
    let plan = scenario.plan_for(Seed(1));
    let outcome = tcpnotify_sim::run::run(scenario, &plan).expect("valid scenario");
    assert_eq!(outcome.ended, tcpnotify_sim::run::Ended::AllFinished);
    outcome.trace.len()
}

/// The same as [`idle_hosts`] in raw turmoil: one echo, `idle` hosts parked on a pending future.
fn raw_idle_hosts(idle: usize) -> usize {
    let mut sim = echo_simulation(2);
    for h in 0..idle {
        sim.host(format!("idle{h}"), || async {
            std::future::pending::<()>().await;
            Ok(())
        });
    }
    sim.client("client", echoing(ECHO_BYTES));
    if let Err(e) = sim.run() {
        panic!("raw turmoil run failed: {e}");
    }
    0
}

/// The same as [`busy_hosts`] in raw turmoil.
fn raw_busy_hosts(hosts: usize) -> usize {
    let mut sim = echo_simulation(hosts + 1);
    for h in 0..hosts {
        sim.client(format!("client{h}"), echoing(ECHO_BYTES));
    }
    if let Err(e) = sim.run() {
        panic!("raw turmoil run failed: {e}");
    }
    0
}

/// A raw turmoil client's software: one [`echo_client`] of `bytes`.
async fn echoing(bytes: usize) -> turmoil::Result {
    echo_client(bytes).await?;
    Ok(())
}

/// In a child: runs one size and prints `wall_s events peak_mib`.
fn child(spec: &str) {
    let (what, n) = spec.split_once(':').expect("what:n");
    let n: usize = n.parse().expect("a size");
    let scenario = match what {
        "conns" => Some(connections(n)),
        "hosts" => Some(idle_hosts(n)),
        "busy" => Some(busy_hosts(n)),
        _ => None,
    };
    let start = Instant::now();
    let events = match (scenario, what) {
        (Some(scenario), _) => through_tcpnotify(&scenario),
        (None, "raw-busy") => raw_busy_hosts(n),
        (None, _) => raw_idle_hosts(n),
    };
    let wall = start.elapsed().as_secs_f64();
    println!("{wall} {events} {} {}", peak_mib(), cpu_secs());
}

/// A size's figures, from its child process.
#[derive(Clone, Copy)]
struct Figures {
    wall: f64,
    events: usize,
    peak: f64,
    cpu: f64,
}

/// Runs one size in a child process.
fn measure(what: &str, n: usize) -> Figures {
    let exe = std::env::current_exe().expect("the bench binary");
    let out = Command::new(exe)
        .env(CHILD, format!("{what}:{n}"))
        .output()
        .expect("run the child");
    assert!(
        out.status.success(),
        "{what} {n} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    let fields: Vec<&str> = text.split_whitespace().collect();
    Figures {
        wall: fields[0].parse().expect("wall"),
        events: fields[1].parse().expect("events"),
        peak: fields[2].parse().expect("peak"),
        cpu: fields[3].parse().expect("cpu"),
    }
}

fn sizes(var: &str, default: &[usize]) -> Vec<usize> {
    std::env::var(var)
        .ok()
        .map(|s| s.split(',').filter_map(|n| n.trim().parse().ok()).collect())
        .unwrap_or_else(|| default.to_vec())
}

fn main() {
    if let Ok(spec) = std::env::var(CHILD) {
        child(&spec);
        return;
    }
    let only = std::env::var("TCPNOTIFY_SCALE_ONLY").unwrap_or_default();
    if only.is_empty() || only == "conns" {
        println!("connections in one simulation (1 KiB echo each, 20 hosts, integrity on)");
        println!(
            "{:>7} {:>8} {:>8} {:>8} {:>11} {:>9}   growth vs the size before: size, CPU, peak",
            "conns", "wall s", "CPU s", "events", "events/CPUs", "peak MiB"
        );
        let mut previous: Option<(usize, Figures)> = None;
        for n in sizes("TCPNOTIFY_SCALE_CONNS", &[100, 1000, 10_000]) {
            let f = measure("conns", n);
            let growth = previous.map_or(String::new(), |(pn, p)| {
                format!(
                    "x{:.1}, x{:.1}, x{:.1}",
                    n as f64 / pn as f64,
                    f.cpu / p.cpu,
                    f.peak / p.peak
                )
            });
            println!(
                "{n:>7} {:>8.3} {:>8.3} {:>8} {:>11.0} {:>9.1}   {growth}",
                f.wall,
                f.cpu,
                f.events,
                f.events as f64 / f.cpu,
                f.peak
            );
            previous = Some((n, f));
        }
    }
    let raw_max = sizes("TCPNOTIFY_SCALE_RAW_MAX", &[800])
        .first()
        .copied()
        .unwrap_or(800);
    if only.is_empty() || only == "hosts" {
        println!(
            "idle hosts beside one 1 KiB echo: tcpnotify and raw turmoil, each its own process"
        );
        side_by_side(
            ("hosts", "raw-idle"),
            &sizes("TCPNOTIFY_SCALE_HOSTS", &[100, 200, 400, 800, 2000]),
            raw_max,
        );
    }
    if only.is_empty() || only == "busy" {
        println!(
            "hosts with one client each, 1 KiB echo through one server: tcpnotify and raw turmoil"
        );
        side_by_side(
            ("busy", "raw-busy"),
            &sizes("TCPNOTIFY_SCALE_BUSY", &[25, 50, 100, 200]),
            raw_max,
        );
    }
}

/// Measures each size through tcpnotify (`ours`) and raw turmoil (`raw`, up to `raw_max`)
/// and prints both, with each one's growth against the size before.
fn side_by_side((ours_kind, raw_kind): (&str, &str), sizes: &[usize], raw_max: usize) {
    println!(
        "{:>7} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9}   growth vs the size before: size, our CPU, raw CPU",
        "hosts", "ours wall", "raw wall", "ours CPU", "raw CPU", "ours MiB", "raw MiB"
    );
    let mut previous: Option<(usize, Figures, Option<Figures>)> = None;
    for &n in sizes {
        let ours = measure(ours_kind, n);
        let raw = (n <= raw_max).then(|| measure(raw_kind, n));
        // Raw turmoil's figure, or `-` past `raw_max`.
        let show = |value: fn(&Figures) -> f64, precision: usize| match raw {
            Some(f) => format!("{:>9.precision$}", value(&f)),
            None => format!("{:>9}", "-"),
        };
        let growth = previous.map_or(String::new(), |(pn, p, praw)| {
            let raw_growth = match (raw, praw) {
                (Some(r), Some(pr)) => format!("x{:.1}", r.cpu / pr.cpu),
                _ => "-".into(),
            };
            format!(
                "x{:.1}, x{:.1}, {raw_growth}",
                n as f64 / pn as f64,
                ours.cpu / p.cpu
            )
        });
        println!(
            "{n:>7} {:>9.3} {} {:>9.3} {} {:>9.1} {}   {growth}",
            ours.wall,
            show(|f| f.wall, 3),
            ours.cpu,
            show(|f| f.cpu, 3),
            ours.peak,
            show(|f| f.peak, 1),
        );
        previous = Some((n, ours, raw));
    }
}
