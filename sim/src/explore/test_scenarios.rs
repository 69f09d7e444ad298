//! Scenarios the unit tests of sweeps, merges and chaos tests share.

use crate::fault::{FaultSettings, Span};
use crate::notifiers::{Sender, SlowReader};
use crate::scenario::{Expectations, Scenario};
use crate::validate::MAX_DURATION_MS;
use std::time::Duration;

/// An echo that must come back whole, under resets: seeds whose plan resets c1 fail.
pub(crate) fn sometimes_failing(name: &str) -> Scenario {
    Scenario::echo(name, 512, 128)
        .faults(FaultSettings {
            resets: 0.3,
            reset_after_received: Span::new(1, 3),
            read_chunks: 0.5,
            ..FaultSettings::default()
        })
        .expecting(Expectations {
            echoed: true,
            ..Expectations::default()
        })
}

/// Ten simulated minutes of a client whose echo never comes: hundreds of thousands of steps,
/// far longer than a millisecond of wall-clock time.
pub(crate) fn never_finishing() -> Scenario {
    Scenario::new("slow")
        .listener(
            "server",
            "server",
            7000,
            crate::factory(|| SlowReader::new(Duration::ZERO, 1 << 20)),
        )
        .client(
            "c1",
            "client",
            "server",
            7000,
            crate::factory(|| Sender::pattern(16)),
        )
        .duration_ms(MAX_DURATION_MS)
        // Quiet: the swarm's resets (of `server.1` after one of its first `received`) would
        // end it within a few simulated milliseconds.
        .faults(FaultSettings::quiet())
}
