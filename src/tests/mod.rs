//! Unit tests of the sans-IO state machines, one module per group of contract rules
//! (`docs/contract.md`).

mod harness;

mod accept;
mod connect;
mod defaults;
mod deferred;
mod dial;
mod differ;
mod lifetime;
mod listener;
mod reads;
mod recorded;
mod writes;
