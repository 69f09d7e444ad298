//! The hint a failure report gives when the failure may be the scenario's rather than the
//! notifier's: its shrunk plan still loses connections to a reset, a crash or a refusal, which
//! the swarm draws only because the scenario's expectations allow lost connections
//! ([`Expectations::allows_lost_connections`](crate::scenario::Expectations::allows_lost_connections)). A scenario that writes no expectation a lost
//! connection breaks (`echoed`, `delivered`, an exact count) gets them by default, and a user
//! whose notifier is not meant to survive them should learn which setting turns them off, not
//! hunt for a bug that is not there.

use crate::fault::{FaultKind, FaultPlan, Faults, Swarm};
use crate::scenario::Scenario;
use std::fmt;

/// A failure whose shrunk plan still holds faults that lose connections, drawn by the swarm
/// only because the scenario's expectations allow lost connections. Made with
/// [`of`](Self::of); shown as the scenario's code would turn them off (its `Display`), or as
/// a scenario file would ([`in_file`](Self::in_file)).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LostConnectionsHint {
    /// The kinds of the shrunk plan's faults that lose connections (`reset`, `crash`,
    /// `refuse`), each once, in the plan's order.
    pub kinds: Vec<&'static str>,
}

impl LostConnectionsHint {
    /// The hint for a failure of `scenario` whose plan shrunk to `shrunk`, if it applies: the
    /// scenario's faults are the swarm's and the swarm left lost connections to the
    /// expectations ([`Swarm::lost_connections`] not set), the expectations allow them, and
    /// `shrunk` still holds a reset, a crash or a refusal. `None` otherwise, and for a
    /// scenario with a plan of its own (its faults were written, not drawn).
    ///
    /// ```
    /// use tcpnotify_sim::explore::LostConnectionsHint;
    /// use tcpnotify_sim::fault::{Fault, FaultKind, FaultPlan, Swarm};
    /// use tcpnotify_sim::{Scenario, Seed};
    /// let mut plan = FaultPlan::quiet(Seed(1));
    /// plan.faults.push(Fault::at(2, FaultKind::Reset { conn: "c1".into() }));
    /// let swarm = Scenario::echo("echo", 64, 64);
    /// let hint = LostConnectionsHint::of(&swarm, &plan).expect("a reset the swarm drew");
    /// assert!(hint.to_string().contains(".faults(Swarm::lost_connections(false))"));
    /// // Asked for whatever the expectations say: no hint.
    /// let asked = swarm.faults(Swarm::lost_connections(true));
    /// assert_eq!(LostConnectionsHint::of(&asked, &plan), None);
    /// ```
    pub fn of(scenario: &Scenario, shrunk: &FaultPlan) -> Option<Self> {
        let left_to_expectations = matches!(
            scenario.faults,
            Faults::Swarm(Swarm {
                lost_connections: None
            })
        );
        if scenario.plan.is_some()
            || !left_to_expectations
            || !scenario.expectations.allows_lost_connections()
        {
            return None;
        }
        let mut kinds: Vec<&'static str> = Vec::new();
        for fault in &shrunk.faults {
            let loses = matches!(
                fault.kind,
                FaultKind::Reset { .. } | FaultKind::Crash { .. } | FaultKind::Refuse { .. }
            );
            if loses && !kinds.contains(&fault.kind.name()) {
                kinds.push(fault.kind.name());
            }
        }
        (!kinds.is_empty()).then_some(LostConnectionsHint { kinds })
    }

    /// The hint as a scenario file turns them off: files have no swarm setting, so by an
    /// expectation a lost connection breaks, or by writing `[faults]` without them.
    pub fn in_file(&self) -> String {
        format!(
            "{} If the notifier need not survive a lost connection, expect what one breaks in \
             `[expect]` (`echoed = true`, `delivered`, or an exact `closed` count), or write a \
             `[faults]` table without `resets`, `crashes` and `refusals`; a scenario built in \
             Rust turns them off with `.faults(Swarm::lost_connections(false))`.",
            self.cause()
        )
    }

