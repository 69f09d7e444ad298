//! A run judged: the contract [`check`] of its trace (each broken [`Rule`] with the lines
//! that break it), its scenario's [`Expectations`](crate::scenario::Expectations), its
//! notifiers' `always` assertions and the scenario's own properties (closures over a
//! [`RunView`], added with `Scenario::property` and `Scenario::eventually`), all folded into
//! a [`Verdict`] by [`judge()`]; and the [`Coverage`] of many verdicts, with how often each
//! assertion held ([`AssertionCoverage`]).

mod assertions;
mod checker;
mod coverage;
pub(crate) mod listing;
mod property;
mod verdict;
mod view;

pub use crate::run::Ending;
pub use assertions::{AssertionCoverage, AssertionTally};
pub use checker::{check, check_events, CheckOptions, CheckReport, Rule, UnknownRule, Violation};
pub use coverage::Coverage;
pub use property::PropertyResult;
// For the `run` line of `run --json` (the command line), and tests that write one.
#[cfg(any(feature = "cli", test))]
pub(crate) use verdict::check_options;
pub use verdict::{judge, judge_outcome, judge_until, signature_of, Failure, Verdict, RUN_ERROR};
pub(crate) use view::pair_by_addresses;
pub use view::{ConnectionEnd, RunView};
