//! Sweeping a scenario over many seeds in parallel: each seed's plan is drawn, run and judged
//! on a worker thread, and the failures and coverage are gathered into one report.
//!
//! Every simulation runs entirely on the worker thread that took its seed, and runs share
//! nothing, so running seeds in parallel changes only how long the sweep takes: the report
//! (seeds run, failures, coverage) is the same for any number of jobs.
//!
//! Memory stays flat however many seeds a sweep runs: seeds are computed from their index,
//! never listed, and each result is folded into the report as soon as every seed before it
//! has been, so only the results of seeds that finished early wait, and workers never run
//! more than a bounded number of seeds ahead of the lowest unfinished one.

use crate::judge::Coverage;
use crate::judge::{judge, RUN_ERROR};
use crate::scenario::Scenario;
use crate::seed::Seed;
use crate::validate::MAX_JOBS;
use indicatif::{ProgressBar, ProgressStyle};
use std::collections::BTreeMap;
use std::fmt;
use std::ops::Range;
use std::panic::{catch_unwind, resume_unwind, AssertUnwindSafe};
use std::sync::{Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// Stack of a sweep worker: a debug-build simulation nests deeply (turmoil, tokio, the stack).
const WORKER_STACK_BYTES: usize = 16 * 1024 * 1024;

/// How many seeds per job a worker may run ahead of the lowest seed not yet finished: bounds
/// the results waiting to be folded.
const AHEAD_PER_JOB: u64 = 64;

/// Failing seeds a report lists (the lowest ones); the rest are only counted.
pub const MAX_LISTED_FAILURES: usize = 100;

/// How to sweep: which seeds, how many at once, and when to stop.
///
/// ```
/// use tcpnotify_sim::explore::SweepOptions;
/// let options = SweepOptions { shard: Some((1, 3)), ..SweepOptions::new(10..20) };
/// assert_eq!(options.seeds_to_run().collect::<Vec<_>>(), vec![11, 14, 17]);
/// assert_eq!(SweepOptions::new(0..u64::MAX).seeds_to_run().len(), u64::MAX);
/// assert!(!options.keep_going);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SweepOptions {
    /// The seeds to run, in order.
    pub seeds: Range<u64>,
    /// Worker threads (0 counts as 1; more than [`MAX_JOBS`] count as [`MAX_JOBS`]).
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

    /// The seeds this sweep runs, in order: the range, less the other shards' seeds. Computed
    /// one at a time, so any range costs no memory.
    ///
    /// # Panics
    /// If the shard is `(i, n)` with `n == 0` or `i >= n`.
    pub fn seeds_to_run(&self) -> ShardSeeds {
        let (index, count) = self.shard.unwrap_or((0, 1));
        assert!(
            count > 0 && index < count,
            "shard {index}/{count}: the index must be below the count"
        );
        let first = self.seeds.start.checked_add(index as u64);
        let len = match first {
            Some(first) if first < self.seeds.end => {
                (self.seeds.end - first - 1) / count as u64 + 1
            }
            _ => 0,
        };
        ShardSeeds {
            first: first.unwrap_or(0),
            step: count as u64,
            len,
            next: 0,
        }
    }
}

/// The seeds of one shard of a range, computed from their index: see
/// [`SweepOptions::seeds_to_run`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShardSeeds {
    first: u64,
    step: u64,
    len: u64,
    next: u64,
}

impl ShardSeeds {
    /// How many seeds the shard has in all (not only those left to iterate).
    pub fn len(&self) -> u64 {
        self.len
    }

    /// Whether the shard has no seed.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The `index`-th seed of the shard, from 0.
    pub fn seed(&self, index: u64) -> Option<u64> {
        // Below `len`, the seed lies inside the range: no overflow.
        (index < self.len).then(|| self.first + index * self.step)
    }
}

impl Iterator for ShardSeeds {
    type Item = u64;
    fn next(&mut self) -> Option<u64> {
        let seed = self.seed(self.next)?;
        self.next += 1;
        Some(seed)
    }
}

/// Worker threads when none are asked for: one per available core, at most [`MAX_JOBS`].
pub fn default_jobs() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get().min(MAX_JOBS))
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
    /// How many of them failed.
    pub failed: usize,
    /// The lowest failing seeds, at most [`MAX_LISTED_FAILURES`] of them, lowest first.
    /// Without `keep_going`, at most one: the lowest failing seed.
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
        self.failed == 0
    }

    /// Counts one seed's result, in seed order.
    fn fold(&mut self, result: SeedResult) {
        self.seeds_run += 1;
        self.coverage.merge(&result.coverage);
        if let Some(failure) = result.failure {
            self.failed += 1;
            if self.failures.len() < MAX_LISTED_FAILURES {
                self.failures.push(failure);
            }
        }
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
                format!("{} FAILED", self.failed)
            }
        )?;
        for failure in &self.failures {
            writeln!(f, "{failure}")?;
        }
        if self.failed > self.failures.len() {
            writeln!(
                f,
                "... and {} more failing seed(s)",
                self.failed - self.failures.len()
            )?;
        }
        write!(f, "{}", self.coverage)
    }
}

