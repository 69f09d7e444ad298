//! Seeds per second of a sweep of the default chaos scenario (`scenarios/chaos-echo.toml`), on
//! 1 job and on 2, and the speed-up (issue 12, item 5; target: at least 1.9 on 2 jobs).
//!
//! Each round sweeps the same seeds once on 1 job, once on 2, and once as two separate 1-job
//! processes started together, in an order that rotates from round to round, so all three meet
//! the same state of the machine; ratios are taken within each round, and the median and
//! range of those are printed.
//!
//! The two side-by-side processes share nothing but the machine, so the seeds per second
//! they make together over 1 job alone is the most any 2-job sweep can reach on it (the
//! machine's ceiling): on a VM whose cores slow each other down, it is below 2.0. The 2-job
//! sweep's share of that ceiling is then what the sweep itself costs.
//!
//! The bench also prints seeds per CPU-second (user and system time of the process) on each
//! sweep: their ratio, the parallel efficiency, says what 2 jobs cost beyond 1 in work. The
//! other factor of the speed-up is how many cores each sweep kept busy (CPU time over wall
//! time): the speed-up is the efficiency times the ratio of the two, so a 2-job sweep below
//! 2.0 busy cores lost time waiting (for a core taken by other work, or at its start or end),
//! not in extra work.
//!
//! `cargo bench -p tcpnotify-sim --bench sweep`; `TCPNOTIFY_BENCH_RUNS` sets the rounds (6),
//! `TCPNOTIFY_BENCH_SEEDS` the seeds per sweep (600).

mod common;

use common::{median, range, timed};
use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use tcpnotify_sim::explore::{sweep, SweepOptions};
use tcpnotify_sim::{Registry, ScenarioFile};

/// Set in the processes the bench starts for the side-by-side sweeps.
const CHILD: &str = "TCPNOTIFY_BENCH_SWEEP_CHILD";

fn env(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(default)
}

fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "unknown".into())
}

/// One sweep's seeds per second, seeds per CPU-second, and cores kept busy.
#[derive(Debug, Clone, Copy)]
struct Rate {
    seeds_per_sec: f64,
    per_cpu_sec: f64,
    busy: f64,
}

/// Sweeps seeds `0..seeds` of `file` on `jobs` jobs in this process.
fn rate(file: &ScenarioFile, seeds: u64, jobs: usize) -> Rate {
    let options = SweepOptions {
        jobs,
        keep_going: true,
        ..SweepOptions::new(0..seeds)
    };
    let (report, secs, cpu) = timed(|| sweep(&file.scenario, &options));
    assert_eq!(report.seeds_run as u64, seeds, "every seed ran");
    assert!(report.passed(), "the chaos scenario passes every seed");
    Rate {
        seeds_per_sec: seeds as f64 / secs,
        per_cpu_sec: seeds as f64 / cpu,
        busy: cpu / secs,
    }
}

/// A side-by-side process: warms up, says `ready`, sweeps on 1 job when told `go` on its
/// stdin, and prints its seeds per second.
fn child(file: &ScenarioFile, seeds: u64) {
    rate(file, (seeds / 4).max(2), 1);
    println!("ready");
    let mut go = String::new();
    std::io::stdin().read_line(&mut go).expect("the bench's go");
    println!("{}", rate(file, seeds, 1).seeds_per_sec);
}

/// Two 1-job sweeps in two processes of this bench, started together once both are warm:
/// the seeds per second they make together.
fn side_by_side(seeds: u64) -> f64 {
    let exe = std::env::current_exe().expect("the bench's own path");
    let spawn = || -> (Child, BufReader<std::process::ChildStdout>) {
        let mut child = Command::new(&exe)
            .args(std::env::args_os().skip(1))
            .env(CHILD, "1")
            .env("TCPNOTIFY_BENCH_SEEDS", seeds.to_string())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("a side-by-side sweep process");
        let out = BufReader::new(child.stdout.take().expect("its stdout"));
        (child, out)
    };
    let mut children = [spawn(), spawn()];
    let line = |out: &mut BufReader<_>| {
        let mut line = String::new();
        out.read_line(&mut line)
            .expect("a side-by-side process's line");
        line.trim().to_string()
    };
    for (_, out) in &mut children {
        assert_eq!(line(out), "ready", "a side-by-side process warmed up");
    }
    for (child, _) in &mut children {
        let stdin = child.stdin.as_mut().expect("its stdin");
        stdin.write_all(b"go\n").expect("its go");
    }
    let mut together = 0.0;
    for (child, out) in &mut children {
        let rate: f64 = line(out).parse().expect("seeds per second");
        assert!(child.wait().expect("its exit").success(), "it swept");
        together += rate;
    }
    together
}

