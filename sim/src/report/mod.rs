//! Runs shown: the [`Timeline`] of a run, as one self-contained HTML page and as a Chrome
//! trace-event file; the [`RunSummary`] a run's text ends with; a sweep as JUnit XML
//! (`junit`, with the `cli` feature: only the command line writes it).

#[cfg(feature = "cli")]
mod junit;
mod summary;
mod timeline;

#[cfg(feature = "cli")]
pub use junit::{junit, JunitError};
pub use summary::{ConnectionSummary, RunSummary};
pub use timeline::{Timeline, TimelineError};
