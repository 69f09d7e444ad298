//! The contract checker: reads a trace and reports every broken rule of the contract
//! (`docs/contract.md`) by its id, with the trace lines that break it.
//!
//! A trace shows callbacks, not sockets, so the checker judges the rules a callback sequence
//! can break: C1, C3, C4, C5, A1, A2, L1, L2, W4, R1, R2, R3, N1–N4, R6 (stream integrity is
//! checked while the run goes, where the bytes are, and lands in the trace as `VIOLATION`
//! lines), W1 (each dropped write is a `W1 dropped` line, with the phase it was dropped in
//! and the connection's running count: the checker judges that the phase is one where the
//! contract drops writes, consistent with the callbacks around it, and that every counted drop
//! is in the trace once) and R5 (each mute and unmute that took effect is a `MUTED` or
//! `UNMUTED` line: no `received` between them). The others (C2, C6, L3–L5, W2, W3, W5, R4)
//! are about what the stack does with the socket, and are pinned down by unit tests and
//! snapshots instead.
//!
//! ```
//! use tcpnotify::record::Callback;
//! use tcpnotify_sim::judge::{check, CheckOptions, Rule};
//! use tcpnotify_sim::run::{EventKind, Trace, TraceEvent};
//!
//! let trace = Trace::new();
//! for callback in [Callback::Connected, Callback::Closed, Callback::Closed] {
//!     trace.push(TraceEvent {
//!         at_us: 0,
//!         host: "client".into(),
//!         who: "c1".into(),
//!         kind: EventKind::Callback { callback, local: None, remote: None },
//!     });
//! }
//! let report = check(&trace, &CheckOptions::default());
//! // No proxy_via first (C1), and closed twice (L1).
//! assert_eq!(report.broken_rules(), vec![Rule::C1, Rule::L1]);
//! assert_eq!(report.violations[1].lines, vec![2, 3]);
//! ```

use super::listing::{contract_kind, write_listed, JSON_LISTS_EVERY_ONE};
use crate::run::{is_listener_callback, Ended, EventKind, Trace, TraceEvent};
use crate::validate::MAX_TRACE_EVENTS;
use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;
use tcpnotify::record::Callback;
use tcpnotify::{ConnectFailure, DEFAULT_READ_BUFFER_SIZE};

/// A rule of the contract, by its id; `docs/contract.md` states each in full.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Rule {
    /// `proxy_via` is a client's first callback, and comes exactly once.
    C1,
    /// Every resolved address is dialled at once, in order; the first to succeed wins.
    C2,
    /// Each `connecting(n)` has n ≥ 1 and one less than the one before.
    C3,
    /// A client gets exactly one terminal callback: `connected` or `connect_failed`.
    C4,
    /// Nothing follows `connect_failed`.
    C5,
    /// Closing while connecting gives up every attempt: `connect_failed(aborted)`.
    C6,
    /// `accepted` is an accepted connection's first callback, and comes exactly once.
    A1,
    /// The listener's `connected` comes before its connection's `accepted`.
    A2,
    /// `closed` comes at most once, and only after `connected` or `accepted`.
    L1,
    /// Data and throttle callbacks come only after `connected`/`accepted`, never after
    /// `closed`.
    L2,
    /// The peer's end of stream closes the connection completely.
    L3,
    /// `close()` on a connection that is not muted is graceful.
    L4,
    /// `close()` on a muted connection, and `hard_close()`, are immediate.
    L5,
    /// A write before the connection is established or after `close()` is dropped, counted.
    W1,
    /// `sent` (or `sentv`) is called exactly once for each write handled while open.
    W2,
    /// Bytes reach the peer in the order written, each exactly once.
    W3,
    /// `throttled` and `unthrottled` alternate strictly, starting with `throttled`.
    W4,
    /// `unthrottled` comes whenever the queue drains after `throttled`.
    W5,
    /// With `expect(n)`, every `received` carries exactly n bytes.
    R1,
    /// An `expect` above `read_buffer_size` is an error and leaves the framing as it was.
    R2,
    /// `times` counts a turn's deliveries from 1 (up to 50), and restarts after a yield.
    R3,
    /// After `yield_after_reading` bytes in one turn, the connection yields.
    R4,
    /// No `received` between the turns that handle `mute` and `unmute`.
    R5,
    /// What `received` delivers is a prefix of what the peer queued, in order.
    R6,
    /// A listener's first callback is `listening` or `not_listening`, once.
    N1,
    /// A listener's `closed` comes at most once, only after `listening`.
    N2,
    /// With a `limit`, the open accepted connections never outnumber it.
    N3,
    /// Each `connected` that returns a notifier leads to exactly one `accepted`.
    N4,
}

