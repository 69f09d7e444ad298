//! A scenario's own properties, beside its [`Expectations`](super::Expectations): named
//! checks over a whole run that the judge evaluates with the contract (written in Rust with
//! [`Scenario::property`] and [`Scenario::eventually`], defined by the judge, which builds
//! the view of the run they read), and the sometimes-assertions the scenario declares
//! ([`Scenario::sometimes`]), so a sweep that never reaches one still reports it.
//!
//! The checks are kept here without their type: a check reads a judged run, which the
//! layers above this one define. The judge gives each its type back.

use super::Scenario;
use crate::validate::{name, InvalidField, NameKind};
use std::any::Any;
use std::collections::BTreeSet;
use std::fmt;
use std::sync::Arc;

/// When a property is judged, and what its failure means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PropertyKind {
    /// A safety property: it holds over the whole run, whatever the faults did ("no order is
    /// acknowledged twice").
    Safety,
    /// A liveness property: it holds once every fault healed and the run settled ("every
    /// order was acknowledged"). Its failure says whether the faults had healed
    /// ([`Liveness`](crate::run::Liveness)): a liveness bug, or a network still broken.
    Eventually,
}

impl fmt::Display for PropertyKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            PropertyKind::Safety => "property",
            PropertyKind::Eventually => "eventually",
        })
    }
}

/// One named property of a scenario.
#[derive(Clone)]
pub struct Property {
    /// Its name: the signature of its failure, which shrinking keeps.
    pub name: String,
    /// When it is judged.
    pub kind: PropertyKind,
    /// The check, its type erased (the judge's).
    pub(crate) check: Arc<dyn Any + Send + Sync>,
}

impl fmt::Debug for Property {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {:?}", self.kind, self.name)
    }
}

/// The names the judge gives its own failures: the expectations', a panic's, a broken
/// simulation's and a run that could not start. A property may not take one.
const RESERVED: [&str; 9] = [
    "finished",
    "echoed",
    "closed",
    "connect_failed",
    "accepted",
    "delivered",
    "no_panic",
    "simulation",
    "run_error",
];

/// The properties of a scenario and the sometimes-assertions it declares.
#[derive(Debug, Clone, Default)]
pub struct Properties {
    checks: Vec<Property>,
    sometimes: Vec<String>,
}

impl Properties {
    /// Every property, in the order they were added.
    pub fn iter(&self) -> impl Iterator<Item = &Property> {
        self.checks.iter()
    }

    /// Whether the scenario has no property of its own.
    pub fn is_empty(&self) -> bool {
        self.checks.is_empty()
    }

    /// Adds a property (the judge's `Scenario::property` and `Scenario::eventually`).
    pub(crate) fn push(&mut self, property: Property) {
        self.checks.push(property);
    }

    /// The sometimes-assertions declared, in the order they were declared.
    pub fn declared_sometimes(&self) -> &[String] {
        &self.sometimes
    }

    /// Checks every name: a property's is a name of letters, digits, `-` and `_` that no other
    /// property, no expectation and no contract rule (`C1`, `R6`, ...) has, since a failure's
    /// signature is that name; a declared assertion's is not empty.
    pub(crate) fn validate(&self) -> Result<(), InvalidField> {
        let mut seen = BTreeSet::new();
        for (i, property) in self.checks.iter().enumerate() {
            let field = format!("properties[{i}]");
            let value = property.name.as_str();
            name(&field, value, NameKind::Connection)?;
            let rule_like = value.len() > 1
                && value.starts_with(|c: char| c.is_ascii_uppercase())
                && value[1..].chars().all(|c| c.is_ascii_digit());
            if RESERVED.contains(&value) || rule_like {
                return Err(InvalidField::new(
                    field,
                    format!(
                        "{value:?} is the signature of the judge's own failures (an expectation \
                         or a contract rule): name the property otherwise"
                    ),
                ));
            }
            if !seen.insert(value) {
                return Err(InvalidField::new(
                    field,
                    format!("{value:?} is already the name of a property"),
                ));
            }
        }
        for (i, declared) in self.sometimes.iter().enumerate() {
            if declared.is_empty() {
                return Err(InvalidField::new(
                    format!("sometimes[{i}]"),
                    "an assertion's name cannot be empty",
                ));
            }
        }
        Ok(())
    }
}

impl Scenario {
    /// Declares a sometimes- or reachable-assertion (`tcpnotify_sim::sometimes(name, ..)`,
    /// `reachable(name)`) that this scenario's notifiers make, so a sweep's coverage reports
    /// it even when no run ever evaluates it: an assertion is otherwise known only once some
    /// run reaches it.
    ///
    /// ```
    /// use tcpnotify_sim::Scenario;
    /// let scenario = Scenario::echo("echo", 64, 64).sometimes("reconnected");
    /// assert_eq!(scenario.properties.declared_sometimes(), ["reconnected"]);
    /// ```
    pub fn sometimes(mut self, name: &str) -> Self {
        if !self.properties.sometimes.iter().any(|n| n == name) {
            self.properties.sometimes.push(name.to_string());
        }
        self
    }
}
