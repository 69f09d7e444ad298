//! One run: a scenario under a fault plan over turmoil ([`run()`]), one simulated host per
//! scenario host on the fault layer ([`SimNetwork`]), every callback recorded into a
//! [`Trace`] with simulated time, stream integrity checked as data flows, turmoil's
//! capacities sized from the scenario (`capacity.rs`, with the limits no setting raises), and
//! each link's latency drawn from a random stream of its own (`latency.rs`).

mod capacity;
mod integrity;
mod latency;
mod network;
mod recorder;
mod runner;
mod trace;

pub use capacity::{LimitError, EPHEMERAL_PORTS};
pub use network::{SimNetwork, TurmoilNetwork, TurmoilStream};
pub use runner::{run, simulation_builder, Ended, RunError, RunOutcome};
pub use trace::{now_us, EventKind, Trace, TraceEvent, TraceParseError};
