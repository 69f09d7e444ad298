//! Fault settings: the probabilities and ranges a fault plan is drawn from, as a scenario
//! file's `[faults]` table states them, and where a scenario's settings come from
//! ([`Faults`](super::Faults)): written by hand, or drawn per seed by the [`Swarm`](super::Swarm).
//!
//! A `[faults]` table (and a `FaultSettings` value in Rust) is the whole of the settings: a
//! field it leaves out is at its default, which for every fault kind is *off*
//! ([`FaultSettings::quiet`]). Writing a `[faults]` table is how a scenario opts out of the
//! swarm; an empty table asks for a run without faults.

use crate::validate::{
    at_most, ordered, InvalidField, MAX_BUFFER_BYTES, MAX_COUNT, MAX_DURATION_MS,
};
use rand::Rng;
use serde::{Deserialize, Serialize};

/// Connect attempts across a partition give up after this long (a SYN timeout).
pub const DEFAULT_CONNECT_TIMEOUT_MS: u64 = 1000;

/// A closed range of whole numbers, written `[min, max]` in TOML.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "(u64, u64)", into = "(u64, u64)")]
pub struct Span {
    /// Smallest value.
    pub min: u64,
    /// Largest value.
    pub max: u64,
}

impl Span {
    /// The range `min..=max`.
    pub const fn new(min: u64, max: u64) -> Self {
        Span { min, max }
    }

    /// A value drawn uniformly from the range.
    pub fn pick(&self, rng: &mut impl Rng) -> u64 {
        rng.random_range(self.min..=self.max)
    }
}

impl TryFrom<(u64, u64)> for Span {
    type Error = InvalidField;
    fn try_from((min, max): (u64, u64)) -> Result<Self, Self::Error> {
        // Read as a value of its own: the error has no field, and the loader names it.
        ordered("", min, max)?;
        Ok(Span { min, max })
    }
}

impl Span {
    /// Checks the range at `field`: ordered, from at least `least`, up to `limit`.
    fn check(&self, field: &str, least: u64, limit: u64) -> Result<(), InvalidField> {
        ordered(field, self.min, self.max)?;
        if self.min < least {
            return Err(InvalidField::new(
                field,
                format!(
                    "the range starts at {}; it must start at {least} or more",
                    self.min
                ),
            ));
        }
        at_most(field, self.max, limit)
    }
}

impl From<Span> for (u64, u64) {
    fn from(s: Span) -> Self {
        (s.min, s.max)
    }
}

/// How likely each fault is and how large, for plan generation. Probabilities are from 0 to 1.
///
/// ```
/// use tcpnotify_sim::FaultSettings;
/// let settings: FaultSettings = toml_edit::de::from_str("partitions = 0.5\npartition_ms = [100, 300]").unwrap();
/// assert_eq!(settings.partitions, 0.5);
/// assert_eq!(settings.resets, 0.0);
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct FaultSettings {
    /// Latency range on every link; none: a fixed 1ms.
    pub latency_ms: Option<Span>,
    /// Probability that writes are partial.
    pub partial_writes: f64,
    /// Range of the average bytes a partial write takes.
    pub partial_write_bytes: Span,
    /// Probability that reads are re-chunked.
    pub read_chunks: f64,
    /// Range of the largest re-chunked read.
    pub read_chunk_bytes: Span,
    /// Probability of a small send buffer.
    pub send_buffer: f64,
    /// Range of the send buffer size.
    pub send_buffer_bytes: Span,
    /// Probability of a partition, per pair of hosts a connection may cross; drawn again for
    /// a later partition of each such pair, for one deep in a session and for each of a
    /// client's first three redials (`FaultPlan::generate`).
    pub partitions: f64,
    /// Range of partition durations.
    pub partition_ms: Span,
    /// Share of partitions that are one-way.
    pub one_way: f64,
    /// Probability of a reset, per client connection.
    pub resets: f64,
    /// Range of the `received` count after which the reset fires.
    pub reset_after_received: Span,
    /// Probability of a slow close, per client connection and per each listener's first
    /// three accepted connections.
    pub slow_close: f64,
    /// Range of slow-close delays.
    pub slow_close_ms: Span,
    /// Probability of a crash, per server host; drawn again for a crash timed by its
    /// listener's first accepted connection, early and deep in it (`FaultPlan::generate`).
    pub crashes: f64,
    /// Range of the down time before a crashed host restarts.
    pub crash_down_ms: Span,
    /// Probability that a listener's port refuses connects for a while, per listener: the
    /// host stays up, but a connect to that port is refused (as by a service restarting) until
    /// the refusal ends.
    pub refusals: f64,
    /// Range of how long a refusal lasts.
    pub refusal_ms: Span,
    /// How long a connect's SYNs may be lost in all (across a partition, to a host that is
    /// down) before it times out; a SYN waiting in a live listener's backlog counts nothing.
    pub connect_timeout_ms: u64,
    /// When timed faults (partitions, crashes) may fire, in simulated milliseconds. Absent
    /// (the default): they are timed by the traffic, each firing on an event of a client
    /// connection between the hosts it cuts (its `connecting`, `connected`, or one of its
    /// first `sent` or `received`), so they land while connections are open and bytes are in
    /// flight, however long or short the workload.
    pub fault_window_ms: Option<Span>,
}

