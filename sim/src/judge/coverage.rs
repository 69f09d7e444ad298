//! Coverage of a set of runs: which faults fired (and how many of them while bytes were in
//! flight where they acted), which chunking policies were on, which fault kinds were enabled
//! and never fired, how many events each contract rule judged, and how the notifiers'
//! assertions fared. A sweep that passes without exercising anything proves nothing, so the
//! report says so loudly.

use super::assertions::AssertionCoverage;
use super::checker::Rule;
use super::verdict::Verdict;
use crate::scenario::Scenario;
use std::collections::BTreeMap;
use std::fmt;

/// What a set of runs exercised: faults fired, policies on, rules judged.
///
/// Counts only add up, so coverages of seeds run on different threads can be merged in any
/// order and give the same result.
///
/// ```
/// use tcpnotify_sim::judge::Coverage;
/// let mut sweep = Coverage::default();
/// let mut run = Coverage::default();
/// run.runs = 1;
/// run.fired.insert("partition".into(), 2);
/// sweep.merge(&run);
/// sweep.merge(&run);
/// assert_eq!(sweep.runs, 2);
/// assert_eq!(sweep.fired["partition"], 4);
/// assert!(!sweep.to_string().contains("WARNING"));
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Coverage {
    /// Runs counted.
    pub runs: usize,
    /// Runs in which no fault of the plan fired.
    pub runs_without_faults: usize,
    /// How many times each fault kind fired, over all runs (`partition`, `reset`, ...).
    pub fired: BTreeMap<String, usize>,
    /// In how many runs each chunking policy of the plan was on (`partial_writes`,
    /// `read_chunks`, `send_buffer`, `latency`).
    pub policies: BTreeMap<String, usize>,
    /// How many events each checked contract rule judged, over all runs.
    pub exercised: BTreeMap<Rule, usize>,
    /// How many of the faults that fired found bytes in flight (written, not yet read) on
    /// the connections they acted on, when they acted or, for a partition, when it healed
    /// (bytes it held): a fault that lands on an idle connection tests less.
    pub fired_in_flight: usize,
    /// In how many runs each fault kind and chunking policy was enabled: its settings (written,
    /// or drawn by the swarm for the seed) gave it a probability above 0, or the explicit plan
    /// held it. Counted by [`Coverage::of_run`]; [`Coverage::of`] leaves it empty.
    pub enabled: BTreeMap<String, usize>,
    /// In how many runs each assertion was evaluated and met.
    pub assertions: AssertionCoverage,
}

impl Coverage {
    /// The coverage of one judged run: its fired faults, its plan's policies, its checked
    /// rules.
    pub fn of(verdict: &Verdict) -> Coverage {
        let fired = &verdict.outcome.fired;
        Coverage {
            runs: 1,
            runs_without_faults: usize::from(fired.values().all(|n| *n == 0)),
            fired: fired.clone(),
            policies: (verdict.outcome.plan.policies().into_iter())
                .map(|policy| (policy.to_string(), 1))
                .collect(),
            exercised: verdict.report.exercised.clone(),
            assertions: AssertionCoverage::of(verdict.outcome.context.assertions()),
            fired_in_flight: verdict.outcome.fired_in_flight,
            enabled: BTreeMap::new(),
        }
    }

    /// The coverage of one judged run of `scenario`, with what its settings enabled
    /// ([`Scenario::enabled`]): what sweeps count, so that a report can list each enabled
    /// fault kind that never fired.
    pub fn of_run(scenario: &Scenario, verdict: &Verdict) -> Coverage {
        Coverage {
            enabled: (scenario.enabled(&verdict.outcome.plan).into_iter())
                .map(|kind| (kind.to_string(), 1))
                .collect(),
            ..Coverage::of(verdict)
        }
    }

    /// Counts one judged run (see [`Coverage::of`]).
    pub fn record(&mut self, verdict: &Verdict) {
        self.merge(&Coverage::of(verdict));
    }

    /// Adds `other`'s counts to these.
    pub fn merge(&mut self, other: &Coverage) {
        self.runs += other.runs;
        self.runs_without_faults += other.runs_without_faults;
        for (kind, n) in &other.fired {
            *self.fired.entry(kind.clone()).or_default() += n;
        }
        for (policy, n) in &other.policies {
            *self.policies.entry(policy.clone()).or_default() += n;
        }
        for (rule, n) in &other.exercised {
            *self.exercised.entry(*rule).or_default() += n;
        }
        self.assertions.merge(&other.assertions);
        self.fired_in_flight += other.fired_in_flight;
        for (kind, n) in &other.enabled {
            *self.enabled.entry(kind.clone()).or_default() += n;
        }
    }

