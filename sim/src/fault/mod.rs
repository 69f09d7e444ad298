//! What goes wrong in a run, as data and as middleware.
//!
//! - [`FaultSettings`] say how likely each fault is and how large; by default a [`Swarm`]
//!   draws them per seed ([`Faults`] is the choice between the two). [`FaultPlan::generate`]
//!   draws a run's [`FaultPlan`] from them and the seed before the run starts (`draw.rs`),
//!   timing its partitions and crashes by the traffic unless the settings give a window.
//!   A plan is data: every [`Fault`] with its [`Trigger`], and the chunking policies of
//!   every stream. It prints, serialises, edits and shrinks.
//! - [`FaultLayer`] holds one run's fault state (partitions, resets, slow closes, each
//!   connection's flow window); [`FaultyStream`] applies it to any backend's stream (partial
//!   writes, re-chunked reads, small send buffers, held data, resets), and [`FaultNetwork`] to
//!   any backend's network (connects that wait out partitions and crashes, and time out). Both
//!   are middleware, as smoltcp's `FaultInjector` wraps any device: a `FaultNetwork` is a
//!   tcpnotify `Network` again.
//!
//! Nothing here knows about scenarios or turmoil: the same faults wrap turmoil's streams in a
//! simulated run and real sockets on loopback.

mod draw;
mod layer;
mod network;
mod plan;
mod readiness;
mod settings;
mod stream;
mod swarm;

pub(crate) use draw::most_faults;
pub use draw::Faults;
pub use layer::FaultLayer;
pub use network::FaultNetwork;
pub use plan::{
    Dial, EventTrigger, Fault, FaultKind, FaultPlan, Latency, PartialWrites, ReadChunks, Topology,
    Trigger, DEFAULT_LATENCY_MS, DEFAULT_WINDOW, MAX_SEGMENTS_IN_FLIGHT, MAX_WINDOW, PEER,
};
pub(crate) use settings::POLICIES;
pub use settings::{FaultSettings, Span, DEFAULT_CONNECT_TIMEOUT_MS};
pub use stream::{FaultyStream, Peek};
pub use swarm::Swarm;
