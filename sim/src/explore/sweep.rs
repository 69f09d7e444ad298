//! Sweeping a scenario over many seeds in parallel: each seed's plan is drawn, run and judged
//! on a worker thread, and the failures and coverage are gathered into one report.
//!
//! Every simulation runs entirely on the worker thread that took its seed, and runs share
//! nothing, so running seeds in parallel changes only how long the sweep takes: the report
//! (seeds run, failures, coverage) is the same for any number of jobs, and the reports of the
//! shards of a sweep merge into the report of the whole ([`SweepReport::merge`]).
//!
//! Memory stays flat however many seeds a sweep runs: seeds are computed from their index,
//! never listed, and each result is folded into the report as soon as every seed before it
//! has been, so only the results of seeds that finished early wait, and workers never run
//! more than a bounded number of seeds ahead of the lowest unfinished one.
//!
//! A sweep can end early without losing what it found: a time budget stops it from starting
//! seeds (those running finish), an interrupt (Ctrl-C) stops it at once, and either way the
//! report counts the seeds that ran, in seed order, up to the first that did not finish.
//! A seed that runs longer than the seed timeout is stopped between two simulation steps and
//! counted as a failure of its own kind.

use super::determinism::{difference, rendering, sampled};
use super::progress::Progress;
use super::seeds::{SeedSet, Shard, ShardSeeds};
use super::sweep_report::{
    FailureKind, SweepEnd, SweepFailure, SweepReport, NONDETERMINISTIC, SEED_TIMEOUT,
};
use crate::judge::Coverage;
use crate::judge::{judge_until, signature_of, RUN_ERROR};
use crate::run::{Cutoff, RunError, Stop};
use crate::scenario::Scenario;
use crate::seed::Seed;
use crate::validate::MAX_JOBS;
use std::collections::{BTreeMap, BTreeSet};
use std::panic::{catch_unwind, resume_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// Stack of a sweep worker: a debug-build simulation nests deeply (turmoil, tokio, the stack).
const WORKER_STACK_BYTES: usize = 16 * 1024 * 1024;

/// How many seeds per job a worker may run ahead of the lowest seed not yet finished: bounds
/// the results waiting to be folded.
#[cfg(not(test))]
const AHEAD_PER_JOB: u64 = 64;
/// One in the unit tests: there a worker waits for the others at most seeds, so every test
/// on 2 jobs also tests the sleeping and the waking.
#[cfg(test)]
const AHEAD_PER_JOB: u64 = 1;

/// A passing seed in this many is run twice when a sweep checks determinism and is not told
/// how many.
pub const DEFAULT_DETERMINISM_SAMPLE: u64 = 16;

/// How to sweep: which seeds, how many at once, when to stop, and what to show.
///
/// ```
/// use tcpnotify_sim::explore::{Shard, SweepOptions};
/// use tcpnotify_sim::Seed;
/// let options = SweepOptions { shard: Shard::new(1, 3), ..SweepOptions::new(10..20) };
/// assert_eq!(options.seeds_to_run().collect::<Vec<_>>(), vec![Seed(11), Seed(14), Seed(17)]);
/// assert_eq!(SweepOptions::new(0..u64::MAX).seeds_to_run().len(), u64::MAX);
/// assert!(!options.stops_at_failure(), "a shard runs every one of its seeds");
/// assert!(SweepOptions::new(0..10).stops_at_failure());
/// ```
#[derive(Debug, Clone)]
pub struct SweepOptions {
    /// The seeds to run, in order.
    pub seeds: SeedSet,
    /// Worker threads (0 counts as 1; more than [`MAX_JOBS`] count as [`MAX_JOBS`]).
    pub jobs: usize,
    /// Run only this shard's seeds, so several machines split one set. A shard runs every
    /// one of its seeds, as with `keep_going`: it cannot know where the other shards stop,
    /// and this way the shards' reports merge into exactly the whole sweep's.
    pub shard: Option<Shard>,
    /// Run every seed even after a failure; otherwise stop at the first failing seed.
    pub keep_going: bool,
    /// Show a progress bar on stderr (drawn only when stderr is a terminal, and only with the
    /// `progress` feature).
    pub progress: bool,
    /// Print each seed on stderr before it runs.
    pub verbose: bool,
    /// Start no seed once this much wall-clock time has passed (seeds running finish).
    pub budget: Option<Duration>,
    /// Stop a seed that runs longer than this in wall-clock time, and count it as failed
    /// ([`FailureKind::TimedOut`]).
    pub seed_timeout: Option<Duration>,
    /// Run every failing seed, and the passing seeds one in this many, a second time and
    /// count a seed whose two traces differ as failed ([`FailureKind::Nondeterministic`]).
    pub check_determinism: Option<u64>,
    /// Stop at once once this is set (by a Ctrl-C handler): seeds running are stopped
    /// between two steps, and the report counts the seeds that finished before the first
    /// that did not.
    pub interrupt: Option<Arc<AtomicBool>>,
}

impl SweepOptions {
    /// Runs `seeds` on one thread per available core, stopping at the first failure, with
    /// nothing on stderr, no shard, no budget and no timeout.
    pub fn new(seeds: impl Into<SeedSet>) -> Self {
        SweepOptions {
            seeds: seeds.into(),
            jobs: default_jobs(),
            shard: None,
            keep_going: false,
            progress: false,
            verbose: false,
            budget: None,
            seed_timeout: None,
            check_determinism: None,
            interrupt: None,
        }
    }

    /// The seeds this sweep runs, in order: the set, less the other shards' seeds. Computed
    /// one at a time, so any set costs no memory.
    pub fn seeds_to_run(&self) -> ShardSeeds {
        ShardSeeds::of(&self.seeds, self.shard)
    }

    /// Whether the sweep stops at its first failing seed: unless `keep_going`, or a shard.
    pub fn stops_at_failure(&self) -> bool {
        !self.keep_going && self.shard.is_none()
    }

    fn interrupted(&self) -> bool {
        self.interrupt
            .as_ref()
            .is_some_and(|flag| flag.load(Ordering::Relaxed))
    }

    /// The cutoff of one seed's runs, from now.
    fn cutoff(&self) -> Cutoff {
        let mut cutoff = Cutoff::never();
        if let Some(flag) = &self.interrupt {
            cutoff = cutoff.interrupted_by(flag.clone());
        }
        if let Some(timeout) = self.seed_timeout {
            cutoff = cutoff.after(timeout);
        }
        cutoff
    }
}

/// Worker threads when none are asked for: one per available core, at most [`MAX_JOBS`].
pub fn default_jobs() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get().min(MAX_JOBS))
}