impl Rule {
    /// Every rule, in the contract's order.
    pub const ALL: [Rule; 28] = [
        Rule::C1,
        Rule::C2,
        Rule::C3,
        Rule::C4,
        Rule::C5,
        Rule::C6,
        Rule::A1,
        Rule::A2,
        Rule::L1,
        Rule::L2,
        Rule::L3,
        Rule::L4,
        Rule::L5,
        Rule::W1,
        Rule::W2,
        Rule::W3,
        Rule::W4,
        Rule::W5,
        Rule::R1,
        Rule::R2,
        Rule::R3,
        Rule::R4,
        Rule::R5,
        Rule::R6,
        Rule::N1,
        Rule::N2,
        Rule::N3,
        Rule::N4,
    ];

    /// The rules a trace can show broken, which [`check`] judges.
    pub const CHECKED: [Rule; 19] = [
        Rule::C1,
        Rule::C3,
        Rule::C4,
        Rule::C5,
        Rule::A1,
        Rule::A2,
        Rule::L1,
        Rule::L2,
        Rule::W1,
        Rule::W4,
        Rule::R1,
        Rule::R2,
        Rule::R3,
        Rule::R5,
        Rule::R6,
        Rule::N1,
        Rule::N2,
        Rule::N3,
        Rule::N4,
    ];
}

impl fmt::Display for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self, f)
    }
}

/// A rule id that is not in the contract.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown contract rule {0:?} (rules are C1-C6, A1-A2, L1-L5, W1-W5, R1-R6, N1-N4)")]
pub struct UnknownRule(pub String);

impl FromStr for Rule {
    type Err = UnknownRule;

    fn from_str(s: &str) -> Result<Rule, UnknownRule> {
        let wanted = s.trim().to_ascii_uppercase();
        Rule::ALL
            .into_iter()
            .find(|rule| rule.to_string() == wanted)
            .ok_or_else(|| UnknownRule(s.to_string()))
    }
}

/// A rule is written by its id (`"C4"`), in JSON as in the text.
impl serde::Serialize for Rule {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for Rule {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let id = String::deserialize(deserializer)?;
        id.parse()
            .map_err(|e: UnknownRule| serde::de::Error::custom(e))
    }
}

/// What the checker needs to know beyond the trace: the run's settings, which `run --json`
/// writes on its `run` line (`check_options`) so that a trace read back is judged as its run
/// was. A field absent from that JSON reads as its default.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct CheckOptions {
    /// Each listener's connection limit, by listener name (absent or 0: unlimited); a listener
    /// restarted after a crash (`server#2`) has its first self's.
    pub listener_limits: BTreeMap<String, usize>,
    /// Each connection's `read_buffer_size` by client or listener name (accepted connections
    /// use their listener's, dialled ones their dialler's); absent means the default,
    /// [`DEFAULT_READ_BUFFER_SIZE`].
    pub read_buffer_sizes: BTreeMap<String, usize>,
    /// The run checked stream integrity (R6) as data flowed, so every `received` exercised R6.
    pub integrity_checked: bool,
}

/// One broken rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    /// The rule.
    pub rule: Rule,
    /// The connection or listener.
    pub who: String,
    /// What was wrong.
    pub message: String,
    /// The trace lines (from 1, as in the text rendering) that break it; the last is where
    /// it was found.
    pub lines: Vec<usize>,
    /// Those lines' text.
    pub evidence: Vec<String>,
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} broken by {}: {}", self.rule, self.who, self.message)?;
        for (line, text) in self.lines.iter().zip(&self.evidence) {
            write!(f, "\n  line {line}: {text}")?;
        }
        Ok(())
    }
}

/// What [`check`] found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CheckReport {
    /// Every broken rule, in trace order.
    pub violations: Vec<Violation>,
    /// How many events each rule judged: a rule at 0 was not exercised by this run.
    pub exercised: BTreeMap<Rule, usize>,
}

impl CheckReport {
    /// Whether no rule was broken.
    pub fn is_ok(&self) -> bool {
        self.violations.is_empty()
    }

