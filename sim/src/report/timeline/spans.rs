//! Spans of simulated time: the faults that fired (from the trace's fault lines, each ended by
//! its fault's heal or restart; a fault's kind from the plan when it is known, else read back
//! from the line's description), the plan's send-buffer limit, and the periods a connection
//! was throttled or muted.

use super::lane::Lane;
use crate::fault::{FaultKind, FaultPlan};
use crate::run::{EventKind, FaultStep, TraceEvent};
use std::collections::BTreeMap;
use tcpnotify::record::Callback;

/// What a span shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SpanKind {
    /// Two hosts cut off from each other, until healed.
    Partition,
    /// One direction between two hosts cut, until healed.
    OneWayPartition,
    /// A host down, until it restarts.
    Crash,
    /// A host's port refusing connects, until healed.
    Refusal,
    /// A connection's end of stream held back on its way to the peer.
    SlowClose,
    /// A connection reset (an instant).
    Reset,
    /// A link's latency changed (an instant).
    Latency,
    /// The plan's send-buffer limit, over the whole run.
    SendBuffer,
    /// A connection between `throttled` and `unthrottled` (or its end).
    Throttled,
    /// A connection between a mute and an unmute taking effect (or its end): it read nothing.
    Muted,
    /// A fault line whose kind could not be read.
    Fault,
}

impl SpanKind {
    /// Its name in renderings (a CSS class, a Chrome trace category).
    pub(crate) fn name(self) -> &'static str {
        match self {
            SpanKind::Partition => "partition",
            SpanKind::OneWayPartition => "partition_one_way",
            SpanKind::Crash => "crash",
            SpanKind::Refusal => "refuse",
            SpanKind::SlowClose => "slow_close",
            SpanKind::Reset => "reset",
            SpanKind::Latency => "latency",
            SpanKind::SendBuffer => "send_buffer",
            SpanKind::Throttled => "throttled",
            SpanKind::Muted => "muted",
            SpanKind::Fault => "fault",
        }
    }

    /// Whether it is a fault of the plan (drawn on the faults row) rather than a state of
    /// one connection.
    pub(crate) fn is_fault(self) -> bool {
        !matches!(self, SpanKind::Throttled | SpanKind::Muted)
    }
}

/// Which lanes a span shades, besides the faults row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Affects {
    /// Only the faults row.
    Nothing,
    /// Every lane.
    All,
    /// The lanes on these hosts.
    Hosts(Vec<String>),
    /// These lanes.
    Lanes(Vec<usize>),
}

/// A stretch of simulated time (or an instant, `from_us == to_us`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Span {
    /// What it is.
    pub(crate) kind: SpanKind,
    /// What it says (the fault's description).
    pub(crate) label: String,
    /// Start, in µs.
    pub(crate) from_us: u64,
    /// End, in µs (the end of the run if it never ended).
    pub(crate) to_us: u64,
    /// The trace line (from 1) that started it, if one did.
    pub(crate) line: Option<usize>,
    /// Where it is drawn besides the faults row.
    pub(crate) affects: Affects,
}