impl Default for FaultSettings {
    fn default() -> Self {
        FaultSettings {
            latency_ms: None,
            partial_writes: 0.0,
            partial_write_bytes: Span::new(1, 64),
            read_chunks: 0.0,
            read_chunk_bytes: Span::new(1, 64),
            send_buffer: 0.0,
            send_buffer_bytes: Span::new(1, 8192),
            partitions: 0.0,
            partition_ms: Span::new(50, 500),
            one_way: 0.5,
            resets: 0.0,
            reset_after_received: Span::new(1, 10),
            slow_close: 0.0,
            slow_close_ms: Span::new(10, 200),
            crashes: 0.0,
            crash_down_ms: Span::new(50, 500),
            refusals: 0.0,
            refusal_ms: Span::new(10, 300),
            connect_timeout_ms: DEFAULT_CONNECT_TIMEOUT_MS,
            fault_window_ms: None,
        }
    }
}

/// The names of the chunking policies a plan may turn on, as plans, coverage reports and
/// shrinking name them.
pub(crate) const POLICIES: [&str; 4] = ["latency", "partial_writes", "read_chunks", "send_buffer"];

impl FaultSettings {
    /// No fault of any kind and no chunking: every run goes as on a quiet network (a fixed
    /// 1 ms latency, whole writes, reads as the peer wrote). The same as
    /// `FaultSettings::default()`; a scenario that wants a quiet run must say so, since a
    /// scenario with no settings written is swarm tested ([`Faults`](super::Faults)).
    ///
    /// ```
    /// use tcpnotify_sim::FaultSettings;
    /// assert!(FaultSettings::quiet().enabled().is_empty());
    /// assert_eq!(FaultSettings::quiet(), FaultSettings::default());
    /// ```
    pub fn quiet() -> Self {
        FaultSettings::default()
    }

    /// Every fault kind that heals, at the intensities the README recommends: latency of 1 to
    /// 20 ms, partial writes, re-chunked reads and send buffers of 256 B to 8 KiB (each in half
    /// the runs), two-way and one-way partitions of 20 to 300 ms, slow closes of 10 to 200 ms.
    /// No resets or crashes: they lose connections, which a scenario must expect. A correct
    /// notifier passes every seed of these settings (the simulator's own `healing` chaos tests
    /// sweep them); a failure under them is a bug of the notifier or of the simulator.
    ///
    /// Timed faults are timed by the traffic (no [`fault_window_ms`](Self::fault_window_ms)).
    ///
    /// ```
    /// use tcpnotify_sim::FaultSettings;
    /// let settings = FaultSettings::healing();
    /// assert_eq!(settings.validate(), Ok(()));
    /// assert_eq!((settings.resets, settings.crashes), (0.0, 0.0));
    /// ```
    pub fn healing() -> Self {
        FaultSettings {
            latency_ms: Some(Span::new(1, 20)),
            partial_writes: 0.5,
            partial_write_bytes: Span::new(1, 2048),
            read_chunks: 0.5,
            read_chunk_bytes: Span::new(1, 2048),
            send_buffer: 0.5,
            send_buffer_bytes: Span::new(256, 8192),
            partitions: 0.7,
            partition_ms: Span::new(20, 300),
            one_way: 0.5,
            slow_close: 0.5,
            slow_close_ms: Span::new(10, 200),
            ..FaultSettings::default()
        }
    }

