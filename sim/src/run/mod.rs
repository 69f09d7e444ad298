//! One run: a scenario under a fault plan over turmoil ([`run()`]), one simulated host per
//! scenario host on the fault layer ([`SimNetwork`]), every callback recorded into a
//! [`Trace`] with simulated time and summed per connection ([`tally`]), stream integrity checked as data flows, and turmoil's
//! capacities sized from the scenario (`capacity.rs`, with the limits no setting raises), and
//! a [`Cutoff`] that stops a run from outside (a wall-clock deadline, Ctrl-C).

mod capacity;
mod cutoff;
mod integrity;
mod network;
mod recorder;
mod runner;
mod tally;
mod trace;

pub use capacity::{LimitError, EPHEMERAL_PORTS};
pub use cutoff::{Cutoff, Stop};
pub use network::{SimNetwork, TurmoilNetwork, TurmoilStream};
pub use runner::{run, run_until, simulation_builder, Ended, RunError, RunOutcome};
pub use tally::{tally, Tally};
pub use trace::{now_us, EventKind, Trace, TraceEvent, TraceLineError, TraceParseError};
