//! A failing seed of a sweep run again, for its trace, and shrunk when it failed the same way
//! again ([`Rerun`]): what a chaos test reports and `tcpnotify-sim sweep --artifacts` writes.
//! One piece of code decides, for both, which seeds are run again and which shrunk: not a
//! seed that timed out (every run of it would again), and not a failure that did not repeat
//! (shrinking keeps a plan only while it fails the same way, so it cannot reduce one that
//! does not).

use super::shrink::{shrink_verdict, ShrinkResult};
use super::sweep_report::{FailureKind, SweepFailure};
use crate::fault::FaultPlan;
use crate::judge::{judge, signature_of, Verdict};
use crate::run::RunError;
use crate::scenario::Scenario;
use std::fmt;

/// Why a failing seed was not shrunk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NotShrunk {
    /// It ran past the seed timeout: it was not run again, as every run of it would.
    TimedOut,
    /// Run again, it had no verdict (the runner refused the plan or scenario, or the run
    /// reached a limit of the simulator).
    RunError,
    /// Two runs of it in the sweep differed: shrinking needs a failure that repeats.
    Nondeterministic,
    /// Run again, it did not fail the way it failed in the sweep: it failed with this other
    /// signature, or (`None`) passed.
    DidNotRepeat(Option<String>),
}

impl fmt::Display for NotShrunk {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NotShrunk::TimedOut => write!(f, "every run of this seed outlasts the timeout"),
            NotShrunk::RunError => write!(f, "run again, the seed has no verdict"),
            NotShrunk::Nondeterministic => write!(
                f,
                "two runs of this seed differed, and shrinking needs a failure that repeats"
            ),
            NotShrunk::DidNotRepeat(Some(signature)) => write!(
                f,
                "run again, the seed failed otherwise ([{signature}]) than in the sweep: the \
                 runs are not deterministic"
            ),
            NotShrunk::DidNotRepeat(None) => write!(
                f,
                "run again, the seed passed: the runs are not deterministic"
            ),
        }
    }
}

/// A failing seed of a sweep, run again; [`shrink`](Self::shrink) shrinks it if it failed the
/// same way.
#[derive(Debug)]
pub struct Rerun {
    /// The second run's verdict, or why it could not start; `None` for a seed that timed out,
    /// which is not run again.
    pub result: Option<Result<Verdict, RunError>>,
    /// Whether the second run failed with the sweep's signature.
    pub repeated: bool,
    /// How the seed failed in the sweep.
    kind: FailureKind,
}

impl Rerun {
    /// Runs `failure`, a failing seed of a sweep of `scenario` whose plan is `plan`, again, or
    /// takes `judged`, its run already judged again (a saved regression just replayed). A seed
    /// that timed out is not run again.
    ///
    /// ```
    /// use tcpnotify_sim::explore::{FailureKind, NotShrunk, Rerun, SweepFailure};
    /// use tcpnotify_sim::{FaultSettings, Scenario, Seed};
    /// let scenario = Scenario::echo("echo", 64, 64).faults(FaultSettings::quiet());
    /// // Said to have failed in a sweep; run again, it passes.
    /// let failure = SweepFailure {
    ///     seed: Seed(1),
    ///     index: 0,
    ///     kind: FailureKind::Failed,
    ///     signature: "echoed".into(),
    ///     summary: "property echoed: c1 sent 64 bytes but 0 came back".into(),
    ///     repro: None,
    /// };
    /// let rerun = Rerun::of(&scenario, &failure, &scenario.plan_for(Seed(1)), None);
    /// assert!(!rerun.repeated);
    /// assert!(rerun.verdict().unwrap().passed());
    /// assert_eq!(rerun.shrink(&scenario).unwrap_err(), NotShrunk::DidNotRepeat(None));
    /// ```
    pub fn of(
        scenario: &Scenario,
        failure: &SweepFailure,
        plan: &FaultPlan,
        judged: Option<Result<Verdict, RunError>>,
    ) -> Rerun {
        let result = (failure.kind != FailureKind::TimedOut)
            .then(|| judged.unwrap_or_else(|| judge(scenario, plan)));
        let repeated = (result.as_ref().map(signature_of))
            .is_some_and(|signature| signature.as_deref() == Some(failure.signature.as_str()));
        Rerun {
            result,
            repeated,
            kind: failure.kind,
        }
    }

    /// The second run's verdict, if it ran to its end.
    pub fn verdict(&self) -> Option<&Verdict> {
        self.result.as_ref().and_then(|r| r.as_ref().ok())
    }

    /// The verdict shrinking starts from, or why there is none.
    pub fn shrinkable(&self) -> Result<&Verdict, NotShrunk> {
        match &self.result {
            None => Err(NotShrunk::TimedOut),
            Some(_) if self.kind == FailureKind::Nondeterministic => {
                Err(NotShrunk::Nondeterministic)
            }
            Some(Err(_)) => Err(NotShrunk::RunError),
            Some(Ok(verdict)) if !self.repeated => {
                Err(NotShrunk::DidNotRepeat(verdict.signature()))
            }
            Some(Ok(verdict)) => Ok(verdict),
        }
    }

    /// The seed's plan shrunk, if it failed the same way again: the second run already shows
    /// what shrinking would first run the plan to see.
    pub fn shrink(&self, scenario: &Scenario) -> Result<ShrinkResult, NotShrunk> {
        self.shrinkable()
            .map(|verdict| shrink_verdict(scenario, verdict))
    }
}
