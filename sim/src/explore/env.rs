//! The environment a simulated `#[test]` reads, so CI can sweep more seeds, fresh seeds, or
//! re-run one without code changes. Each variable does what the `sweep` flag of the same
//! name does on the command line:
//!
//! | variable | flag | value |
//! |---|---|---|
//! | `TCPNOTIFY_SEED` | | one seed: the repro line of a failure sets it; wins over the others |
//! | `TCPNOTIFY_SEEDS` | `--seeds` | `A..B`, `random` (fresh seeds) or `random:G` (generator G's again) |
//! | `TCPNOTIFY_COUNT` | `--count` | how many random seeds (default: as many as the test's own range) |
//! | `TCPNOTIFY_BUDGET` | `--budget` | start no seed after this long: `10m`, `90s`, `1h 30m` |
//! | `TCPNOTIFY_SEED_TIMEOUT` | `--seed-timeout` | stop a seed that runs longer, and fail it |
//! | `TCPNOTIFY_JOBS` | `--jobs` | worker threads, 1 to 256 |
//! | `TCPNOTIFY_VERBOSE` | `-v` | `1`: print each seed on stderr before it runs |
//! | `TCPNOTIFY_CHECK_DETERMINISM` | `--check-determinism` | `1`: run every failing seed and one passing seed in 16 twice, and fail on a difference; `N` (from 2): one in N; `all`: every seed. A switch: `1` is on, where the flag's `1` is every seed |
//!
//! A value that does not parse is an error naming the variable.

use super::seeds::{ParseSeedChoiceError, SeedChoice, SeedChoiceError, SeedSet};
use super::sweep::DEFAULT_DETERMINISM_SAMPLE;
use crate::validate::{MAX_JOBS, MAX_WALL_TIME};
use std::ops::Range;
use std::time::Duration;

/// The environment variable that overrides a simulated test's seed.
pub const SEED_VAR: &str = "TCPNOTIFY_SEED";

/// The environment variable that replaces the seed set: `A..B`, `random` or `random:G`.
pub const SEEDS_VAR: &str = "TCPNOTIFY_SEEDS";

/// The environment variable that sets how many random seeds to run.
pub const COUNT_VAR: &str = "TCPNOTIFY_COUNT";

/// The environment variable that sets a sweep's time budget.
pub const BUDGET_VAR: &str = "TCPNOTIFY_BUDGET";

/// The environment variable that sets the wall-clock time after which a seed is stopped.
pub const SEED_TIMEOUT_VAR: &str = "TCPNOTIFY_SEED_TIMEOUT";

/// The environment variable that sets the number of worker threads.
pub const JOBS_VAR: &str = "TCPNOTIFY_JOBS";

/// The environment variable that prints each seed before it runs.
pub const VERBOSE_VAR: &str = "TCPNOTIFY_VERBOSE";

/// The environment variable that re-runs failing and sampled passing seeds to check that
/// their traces are the same.
pub const CHECK_DETERMINISM_VAR: &str = "TCPNOTIFY_CHECK_DETERMINISM";

/// Text that is not a seed range `A..B` of whole numbers with `A <= B`: the text.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0:?}: expected a range of seeds `A..B` with A <= B, e.g. 0..1000")]
pub struct ParseSeedRangeError(pub String);

/// Text that is not a seed (a whole number from 0 to `u64::MAX`): the text.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0:?}: expected a whole number")]
pub struct ParseSeedError(pub String);

/// Text that is not a wall-clock time from a millisecond to a year.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "{0:?}: expected a time from 1ms to 365days, as a number and a unit: 500ms, 30s, 10m, 1h 30m"
)]
pub struct ParseDurationError(pub String);

