//! The liveness phase at the end of a run. A run that has not ended by itself when its
//! active duration (`Scenario::duration_ms`) is over heals every fault in force, says so in a
//! trace note (`-- liveness phase: ...`), and goes on for up to `Scenario::settle_ms`, ending
//! as soon as every client finished and no connection is open. What must eventually hold
//! (every client finished, every byte delivered, the scenario's eventually-properties) is then
//! judged on a network that works: a failure is a liveness bug of the notifiers, told apart
//! from a network still partitioned when the run ended.
//!
//! What heals, all at once when the phase starts:
//! - partitions, two-way and one-way: repaired (`FAULT #i healed`), held data flows;
//! - crashed hosts: restarted now (`FAULT #i restarted host`), also those the plan never
//!   restarts;
//! - latency: every link back to the quiet [`DEFAULT_LATENCY_MS`], fixed, whether the plan's
//!   latency policy or a latency fault set it;
//! - chunking policies: partial writes, re-chunked reads and small send buffers stop;
//! - slow closes: their ends of stream are delivered now;
//! - the plan: no fault fires any more, timed or triggered by an event.
//!
//! A reset does not heal: a connection it broke stays broken (a reconnecting client dials a
//! new one). With `settle_ms = 0` there is no liveness phase: the run ends with its active
//! duration, and [`Liveness::Off`] lists the faults still in force then.

use super::{Action, Loop, Undo};
use crate::fault::DEFAULT_LATENCY_MS;
use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

/// Whether a run reached its liveness phase, and what it healed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Liveness {
    /// The run ended before its active duration was over (every client finished, or it
    /// stopped on a panic or an error): no liveness phase was needed.
    NotReached,
    /// The active duration ran out at `from_us`; every fault in force then healed
    /// (`healed`, in words; empty if none was) and the run went on for up to `settle_ms`.
    Settled {
        /// When the phase started (the end of the active duration), in microseconds.
        from_us: u64,
        /// How long it could go on.
        settle_ms: u64,
        /// The faults and policies it healed.
        healed: Vec<String>,
    },
    /// The active duration ran out with the liveness phase off (`settle_ms = 0`): the run
    /// ended with these faults and policies still in force.
    Off {
        /// What was in force, in words.
        in_force: Vec<String>,
    },
}

impl Liveness {
    /// Under which conditions what must eventually hold was judged, for a failure's message:
    /// after every fault healed (a liveness bug), or with faults still in force (the network).
    /// `None` when the run ended within its active duration.
    ///
    /// ```
    /// use tcpnotify_sim::run::Liveness;
    /// let off = Liveness::Off { in_force: vec!["#0 partition client <-> server for 20000ms".into()] };
    /// assert_eq!(
    ///     off.judged_when().unwrap(),
    ///     "with faults still in force when the run ended (no liveness phase: settle_ms = 0): \
    ///      #0 partition client <-> server for 20000ms"
    /// );
    /// ```
    pub fn judged_when(&self) -> Option<String> {
        match self {
            Liveness::NotReached => None,
            Liveness::Settled {
                from_us,
                settle_ms,
                healed,
            } if healed.is_empty() => Some(format!(
                "after {settle_ms}ms of settling from {}ms with no fault in force (liveness \
                 phase): a liveness bug, not the network",
                from_us / 1000
            )),
            Liveness::Settled {
                from_us, settle_ms, ..
            } => Some(format!(
                "{settle_ms}ms after every fault healed at {}ms (liveness phase): a liveness \
                 bug, not the network",
                from_us / 1000
            )),
            Liveness::Off { in_force } if in_force.is_empty() => Some(
                "with no fault in force when the run ended (no liveness phase: settle_ms = 0)"
                    .into(),
            ),
            Liveness::Off { in_force } => Some(format!(
                "with faults still in force when the run ended (no liveness phase: settle_ms = \
                 0): {}",
                in_force.join("; ")
            )),
        }
    }
}

/// What the faults fired so far left behind that the schedule and the plan do not show, for
/// the liveness phase to heal.
#[derive(Default)]
pub(super) struct Disturbed {
    /// Hosts crashed and not restarted, with the index of their crash fault.
    pub(super) crashed: BTreeMap<String, usize>,
    /// Whether a latency fault changed a link's latency.
    pub(super) latency: bool,
    /// Whether a slow close fired.
    pub(super) slow_closes: bool,
}

/// One fault or policy in force, as the liveness phase heals it.
enum Healing {
    /// A partition waiting for its heal, or a port refusing connects.
    End { index: usize, undo: Undo },
    /// A crashed host not restarted.
    Restart { index: usize, host: String },
    /// Latency other than the quiet default.
    Latency,
    /// The plan's chunking policies, by name.
    Policies(Vec<&'static str>),
    /// Slow closes that fired.
    SlowCloses,
}

impl Loop<'_, '_> {
    /// The fault's description from the plan, by index.
    fn described(&self, index: usize) -> String {
        match self.run.fault(index) {
            Some(fault) => format!("#{index} {}", fault.kind),
            None => format!("#{index}"),
        }
    }

    fn describe(&self, healing: &Healing) -> String {
        match healing {
            Healing::End { index, .. } | Healing::Restart { index, .. } => self.described(*index),
            Healing::Latency => "latency other than the quiet 1ms".into(),
            Healing::Policies(names) => format!("chunking policies {}", names.join(", ")),
            Healing::SlowCloses => "slow closes".into(),
        }
    }