    /// The broken rules, each once, in contract order.
    pub fn broken_rules(&self) -> Vec<Rule> {
        let mut rules: Vec<Rule> = self.violations.iter().map(|v| v.rule).collect();
        rules.sort();
        rules.dedup();
        rules
    }
}

impl fmt::Display for CheckReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_ok() {
            write!(f, "contract: ok")?;
        } else {
            write!(f, "contract: {} violation(s)", self.violations.len())?;
            let violations = (self.violations.iter()).map(|v| (contract_kind(v.rule), v));
            write_listed(f, violations, JSON_LISTS_EVERY_ONE)?;
        }
        let exercised: Vec<String> = self
            .exercised
            .iter()
            .filter(|(_, n)| **n > 0)
            .map(|(rule, n)| format!("{rule}x{n}"))
            .collect();
        write!(f, "\nrules exercised: {}", exercised.join(" "))
    }
}

/// Checks `trace` against the contract.
pub fn check(trace: &Trace, options: &CheckOptions) -> CheckReport {
    check_events(&trace.shared_events(), options)
}

/// Checks a trace's `events` against the contract: [`check`] for a caller that has taken the
/// events already (judging reads them once for every check).
pub fn check_events(events: &[TraceEvent], options: &CheckOptions) -> CheckReport {
    let mut checker = Checker {
        events,
        options,
        report: CheckReport {
            exercised: Rule::CHECKED.iter().map(|r| (*r, 0)).collect(),
            ..CheckReport::default()
        },
        connections: BTreeMap::new(),
        listeners: BTreeMap::new(),
    };
    for (index, event) in events.iter().enumerate() {
        checker.event(index, event);
    }
    checker.finish();
    checker.report
}

/// The state of one connection, as far as its callbacks show it.
#[derive(Default)]
struct ConnectionView {
    /// Line of the first callback.
    first: Option<usize>,
    accepted: Option<usize>,
    proxy_via: Option<usize>,
    connecting: Option<(usize, u32)>,
    connected: Option<usize>,
    connect_failed: Option<usize>,
    closed: Option<usize>,
    /// The last `throttled`/`unthrottled`, and whether it was `throttled`.
    throttle: Option<(usize, bool)>,
    /// The framing in force, and the line that set it.
    expect: (usize, Option<usize>),
    /// The last `received`: line, times, result.
    last_received: Option<(usize, usize, bool)>,
    /// The running count of the last dropped write (W1), and its line.
    dropped_writes: u64,
    last_dropped: Option<usize>,
    /// A write dropped as closed (or connect-failed) before the `closed` (`connect_failed`)
    /// line, and the ending it awaits. The connection ends inside a callback (`hard_close`,
    /// `close()` muted) or in the ending callback itself, whose line comes only once it
    /// returns: a `write_final` there is dropped first. The ending must still follow.
    dropped_before_end: Option<(usize, &'static str)>,
    /// A write dropped while closing before the `connected` (`accepted`) line: the notifier
    /// closed inside that callback and then queued with `write_final`, which is dropped as it
    /// runs, and the callback's line comes only once it returns. That line must come next
    /// (the connection's next callback; not at the same time, which real sockets' clocks do
    /// not keep within a callback). So a core that closed a connection while it was still
    /// connecting and then called `connected` would pass W1 here: the trace holds no `close`
    /// call to tell the two apart.
    dropped_before_start: Option<usize>,
    /// The line of the `MUTED` in force (R5), until its `UNMUTED`.
    muted: Option<usize>,
}

/// The state of one listener.
#[derive(Default)]
struct ListenerView {
    listening: Option<usize>,
    not_listening: Option<usize>,
    closed: Option<usize>,
    /// Lines of `connected` calls that returned a notifier, in order.
    handed_out: Vec<usize>,
    /// Accepted connections not yet closed.
    live: BTreeMap<String, usize>,
}

struct Checker<'a> {
    events: &'a [TraceEvent],
    options: &'a CheckOptions,
    report: CheckReport,
    connections: BTreeMap<String, ConnectionView>,
    listeners: BTreeMap<String, ListenerView>,
}

