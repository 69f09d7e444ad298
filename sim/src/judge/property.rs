//! A scenario's own properties and its notifiers' assertions, judged: the builders that add
//! properties to a [`Scenario`] ([`Scenario::property`], [`Scenario::eventually`]), and the
//! failures a run gives — each failed `always` assertion, each property that does not hold —
//! with the property's or assertion's name as the signature, which shrinking keeps.
//!
//! ```
//! use tcpnotify_sim::judge::judge;
//! use tcpnotify_sim::{FaultPlan, Scenario, Seed};
//! let scenario = Scenario::echo("echo", 100, 10)
//!     .property("server-sends-only-what-it-got", |run| {
//!         let server = run.connection("server.1").ok_or("no server connection")?;
//!         match server.sent_bytes <= server.received_bytes {
//!             true => Ok(()),
//!             false => Err(format!("sent {} of {}", server.sent_bytes, server.received_bytes)),
//!         }
//!     })
//!     .eventually("c1-got-its-echo", |run| {
//!         run.connection("c1").is_some_and(|c1| c1.received_bytes == 100)
//!     });
//! let verdict = judge(&scenario, &FaultPlan::quiet(Seed(1))).unwrap();
//! assert!(verdict.passed(), "{verdict}");
//! ```

use super::view::RunView;
use crate::run::RunOutcome;
use crate::scenario::{Property, PropertyKind, Scenario};
use std::fmt;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;

/// What a property's check returns: `true` or `Ok(())` when it holds; `false` or `Err(why)`
/// when it does not (the failure's message is `why`).
pub trait PropertyResult {
    /// `Ok(())` when the property holds, or what is wrong.
    fn into_result(self) -> Result<(), String>;
}

impl PropertyResult for bool {
    fn into_result(self) -> Result<(), String> {
        match self {
            true => Ok(()),
            false => Err("does not hold".into()),
        }
    }
}

impl<E: fmt::Display> PropertyResult for Result<(), E> {
    fn into_result(self) -> Result<(), String> {
        self.map_err(|e| e.to_string())
    }
}

/// A property's check of a run.
type CheckFn = dyn Fn(&RunView<'_>) -> Result<(), String> + Send + Sync;

/// A property's check, with its type (the scenario keeps it without).
struct Check(Box<CheckFn>);

impl Scenario {
    /// Adds a safety property `name`: `check` reads the whole run ([`RunView`]: the trace, the
    /// shared state of [`run_state`](crate::run_state), each connection's end state) and must
    /// hold in every run, whatever the faults did. It is judged with the contract and the
    /// expectations; a run where it does not hold fails with the signature `name`, which
    /// shrinking keeps. A check that panics fails the same way.
    ///
    /// `name` is letters, digits, `-` and `_`, not an expectation's name or a rule id
    /// ([`validate`](Scenario::validate) says).
    pub fn property<R: PropertyResult>(
        self,
        name: &str,
        check: impl Fn(&RunView<'_>) -> R + Send + Sync + 'static,
    ) -> Self {
        self.add(name, PropertyKind::Safety, check)
    }

    /// Adds a liveness property `name`: what must eventually hold ("every order was
    /// acknowledged"), judged at the end of the run, after its liveness phase healed every
    /// fault and the run settled ([`settle_ms`](Scenario::settle_ms)). Its failure says so, or
    /// that faults were still in force (no liveness phase): a liveness bug is told apart from
    /// a network still broken. Otherwise as [`property`](Scenario::property).
    pub fn eventually<R: PropertyResult>(
        self,
        name: &str,
        check: impl Fn(&RunView<'_>) -> R + Send + Sync + 'static,
    ) -> Self {
        self.add(name, PropertyKind::Eventually, check)
    }

    fn add<R: PropertyResult>(
        mut self,
        name: &str,
        kind: PropertyKind,
        check: impl Fn(&RunView<'_>) -> R + Send + Sync + 'static,
    ) -> Self {
        let check = Check(Box::new(move |run| check(run).into_result()));
        self.properties.push(Property {
            name: name.to_string(),
            kind,
            check: Arc::new(check),
        });
        self
    }
}

/// A failure of a property or an assertion: its name (the signature) and what was wrong.
pub(crate) type Unmet = (String, String);

/// Each `always` assertion of the run that failed, with where and when it first failed.
pub(crate) fn assertion_failures(outcome: &RunOutcome) -> Vec<Unmet> {
    let assertions = outcome.context.assertions().iter();
    assertions
        .filter(|a| a.failed())
        .map(|a| {
            let failed = a.evaluations - a.held;
            let mut message = format!("always failed {failed} of {} time(s)", a.evaluations);
            if let Some(first) = &a.first_failure {
                let line = match first.line {
                    Some(line) => format!("trace line {line}"),
                    None => "not in the trace: it was full".to_string(),
                };
                message += &format!(
                    "; first at {}.{:03}ms on {} {} ({line}, {}): {}",
                    first.at_us / 1000,
                    first.at_us % 1000,
                    first.host,
                    first.who,
                    a.location,
                    first.message
                );
            }
            (a.name.clone(), message)
        })
        .collect()
}

/// The failures of `scenario`'s properties of `kind` on `view`, in the order they were added.
pub(crate) fn property_failures(
    scenario: &Scenario,
    view: &RunView<'_>,
    kind: PropertyKind,
) -> Vec<Unmet> {
    let mut failures = Vec::new();
    for property in scenario.properties.iter().filter(|p| p.kind == kind) {
        let Some(Check(check)) = property.check.downcast_ref::<Check>() else {
            continue;
        };
        let result = catch_unwind(AssertUnwindSafe(|| check(view)))
            .unwrap_or_else(|panic| Err(format!("the check panicked: {}", panic_text(&*panic))));
        if let Err(mut message) = result {
            if kind == PropertyKind::Eventually {
                if let Some(when) = view.liveness().judged_when() {
                    message = format!("{message} ({when})");
                }
            }
            failures.push((property.name.clone(), message));
        }
    }
    failures
}

/// A panic's message, if it has one.
fn panic_text(panic: &(dyn std::any::Any + Send)) -> String {
    match (panic.downcast_ref::<&str>(), panic.downcast_ref::<String>()) {
        (Some(text), _) => text.to_string(),
        (_, Some(text)) => text.clone(),
        _ => "without a message".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::panic_text;
    use std::any::Any;

    #[test]
    fn a_panics_text_is_its_message_whether_literal_or_formatted() {
        let payloads: [(Box<dyn Any + Send>, &str); 3] = [
            (Box::new("literal"), "literal"),
            (Box::new(format!("{} bytes", 3)), "3 bytes"),
            (Box::new(7u8), "without a message"),
        ];
        for (payload, text) in payloads {
            assert_eq!(panic_text(&*payload), text);
        }
    }
}
