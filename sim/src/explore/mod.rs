//! Many runs: [`sweep()`] runs a scenario over a range of seeds, [`shrink()`] minimises a
//! failing plan, [`Chaos`] wraps both for a `#[test]`, [`run_passing`] and [`seed_or`] run one
//! seed from a `#[test]` with a repro line, and [`check_fuzz_input`] is what the fuzzer checks.
//! The environment overrides seeds and jobs (`TCPNOTIFY_SEED`, `TCPNOTIFY_SEEDS`,
//! `TCPNOTIFY_JOBS`).

mod chaos;
mod env;
mod fuzzing;
mod shrink;
mod sweep;
mod testing;

pub use chaos::{Chaos, ChaosError, ChaosFailure, ChaosPass};
pub use env::{
    parse_seed, parse_seeds, EnvError, ParseSeedError, ParseSeedRangeError, JOBS_VAR, SEEDS_VAR,
    SEED_VAR,
};
pub use fuzzing::check_fuzz_input;
pub use shrink::{shrink, shrink_verdict, ShrinkResult};
pub use sweep::{
    default_jobs, sweep, ShardSeeds, SweepFailure, SweepOptions, SweepReport, MAX_LISTED_FAILURES,
};
pub use testing::{repro_line, run_checked, run_passing, seed_or};