/// The result of one seed, kept until the sweep knows which seeds count.
struct SeedResult {
    coverage: Coverage,
    failure: Option<SweepFailure>,
}

/// The sweep's state, shared by its workers.
struct Progress {
    /// Index of the next seed to hand out.
    next: u64,
    /// Index of the lowest failing seed so far, if the sweep stops at failures: no seed after
    /// it is started, and none after it counts.
    stop_at: u64,
    /// Index of the next seed to fold into the report; every seed before it is folded.
    folded: u64,
    /// Results of seeds that finished before a seed below them.
    waiting: BTreeMap<u64, SeedResult>,
    report: SweepReport,
    /// A worker panicked outside the simulation: every worker stops, the panic goes on.
    panic: Option<Box<dyn std::any::Any + Send>>,
}

impl Progress {
    /// Folds every result that is now countable, in seed order.
    fn fold_ready(&mut self) {
        while let Some(result) = self.waiting.remove(&self.folded) {
            if self.folded <= self.stop_at {
                self.report.fold(result);
            }
            self.folded += 1;
        }
    }
}

/// Runs and judges `scenario` for every seed of `options`, in parallel.
///
/// Workers take seeds in order. Without `keep_going`, once a seed fails no seed after it is
/// started, and the report counts exactly the seeds up to the lowest failing one: seeds
/// before it were all handed out earlier and run to the end, and results of later seeds
/// still in flight are dropped. So the report does not depend on `jobs`.
///
/// # Panics
/// If the shard is invalid (see [`SweepOptions::seeds_to_run`]).
///
/// ```
/// use tcpnotify_sim::notifiers::{Echo, Sender};
/// use tcpnotify_sim::{factory, Scenario};
/// use tcpnotify_sim::explore::{sweep, SweepOptions};
/// let scenario = Scenario::new("echo")
///     .listener("server", "server", 7000, factory(|| Echo))
///     .client("c1", "client", "server", 7000, factory(|| Sender::pattern(64)));
/// // No fault settings written: each seed draws its own (swarm testing).
/// let report = sweep(&scenario, &SweepOptions { jobs: 2, ..SweepOptions::new(0..4) });
/// assert!(report.passed());
/// assert_eq!(report.seeds_run, 4);
/// assert_eq!(report.coverage.runs, 4);
/// ```
pub fn sweep(scenario: &Scenario, options: &SweepOptions) -> SweepReport {
    let started = Instant::now();
    let seeds = options.seeds_to_run();
    let jobs = options
        .jobs
        .clamp(1, MAX_JOBS)
        .min(usize::try_from(seeds.len()).unwrap_or(usize::MAX).max(1));
    let ahead = AHEAD_PER_JOB.saturating_mul(jobs as u64);
    let state = Mutex::new(Progress {
        next: 0,
        stop_at: u64::MAX,
        folded: 0,
        waiting: BTreeMap::new(),
        report: SweepReport {
            seeds_run: 0,
            failed: 0,
            failures: Vec::new(),
            coverage: Coverage::default(),
            elapsed: Duration::ZERO,
        },
        panic: None,
    });
    let turn = Condvar::new();
    let lock = || state.lock().unwrap_or_else(|e| e.into_inner());
    let bar = progress_bar(options.progress, seeds.len());

    // Hands out the next seed's index, waiting while the workers are too far ahead; `None`
    // when the sweep is over for this worker.
    let take = |mut progress: MutexGuard<'_, Progress>| -> Option<(u64, u64)> {
        loop {
            let index = progress.next;
            let seed = seeds.seed(index)?;
            if index > progress.stop_at || progress.panic.is_some() {
                return None;
            }
            if index < progress.folded.saturating_add(ahead) {
                progress.next += 1;
                return Some((index, seed));
            }
            progress = turn.wait(progress).unwrap_or_else(|e| e.into_inner());
        }
    };
    let work = || {
        while let Some((index, seed)) = take(lock()) {
            let result = catch_unwind(AssertUnwindSafe(|| run_seed(scenario, Seed(seed))));
            let mut progress = lock();
            match result {
                Ok(result) => {
                    if result.failure.is_some() && !options.keep_going {
                        progress.stop_at = progress.stop_at.min(index);
                    }
                    if let Some(bar) = &bar {
                        bar.inc(1);
                        if let Some(failure) = &result.failure {
                            bar.println(format!("FAILED {failure}"));
                        }
                    }
                    progress.waiting.insert(index, result);
                    progress.fold_ready();
                }
                Err(panic) => {
                    progress.panic.get_or_insert(panic);
                }
            }
            drop(progress);
            turn.notify_all();
        }
    };

    std::thread::scope(|scope| {
        let mut workers = Vec::new();
        for i in 0..jobs {
            let spawned = std::thread::Builder::new()
                .name(format!("sweep-{i}"))
                .stack_size(WORKER_STACK_BYTES)
                .spawn_scoped(scope, work);
            match spawned {
                Ok(worker) => workers.push(worker),
                // Fewer threads than asked for only make the sweep slower.
                Err(e) if !workers.is_empty() => {
                    tracing::warn!("sweep: started {i} of {jobs} workers: {e}");
                    break;
                }
                Err(e) => {
                    tracing::warn!("sweep: no worker thread ({e}): running on this thread");
                    work();
                    break;
                }
            }
        }
        for worker in workers {
            if let Err(panic) = worker.join() {
                resume_unwind(panic);
            }
        }
    });
    if let Some(bar) = &bar {
        bar.finish_and_clear();
    }
    let mut progress = state.into_inner().unwrap_or_else(|e| e.into_inner());
    if let Some(panic) = progress.panic.take() {
        resume_unwind(panic);
    }
    progress.report.elapsed = started.elapsed();
    progress.report
}

