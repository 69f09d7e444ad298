//! The timeline model: lanes, their groups, and what is drawn on them, built from a trace,
//! an optional fault plan and the checker's report. Renderers read it; nothing here knows
//! about HTML or Chrome's format.

use super::flight::{self, Flight};
use super::lane::{accepted_by, lanes_of, listener_base, Lane, LaneKind};
use super::spans::{self, Span};
use crate::fault::FaultPlan;
use crate::judge::{CheckReport, Violation};
use crate::judge::{Failure, Verdict};
use crate::run::{Trace, TraceEvent};
use std::cmp::Ordering;
use std::collections::BTreeMap;
use std::fmt;

/// Lanes shown unfolded when a page opens, at most: groups are opened in order while they
/// fit, so a small run shows everything and a 1,000-connection run opens folded.
pub(crate) const OPEN_LANES: usize = 60;

/// Which start of its host a listener or accepted connection belongs to: `n` for
/// `server#n` and `server#n.3`, 1 for any name without `#`.
fn incarnation(name: &str) -> u64 {
    let Some((_, after)) = name.split_once('#') else {
        return 1;
    };
    let digits = after
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(after.len());
    after[..digits].parse().unwrap_or(u64::MAX)
}

/// A client name's group: the name less its trailing digits and separators (`c` for `c17`,
/// `web` for `web-3`), or the whole name if nothing is left.
fn client_stem(name: &str) -> &str {
    let stem = name
        .trim_end_matches(|c: char| c.is_ascii_digit())
        .trim_end_matches(['.', '-', '_', '#']);
    if stem.is_empty() {
        name
    } else {
        stem
    }
}

/// Compares names as a person would: runs of digits by their value (`c2` before `c10`),
/// everything else character by character.
fn natural_order(a: &str, b: &str) -> Ordering {
    let (mut a, mut b) = (a, b);
    loop {
        let (Some(x), Some(y)) = (a.chars().next(), b.chars().next()) else {
            return a.len().cmp(&b.len());
        };
        let order = if x.is_ascii_digit() && y.is_ascii_digit() {
            let digits = |s: &str| s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
            let (m, n) = (digits(a), digits(b));
            let value = |s: &str| s.trim_start_matches('0').to_string();
            let (u, v) = (value(&a[..m]), value(&b[..n]));
            // Longer without leading zeros is larger; equal lengths compare as text.
            let order = u.len().cmp(&v.len()).then_with(|| u.cmp(&v));
            (a, b) = (&a[m..], &b[n..]);
            order.then(m.cmp(&n))
        } else {
            (a, b) = (&a[x.len_utf8()..], &b[y.len_utf8()..]);
            x.cmp(&y)
        };
        if order != Ordering::Equal {
            return order;
        }
    }
}

/// What a group of lanes gathers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum GroupKind {
    /// A listener (every incarnation) and the connections it accepted.
    Listener,
    /// Clients whose names share a stem (`c1` ... `c1000`).
    Clients,
}

impl GroupKind {
    /// Its name in renderings.
    pub(crate) fn name(self) -> &'static str {
        match self {
            GroupKind::Listener => "listener",
            GroupKind::Clients => "clients",
        }
    }
}

/// Lanes folded together under one header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Group {
    /// The listener's name or the clients' stem.
    pub(crate) name: String,
    /// What it gathers.
    pub(crate) kind: GroupKind,
    /// Its lanes: listeners first, then the others; each by host incarnation, then in
    /// natural order of their names (`c2` before `c10`, `server.9` before `server.10`).
    pub(crate) lanes: Vec<usize>,
    /// Whether the page opens with it folded.
    pub(crate) folded: bool,
}

