//! Sweeping a scenario over many seeds in parallel: each seed's plan is drawn, run and judged
//! on a worker thread, and the failures and coverage are gathered into one report.
//!
//! Every simulation runs entirely on the worker thread that took its seed, and runs share
//! nothing, so running seeds in parallel changes only how long the sweep takes: the report
//! (seeds run, failures, coverage) is the same for any number of jobs.

use crate::coverage::Coverage;
use crate::scenario::Scenario;
use crate::seed::Seed;
use crate::verdict::{judge, RUN_ERROR};
use indicatif::{ProgressBar, ProgressStyle};
use std::collections::BTreeMap;
use std::fmt;
use std::ops::Range;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Stack of a sweep worker: a debug-build simulation nests deeply (turmoil, tokio, the stack).
const WORKER_STACK_BYTES: usize = 16 * 1024 * 1024;

/// How to sweep: which seeds, how many at once, and when to stop.
///
/// ```
/// use tcpnotify_sim::sweep::SweepOptions;
/// let options = SweepOptions { shard: Some((1, 3)), ..SweepOptions::new(10..20) };
/// assert_eq!(options.seed_list(), vec![11, 14, 17]);
/// assert!(!options.keep_going);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SweepOptions {
    /// The seeds to run, in order.
    pub seeds: Range<u64>,
    /// Worker threads (0 counts as 1).
    pub jobs: usize,
    /// `Some((i, n))`: run only the seeds where `(seed - seeds.start) % n == i`, so `n`
    /// machines can split one range.
    pub shard: Option<(usize, usize)>,
    /// Run every seed even after a failure; otherwise stop at the first failing seed.
    pub keep_going: bool,
    /// Show a progress bar on stderr (drawn only when stderr is a terminal).
    pub progress: bool,
}

impl SweepOptions {
    /// Runs `seeds` on one thread per available core, stopping at the first failure, with no
    /// progress bar and no shard.
    pub fn new(seeds: Range<u64>) -> Self {
        SweepOptions {
            seeds,
            jobs: default_jobs(),
            shard: None,
            keep_going: false,
            progress: false,
        }
    }

    /// The seeds this sweep runs, in order: the range, less the other shards' seeds.
    ///
    /// # Panics
    /// If the shard is `(i, n)` with `n == 0` or `i >= n`.
    pub fn seed_list(&self) -> Vec<u64> {
        match self.shard {
            None => self.seeds.clone().collect(),
            Some((index, count)) => {
                assert!(
                    count > 0 && index < count,
                    "shard {index}/{count}: the index must be below the count"
                );
                let (index, count) = (index as u64, count as u64);
                self.seeds
                    .clone()
                    .filter(|s| (s - self.seeds.start) % count == index)
                    .collect()
            }
        }
    }
}

/// Worker threads when none are asked for: one per available core.
pub fn default_jobs() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// One failing seed of a sweep.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SweepFailure {
    /// The seed.
    pub seed: Seed,
    /// Its first failure's signature (a rule id or property name), as shrinking keeps it.
    pub signature: String,
    /// Its first failure, in words.
    pub summary: String,
}

impl fmt::Display for SweepFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "seed {} [{}]: {}",
            self.seed, self.signature, self.summary
        )
    }
}

/// What a sweep found.
#[derive(Debug, Clone)]
pub struct SweepReport {
    /// How many seeds ran and count in this report.
    pub seeds_run: usize,
    /// The failing seeds, lowest first. Without `keep_going`, at most one: the lowest failing
    /// seed.
    pub failures: Vec<SweepFailure>,
    /// What the counted runs exercised.
    pub coverage: Coverage,
    /// Wall-clock time of the sweep.
    pub elapsed: Duration,
}

impl SweepReport {
    /// Seeds run per second of wall-clock time.
    pub fn seeds_per_second(&self) -> f64 {
        let secs = self.elapsed.as_secs_f64();
        if secs > 0.0 {
            self.seeds_run as f64 / secs
        } else {
            0.0
        }
    }

    /// Whether no seed failed.
    pub fn passed(&self) -> bool {
        self.failures.is_empty()
    }
}

