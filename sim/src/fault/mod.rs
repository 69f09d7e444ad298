//! What goes wrong in a run, as data and as middleware.
//!
//! - [`FaultSettings`] say how likely each fault is and how large; [`FaultPlan::generate`]
//!   draws a run's [`FaultPlan`] from them and the seed before the run starts (`draw.rs`).
//!   A plan is data: every [`Fault`] with its [`Trigger`], and the chunking policies of
//!   every stream. It prints, serialises, edits and shrinks.
//! - [`FaultLayer`] holds one run's fault state (partitions, resets, slow closes, each
//!   connection's flow window), and [`FaultyStream`] applies it to a backend's stream:
//!   partial writes, re-chunked reads, small send buffers.
//!
//! Nothing here knows about scenarios or turmoil: the layer wraps whatever stream a backend
//! gives it.

mod draw;
mod layer;
mod plan;
mod settings;

pub use layer::{FaultLayer, FaultyStream};
pub use plan::{
    EventTrigger, Fault, FaultKind, FaultPlan, Latency, PartialWrites, ReadChunks, Topology,
    Trigger, DEFAULT_CONNECT_TIMEOUT_MS, DEFAULT_LATENCY_MS, DEFAULT_WINDOW, MAX_WINDOW,
};
pub use settings::{FaultSettings, Span};
