//! One run: a scenario under a fault plan over turmoil ([`run()`]), one simulated host per
//! scenario host on the fault layer ([`SimNetwork`]), every callback recorded into a
//! [`Trace`] with simulated time and summed per connection ([`tally`]), and the `tracing`
//! events the scenario's log filter lets through beside them (`log_capture.rs`), stream
//! integrity checked as data flows, turmoil's capacities sized from the scenario
//! (`capacity.rs`, with the limits no setting raises), each link's latency drawn from a
//! random stream of its own (`latency.rs`), and a [`Cutoff`] that stops a run from
//! outside (a wall-clock deadline, Ctrl-C). Hosts that run nothing are left out of turmoil
//! and answer a SYN as they would in it (`outside.rs`). Every run ends with a liveness phase
//! once its active duration is over ([`Liveness`]: every fault heals, then the run settles).
//! A crash ends a host's connections in the order they started, whatever tokio's order
//! ([`Teardown`]).
//!
//! While a run goes, its notifiers reach its context (`context.rs`): the run's shared state
//! ([`run_state`]) and its assertions ([`always`], [`sometimes`], [`reachable`], recorded as
//! [`Assertions`], `assert.rs`); what they left is the outcome's [`RunContext`].

mod assert;
mod capacity;
mod context;
mod cutoff;
mod ended;
mod fault_step;
mod integrity;
mod latency;
mod log_capture;
mod log_line;
mod network;
mod outside;
mod panics;
mod recorder;
mod runner;
mod tally;
mod teardown;
mod trace;

pub use assert::{Assertion, AssertionFailure, AssertionKind, Assertions};
pub use capacity::{tcp_capacity, LimitError, EPHEMERAL_PORTS};
pub use context::{always, in_run, reachable, run_state, sometimes, RunContext, SharedState};
pub use cutoff::{Cutoff, Stop};
pub use ended::Ended;
pub use fault_step::FaultStep;
pub use log_line::{LogFields, LogLevel};
pub use network::{SimNetwork, TurmoilListener, TurmoilNetwork, TurmoilStream};
pub use runner::{run, run_until, simulation_builder, Liveness, RunError, RunOutcome};
pub use tally::{is_listener_callback, tally, Ending, Tally};
pub use teardown::{Teardown, TeardownGuard};
pub use trace::{now_us, EventKind, JsonTrace, Trace, TraceEvent, TraceLineError, TraceParseError};

pub(crate) use assert::DECLARED;