impl fmt::Display for SweepReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "swept {} seed(s) in {:.1}s ({:.1} seeds/s): {}",
            self.seeds_run,
            self.elapsed.as_secs_f64(),
            self.seeds_per_second(),
            if self.passed() {
                "passed".to_string()
            } else {
                format!("{} FAILED", self.failures.len())
            }
        )?;
        for failure in &self.failures {
            writeln!(f, "{failure}")?;
        }
        write!(f, "{}", self.coverage)
    }
}

/// The result of one seed, kept until the sweep knows which seeds count.
struct SeedResult {
    coverage: Coverage,
    failure: Option<SweepFailure>,
}

/// Runs and judges `scenario` for every seed of `options`, in parallel.
///
/// Workers take seeds from a shared counter in order. Without `keep_going`, once a seed fails
/// no seed after it is started, and the report counts exactly the seeds up to the lowest
/// failing one: seeds before it were all handed out earlier and run to the end, and results
/// of later seeds still in flight are dropped. So the report does not depend on `jobs`.
///
/// # Panics
/// If the shard is invalid (see [`SweepOptions::seed_list`]).
///
/// ```
/// use tcpnotify_sim::notifiers::{Echo, Sender};
/// use tcpnotify_sim::scenario::{factory, Scenario};
/// use tcpnotify_sim::sweep::{sweep, SweepOptions};
/// let scenario = Scenario::new("echo")
///     .listener("server", "server", 7000, factory(|| Echo))
///     .client("c1", "client", "server", 7000, factory(|| Sender::pattern(64)));
/// let report = sweep(&scenario, &SweepOptions { jobs: 2, ..SweepOptions::new(0..4) });
/// assert!(report.passed());
/// assert_eq!(report.seeds_run, 4);
/// assert!(report.coverage.no_fault_fired());
/// ```
pub fn sweep(scenario: &Scenario, options: &SweepOptions) -> SweepReport {
    let started = Instant::now();
    let seeds = options.seed_list();
    let next = AtomicUsize::new(0);
    // Index of the lowest failing seed so far, if the sweep stops at failures; no seed after
    // it is started, and none after it counts.
    let stop_at = AtomicUsize::new(usize::MAX);
    let results: Mutex<BTreeMap<usize, SeedResult>> = Mutex::new(BTreeMap::new());
    let bar = progress_bar(options.progress, seeds.len());

    let work = || loop {
        let index = next.fetch_add(1, Ordering::SeqCst);
        let Some(&seed) = seeds.get(index) else {
            break;
        };
        if index > stop_at.load(Ordering::SeqCst) {
            break;
        }
        let result = run_seed(scenario, Seed(seed));
        if result.failure.is_some() && !options.keep_going {
            stop_at.fetch_min(index, Ordering::SeqCst);
        }
        if let Some(bar) = &bar {
            bar.inc(1);
            if let Some(failure) = &result.failure {
                bar.println(format!("FAILED {failure}"));
            }
        }
        results
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(index, result);
    };

    let jobs = options.jobs.clamp(1, seeds.len().max(1));
    std::thread::scope(|scope| {
        let workers: Vec<_> = (0..jobs)
            .map(|i| {
                std::thread::Builder::new()
                    .name(format!("sweep-{i}"))
                    .stack_size(WORKER_STACK_BYTES)
                    .spawn_scoped(scope, work)
                    .unwrap_or_else(|e| panic!("cannot start sweep worker {i}: {e}"))
            })
            .collect();
        for worker in workers {
            if let Err(panic) = worker.join() {
                std::panic::resume_unwind(panic);
            }
        }
    });
    if let Some(bar) = &bar {
        bar.finish_and_clear();
    }

    let last_counted = stop_at.into_inner();
    let mut report = SweepReport {
        seeds_run: 0,
        failures: Vec::new(),
        coverage: Coverage::default(),
        elapsed: Duration::ZERO,
    };
    let results = results.into_inner().unwrap_or_else(|e| e.into_inner());
    for (_, result) in results.into_iter().filter(|(i, _)| *i <= last_counted) {
        report.seeds_run += 1;
        report.coverage.merge(&result.coverage);
        report.failures.extend(result.failure);
    }
    report.elapsed = started.elapsed();
    report
}

