//! Swarm testing: with no fault settings written, each seed draws its own [`FaultSettings`]
//! — which fault kinds are on, and how strong — before its plan is drawn from them, as
//! FoundationDB's simulation and TigerBeetle's VOPR do. A sweep then runs many different
//! mixes of faults instead of one mix at many seeds: a bug that only one kind triggers, and
//! that another kind would hide, is found in the seeds that turn the first on and the second
//! off (Groce et al., "Swarm Testing", ISSTA 2012).
//!
//! Each kind is on in half the seeds, from a random stream of its own (`Seed::stream("swarm",
//! kind)`), so whether one kind is allowed does not change what the others draw:
//!
//! | kind | when on |
//! |---|---|
//! | latency | each link's latency drawn per millisecond from `min..max`: `min` 1–5 ms, `max` up to 20 ms |
//! | partial writes | each write takes 1 to `2^k` bytes on average, `k` from 2 to 11 |
//! | re-chunked reads | each read returns 1 to `2^k` bytes, `k` from 2 to 11 |
//! | small send buffer | `2^k` to `2^(k+1)` bytes, `k` from 8 to 12 (256 B to 8 KiB) |
//! | partitions | each pair of hosts a client connects across or a notifier may dial across (one listens, the other runs something), with probability 0.3–1, two-way or one-way, for 5 ms to half the connect timeout (twice it when lost connections are allowed); again, each with that probability, later in a session (after one of a client connection's first 64 `sent` or `received`) and deep in it (after one of its 65th to 1024th, the nearer the likelier), and the host of each of a client's first three redials (`c1~1` to `c1~3`) from the host that redial dials (`@peer`, found as the fault fires) as it is `connecting`; and each client's host once more in a later session from the host one of its redials `c1~1` to `c1~8` runs to (`@peer`, found as the fault fires), after one of the first 1024 `sent` or `received` of that redial (the nearer session and event the likelier) |
//! | slow closes | each client connection's FIN, with probability 0.3–1, 1–300 ms late; again, each with that probability and as late, the FIN of each listener's first three accepted connections (`server.1` to `server.3`) |
//! | resets | each client connection, with probability 0.2–1, after one of its first 1–10 `received`; again, each with that probability, after one of its first 64 `sent` and on its first redial (`c1~1`) after one of that one's first 1–10 `received`; each listener's first accepted connection (`server.1`) after one of its first 64 `received` and after one of its first 64 `sent`; and each of a client's first three redials (`c1~1` to `c1~3`) after one of its first 64 `sent` (the first few the likeliest), `c1~2` and `c1~3` after one of their first 1–10 `received`, each listener's second and third accepted connections (`server.2`, `server.3`) after one of their first 64 `received` or `sent`; and the connections a listener's first accepted connection dials (a proxy's onward connection `p1.1~1` and its redial `p1.1~2`) after one of their first 1–10 `received` and after one of their first 64 `sent` (the first few the likeliest) |
//! | crashes | each server host that runs no client of the scenario, with probability 0.3–1, down for 10 ms to twice the connect timeout; again after one of the first 64 `received` or `sent` of its listener's first accepted connection, once more after one of its 65th to 1024th (the nearer the likelier), and once more after one of the first 1024 `received` or `sent` of one of its listener's accepted connections `server.2` to `server.8` (the nearer the likelier) |
//! | refusals | each listener's port, with probability 0.3–1, refuses connects for 5 ms to 1 s (a live host whose service restarts): a connect meanwhile fails as refused; again, each with that probability, as each of a client's first three redials (`c1~1` to `c1~3`) is `connecting` |
//! | a short connect timeout | 50 to 500 ms instead of 1 s |
//!
//! Every fault kind that heals (latency, partial writes, re-chunked reads, small send
//! buffers, two-way and one-way partitions, slow closes) is always in the draw. Resets and
//! crashes lose connections, refusals fail the connects they meet (though they heal), and so
//! do partitions longer than the connect timeout (a connect across one fails): they, and a
//! shorter connect timeout, are drawn only when lost
//! connections are allowed, which by default
//! is when the scenario's expectations allow them
//! ([`Expectations::allows_lost_connections`](crate::scenario::Expectations::allows_lost_connections)):
//! no `echoed`, no `delivered` bytes, and no exact count of `closed`, `connect_failed` or
//! `accepted`. Partitions, slow closes, crash down times and latencies are also kept short
//! enough for the scenario's duration (a fifth of it, a third for the faults that lose
//! connections, a tenth for slow closes, a fiftieth for latency), so a correct notifier
//! still finishes in time.
//!
//! What slows a transfer down (latency, a small send buffer) stays within the ranges of
//! [`FaultSettings::healing`] (at most 20 ms each way, at least 256 bytes), so a workload that
//! finishes in time under those finishes under every draw; what only cuts it finer (partial
//! writes, re-chunked reads) goes down to a few bytes. A transfer of megabytes cut that fine
//! would make a callback every few bytes: a run whose trace passes half its limit stops
//! cutting ([`UNCUT_AFTER_TRACE_EVENTS`](crate::validate::UNCUT_AFTER_TRACE_EVENTS)).
//!
//! Timed faults are timed by the traffic (no fault window): see
//! [`FaultSettings::fault_window_ms`].