/// The spans of the faults that fired, in the order they started, then the send-buffer
/// limit. Partitions end at `healed`, crashes at `restarted`, and both at the end of the run
/// if that never came; a slow close spans the delay before its peer's `closed`.
pub(crate) fn faults(
    events: &[TraceEvent],
    lanes: &[Lane],
    plan: Option<&FaultPlan>,
    end_us: u64,
) -> Vec<Span> {
    let lane_named = |name: &str| lanes.iter().position(|l| l.name == name);
    let with_peer = |lane: usize| {
        let mut both = vec![lane];
        both.extend(lanes[lane].peer);
        both
    };
    let mut done = Vec::new();
    // Spans that a later fault line of the same index ends (`healed`, `restarted`).
    let mut open: BTreeMap<usize, Span> = BTreeMap::new();
    for (i, event) in events.iter().enumerate() {
        let EventKind::Fault { index, step } = &event.kind else {
            continue;
        };
        let FaultStep::Fired(description) = step else {
            if let Some(mut span) = open.remove(index) {
                span.to_us = event.at_us;
                done.push(span);
            }
            continue;
        };
        // A partition of `@peer` cut the host its line names, found as it fired.
        let kind = plan
            .and_then(|p| p.faults.get(*index))
            .map(|f| f.kind.clone())
            .filter(|kind| !kind.names_peer())
            .or_else(|| parse_fault(description));
        let mut span = Span {
            kind: SpanKind::Fault,
            label: description.clone(),
            from_us: event.at_us,
            to_us: event.at_us,
            line: Some(i + 1),
            affects: Affects::Nothing,
        };
        let mut ended_by_trace = false;
        match kind {
            // A partition of `@peer` whose connection was not connected cut nothing.
            Some(FaultKind::Partition { .. }) if step.had_no_effect() => {}
            Some(FaultKind::Partition { a, b, one_way, .. }) => {
                span.kind = if one_way {
                    SpanKind::OneWayPartition
                } else {
                    SpanKind::Partition
                };
                span.affects = if b == "*" {
                    Affects::All
                } else {
                    Affects::Hosts(vec![a, b])
                };
                ended_by_trace = true;
            }
            Some(FaultKind::Crash {
                host,
                restart_after_ms,
            }) => {
                span.kind = SpanKind::Crash;
                span.affects = Affects::Hosts(vec![host]);
                ended_by_trace = restart_after_ms.is_some();
                span.to_us = end_us;
            }
            Some(FaultKind::Refuse { host, .. }) => {
                span.kind = SpanKind::Refusal;
                span.affects = Affects::Hosts(vec![host]);
                ended_by_trace = true;
            }
            Some(FaultKind::Latency { a, b, .. }) => {
                span.kind = SpanKind::Latency;
                span.affects = Affects::Hosts(vec![a, b]);
            }
            Some(FaultKind::Reset { conn }) => {
                span.kind = SpanKind::Reset;
                if let Some(lane) = lane_named(&conn) {
                    span.affects = Affects::Lanes(with_peer(lane));
                }
            }
            Some(FaultKind::SlowClose { conn, delay_ms }) => {
                span.kind = SpanKind::SlowClose;
                if let Some(lane) = lane_named(&conn) {
                    span.affects = Affects::Lanes(with_peer(lane));
                    let peer_closed = lanes[lane].peer.and_then(|peer| {
                        lanes[peer].lines.iter().find_map(|&l| {
                            matches!(events[l].callback(), Some(Callback::Closed))
                                .then_some(events[l].at_us)
                        })
                    });
                    if let Some(closed) = peer_closed.filter(|&c| c >= event.at_us) {
                        let delay = delay_ms.saturating_mul(1000);
                        span.from_us = closed.saturating_sub(delay).max(event.at_us);
                        span.to_us = closed;
                    }
                }
            }
            None => {}
        }
        if ended_by_trace {
            span.to_us = end_us;
            // A fault index fires once; should it fire again, the first span ends there.
            if let Some(previous) = open.insert(*index, span) {
                done.push(previous);
            }
        } else {
            done.push(span);
        }
    }
    done.extend(open.into_values());
    done.sort_by_key(|s| (s.from_us, s.line));
    if let Some(limit) = plan.and_then(|p| p.send_buffer) {
        done.push(Span {
            kind: SpanKind::SendBuffer,
            label: format!("send buffer {limit}B"),
            from_us: 0,
            to_us: end_us,
            line: None,
            affects: Affects::Nothing,
        });
    }
    done
}

/// A state of one connection that a trace line starts and another ends.
#[derive(Debug, Clone, Copy)]
enum LaneState {
    /// From `throttled` to `unthrottled`.
    Throttled,
    /// From a mute taking effect to an unmute taking effect.
    Muted,
}

impl LaneState {
    /// Whether `event` starts this state.
    fn starts(self, event: &TraceEvent) -> bool {
        match self {
            LaneState::Throttled => event.callback() == Some(&Callback::Throttled),
            LaneState::Muted => event.kind == EventKind::Muted,
        }
    }

    /// Whether `event` ends this state: its own end, or the connection's (`closed`, or
    /// `connect_failed` for one muted while it was connecting), as the verdict's list of
    /// connections left muted ends it.
    fn ends(self, event: &TraceEvent) -> bool {
        let own_end = match self {
            LaneState::Throttled => event.callback() == Some(&Callback::Unthrottled),
            LaneState::Muted => event.kind == EventKind::Unmuted,
        };
        own_end
            || matches!(
                event.callback(),
                Some(Callback::Closed | Callback::ConnectFailed(_))
            )
    }

