//! What to run.

mod file;
pub mod notifiers;
mod registry;
mod spec;

pub use file::*;
pub use registry::*;
pub use spec::*;