/// Lines are 0-based indices here, 1-based in reports.
impl Checker<'_> {
    fn event(&mut self, index: usize, event: &TraceEvent) {
        match &event.kind {
            EventKind::Callback { callback, .. } if is_listener_callback(callback) => {
                self.listener(index, &event.who, callback)
            }
            EventKind::Callback { callback, .. } => self.connection(index, &event.who, callback),
            EventKind::Violation { rule, message } => {
                let rule = rule.parse().unwrap_or(Rule::R6);
                self.exercise(rule);
                self.broken(rule, &event.who, message.clone(), &[index]);
            }
            EventKind::WriteDropped {
                phase,
                after_end,
                total,
                ..
            } => self.dropped(index, &event.who, phase, *after_end, *total),
            // A mute or unmute is a message the connection handled, not a callback: no rule
            // but R5 counts it.
            EventKind::Muted => {
                self.exercise(Rule::R5);
                let mut c = take_entry(&mut self.connections, &event.who);
                c.muted.get_or_insert(index);
                put_entry(&mut self.connections, &event.who, c);
            }
            EventKind::Unmuted => {
                let mut c = take_entry(&mut self.connections, &event.who);
                c.muted = None;
                put_entry(&mut self.connections, &event.who, c);
            }
            // Bytes queued with `write_final` are judged by the stream check (R6) as they flow.
            EventKind::Fault { .. }
            | EventKind::Note { .. }
            | EventKind::RunEnded { .. }
            | EventKind::FinalWritten { .. }
            | EventKind::Discarded { .. }
            | EventKind::Assertion { .. }
            | EventKind::Log { .. } => {}
        }
    }

    /// W1: a write is dropped only where the contract drops writes (before the connection is
    /// established, while it closes, after it ended), and the dropped writes a connection
    /// counts are each in the trace once (their running count goes up by one).
    fn dropped(&mut self, i: usize, who: &str, phase: &str, after_end: bool, total: u64) {
        self.exercise(Rule::W1);
        let mut c = take_entry(&mut self.connections, who);
        let started = c.connected.or(c.accepted);
        let ended = c.closed.or(c.connect_failed);
        let before_connect =
            phase == "new" || phase == "resolving" || phase.starts_with("connecting");
        let misplaced = match (phase, started, ended) {
            ("open", _, _) => Some(("dropped while open", started)),
            (_, _, None) if after_end => {
                Some(("sent after the end, but the connection had not ended", None))
            }
            (_, Some(_), _) | (_, _, Some(_)) if before_connect && !after_end => Some((
                "dropped as not yet connected, after the connection began or ended",
                started.or(ended),
            )),
            (p, None, None) if p.starts_with("closing") => {
                c.dropped_before_start.get_or_insert(i);
                None
            }
            (p, None, _) if p.starts_with("closing") => {
                Some(("dropped while closing, before the connection began", None))
            }
            (p, _, Some(end)) if p.starts_with("closing") => Some((
                "dropped while closing, after the connection ended",
                Some(end),
            )),
            ("closed", _, _) if c.closed.is_none() => {
                c.dropped_before_end.get_or_insert((i, "closed"));
                None
            }
            ("connect-failed", _, _) if c.connect_failed.is_none() => {
                c.dropped_before_end.get_or_insert((i, "connect_failed"));
                None
            }
            _ => None,
        };
        if let Some((what, earlier)) = misplaced {
            let lines: Vec<usize> = earlier.into_iter().chain([i]).collect();
            self.broken(Rule::W1, who, format!("a write {what} ({phase})"), &lines);
        }
        if total != c.dropped_writes + 1 {
            let lines: Vec<usize> = c.last_dropped.into_iter().chain([i]).collect();
            let message = format!(
                "the connection counts this dropped write as its #{total}, but the trace shows \
                 {} before it: each dropped write is counted and reported once",
                c.dropped_writes
            );
            self.broken(Rule::W1, who, message, &lines);
        }
        c.dropped_writes = total;
        c.last_dropped = Some(i);
        put_entry(&mut self.connections, who, c);
    }

    fn exercise(&mut self, rule: Rule) {
        // Every checked rule is in the map from the start, found without making an entry; a
        // violation's rule outside `Rule::CHECKED` is added the first time.
        match self.report.exercised.get_mut(&rule) {
            Some(n) => *n += 1,
            None => {
                self.report.exercised.insert(rule, 1);
            }
        }
    }

    fn broken(&mut self, rule: Rule, who: &str, message: String, lines: &[usize]) {
        let mut lines = lines.to_vec();
        lines.sort();
        lines.dedup();
        self.report.violations.push(Violation {
            rule,
            who: who.to_string(),
            message,
            evidence: lines.iter().map(|i| self.events[*i].to_string()).collect(),
            lines: lines.iter().map(|i| i + 1).collect(),
        });
    }

    /// The listener an accepted connection `server.3` came from, if it is one.
    fn listener_of<'w>(&self, who: &'w str) -> Option<&'w str> {
        let (listener, n) = who.rsplit_once('.')?;
        (n.parse::<usize>().is_ok() && self.listeners.contains_key(listener)).then_some(listener)
    }

    /// The read buffer of `who`: that of the client or listener its connection comes from
    /// ([`owners_setting`]).
    fn read_buffer_size(&self, who: &str) -> usize {
        owners_setting(&self.options.read_buffer_sizes, who).unwrap_or(DEFAULT_READ_BUFFER_SIZE)
    }

    fn connection(&mut self, i: usize, who: &str, callback: &Callback) {
        let view = take_entry(&mut self.connections, who);
        let view = self.connection_event(view, i, who, callback);
        put_entry(&mut self.connections, who, view);
    }

    fn connection_event(
        &mut self,
        mut c: ConnectionView,
        i: usize,
        who: &str,
        callback: &Callback,
    ) -> ConnectionView {
        let first = *c.first.get_or_insert(i);
        let name = callback.name();
        if let Some(dropped) = c.dropped_before_start.take() {
            if !matches!(callback, Callback::Connected | Callback::Accepted) {
                let message = format!(
                    "a write dropped while closing, before the connection began: {name} came \
                     where the connected or accepted it was dropped in should"
                );
                self.broken(Rule::W1, who, message, &[dropped, i]);
            }
        }
        let is_accepted = matches!(callback, Callback::Accepted);
        let client_only = matches!(
            callback,
            Callback::ProxyVia { .. }
                | Callback::Connecting(_)
                | Callback::Connected
                | Callback::ConnectFailed(_)
        );
        if let Some(failed) = c.connect_failed {
            self.exercise(Rule::C5);
            self.broken(
                Rule::C5,
                who,
                format!("{name} after connect_failed"),
                &[failed, i],
            );
        }
        // A1 / C1: how the connection began decides which callbacks it may see.
        if let Some(accepted) = c.accepted {
            if is_accepted || client_only {
                self.exercise(Rule::A1);
                let what = if is_accepted {
                    "a second accepted"
                } else {
                    name
                };
                self.broken(
                    Rule::A1,
                    who,
                    format!("{what} on an accepted connection"),
                    &[accepted, i],
                );
            }
        } else if is_accepted {
            self.exercise(Rule::A1);
            if first != i {
                self.broken(
                    Rule::A1,
                    who,
                    "accepted is not the first callback".into(),
                    &[first, i],
                );
            }
            self.accept(i, who);
            c.accepted = Some(i);
        } else {
            self.client_event(&mut c, i, who, callback);
        }
        let open = c.connected.or(c.accepted);
        match callback {
            Callback::Closed => {
                self.exercise(Rule::L1);
                if let Some(closed) = c.closed {
                    self.broken(Rule::L1, who, "closed more than once".into(), &[closed, i]);
                } else if open.is_none() {
                    self.broken(
                        Rule::L1,
                        who,
                        "closed before connected or accepted".into(),
                        &[first, i],
                    );
                }
                c.closed.get_or_insert(i);
                c.dropped_before_end = None;
                self.release(who);
            }
            Callback::Received { .. }
            | Callback::Sent { .. }
            | Callback::Sentv { .. }
            | Callback::Throttled
            | Callback::Unthrottled => {
                self.exercise(Rule::L2);
                if let Some(closed) = c.closed {
                    self.broken(Rule::L2, who, format!("{name} after closed"), &[closed, i]);
                } else if open.is_none() {
                    self.broken(
                        Rule::L2,
                        who,
                        format!("{name} before connected or accepted"),
                        &[first, i],
                    );
                }
            }
            _ => {}
        }
        match callback {
            Callback::Throttled | Callback::Unthrottled => self.throttle(&mut c, i, who, callback),
            Callback::Expect { qty, result } => self.expect(&mut c, i, who, *qty, *result),
            Callback::Received {
                data,
                times,
                result,
            } => self.received(&mut c, i, who, data.len(), *times, *result),
            _ => {}
        }
        c
    }

    /// C1, C3, C4 on a client connection.
    fn client_event(&mut self, c: &mut ConnectionView, i: usize, who: &str, callback: &Callback) {
        let first = c.first.unwrap_or(i);
        if let Callback::ProxyVia { .. } = callback {
            self.exercise(Rule::C1);
            if let Some(earlier) = c.proxy_via {
                self.broken(
                    Rule::C1,
                    who,
                    "proxy_via more than once".into(),
                    &[earlier, i],
                );
            } else if first != i {
                self.broken(
                    Rule::C1,
                    who,
                    "proxy_via is not the first callback".into(),
                    &[first, i],
                );
            }
            c.proxy_via.get_or_insert(i);
            return;
        }
        if c.proxy_via.is_none() && first == i {
            self.exercise(Rule::C1);
            let name = callback.name();
            self.broken(
                Rule::C1,
                who,
                format!("{name} is the first callback, not proxy_via"),
                &[i],
            );
        }
        let terminal = c.connected.or(c.connect_failed);
        match callback {
            Callback::Connecting(n) => {
                self.exercise(Rule::C3);
                if let Some(t) = terminal {
                    self.broken(
                        Rule::C3,
                        who,
                        "connecting after the terminal callback".into(),
                        &[t, i],
                    );
                } else if *n == 0 {
                    self.broken(Rule::C3, who, "connecting(0)".into(), &[i]);
                } else if let Some((line, last)) = c.connecting.filter(|(_, last)| *n + 1 != *last)
                {
                    let message = format!("connecting({n}) after connecting({last})");
                    self.broken(Rule::C3, who, message, &[line, i]);
                }
                c.connecting = Some((i, *n));
            }
            Callback::Connected | Callback::ConnectFailed(_) => {
                self.exercise(Rule::C4);
                if let Some(t) = terminal {
                    let message = format!("{} after an earlier terminal callback", callback.name());
                    self.broken(Rule::C4, who, message, &[t, i]);
                }
                if let Callback::ConnectFailed(reason) = callback {
                    if let Some((line, last)) = c.connecting {
                        if last != 1 && *reason != ConnectFailure::Aborted {
                            let message =
                                format!("connect_failed({reason}) while {last} attempts were left");
                            self.broken(Rule::C4, who, message, &[line, i]);
                        }
                    }
                    c.connect_failed.get_or_insert(i);
                    c.dropped_before_end = None;
                } else {
                    c.connected.get_or_insert(i);
                }
            }
            _ => {}
        }
    }

    /// W4: `throttled` and `unthrottled` alternate, starting with `throttled`.
    fn throttle(&mut self, c: &mut ConnectionView, i: usize, who: &str, callback: &Callback) {
        self.exercise(Rule::W4);
        let throttled = matches!(callback, Callback::Throttled);
        match c.throttle {
            Some((line, last)) if last == throttled => {
                let message = format!("{} twice in a row", callback.name());
                self.broken(Rule::W4, who, message, &[line, i]);
            }
            None if !throttled => {
                self.broken(
                    Rule::W4,
                    who,
                    "unthrottled before any throttled".into(),
                    &[i],
                );
            }
            _ => {}
        }
        c.throttle = Some((i, throttled));
    }

    /// R2: a notifier's `expect` result larger than the read buffer leaves the framing as it
    /// was; otherwise the result is the new framing.
    fn expect(&mut self, c: &mut ConnectionView, i: usize, who: &str, qty: usize, result: usize) {
        let limit = self.read_buffer_size(who);
        self.exercise(Rule::R2);
        if qty > limit {
            let message =
                format!("expect({qty}) reached the notifier although the read buffer is {limit}");
            self.broken(Rule::R2, who, message, &[i]);
        }
        if result <= limit {
            c.expect = (result, Some(i));
        }
    }

    /// R1 (framing and size) and R3 (`times`) for one delivery.
    fn received(
        &mut self,
        c: &mut ConnectionView,
        i: usize,
        who: &str,
        len: usize,
        times: usize,
        result: bool,
    ) {
        if let Some(muted) = c.muted {
            self.broken(
                Rule::R5,
                who,
                "received while muted: nothing is delivered from the turn that handles `mute` \
                 to the one that handles `unmute`"
                    .into(),
                &[muted, i],
            );
        }
        let limit = self.read_buffer_size(who);
        let (framing, set_by) = c.expect;
        self.exercise(Rule::R1);
        if framing > 0 && len != framing {
            let message = format!("received {len} bytes with expect({framing})");
            let lines: Vec<usize> = set_by.into_iter().chain([i]).collect();
            self.broken(Rule::R1, who, message, &lines);
        } else if len == 0 {
            self.broken(Rule::R1, who, "received no bytes".into(), &[i]);
        } else if len > limit {
            let message = format!("received {len} bytes, more than the read buffer of {limit}");
            self.broken(Rule::R1, who, message, &[i]);
        }
        self.exercise(Rule::R3);
        if times == 0 || times > 50 {
            self.broken(
                Rule::R3,
                who,
                format!("times is {times}, outside 1..=50"),
                &[i],
            );
        } else if times > 1 {
            match c.last_received {
                None => self.broken(
                    Rule::R3,
                    who,
                    format!("first received has times {times}"),
                    &[i],
                ),
                Some((line, last, last_result)) => {
                    if !last_result {
                        let message = format!(
                            "times {times} after a received that returned false (the turn \
                             should have ended)"
                        );
                        self.broken(Rule::R3, who, message, &[line, i]);
                    } else if times != last + 1 {
                        self.broken(
                            Rule::R3,
                            who,
                            format!("times {times} after times {last}"),
                            &[line, i],
                        );
                    }
                }
            }
        }
        c.last_received = Some((i, times, result));
        if self.options.integrity_checked {
            self.exercise(Rule::R6);
        }
    }

    fn listener(&mut self, i: usize, who: &str, callback: &Callback) {
        let mut l = take_entry(&mut self.listeners, who);
        let start = l.listening.or(l.not_listening);
        match callback {
            Callback::Listening(_) | Callback::NotListening => {
                self.exercise(Rule::N1);
                if let Some(s) = start {
                    self.broken(
                        Rule::N1,
                        who,
                        format!("{} after an earlier start", callback.name()),
                        &[s, i],
                    );
                }
                if matches!(callback, Callback::Listening(_)) {
                    l.listening.get_or_insert(i);
                } else {
                    l.not_listening.get_or_insert(i);
                }
            }
            Callback::ListenerConnected { accepted } => {
                self.exercise(Rule::N1);
                if start.is_none() {
                    self.broken(Rule::N1, who, "connected before listening".into(), &[i]);
                }
                if *accepted {
                    l.handed_out.push(i);
                }
            }
            Callback::ListenerClosed => {
                self.exercise(Rule::N2);
                if let Some(c) = l.closed {
                    self.broken(Rule::N2, who, "closed more than once".into(), &[c, i]);
                } else if let Some(n) = l.not_listening {
                    self.broken(Rule::N2, who, "closed after not_listening".into(), &[n, i]);
                } else if l.listening.is_none() {
                    self.broken(Rule::N2, who, "closed before listening".into(), &[i]);
                }
                l.closed.get_or_insert(i);
            }
            _ => {}
        }
        put_entry(&mut self.listeners, who, l);
    }

    /// A2, N3, N4 when a connection of a listener is accepted.
    fn accept(&mut self, i: usize, who: &str) {
        let Some(name) = self.listener_of(who) else {
            return;
        };
        let limit = owners_setting(&self.options.listener_limits, name).unwrap_or(0);
        let Some(mut l) = self.listeners.get_mut(name).map(std::mem::take) else {
            return;
        };
        // `server.3` is the third notifier the listener handed out.
        let n: usize = who
            .rsplit_once('.')
            .and_then(|(_, n)| n.parse().ok())
            .unwrap_or(0);
        self.exercise(Rule::A2);
        self.exercise(Rule::N4);
        // The listener's lines come in trace order, so one that handed this notifier out is
        // before this line.
        if l.handed_out.get(n.wrapping_sub(1)).is_none() {
            let message = format!("accepted without {name}'s connected handing out notifier {n}");
            self.broken(Rule::A2, who, message, &[i]);
        }
        l.live.insert(who.to_string(), i);
        if limit > 0 {
            self.exercise(Rule::N3);
            if l.live.len() > limit {
                let lines: Vec<usize> = l.live.values().copied().collect();
                let message = format!(
                    "{} connections open, above the limit of {limit}",
                    l.live.len()
                );
                self.broken(Rule::N3, name, message, &lines);
            }
        }
        put_entry(&mut self.listeners, name, l);
    }

    /// An accepted connection closed: its listener has room again.
    fn release(&mut self, who: &str) {
        if let Some(name) = self.listener_of(who) {
            if let Some(l) = self.listeners.get_mut(name) {
                l.live.remove(who);
            }
        }
    }

    /// W1 at the end of any trace: a write dropped as closed (connect-failed) was followed by
    /// `closed` (`connect_failed`); N4 at the end of a complete run: every notifier handed out
    /// was accepted.
    fn finish(&mut self) {
        // How the run ended, from its last line (a trace of notifiers run by hand has none).
        let ended = (self.events.iter().rev()).find_map(|e| match &e.kind {
            EventKind::RunEnded { ended } => Some(ended),
            _ => None,
        });
        let panicked = matches!(ended, Some(Ended::Panicked { .. }));
        let complete = matches!(ended, Some(Ended::AllFinished));
        // A trace cut short inside a turn (full, or a notifier panicked) never got the
        // ending's line: no W1 of its own for that.
        let lines = (self.events.iter()).filter(|e| !matches!(e.kind, EventKind::Log { .. }));
        let cut_short = panicked || lines.count() >= MAX_TRACE_EVENTS;
        // A write dropped before an ending (or a start) that never came.
        let mut never_came: Vec<(String, usize, String)> = Vec::new();
        for (who, c) in self.connections.iter().filter(|_| !cut_short) {
            if let Some((i, end)) = c.dropped_before_end {
                let message = format!("a write dropped as {end}, but `{end}` never came");
                never_came.push((who.clone(), i, message));
            }
            if let Some(i) = c.dropped_before_start {
                let message = "a write dropped while closing, before the connection began, \
                               and neither `connected` nor `accepted` came";
                never_came.push((who.clone(), i, message.to_string()));
            }
        }
        for (who, line, message) in never_came {
            self.broken(Rule::W1, &who, message, &[line]);
        }
        if !complete {
            return;
        }
        let names: Vec<String> = self.listeners.keys().cloned().collect();
        for name in names {
            let handed_out = self.listeners[&name].handed_out.clone();
            for (k, line) in handed_out.iter().enumerate() {
                let who = format!("{name}.{}", k + 1);
                let accepted = self.connections.get(&who).and_then(|c| c.accepted);
                if accepted.is_none() {
                    let message =
                        format!("connected handed out {who}'s notifier, but it was never accepted");
                    self.broken(Rule::N4, &name, message, &[*line]);
                }
            }
        }
    }
}

