//! Judging a run: the contract check, how the run ended, the scenario's own end conditions
//! ("every byte echoed", "two connections closed"), its notifiers' `always` assertions and its
//! properties (`property.rs`), folded into one verdict with a failure signature that
//! shrinking keeps constant.

use super::checker::{check_events, CheckOptions, CheckReport, Violation};
use super::listing::{kind, write_listed, JSON_LISTS_EVERY_ONE};
use super::property::{assertion_failures, property_failures};
use super::view::{ConnectionEnd, RunView};
use crate::fault::FaultPlan;
use crate::run::{run_until, Cutoff, Ended, EventKind, RunError, RunOutcome};
use crate::scenario::{PropertyKind, Scenario, ScenarioFile};
use crate::seed::Seed;
use std::collections::BTreeMap;
use std::fmt;
use tcpnotify::record::Callback;

/// One reason a run failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failure {
    /// A contract rule was broken.
    Contract(Violation),
    /// An end condition, a property of the scenario or an `always` assertion did not hold.
    Property {
        /// The condition (`echoed`, `closed`, `finished`), or the property's or assertion's
        /// name.
        name: String,
        /// What was seen instead.
        message: String,
    },
}

impl Failure {
    /// What kind of failure this is, without the details that change from run to run: the
    /// rule id or the property's name. Shrinking keeps this constant.
    pub fn signature(&self) -> String {
        match self {
            Failure::Contract(v) => v.rule.to_string(),
            Failure::Property { name, .. } => name.clone(),
        }
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Failure::Contract(v) => write!(f, "contract {v}"),
            Failure::Property { name, message } => write!(f, "property {name}: {message}"),
        }
    }
}

/// A judged run.
#[derive(Debug)]
pub struct Verdict {
    /// The run.
    pub outcome: RunOutcome,
    /// The contract check of its trace.
    pub report: CheckReport,
    /// Every failure: contract violations first, then failed `always` assertions, the
    /// scenario's safety properties, its end conditions, and its eventually-properties.
    pub failures: Vec<Failure>,
}

impl Verdict {
    /// Whether nothing failed.
    pub fn passed(&self) -> bool {
        self.failures.is_empty()
    }

    /// The first failure's signature, if the run failed.
    pub fn signature(&self) -> Option<String> {
        self.failures.first().map(Failure::signature)
    }
}

impl fmt::Display for Verdict {
    /// The contract report, then the failures of properties, one per line (at most ten of one
    /// property, then how many more).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.report)?;
        let properties = (self.failures.iter())
            .filter(|failure| matches!(failure, Failure::Property { .. }))
            .map(|failure| (kind(failure), failure));
        write_listed(f, properties, JSON_LISTS_EVERY_ONE)?;
        if self.passed() {
            write!(f, "\nverdict: passed")
        } else {
            write!(f, "\nverdict: FAILED ({} failure(s))", self.failures.len())
        }
    }
}

/// The signature of a run that could not start (a plan or scenario the runner refused) or
/// that reached a limit of the simulator partway (`RunError::LimitReached`).
pub const RUN_ERROR: &str = "run_error";

/// The signature of a judged run: its first failure's, [`RUN_ERROR`] if it has no verdict,
/// or `None` if it passed. Sweeps, reruns and shrinking compare runs by it.
pub fn signature_of(result: &Result<Verdict, RunError>) -> Option<String> {
    match result {
        Ok(verdict) => verdict.signature(),
        Err(_) => Some(RUN_ERROR.to_string()),
    }
}

/// The contract options of a scenario: its listeners' limits, every connection's read
/// buffer size and whether the run checks stream integrity. The one place they are made, for
/// a verdict and for the `run` line of `run --json`.
pub(crate) fn check_options(scenario: &Scenario) -> CheckOptions {
    let mut options = CheckOptions {
        integrity_checked: scenario.options.check_integrity,
        ..CheckOptions::default()
    };
    for l in &scenario.listeners {
        if l.limit > 0 {
            options.listener_limits.insert(l.name.clone(), l.limit);
        }
        let size = l.config.read_buffer_size();
        options.read_buffer_sizes.insert(l.name.clone(), size);
    }
    for c in &scenario.clients {
        let size = c.config.read_buffer_size();
        options.read_buffer_sizes.insert(c.name.clone(), size);
    }
    options
}