    /// The fault kinds and policies that were enabled in some run and never exercised: a
    /// fault kind that never fired, a policy that was never on. What the sweep did not test
    /// although it was asked to.
    ///
    /// ```
    /// use tcpnotify_sim::judge::Coverage;
    /// let mut coverage = Coverage::default();
    /// coverage.enabled.insert("partition".into(), 10);
    /// coverage.enabled.insert("reset".into(), 3);
    /// coverage.fired.insert("partition".into(), 4);
    /// assert_eq!(coverage.never_fired(), vec!["reset"]);
    /// ```
    pub fn never_fired(&self) -> Vec<&str> {
        self.enabled
            .iter()
            .filter(|(_, runs)| **runs > 0)
            .map(|(kind, _)| kind.as_str())
            .filter(|kind| {
                let seen = if crate::fault::POLICIES.contains(kind) {
                    &self.policies
                } else {
                    &self.fired
                };
                seen.get(*kind).copied().unwrap_or(0) == 0
            })
            .collect()
    }

    /// How many faults fired in all.
    pub fn faults_fired(&self) -> usize {
        self.fired.values().sum()
    }

    /// Whether runs were counted and not one fault fired in any of them: such a sweep tested
    /// the fault-free path only, whatever its verdicts.
    pub fn no_fault_fired(&self) -> bool {
        self.runs > 0 && self.faults_fired() == 0
    }

    /// The rules the checker judges ([`Rule::CHECKED`]) that no event of any run exercised.
    pub fn never_exercised(&self) -> Vec<Rule> {
        Rule::CHECKED
            .into_iter()
            .filter(|rule| self.exercised.get(rule).copied().unwrap_or(0) == 0)
            .collect()
    }
}

fn counts<K: fmt::Display>(map: &BTreeMap<K, usize>, sep: &str) -> String {
    let parts: Vec<String> = map
        .iter()
        .filter(|(_, n)| **n > 0)
        .map(|(k, n)| format!("{k}{sep}{n}"))
        .collect();
    if parts.is_empty() {
        "none".into()
    } else {
        parts.join(" ")
    }
}

impl Coverage {
    /// The coverage lines of a sweep that found a failure: as its `Display`, but where no fault
    /// fired, a note that the failure needed none instead of the warning to fire more (the
    /// sweep did its job).
    pub fn of_failing_sweep(&self) -> impl fmt::Display + '_ {
        CoverageLines {
            coverage: self,
            failed: true,
        }
    }
}

/// [`Coverage`]'s lines, for a sweep that passed or one that `failed`.
struct CoverageLines<'a> {
    coverage: &'a Coverage,
    failed: bool,
}

impl fmt::Display for Coverage {
    /// A few lines: runs, faults fired, policies, rules exercised and never exercised, and a
    /// `WARNING` line when no fault fired at all.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        CoverageLines {
            coverage: self,
            failed: false,
        }
        .fmt(f)
    }
}

