//! A run drawn on simulated time: one self-contained HTML page, and the same run as a Chrome
//! trace-event file that Perfetto opens.
//!
//! Data first, then renderers. [`Timeline::build`] turns a [`Trace`](crate::run::Trace),
//! the run's [`FaultPlan`](crate::fault::FaultPlan) when there is one, and the checker's
//! [`CheckReport`](crate::judge::CheckReport) into a model: a lane per connection and per
//! listener, folded into groups (a listener with its accepted connections; clients by the
//! stem of their names), fault spans (partitions, crashes until their restart, slow closes,
//! resets, latency changes, the send-buffer limit), throttled and muted spans, bytes in flight per
//! direction (a connection's `sent`/`sentv` results less its peer's `received`, the two ends
//! paired by their addresses), and the contract violations with the trace lines they name.
//! [`Timeline::html`] and [`Timeline::chrome_trace`] render that model; [`load`] builds it
//! from what the command line is given (a scenario file to run, or a JSON-lines trace).
//!
//! The page embeds its data as JSON and draws it with a small script: no network fetch (a
//! content security policy forbids any), the same bytes for the same trace, and lanes of
//! large groups folded until clicked, so a 1,000-connection run stays a few hundred DOM nodes.
//!
//! ```
//! use tcpnotify_sim::{Scenario, Seed};
//! use tcpnotify_sim::report::Timeline;
//! use tcpnotify_sim::judge::judge;
//!
//! let scenario = Scenario::echo("echo", 1024, 256);
//! let verdict = judge(&scenario, &scenario.plan_for(Seed(1))).unwrap();
//! let timeline = Timeline::of_verdict(&verdict);
//! assert!(timeline.html().contains("<title>echo (seed 1)</title>"));
//! assert!(timeline.chrome_trace().contains("\"traceEvents\""));
//! ```

mod chrome;
mod flight;
mod html;
mod lane;
mod model;
mod source;
mod spans;

pub use model::Timeline;
pub use source::TimelineError;