/// Median, lowest and highest.
fn summary(v: &mut [f64]) -> (f64, f64, f64) {
    let (lo, hi) = range(v);
    (median(v), lo, hi)
}

fn main() {
    let rounds = env("TCPNOTIFY_BENCH_RUNS", 6).max(1);
    let seeds = env("TCPNOTIFY_BENCH_SEEDS", 600).max(2);
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios/chaos-echo.toml");
    let file = ScenarioFile::load(&path, &Registry::builtin()).expect("the chaos scenario");
    if std::env::var_os(CHILD).is_some() {
        return child(&file, seeds);
    }
    rate(&file, seeds, 2); // warm-up
    println!(
        "sweep of {} over seeds 0..{seeds}, {rounds} rounds in rotating order",
        file.scenario.name
    );
    let (mut one, mut two, mut speedups, mut efficiency) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let (mut busy_one, mut busy_two) = (Vec::new(), Vec::new());
    let (mut ceilings, mut of_ceiling) = (Vec::new(), Vec::new());
    for round in 0..rounds {
        let (mut a, mut b, mut pair) = (None, None, None);
        for arm in 0..3 {
            match (arm + round) % 3 {
                0 => a = Some(rate(&file, seeds, 1)),
                1 => b = Some(rate(&file, seeds, 2)),
                _ => pair = Some(side_by_side(seeds)),
            }
        }
        let (a, b, pair) = (a.unwrap(), b.unwrap(), pair.unwrap());
        let (speedup, ceiling) = (b.seeds_per_sec / a.seeds_per_sec, pair / a.seeds_per_sec);
        println!(
            "  round {round}: 1 job {:>6.0} seeds/s ({:>5.0}/CPU-s, {:.2} busy)  2 jobs {:>6.0} \
             seeds/s ({:>5.0}/CPU-s, {:.2} busy)  side by side {pair:>6.0} seeds/s  speed-up \
             {speedup:.2} (ceiling {ceiling:.2})  efficiency {:.2}  (load average {})",
            a.seeds_per_sec,
            a.per_cpu_sec,
            a.busy,
            b.seeds_per_sec,
            b.per_cpu_sec,
            b.busy,
            b.per_cpu_sec / a.per_cpu_sec,
            load_average()
        );
        one.push(a.seeds_per_sec);
        two.push(b.seeds_per_sec);
        speedups.push(speedup);
        efficiency.push(b.per_cpu_sec / a.per_cpu_sec);
        busy_one.push(a.busy);
        busy_two.push(b.busy);
        ceilings.push(ceiling);
        of_ceiling.push(speedup / ceiling);
    }
    let (m1, l1, h1) = summary(&mut one);
    let (m2, l2, h2) = summary(&mut two);
    let (ms, ls, hs) = summary(&mut speedups);
    let (me, le, he) = summary(&mut efficiency);
    let (mb1, lb1, hb1) = summary(&mut busy_one);
    let (mb2, lb2, hb2) = summary(&mut busy_two);
    let (mc, lc, hc) = summary(&mut ceilings);
    let (mo, lo, ho) = summary(&mut of_ceiling);
    println!("1 job   {m1:.0} seeds/s (median; {l1:.0}..{h1:.0})");
    println!("2 jobs  {m2:.0} seeds/s (median; {l2:.0}..{h2:.0})");
    println!("speed-up {ms:.2} (median; {ls:.2}..{hs:.2})  target >= 1.9");
    println!(
        "machine's ceiling (two 1-job processes side by side / 1 job): {mc:.2} (median; \
         {lc:.2}..{hc:.2}); 2 jobs reach {mo:.2} of it (median; {lo:.2}..{ho:.2})"
    );
    println!(
        "seeds per CPU-second, 2 jobs / 1 job: {me:.2} (median; {le:.2}..{he:.2}): 2 jobs reach \
         at most {:.2}x on 2 free cores",
        2.0 * me
    );
    println!(
        "cores kept busy (CPU time / wall time): 1 job {mb1:.2} (median; {lb1:.2}..{hb1:.2}), \
         2 jobs {mb2:.2} (median; {lb2:.2}..{hb2:.2}): short of 2.0, 2 jobs waited (for a \
         core taken by other work, or at the start and end of a sweep)"
    );
}