/// A run drawn on simulated time: lanes per connection and listener, grouped; fault and
/// throttled spans; bytes in flight per direction; the contract violations. Build one with
/// [`build`](Self::build) or [`of_verdict`](Self::of_verdict), then render it with
/// [`html`](Self::html) or [`chrome_trace`](Self::chrome_trace).
#[derive(Debug, Clone)]
pub struct Timeline {
    /// Shown as the page's title.
    pub(crate) title: String,
    /// The latest time in the trace (at least 1, so that scales never divide by zero).
    pub(crate) end_us: u64,
    /// Every trace line, in order.
    pub(crate) events: Vec<TraceEvent>,
    /// The lane of each trace line, if it has one (faults and notes have none).
    pub(crate) lane_of: Vec<Option<usize>>,
    /// The lanes, in order of first appearance.
    pub(crate) lanes: Vec<Lane>,
    /// The groups: listeners first, then client groups, each in order of first appearance.
    pub(crate) groups: Vec<Group>,
    /// Fault spans, the send-buffer limit and throttled periods.
    pub(crate) spans: Vec<Span>,
    /// Bytes in flight, one series per direction of each paired connection.
    pub(crate) flights: Vec<Flight>,
    /// What the checker found, with the trace lines (from 1) each violation names.
    pub(crate) violations: Vec<Violation>,
    /// The run's other failures (end conditions), as text.
    pub(crate) failures: Vec<String>,
    /// The fault plan, as `FaultPlan::describe` gives it, when the run's plan is known.
    pub(crate) plan: Option<String>,
    /// How the contract was judged, when not with the run's own check options (a JSON trace
    /// that does not carry them): said on the page and by `timeline`, since a violation of
    /// a rule judged with defaults may not be one of the run.
    pub(crate) check_note: Option<String>,
}

impl Timeline {
    /// The timeline of `trace`, titled `title`, with the faults of `plan` (when known: a
    /// JSON trace of bare events, without `run --json`'s `run` line, has only its fault
    /// lines) and the violations of `report` (the checker's report on this trace).
    ///
    /// ```
    /// use tcpnotify::record::Callback;
    /// use tcpnotify_sim::judge::{check, CheckOptions};
    /// use tcpnotify_sim::report::Timeline;
    /// use tcpnotify_sim::run::{EventKind, Trace, TraceEvent};
    ///
    /// let trace = Trace::new();
    /// for callback in [Callback::Connected, Callback::Closed, Callback::Closed] {
    ///     let kind = EventKind::Callback { callback, local: None, remote: None };
    ///     trace.push(TraceEvent { at_us: 5, host: "client".into(), who: "c1".into(), kind });
    /// }
    /// let timeline = Timeline::build("closed twice", &trace, None, &check(&trace, &CheckOptions::default()));
    /// assert_eq!(timeline.to_string(), "1 lane in 1 group, 3 callbacks, 0 spans, 2 violations");
    /// ```
    pub fn build(
        title: &str,
        trace: &Trace,
        plan: Option<&FaultPlan>,
        report: &CheckReport,
    ) -> Timeline {
        let events = trace.events();
        let end_us = events.iter().map(|e| e.at_us).max().unwrap_or(0).max(1);
        let (mut lanes, lane_of) = lanes_of(&events);
        flight::pair(&mut lanes);
        let groups = group(&mut lanes);
        let mut spans = spans::faults(&events, &lanes, plan, end_us);
        spans.extend(spans::throttled(&events, &lanes, end_us));
        spans.extend(spans::muted(&events, &lanes, end_us));
        let flights = flight::series(&events, &lane_of, &lanes);
        Timeline {
            title: title.to_string(),
            end_us,
            events,
            lane_of,
            lanes,
            groups,
            spans,
            flights,
            violations: report.violations.clone(),
            failures: Vec::new(),
            plan: plan.map(FaultPlan::describe),
            check_note: None,
        }
    }

    /// The timeline of a judged run: its trace, plan and contract report, and the end
    /// conditions it failed; titled by the scenario and seed.
    pub fn of_verdict(verdict: &Verdict) -> Timeline {
        let outcome = &verdict.outcome;
        let title = format!("{} (seed {})", outcome.scenario, outcome.plan.seed);
        let mut timeline =
            Timeline::build(&title, &outcome.trace, Some(&outcome.plan), &verdict.report);
        timeline.failures = verdict
            .failures
            .iter()
            .filter(|f| matches!(f, Failure::Property { .. }))
            .map(Failure::to_string)
            .collect();
        timeline
    }

    /// The lane named `name`, if the trace has one.
    pub(crate) fn lane_named(&self, name: &str) -> Option<usize> {
        self.lanes.iter().position(|l| l.name == name)
    }

    /// How many trace lines are callbacks.
    fn callbacks(&self) -> usize {
        self.events
            .iter()
            .filter(|e| e.callback().is_some())
            .count()
    }
}

