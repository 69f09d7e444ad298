//! One simulated run.

mod capacity;
mod integrity;
mod network;
mod recorder;
mod runner;
mod trace;

pub use capacity::*;
pub use integrity::*;
pub use network::*;
pub use recorder::*;
pub use runner::*;
pub use trace::*;