/// The result of one seed, kept until the sweep knows which seeds count.
struct SeedResult {
    coverage: Coverage,
    failure: Option<SweepFailure>,
}

/// The sweep's state, shared by its workers.
struct State {
    /// Index of the next seed to hand out.
    next: u64,
    /// Index of the lowest failing seed so far, if the sweep stops at failures: no seed after
    /// it is started, and none after it counts.
    stop_at: u64,
    /// Index of the next seed to fold into the report; every seed before it is folded.
    folded: u64,
    /// Results of seeds that finished before a seed below them.
    waiting: BTreeMap<u64, SeedResult>,
    /// Seeds running: index, seed and when they started. Kept only under a seed timeout,
    /// for the watchdog that names the stuck ones.
    running: BTreeMap<u64, (Seed, Instant)>,
    /// Seeds past their timeout that the watchdog already named, by index.
    named_stuck: BTreeSet<u64>,
    /// Workers not yet done.
    workers: usize,
    /// Workers asleep in `take` until the lowest unfinished seed finishes: only they need
    /// waking when a seed finishes (a notify is a system call even when nobody sleeps).
    asleep: usize,
    /// Why no more seeds are started, if the sweep ended early.
    ended: Option<SweepEnd>,
    report: SweepReport,
    /// A worker panicked outside the simulation: every worker stops, the panic goes on.
    panic: Option<Box<dyn std::any::Any + Send>>,
}