/// An environment variable that does not hold what it should; the message names it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EnvError {
    /// `TCPNOTIFY_SEEDS` is not `A..B` (with A below B), `random` or `random:G`.
    #[error("{SEEDS_VAR}={0}")]
    Seeds(ParseSeedChoiceError),
    /// `TCPNOTIFY_SEED` is not a whole number.
    #[error("{SEED_VAR}={0}")]
    Seed(ParseSeedError),
    /// `TCPNOTIFY_JOBS` is not a whole number from 1 to [`MAX_JOBS`].
    #[error("{JOBS_VAR}={0}")]
    Jobs(ParseJobsError),
    /// `TCPNOTIFY_COUNT` is not a whole number from 1, or is set without random seeds.
    #[error(
        "{COUNT_VAR}={0:?}: expected a number of random seeds from 1, with {SEEDS_VAR}=random"
    )]
    Count(String),
    /// A time variable does not hold a time.
    #[error("{var}={error}")]
    Duration {
        /// The variable.
        var: &'static str,
        /// What is wrong with its value.
        error: ParseDurationError,
    },
    /// A switch that is neither on nor off.
    #[error("{var}={value:?}: expected {expected}")]
    Switch {
        /// The variable.
        var: &'static str,
        /// Its value.
        value: String,
        /// What it may be.
        expected: &'static str,
    },
    /// The OS gave no randomness to draw random seeds from.
    #[error("{SEEDS_VAR}=random: cannot draw a generator from the OS: {0}")]
    Random(String),
}

/// Parses a seed range written `A..B`.
///
/// ```
/// use tcpnotify_sim::explore::parse_seeds;
/// assert_eq!(parse_seeds("10..250"), Ok(10..250));
/// assert!(parse_seeds("250..10").is_err());
/// ```
pub fn parse_seeds(text: &str) -> Result<Range<u64>, ParseSeedRangeError> {
    match text.parse::<SeedSet>() {
        Ok(SeedSet::Range { start, end }) => Ok(start.0..end.0),
        _ => Err(ParseSeedRangeError(text.to_string())),
    }
}

/// Text that is not a number of seeds (a whole number from 1): the text.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0:?}: expected a number of seeds from 1")]
pub struct ParseCountError(pub String);

/// Text that is not a number of worker threads (1 to [`MAX_JOBS`]): the text.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0:?}: expected a number of worker threads from 1 to {MAX_JOBS}")]
pub struct ParseJobsError(pub String);

/// Parses a number of random seeds (`--count`, `TCPNOTIFY_COUNT`): a whole number from 1.
///
/// ```
/// use tcpnotify_sim::explore::parse_count;
/// assert_eq!(parse_count(" 50 "), Ok(50));
/// assert!(parse_count("0").is_err());
/// ```
pub fn parse_count(text: &str) -> Result<u64, ParseCountError> {
    (text.trim().parse::<u64>().ok())
        .filter(|n| *n > 0)
        .ok_or_else(|| ParseCountError(text.to_string()))
}

/// Parses a number of worker threads (`--jobs`, `TCPNOTIFY_JOBS`): 1 to [`MAX_JOBS`] (each
/// is a thread with a large stack: thousands of them could abort the process).
///
/// ```
/// use tcpnotify_sim::explore::parse_jobs;
/// assert_eq!(parse_jobs("3"), Ok(3));
/// assert!(parse_jobs("0").is_err());
/// assert!(parse_jobs("10000").is_err());
/// ```
pub fn parse_jobs(text: &str) -> Result<usize, ParseJobsError> {
    (text.trim().parse::<usize>().ok())
        .filter(|n| (1..=MAX_JOBS).contains(n))
        .ok_or_else(|| ParseJobsError(text.to_string()))
}

/// Parses one seed, as `TCPNOTIFY_SEED` holds it.
///
/// ```
/// use tcpnotify_sim::explore::parse_seed;
/// assert_eq!(parse_seed(" 42 "), Ok(42));
/// assert!(parse_seed("x").is_err());
/// ```
pub fn parse_seed(text: &str) -> Result<u64, ParseSeedError> {
    text.trim()
        .parse()
        .map_err(|_| ParseSeedError(text.to_string()))
}

