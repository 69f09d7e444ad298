//! # tcpnotify-sim
//!
//! Deterministic simulation testing for tcpnotify notifiers: the same connection stack runs
//! over turmoil's simulated network, every run determined by one `u64` seed, with a seeded
//! fault layer, a recorded trace of every callback, and a checker of the contract
//! (`docs/contract.md`, whose "Where the simulator differs" lists what cannot match real
//! sockets).
//!
//! ## Layers
//!
//! ```text
//!  cli         the tcpnotify-sim command line: run, sweep, shrink, timeline, check-determinism
//!     ▲
//!  report/     runs shown: the timeline (one HTML page, a Chrome trace-event file), a
//!              run's summary, a sweep as JUnit XML
//!     ▲
//!  explore/    many runs: seed sets, sweeps and the merge of their shards, shrinking,
//!              determinism checks, the chaos API and the helpers for #[test]s, the
//!              fuzzing check
//!     ▲
//!  judge/      a run judged: the contract checker, verdicts (contract + expectations),
//!              coverage
//!     ▲
//!  run/        one run over turmoil: the runner, turmoil's network and capacities, the
//!              recorder and its trace, the run's `tracing` events at simulated time,
//!              stream integrity as data flows
//!     ▲
//!  scenario/   what to run: Scenario, its expectations, scenario files, the registry of
//!              notifiers by name, the built-in notifiers, the filter of logged events
//!     ▲
//!  fault/      what goes wrong: fault settings, fault plans drawn from them, and the fault
//!              layer, a stream and network wrapper over any backend
//!     ▲
//!  seed, validate,  the run's seed and its random streams; input validation and limits;
//!  json,            the versioned JSON-lines schema every JSON output follows; files
//!  output_file      written whole or not at all
//! ```
//!
//! Each layer uses only the layers below it, never one above (`scripts/module-cycles sim/src`
//! finds no import circle between modules or folders). `fault/` is below `scenario/`: a
//! scenario holds fault settings or a plan, and the fault layer knows nothing of scenarios or
//! of turmoil, so the same faults also wrap real sockets ([`fault::FaultNetwork`] over
//! `tcpnotify::TokioNetwork`).
//!
//! Where to start (re-exported here, with the few other names most tests need):
//! [`Scenario`] describes a run; [`run_passing`] runs it from a `#[test]` and prints a repro
//! line if it fails; [`Chaos`] sweeps many seeds, each with a plan drawn from
//! [`FaultSettings`] (by default the seed's own, drawn by the swarm: [`fault::Swarm`]), fails
//! a sweep in which no fault fired, and shrinks a failure; [`ScenarioFile`] reads a scenario from TOML with
//! notifiers from a [`Registry`]; [`judge::judge`] runs a scenario under a [`FaultPlan`] and
//! judges it.
//!
//! Beyond the contract and the built-in [`Expectations`], a scenario states its own
//! properties (`Scenario::property`, `Scenario::eventually`: closures over a
//! [`judge::RunView`]); notifiers assert from inside their callbacks ([`always`],
//! [`sometimes`], [`reachable`]) and share per-run state ([`run_state`]), both through the run
//! context the runner sets for the run. Every run that has not ended by its active duration
//! then heals every fault and settles ([`run::Liveness`]) before what must eventually hold is
//! judged.
//!
//! ## Features
//!
//! `cli` (default): the `tcpnotify-sim` binary and the `cli` module, with what only they need
//! (clap, JUnit files, Ctrl-C); it turns on `progress`, the progress bar a sweep draws on a
//! terminal (indicatif). A crate that uses the chaos API from its tests depends on this one
//! with `default-features = false` and compiles neither.

#![warn(missing_docs, unreachable_pub)]

// The command line and what only it needs (clap, JUnit files, Ctrl-C) are the default-on `cli`
// feature: a library user of the chaos API builds with `default-features = false`.
#[cfg(feature = "cli")]
pub mod cli;
pub mod explore;
pub mod fault;
pub mod json;
pub mod judge;
mod output_file;
pub mod report;
pub mod run;
pub mod scenario;
pub mod seed;
pub mod validate;

pub use explore::{run_passing, seed_or, Chaos};
pub use fault::{FaultPlan, FaultSettings};
pub use run::{always, in_run, reachable, run_state, sometimes};
pub use scenario::{factory, notifiers, Expectations, Registry, Scenario, ScenarioFile};
pub use seed::Seed;

/// The README's Rust examples, compiled and run as doc tests.
#[doc = include_str!("../../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;
