//! Merging the reports of a sweep's shards (`--shard I/N` on N machines: a Kubernetes Indexed
//! Job, a CI matrix) into the report of the whole sweep.
//!
//! Every field of a report adds up across shards: seeds run, failures counted, coverage
//! counts; the listed failures are the lowest by their index in the seed set, and each shard
//! lists its own lowest, so the lowest of all are among them. A shard runs every one of its
//! seeds, so the shards of a complete sweep merge into exactly the report of the same sweep
//! run whole with `keep_going` (the test `sim/tests/cli/merge.rs` runs both and compares).

use super::sweep_report::{SweepEnd, SweepReport, MAX_LISTED_FAILURES};
use std::collections::BTreeSet;

/// Why reports cannot be merged: they are not the shards of one sweep.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MergeError {
    /// Nothing to merge.
    #[error("no sweep result to merge")]
    Nothing,
    /// The reports are of different scenarios.
    #[error("report {index} is of scenario {found:?}, the first of {expected:?}")]
    Scenario {
        /// The report's place among those given, from 1.
        index: usize,
        /// Its scenario.
        found: String,
        /// The first report's.
        expected: String,
    },
    /// The reports swept different seed sets.
    #[error("report {index} swept seeds {found}, the first swept {expected}")]
    Seeds {
        /// The report's place among those given, from 1.
        index: usize,
        /// Its seeds.
        found: String,
        /// The first report's.
        expected: String,
    },
    /// A report is of the whole set, among others: it is not a shard.
    #[error(
        "report {index} is of the whole seed set (no --shard), and there are {count} reports: \
         merge the shards of one sweep"
    )]
    NotAShard {
        /// The report's place among those given, from 1.
        index: usize,
        /// How many reports were given.
        count: usize,
    },
    /// The shards are of different splits, repeat one, or miss one.
    #[error("the shards are not one split of the seeds: {problem}")]
    Shards {
        /// What is wrong (`shard 2/4 is missing`, ...).
        problem: String,
    },
    /// A shard stopped at its first failure, so the seeds after it are missing.
    #[error(
        "report {index} (shard {shard}) stopped at its first failure: it is not a whole shard \
         (shards run every seed; was it written by an older tcpnotify-sim?)"
    )]
    Stopped {
        /// The report's place among those given, from 1.
        index: usize,
        /// Its shard.
        shard: String,
    },
}

impl SweepReport {
    /// The report of the whole sweep whose shards' reports are `parts`, given in any order; a
    /// single report of the whole set merges into itself.
    ///
    /// The result is the same, field for field, as the report of the whole set swept with
    /// `keep_going` when every shard is complete. A shard that ended early (its budget ran
    /// out, or it was interrupted) counts the seeds it ran, and the merged report ends the
    /// same way.
    ///
    /// ```
    /// use tcpnotify_sim::explore::{sweep, Shard, SweepOptions, SweepReport};
    /// use tcpnotify_sim::{Expectations, Scenario};
    /// // The echo closes two connections, not three: every seed fails.
    /// let scenario = Scenario::echo("echo", 64, 16)
    ///     .expecting(Expectations { closed: Some(3), ..Expectations::default() });
    /// let options = SweepOptions { keep_going: true, jobs: 1, ..SweepOptions::new(0..6) };
    /// let whole = sweep(&scenario, &options);
    /// let shards: Vec<SweepReport> = (0..2)
    ///     .map(|i| sweep(&scenario, &SweepOptions { shard: Shard::new(i, 2), ..options.clone() }))
    ///     .collect();
    /// let merged = SweepReport::merge(shards).unwrap();
    /// assert_eq!(merged, SweepReport { elapsed: merged.elapsed, ..whole });
    /// ```
    pub fn merge(parts: impl IntoIterator<Item = SweepReport>) -> Result<SweepReport, MergeError> {
        let parts: Vec<SweepReport> = parts.into_iter().collect();
        let Some(first) = parts.first() else {
            return Err(MergeError::Nothing);
        };
        if parts.len() == 1 && first.shard.is_none() {
            return Ok(first.clone());
        }
        check_shards(&parts)?;
        let mut merged = SweepReport::empty(&first.scenario, first.seeds.clone(), None);
        let mut failures = Vec::new();
        for part in &parts {
            merged.seeds_run += part.seeds_run;
            merged.failed += part.failed;
            merged.coverage.merge(&part.coverage);
            failures.extend(part.failures.iter().cloned());
            merged.end = match (merged.end, part.end) {
                (SweepEnd::Interrupted, _) | (_, SweepEnd::Interrupted) => SweepEnd::Interrupted,
                (SweepEnd::BudgetSpent, _) | (_, SweepEnd::BudgetSpent) => SweepEnd::BudgetSpent,
                _ => SweepEnd::Complete,
            };
        }
        failures.sort_by_key(|f| f.index);
        failures.truncate(MAX_LISTED_FAILURES);
        merged.failures = failures;
        Ok(merged)
    }
}

