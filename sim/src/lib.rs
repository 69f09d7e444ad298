//! # tcpnotify-sim
//!
//! Deterministic simulation testing for tcpnotify notifiers: the same connection stack runs
//! over turmoil's simulated network, every run determined by one `u64` seed, with a seeded
//! fault layer, a recorded trace of every callback, and a contract checker.

pub mod chaos;
pub mod checker;
pub mod cli;
pub mod coverage;
pub mod fault;
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
pub mod trace;
pub mod verdict;

/// The README's Rust examples, compiled and run as doc tests.
#[doc = include_str!("../../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;
