//! The connection stack over the seeded simulated network: exact callback traces, snapshot
//! tested, each checked against the contract (`docs/contract.md`). A failing test prints the
//! line that re-runs it (`TCPNOTIFY_SEED=<seed> cargo test --test simulation -- --exact <test>`).

mod connect;
#[path = "../common/counts_final.rs"]
mod counts_final;
mod determinism;
mod dial;
mod dialled_faults;
mod dropped_writes;
mod faults;
mod fidelity;
mod flow;
mod liveness;
mod logs;
#[path = "../common/paced_echo.rs"]
mod paced_echo;
mod properties;
mod scale;
#[path = "../common/snapshot.rs"]
mod snapshot;
mod support;
mod tallied;
mod triggered;
mod wrapping;