use super::plan::Topology;
use super::settings::{FaultSettings, Span, DEFAULT_CONNECT_TIMEOUT_MS};
use crate::seed::Seed;
use rand::Rng;
use rand_chacha::ChaCha8Rng;

/// How likely each fault kind is to be on in a seed's draw.
const ON: f64 = 0.5;

/// Swarm testing: per seed, which fault kinds are on and how strong (see the module docs for
/// the ranges). What a scenario runs when it writes no fault settings.
///
/// ```
/// use tcpnotify_sim::fault::{Swarm, Topology};
/// use tcpnotify_sim::Seed;
/// let topology = Topology { duration_ms: 10_000, ..Topology::default() };
/// let kinds: std::collections::BTreeSet<Vec<&str>> = (0..20)
///     .map(|seed| Swarm::default().draw(Seed(seed), &topology, false).enabled())
///     .collect();
/// assert!(kinds.len() > 10, "seeds draw different mixes of faults");
/// // Without lost connections allowed, no seed draws resets or crashes.
/// assert!(kinds.iter().flatten().all(|k| *k != "reset" && *k != "crash"));
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Swarm {
    /// Whether resets, crashes and partitions longer than the connect timeout may be drawn.
    /// `None` (the default): when the scenario's expectations allow lost connections.
    pub lost_connections: Option<bool>,
}

impl Swarm {
    /// The swarm that draws resets and crashes whatever the expectations say (`true`), or
    /// never (`false`): for a scenario whose own properties decide, not its expectations.
    pub fn lost_connections(allowed: bool) -> Self {
        Swarm {
            lost_connections: Some(allowed),
        }
    }