    fn span_kind(self) -> SpanKind {
        match self {
            LaneState::Throttled => SpanKind::Throttled,
            LaneState::Muted => SpanKind::Muted,
        }
    }
}

/// Each lane's throttled periods: from `throttled` to `unthrottled`, `closed`, or the end of
/// the run.
pub(crate) fn throttled(events: &[TraceEvent], lanes: &[Lane], end_us: u64) -> Vec<Span> {
    lane_states(LaneState::Throttled, events, lanes, end_us)
}

/// Each lane's muted periods: from a mute to an unmute taking effect, `closed` or
/// `connect_failed`, or the end of the run. One that lasts to the end shows a connection
/// that stopped reading for good.
pub(crate) fn muted(events: &[TraceEvent], lanes: &[Lane], end_us: u64) -> Vec<Span> {
    lane_states(LaneState::Muted, events, lanes, end_us)
}

/// Each lane's periods in `state`, in the order they started.
fn lane_states(state: LaneState, events: &[TraceEvent], lanes: &[Lane], end_us: u64) -> Vec<Span> {
    let kind = state.span_kind();
    let mut spans = Vec::new();
    for (index, lane) in lanes.iter().enumerate() {
        let mut since: Option<(u64, usize)> = None;
        let mut close = |since: &mut Option<(u64, usize)>, to_us: u64| {
            if let Some((from_us, line)) = since.take() {
                spans.push(Span {
                    kind,
                    label: kind.name().into(),
                    from_us,
                    to_us,
                    line: Some(line + 1),
                    affects: Affects::Lanes(vec![index]),
                });
            }
        };
        for &line in &lane.lines {
            let event = &events[line];
            if since.is_none() && state.starts(event) {
                since = Some((event.at_us, line));
            } else if state.ends(event) {
                close(&mut since, event.at_us);
            }
        }
        close(&mut since, end_us);
    }
    spans.sort_by_key(|s| (s.from_us, s.line));
    spans
}

