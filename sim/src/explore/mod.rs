//! Many runs: [`sweep()`] runs a scenario over a [`SeedSet`] (a range, or fresh random
//! seeds), whole or one [`Shard`] of it, and [`SweepReport::merge`] puts the shards' reports
//! back together; [`shrink()`] minimises a failing plan
//! ([`Rerun`]: a sweep's failing seed run again and shrunk); [`check_determinism`] runs seeds
//! twice; [`Chaos`] wraps sweeping and shrinking for a `#[test]`; [`run_passing`] and
//! [`seed_or`] run one seed from a `#[test]` with a repro line; [`check_fuzz_input`] is what
//! the fuzzer checks. The environment overrides what a `#[test]` sweeps (`TCPNOTIFY_SEED`,
//! `TCPNOTIFY_SEEDS`, `TCPNOTIFY_COUNT`, `TCPNOTIFY_BUDGET`, `TCPNOTIFY_SEED_TIMEOUT`,
//! `TCPNOTIFY_JOBS`, `TCPNOTIFY_VERBOSE`, `TCPNOTIFY_CHECK_DETERMINISM`).

mod chaos;
mod determinism;
mod env;
mod fuzzing;
mod lost_hint;
mod merge;
mod progress;
mod regressions;
mod rerun;
mod seeds;
mod shrink;
mod sweep;
mod sweep_report;
#[cfg(test)]
mod test_scenarios;
mod testing;

pub use chaos::{Chaos, ChaosError, ChaosFailure, ChaosPass};
pub use determinism::{
    check_determinism, DeterminismOptions, DeterminismReport, Difference, SeedDifference,
};
pub use env::{
    parse_count, parse_determinism_sample, parse_duration, parse_jobs, parse_seed, parse_seeds,
    EnvError, EnvOverrides, ParseCountError, ParseDurationError, ParseJobsError, ParseSeedError,
    ParseSeedRangeError, SampleSyntax, BUDGET_VAR, CHECK_DETERMINISM_VAR, COUNT_VAR, JOBS_VAR,
    SEEDS_VAR, SEED_TIMEOUT_VAR, SEED_VAR, VERBOSE_VAR,
};
pub use fuzzing::check_fuzz_input;
pub use lost_hint::LostConnectionsHint;
pub use merge::MergeError;
pub use rerun::{NotShrunk, Rerun};
pub use seeds::{
    ParseSeedChoiceError, ParseSeedSetError, ParseShardError, SeedChoice, SeedChoiceError, SeedSet,
    Shard, ShardSeeds, RANDOM_SEED_LIMIT,
};
pub use shrink::{shrink, shrink_verdict, ShrinkResult};
pub use sweep::{default_jobs, sweep, SweepOptions, DEFAULT_DETERMINISM_SAMPLE};
pub use sweep_report::{
    FailureKind, SweepEnd, SweepFailure, SweepReport, MAX_LISTED_FAILURES, NONDETERMINISTIC,
    SEED_TIMEOUT,
};
pub use testing::{repro_line, run_checked, run_passing, seed_or};
