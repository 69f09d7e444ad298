//! Unit tests of the sans-IO state machines, one module per group of contract rules.