/// Runs `scenario` under `plan` and judges the run.
pub fn judge(scenario: &Scenario, plan: &FaultPlan) -> Result<Verdict, RunError> {
    judge_until(scenario, plan, &Cutoff::never())
}

/// Runs `scenario` under `plan` unless `cutoff` stops it first (then
/// [`RunError::Stopped`], and no verdict), and judges the run.
pub fn judge_until(
    scenario: &Scenario,
    plan: &FaultPlan,
    cutoff: &Cutoff,
) -> Result<Verdict, RunError> {
    let outcome = run_until(scenario, plan, cutoff)?;
    Ok(judge_outcome(scenario, outcome))
}

/// Judges a finished run of `scenario`.
pub fn judge_outcome(scenario: &Scenario, outcome: RunOutcome) -> Verdict {
    // The contract check, the end conditions and the properties read the view's events, shared
    // with the trace rather than copied.
    let view = RunView::new(scenario, &outcome);
    let report = check_events(view.events(), &check_options(scenario));
    let mut failures: Vec<Failure> = report
        .violations
        .iter()
        .cloned()
        .map(Failure::Contract)
        .collect();
    let unmet = |(name, message)| Failure::Property { name, message };
    failures.extend(assertion_failures(&outcome).into_iter().map(unmet));
    let of_kind = |kind| property_failures(scenario, &view, kind);
    failures.extend(of_kind(PropertyKind::Safety).into_iter().map(unmet));
    failures.extend(properties(scenario, &view));
    failures.extend(of_kind(PropertyKind::Eventually).into_iter().map(unmet));
    drop(view);
    Verdict {
        outcome,
        report,
        failures,
    }
}

impl ScenarioFile {
    /// Runs the scenario with `seed` (the file's own when `None`) and judges it: the library
    /// call behind `tcpnotify-sim run`.
    ///
    /// ```
    /// use std::path::Path;
    /// use tcpnotify_sim::notifiers::Echo;
    /// use tcpnotify_sim::{factory, Registry, ScenarioFile};
    ///
    /// let mut registry = Registry::builtin();
    /// registry.register("my-server", |_| Ok(factory(|| Echo)));
    /// let text = r#"
    ///     [[listeners]]
    ///     name = "server"
    ///     host = "server"
    ///     port = 7000
    ///     notifier = "my-server"
    ///     [[clients]]
    ///     name = "c1"
    ///     host = "client"
    ///     target = "server"
    ///     port = 7000
    ///     notifier = "sender"
    ///     params = { text = "hello" }
    ///     [expect]
    ///     echoed = true
    ///     closed = 2
    /// "#;
    /// let file = ScenarioFile::parse(text, Path::new("mine.toml"), &registry).unwrap();
    /// let verdict = file.judge(None).unwrap();
    /// assert!(verdict.passed(), "{verdict}");
    /// ```
    pub fn judge(&self, seed: Option<Seed>) -> Result<Verdict, RunError> {
        let plan = self.scenario.plan_for(seed.unwrap_or(self.seed));
        judge(&self.scenario, &plan)
    }
}

/// The connections of `view` still muted when the run ended, with when each was muted, as a
/// clause for the `finished` failure (empty if none): a mute never undone is what stops a
/// connection reading, and its peer from finishing, and no callback shows it.
fn left_muted(view: &RunView<'_>) -> String {
    // Per connection, when its mute in force began; none once unmuted or ended.
    let mut muted: BTreeMap<&str, u64> = BTreeMap::new();
    for event in view.events() {
        match (&event.kind, event.callback()) {
            (EventKind::Muted, _) => {
                muted.insert(&event.who, event.at_us);
            }
            (EventKind::Unmuted, _) => {
                muted.remove(&*event.who);
            }
            (_, Some(Callback::Closed | Callback::ConnectFailed(_))) => {
                muted.remove(&*event.who);
            }
            _ => {}
        }
    }
    if muted.is_empty() {
        return String::new();
    }
    let each: Vec<String> = (muted.iter())
        .map(|(who, at_us)| format!("{who} since {}.{:03}ms", at_us / 1000, at_us % 1000))
        .collect();
    format!(
        "; muted and never unmuted (R5: it reads nothing more, nor its peer's close): {}",
        each.join(", ")
    )
}

