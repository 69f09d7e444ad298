//! A run judged: the contract [`check`] of its trace (each broken [`Rule`] with the lines
//! that break it), its scenario's [`Expectations`](crate::scenario::Expectations), both folded
//! into a [`Verdict`] by [`judge()`], and the [`Coverage`] of many verdicts.

mod checker;
mod coverage;
mod verdict;

pub use checker::{check, CheckOptions, CheckReport, Rule, UnknownRule, Violation};
pub use coverage::Coverage;
pub use verdict::{judge, judge_outcome, judge_until, signature_of, Failure, Verdict, RUN_ERROR};