impl fmt::Display for CoverageLines<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let this = self.coverage;
        writeln!(
            f,
            "coverage: {} run(s), {} without a fault firing",
            this.runs, this.runs_without_faults
        )?;
        writeln!(
            f,
            "faults fired: {} ({} of {} with bytes in flight)",
            counts(&this.fired, " x"),
            this.fired_in_flight,
            this.faults_fired()
        )?;
        writeln!(f, "policies on (runs): {}", counts(&this.policies, " x"))?;
        write!(f, "rules exercised: {}", counts(&this.exercised, "x"))?;
        let never = this.never_exercised();
        if !never.is_empty() {
            let names: Vec<String> = never.iter().map(Rule::to_string).collect();
            write!(f, "\nchecked rules never exercised: {}", names.join(" "))?;
        }
        let never = this.never_fired();
        if !never.is_empty() {
            write!(f, "\nenabled but never fired: {}", never.join(" "))?;
        }
        if !this.assertions.is_empty() {
            write!(f, "\n{}", this.assertions)?;
        }
        if this.no_fault_fired() {
            let chunking = (!this.policies.is_empty()).then(|| counts(&this.policies, " in "));
            if self.failed {
                // Whether the failure needed the chunking is the shrunk plan's to say: it may
                // have removed every policy.
                let chunking = chunking.map_or(String::new(), |c| {
                    format!("; chunking was on ({c}), and the shrunk plan says if it was needed")
                });
                write!(
                    f,
                    "\nno fault fired in any of the {} run(s): the failure needed none{chunking}",
                    this.runs
                )?;
            } else {
                let chunking = chunking.map_or(String::new(), |c| format!(" and chunking ({c})"));
                write!(
                    f,
                    "\nWARNING: no fault fired in any of the {} run(s): this sweep only tested \
                     the fault-free path{chunking}; raise the fault probabilities or sweep more \
                     seeds",
                    this.runs
                )?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fault::{EventTrigger, Fault, FaultKind, FaultPlan, ReadChunks};
    use crate::judge::judge;
    use crate::scenario::Scenario;
    use crate::seed::Seed;

    fn echo() -> Scenario {
        Scenario::echo("coverage-echo", 1024, 256)
    }

    fn reset_after_first_received() -> Fault {
        Fault::after(
            EventTrigger {
                conn: "c1".into(),
                callback: "received".into(),
                nth: 1,
            },
            FaultKind::Reset { conn: "c1".into() },
        )
    }

    #[test]
    fn quiet_run_counts_as_run_without_faults_and_warns() {
        let verdict = judge(&echo(), &FaultPlan::quiet(Seed(1))).expect("runs");
        let coverage = Coverage::of(&verdict);
        assert_eq!(coverage.runs, 1);
        assert_eq!(coverage.runs_without_faults, 1);
        assert!(coverage.no_fault_fired());
        assert_eq!(coverage.exercised, verdict.report.exercised);
        assert!(coverage.exercised[&Rule::C1] > 0, "{coverage}");
        let text = coverage.to_string();
        assert!(text.contains("\nWARNING: no fault fired"), "{text}");
        // A sweep that failed did its job: no warning to fire more, a note that none was needed.
        let failing = coverage.of_failing_sweep().to_string();
        assert!(!failing.contains("WARNING"), "{failing}");
        assert!(
            failing.ends_with("\nno fault fired in any of the 1 run(s): the failure needed none"),
            "{failing}"
        );
        assert_eq!(failing.lines().count(), text.lines().count());
        // Chunking on in the runs is reported as on, not as what the failure needed: the
        // shrunk plan may have removed it.
        let mut chunked = coverage.clone();
        chunked.policies.insert("send_buffer".into(), 1);
        let failing = chunked.of_failing_sweep().to_string();
        assert!(
            failing.ends_with(
                "the failure needed none; chunking was on (send_buffer in 1), and the shrunk \
                 plan says if it was needed"
            ),
            "{failing}"
        );
        // No listener limit, so the limit rule had nothing to judge.
        assert!(coverage.never_exercised().contains(&Rule::N3));
        assert!(text.contains("checked rules never exercised: "), "{text}");
    }

    #[test]
    fn fired_faults_and_policies_are_counted_and_merge_adds() {
        let plan = FaultPlan {
            read_chunks: Some(ReadChunks::new(100)),
            faults: vec![reset_after_first_received()],
            ..FaultPlan::quiet(Seed(2))
        };
        let faulty = Coverage::of(&judge(&echo(), &plan).expect("runs"));
        assert_eq!(faulty.fired.get("reset"), Some(&1));
        assert_eq!(faulty.runs_without_faults, 0);
        assert_eq!(faulty.policies.get("read_chunks"), Some(&1));
        assert!(!faulty.to_string().contains("WARNING"));

        let quiet = Coverage::of(&judge(&echo(), &FaultPlan::quiet(Seed(3))).expect("runs"));
        let mut both = faulty.clone();
        both.merge(&quiet);
        let mut other_order = quiet.clone();
        other_order.merge(&faulty);
        assert_eq!(both, other_order);
        assert_eq!(both.runs, 2);
        assert_eq!(both.runs_without_faults, 1);
        assert_eq!(both.faults_fired(), 1);
        assert_eq!(
            both.exercised[&Rule::C1],
            faulty.exercised[&Rule::C1] + quiet.exercised[&Rule::C1]
        );
    }

    /// A kind counted as enabled in no run (a shard's coverage read back may hold one) was
    /// not asked for: it is not listed as never fired.
    #[test]
    fn a_kind_enabled_in_no_run_is_not_listed_as_never_fired() {
        let mut coverage = Coverage::default();
        coverage.enabled.insert("crash".into(), 0);
        coverage.enabled.insert("reset".into(), 2);
        assert_eq!(coverage.never_fired(), vec!["reset"]);
    }

    #[test]
    fn empty_coverage_does_not_warn() {
        // Nothing ran: there is nothing to warn about (a sweep of no seeds says so itself).
        let text = Coverage::default().to_string();
        assert!(!text.contains("WARNING"), "{text}");
        assert!(text.contains("faults fired: none"), "{text}");
    }
}