    /// The fault kinds (as [`FaultKind::name`](super::FaultKind::name) names them) and
    /// chunking policies (`latency`, `partial_writes`, `read_chunks`, `send_buffer`) these
    /// settings can put in a plan: those with a probability above 0. A coverage report lists
    /// those of them that never fired.
    ///
    /// ```
    /// use tcpnotify_sim::FaultSettings;
    /// let settings = FaultSettings { partitions: 0.5, one_way: 0.0, read_chunks: 1.0, ..FaultSettings::quiet() };
    /// assert_eq!(settings.enabled(), vec!["read_chunks", "partition"]);
    /// ```
    pub fn enabled(&self) -> Vec<&'static str> {
        let on = |p: f64| p > 0.0;
        [
            ("latency", self.latency_ms.is_some()),
            ("partial_writes", on(self.partial_writes)),
            ("read_chunks", on(self.read_chunks)),
            ("send_buffer", on(self.send_buffer)),
            ("partition", on(self.partitions) && self.one_way < 1.0),
            ("partition_one_way", on(self.partitions) && on(self.one_way)),
            ("reset", on(self.resets)),
            ("slow_close", on(self.slow_close)),
            ("crash", on(self.crashes)),
            ("refuse", on(self.refusals)),
        ]
        .into_iter()
        .filter_map(|(name, enabled)| enabled.then_some(name))
        .collect()
    }

    /// One line per kind these settings turn on, with its probability and range (`partitions
    /// p=0.62 20..300ms, 40% one-way`); `quiet` for none. What a swarm drew for a seed is
    /// printed this way with the seed's plan.
    pub fn describe(&self) -> String {
        let range = |s: Span, unit: &str| format!("{}..{}{unit}", s.min, s.max);
        let mut lines = Vec::new();
        if let Some(l) = self.latency_ms {
            lines.push(format!("latency {}", range(l, "ms")));
        }
        for (name, p, span, unit) in [
            (
                "partial writes",
                self.partial_writes,
                self.partial_write_bytes,
                "B",
            ),
            (
                "re-chunked reads",
                self.read_chunks,
                self.read_chunk_bytes,
                "B",
            ),
            ("send buffer", self.send_buffer, self.send_buffer_bytes, "B"),
        ] {
            if p > 0.0 {
                lines.push(format!("{name} p={p:.2} {}", range(span, unit)));
            }
        }
        if self.partitions > 0.0 {
            lines.push(format!(
                "partitions p={:.2} {}, {:.0}% one-way",
                self.partitions,
                range(self.partition_ms, "ms"),
                self.one_way * 100.0
            ));
        }
        for (name, p, span, unit) in [
            (
                "resets",
                self.resets,
                self.reset_after_received,
                " received",
            ),
            ("slow closes", self.slow_close, self.slow_close_ms, "ms"),
            ("crashes", self.crashes, self.crash_down_ms, "ms down"),
            ("refusals", self.refusals, self.refusal_ms, "ms"),
        ] {
            if p > 0.0 {
                lines.push(format!("{name} p={p:.2} {}", range(span, unit)));
            }
        }
        if lines.is_empty() {
            lines.push("quiet".into());
        }
        lines.join("\n")
    }

    /// Checks that probabilities lie in 0..=1 and every range is ordered and within its
    /// limit ([`crate::validate`]), naming the field that is not (from the `[faults]` table).
    pub fn validate(&self) -> Result<(), InvalidField> {
        for (name, p) in [
            ("partial_writes", self.partial_writes),
            ("read_chunks", self.read_chunks),
            ("send_buffer", self.send_buffer),
            ("partitions", self.partitions),
            ("one_way", self.one_way),
            ("resets", self.resets),
            ("slow_close", self.slow_close),
            ("crashes", self.crashes),
            ("refusals", self.refusals),
        ] {
            if !(0.0..=1.0).contains(&p) {
                return Err(InvalidField::new(
                    name,
                    format!("probability {p} is not between 0 and 1"),
                ));
            }
        }
        if let Some(latency) = self.latency_ms {
            latency.check("latency_ms", 0, MAX_DURATION_MS)?;
        }
        for (name, span) in [
            ("partial_write_bytes", self.partial_write_bytes),
            ("read_chunk_bytes", self.read_chunk_bytes),
            ("send_buffer_bytes", self.send_buffer_bytes),
        ] {
            span.check(name, 1, MAX_BUFFER_BYTES)?;
        }
        for (name, span) in [
            ("partition_ms", self.partition_ms),
            ("slow_close_ms", self.slow_close_ms),
            ("crash_down_ms", self.crash_down_ms),
            ("refusal_ms", self.refusal_ms),
        ] {
            span.check(name, 0, MAX_DURATION_MS)?;
        }
        self.reset_after_received
            .check("reset_after_received", 1, MAX_COUNT)?;
        if let Some(window) = self.fault_window_ms {
            window.check("fault_window_ms", 0, MAX_DURATION_MS)?;
        }
        at_most(
            "connect_timeout_ms",
            self.connect_timeout_ms,
            MAX_DURATION_MS,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_range_is_ordered_and_bounded() {
        let check = |text: &str| {
            toml_edit::de::from_str::<FaultSettings>(text)
                .map_err(|e| e.to_string())
                .and_then(|s| s.validate().map_err(|e| e.to_string()))
        };
        assert!(check("partition_ms = [1, 2]").is_ok());
        let err = check("latency_ms = [10, 2]").unwrap_err();
        assert!(
            err.contains("the range 10..2 has its minimum above its maximum"),
            "{err}"
        );
        let err = check("partition_ms = [1, 9000000000000000000]").unwrap_err();
        assert!(
            err.starts_with("partition_ms: 9000000000000000000 is above the limit"),
            "{err}"
        );
        let err = check("send_buffer_bytes = [0, 10]").unwrap_err();
        assert!(
            err.starts_with("send_buffer_bytes: the range starts at 0"),
            "{err}"
        );
        let err = check("reset_after_received = [0, 3]").unwrap_err();
        assert!(err.starts_with("reset_after_received: "), "{err}");
        let err = check("connect_timeout_ms = 9000000000000000000").unwrap_err();
        assert!(err.starts_with("connect_timeout_ms: "), "{err}");
        let err = check("partitions = nan").unwrap_err();
        assert!(err.starts_with("partitions: probability NaN"), "{err}");
    }

    #[test]
    fn healing_settings_are_those_its_doc_names() {
        assert_eq!(
            FaultSettings::healing().describe(),
            "latency 1..20ms\n\
             partial writes p=0.50 1..2048B\n\
             re-chunked reads p=0.50 1..2048B\n\
             send buffer p=0.50 256..8192B\n\
             partitions p=0.70 20..300ms, 50% one-way\n\
             slow closes p=0.50 10..200ms"
        );
    }

    #[test]
    fn a_description_names_each_kind_that_is_on_and_only_those() {
        let every = FaultSettings {
            resets: 0.25,
            crashes: 1.0,
            refusals: 0.5,
            ..FaultSettings::healing()
        };
        assert_eq!(
            every.describe().lines().skip(5).collect::<Vec<_>>(),
            [
                "resets p=0.25 1..10 received",
                "slow closes p=0.50 10..200ms",
                "crashes p=1.00 50..500ms down",
                "refusals p=0.50 10..300ms"
            ]
        );
        assert_eq!(FaultSettings::quiet().describe(), "quiet");
        // A probability of 0 turns its kind off, however large its range.
        let ranges_only = FaultSettings {
            latency_ms: None,
            partial_writes: 0.0,
            read_chunks: 0.0,
            send_buffer: 0.0,
            partitions: 0.0,
            ..every
        };
        assert_eq!(
            ranges_only.describe(),
            every
                .describe()
                .lines()
                .skip(5)
                .collect::<Vec<_>>()
                .join("\n")
        );
    }

    #[test]
    fn partitions_that_are_all_one_way_enable_no_two_way_partition() {
        let enabled = |one_way: f64| {
            FaultSettings {
                partitions: 0.5,
                one_way,
                ..FaultSettings::quiet()
            }
            .enabled()
        };
        assert_eq!(enabled(1.0), ["partition_one_way"]);
        assert_eq!(enabled(0.0), ["partition"]);
        assert_eq!(enabled(0.5), ["partition", "partition_one_way"]);
    }
}
