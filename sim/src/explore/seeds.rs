//! Which seeds a sweep runs: a range (`0..1000`) or fresh random seeds, and the part of them
//! one shard of a split sweep takes.
//!
//! Random seeds are not drawn one by one from the OS: one *generator* is drawn (or given, to
//! run the same set again), and seed `i` of the set is computed from it and `i`. So a random
//! set is as compact as a range: it is printed up front and stored in every result as
//! `random:GENERATOR`, any failure in it is reproducible, it streams in flat memory, and the
//! shards of a random sweep split one set when they are given the same generator. Random
//! seeds are below 2^53, so every JSON reader (JavaScript, jq) holds them exactly.

use crate::seed::{splitmix64, Seed};
use rand::TryRngCore;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::ops::Range;

/// Random seeds are below this (2^53): the largest whole numbers a JSON reader that holds
/// numbers as doubles keeps exact.
pub const RANDOM_SEED_LIMIT: u64 = 1 << 53;

/// The seeds of a sweep, in the order they run.
///
/// ```
/// use tcpnotify_sim::explore::SeedSet;
/// use tcpnotify_sim::Seed;
/// let range = SeedSet::from(10..13);
/// assert_eq!(range.len(), Some(3));
/// assert_eq!(range.nth(2), Some(Seed(12)));
/// assert_eq!(range.nth(3), None);
///
/// let random = SeedSet::Random { generator: Seed(7), count: Some(1000) };
/// assert_eq!(random.nth(5), random.nth(5), "seed i is a function of the generator and i");
/// assert_ne!(random.nth(5), random.nth(6));
/// assert!(random.nth(999).is_some() && random.nth(1000).is_none());
/// assert_eq!(random.flags(), "--seeds random:7 --count 1000");
/// assert_eq!("random:7".parse::<SeedSet>().unwrap(), SeedSet::Random { generator: Seed(7), count: None });
/// assert_eq!("0..5".parse::<SeedSet>().unwrap(), SeedSet::from(0..5));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SeedSet {
    /// Every seed from `start` up to `end`, `end` excluded.
    Range {
        /// The first seed.
        start: Seed,
        /// The seed after the last.
        end: Seed,
    },
    /// Seeds computed from one generator: seed `i` of the set is a function of the generator
    /// and `i`, below [`RANDOM_SEED_LIMIT`].
    Random {
        /// Drawn from the OS once per sweep (or given, to run the same seeds again).
        generator: Seed,
        /// How many seeds; `None` for as many as a time budget allows.
        count: Option<u64>,
    },
}

impl From<Range<u64>> for SeedSet {
    fn from(range: Range<u64>) -> Self {
        SeedSet::Range {
            start: Seed(range.start),
            end: Seed(range.end),
        }
    }
}

impl SeedSet {
    /// `count` random seeds from a generator drawn from the operating system's random
    /// source (outside any simulation: the seeds it gives are ordinary seeds).
    pub fn draw_random(count: Option<u64>) -> Result<Self, std::io::Error> {
        let drawn = rand::rngs::OsRng
            .try_next_u64()
            .map_err(std::io::Error::other)?;
        Ok(SeedSet::Random {
            generator: Seed(drawn % RANDOM_SEED_LIMIT),
            count,
        })
    }

    /// How many seeds the set has; `None` if it has no end (random seeds without a count).
    pub fn len(&self) -> Option<u64> {
        match self {
            SeedSet::Range { start, end } => Some(end.0.saturating_sub(start.0)),
            SeedSet::Random { count, .. } => *count,
        }
    }

    /// Whether the set has no seed at all.
    pub fn is_empty(&self) -> bool {
        self.len() == Some(0)
    }

    /// The `index`-th seed of the set, from 0.
    pub fn nth(&self, index: u64) -> Option<Seed> {
        if self.len().is_some_and(|len| index >= len) {
            return None;
        }
        Some(match self {
            // Below `len`, the seed lies inside the range: no overflow.
            SeedSet::Range { start, .. } => Seed(start.0 + index),
            SeedSet::Random { generator, .. } => {
                Seed(splitmix64(generator.0 ^ splitmix64(index)) % RANDOM_SEED_LIMIT)
            }
        })
    }

