//! How the assertions of many runs fared ([`AssertionCoverage`], part of a sweep's
//! [`Coverage`](super::Coverage)): per name, in how many runs it was evaluated and met. A
//! `sometimes` or `reachable` assertion that no run met is what a sweep reports (as
//! Antithesis and moonpool do): the runs never reached the state it names, so whatever
//! passed there was not tested.

use crate::run::{AssertionKind, Assertions, DECLARED};
use std::collections::BTreeMap;
use std::fmt;

/// One assertion over many runs.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct AssertionTally {
    /// What it claims.
    pub kind: AssertionKind,
    /// Where it is in the source (`file:line`), or `declared by the scenario` if no run
    /// evaluated it.
    pub location: String,
    /// Runs that evaluated it.
    pub runs: usize,
    /// Runs in which it was met: an `always` that held every time, a `sometimes` that held
    /// at least once, a `reachable` that was reached.
    pub runs_met: usize,
    /// Evaluations over every run.
    pub evaluations: u64,
    /// Evaluations that held.
    pub held: u64,
}

/// The assertions of a set of runs, by name. Counts only add up, so merging in any order
/// gives the same result.
///
/// ```
/// use tcpnotify_sim::judge::AssertionCoverage;
/// let none = AssertionCoverage::default();
/// assert!(none.never_met().is_empty());
/// assert_eq!(none.to_string(), "");
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(transparent)]
pub struct AssertionCoverage {
    by_name: BTreeMap<String, AssertionTally>,
}

impl AssertionCoverage {
    /// The assertions of one run.
    pub fn of(assertions: &Assertions) -> AssertionCoverage {
        let by_name = assertions
            .iter()
            .map(|a| {
                let met = match a.kind {
                    AssertionKind::Always => a.evaluations > 0 && a.held == a.evaluations,
                    AssertionKind::Sometimes | AssertionKind::Reachable => a.held > 0,
                };
                let tally = AssertionTally {
                    kind: a.kind,
                    location: a.location.clone(),
                    runs: usize::from(a.evaluations > 0),
                    runs_met: usize::from(met),
                    evaluations: a.evaluations,
                    held: a.held,
                };
                (a.name.clone(), tally)
            })
            .collect();
        AssertionCoverage { by_name }
    }

    /// Adds `other`'s counts to these.
    pub fn merge(&mut self, other: &AssertionCoverage) {
        for (name, theirs) in &other.by_name {
            let Some(ours) = self.by_name.get_mut(name) else {
                self.by_name.insert(name.clone(), theirs.clone());
                continue;
            };
            // A run that evaluated it knows its kind and place; between two, the first in
            // order, so the merge order does not matter.
            let key = |t: &AssertionTally| (t.location == DECLARED, t.kind, t.location.clone());
            if key(theirs) < key(ours) {
                ours.kind = theirs.kind;
                ours.location = theirs.location.clone();
            }
            ours.runs += theirs.runs;
            ours.runs_met += theirs.runs_met;
            ours.evaluations += theirs.evaluations;
            ours.held += theirs.held;
        }
    }

    /// Every assertion, by name.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &AssertionTally)> {
        self.by_name.iter().map(|(n, t)| (n.as_str(), t))
    }

    /// The assertion called `name`.
    pub fn get(&self, name: &str) -> Option<&AssertionTally> {
        self.by_name.get(name)
    }

    /// Whether no run evaluated or declared any assertion.
    pub fn is_empty(&self) -> bool {
        self.by_name.is_empty()
    }

    /// The `sometimes` and `reachable` assertions that no run met (declared ones that no
    /// run reached too), by name.
    pub fn never_met(&self) -> Vec<&str> {
        self.iter()
            .filter(|(_, t)| t.kind != AssertionKind::Always && t.runs_met == 0)
            .map(|(n, _)| n)
            .collect()
    }
}

