//! What a sweep found: the [`SweepReport`] (the seeds that ran, their failures, their
//! coverage, and why the sweep ended) and each [`SweepFailure`] in it. A report is data,
//! written as JSON and read back to merge the reports of a sweep's shards
//! ([`SweepReport::merge`], in `merge.rs`).

use super::seeds::{SeedSet, Shard};
use crate::judge::Coverage;
use crate::seed::Seed;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::time::Duration;

/// Failing seeds a report lists (the lowest ones); the rest are only counted.
pub const MAX_LISTED_FAILURES: usize = 100;

/// The signature of a seed stopped by the seed timeout.
pub const SEED_TIMEOUT: &str = "seed_timeout";

/// The signature of a seed whose two runs differed.
pub const NONDETERMINISTIC: &str = "nondeterministic";

/// What kind of failure a failing seed had.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FailureKind {
    /// The run broke a contract rule or an end condition of the scenario.
    Failed,
    /// The run has no verdict: a plan or scenario the runner refused, or a limit of the
    /// simulator it reached (`RunError::LimitReached`).
    RunError,
    /// The run took longer than the seed timeout in wall-clock time and was stopped.
    TimedOut,
    /// Two runs of the seed gave different traces.
    Nondeterministic,
}

/// One failing seed of a sweep.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SweepFailure {
    /// The seed.
    pub seed: Seed,
    /// Its place in the sweep's seed set, from 0: failures are listed in this order, and the
    /// failures of a sweep's shards merge in it.
    pub index: u64,
    /// What kind of failure.
    pub kind: FailureKind,
    /// Its first failure's signature (a rule id or property name), as shrinking keeps it;
    /// [`RUN_ERROR`](crate::judge::RUN_ERROR), [`SEED_TIMEOUT`] or [`NONDETERMINISTIC`] for the other kinds.
    pub signature: String,
    /// Its first failure, in words.
    pub summary: String,
    /// The command that re-runs the seed, when the sweep's caller knows it (the command line
    /// and the chaos API fill it in).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub repro: Option<String>,
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

/// Why a sweep ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SweepEnd {
    /// Every seed of the set (or of the shard) ran.
    Complete,
    /// It stopped after the lowest failing seed.
    StoppedAtFailure,
    /// The time budget ran out.
    BudgetSpent,
    /// It was interrupted.
    Interrupted,
}

/// What a sweep found: the seeds that ran (every seed of the set or shard, or the first ones
/// of it when the sweep ended early), their failures and their coverage.
///
/// It is data: written as JSON (`sweep --json`, `docs/json.md`) and read back to merge the
/// reports of a sweep's shards into the whole sweep's ([`SweepReport::merge`]). Everything in
/// it but `elapsed` (not written, so not read back or merged) is a function of the scenario, the seeds run and the
/// options, never of the number of jobs or of the machine.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SweepReport {
    /// The scenario's name.
    pub scenario: String,
    /// The seeds the sweep was asked to run (all shards together).
    pub seeds: SeedSet,
    /// The shard this report covers; `None` for the whole set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shard: Option<Shard>,
    /// Why the sweep ended.
    pub end: SweepEnd,
    /// How many seeds ran and count in this report: the first ones of the set or shard, in
    /// order.
    pub seeds_run: usize,
    /// How many of them failed.
    pub failed: usize,
    /// The lowest failing seeds, at most [`MAX_LISTED_FAILURES`] of them, lowest index in the
    /// set first. When the sweep stops at a failure, at most one: the lowest failing seed.
    pub failures: Vec<SweepFailure>,
    /// What the counted runs exercised.
    pub coverage: Coverage,
    /// Wall-clock time of the sweep, if this report is the sweep's own: not part of the JSON
    /// (it is the one thing that differs between two runs of the same sweep), so a report
    /// read back or merged from shards has none, rather than a time nobody measured.
    #[serde(skip)]
    pub elapsed: Option<Duration>,
}

impl SweepReport {
    /// The report of a sweep of `seeds` that has run nothing yet.
    pub fn empty(scenario: &str, seeds: SeedSet, shard: Option<Shard>) -> Self {
        SweepReport {
            scenario: scenario.to_string(),
            seeds,
            shard,
            end: SweepEnd::Complete,
            seeds_run: 0,
            failed: 0,
            failures: Vec::new(),
            coverage: Coverage::default(),
            elapsed: None,
        }
    }

    /// Seeds run per second of wall-clock time, if the time is known.
    pub fn seeds_per_second(&self) -> Option<f64> {
        let secs = self.elapsed?.as_secs_f64();
        Some(if secs > 0.0 {
            self.seeds_run as f64 / secs
        } else {
            0.0
        })
    }

    /// Whether no seed failed.
    pub fn passed(&self) -> bool {
        self.failed == 0
    }

    /// Counts one seed's result, in seed order: its coverage, and its failure if it had one.
    pub(super) fn fold(&mut self, coverage: &Coverage, failure: Option<SweepFailure>) {
        self.seeds_run += 1;
        self.coverage.merge(coverage);
        if let Some(failure) = failure {
            self.failed += 1;
            if self.failures.len() < MAX_LISTED_FAILURES {
                self.failures.push(failure);
            }
        }
    }

    /// The seed to start from to run the rest of an interrupted or budgeted sweep without a
    /// shard: the first seed of a range that did not run.
    pub fn resume_from(&self) -> Option<Seed> {
        match (&self.seeds, self.end, self.shard) {
            (SeedSet::Range { start, .. }, SweepEnd::Interrupted | SweepEnd::BudgetSpent, None) => {
                Some(Seed(start.0.saturating_add(self.seeds_run as u64)))
            }
            _ => None,
        }
    }
}

impl fmt::Display for SweepReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let verdict = if self.passed() {
            "passed".to_string()
        } else {
            format!("{} FAILED", self.failed)
        };
        let shard = self
            .shard
            .map_or(String::new(), |s| format!(" (shard {s})"));
        let timing = match (self.elapsed, self.seeds_per_second()) {
            (Some(elapsed), Some(rate)) => {
                format!(" in {:.1}s ({rate:.1} seeds/s)", elapsed.as_secs_f64())
            }
            _ => String::new(),
        };
        writeln!(
            f,
            "swept {} seed(s) of {}{shard}{timing}: {verdict}",
            self.seeds_run, self.seeds,
        )?;
        match self.end {
            SweepEnd::Complete | SweepEnd::StoppedAtFailure => {}
            SweepEnd::BudgetSpent => writeln!(f, "the time budget ran out")?,
            SweepEnd::Interrupted => writeln!(f, "INTERRUPTED: only these seeds ran")?,
        }
        if let Some(seed) = self.resume_from() {
            if let SeedSet::Range { end, .. } = &self.seeds {
                writeln!(f, "the rest: --seeds {seed}..{end}")?;
            }
        }
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
        if self.passed() {
            write!(f, "{}", self.coverage)
        } else {
            write!(f, "{}", self.coverage.of_failing_sweep())
        }
    }
}
