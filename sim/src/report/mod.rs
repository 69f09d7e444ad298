//! A run drawn.

mod timeline;

pub use timeline::*;