fn run_seed(scenario: &Scenario, seed: Seed) -> SeedResult {
    let plan = scenario.plan_for(seed);
    match judge(scenario, &plan) {
        Ok(verdict) => SeedResult {
            coverage: Coverage::of_run(scenario, &verdict),
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

fn progress_bar(show: bool, total: u64) -> Option<ProgressBar> {
    if !show {
        return None;
    }
    let bar = ProgressBar::new(total);
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
    use crate::fault::{FaultSettings, Span};
    use crate::scenario::Expectations;

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
    fn the_whole_u64_range_streams_and_stops_at_the_lowest_failing_seed() {
        // It used to collect every seed first: "capacity overflow".
        let scenario = sometimes_failing();
        let first = sweep(&scenario, &options(2, false));
        let whole = sweep(
            &scenario,
            &SweepOptions {
                jobs: 2,
                ..SweepOptions::new(0..u64::MAX)
            },
        );
        assert_eq!(whole.failures, first.failures);
        assert_eq!(whole.seeds_run, first.seeds_run);
        assert_eq!(whole.coverage, first.coverage);
        let last = SweepOptions {
            shard: Some((2, 3)),
            ..SweepOptions::new(u64::MAX - 7..u64::MAX)
        };
        assert_eq!(
            last.seeds_to_run().collect::<Vec<_>>(),
            vec![u64::MAX - 5, u64::MAX - 2]
        );
        assert_eq!(last.seeds_to_run().len(), 2);
    }

    #[test]
    fn at_most_the_lowest_failures_are_listed_and_all_are_counted() {
        let scenario = Scenario::echo("always-failing", 16, 16).expecting(Expectations {
            closed: Some(9),
            ..Expectations::default()
        });
        let report = sweep(
            &scenario,
            &SweepOptions {
                jobs: 2,
                keep_going: true,
                ..SweepOptions::new(0..MAX_LISTED_FAILURES as u64 + 3)
            },
        );
        assert_eq!(report.failed, MAX_LISTED_FAILURES + 3);
        assert_eq!(report.failures.len(), MAX_LISTED_FAILURES);
        assert_eq!(report.failures[0].seed, Seed(0));
        assert!(report
            .to_string()
            .contains("... and 3 more failing seed(s)"));
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
                .seeds_to_run()
                .collect()
            })
            .collect();
        assert_eq!(shards[0], vec![5, 8, 11, 14]);
        let mut all: Vec<u64> = shards.concat();
        all.sort();
        assert_eq!(all, base.seeds_to_run().collect::<Vec<_>>());
    }

    #[test]
    #[should_panic(expected = "shard 3/3")]
    fn shard_index_must_be_below_count() {
        SweepOptions {
            shard: Some((3, 3)),
            ..SweepOptions::new(0..10)
        }
        .seeds_to_run();
    }

    #[test]
    fn empty_range_runs_nothing() {
        let report = sweep(&sometimes_failing(), &SweepOptions::new(3..3));
        assert_eq!(report.seeds_run, 0);
        assert!(report.passed());
        assert_eq!(report.seeds_per_second(), 0.0);
    }
}
