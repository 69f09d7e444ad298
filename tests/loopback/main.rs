//! Integration tests over real loopback sockets: each drives tcpnotify connections (and raw
//! tokio peers where a test needs full control of the other side) and snapshots the exact
//! callback sequence of each connection, one callback per line, as the record module renders it.
//!
//! Each connection's own sequence is deterministic by design (lockstep exchanges, `expect`
//! framing, peers that stall on purpose); how different connections interleave is not, so
//! every snapshot shows one section per connection.

mod composed;
mod connect;
mod data;
mod flow;
mod lifetime;
mod support;

/// The composed-notifier example, compiled into this test so its wrappers are exercised.
#[path = "../../examples/composed.rs"]
#[allow(dead_code)]
mod composed_example;