/// Parses a wall-clock time (`--budget`, `--seed-timeout`): a number and a unit, from 1 ms to
/// [`MAX_WALL_TIME`].
///
/// ```
/// use std::time::Duration;
/// use tcpnotify_sim::explore::parse_duration;
/// assert_eq!(parse_duration("10m"), Ok(Duration::from_secs(600)));
/// assert_eq!(parse_duration("1h 30m"), Ok(Duration::from_secs(5400)));
/// assert!(parse_duration("0s").is_err());
/// assert!(parse_duration("10").is_err(), "a unit is needed");
/// assert!(parse_duration("100000days").is_err());
/// ```
pub fn parse_duration(text: &str) -> Result<Duration, ParseDurationError> {
    humantime::parse_duration(text.trim())
        .ok()
        .filter(|d| *d >= Duration::from_millis(1) && *d <= MAX_WALL_TIME)
        .ok_or_else(|| ParseDurationError(text.to_string()))
}

/// Where a determinism sample is written, which decides what a bare `1` or `0` means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SampleSyntax {
    /// `TCPNOTIFY_CHECK_DETERMINISM`, a switch like the other variables: `1` is on (one
    /// passing seed in [`DEFAULT_DETERMINISM_SAMPLE`]) and `0` off.
    Switch,
    /// `--check-determinism N`, whose help says "one passing seed in N": `1` is every seed,
    /// and `0` (one in none) is refused.
    Count,
}

/// Parses how a sweep checks determinism: `off` none; `on` every failing seed and one passing
/// seed in [`DEFAULT_DETERMINISM_SAMPLE`]; `N` one in N; `all` every seed. `1` and `0` are
/// read as `syntax` says. `None` when the text is none of these.
///
/// ```
/// use tcpnotify_sim::explore::{parse_determinism_sample, SampleSyntax::{Count, Switch}};
/// assert_eq!(parse_determinism_sample("on", Count), Some(Some(16)));
/// assert_eq!(parse_determinism_sample("4", Count), Some(Some(4)));
/// assert_eq!(parse_determinism_sample("all", Count), Some(Some(1)));
/// assert_eq!(parse_determinism_sample("off", Count), Some(None));
/// assert_eq!(parse_determinism_sample("sometimes", Count), None);
/// assert_eq!(parse_determinism_sample("1", Count), Some(Some(1)));
/// assert_eq!(parse_determinism_sample("0", Count), None);
/// assert_eq!(parse_determinism_sample("1", Switch), Some(Some(16)));
/// assert_eq!(parse_determinism_sample("0", Switch), Some(None));
/// ```
pub fn parse_determinism_sample(text: &str, syntax: SampleSyntax) -> Option<Option<u64>> {
    let text = text.trim().to_ascii_lowercase();
    let number = text.parse::<u64>().ok();
    match (text.as_str(), number, syntax) {
        ("all", ..) => Some(Some(1)),
        (_, Some(0), SampleSyntax::Count) => None,
        (_, Some(n), SampleSyntax::Count) => Some(Some(n)),
        (word, ..) => match switch(word) {
            Some(on) => Some(on.then_some(DEFAULT_DETERMINISM_SAMPLE)),
            None => number.map(Some),
        },
    }
}

/// The words a switch may be: on or off.
fn switch(text: &str) -> Option<bool> {
    match text.trim().to_ascii_lowercase().as_str() {
        "1" | "true" | "yes" | "on" => Some(true),
        "" | "0" | "false" | "no" | "off" => Some(false),
        _ => None,
    }
}

