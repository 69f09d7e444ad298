//! A run drawn: the [`Timeline`] of a run, as one self-contained HTML page and as a Chrome
//! trace-event file.

mod timeline;

pub use timeline::{Timeline, TimelineError};