/// The fault a trace's fault line describes, read back from the text `FaultKind`'s
/// `Display` writes (a JSON trace without its run's plan, bare events, carries no more).
/// `None` for text of another shape.
fn parse_fault(description: &str) -> Option<FaultKind> {
    let ms = |word: &str| word.strip_suffix("ms")?.parse::<u64>().ok();
    let words: Vec<&str> = description.split_whitespace().collect();
    let s = |w: &&str| w.to_string();
    match words.as_slice() {
        ["partition", a, arrow @ ("<->" | "->"), b, "for", duration, ..] => {
            Some(FaultKind::Partition {
                a: s(a),
                b: s(b),
                duration_ms: ms(duration)?,
                one_way: *arrow == "->",
            })
        }
        ["latency", a, "<->", b, "=", latency, ..] => {
            let latency = latency.strip_suffix("ms")?;
            let (least, most) = match latency.split_once("..") {
                Some((least, most)) => (least, Some(most.parse().ok()?)),
                None => (latency, None),
            };
            Some(FaultKind::Latency {
                a: s(a),
                b: s(b),
                latency_ms: least.parse().ok()?,
                max_latency_ms: most,
            })
        }
        ["reset", conn, ..] => Some(FaultKind::Reset { conn: s(conn) }),
        ["slow", "close", "of", conn, "by", delay, ..] => Some(FaultKind::SlowClose {
            conn: s(conn),
            delay_ms: ms(delay)?,
        }),
        ["refuse", "connects", "to", at, "for", duration] => {
            let (host, port) = at.rsplit_once(':')?;
            Some(FaultKind::Refuse {
                host: host.to_string(),
                port: port.parse().ok()?,
                duration_ms: ms(duration)?,
            })
        }
        ["crash", host] => Some(FaultKind::Crash {
            host: s(host),
            restart_after_ms: None,
        }),
        ["crash", host, "restart", "after", down] => Some(FaultKind::Crash {
            host: host.strip_suffix(',')?.to_string(),
            restart_after_ms: Some(ms(down)?),
        }),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::super::model::tests::{callback, echo_trace, event, timeline_of, CLIENT, SERVER};
    use super::super::model::Timeline;
    use super::*;
    use crate::fault::Fault;
    use crate::judge::CheckReport;
    use crate::run::Trace;
    use crate::seed::Seed;
    use tcpnotify::ConnectFailure;

    #[test]
    fn every_fault_kind_reads_back_from_its_trace_description() {
        for kind in FaultKind::one_of_each() {
            assert_eq!(parse_fault(&kind.to_string()), Some(kind.clone()), "{kind}");
        }
        assert_eq!(
            parse_fault("reset c1 (not connected: no effect)"),
            Some(FaultKind::Reset { conn: "c1".into() })
        );
        assert_eq!(parse_fault("something new"), None);
    }

    #[test]
    fn a_partition_spans_from_its_fault_line_to_healed_on_both_hosts() {
        let t = timeline_of(&echo_trace());
        assert_eq!(
            t.spans,
            vec![Span {
                kind: SpanKind::Partition,
                label: "partition client <-> server for 400ms".into(),
                from_us: 2000,
                to_us: 402_000,
                line: Some(10),
                affects: Affects::Hosts(vec!["client".into(), "server".into()]),
            }]
        );
    }

    /// A fault line, its step read from its words as a JSON trace's is.
    fn fault(at_us: u64, index: usize, description: &str) -> TraceEvent {
        let step = FaultStep::from_description(description);
        event(at_us, "-", "-", EventKind::Fault { index, step })
    }

    #[test]
    fn a_crash_lasts_until_its_restart_and_an_unhealed_partition_until_the_end() {
        let trace = Trace::from_events(vec![
            callback(0, "server", "server", Callback::Listening(None), None),
            fault(10, 0, "crash server, restart after 50ms"),
            fault(20, 1, "partition a -> b for 9000ms"),
            fault(60, 0, "restarted server"),
            callback(900, "server", "server#2", Callback::Listening(None), None),
        ]);
        let spans: Vec<(SpanKind, u64, u64, Affects)> = timeline_of(&trace)
            .spans
            .into_iter()
            .map(|s| (s.kind, s.from_us, s.to_us, s.affects))
            .collect();
        assert_eq!(
            spans,
            vec![
                (
                    SpanKind::Crash,
                    10,
                    60,
                    Affects::Hosts(vec!["server".into()])
                ),
                (
                    SpanKind::OneWayPartition,
                    20,
                    900,
                    Affects::Hosts(vec!["a".into(), "b".into()])
                ),
            ]
        );
    }

    #[test]
    fn a_slow_close_spans_its_delay_before_the_peers_closed() {
        let trace = Trace::from_events(vec![
            fault(0, 0, "slow close of c1 by 250ms"),
            callback(1000, "server", "server.1", Callback::Accepted, Some(SERVER)),
            callback(1000, "client", "c1", Callback::Connected, Some(CLIENT)),
            callback(
                252_000,
                "server",
                "server.1",
                Callback::Closed,
                Some(SERVER),
            ),
        ]);
        let span = &timeline_of(&trace).spans[0];
        assert_eq!(
            (span.kind, span.from_us, span.to_us, &span.affects),
            (
                SpanKind::SlowClose,
                2000,
                252_000,
                &Affects::Lanes(vec![1, 0])
            )
        );
    }

    #[test]
    fn the_plan_names_the_fault_kind_and_adds_the_send_buffer_limit() {
        let mut plan = crate::fault::FaultPlan::quiet(Seed(1));
        plan.send_buffer = Some(4096);
        plan.faults
            .push(Fault::at(0, FaultKind::Reset { conn: "c1".into() }));
        // A description the parser cannot read: the plan still says what fault it was.
        let trace = Trace::from_events(vec![
            callback(0, "client", "c1", Callback::Connected, Some(CLIENT)),
            fault(7, 0, "reset, worded differently"),
        ]);
        let t = Timeline::build("t", &trace, Some(&plan), &CheckReport::default());
        let spans: Vec<(SpanKind, &str, u64, u64)> = t
            .spans
            .iter()
            .map(|s| (s.kind, s.label.as_str(), s.from_us, s.to_us))
            .collect();
        assert_eq!(
            spans,
            vec![
                (SpanKind::Reset, "reset, worded differently", 7, 7),
                (SpanKind::SendBuffer, "send buffer 4096B", 0, 7),
            ]
        );
        assert_eq!(t.spans[0].affects, Affects::Lanes(vec![0]));
    }

    /// A plan's partition of `@peer` spans the hosts its fault line names: the peer found
    /// as it fired, which the plan cannot say.
    #[test]
    fn a_partition_of_the_peer_spans_the_hosts_its_line_names() {
        let mut plan = crate::fault::FaultPlan::quiet(Seed(1));
        let event = crate::fault::EventTrigger {
            conn: "c1".into(),
            callback: "connected".into(),
            nth: 1,
        };
        let cut = FaultKind::Partition {
            a: "client".into(),
            b: crate::fault::PEER.into(),
            duration_ms: 40,
            one_way: false,
        };
        plan.faults.push(Fault::after(event, cut));
        let trace = Trace::from_events(vec![
            callback(0, "client", "c1", Callback::Connected, Some(CLIENT)),
            fault(0, 0, "partition client <-> server for 40ms"),
            fault(40_000, 0, "healed"),
        ]);
        let t = Timeline::build("t", &trace, Some(&plan), &CheckReport::default());
        assert_eq!(
            t.spans[0].affects,
            Affects::Hosts(vec!["client".into(), "server".into()])
        );
        // Fired before its connection connected, it cut nothing: no span of a partition.
        let trace = Trace::from_events(vec![fault(
            0,
            0,
            "partition client <-> @peer for 40ms (c1 not connected: no effect)",
        )]);
        let t = Timeline::build("t", &trace, Some(&plan), &CheckReport::default());
        let spans: Vec<(SpanKind, &Affects)> =
            t.spans.iter().map(|s| (s.kind, &s.affects)).collect();
        assert_eq!(spans, [(SpanKind::Fault, &Affects::Nothing)]);
    }

    #[test]
    fn throttled_spans_end_at_unthrottled_or_closed_or_the_run_end() {
        let trace = Trace::from_events(vec![
            callback(1, "client", "c1", Callback::Throttled, None),
            callback(5, "client", "c1", Callback::Unthrottled, None),
            callback(7, "client", "c1", Callback::Throttled, None),
            callback(9, "client", "c1", Callback::Closed, None),
            callback(10, "client", "c2", Callback::Throttled, None),
            callback(30, "client", "c1", Callback::Connected, None),
        ]);
        let spans: Vec<(u64, u64, Option<usize>, Affects)> = timeline_of(&trace)
            .spans
            .into_iter()
            .map(|s| (s.from_us, s.to_us, s.line, s.affects))
            .collect();
        assert_eq!(
            spans,
            vec![
                (1, 5, Some(1), Affects::Lanes(vec![0])),
                (7, 9, Some(3), Affects::Lanes(vec![0])),
                (10, 30, Some(5), Affects::Lanes(vec![1])),
            ]
        );
    }

    #[test]
    fn muted_spans_end_at_unmuted_closed_or_connect_failed_or_the_run_end_and_are_no_fault() {
        let on = |at_us, who: &str, kind| event(at_us, "server", who, kind);
        let trace = Trace::from_events(vec![
            callback(0, "server", "server.1", Callback::Accepted, None),
            on(1, "server.1", EventKind::Muted),
            on(4, "server.1", EventKind::Unmuted),
            on(6, "server.1", EventKind::Muted),
            callback(8, "server", "server.1", Callback::Closed, None),
            callback(9, "server", "server.2", Callback::Accepted, None),
            on(10, "server.2", EventKind::Muted),
            callback(20, "client", "c1", Callback::Connecting(1), None),
            event(21, "client", "c1", EventKind::Muted),
            callback(
                25,
                "client",
                "c1",
                Callback::ConnectFailed(ConnectFailure::Refused),
                None,
            ),
            callback(40, "server", "server.3", Callback::Accepted, None),
        ]);
        let spans: Vec<(SpanKind, u64, u64, Option<usize>, Affects)> = timeline_of(&trace)
            .spans
            .into_iter()
            .map(|s| (s.kind, s.from_us, s.to_us, s.line, s.affects))
            .collect();
        assert_eq!(
            spans,
            vec![
                (SpanKind::Muted, 1, 4, Some(2), Affects::Lanes(vec![0])),
                (SpanKind::Muted, 6, 8, Some(4), Affects::Lanes(vec![0])),
                (SpanKind::Muted, 10, 40, Some(7), Affects::Lanes(vec![1])),
                (SpanKind::Muted, 21, 25, Some(9), Affects::Lanes(vec![2])),
            ]
        );
        assert!(!SpanKind::Muted.is_fault());
    }
}
