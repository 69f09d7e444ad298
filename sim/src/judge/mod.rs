//! A run judged.

mod checker;
mod coverage;
mod verdict;

pub use checker::*;
pub use coverage::*;
pub use verdict::*;
