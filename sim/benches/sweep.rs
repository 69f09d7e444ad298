//! Seeds per second of a sweep of the default chaos scenario (`scenarios/chaos-echo.toml`), on
//! 1 job and on 2, and the speed-up (issue 12, item 5; target: at least 1.9 on 2 jobs).
//!
//! Each round sweeps the same seeds once on 1 job and once on 2, in an order that alternates
//! from round to round, so both meet the same state of the machine; the speed-up is taken
//! within each round, and the median and range of those are printed. A machine with fewer
//! than 2 cores free cannot show the speed-up: the bench prints the load average beside it,
//! and also seeds per CPU-second (user and system time of the process) on each: their ratio,
//! the parallel efficiency, says what 2 jobs cost beyond 1 in work (locks, contention, the
//! allocator), which is what limits the speed-up once 2 cores are free. The other factor of
//! the speed-up is how many cores each sweep kept busy (CPU time over wall time): the
//! speed-up is the efficiency times the ratio of the two, so a 2-job sweep below 2.0 busy
//! cores lost time waiting (for a core taken by other work, or at its start or end), not in
//! extra work.
//!
//! `cargo bench -p tcpnotify-sim --bench sweep`; `TCPNOTIFY_BENCH_RUNS` sets the rounds (5),
//! `TCPNOTIFY_BENCH_SEEDS` the seeds per sweep (600).

mod common;

use common::cpu_secs;
use std::path::Path;
use std::time::Instant;
use tcpnotify_sim::explore::{sweep, SweepOptions};
use tcpnotify_sim::{Registry, ScenarioFile};

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

fn main() {
    let rounds = env("TCPNOTIFY_BENCH_RUNS", 5).max(1);
    let seeds = env("TCPNOTIFY_BENCH_SEEDS", 600).max(2);
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios/chaos-echo.toml");
    let file = ScenarioFile::load(&path, &Registry::builtin()).expect("the chaos scenario");
    // Seeds per second, seeds per CPU-second, and cores kept busy.
    let rate = |jobs: usize| -> (f64, f64, f64) {
        let options = SweepOptions {
            jobs,
            keep_going: true,
            ..SweepOptions::new(0..seeds)
        };
        let (start, cpu_start) = (Instant::now(), cpu_secs());
        let report = sweep(&file.scenario, &options);
        let (secs, cpu) = (start.elapsed().as_secs_f64(), cpu_secs() - cpu_start);
        assert_eq!(report.seeds_run as u64, seeds, "every seed ran");
        assert!(report.passed(), "the chaos scenario passes every seed");
        (seeds as f64 / secs, seeds as f64 / cpu, cpu / secs)
    };
    rate(2); // warm-up
    println!(
        "sweep of {} over seeds 0..{seeds}, {rounds} alternating rounds",
        file.scenario.name
    );
    let (mut one, mut two, mut speedups, mut efficiency) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let (mut busy_one, mut busy_two) = (Vec::new(), Vec::new());
    for round in 0..rounds {
        let ((a, ac, ab), (b, bc, bb)) = if round % 2 == 0 {
            let a = rate(1);
            (a, rate(2))
        } else {
            let b = rate(2);
            (rate(1), b)
        };
        println!(
            "  round {round}: 1 job {a:>6.0} seeds/s ({ac:>5.0}/CPU-s, {ab:.2} busy)  2 jobs \
             {b:>6.0} seeds/s ({bc:>5.0}/CPU-s, {bb:.2} busy)  speed-up {:.2}  efficiency \
             {:.2}  (load average {})",
            b / a,
            bc / ac,
            load_average()
        );
        one.push(a);
        two.push(b);
        speedups.push(b / a);
        efficiency.push(bc / ac);
        busy_one.push(ab);
        busy_two.push(bb);
    }
    let summary = |v: &mut Vec<f64>| {
        v.sort_by(f64::total_cmp);
        (v[v.len() / 2], v[0], v[v.len() - 1])
    };
    let (m1, l1, h1) = summary(&mut one);
    let (m2, l2, h2) = summary(&mut two);
    let (ms, ls, hs) = summary(&mut speedups);
    let (me, le, he) = summary(&mut efficiency);
    let (mb1, lb1, hb1) = summary(&mut busy_one);
    let (mb2, lb2, hb2) = summary(&mut busy_two);
    println!("1 job   {m1:.0} seeds/s (median; {l1:.0}..{h1:.0})");
    println!("2 jobs  {m2:.0} seeds/s (median; {l2:.0}..{h2:.0})");
    println!("speed-up {ms:.2} (median; {ls:.2}..{hs:.2})  target >= 1.9");
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