    /// The settings seed `seed` draws for a run of `topology`; resets, crashes and long
    /// partitions only if `lost_allowed` (what the expectations allow) or this swarm says so.
    pub fn draw(&self, seed: Seed, topology: &Topology, lost_allowed: bool) -> FaultSettings {
        let lost = self.lost_connections.unwrap_or(lost_allowed);
        let duration = topology.duration_ms.max(1);
        // A bound that leaves the workload time to finish after the fault healed.
        let within = |share: u64, most: u64| (duration / share).clamp(1, most);
        let mut settings = FaultSettings::quiet();
        let kind = |k: u64| -> Option<ChaCha8Rng> {
            let mut rng = seed.stream("swarm", k);
            rng.random_bool(ON).then_some(rng)
        };
        // A shorter connect timeout makes the partitions and crashes a short run has room
        // for long enough to fail a connect.
        let timeout = match kind(8).filter(|_| lost) {
            Some(mut rng) => rng.random_range(50..=DEFAULT_CONNECT_TIMEOUT_MS / 2),
            None => DEFAULT_CONNECT_TIMEOUT_MS,
        };
        settings.connect_timeout_ms = timeout;
        if let Some(mut rng) = kind(0) {
            let top = within(50, 20);
            let min = rng.random_range(1..=5u64).min(top);
            settings.latency_ms = Some(Span::new(min, rng.random_range(min..=top.max(min))));
        }
        if let Some(mut rng) = kind(1) {
            settings.partial_writes = 1.0;
            settings.partial_write_bytes = Span::new(1, 1 << rng.random_range(2..=11u32));
        }
        if let Some(mut rng) = kind(2) {
            settings.read_chunks = 1.0;
            settings.read_chunk_bytes = Span::new(1, 1 << rng.random_range(2..=11u32));
        }
        if let Some(mut rng) = kind(3) {
            let low = 1u64 << rng.random_range(8..=12u32);
            settings.send_buffer = 1.0;
            settings.send_buffer_bytes = Span::new(low, low * 2);
        }
        if let Some(mut rng) = kind(4) {
            // Past the connect timeout a partition makes a connect across it fail.
            let top = match lost {
                true => within(3, 2 * timeout),
                false => within(5, timeout / 2),
            };
            settings.partitions = rng.random_range(0.3..=1.0);
            settings.partition_ms = span(&mut rng, 5, top);
            settings.one_way = rng.random_range(0.0..=1.0);
        }
        if let Some(mut rng) = kind(5) {
            settings.slow_close = rng.random_range(0.3..=1.0);
            settings.slow_close_ms = span(&mut rng, 1, within(10, 300));
        }
        if lost {
            if let Some(mut rng) = kind(6) {
                settings.resets = rng.random_range(0.2..=1.0);
                settings.reset_after_received = Span::new(1, rng.random_range(1..=10));
            }
            if let Some(mut rng) = kind(7) {
                settings.crashes = rng.random_range(0.3..=1.0);
                settings.crash_down_ms = span(&mut rng, 10, within(3, 2 * timeout));
            }
            if let Some(mut rng) = kind(9) {
                settings.refusals = rng.random_range(0.3..=1.0);
                settings.refusal_ms = span(&mut rng, 5, within(3, 1000));
            }
        }
        settings
    }
}

