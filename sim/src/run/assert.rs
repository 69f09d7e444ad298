//! The record of a run's assertions ([`Assertions`]): per name, what it claims
//! ([`AssertionKind`]), where it is in the source, how often it was evaluated and held, and
//! for an `always` where and when it first failed ([`AssertionFailure`]). The assertions
//! themselves ([`always`](super::always), [`sometimes`](super::sometimes),
//! [`reachable`](super::reachable)) record into the current run's context
//! (`context.rs`).
//!
//! One name is one assertion: calls with the same name add to the same counts (a name used
//! with two kinds keeps the kind of its first use).

use std::collections::BTreeMap;
use std::fmt;
use std::panic::Location;

/// What an assertion claims.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum AssertionKind {
    /// The condition holds every time it is evaluated: a failure fails the run.
    Always,
    /// The condition holds at least once in a sweep.
    Sometimes,
    /// The call is reached at least once in a sweep.
    Reachable,
}

impl fmt::Display for AssertionKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            AssertionKind::Always => "always",
            AssertionKind::Sometimes => "sometimes",
            AssertionKind::Reachable => "reachable",
        })
    }
}

/// Where the location of an assertion is only its declaration by the scenario.
pub(crate) const DECLARED: &str = "declared by the scenario";

/// One assertion's record in one run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Assertion {
    /// Its name.
    pub name: String,
    /// What it claims.
    pub kind: AssertionKind,
    /// Where it was first evaluated (`file:line`), or `declared by the scenario` if it was
    /// declared and never evaluated.
    pub location: String,
    /// How many times it was evaluated.
    pub evaluations: u64,
    /// How many of those its condition held.
    pub held: u64,
    /// For an `always`, its first failure.
    pub first_failure: Option<AssertionFailure>,
}

impl Assertion {
    /// Whether this is an `always` whose condition failed at least once.
    pub fn failed(&self) -> bool {
        self.kind == AssertionKind::Always && self.held < self.evaluations
    }
}

/// Where and when an `always` first failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AssertionFailure {
    /// Simulated time, in microseconds.
    pub at_us: u64,
    /// The host whose callback made it (`-` outside a callback).
    pub host: String,
    /// The connection or listener whose callback made it (`-` outside a callback).
    pub who: String,
    /// What the assertion said about it.
    pub message: String,
    /// Its line in the trace, from 1; `None` if the trace was full ([`MAX_TRACE_EVENTS`]
    /// events) and left it out.
    ///
    /// [`MAX_TRACE_EVENTS`]: crate::validate::MAX_TRACE_EVENTS
    pub line: Option<usize>,
}

/// The assertions of one run, by name.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Assertions {
    by_name: BTreeMap<String, Assertion>,
}

impl Assertions {
    /// Every assertion, by name.
    pub fn iter(&self) -> impl Iterator<Item = &Assertion> {
        self.by_name.values()
    }

    /// The assertion called `name`.
    pub fn get(&self, name: &str) -> Option<&Assertion> {
        self.by_name.get(name)
    }

    /// The assertion called `name`, to record its first failure.
    pub(super) fn get_mut(&mut self, name: &str) -> Option<&mut Assertion> {
        self.by_name.get_mut(name)
    }

    /// Whether there is none.
    pub fn is_empty(&self) -> bool {
        self.by_name.is_empty()
    }

    /// Knows `name` as a sometimes-assertion before it is evaluated, so a sweep that never
    /// reaches it still reports it.
    pub(crate) fn declare(&mut self, name: &str) {
        self.by_name
            .entry(name.to_string())
            .or_insert_with(|| Assertion {
                name: name.to_string(),
                kind: AssertionKind::Sometimes,
                location: DECLARED.to_string(),
                evaluations: 0,
                held: 0,
                first_failure: None,
            });
    }

    /// Assertions with these `(name, kind, evaluations, held)`, as evaluated at `test.rs:1`:
    /// for tests of what is made of them.
    #[cfg(test)]
    pub(crate) fn from_counts(counts: &[(&str, AssertionKind, u64, u64)]) -> Self {
        let by_name = (counts.iter())
            .map(|&(name, kind, evaluations, held)| {
                let assertion = Assertion {
                    name: name.to_string(),
                    kind,
                    location: "test.rs:1".into(),
                    evaluations,
                    held,
                    first_failure: None,
                };
                (name.to_string(), assertion)
            })
            .collect();
        Assertions { by_name }
    }

