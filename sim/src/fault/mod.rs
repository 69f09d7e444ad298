//! What goes wrong in a run.

mod draw;
mod layer;
mod plan;
mod settings;

pub use layer::*;
pub use plan::*;
pub use settings::*;
