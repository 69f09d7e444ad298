//! Chaos testing notifiers with [`tcpnotify_sim::explore::Chaos`]: three deliberately buggy
//! notifiers, each correct on a quiet network, are caught by a sweep of generated fault plans
//! and their failure shrunk to a plan of a few faults; a correct echo passes the same kind of
//! sweep with faults firing; and every built-in correct notifier survives every fault that
//! heals (`healing`); a saved regression is replayed before the sweep (`regressions`).
//!
//! The buggy tests pin the sweep's seeds (they assert how far a sweep must go); the passing
//! tests honour the environment (`TCPNOTIFY_SEEDS`, `TCPNOTIFY_SEED`, `TCPNOTIFY_JOBS`, fresh
//! random seeds, budgets, ...) as a user's test would, which `environment` checks by running
//! one of them again with the variables set.

mod correct_echo;
mod eager_writer;
mod environment;
mod forgotten_connect_failed;
mod healing;
mod naive_framing;
mod regressions;
mod support;