    /// Every fault and policy in force now.
    fn in_force(&self) -> Vec<Healing> {
        let mut list = Vec::new();
        for action in self.schedule.values() {
            match action {
                Action::End { index, undo } => list.push(Healing::End {
                    index: *index,
                    undo: undo.clone(),
                }),
                Action::Fire(_) | Action::Restart { .. } => {}
            }
        }
        for (host, index) in &self.disturbed.crashed {
            list.push(Healing::Restart {
                index: *index,
                host: host.clone(),
            });
        }
        let plan = self.run.layer.plan();
        if self.disturbed.latency || plan.latency.is_some() {
            list.push(Healing::Latency);
        }
        // Latency is healed on its own, above; cuts a long trace stopped are not in force.
        let stopped = match self.run.layer.rechunks() {
            true => Vec::new(),
            false => plan.rechunking_policies(),
        };
        let mut policies = plan.policies();
        policies.retain(|name| *name != "latency" && !stopped.contains(name));
        if !policies.is_empty() {
            list.push(Healing::Policies(policies));
        }
        if self.disturbed.slow_closes {
            list.push(Healing::SlowCloses);
        }
        list
    }

    /// Starts the liveness phase at `now`: a note, then every fault in force heals.
    pub(super) fn start_liveness(&mut self, now: u64) {
        let healing = self.in_force();
        let healed: Vec<String> = healing.iter().map(|h| self.describe(h)).collect();
        let settle_ms = self.scenario.settle_ms;
        let what = match healed.is_empty() {
            true => "no fault in force".to_string(),
            false => format!("every fault heals ({})", healed.join("; ")),
        };
        self.note(
            now,
            format!("liveness phase: {what}; settling for at most {settle_ms}ms"),
        );
        self.run.disarm();
        self.schedule.clear();
        for item in healing {
            match item {
                Healing::End { index, undo } => self.apply(now, Action::End { index, undo }),
                Healing::Restart { index, host } => {
                    self.apply(now, Action::Restart { index, host })
                }
                Healing::Latency => {
                    // Hosts left out of turmoil have no links.
                    let hosts: Vec<String> = (self.run.layer.host_names())
                        .filter(|h| !self.left_out.contains_key(*h))
                        .map(str::to_string)
                        .collect();
                    let quiet = Duration::from_millis(DEFAULT_LATENCY_MS);
                    // Links whose latency varies are set before every step: they stay quiet.
                    self.latencies.fix_all(DEFAULT_LATENCY_MS);
                    for (i, a) in hosts.iter().enumerate() {
                        for b in &hosts[i + 1..] {
                            self.sim.set_link_latency(a.as_str(), b.as_str(), quiet);
                        }
                    }
                }
                Healing::Policies(_) | Healing::SlowCloses => {}
            }
        }
        // Partitions (repaired above, and any left), policies and slow closes.
        self.run.layer.calm();
        self.liveness = Liveness::Settled {
            from_us: now,
            settle_ms,
            healed,
        };
    }

    /// The active duration ran out with no liveness phase: records what was still in force.
    pub(super) fn liveness_off(&mut self) {
        if self.liveness == Liveness::NotReached {
            let in_force = self.in_force().iter().map(|h| self.describe(h)).collect();
            self.liveness = Liveness::Off { in_force };
        }
    }
}

impl fmt::Display for Liveness {
    /// `no liveness phase`, `liveness phase from 10000ms healed: ...`, or `no liveness phase
    /// (settle_ms = 0); in force at the end: ...`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Liveness::NotReached => f.write_str("no liveness phase (the run ended before)"),
            Liveness::Settled {
                from_us, healed, ..
            } => write!(
                f,
                "liveness phase from {}ms, healed: {}",
                from_us / 1000,
                if healed.is_empty() {
                    "nothing".to_string()
                } else {
                    healed.join("; ")
                }
            ),
            Liveness::Off { in_force } => write!(
                f,
                "no liveness phase (settle_ms = 0); in force at the end: {}",
                if in_force.is_empty() {
                    "nothing".to_string()
                } else {
                    in_force.join("; ")
                }
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Liveness;

    /// Each way a run's end is judged says so in its own words: a liveness bug after the
    /// phase healed something or found nothing to heal, the network with faults in force or
    /// without, and nothing for a run that ended within its active duration.
    #[test]
    fn each_way_a_run_was_judged_says_so() {
        let settled = |healed: &[&str]| Liveness::Settled {
            from_us: 2_000_000,
            settle_ms: 500,
            healed: healed.iter().map(|h| h.to_string()).collect(),
        };
        let off = |in_force: &[&str]| Liveness::Off {
            in_force: in_force.iter().map(|f| f.to_string()).collect(),
        };
        let partition = "#0 partition client <-> server for 20000ms";
        let cases = [
            (Liveness::NotReached, None),
            (
                settled(&[]),
                Some(
                    "after 500ms of settling from 2000ms with no fault in force (liveness \
                     phase): a liveness bug, not the network",
                ),
            ),
            (
                settled(&[partition]),
                Some(
                    "500ms after every fault healed at 2000ms (liveness phase): a liveness \
                     bug, not the network",
                ),
            ),
            (
                off(&[]),
                Some(
                    "with no fault in force when the run ended (no liveness phase: settle_ms = 0)",
                ),
            ),
            (
                off(&[partition, "#1 reset c1"]),
                Some(
                    "with faults still in force when the run ended (no liveness phase: \
                     settle_ms = 0): #0 partition client <-> server for 20000ms; #1 reset c1",
                ),
            ),
        ];
        for (liveness, words) in cases {
            assert_eq!(liveness.judged_when().as_deref(), words, "{liveness:?}");
        }
    }
}
