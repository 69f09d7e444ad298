//! One run: a scenario under a fault plan over turmoil ([`run()`]), one simulated host per
//! scenario host on the fault layer ([`SimNetwork`]), every callback recorded into a
//! [`Trace`] with simulated time, stream integrity checked as data flows, and turmoil's
//! capacities sized from the scenario (`capacity.rs`, with the limits no setting raises).
//! Every run ends with a liveness phase once its active duration is over ([`Liveness`]:
//! every fault heals, then the run settles).
//!
//! While a run goes, its notifiers reach its context (`context.rs`): the run's shared state
//! ([`run_state`]) and its assertions ([`always`], [`sometimes`], [`reachable`], recorded as
//! [`Assertions`], `assert.rs`); what they left is the outcome's [`RunContext`].

mod assert;
mod capacity;
mod context;
mod integrity;
mod network;
mod recorder;
mod runner;
mod trace;

pub use assert::{Assertion, AssertionFailure, AssertionKind, Assertions};
pub use capacity::{LimitError, EPHEMERAL_PORTS};
pub use context::{always, in_run, reachable, run_state, sometimes, RunContext, SharedState};
pub use network::{SimNetwork, TurmoilNetwork, TurmoilStream};
pub use runner::{run, simulation_builder, Ended, Liveness, RunError, RunOutcome};
pub use trace::{now_us, EventKind, Trace, TraceEvent, TraceParseError};

pub(crate) use assert::DECLARED;