    /// What happened, in words: which faults, and why the swarm drew them.
    fn cause(&self) -> String {
        let words: Vec<&str> = self
            .kinds
            .iter()
            .map(|kind| match *kind {
                "reset" => "a reset",
                "crash" => "a crash",
                _ => "a refusal",
            })
            .collect();
        format!(
            "hint: the shrunk plan still loses connections ({}): the swarm draws resets, \
             crashes and refusals only because the scenario's expectations allow lost \
             connections (no `echoed`, no `delivered`, no exact `closed`, `connect_failed` or \
             `accepted`: `Expectations::allows_lost_connections`).",
            words.join(", ")
        )
    }
}

impl fmt::Display for LostConnectionsHint {
    /// The hint as the scenario's code turns them off.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} If the notifier need not survive a lost connection, turn them off with \
             `.faults(Swarm::lost_connections(false))` on the scenario, or expect what a lost \
             connection breaks (`Expectations {{ echoed: true, .. }}`).",
            self.cause()
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fault::{Fault, FaultSettings};
    use crate::scenario::Expectations;
    use crate::seed::Seed;

    fn plan_of(kinds: Vec<FaultKind>) -> FaultPlan {
        let mut plan = FaultPlan::quiet(Seed(1));
        plan.faults = kinds.into_iter().map(|kind| Fault::at(2, kind)).collect();
        plan
    }

    fn reset() -> FaultKind {
        FaultKind::Reset { conn: "c1".into() }
    }

    fn crash() -> FaultKind {
        FaultKind::Crash {
            host: "server".into(),
            restart_after_ms: Some(10),
        }
    }

    #[test]
    fn a_reset_or_crash_the_swarm_drew_for_the_expectations_names_each_kind_once() {
        let swarm = Scenario::echo("echo", 64, 64);
        let hint = LostConnectionsHint::of(&swarm, &plan_of(vec![crash(), reset(), reset()]));
        assert_eq!(hint.map(|h| h.kinds), Some(vec!["crash", "reset"]));
        let text = LostConnectionsHint::of(&swarm, &plan_of(vec![reset()]))
            .expect("a hint")
            .to_string();
        assert!(text.contains("(a reset)"), "{text}");
        assert!(
            text.contains(".faults(Swarm::lost_connections(false))"),
            "{text}"
        );
    }

    #[test]
    fn no_hint_without_such_a_fault_or_when_lost_connections_were_not_the_expectations_doing() {
        let swarm = Scenario::echo("echo", 64, 64);
        let latency = FaultKind::Latency {
            a: "client".into(),
            b: "server".into(),
            latency_ms: 5,
            max_latency_ms: None,
        };
        let resets = plan_of(vec![reset()]);
        let cases = [
            (swarm.clone(), plan_of(vec![latency])),
            (
                swarm.clone().faults(Swarm::lost_connections(true)),
                resets.clone(),
            ),
            (
                swarm.clone().faults(FaultSettings::healing()),
                resets.clone(),
            ),
            (swarm.clone().plan(resets.clone()), resets.clone()),
            (
                swarm.expecting(Expectations {
                    echoed: true,
                    ..Expectations::default()
                }),
                resets,
            ),
        ];
        for (i, (scenario, plan)) in cases.iter().enumerate() {
            assert_eq!(LostConnectionsHint::of(scenario, plan), None, "case {i}");
        }
    }

    #[test]
    fn in_a_file_the_hint_names_what_a_file_can_write() {
        let hint = LostConnectionsHint {
            kinds: vec!["refuse"],
        };
        let text = hint.in_file();
        assert!(text.contains("(a refusal)"), "{text}");
        for setting in ["`[expect]`", "`echoed = true`", "`[faults]`", "`resets`"] {
            assert!(text.contains(setting), "{setting} in {text}");
        }
    }
}