/// The scenario's end conditions ([`Scenario::expectations`]) that `view`, its run, does not
/// meet.
fn properties(scenario: &Scenario, view: &RunView<'_>) -> Vec<Failure> {
    let outcome = view.outcome();
    let expect = &scenario.expectations;
    let mut failures = Vec::new();
    let mut fail = |name: &str, message: String| {
        failures.push(Failure::Property {
            name: name.to_string(),
            message,
        })
    };
    // What must eventually hold says whether the faults had healed when it did not.
    let when = outcome.liveness.judged_when();
    let eventual = |message: String| match &when {
        Some(when) => format!("{message} ({when})"),
        None => message,
    };
    match &outcome.ended {
        Ended::Panicked { message } => fail("no_panic", message.clone()),
        Ended::Failed { message } => fail("simulation", message.clone()),
        Ended::DurationReached { unfinished } if expect.finished => {
            let mut message = if unfinished.is_empty() {
                "the duration ran out with connections still open".to_string()
            } else {
                format!(
                    "the duration ran out before {} finished",
                    unfinished.join(", ")
                )
            };
            message += &left_muted(view);
            fail("finished", eventual(message));
        }
        _ => {}
    }
    let mut counts: BTreeMap<&'static str, usize> = BTreeMap::new();
    for event in view.events() {
        if let Some(callback) = event.callback() {
            *counts.entry(callback.name()).or_insert(0) += 1;
        }
    }
    for (name, wanted) in [
        ("closed", expect.closed),
        ("connect_failed", expect.connect_failed),
        ("accepted", expect.accepted),
    ] {
        let seen = counts.get(name).copied().unwrap_or(0);
        if let Some(wanted) = wanted.filter(|w| *w != seen) {
            fail(
                name,
                format!("expected {wanted} `{name}` callbacks, saw {seen}"),
            );
        }
    }
    if expect.echoed {
        for client in scenario.clients.iter().map(|c| &c.name) {
            let end = view.connection(client);
            let t = end.map_or((0, 0), |c| (c.sent_bytes, c.received_bytes));
            if t.0 != t.1 {
                // Bytes of the echo are lost to a hard close at either end.
                let lost = discarded([end, view.peer(client)]);
                let message = format!("{client} sent {} bytes but {} came back{lost}", t.0, t.1);
                fail("echoed", eventual(message));
            }
        }
    }
    for (who, wanted) in &expect.delivered {
        let seen = view.connection(who).map_or(0, |c| c.received_bytes);
        if seen != *wanted {
            let lost = discarded([view.peer(who)]);
            let message = format!("{who} received {seen} bytes, expected {wanted}{lost}");
            fail("delivered", eventual(message));
        }
    }
    failures
}

/// The queued bytes that one of `ends` discarded as it closed at once, as a missing-bytes failure
/// adds them (` (server.1 closed at once, discarding 128425 queued bytes)`), or nothing: no
/// callback tells of them, and the trace says so only in a note after the `closed` line.
fn discarded<'a>(ends: impl IntoIterator<Item = Option<&'a ConnectionEnd>>) -> String {
    let lost: Vec<String> = (ends.into_iter().flatten())
        .filter_map(|end| {
            let bytes = end.stats?.bytes_discarded;
            (bytes > 0).then(|| {
                format!(
                    "{} closed at once, discarding {bytes} queued bytes",
                    end.name
                )
            })
        })
        .collect();
    if lost.is_empty() {
        String::new()
    } else {
        format!(" ({})", lost.join("; "))
    }
}
