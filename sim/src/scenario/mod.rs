//! What to run.

mod expect;
mod file;
pub mod notifiers;
mod registry;
mod spec;

pub use expect::*;
pub use file::*;
pub use registry::*;
pub use spec::*;