impl fmt::Display for AssertionCoverage {
    /// One line, `assertions: always a held in 10 of 10 runs; sometimes b held in 0 of 10
    /// runs; ...`, then a `WARNING` line naming each sometimes-assertion never met; nothing
    /// when there is no assertion.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_empty() {
            return Ok(());
        }
        let parts: Vec<String> = self
            .iter()
            .map(|(name, t)| match t.kind {
                AssertionKind::Always => format!(
                    "always {name} held in {} of {} runs ({} checks)",
                    t.runs_met, t.runs, t.evaluations
                ),
                AssertionKind::Sometimes if t.runs == 0 => {
                    format!("sometimes {name} never evaluated")
                }
                AssertionKind::Sometimes => {
                    format!("sometimes {name} held in {} of {} runs", t.runs_met, t.runs)
                }
                AssertionKind::Reachable => format!("reachable {name} reached in {} runs", t.runs),
            })
            .collect();
        write!(f, "assertions: {}", parts.join("; "))?;
        let never = self.never_met();
        if !never.is_empty() {
            write!(
                f,
                "\nWARNING: sometimes-assertions that no run met: {} (the runs never reached \
                 what they name)",
                never.join(", ")
            )?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::run::{AssertionKind, Assertions};

    /// The coverage of one run whose assertions are `(name, kind, evaluations, held)`.
    fn run_of(assertions: &[(&str, AssertionKind, u64, u64)]) -> AssertionCoverage {
        AssertionCoverage::of(&Assertions::from_counts(assertions))
    }

    #[test]
    fn an_always_is_met_in_a_run_only_if_evaluated_there_and_it_held_every_time() {
        let run = run_of(&[
            ("held", AssertionKind::Always, 3, 3),
            ("broke", AssertionKind::Always, 3, 2),
            ("unreached", AssertionKind::Always, 0, 0),
        ]);
        let runs = |name| {
            let tally = run.get(name).expect("tallied");
            (tally.runs, tally.runs_met)
        };
        assert_eq!(runs("held"), (1, 1));
        assert_eq!(runs("broke"), (1, 0));
        assert_eq!(
            runs("unreached"),
            (0, 0),
            "not met in a run it was never evaluated in"
        );
    }

    #[test]
    fn the_summary_line_names_each_assertion_and_warns_of_those_no_run_met() {
        assert_eq!(
            AssertionCoverage::default().to_string(),
            "",
            "no line without assertions"
        );
        let mut coverage = run_of(&[
            ("no-dup", AssertionKind::Always, 5, 5),
            ("split", AssertionKind::Sometimes, 2, 0),
            ("idle", AssertionKind::Sometimes, 0, 0),
            ("reconnect", AssertionKind::Reachable, 1, 1),
        ]);
        coverage.merge(&run_of(&[("no-dup", AssertionKind::Always, 4, 3)]));
        assert_eq!(
            coverage.to_string(),
            "assertions: sometimes idle never evaluated; always no-dup held in 1 of 2 runs (9 \
             checks); reachable reconnect reached in 1 runs; sometimes split held in 0 of 1 runs\n\
             WARNING: sometimes-assertions that no run met: idle, split (the runs never reached \
             what they name)"
        );
    }

    #[test]
    fn merging_in_any_order_gives_the_same_coverage() {
        let a = run_of(&[
            ("split", AssertionKind::Sometimes, 3, 0),
            ("no-dup", AssertionKind::Always, 5, 5),
        ]);
        let b = run_of(&[("split", AssertionKind::Sometimes, 2, 1)]);
        let declared = AssertionCoverage::of(&{
            let mut d = Assertions::default();
            d.declare("split");
            d.declare("never");
            d
        });
        let mut one = AssertionCoverage::default();
        for run in [&a, &b, &declared] {
            one.merge(run);
        }
        let mut other = AssertionCoverage::default();
        for run in [&declared, &b, &a] {
            other.merge(run);
        }
        assert_eq!(one, other);
        let split = one.get("split").expect("merged");
        assert_eq!(
            (split.runs, split.runs_met, split.evaluations, split.held),
            (2, 1, 5, 1)
        );
        assert_ne!(
            split.location, DECLARED,
            "a run that evaluated it knows where it is"
        );
        assert_eq!(one.never_met(), ["never"]);
        assert_eq!(one.get("no-dup").map(|t| t.runs_met), Some(1));
    }
}