    /// Counts one evaluation; returns the assertion, and whether this was the first failure
    /// of an `always`.
    pub(super) fn evaluate(
        &mut self,
        kind: AssertionKind,
        name: &str,
        location: &Location<'_>,
        held: bool,
    ) -> (&mut Assertion, bool) {
        let assertion = self
            .by_name
            .entry(name.to_string())
            .or_insert_with(|| Assertion {
                name: name.to_string(),
                kind,
                location: String::new(),
                evaluations: 0,
                held: 0,
                first_failure: None,
            });
        if assertion.evaluations == 0 {
            // A declared assertion takes the kind and place of its first evaluation.
            assertion.kind = kind;
            assertion.location = format!("{}:{}", location.file(), location.line());
        }
        assertion.evaluations += 1;
        assertion.held += u64::from(held);
        let first_failure =
            assertion.kind == AssertionKind::Always && !held && assertion.first_failure.is_none();
        (assertion, first_failure)
    }
}

#[cfg(test)]
mod tests {
    use super::super::context::{always, Context};
    use super::super::trace::{EventKind, Trace, TraceEvent};
    use super::{AssertionKind, Assertions, DECLARED};
    use crate::validate::MAX_TRACE_EVENTS;
    use std::panic::Location;

    /// A declared assertion takes the kind and place of its first evaluation, and keeps them
    /// through later ones of another kind; only an `always` that failed at least once failed.
    #[test]
    fn an_assertion_keeps_the_kind_and_place_of_its_first_evaluation() {
        let mut assertions = Assertions::default();
        assert!(assertions.is_empty());
        assertions.declare("ready");
        assert!(!assertions.is_empty());
        let declared = assertions.get("ready").expect("declared");
        assert_eq!(
            (
                declared.kind,
                declared.location.as_str(),
                declared.evaluations
            ),
            (AssertionKind::Sometimes, DECLARED, 0)
        );
        assert!(!declared.failed());

        let first = Location::caller();
        let (_, first_failure) = assertions.evaluate(AssertionKind::Always, "ready", first, true);
        assert!(!first_failure);
        let later = Location::caller();
        assert_ne!(first.line(), later.line());
        let (_, first_failure) =
            assertions.evaluate(AssertionKind::Sometimes, "ready", later, true);
        assert!(!first_failure);
        let ready = assertions.get("ready").expect("evaluated");
        let place = format!("{}:{}", first.file(), first.line());
        assert_eq!(
            (
                ready.kind,
                ready.location.as_str(),
                ready.evaluations,
                ready.held
            ),
            (AssertionKind::Always, place.as_str(), 2, 2)
        );
        assert!(!ready.failed(), "an always that held every time");

        let (_, first_failure) = assertions.evaluate(AssertionKind::Always, "ready", later, false);
        assert!(first_failure);
        assert!(assertions.get("ready").expect("evaluated").failed());

        let (_, first_failure) =
            assertions.evaluate(AssertionKind::Sometimes, "maybe", first, false);
        assert!(!first_failure, "only an always fails");
        assert!(!assertions.get("maybe").expect("evaluated").failed());
    }

    fn note() -> TraceEvent {
        TraceEvent {
            at_us: 0,
            host: "-".into(),
            who: "-".into(),
            kind: EventKind::Note {
                text: String::new(),
            },
        }
    }

    /// The trace line of an `always` assertion's first failure is its `ALWAYS FAILED` line;
    /// one the full trace left out has none, rather than the number of the last line kept
    /// (another event's).
    #[test]
    fn a_first_failure_names_its_own_trace_line_and_none_once_the_trace_is_full() {
        let trace = Trace::new();
        trace.push(note());
        let context = Context::new(trace.clone(), &[], 0);
        let entered = context.enter();
        assert!(always("kept", false, "in the trace"));
        while !trace.is_full() {
            trace.push(note());
        }
        assert!(always("left-out", false, "not in the trace"));
        drop(entered);
        let run = context.finish();
        let events = trace.events();
        assert_eq!(events.len(), MAX_TRACE_EVENTS);
        let line = |name: &str| {
            let assertion = run.assertion(name).expect("recorded");
            assertion.first_failure.as_ref().expect("failed").line
        };
        let kept = line("kept").expect("in the trace");
        assert!(
            matches!(&events[kept - 1].kind, EventKind::Assertion { name, .. } if name == "kept"),
            "line {kept}: {:?}",
            events[kept - 1]
        );
        assert_eq!(line("left-out"), None);
    }
}