/// A range inside `least..=most` (both drawn; `most` wins when they cross): its minimum up to
/// a tenth of the way, its maximum anywhere above that.
fn span(rng: &mut ChaCha8Rng, least: u64, most: u64) -> Span {
    let least = least.min(most);
    let min = rng.random_range(least..=least.max(most / 10));
    Span::new(min, rng.random_range(min..=most))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn topology(duration_ms: u64) -> Topology {
        Topology {
            duration_ms,
            ..Topology::default()
        }
    }

    #[test]
    fn every_healing_kind_is_on_in_some_seeds_and_off_in_others() {
        let draws: Vec<Vec<&str>> = (0..200)
            .map(|seed| {
                Swarm::default()
                    .draw(Seed(seed), &topology(10_000), false)
                    .enabled()
            })
            .collect();
        for kind in [
            "latency",
            "partial_writes",
            "read_chunks",
            "send_buffer",
            "partition",
            "partition_one_way",
            "slow_close",
        ] {
            let on = draws.iter().filter(|d| d.contains(&kind)).count();
            assert!((40..=160).contains(&on), "{kind} on in {on} of 200 seeds");
        }
    }

    #[test]
    fn resets_crashes_and_refusals_are_drawn_only_when_lost_connections_are_allowed() {
        let count = |swarm: Swarm, allowed: bool, kind: &str| {
            (0..200)
                .filter(|seed| {
                    swarm
                        .draw(Seed(*seed), &topology(10_000), allowed)
                        .enabled()
                        .contains(&kind)
                })
                .count()
        };
        for kind in ["reset", "crash", "refuse"] {
            assert_eq!(count(Swarm::default(), false, kind), 0, "{kind}");
            assert!(count(Swarm::default(), true, kind) > 40, "{kind}");
            assert_eq!(count(Swarm::lost_connections(false), true, kind), 0);
            assert!(count(Swarm::lost_connections(true), false, kind) > 40);
        }
    }

    #[test]
    fn healing_draws_do_not_depend_on_whether_lost_connections_are_allowed() {
        for seed in 0..100 {
            let quiet = Swarm::default().draw(Seed(seed), &topology(10_000), false);
            let lossy = Swarm::default().draw(Seed(seed), &topology(10_000), true);
            assert_eq!(quiet.latency_ms, lossy.latency_ms);
            assert_eq!(quiet.read_chunk_bytes, lossy.read_chunk_bytes);
            assert_eq!(quiet.slow_close_ms, lossy.slow_close_ms);
            assert_eq!(quiet.partitions, lossy.partitions);
            // Partitions alone may be longer when a lost connect is allowed.
            assert!(quiet.partition_ms.max <= DEFAULT_CONNECT_TIMEOUT_MS / 2);
        }
    }

    #[test]
    fn drawn_ranges_are_those_of_the_table() {
        let draws: Vec<FaultSettings> = (0..300)
            .map(|seed| Swarm::default().draw(Seed(seed), &topology(600_000), true))
            .collect();
        let mut past_one_and_a_half_timeouts = (0, 0);
        let mut minimum_above_least = (0, 0);
        for s in &draws {
            let timeout = s.connect_timeout_ms;
            assert!(
                timeout == DEFAULT_CONNECT_TIMEOUT_MS || (50..=500).contains(&timeout),
                "{s:?}"
            );
            if s.send_buffer > 0.0 {
                let low = s.send_buffer_bytes.min;
                assert!(
                    low.is_power_of_two() && (256..=4096).contains(&low),
                    "{s:?}"
                );
                assert_eq!(s.send_buffer_bytes.max, 2 * low, "{s:?}");
            }
            if s.partitions > 0.0 {
                assert!(s.partition_ms.max <= 2 * timeout, "{s:?}");
                past_one_and_a_half_timeouts.0 += usize::from(2 * s.partition_ms.max > 3 * timeout);
                minimum_above_least.0 += usize::from(s.partition_ms.min > 9);
            }
            if s.crashes > 0.0 {
                assert!(s.crash_down_ms.max <= 2 * timeout, "{s:?}");
                past_one_and_a_half_timeouts.1 +=
                    usize::from(2 * s.crash_down_ms.max > 3 * timeout);
                minimum_above_least.1 += usize::from(s.crash_down_ms.min > 19);
            }
        }
        // With lost connections allowed, partitions and crashes reach past the connect timeout
        // (up to twice it), and a range's minimum is drawn up to a tenth of its maximum, not
        // kept near its least (5 ms for a partition, 10 ms for a down time).
        assert!(
            past_one_and_a_half_timeouts.0 > 10,
            "{past_one_and_a_half_timeouts:?}"
        );
        assert!(
            past_one_and_a_half_timeouts.1 > 10,
            "{past_one_and_a_half_timeouts:?}"
        );
        assert!(minimum_above_least.0 > 10, "{minimum_above_least:?}");
        assert!(minimum_above_least.1 > 10, "{minimum_above_least:?}");
        let short = draws
            .iter()
            .filter(|s| s.connect_timeout_ms < DEFAULT_CONNECT_TIMEOUT_MS);
        assert!(short.count() > 100);
    }

    #[test]
    fn drawn_settings_validate_and_fit_short_runs() {
        for lost in [false, true] {
            for duration in [1, 5, 20, 1000, 600_000] {
                for seed in 0..100 {
                    let settings = Swarm::default().draw(Seed(seed), &topology(duration), lost);
                    assert_eq!(settings.validate(), Ok(()), "{duration}ms seed {seed}");
                    if duration >= 1000 {
                        continue;
                    }
                    let share = (duration / if lost { 3 } else { 5 }).max(1);
                    if settings.partitions > 0.0 {
                        assert!(settings.partition_ms.max <= share, "{settings:?}");
                    }
                    if settings.crashes > 0.0 {
                        assert!(settings.crash_down_ms.max <= share, "{settings:?}");
                    }
                }
            }
        }
    }
}