fn run_seed(scenario: &Scenario, seed: Seed) -> SeedResult {
    let plan = scenario.plan_for(seed);
    match judge(scenario, &plan) {
        Ok(verdict) => SeedResult {
            coverage: Coverage::of(&verdict),
            failure: verdict.failures.first().map(|first| SweepFailure {
                seed,
                signature: first.signature(),
                summary: first.to_string(),
            }),
        },
        Err(e) => SeedResult {
            coverage: Coverage::default(),
            failure: Some(SweepFailure {
                seed,
                signature: RUN_ERROR.into(),
                summary: e.to_string(),
            }),
        },
    }
}

fn progress_bar(show: bool, total: usize) -> Option<ProgressBar> {
    if !show {
        return None;
    }
    let bar = ProgressBar::new(total as u64);
    if let Ok(style) = ProgressStyle::with_template(
        "{elapsed_precise} [{bar:40}] {pos}/{len} seeds ({per_sec}, eta {eta})",
    ) {
        bar.set_style(style.progress_chars("=> "));
    }
    Some(bar)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::settings::{FaultSettings, Span};
    use crate::verdict::Expectations;

    /// An echo that must come back whole, under resets: seeds whose plan resets c1 fail.
    fn sometimes_failing() -> Scenario {
        Scenario::echo("sweep-echo", 512, 128)
            .faults(FaultSettings {
                resets: 0.3,
                reset_after_received: Span::new(1, 3),
                read_chunks: 0.5,
                ..FaultSettings::default()
            })
            .expecting(Expectations {
                echoed: true,
                ..Expectations::default()
            })
    }

    fn options(jobs: usize, keep_going: bool) -> SweepOptions {
        SweepOptions {
            jobs,
            keep_going,
            ..SweepOptions::new(0..16)
        }
    }

    #[test]
    fn report_is_the_same_for_one_and_two_jobs() {
        let scenario = sometimes_failing();
        for keep_going in [false, true] {
            let one = sweep(&scenario, &options(1, keep_going));
            let two = sweep(&scenario, &options(2, keep_going));
            assert_eq!(one.seeds_run, two.seeds_run, "keep_going {keep_going}");
            assert_eq!(one.failures, two.failures, "keep_going {keep_going}");
            assert_eq!(one.coverage, two.coverage, "keep_going {keep_going}");
            assert!(!one.failures.is_empty(), "resets must make some seed fail");
            assert!(
                one.failures.iter().all(|f| f.signature == "echoed"),
                "{one}"
            );
            assert!(one.coverage.fired.get("reset").is_some_and(|n| *n > 0));
        }
    }

    #[test]
    fn stops_at_the_lowest_failing_seed_unless_keep_going() {
        let scenario = sometimes_failing();
        let all = sweep(&scenario, &options(2, true));
        let first = sweep(&scenario, &options(2, false));
        assert_eq!(all.seeds_run, 16);
        assert!(all.failures.windows(2).all(|w| w[0].seed < w[1].seed));
        let lowest = all.failures[0].seed;
        assert_eq!(first.failures, vec![all.failures[0].clone()]);
        // Every seed up to and including the lowest failing one, and none after it.
        assert_eq!(first.seeds_run as u64, lowest.0 + 1);
        assert_eq!(first.coverage.runs, first.seeds_run);
    }

    #[test]
    fn shards_split_the_range_without_overlap() {
        let base = SweepOptions::new(5..17);
        let shards: Vec<Vec<u64>> = (0..3)
            .map(|i| {
                SweepOptions {
                    shard: Some((i, 3)),
                    ..base.clone()
                }
                .seed_list()
            })
            .collect();
        assert_eq!(shards[0], vec![5, 8, 11, 14]);
        let mut all: Vec<u64> = shards.concat();
        all.sort();
        assert_eq!(all, base.seed_list());
    }

    #[test]
    #[should_panic(expected = "shard 3/3")]
    fn shard_index_must_be_below_count() {
        SweepOptions {
            shard: Some((3, 3)),
            ..SweepOptions::new(0..10)
        }
        .seed_list();
    }

    #[test]
    fn empty_range_runs_nothing() {
        let report = sweep(&sometimes_failing(), &SweepOptions::new(3..3));
        assert_eq!(report.seeds_run, 0);
        assert!(report.passed());
        assert_eq!(report.seeds_per_second(), 0.0);
    }
}
