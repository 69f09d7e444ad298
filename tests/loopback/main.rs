//! Integration tests over real loopback sockets, and the same tests over the simulator: the
//! differential conformance suite (`conformance`). Each test body is written once against a
//! [`world::World`] and drives tcpnotify connections (and raw peers where a test needs full
//! control of the other side). Over loopback, the exact callback sequence of each connection
//! is snapshotted, one callback per line, as the record module renders it; over the simulator
//! with a quiet fault plan, the same body must give that snapshot (`in_the_simulator::*`).
//!
//! Each connection's own sequence is deterministic by design (lockstep exchanges, `expect`
//! framing, peers that stall on purpose); how different connections interleave is not, so
//! every snapshot shows one section per connection.

#[macro_use]
mod conformance;
mod assertions;
mod composed;
mod connect;
mod data;
mod dial;
mod faults;
mod flow;
mod in_task;
mod lifetime;
mod support;
mod world;
mod yields;

/// The composed-notifier example, compiled into this test so its wrappers are exercised.
#[path = "../../examples/composed.rs"]
#[allow(dead_code)]
mod composed_example;