impl fmt::Display for Timeline {
    /// A one-line summary: lanes, groups, callbacks, spans and violations.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let plural =
            |n: usize, one: &str, many: &str| format!("{n} {}", if n == 1 { one } else { many });
        write!(
            f,
            "{} in {}, {}, {}, {}",
            plural(self.lanes.len(), "lane", "lanes"),
            plural(self.groups.len(), "group", "groups"),
            plural(self.callbacks(), "callback", "callbacks"),
            plural(self.spans.len(), "span", "spans"),
            plural(self.violations.len(), "violation", "violations"),
        )
    }
}

/// Folds lanes into groups, sets each lane's group, and opens groups in order while they
/// fit in [`OPEN_LANES`].
fn group(lanes: &mut [Lane]) -> Vec<Group> {
    let mut keyed: BTreeMap<(GroupKind, String), usize> = BTreeMap::new();
    let mut groups: Vec<Group> = Vec::new();
    let key = |lane: &Lane| match lane.kind {
        LaneKind::Listener => (GroupKind::Listener, listener_base(&lane.name).to_string()),
        LaneKind::Accepted => (
            GroupKind::Listener,
            accepted_by(&lane.name).unwrap_or(&lane.name).to_string(),
        ),
        LaneKind::Client => (GroupKind::Clients, client_stem(&lane.name).to_string()),
    };
    // Listener groups come first, whenever their first lane appears.
    let order = [GroupKind::Listener, GroupKind::Clients];
    for kind in order {
        for lane in lanes.iter() {
            let (k, name) = key(lane);
            if k == kind && !keyed.contains_key(&(k, name.clone())) {
                keyed.insert((k, name.clone()), groups.len());
                groups.push(Group {
                    name,
                    kind: k,
                    lanes: Vec::new(),
                    folded: true,
                });
            }
        }
    }
    for (i, lane) in lanes.iter_mut().enumerate() {
        lane.group = keyed.get(&key(lane)).copied().unwrap_or(0);
        groups[lane.group].lanes.push(i);
    }
    for group in &mut groups {
        group.lanes.sort_by(|&a, &b| {
            let key = |l: usize| {
                (
                    lanes[l].kind != LaneKind::Listener,
                    incarnation(&lanes[l].name),
                )
            };
            key(a)
                .cmp(&key(b))
                .then_with(|| natural_order(&lanes[a].name, &lanes[b].name))
        });
    }
    let mut room = OPEN_LANES;
    for group in &mut groups {
        if group.lanes.len() <= room {
            room -= group.lanes.len();
            group.folded = false;
        }
    }
    groups
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::judge::{check, CheckOptions, Rule};
    use crate::run::{EventKind, FaultStep};
    use std::net::SocketAddr;
    use tcpnotify::record::Callback;
    use tcpnotify::record::Payload;

    /// A trace event of `who` on `host` at `at_us`.
    pub(crate) fn event(at_us: u64, host: &str, who: &str, kind: EventKind) -> TraceEvent {
        TraceEvent {
            at_us,
            host: host.into(),
            who: who.into(),
            kind,
        }
    }

    /// A callback event with the connection's addresses (`None` for listeners).
    pub(crate) fn callback(
        at_us: u64,
        host: &str,
        who: &str,
        callback: Callback,
        addresses: Option<(&str, &str)>,
    ) -> TraceEvent {
        let parse = |a: &str| a.parse::<SocketAddr>().ok();
        event(
            at_us,
            host,
            who,
            EventKind::Callback {
                callback,
                local: addresses.and_then(|(l, _)| parse(l)),
                remote: addresses.and_then(|(_, r)| parse(r)),
            },
        )
    }

    pub(crate) fn sent(n: usize) -> Callback {
        Callback::Sent {
            data: Payload::of(&vec![b'x'; n]),
            result: Payload::of(&vec![b'x'; n]),
        }
    }

    pub(crate) fn received(n: usize) -> Callback {
        Callback::Received {
            data: Payload::of(&vec![b'x'; n]),
            times: 1,
            result: true,
        }
    }

    pub(crate) const CLIENT: (&str, &str) = ("10.0.0.2:49152", "10.0.0.1:7000");
    pub(crate) const SERVER: (&str, &str) = ("10.0.0.1:7000", "10.0.0.2:49152");

    /// An echo of 100 bytes between `c1` and `server.1`, with a partition in the middle and
    /// the client's `closed` twice (L1).
    pub(crate) fn echo_trace() -> Trace {
        let proxy = Callback::ProxyVia {
            host: "server".into(),
            service: "7000".into(),
            target: ("server".into(), "7000".into()),
        };
        Trace::from_events(vec![
            event(
                0,
                "-",
                "-",
                EventKind::Note {
                    text: "run started".into(),
                },
            ),
            callback(0, "server", "server", Callback::Listening(None), None),
            callback(0, "client", "c1", proxy, None),
            callback(0, "client", "c1", Callback::Connecting(1), None),
            callback(
                1000,
                "server",
                "server",
                Callback::ListenerConnected { accepted: true },
                None,
            ),
            callback(1000, "server", "server.1", Callback::Accepted, Some(SERVER)),
            callback(1000, "client", "c1", Callback::Connected, Some(CLIENT)),
            callback(1000, "client", "c1", sent(60), Some(CLIENT)),
            callback(1000, "client", "c1", sent(40), Some(CLIENT)),
            event(
                2000,
                "-",
                "-",
                EventKind::Fault {
                    index: 0,
                    step: FaultStep::Fired("partition client <-> server for 400ms".into()),
                },
            ),
            event(
                402_000,
                "-",
                "-",
                EventKind::Fault {
                    index: 0,
                    step: FaultStep::Healed,
                },
            ),
            callback(402_000, "server", "server.1", received(100), Some(SERVER)),
            callback(402_000, "server", "server.1", sent(100), Some(SERVER)),
            callback(403_000, "client", "c1", received(70), Some(CLIENT)),
            callback(404_000, "client", "c1", received(30), Some(CLIENT)),
            callback(
                405_000,
                "server",
                "server.1",
                Callback::Closed,
                Some(SERVER),
            ),
            callback(406_000, "client", "c1", Callback::Closed, Some(CLIENT)),
            callback(406_000, "client", "c1", Callback::Closed, Some(CLIENT)),
            event(
                407_000,
                "-",
                "-",
                EventKind::RunEnded {
                    ended: crate::run::Ended::AllFinished,
                },
            ),
        ])
    }

    /// [`echo_trace`] and then two logged events at 406ms: `INFO app: got it bytes=5` of c1
    /// on host client (line 20), and `WARN turmoil: step` of no host or connection (line 21).
    pub(crate) fn echo_trace_with_logs() -> Trace {
        let log = |level, target: &str, message: &str, fields: &[(&str, &str)]| EventKind::Log {
            level,
            target: target.into(),
            message: message.into(),
            fields: crate::run::LogFields(
                (fields.iter())
                    .map(|(n, v)| (n.to_string(), v.to_string()))
                    .collect(),
            ),
        };
        let mut events = echo_trace().events();
        events.push(event(
            406_000,
            "client",
            "c1",
            log(
                crate::run::LogLevel::Info,
                "app",
                "got it",
                &[("bytes", "5")],
            ),
        ));
        events.push(event(
            406_000,
            "-",
            "-",
            log(crate::run::LogLevel::Warn, "turmoil", "step", &[]),
        ));
        Trace::from_events(events)
    }

    pub(crate) fn timeline_of(trace: &Trace) -> Timeline {
        Timeline::build("test", trace, None, &check(trace, &CheckOptions::default()))
    }

    #[test]
    fn a_lane_per_connection_and_listener_in_order_of_appearance() {
        let t = timeline_of(&echo_trace());
        let lanes: Vec<(&str, LaneKind, &str)> = t
            .lanes
            .iter()
            .map(|l| (l.name.as_str(), l.kind, l.host.as_str()))
            .collect();
        assert_eq!(
            lanes,
            vec![
                ("server", LaneKind::Listener, "server"),
                ("c1", LaneKind::Client, "client"),
                ("server.1", LaneKind::Accepted, "server"),
            ]
        );
        assert_eq!(t.lanes[1].lines, vec![2, 3, 6, 7, 8, 13, 14, 16, 17]);
        assert_eq!(t.lane_of[0], None, "notes have no lane");
        assert_eq!(t.lane_of[9], None, "faults have no lane");
        assert_eq!(t.end_us, 407_000);
    }

    #[test]
    fn the_two_ends_of_a_connection_are_paired_by_their_addresses() {
        let t = timeline_of(&echo_trace());
        assert_eq!(t.lanes[1].peer, Some(2));
        assert_eq!(t.lanes[2].peer, Some(1));
        assert_eq!(t.lanes[0].peer, None, "a listener has no peer");
    }

    #[test]
    fn a_listener_and_its_connections_form_one_group_before_the_clients() {
        let t = timeline_of(&echo_trace());
        let groups: Vec<(&str, GroupKind, &[usize])> = t
            .groups
            .iter()
            .map(|g| (g.name.as_str(), g.kind, g.lanes.as_slice()))
            .collect();
        assert_eq!(
            groups,
            vec![
                ("server", GroupKind::Listener, &[0, 2][..]),
                ("c", GroupKind::Clients, &[1][..]),
            ]
        );
        assert!(
            t.groups.iter().all(|g| !g.folded),
            "a small run opens unfolded"
        );
        assert_eq!(t.lanes[2].group, 0);
    }

    #[test]
    fn restarted_listeners_join_their_first_incarnation_and_clients_group_by_stem() {
        let mut events = Vec::new();
        for (who, cb) in [
            ("web", Callback::Listening(None)),
            ("web.1", Callback::Accepted),
            ("web#2", Callback::Listening(None)),
            ("web#2.1", Callback::Accepted),
            ("c1", Callback::Connected),
            ("c2", Callback::Connected),
            ("bulk-10", Callback::Connected),
            ("7", Callback::Connected),
        ] {
            events.push(callback(0, "h", who, cb, None));
        }
        let t = timeline_of(&Trace::from_events(events));
        let groups: Vec<(&str, Vec<&str>)> = t
            .groups
            .iter()
            .map(|g| {
                let names = g.lanes.iter().map(|&l| t.lanes[l].name.as_str()).collect();
                (g.name.as_str(), names)
            })
            .collect();
        assert_eq!(
            groups,
            vec![
                ("web", vec!["web", "web#2", "web.1", "web#2.1"]),
                ("c", vec!["c1", "c2"]),
                ("bulk", vec!["bulk-10"]),
                ("7", vec!["7"]),
            ]
        );
    }

    #[test]
    fn names_sort_with_their_numbers_by_value() {
        let mut names = vec!["c10", "c2", "c1", "b", "server.10", "server.9", "c02", "c"];
        names.sort_by(|a, b| natural_order(a, b));
        assert_eq!(
            names,
            vec!["b", "c", "c1", "c2", "c02", "c10", "server.9", "server.10"]
        );
    }

    #[test]
    fn large_groups_open_folded_and_small_ones_open_while_they_fit() {
        let mut events = vec![callback(0, "s", "server", Callback::Listening(None), None)];
        for i in 1..=OPEN_LANES {
            events.push(callback(
                1,
                "s",
                &format!("server.{i}"),
                Callback::Accepted,
                None,
            ));
        }
        events.push(callback(2, "c", "solo", Callback::Connected, None));
        let t = timeline_of(&Trace::from_events(events));
        assert_eq!(t.groups[0].lanes.len(), OPEN_LANES + 1);
        assert!(t.groups[0].folded, "{} lanes do not fit", OPEN_LANES + 1);
        assert!(!t.groups[1].folded, "the one after still fits");
    }

    #[test]
    fn violations_keep_the_trace_lines_they_name() {
        let t = timeline_of(&echo_trace());
        let v: Vec<(Rule, &str, &[usize])> = t
            .violations
            .iter()
            .map(|v| (v.rule, v.who.as_str(), v.lines.as_slice()))
            .collect();
        assert_eq!(v, vec![(Rule::L1, "c1", &[17, 18][..])]);
        assert_eq!(t.lane_named("c1"), Some(1));
    }

    #[test]
    fn summary_counts_what_is_drawn() {
        let t = timeline_of(&echo_trace());
        assert_eq!(
            t.to_string(),
            "3 lanes in 2 groups, 15 callbacks, 1 span, 1 violation"
        );
    }
}
