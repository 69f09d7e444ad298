//! What a fault's line in the trace tells ([`FaultStep`]): that the fault fired, or that the
//! span its firing began ended (a partition or a refusal healed, a crashed host restarted).
//! Typed, so that what reads a trace (the timeline's spans) finds a fault's end in the event
//! rather than in its words. JSON lines keep the words, as a `fault` event's `description`
//! (`healed`, `restarted server`), and a JSON trace is read back through them.

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;

/// How the line of an end begins when a crashed host restarts (`restarted server`).
const RESTARTED: &str = "restarted ";

/// How the line of a partition's or a refusal's end reads.
const HEALED: &str = "healed";

/// How the line of a fault that fired and did nothing ends (`(not connected: no effect)`).
const NO_EFFECT: &str = ": no effect)";

/// What a fault's line in the trace tells, after `FAULT #i` (the fault's index in the plan).
///
/// ```
/// use tcpnotify_sim::run::FaultStep;
/// let restarted = FaultStep::Restarted { host: "server".into() };
/// assert_eq!(restarted.to_string(), "restarted server");
/// assert_eq!(FaultStep::from_description("restarted server"), restarted);
/// let fired = FaultStep::from_description("crash server, restart after 50ms");
/// assert_eq!(fired, FaultStep::Fired("crash server, restart after 50ms".into()));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FaultStep {
    /// The fault fired, and what it did, in words: the fault as the plan writes it
    /// (`partition client <-> server for 400ms`), with what came of it where it did nothing
    /// (`reset c1 (not connected: no effect)`).
    Fired(String),
    /// A partition healed, or a port stopped refusing connects: its duration ran out, or the
    /// liveness phase began.
    Healed,
    /// A crashed host restarted: its `restart_after_ms` ran out, or the liveness phase began.
    Restarted {
        /// The host.
        host: String,
    },
}

impl FaultStep {
    /// The words of a firing of `fault` that did nothing, and `why` (`reset c1 (not
    /// connected: no effect)`).
    pub(crate) fn without_effect(fault: impl fmt::Display, why: &str) -> String {
        format!("{fault} ({why}{NO_EFFECT}")
    }

    /// Whether this is the line of a firing that did nothing ([`without_effect`](Self::without_effect)).
    pub(crate) fn had_no_effect(&self) -> bool {
        matches!(self, FaultStep::Fired(description) if description.ends_with(NO_EFFECT))
    }

    /// The step a line's words tell, the reverse of its `Display`: how a JSON trace's
    /// `description` is read back. Words of a fault's firing never read as an end: each
    /// begins with the fault's kind (`partition`, `crash`, ...).
    pub fn from_description(text: &str) -> FaultStep {
        if text == HEALED {
            return FaultStep::Healed;
        }
        match text.strip_prefix(RESTARTED) {
            Some(host) => FaultStep::Restarted { host: host.into() },
            None => FaultStep::Fired(text.into()),
        }
    }
}

impl fmt::Display for FaultStep {
    /// The words of its line: the firing's, `healed`, or `restarted HOST`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FaultStep::Fired(description) => f.write_str(description),
            FaultStep::Healed => f.write_str(HEALED),
            FaultStep::Restarted { host } => write!(f, "{RESTARTED}{host}"),
        }
    }
}

/// Written as its words, as the `description` of a JSON `fault` event always was.
impl Serialize for FaultStep {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

/// Read back from its words ([`FaultStep::from_description`]).
impl<'de> Deserialize<'de> for FaultStep {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        Ok(FaultStep::from_description(&text))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fault::FaultKind;

    /// No fault's firing reads back as an end.
    #[test]
    fn every_fault_kinds_firing_reads_back_as_fired() {
        for kind in FaultKind::one_of_each() {
            let step = FaultStep::from_description(&kind.to_string());
            assert_eq!(step, FaultStep::Fired(kind.to_string()));
        }
    }

    /// A firing that did nothing says so after the fault, and only such a line reads as one.
    #[test]
    fn a_firing_without_effect_names_the_fault_and_why() {
        let words = FaultStep::without_effect("reset c1", "not connected");
        assert_eq!(words, "reset c1 (not connected: no effect)");
        assert!(FaultStep::Fired(words).had_no_effect());
        assert!(!FaultStep::Fired("reset c1".into()).had_no_effect());
        assert!(!FaultStep::Healed.had_no_effect());
    }

    /// In JSON a step is the `description` string it always was, and reads back as itself.
    #[test]
    fn a_step_is_its_words_in_json() {
        let steps = [
            FaultStep::Fired("reset c1 (not connected: no effect)".into()),
            FaultStep::Healed,
            FaultStep::Restarted {
                host: "server".into(),
            },
        ];
        for step in steps {
            let json = serde_json::to_string(&step).unwrap();
            assert_eq!(json, format!("\"{step}\""));
            assert_eq!(serde_json::from_str::<FaultStep>(&json).unwrap(), step);
        }
    }
}