    /// The command-line flags that name this set: `--seeds 0..1000`, or
    /// `--seeds random:G --count N`.
    pub fn flags(&self) -> String {
        match self {
            SeedSet::Range { .. } => format!("--seeds {self}"),
            SeedSet::Random {
                count: Some(count), ..
            } => format!("--seeds {self} --count {count}"),
            SeedSet::Random { count: None, .. } => format!("--seeds {self}"),
        }
    }
}

impl fmt::Display for SeedSet {
    /// `0..1000` or `random:GENERATOR`, as `--seeds` takes it (a random set's count is
    /// `--count`'s).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SeedSet::Range { start, end } => write!(f, "{start}..{end}"),
            SeedSet::Random { generator, .. } => write!(f, "random:{generator}"),
        }
    }
}

/// Text that names no seed set.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "{0:?}: expected seeds as A..B (whole numbers, A <= B, e.g. 0..1000), `random` (fresh \
     seeds, with a count or a time budget) or `random:G` (the random seeds of generator G again)"
)]
pub struct ParseSeedSetError(pub String);

impl std::str::FromStr for SeedSet {
    type Err = ParseSeedSetError;

    /// `A..B` or `random:G`, with no count; bare `random` is for the caller to draw
    /// ([`SeedSet::draw_random`]), as parsing draws nothing.
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let bad = || ParseSeedSetError(text.to_string());
        let trimmed = text.trim();
        if let Some(generator) = trimmed.strip_prefix("random:") {
            let generator: u64 = generator.trim().parse().map_err(|_| bad())?;
            return Ok(SeedSet::Random {
                generator: Seed(generator),
                count: None,
            });
        }
        let (start, end) = trimmed.split_once("..").ok_or_else(bad)?;
        let start: u64 = start.trim().parse().map_err(|_| bad())?;
        let end: u64 = end.trim().parse().map_err(|_| bad())?;
        if start > end {
            return Err(bad());
        }
        Ok(SeedSet::from(start..end))
    }
}

/// The seeds a `--seeds` flag or `TCPNOTIFY_SEEDS` names: a set, or fresh random seeds whose
/// generator is still to draw (`random`). The command line and the environment read them
/// with this one parser, and make them a set with [`SeedChoice::resolve`].
///
/// ```
/// use tcpnotify_sim::explore::{SeedChoice, SeedSet};
/// use tcpnotify_sim::Seed;
/// assert_eq!("random".parse(), Ok(SeedChoice::FreshRandom));
/// let again: SeedChoice = "random:7".parse().unwrap();
/// assert_eq!(again.resolve(Some(50)), Ok(SeedSet::Random { generator: Seed(7), count: Some(50) }));
/// let range: SeedChoice = "0..9".parse().unwrap();
/// assert!(range.resolve(Some(50)).is_err(), "a count is for random seeds");
/// assert!("3..3".parse::<SeedChoice>().is_err(), "no seeds is a mistake");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SeedChoice {
    /// A range, or the random seeds of a given generator.
    Set(SeedSet),
    /// Fresh random seeds (`random`): a generator is drawn when the choice is resolved.
    FreshRandom,
}

/// Text that names no seeds.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseSeedChoiceError {
    /// Not `A..B`, `random` or `random:G`.
    #[error(transparent)]
    Invalid(#[from] ParseSeedSetError),
    /// A range with no seed in it (`3..3`): asking for no seeds is a mistake.
    #[error("{0:?}: an empty range; expected A..B with A below B, e.g. 0..1000")]
    Empty(String),
}

/// Why a seed choice and a count make no seed set.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SeedChoiceError {
    /// A count was given with a range, which already says which seeds.
    #[error("a count applies to random seeds; {0} already says which seeds")]
    CountOfRange(SeedSet),
    /// The OS gave no randomness to draw a generator from.
    #[error("no randomness from the OS: {0}")]
    Random(String),
}

