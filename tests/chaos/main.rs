//! Chaos testing notifiers with [`tcpnotify_sim::explore::Chaos`]: seven deliberately buggy
//! notifiers, each correct on a quiet network, are caught by a sweep of generated fault plans
//! with no fault settings written (the swarm) and their failure shrunk to a plan of a few
//! faults — four of them dial (`conn.dial`): a proxy, two reconnecting clients, a client that
//! gives up, whose bug only the liveness phase shows; a correct echo passes the same kind of
//! sweep with faults firing; and every built-in correct notifier survives every fault that
//! heals (`healing`); a saved regression is replayed before the sweep (`regressions`).
//!
//! The buggy tests pin the sweep's seeds (they assert how far a sweep must go); the passing
//! tests honour the environment (`TCPNOTIFY_SEEDS`, `TCPNOTIFY_SEED`, `TCPNOTIFY_JOBS`, fresh
//! random seeds, budgets, ...) as a user's test would, which `environment` checks by running
//! one of them again with the variables set.

mod correct_echo;
mod duplicate_on_retry;
mod eager_writer;
mod environment;
mod forgotten_connect_failed;
mod gives_up_too_soon;
mod healing;
mod naive_framing;
mod proxy_redial_drops;
mod regressions;
mod resume_from_written;
mod support;
