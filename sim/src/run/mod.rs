//! One run: a scenario under a fault plan over turmoil ([`run()`]), one simulated host per
//! scenario host on the fault layer ([`SimNetwork`]), every callback recorded into a
//! [`Trace`] with simulated time, and the `tracing` events the scenario's log filter lets
//! through beside them (`log_capture.rs`), stream integrity checked as data flows, and turmoil's
//! capacities sized from the scenario (`capacity.rs`, with the limits no setting raises).

mod capacity;
mod integrity;
mod log_capture;
mod log_line;
mod network;
mod recorder;
mod runner;
mod trace;

pub use capacity::{LimitError, EPHEMERAL_PORTS};
pub use log_line::{LogFields, LogLevel};
pub use network::{SimNetwork, TurmoilNetwork, TurmoilStream};
pub use runner::{run, simulation_builder, Ended, RunError, RunOutcome};
pub use trace::{now_us, EventKind, Trace, TraceEvent, TraceParseError};