impl std::str::FromStr for SeedChoice {
    type Err = ParseSeedChoiceError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        if text.trim() == "random" {
            return Ok(SeedChoice::FreshRandom);
        }
        match text.parse::<SeedSet>()? {
            set if set.is_empty() => Err(ParseSeedChoiceError::Empty(text.to_string())),
            set => Ok(SeedChoice::Set(set)),
        }
    }
}

impl SeedChoice {
    /// Whether it names random seeds (fresh or of a given generator), which a count sizes.
    pub fn is_random(&self) -> bool {
        matches!(
            self,
            SeedChoice::FreshRandom | SeedChoice::Set(SeedSet::Random { .. })
        )
    }

    /// The seed set, random seeds sized by `count` (`None`: no end, for the caller to size
    /// or a budget to end): fresh ones get a generator drawn from the OS here. A range takes
    /// no count.
    pub fn resolve(&self, count: Option<u64>) -> Result<SeedSet, SeedChoiceError> {
        match self {
            SeedChoice::FreshRandom => {
                SeedSet::draw_random(count).map_err(|e| SeedChoiceError::Random(e.to_string()))
            }
            SeedChoice::Set(SeedSet::Random { generator, .. }) => Ok(SeedSet::Random {
                generator: *generator,
                count,
            }),
            SeedChoice::Set(set) if count.is_some() => {
                Err(SeedChoiceError::CountOfRange(set.clone()))
            }
            SeedChoice::Set(set) => Ok(set.clone()),
        }
    }
}

/// One of `count` shards of a sweep: it runs the seeds whose index in the set is `index`
/// modulo `count`, so `count` machines split one set without talking to each other.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Shard {
    /// This shard, from 0.
    pub index: u64,
    /// How many shards there are.
    pub count: u64,
}

impl Shard {
    /// Shard `index` of `count`, if `index < count`.
    pub fn new(index: u64, count: u64) -> Option<Shard> {
        (index < count).then_some(Shard { index, count })
    }
}

impl fmt::Display for Shard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

/// Text that is not a shard `I/N`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0:?}: expected a shard I/N with I below N, e.g. 0/4")]
pub struct ParseShardError(pub String);

impl std::str::FromStr for Shard {
    type Err = ParseShardError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        text.split_once('/')
            .and_then(|(i, n)| Shard::new(i.trim().parse().ok()?, n.trim().parse().ok()?))
            .ok_or_else(|| ParseShardError(text.to_string()))
    }
}

/// The seeds one shard runs, computed from their index: see [`ShardSeeds::of`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShardSeeds {
    set: SeedSet,
    first: u64,
    step: u64,
    len: u64,
    next: u64,
}

impl ShardSeeds {
    /// The seeds of `set` that `shard` runs (all of them without a shard), in order. A set
    /// without an end gives `u64::MAX` seeds.
    ///
    /// ```
    /// use tcpnotify_sim::explore::{SeedSet, Shard, ShardSeeds};
    /// let seeds = ShardSeeds::of(&SeedSet::from(10..20), Shard::new(1, 3));
    /// assert_eq!(seeds.map(|s| s.0).collect::<Vec<_>>(), vec![11, 14, 17]);
    /// assert_eq!(ShardSeeds::of(&SeedSet::from(0..u64::MAX), None).len(), u64::MAX);
    /// ```
    pub fn of(set: &SeedSet, shard: Option<Shard>) -> ShardSeeds {
        let Shard { index, count } = shard.unwrap_or(Shard { index: 0, count: 1 });
        let total = set.len().unwrap_or(u64::MAX);
        // A shard's index is below its count, which is at least 1.
        let step = count.max(1);
        let len = match total.checked_sub(index) {
            Some(after) if after > 0 => (after - 1) / step + 1,
            _ => 0,
        };
        ShardSeeds {
            set: set.clone(),
            first: index,
            step,
            len,
            next: 0,
        }
    }

    /// How many seeds the shard has in all (not only those left to iterate).
    pub fn len(&self) -> u64 {
        self.len
    }

    /// Whether the shard has no seed.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The place in the whole set of the shard's `index`-th seed.
    pub fn index_in_set(&self, index: u64) -> u64 {
        self.first.saturating_add(index.saturating_mul(self.step))
    }

