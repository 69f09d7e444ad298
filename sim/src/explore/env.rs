//! The environment a simulated `#[test]` reads, so CI can sweep more seeds or re-run one
//! without code changes: `TCPNOTIFY_SEED` (one seed), `TCPNOTIFY_SEEDS` (a range) and
//! `TCPNOTIFY_JOBS` (worker threads). A value that does not parse is an error naming the
//! variable.

use crate::validate::MAX_JOBS;
use std::ops::Range;

/// The environment variable that overrides a simulated test's seed.
pub const SEED_VAR: &str = "TCPNOTIFY_SEED";

/// The environment variable that replaces the seed range: `A..B`.
pub const SEEDS_VAR: &str = "TCPNOTIFY_SEEDS";

/// The environment variable that sets the number of worker threads.
pub const JOBS_VAR: &str = "TCPNOTIFY_JOBS";

/// Text that is not a seed range `A..B` of whole numbers with `A <= B`: the text.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0:?}: expected a range of seeds `A..B` with A <= B, e.g. 0..1000")]
pub struct ParseSeedRangeError(pub String);

/// Text that is not a seed (a whole number from 0 to `u64::MAX`): the text.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0:?}: expected a whole number")]
pub struct ParseSeedError(pub String);

/// An environment variable that does not hold what it should; the message names it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EnvError {
    /// `TCPNOTIFY_SEEDS` is not `A..B` with `A <= B`.
    #[error("{SEEDS_VAR}={0}")]
    Seeds(ParseSeedRangeError),
    /// `TCPNOTIFY_SEED` is not a whole number.
    #[error("{SEED_VAR}={0}")]
    Seed(ParseSeedError),
    /// `TCPNOTIFY_JOBS` is not a whole number from 1 to [`MAX_JOBS`].
    #[error("{JOBS_VAR}={0:?}: expected a number of worker threads from 1 to {MAX_JOBS}")]
    Jobs(String),
}

/// Parses a seed range written `A..B`.
///
/// ```
/// use tcpnotify_sim::explore::parse_seeds;
/// assert_eq!(parse_seeds("10..250"), Ok(10..250));
/// assert!(parse_seeds("250..10").is_err());
/// ```
pub fn parse_seeds(text: &str) -> Result<Range<u64>, ParseSeedRangeError> {
    let bad = || ParseSeedRangeError(text.to_string());
    let (start, end) = text.trim().split_once("..").ok_or_else(bad)?;
    let start: u64 = start.trim().parse().map_err(|_| bad())?;
    let end: u64 = end.trim().parse().map_err(|_| bad())?;
    if start > end {
        return Err(bad());
    }
    Ok(start..end)
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

/// The seeds and jobs after the environment's overrides.
pub(super) fn resolve(
    seeds: Range<u64>,
    jobs: usize,
    var: impl Fn(&str) -> Option<String>,
) -> Result<(Range<u64>, usize), EnvError> {
    let mut range = seeds;
    if let Some(text) = var(SEEDS_VAR) {
        range = parse_seeds(&text).map_err(EnvError::Seeds)?;
    }
    if let Some(text) = var(SEED_VAR) {
        let seed = parse_seed(&text).map_err(EnvError::Seed)?;
        range = seed..seed.saturating_add(1);
    }
    let mut jobs = jobs;
    if let Some(text) = var(JOBS_VAR) {
        jobs = text
            .trim()
            .parse()
            .ok()
            .filter(|n| (1..=MAX_JOBS).contains(n))
            .ok_or_else(|| EnvError::Jobs(text.clone()))?;
    }
    Ok((range, jobs))
}

#[cfg(test)]
mod tests {
    use super::*;
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
        assert_eq!(
            resolve(0..10, 2, env(&[(SEEDS_VAR, "100..5000")])),
            Ok((100..5000, 2))
        );
        assert_eq!(resolve(0..10, 2, env(&[])), Ok((0..10, 2)));
    }

    #[test]
    fn single_seed_wins_over_the_range() {
        assert_eq!(
            resolve(
                0..10,
                2,
                env(&[(SEEDS_VAR, "0..1000"), (SEED_VAR, "77"), (JOBS_VAR, "3")])
            ),
            Ok((77..78, 3))
        );
    }

    #[test]
    fn malformed_overrides_name_the_variable() {
        let err = resolve(0..10, 1, env(&[(SEEDS_VAR, "5-9")])).unwrap_err();
        assert_eq!(err, EnvError::Seeds(ParseSeedRangeError("5-9".into())));
        assert!(err.to_string().starts_with("TCPNOTIFY_SEEDS=\"5-9\""));
        assert_eq!(
            resolve(0..10, 1, env(&[(SEED_VAR, "x")])),
            Err(EnvError::Seed(ParseSeedError("x".into())))
        );
        assert_eq!(
            resolve(0..10, 1, env(&[(JOBS_VAR, "0")])),
            Err(EnvError::Jobs("0".into()))
        );
        // Each job is a thread with a 16 MiB stack: 10,000 of them could abort the process.
        assert_eq!(
            resolve(0..10, 1, env(&[(JOBS_VAR, "10000")])),
            Err(EnvError::Jobs("10000".into()))
        );
    }
}
