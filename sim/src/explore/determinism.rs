//! Checking that a run is a function of its seed: run a seed twice and compare the whole
//! traces, text and JSON, so a difference in any field shows. `tcpnotify-sim
//! check-determinism` does it for every seed of a set; a sweep does it for every failing seed
//! and a sample of passing ones when asked (`--check-determinism`,
//! `TCPNOTIFY_CHECK_DETERMINISM`).

use super::progress::Progress;
use super::seeds::{SeedSet, ShardSeeds};
use crate::judge::{judge_until, Verdict};
use crate::run::{Cutoff, RunError, Stop, Trace};
use crate::scenario::Scenario;
use crate::seed::{splitmix64, Seed};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

/// Where two runs of one seed first differ.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Difference {
    /// The line of the compared rendering (the text trace, then its JSON lines), from 1.
    pub line: usize,
    /// The first run's line there (`<end of trace>` past its end).
    pub first: String,
    /// The second run's line there.
    pub second: String,
}

impl fmt::Display for Difference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "runs differ at trace line {}:\n  first:  {}\n  second: {}",
            self.line, self.first, self.second
        )
    }
}

/// What a determinism check compares of one run: its whole trace in both renderings, or the
/// error that left it without a verdict.
pub(crate) fn rendering(result: &Result<Verdict, RunError>) -> String {
    match result {
        Ok(verdict) => verdict.outcome.trace.render_for_comparison(),
        Err(e) => format!("the run has no verdict: {e}\n"),
    }
}

/// Where two renderings differ, if they do.
pub(crate) fn difference(first: &str, second: &str) -> Option<Difference> {
    Trace::first_difference(first, second).map(|(line, first, second)| Difference {
        line,
        first,
        second,
    })
}

/// Whether a passing `seed` is among those a sweep re-runs when it checks one passing seed
/// in `every`: chosen by the seed itself, so a sharded sweep re-runs the same seeds as the
/// whole one.
pub(crate) fn sampled(seed: Seed, every: u64) -> bool {
    every <= 1 || splitmix64(seed.0 ^ 0x6465_7465_726d_696e).is_multiple_of(every)
}

/// How to check: which seeds, and what to show on stderr.
#[derive(Debug, Clone)]
pub struct DeterminismOptions {
    /// The seeds to run twice each, in order.
    pub seeds: SeedSet,
    /// Show a progress bar on stderr (drawn only when stderr is a terminal).
    pub progress: bool,
    /// Print each seed on stderr before it runs.
    pub verbose: bool,
    /// Stop early, with the seeds checked so far, once this is set (Ctrl-C).
    pub interrupt: Option<Arc<AtomicBool>>,
}

impl DeterminismOptions {
    /// Checks `seeds`, with nothing on stderr.
    pub fn new(seeds: impl Into<SeedSet>) -> Self {
        DeterminismOptions {
            seeds: seeds.into(),
            progress: false,
            verbose: false,
            interrupt: None,
        }
    }
}

/// What a determinism check found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeterminismReport {
    /// The scenario's name.
    pub scenario: String,
    /// The seeds it was asked to check.
    pub seeds: SeedSet,
    /// Seeds run twice and compared.
    pub seeds_run: u64,
    /// The first seed whose runs differ, and where (the check stops there).
    pub difference: Option<SeedDifference>,
    /// Whether it was interrupted before it checked every seed.
    pub interrupted: bool,
}

/// A seed whose two runs differ.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SeedDifference {
    /// The seed.
    pub seed: Seed,
    /// Where its runs differ.
    #[serde(flatten)]
    pub difference: Difference,
}

impl DeterminismReport {
    /// Whether every seed checked ran the same twice.
    pub fn passed(&self) -> bool {
        self.difference.is_none()
    }
}

impl fmt::Display for DeterminismReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.difference {
            Some(d) => write!(f, "seed {}: {}", d.seed, d.difference)?,
            None => write!(
                f,
                "{} seed(s), each run twice: identical traces",
                self.seeds_run
            )?,
        }
        if self.interrupted {
            write!(f, "\ninterrupted: {} seed(s) checked", self.seeds_run)?;
        }
        Ok(())
    }
}

/// Runs each seed of `options` twice and compares the traces, stopping at the first seed
/// whose runs differ.
///
/// ```
/// use tcpnotify_sim::explore::{check_determinism, DeterminismOptions};
/// use tcpnotify_sim::Scenario;
/// let report = check_determinism(&Scenario::echo("echo", 64, 16), &DeterminismOptions::new(0..3));
/// assert!(report.passed(), "{report}");
/// assert_eq!(report.seeds_run, 3);
/// ```
pub fn check_determinism(scenario: &Scenario, options: &DeterminismOptions) -> DeterminismReport {
    let seeds = ShardSeeds::of(&options.seeds, None);
    let progress = Progress::new(options.progress, options.seeds.len(), options.verbose);
    let cutoff = match &options.interrupt {
        Some(flag) => Cutoff::never().interrupted_by(flag.clone()),
        None => Cutoff::never(),
    };
    let mut report = DeterminismReport {
        scenario: scenario.name.clone(),
        seeds: options.seeds.clone(),
        seeds_run: 0,
        difference: None,
        interrupted: false,
    };
    for seed in seeds {
        progress.starting(seed);
        let plan = scenario.plan_for(seed);
        let first = judge_until(scenario, &plan, &cutoff);
        let second = judge_until(scenario, &plan, &cutoff);
        let stopped = |r: &Result<Verdict, RunError>| {
            matches!(
                r,
                Err(RunError::Stopped {
                    stop: Stop::Interrupted,
                    ..
                })
            )
        };
        if stopped(&first) || stopped(&second) || cutoff.reached().is_some() {
            report.interrupted = true;
            break;
        }
        report.seeds_run += 1;
        progress.inc();
        if let Some(difference) = difference(&rendering(&first), &rendering(&second)) {
            report.difference = Some(SeedDifference { seed, difference });
            break;
        }
    }
    progress.finish();
    report
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sample_of_one_in_n_takes_about_one_in_n() {
        let taken = (0..10_000).filter(|s| sampled(Seed(*s), 10)).count();
        assert!((800..1200).contains(&taken), "{taken}");
        assert!((0..100).all(|s| sampled(Seed(s), 1)));
    }

    #[test]
    fn an_interrupted_check_reports_what_it_checked() {
        let flag = Arc::new(AtomicBool::new(true));
        let report = check_determinism(
            &Scenario::echo("echo", 64, 16),
            &DeterminismOptions {
                interrupt: Some(flag),
                ..DeterminismOptions::new(0..100)
            },
        );
        assert!(report.interrupted);
        assert_eq!(report.seeds_run, 0);
        assert!(report.passed());
    }

    #[test]
    fn different_renderings_name_the_first_line() {
        assert_eq!(difference("a\nb\n", "a\nb\n"), None);
        let d = difference("a\nb\n", "a\nc\n").expect("differs");
        assert_eq!((d.line, d.first.as_str(), d.second.as_str()), (2, "b", "c"));
    }
}