/// What the environment says about a sweep: every variable of the module docs, parsed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EnvOverrides {
    /// The seeds, from `TCPNOTIFY_SEED` or else `TCPNOTIFY_SEEDS` and `TCPNOTIFY_COUNT` (a
    /// random set without a count is for the caller to size).
    pub seeds: Option<SeedSet>,
    /// `TCPNOTIFY_JOBS`.
    pub jobs: Option<usize>,
    /// `TCPNOTIFY_BUDGET`.
    pub budget: Option<Duration>,
    /// `TCPNOTIFY_SEED_TIMEOUT`.
    pub seed_timeout: Option<Duration>,
    /// `TCPNOTIFY_VERBOSE`.
    pub verbose: bool,
    /// `TCPNOTIFY_CHECK_DETERMINISM`: check one passing seed in this many (and every failing
    /// one).
    pub check_determinism: Option<u64>,
    /// `TCPNOTIFY_SEED` set: one seed run again (a repro line), not a sweep.
    pub one_seed: bool,
}

impl EnvOverrides {
    /// Reads the process's environment.
    pub fn from_process() -> Result<Self, EnvError> {
        Self::read(|name| std::env::var(name).ok())
    }

    /// Reads the variables through `var` (the process's environment, or a test's map).
    /// `TCPNOTIFY_SEEDS=random` draws its generator from the OS here.
    pub fn read(var: impl Fn(&str) -> Option<String>) -> Result<Self, EnvError> {
        let mut env = EnvOverrides::default();
        let count_text = var(COUNT_VAR);
        let count = (count_text.as_deref())
            .map(|text| parse_count(text).map_err(|_| EnvError::Count(text.to_string())))
            .transpose()?;
        if let Some(text) = var(SEEDS_VAR) {
            let choice: SeedChoice = text.parse().map_err(EnvError::Seeds)?;
            env.seeds = Some(choice.resolve(count).map_err(|e| match e {
                SeedChoiceError::CountOfRange(_) => {
                    EnvError::Count(count_text.clone().unwrap_or_default())
                }
                SeedChoiceError::Random(e) => EnvError::Random(e),
            })?);
        } else if let Some(text) = count_text {
            return Err(EnvError::Count(text));
        }
        if let Some(text) = var(SEED_VAR) {
            let seed = parse_seed(&text).map_err(EnvError::Seed)?;
            env.seeds = Some(SeedSet::from(seed..seed.saturating_add(1)));
            env.one_seed = true;
        }
        if let Some(text) = var(JOBS_VAR) {
            env.jobs = Some(parse_jobs(&text).map_err(EnvError::Jobs)?);
        }
        let duration = |name: &'static str| -> Result<Option<Duration>, EnvError> {
            var(name)
                .map(|text| {
                    parse_duration(&text).map_err(|error| EnvError::Duration { var: name, error })
                })
                .transpose()
        };
        env.budget = duration(BUDGET_VAR)?;
        env.seed_timeout = duration(SEED_TIMEOUT_VAR)?;
        if let Some(text) = var(VERBOSE_VAR) {
            env.verbose = switch(&text).ok_or(EnvError::Switch {
                var: VERBOSE_VAR,
                value: text.clone(),
                expected: "1 or 0",
            })?;
        }
        if let Some(text) = var(CHECK_DETERMINISM_VAR) {
            env.check_determinism =
                parse_determinism_sample(&text, SampleSyntax::Switch).ok_or(EnvError::Switch {
                    var: CHECK_DETERMINISM_VAR,
                    value: text.clone(),
                    expected: "1 (one passing seed in 16), N (one in N), all, or 0",
                })?;
        }
        Ok(env)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::explore::seeds::ParseSeedSetError;
    use crate::seed::Seed;
    use std::collections::BTreeMap;

    fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: BTreeMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |name| map.get(name).cloned()
    }

    #[test]
    fn seeds_range_replaces_the_code_range() {
        let read = EnvOverrides::read(env(&[(SEEDS_VAR, "100..5000")])).unwrap();
        assert_eq!(read.seeds, Some(SeedSet::from(100..5000)));
        assert_eq!(
            EnvOverrides::read(env(&[])).unwrap(),
            EnvOverrides::default()
        );
    }

    #[test]
    fn single_seed_wins_over_the_range() {
        let read = EnvOverrides::read(env(&[
            (SEEDS_VAR, "0..1000"),
            (SEED_VAR, "77"),
            (JOBS_VAR, "3"),
        ]))
        .unwrap();
        assert_eq!(read.seeds, Some(SeedSet::from(77..78)));
        assert_eq!(read.jobs, Some(3));
    }

    #[test]
    fn random_seeds_budgets_timeouts_and_switches_are_read() {
        let read = EnvOverrides::read(env(&[
            (SEEDS_VAR, "random"),
            (COUNT_VAR, "50"),
            (BUDGET_VAR, "10m"),
            (SEED_TIMEOUT_VAR, "30s"),
            (VERBOSE_VAR, "1"),
            (CHECK_DETERMINISM_VAR, "1"),
        ]))
        .unwrap();
        assert!(
            matches!(
                read.seeds,
                Some(SeedSet::Random {
                    count: Some(50),
                    ..
                })
            ),
            "{read:?}"
        );
        assert_eq!(read.budget, Some(Duration::from_secs(600)));
        assert_eq!(read.seed_timeout, Some(Duration::from_secs(30)));
        assert!(read.verbose);
        assert_eq!(read.check_determinism, Some(DEFAULT_DETERMINISM_SAMPLE));
        let again = EnvOverrides::read(env(&[(SEEDS_VAR, "random:12"), (COUNT_VAR, "5")]));
        assert_eq!(
            again.unwrap().seeds,
            Some(SeedSet::Random {
                generator: Seed(12),
                count: Some(5)
            })
        );
    }

    #[test]
    fn malformed_overrides_name_the_variable() {
        let err = EnvOverrides::read(env(&[(SEEDS_VAR, "5-9")])).unwrap_err();
        assert_eq!(err, EnvError::Seeds(ParseSeedSetError("5-9".into()).into()));
        assert!(err.to_string().starts_with("TCPNOTIFY_SEEDS=\"5-9\""));
        assert_eq!(
            EnvOverrides::read(env(&[(SEED_VAR, "x")])),
            Err(EnvError::Seed(ParseSeedError("x".into())))
        );
        assert_eq!(
            EnvOverrides::read(env(&[(JOBS_VAR, "0")])),
            Err(EnvError::Jobs(ParseJobsError("0".into())))
        );
        // Each job is a thread with a 16 MiB stack: 10,000 of them could abort the process.
        assert_eq!(
            EnvOverrides::read(env(&[(JOBS_VAR, "10000")])),
            Err(EnvError::Jobs(ParseJobsError("10000".into())))
        );
        for (var, value) in [
            (BUDGET_VAR, "soon"),
            (SEED_TIMEOUT_VAR, "0s"),
            (VERBOSE_VAR, "loud"),
            (CHECK_DETERMINISM_VAR, "maybe"),
            (COUNT_VAR, "0"),
        ] {
            let vars = [(SEEDS_VAR, "random"), (var, value)];
            let err = EnvOverrides::read(env(&vars)).expect_err(var);
            assert!(err.to_string().starts_with(var), "{err}");
        }
        // No seeds is a mistake, here as on the command line (`--seeds 3..3`).
        let err = EnvOverrides::read(env(&[(SEEDS_VAR, "3..3")])).expect_err("an empty range");
        assert!(
            err.to_string()
                .starts_with("TCPNOTIFY_SEEDS=\"3..3\": an empty range"),
            "{err}"
        );
        // A count belongs to random seeds.
        assert!(matches!(
            EnvOverrides::read(env(&[(COUNT_VAR, "5")])),
            Err(EnvError::Count(_))
        ));
        assert!(matches!(
            EnvOverrides::read(env(&[(SEEDS_VAR, "0..5"), (COUNT_VAR, "5")])),
            Err(EnvError::Count(_))
        ));
    }
}
