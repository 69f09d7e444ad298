//! What the simulator's benches read of their own process (peak memory and CPU time), and
//! the raw turmoil echo they race tcpnotify against ([`raw_echo`]). Each bench uses what it
//! needs.
#![allow(dead_code)]

pub mod raw_echo;

/// This process's peak resident memory in MiB: `VmHWM` of `/proc/self/status`, which starts
/// afresh at `exec` (`getrusage`'s maxrss does not: a child exec'd from a large parent reports
/// at least the parent's size at the fork).
pub fn peak_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let kib = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .unwrap_or(f64::NAN);
    kib / 1024.0
}

/// The CPU time (user and system) this process used so far, all its threads, in seconds: on
/// a machine shared with other work, it varies far less than wall time.
pub fn cpu_secs() -> f64 {
    // SAFETY: getrusage only writes into the struct it is given, which lives on this stack.
    let usage = unsafe {
        let mut usage: libc::rusage = std::mem::zeroed();
        libc::getrusage(libc::RUSAGE_SELF, &mut usage);
        usage
    };
    let secs = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    secs(usage.ru_utime) + secs(usage.ru_stime)
}

/// Runs `f` and gives what it returned with its wall time and this process's CPU time (all
/// threads) over it, in seconds.
pub fn timed<T>(f: impl FnOnce() -> T) -> (T, f64, f64) {
    let (start, cpu_start) = (std::time::Instant::now(), cpu_secs());
    let out = f();
    (out, start.elapsed().as_secs_f64(), cpu_secs() - cpu_start)
}

/// The median of `values` (the upper one of an even count); sorts them.
pub fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

/// The lowest and the highest of `values`.
pub fn range(values: &[f64]) -> (f64, f64) {
    let lo = values.iter().copied().fold(f64::INFINITY, f64::min);
    let hi = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    (lo, hi)
}