    /// The `index`-th seed of the shard, from 0.
    pub fn seed(&self, index: u64) -> Option<Seed> {
        // Below `len`, the set's index is below the set's length: no overflow.
        (index < self.len)
            .then(|| self.set.nth(self.first + index * self.step))
            .flatten()
    }
}

impl Iterator for ShardSeeds {
    type Item = Seed;
    fn next(&mut self) -> Option<Seed> {
        let seed = self.seed(self.next)?;
        self.next += 1;
        Some(seed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shards_split_a_set_without_overlap_or_gap() {
        for set in [
            SeedSet::from(5..17),
            SeedSet::Random {
                generator: Seed(99),
                count: Some(12),
            },
        ] {
            let shards: Vec<Vec<Seed>> = (0..3)
                .map(|i| ShardSeeds::of(&set, Shard::new(i, 3)).collect())
                .collect();
            assert_eq!(shards[0].len(), 4);
            let mut all: Vec<Seed> = shards.concat();
            all.sort();
            let mut whole: Vec<Seed> = ShardSeeds::of(&set, None).collect();
            whole.sort();
            assert_eq!(all, whole);
        }
        assert_eq!(
            ShardSeeds::of(&SeedSet::from(5..17), Shard::new(0, 3))
                .map(|s| s.0)
                .collect::<Vec<_>>(),
            vec![5, 8, 11, 14]
        );
    }

    #[test]
    fn the_end_of_the_u64_range_and_sets_without_end() {
        let last = ShardSeeds::of(&SeedSet::from(u64::MAX - 7..u64::MAX), Shard::new(2, 3));
        assert_eq!(
            last.clone().map(|s| s.0).collect::<Vec<_>>(),
            vec![u64::MAX - 5, u64::MAX - 2]
        );
        assert_eq!(last.len(), 2);
        let endless = SeedSet::Random {
            generator: Seed(1),
            count: None,
        };
        let seeds = ShardSeeds::of(&endless, Shard::new(3, 4));
        assert_eq!(seeds.len(), u64::MAX / 4);
        assert!(seeds.seed(seeds.len() - 1).is_some());
        assert!(ShardSeeds::of(&SeedSet::from(3..3), None).is_empty());
        assert!(ShardSeeds::of(&SeedSet::from(0..2), Shard::new(3, 4)).is_empty());
    }

    #[test]
    fn random_seeds_fit_a_double_and_drawn_sets_differ() {
        let set = SeedSet::draw_random(Some(1000)).expect("the OS has randomness");
        assert!(ShardSeeds::of(&set, None).all(|s| s.0 < RANDOM_SEED_LIMIT));
        let SeedSet::Random { generator, .. } = set else {
            panic!("{set:?}")
        };
        assert!(generator.0 < RANDOM_SEED_LIMIT);
        let again = SeedSet::draw_random(Some(1000)).expect("randomness");
        assert_ne!(set, again, "two draws of 53 bits are equal once in 2^53");
    }

    #[test]
    fn bad_seed_sets_and_shards_are_refused_with_the_forms_that_work() {
        for bad in ["", "5..2", "random", "random:x", "1..", "0-9"] {
            let err = bad.parse::<SeedSet>().expect_err(bad);
            assert!(err.to_string().contains("expected seeds as A..B"), "{err}");
        }
        for bad in ["4/4", "1", "a/b", "0/0"] {
            assert!(bad.parse::<Shard>().is_err(), "{bad}");
        }
        assert_eq!("1/4".parse(), Ok(Shard { index: 1, count: 4 }));
    }

    #[test]
    fn a_seed_set_round_trips_through_json() {
        for set in [
            SeedSet::from(0..u64::MAX),
            SeedSet::Random {
                generator: Seed(3),
                count: None,
            },
        ] {
            let text = serde_json::to_string(&set).unwrap();
            assert_eq!(
                serde_json::from_str::<SeedSet>(&text).unwrap(),
                set,
                "{text}"
            );
        }
        assert_eq!(
            serde_json::to_string(&SeedSet::from(0..10)).unwrap(),
            r#"{"range":{"start":0,"end":10}}"#
        );
    }
}
