//! # tcpnotify-sim
//!
//! Deterministic simulation testing for tcpnotify notifiers: the same connection stack runs
//! over turmoil's simulated network, every run determined by one `u64` seed, with a seeded
//! fault layer, a recorded trace of every callback, and a checker of the contract
//! (`docs/contract.md`, whose "Where the simulator differs" lists what cannot match real
//! sockets).
//!
//! Where to start:
//! - [`scenario::Scenario`] describes a run (hosts, names, listeners, clients, fault settings
//!   or an explicit [`plan::FaultPlan`], end conditions); [`scenario_file`] reads one from TOML.
//! - [`verdict::judge`] runs it under a plan and checks the trace ([`checker`]) and the end
//!   conditions; [`testing::run_passing`] does the same from a `#[test]`, printing a repro line.
//! - [`sweep`], [`shrink`] and [`chaos`] run many seeds, minimise a failing plan, and wrap
//!   both for a `#[test]`; [`coverage`] says what a sweep exercised.
//! - [`timeline`] draws a run as an HTML page or a Chrome trace-event file.
//! - [`cli`] is the `tcpnotify-sim` command line.
//!
//! Underneath: [`net`] (the turmoil backend and its resolver), [`fault`] (the fault layer),
//! [`runner`] (one simulation) and [`capacity`] (turmoil's capacities and limits),
//! [`recorder`] and [`trace`] (what happened), [`integrity`] (stream integrity as data flows),
//! [`notifiers`] and [`registry`] (built-in notifiers by name), [`seed`] and [`settings`];
//! [`validate`] (the typed validation error and the limits on every size, count and duration
//! an input may ask for) and [`fuzzing`] (what the fuzzer checks for one scenario file).

pub mod capacity;
pub mod chaos;
pub mod checker;
pub mod cli;
pub mod coverage;
pub mod fault;
pub mod fuzzing;
pub mod integrity;
pub mod net;
pub mod notifiers;
pub mod plan;
pub mod recorder;
pub mod registry;
pub mod runner;
pub mod scenario;
pub mod scenario_file;
pub mod seed;
pub mod settings;
pub mod shrink;
pub mod sweep;
pub mod testing;
pub mod timeline;
pub mod trace;
pub mod validate;
pub mod verdict;

/// The README's Rust examples, compiled and run as doc tests.
#[doc = include_str!("../../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;