impl State {
    /// Folds every result that is now countable, in seed order.
    fn fold_ready(&mut self) {
        while let Some(result) = self.waiting.remove(&self.folded) {
            if self.folded <= self.stop_at {
                self.report.fold(&result.coverage, result.failure);
            }
            self.folded += 1;
        }
    }
}

/// What became of one seed.
enum SeedOutcome {
    /// Boxed: a result holds a whole run's coverage, and the other variant nothing.
    Done(Box<SeedResult>),
    /// Stopped by the interrupt: it does not count.
    Interrupted,
}

/// Runs and judges `scenario` for every seed of `options`, in parallel.
///
/// Workers take seeds in order. When the sweep stops at failures, once a seed fails no seed
/// after it is started, and the report counts exactly the seeds up to the lowest failing one:
/// seeds before it were all handed out earlier and run to the end, and results of later seeds
/// still in flight are dropped. So the report does not depend on `jobs`.
///
/// ```
/// use tcpnotify_sim::notifiers::{Echo, Sender};
/// use tcpnotify_sim::{factory, Scenario};
/// use tcpnotify_sim::explore::{sweep, SweepEnd, SweepOptions};
/// let scenario = Scenario::new("echo")
///     .listener("server", "server", 7000, factory(|| Echo))
///     .client("c1", "client", "server", 7000, factory(|| Sender::pattern(64)));
/// // No fault settings written: each seed draws its own (swarm testing).
/// let report = sweep(&scenario, &SweepOptions { jobs: 2, ..SweepOptions::new(0..4) });
/// assert!(report.passed());
/// assert_eq!(report.seeds_run, 4);
/// assert_eq!(report.end, SweepEnd::Complete);
/// assert_eq!(report.coverage.runs, 4);
/// ```
pub fn sweep(scenario: &Scenario, options: &SweepOptions) -> SweepReport {
    let started = Instant::now();
    let seeds = options.seeds_to_run();
    let budget_end = options.budget.and_then(|b| started.checked_add(b));
    let jobs = options
        .jobs
        .clamp(1, MAX_JOBS)
        .min(usize::try_from(seeds.len()).unwrap_or(usize::MAX).max(1));
    let ahead = AHEAD_PER_JOB.saturating_mul(jobs as u64);
    let state = Mutex::new(State {
        next: 0,
        stop_at: u64::MAX,
        folded: 0,
        waiting: BTreeMap::new(),
        running: BTreeMap::new(),
        named_stuck: BTreeSet::new(),
        workers: 0,
        asleep: 0,
        ended: None,
        report: SweepReport::empty(&scenario.name, options.seeds.clone(), options.shard),
        panic: None,
    });
    let turn = Condvar::new();
    let lock = || state.lock().unwrap_or_else(|e| e.into_inner());
    let total = options.seeds.len().map(|_| seeds.len());
    let progress = Progress::new(options.progress, total, options.verbose);

    // Hands out the next seed's index, waiting while the workers are too far ahead; `None`
    // when the sweep is over for this worker.
    let take = |mut state: MutexGuard<'_, State>| -> Option<(u64, Seed)> {
        loop {
            let index = state.next;
            let seed = seeds.seed(index)?;
            if index > state.stop_at || state.panic.is_some() || state.ended.is_some() {
                return None;
            }
            if options.interrupted() {
                state.ended = Some(SweepEnd::Interrupted);
                return None;
            }
            if budget_end.is_some_and(|end| Instant::now() >= end) {
                state.ended = Some(SweepEnd::BudgetSpent);
                return None;
            }
            if index < state.folded.saturating_add(ahead) {
                state.next += 1;
                if options.seed_timeout.is_some() {
                    state.running.insert(index, (seed, Instant::now()));
                }
                return Some((index, seed));
            }
            state.asleep += 1;
            state = turn.wait(state).unwrap_or_else(|e| e.into_inner());
            state.asleep -= 1;
        }
    };
    let work = || {
        while let Some((index, seed)) = take(lock()) {
            progress.starting(seed);
            let in_set = seeds.index_in_set(index);
            let result = catch_unwind(AssertUnwindSafe(|| {
                run_seed(scenario, seed, in_set, options)
            }));
            let mut state = lock();
            if options.seed_timeout.is_some() {
                state.running.remove(&index);
            }
            match result {
                Ok(SeedOutcome::Done(result)) => {
                    if result.failure.is_some() && options.stops_at_failure() {
                        state.stop_at = state.stop_at.min(index);
                    }
                    progress.inc();
                    if let Some(failure) = &result.failure {
                        progress.event(format!("FAILED {failure}"));
                    }
                    state.waiting.insert(index, *result);
                    state.fold_ready();
                }
                Ok(SeedOutcome::Interrupted) => {
                    state.ended = Some(SweepEnd::Interrupted);
                }
                Err(panic) => {
                    state.panic.get_or_insert(panic);
                }
            }
            let wake = state.asleep > 0;
            drop(state);
            if wake {
                turn.notify_all();
            }
        }
        // The watchdog, if any, waits for the last worker.
        lock().workers -= 1;
        turn.notify_all();
    };

    std::thread::scope(|scope| {
        let mut workers = Vec::new();
        for i in 0..jobs {
            lock().workers += 1;
            let spawned = std::thread::Builder::new()
                .name(format!("sweep-{i}"))
                .stack_size(WORKER_STACK_BYTES)
                .spawn_scoped(scope, work);
            match spawned {
                Ok(worker) => workers.push(worker),
                // Fewer threads than asked for only make the sweep slower.
                Err(e) if !workers.is_empty() => {
                    lock().workers -= 1;
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
        // Without a seed timeout nothing is watched: the joins below wait for the workers.
        if let Some(timeout) = options.seed_timeout {
            watch(&state, &turn, timeout, &progress);
        }
        for worker in workers {
            if let Err(panic) = worker.join() {
                resume_unwind(panic);
            }
        }
    });
    progress.finish();
    let mut state = state.into_inner().unwrap_or_else(|e| e.into_inner());
    if let Some(panic) = state.panic.take() {
        resume_unwind(panic);
    }
    let mut report = state.report;
    report.end = if report.seeds_run as u64 == seeds.len() {
        SweepEnd::Complete
    } else if state.ended == Some(SweepEnd::Interrupted) {
        SweepEnd::Interrupted
    } else if state.stop_at != u64::MAX {
        SweepEnd::StoppedAtFailure
    } else {
        state.ended.unwrap_or(SweepEnd::Complete)
    };
    report.elapsed = Some(started.elapsed());
    report
}

/// Waits for the workers, naming on stderr each seed that runs past twice its timeout: the
/// cutoff stops a run between simulation steps, so such a seed is stuck inside one step (a
/// callback that never returns), which nothing can stop safely. It looks once per timeout
/// (at least 100 ms), and is woken when a worker ends.
fn watch(state: &Mutex<State>, turn: &Condvar, timeout: Duration, progress: &Progress) {
    let lock = || state.lock().unwrap_or_else(|e| e.into_inner());
    let mut state = lock();
    while state.workers > 0 {
        let (next, _) = turn
            .wait_timeout(state, timeout.max(Duration::from_millis(100)))
            .unwrap_or_else(|e| e.into_inner());
        state = next;
        let stuck: Vec<(u64, Seed, Duration)> = state
            .running
            .iter()
            .map(|(index, (seed, since))| (*index, *seed, since.elapsed()))
            .filter(|(index, _, ran)| !state.named_stuck.contains(index) && *ran > timeout * 2)
            .collect();
        for (index, seed, ran) in stuck {
            state.named_stuck.insert(index);
            progress.println(format!(
                "seed {seed} has run for {} and is past its timeout: it is stuck inside one \
                 simulation step (a callback that does not return?); the sweep waits for it",
                humantime::format_duration(Duration::from_secs(ran.as_secs()))
            ));
        }
    }
}

fn run_seed(scenario: &Scenario, seed: Seed, index: u64, options: &SweepOptions) -> SeedOutcome {
    let plan = scenario.plan_for(seed);
    let first = judge_until(scenario, &plan, &options.cutoff());
    let failure = |kind, signature: String, summary: String| SweepFailure {
        seed,
        index,
        kind,
        signature,
        summary,
        repro: None,
    };
    let mut result = match &first {
        Ok(verdict) => SeedResult {
            coverage: Coverage::of_run(scenario, verdict),
            failure: verdict
                .failures
                .first()
                .map(|first| failure(FailureKind::Failed, first.signature(), first.to_string())),
        },
        Err(RunError::Stopped {
            stop: Stop::Interrupted,
            ..
        }) => return SeedOutcome::Interrupted,
        Err(e @ RunError::Stopped { .. }) => SeedResult {
            coverage: Coverage::default(),
            failure: Some(failure(
                FailureKind::TimedOut,
                SEED_TIMEOUT.into(),
                e.to_string(),
            )),
        },
        Err(e) => SeedResult {
            coverage: Coverage::default(),
            failure: Some(failure(
                FailureKind::RunError,
                RUN_ERROR.into(),
                e.to_string(),
            )),
        },
    };
    let timed_out = matches!(&result.failure, Some(f) if f.kind == FailureKind::TimedOut);
    let Some(every) = options.check_determinism.filter(|_| !timed_out) else {
        return SeedOutcome::Done(Box::new(result));
    };
    if result.failure.is_none() && !sampled(seed, every) {
        return SeedOutcome::Done(Box::new(result));
    }
    let second = judge_until(scenario, &plan, &options.cutoff());
    match &second {
        Err(RunError::Stopped {
            stop: Stop::Interrupted,
            ..
        }) => return SeedOutcome::Interrupted,
        // A second run that ran out of time says nothing about determinism.
        Err(RunError::Stopped { .. }) => return SeedOutcome::Done(Box::new(result)),
        _ => {}
    }
    if let Some(difference) = difference(&rendering(&first), &rendering(&second)) {
        let was = signature_of(&first).map_or("passed".into(), |s| format!("failed with [{s}]"));
        result.failure = Some(failure(
            FailureKind::Nondeterministic,
            NONDETERMINISTIC.into(),
            format!("the first run {was}; {difference}"),
        ));
    }
    SeedOutcome::Done(Box::new(result))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::explore::MAX_LISTED_FAILURES;
    use crate::scenario::Expectations;

    fn sometimes_failing() -> Scenario {
        super::super::test_scenarios::sometimes_failing("sweep-echo")
    }

    /// Fails at every seed: the echo closes two connections, not 9.
    fn always_failing() -> Scenario {
        Scenario::echo("always-failing", 16, 16).expecting(Expectations {
            closed: Some(9),
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
            assert_eq!(
                SweepReport {
                    elapsed: None,
                    ..one.clone()
                },
                SweepReport {
                    elapsed: None,
                    ..two
                },
                "keep_going {keep_going}"
            );
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
        assert_eq!(all.end, SweepEnd::Complete);
        assert!(all.failures.windows(2).all(|w| w[0].seed < w[1].seed));
        let lowest = all.failures[0].seed;
        assert_eq!(first.failures, vec![all.failures[0].clone()]);
        assert_eq!(first.end, SweepEnd::StoppedAtFailure);
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
    }

    #[test]
    fn at_most_the_lowest_failures_are_listed_and_all_are_counted() {
        let report = sweep(
            &always_failing(),
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
    fn empty_range_runs_nothing() {
        let report = sweep(&sometimes_failing(), &SweepOptions::new(3..3));
        assert_eq!(report.seeds_run, 0);
        assert!(report.passed());
        assert_eq!(report.seeds_per_second(), Some(0.0));
    }

    #[test]
    fn an_interrupted_sweep_counts_nothing_it_did_not_finish() {
        let flag = Arc::new(AtomicBool::new(true));
        let report = sweep(
            &sometimes_failing(),
            &SweepOptions {
                interrupt: Some(flag),
                ..options(2, true)
            },
        );
        assert_eq!(report.end, SweepEnd::Interrupted);
        assert_eq!(report.seeds_run, 0);
        assert_eq!(report.resume_from(), Some(Seed(0)));
        assert!(report.to_string().contains("INTERRUPTED"), "{report}");
        assert!(
            report.to_string().contains("the rest: --seeds 0..16"),
            "{report}"
        );
    }

    #[test]
    fn a_seed_past_its_timeout_fails_by_seed_with_its_own_kind() {
        let slow = super::super::test_scenarios::never_finishing();
        let report = sweep(
            &slow,
            &SweepOptions {
                seed_timeout: Some(Duration::from_millis(1)),
                keep_going: true,
                jobs: 1,
                ..SweepOptions::new(7..9)
            },
        );
        assert_eq!(report.failed, 2, "{report}");
        let failure = &report.failures[0];
        assert_eq!((failure.seed, failure.index), (Seed(7), 0));
        assert_eq!(failure.kind, FailureKind::TimedOut);
        assert_eq!(failure.signature, SEED_TIMEOUT);
        assert!(
            failure
                .summary
                .contains("ran longer than 1ms of wall-clock time"),
            "{failure}"
        );
    }

    #[test]
    fn a_budget_of_no_time_starts_nothing() {
        let report = sweep(
            &sometimes_failing(),
            &SweepOptions {
                budget: Some(Duration::ZERO),
                ..options(2, true)
            },
        );
        assert_eq!(report.end, SweepEnd::BudgetSpent);
        assert_eq!(report.seeds_run, 0);
    }

    #[test]
    fn checking_determinism_reruns_failures_and_finds_none_in_a_deterministic_run() {
        let report = sweep(
            &sometimes_failing(),
            &SweepOptions {
                check_determinism: Some(1),
                ..options(2, true)
            },
        );
        assert!(!report.failures.is_empty());
        assert!(
            report
                .failures
                .iter()
                .all(|f| f.kind == FailureKind::Failed),
            "{report}"
        );
    }

    #[test]
    fn a_run_that_is_not_a_function_of_its_seed_fails_as_nondeterministic() {
        use crate::notifiers::{Echo, Sender};
        use std::sync::atomic::AtomicUsize;
        // Each run's client sends one byte more than the last: state leaking between runs.
        static RUNS: AtomicUsize = AtomicUsize::new(0);
        let leaky = Scenario::new("leaky")
            .listener("server", "server", 7000, crate::factory(|| Echo))
            .client(
                "c1",
                "client",
                "server",
                7000,
                crate::factory(|| Sender::pattern(16 + RUNS.fetch_add(1, Ordering::SeqCst))),
            );
        let options = SweepOptions {
            jobs: 1,
            keep_going: true,
            ..SweepOptions::new(0..3)
        };
        assert!(sweep(&leaky, &options).passed(), "each run alone passes");
        let report = sweep(
            &leaky,
            &SweepOptions {
                check_determinism: Some(1),
                ..options
            },
        );
        assert_eq!(report.failed, 3, "{report}");
        let failure = &report.failures[0];
        assert_eq!(failure.kind, FailureKind::Nondeterministic);
        assert_eq!(failure.signature, NONDETERMINISTIC);
        assert!(
            failure
                .summary
                .starts_with("the first run passed; runs differ at trace line "),
            "{failure}"
        );
    }

    #[test]
    fn a_report_round_trips_through_json() {
        let report = sweep(&sometimes_failing(), &options(2, true));
        let text = serde_json::to_string(&report).unwrap();
        let back: SweepReport = serde_json::from_str(&text).unwrap();
        assert_eq!(
            back,
            SweepReport {
                elapsed: None,
                ..report
            }
        );
    }
}