/// Checks that `parts` are the shards of one sweep: one scenario, one seed set, and shards
/// `0/N` to `N-1/N`, each once and whole.
fn check_shards(parts: &[SweepReport]) -> Result<(), MergeError> {
    let first = &parts[0];
    let mut seen = BTreeSet::new();
    let mut count = None;
    for (i, part) in parts.iter().enumerate() {
        let index = i + 1;
        if part.scenario != first.scenario {
            return Err(MergeError::Scenario {
                index,
                found: part.scenario.clone(),
                expected: first.scenario.clone(),
            });
        }
        if part.seeds != first.seeds {
            return Err(MergeError::Seeds {
                index,
                found: part.seeds.to_string(),
                expected: first.seeds.to_string(),
            });
        }
        let Some(shard) = part.shard else {
            return Err(MergeError::NotAShard {
                index,
                count: parts.len(),
            });
        };
        if part.end == SweepEnd::StoppedAtFailure {
            return Err(MergeError::Stopped {
                index,
                shard: shard.to_string(),
            });
        }
        match count {
            Some(n) if n != shard.count => {
                return Err(MergeError::Shards {
                    problem: format!("shard {shard} is of {} shards, others of {n}", shard.count),
                })
            }
            _ => count = Some(shard.count),
        }
        if !seen.insert(shard.index) {
            return Err(MergeError::Shards {
                problem: format!("shard {shard} is given twice"),
            });
        }
    }
    let count = count.unwrap_or(1);
    if let Some(missing) = (0..count).find(|i| !seen.contains(i)) {
        return Err(MergeError::Shards {
            problem: format!("shard {missing}/{count} is missing"),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::explore::{sweep, SeedSet, Shard, SweepOptions};
    use crate::seed::Seed;

    fn shards(set: SeedSet, n: u64) -> (SweepReport, Vec<SweepReport>) {
        let options = SweepOptions {
            keep_going: true,
            jobs: 2,
            ..SweepOptions::new(set)
        };
        let scenario = super::super::test_scenarios::sometimes_failing("merge-echo");
        let whole = sweep(&scenario, &options);
        let parts = (0..n)
            .map(|i| {
                sweep(
                    &scenario,
                    &SweepOptions {
                        shard: Shard::new(i, n),
                        ..options.clone()
                    },
                )
            })
            .collect();
        (whole, parts)
    }

    fn without_time(report: SweepReport) -> SweepReport {
        SweepReport {
            elapsed: Default::default(),
            ..report
        }
    }

    #[test]
    fn shards_of_a_range_and_of_random_seeds_merge_into_the_whole_sweep() {
        for set in [
            SeedSet::from(0..24),
            SeedSet::Random {
                generator: Seed(5),
                count: Some(24),
            },
        ] {
            let (whole, mut parts) = shards(set, 3);
            assert!(!whole.failures.is_empty(), "some seed must fail: {whole}");
            parts.reverse();
            let merged = SweepReport::merge(parts).expect("the shards of one sweep");
            assert_eq!(without_time(merged), without_time(whole));
        }
    }

    #[test]
    fn a_merged_report_claims_no_time_as_the_shards_kept_none() {
        let (whole, parts) = shards(SeedSet::from(0..6), 3);
        assert!(whole.to_string().contains(" seeds/s): "), "{whole}");
        let merged = SweepReport::merge(parts).expect("the shards of one sweep");
        assert_eq!(merged.elapsed, None);
        assert_eq!(merged.seeds_per_second(), None);
        let text = merged.to_string();
        assert!(text.starts_with("swept 6 seed(s) of 0..6: "), "{text}");
    }

    #[test]
    fn a_missing_repeated_or_foreign_shard_is_refused() {
        let (whole, parts) = shards(SeedSet::from(0..6), 3);
        let err = SweepReport::merge(parts[..2].to_vec()).unwrap_err();
        assert_eq!(
            err.to_string(),
            "the shards are not one split of the seeds: shard 2/3 is missing"
        );
        let twice = vec![parts[0].clone(), parts[0].clone(), parts[1].clone()];
        assert!(SweepReport::merge(twice)
            .unwrap_err()
            .to_string()
            .contains("given twice"));
        let mut other = parts.clone();
        other[1].seeds = SeedSet::from(0..7);
        assert!(matches!(
            SweepReport::merge(other),
            Err(MergeError::Seeds { index: 2, .. })
        ));
        let mut other = parts.clone();
        other[2].scenario = "other".into();
        assert!(matches!(
            SweepReport::merge(other),
            Err(MergeError::Scenario { index: 3, .. })
        ));
        let with_whole = vec![parts[0].clone(), whole.clone()];
        assert!(matches!(
            SweepReport::merge(with_whole),
            Err(MergeError::NotAShard { index: 2, .. })
        ));
        assert_eq!(SweepReport::merge(vec![whole.clone()]), Ok(whole));
        assert_eq!(SweepReport::merge(Vec::new()), Err(MergeError::Nothing));
    }

    #[test]
    fn an_interrupted_shard_makes_the_merged_report_interrupted() {
        let (_, mut parts) = shards(SeedSet::from(0..6), 2);
        parts[1].end = SweepEnd::Interrupted;
        let merged = SweepReport::merge(parts).unwrap();
        assert_eq!(merged.end, SweepEnd::Interrupted);
    }
}
