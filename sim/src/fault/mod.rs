//! What goes wrong in a run.

mod layer;
mod plan;
mod settings;

pub use layer::*;
pub use plan::*;
pub use settings::*;