/// The setting in `map` of the client or listener that `who` comes from: `who`'s own, or
/// else that of the name the simulator built `who` from, found by taking the suffixes it adds
/// off the end one at a time. An accepted connection has its listener's (`server.3`, and
/// `server#2.1` of the listener restarted after a crash, which keeps its limit), a dialled
/// connection its dialler's (`c1~2`, `server.1~1`, `server~1`: `dial` gives the new
/// connection the settings of the connection or the listener that dials it), a restarted
/// listener its first self's (`server#2`). Only a suffix of digits is taken off, and only
/// after the whole name is looked up, so a recording whose own names hold a `.` (`api.v1`,
/// which a scenario refuses but a recorder on real sockets takes) keeps its settings.
fn owners_setting<V: Copy>(map: &BTreeMap<String, V>, who: &str) -> Option<V> {
    let mut name = who;
    loop {
        if let Some(value) = map.get(name) {
            return Some(*value);
        }
        name = without_added_suffix(name)?;
    }
}

/// `name` without the last suffix the simulator adds to a name (`.3`, `~2`, `#2`: a
/// separator and digits), if it ends in one.
fn without_added_suffix(name: &str) -> Option<&str> {
    let digits = name.len() - name.trim_end_matches(|c: char| c.is_ascii_digit()).len();
    let stem = name[..name.len() - digits].strip_suffix(['.', '~', '#'])?;
    (digits > 0 && !stem.is_empty()).then_some(stem)
}

/// The entry of `key` in `map`, taken out (or a fresh one) while an event is checked, since
/// the checks need `&mut self`; [`put_entry`] puts it back. Unlike a remove and an insert, a
/// known key costs two lookups: no key is allocated and the tree is not reshaped.
fn take_entry<V: Default>(map: &mut BTreeMap<String, V>, key: &str) -> V {
    map.get_mut(key).map(std::mem::take).unwrap_or_default()
}

/// Puts back what [`take_entry`] took, adding `key` the first time.
fn put_entry<V>(map: &mut BTreeMap<String, V>, key: &str, value: V) {
    match map.get_mut(key) {
        Some(slot) => *slot = value,
        None => {
            map.insert(key.to_string(), value);
        }
    }
}

#[cfg(test)]
#[path = "checker_tests.rs"]
mod tests;
