//! The trace of a simulated run: every callback of every connection and listener, every
//! fault that fired, and the `tracing` events the run's log filter let through, with
//! simulated time, host and connection. Rendered as deterministic text (one event per line,
//! for snapshots and diffs) and as JSON lines (for tools).

use super::ended::Ended;
use super::fault_step::FaultStep;
use super::log_line::{write_one_line, LogFields, LogLevel};
use crate::fault::FaultPlan;
use crate::json;
use crate::validate::{MAX_LOG_EVENTS, MAX_TRACE_EVENTS};
use serde::{Deserialize, Serialize};
use std::cell::Cell;
use std::collections::BTreeMap;
use std::fmt::{self, Write as _};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use tcpnotify::record::{Callback, CallbackSink, FinalWriteBefore, Name, Payload};
use tcpnotify::{DroppedWrite, Muting, TcpConnection};

/// What happened at one point of a run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum EventKind {
    /// A notifier callback returned.
    Callback {
        /// The callback with its arguments and result.
        #[serde(flatten)]
        callback: Callback,
        /// The connection's local address, if it had one.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        local: Option<SocketAddr>,
        /// The connection's peer address, if it had one.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        remote: Option<SocketAddr>,
    },
    /// A fault of the plan fired, or what its firing began ended (a heal, a restart).
    Fault {
        /// The fault's index in the plan.
        index: usize,
        /// Which: in JSON the `description`, in words (`healed`, `restarted server`).
        #[serde(rename = "description")]
        step: FaultStep,
    },
    /// A contract rule found broken while the run was going (stream integrity is checked as
    /// data flows, so the trace need not keep the data).
    Violation {
        /// The rule's id (`R6`).
        rule: String,
        /// What was wrong.
        message: String,
    },
    /// A note from the harness (run start, the liveness phase, a connection's dial, the
    /// plan's cuts stopping once the trace passed half its limit).
    Note {
        /// The note.
        text: String,
    },
    /// The run ended, and how: a run's last line, which the checker reads (a run a panic cut
    /// short, a run in which every client finished).
    RunEnded {
        /// How.
        #[serde(flatten)]
        ended: Ended,
    },
    /// Bytes a callback queued with `write_final`, which passes by `sent`, told right after
    /// that callback's line: no callback shows them, yet they go out as `sent`'s results do
    /// (in the stream before what that callback returned, if it was a `sent` or `sentv`), so
    /// a run's sums count them.
    FinalWritten {
        /// The bytes, kept as a callback's data is (whole when the run keeps payloads).
        data: Payload,
        /// The result they go out before: that of the callback itself, or that of the last
        /// `sent` or `sentv` before it, which the callback was deferred from. In JSON the
        /// field `before_sent_result`, present and `true` only for the latter.
        #[serde(
            rename = "before_sent_result",
            with = "before_sent_result",
            default = "before_sent_result::own_result",
            skip_serializing_if = "before_sent_result::is_own_result"
        )]
        before: FinalWriteBefore,
    },
    /// Queued bytes that a connection discarded as it closed at once (L3: its peer's end of
    /// stream; L5: `hard_close`, or `close`/`dispose` while muted; a reset), counted in
    /// `ConnectionStats::bytes_discarded`, told right after its `closed`: no callback shows
    /// them, and they never went out, so a run's sums take them back.
    Discarded {
        /// How many.
        bytes: usize,
    },
    /// A write that rule W1 dropped, when it was dropped: no callback runs for it, and the
    /// connection counts it (`tcpnotify::DroppedWrite`).
    WriteDropped {
        /// `write`, `writev` or `write_final`; `sent result` or `sentv result` for what
        /// `sent` or `sentv` returned after the notifier called `close()` inside it.
        call: String,
        /// Its bytes.
        bytes: usize,
        /// The phase it was handled in (`connecting(1)`, `closing(shut)`, `closed`, ...).
        phase: String,
        /// It was sent through a handle after the connection's task ended.
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        after_end: bool,
        /// The connection's dropped writes so far, this one included.
        total: u64,
    },
    /// A `mute` took effect (R5), in the turn that handled it: the connection reads and
    /// delivers nothing, and does not notice its peer's close, until an unmute. No callback
    /// runs for it; a redundant `mute` (already muted) changes nothing and has no line.
    Muted,
    /// An `unmute` took effect (R5): what was buffered is delivered first. A redundant one
    /// (not muted) has no line.
    Unmuted,
    /// The first failure in the run of an `always` assertion ([`always`](crate::always)),
    /// where and when it failed: in the callback of the event's host and connection.
    Assertion {
        /// The assertion's name.
        name: String,
        /// Where it is in the source (`file:line`).
        location: String,
        /// What the assertion said about the failure.
        message: String,
    },
    /// A `tracing` event logged during the run (by a notifier, tcpnotify, turmoil or the
    /// simulator) that the run's [`LogFilter`](crate::scenario::LogFilter) let through. One
    /// logged inside a callback comes before that callback's own line, which is written once
    /// the callback returned.
    Log {
        /// Its level.
        level: LogLevel,
        /// Its target: the module that logged it, unless it named another.
        target: String,
        /// Its message (empty if it had none).
        message: String,
        /// Its other fields.
        #[serde(default, skip_serializing_if = "LogFields::is_empty")]
        fields: LogFields,
    },
}

/// [`EventKind::FinalWritten`]'s `before` as JSON lines write it: a field `before_sent_result`,
/// present and `true` for [`FinalWriteBefore::SentResult`] alone, as it was while a `bool`.
mod before_sent_result {
    use serde::{Deserialize, Deserializer, Serializer};
    use tcpnotify::record::FinalWriteBefore;

    pub(super) fn own_result() -> FinalWriteBefore {
        FinalWriteBefore::OwnResult
    }

    pub(super) fn is_own_result(before: &FinalWriteBefore) -> bool {
        *before == FinalWriteBefore::OwnResult
    }

    pub(super) fn serialize<S: Serializer>(
        before: &FinalWriteBefore,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        serializer.serialize_bool(*before == FinalWriteBefore::SentResult)
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<FinalWriteBefore, D::Error> {
        Ok(match bool::deserialize(deserializer)? {
            true => FinalWriteBefore::SentResult,
            false => FinalWriteBefore::OwnResult,
        })
    }
}

/// One line of a trace.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TraceEvent {
    /// Simulated time since the run started, in microseconds.
    pub at_us: u64,
    /// The host it happened on (`-` for the harness): shared with the host's other events
    /// (a [`Name`] reads and compares as a `str`, and is written as a plain string).
    pub host: Name,
    /// The connection or listener (`c1`, `server`, `server.1`), or `-`: shared with its other
    /// events.
    pub who: Name,
    /// What happened.
    #[serde(flatten)]
    pub kind: EventKind,
}

impl EventKind {
    /// The `event` tag of every kind, as JSON lines write it. A reader meeting another tag
    /// skips that event: it was written by a newer version with a kind this one does not know.
    pub const TAGS: [&'static str; 12] = [
        "callback",
        "fault",
        "violation",
        "note",
        "run_ended",
        "final_written",
        "discarded",
        "write_dropped",
        "muted",
        "unmuted",
        "assertion",
        "log",
    ];

    /// This kind's `event` tag in JSON lines (one of [`TAGS`](Self::TAGS)).
    pub fn tag(&self) -> &'static str {
        match self {
            EventKind::Callback { .. } => "callback",
            EventKind::Fault { .. } => "fault",
            EventKind::Violation { .. } => "violation",
            EventKind::Note { .. } => "note",
            EventKind::RunEnded { .. } => "run_ended",
            EventKind::FinalWritten { .. } => "final_written",
            EventKind::Discarded { .. } => "discarded",
            EventKind::WriteDropped { .. } => "write_dropped",
            EventKind::Muted => "muted",
            EventKind::Unmuted => "unmuted",
            EventKind::Assertion { .. } => "assertion",
            EventKind::Log { .. } => "log",
        }
    }

    /// The event of a write that rule W1 dropped.
    pub fn write_dropped(dropped: &DroppedWrite) -> EventKind {
        EventKind::WriteDropped {
            call: dropped.kind.to_string(),
            bytes: dropped.bytes,
            phase: dropped.phase.to_string(),
            after_end: dropped.after_end,
            total: dropped.total,
        }
    }

    /// The event of a `mute` or `unmute` that took effect.
    pub fn muting(muting: Muting) -> EventKind {
        match muting {
            Muting::Muted => EventKind::Muted,
            Muting::Unmuted => EventKind::Unmuted,
        }
    }

    /// The bytes this event takes back from what its connection queued, as they never went
    /// out: what `sent` or `sentv` returned and W1 then dropped, because the notifier called
    /// `close()` inside that callback (a `sent result` or `sentv result` drop), or the queued
    /// bytes a close at once discarded ([`Discarded`](Self::Discarded)); `None` for any other
    /// event. Either way they are the last bytes the connection queued.
    ///
    /// ```
    /// use tcpnotify_sim::run::EventKind;
    /// let dropped = |call: &str| EventKind::WriteDropped {
    ///     call: call.into(),
    ///     bytes: 3,
    ///     phase: "closing(shut)".into(),
    ///     after_end: false,
    ///     total: 1,
    /// };
    /// assert_eq!(dropped("sent result").unsent_bytes(), Some(3));
    /// assert_eq!(dropped("write").unsent_bytes(), None, "never queued: its `sent` never ran");
    /// assert_eq!(EventKind::Discarded { bytes: 5 }.unsent_bytes(), Some(5));
    /// ```
    pub fn unsent_bytes(&self) -> Option<usize> {
        match self {
            EventKind::WriteDropped { call, bytes, .. }
                if call == "sent result" || call == "sentv result" =>
            {
                Some(*bytes)
            }
            EventKind::Discarded { bytes } => Some(*bytes),
            _ => None,
        }
    }

    /// The note of a connection's (or listener's) callback dialling `who` to `host` and
    /// `service` (`conn.dial`, `listener.dial`): `dials c1~1 to server:7000`. The new
    /// connection's own callbacks follow under its name.
    pub fn dialled(who: &str, host: &str, service: &str) -> EventKind {
        EventKind::Note {
            text: format!("dials {who} to {host}:{service}"),
        }
    }
}

/// How the line of a run's end begins after `-- ` (``run ended: all clients finished``).
const RUN_ENDED: &str = "run ended: ";

/// How the note of discarded bytes goes on after their count, before it had a kind of its own.
const DISCARDED: &str = " queued bytes never sent: ";

impl EventKind {
    /// This event as this version records it: a `note` that told, in JSON written before its
    /// line had a kind of its own, of the run's end or of queued bytes a close at once
    /// discarded is read as that kind, so that what reads a trace back (the checker, the
    /// sums) finds them in an old file too; any other event stays as it is.
    ///
    /// ```
    /// use tcpnotify_sim::run::{Ended, EventKind};
    /// let note = |text: &str| EventKind::Note { text: text.into() };
    /// assert_eq!(
    ///     note("run ended: all clients finished").upgrade_older_note(),
    ///     EventKind::RunEnded { ended: Ended::AllFinished }
    /// );
    /// assert_eq!(note("run ended, then").upgrade_older_note(), note("run ended, then"));
    /// ```
    pub fn upgrade_older_note(self) -> EventKind {
        let EventKind::Note { text } = &self else {
            return self;
        };
        let own = match text.strip_prefix(RUN_ENDED) {
            Some(words) => Ended::from_words(words).map(|ended| EventKind::RunEnded { ended }),
            None => (text.split_once(DISCARDED))
                .and_then(|(count, _)| count.parse().ok())
                .map(|bytes| EventKind::Discarded { bytes }),
        };
        // Only a note that reads as that kind's line, word for word.
        match own {
            Some(own) if own.to_string().strip_prefix("-- ") == Some(text.as_str()) => own,
            _ => self,
        }
    }
}

impl TraceEvent {
    /// The callback, if this event is one.
    pub fn callback(&self) -> Option<&Callback> {
        match &self.kind {
            EventKind::Callback { callback, .. } => Some(callback),
            _ => None,
        }
    }

    /// Whether it is a logged `tracing` event ([`EventKind::Log`]).
    pub fn is_log(&self) -> bool {
        matches!(self.kind, EventKind::Log { .. })
    }
}

/// A simulated time as the trace shows it: milliseconds with microsecond precision.
fn time(at_us: u64) -> String {
    format!("{:>6}.{:03}ms", at_us / 1000, at_us % 1000)
}

impl fmt::Display for EventKind {
    /// What a trace line says after its time, host and who: `received(5B "hello", times=1)
    /// -> true`, `FAULT #0 ...`, `VIOLATION R6: ...`, `-- note`,
    /// ``-- write_final(9B "got hello"): queued past `sent` ``, `W1 dropped write(5B) while
    /// closed, dropped write #1`, `MUTED: reading stops until unmute (R5)`, `ALWAYS FAILED "name" at file:line: message`,
    /// `INFO my_notifier: got a frame len=5`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EventKind::Callback { callback, .. } => write!(f, "{callback}"),
            EventKind::Fault { index, step } => write!(f, "FAULT #{index} {step}"),
            EventKind::Violation { rule, message } => write!(f, "VIOLATION {rule}: {message}"),
            EventKind::Note { text } => write!(f, "-- {text}"),
            // A note's form: until it had a kind of its own it was one.
            EventKind::RunEnded { ended } => write!(f, "-- {RUN_ENDED}{ended}"),
            // A note's form too, for the same reason.
            EventKind::FinalWritten { data, before } => {
                write!(f, "-- write_final({data}): queued past `sent`")?;
                match before {
                    FinalWriteBefore::OwnResult => Ok(()),
                    FinalWriteBefore::SentResult => {
                        f.write_str(", before the result of the `sent` it nests in")
                    }
                }
            }
            // So is this one.
            EventKind::Discarded { bytes } => write!(
                f,
                "-- {bytes}{DISCARDED}the connection closed at once and \
                 discarded them (the peer's end of stream, a reset, `hard_close`, or \
                 `close`/`dispose` while muted)"
            ),
            EventKind::WriteDropped {
                call,
                bytes,
                phase,
                after_end,
                total,
            } => {
                write!(f, "W1 dropped {call}({bytes}B) while {phase}")?;
                if *after_end {
                    f.write_str(" (sent after the connection ended)")?;
                }
                write!(f, ", dropped write #{total}")
            }
            EventKind::Muted => f.write_str("MUTED: reading stops until unmute (R5)"),
            EventKind::Unmuted => f.write_str("UNMUTED: reading resumes, buffered data first (R5)"),
            EventKind::Assertion {
                name,
                location,
                message,
            } => write!(f, "ALWAYS FAILED {name:?} at {location}: {message}"),
            EventKind::Log {
                level,
                target,
                message,
                fields,
            } => {
                write!(f, "{level} {target}:")?;
                if !message.is_empty() {
                    f.write_char(' ')?;
                    write_one_line(f, message)?;
                }
                for (name, value) in &fields.0 {
                    write!(f, " {name}=")?;
                    write_one_line(f, value)?;
                }
                Ok(())
            }
        }
    }
}

impl fmt::Display for TraceEvent {
    /// `   12.345ms host who what` with time in milliseconds and microsecond precision.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {} {} {}",
            time(self.at_us),
            self.host,
            self.who,
            self.kind
        )
    }
}

/// The current simulated time in microseconds (0 outside a simulation, as on real sockets).
pub fn now_us() -> u64 {
    sim_now_us().unwrap_or(0)
}

/// The simulated time of the host turmoil is polling, in microseconds; `None` outside a
/// host's poll.
pub(crate) fn sim_now_us() -> Option<u64> {
    turmoil::sim_elapsed().map(|d| u64::try_from(d.as_micros()).unwrap_or(u64::MAX))
}

/// The simulated time of one host incarnation's callbacks, as [`now_us`] gives it, read
/// from turmoil once per instant of the host's clock rather than once per callback: turmoil
/// finds the host it polls by hashing its address into a map, some 500 instructions, where
/// the host runtime's own clock costs a fifth of that.
///
/// Exact because turmoil's time of a host is its runtime's clock plus an offset that only
/// changes between two polls of the host, and the clock moves on by a whole tick in every
/// poll: the same instant of the same runtime always gives the same time. So a clock serves
/// one incarnation of one host (a restarted host has a new runtime, and its sink a new
/// clock), and only its callbacks, which run in its connections' tasks while turmoil polls
/// it. Outside a poll nothing is remembered.
///
/// What was read last is kept per thread, for the clock that read it ([`LAST_READ`]): turmoil
/// polls one host at a time, on the thread that steps the simulation, so its callbacks come
/// one host after the other; a cell of the thread's is read without a lock (a lock of the
/// clock's own cost some 20 instructions a callback more).
#[derive(Debug)]
pub(crate) struct HostClock {
    /// Tells this clock's reads from another's in [`LAST_READ`]: unique in the process.
    id: u64,
}

/// The ids of host clocks: the next one to give.
static CLOCK_IDS: AtomicU64 = AtomicU64::new(0);

thread_local! {
    /// The last read of a host clock on this thread: the clock's id, the instant of its
    /// host's runtime clock, and turmoil's time then (µs).
    static LAST_READ: Cell<Option<(u64, tokio::time::Instant, u64)>> = const { Cell::new(None) };
}

impl Default for HostClock {
    fn default() -> Self {
        HostClock {
            id: CLOCK_IDS.fetch_add(1, Ordering::Relaxed),
        }
    }
}

impl HostClock {
    /// The current simulated time in microseconds (0 outside a simulation).
    pub(crate) fn now_us(&self) -> u64 {
        let instant = tokio::time::Instant::now();
        LAST_READ.with(|last| match last.get() {
            Some((id, at, us)) if id == self.id && at == instant => {
                debug_assert_eq!(us, now_us(), "turmoil's time moved at the same instant");
                us
            }
            _ => {
                let us = sim_now_us();
                last.set(us.map(|us| (self.id, instant, us)));
                us.unwrap_or(0)
            }
        })
    }
}

/// A JSON-lines trace read back ([`Trace::parse_json_run`]), with the fault plan and the
/// check options of the run it came from when the lines carry them.
#[derive(Debug)]
pub struct JsonTrace {
    /// The trace events.
    pub trace: Trace,
    /// The plan of the `run` line (`run --json` writes one first), when there is exactly one
    /// such line and its plan is one this version reads; `None` for a file of bare events.
    pub plan: Option<FaultPlan>,
    /// The `check_options` of that one `run` line, as JSON: what the contract check needs
    /// beyond the trace. Left unread here because the checker (`judge::CheckOptions`) is a
    /// layer above the run; `None` without a `run` line, or one written before they were.
    pub check_options: Option<serde_json::Value>,
}

/// The ordered events of one run. Cloning shares the same log.
#[derive(Debug, Clone, Default)]
pub struct Trace {
    lines: Arc<Mutex<Lines>>,
}

/// A trace's events, and how many of them are logged `tracing` events: those have a limit of
/// their own ([`MAX_LOG_EVENTS`]), so that logging never ends a run that would otherwise go on.
#[derive(Debug, Default)]
struct Lines {
    events: Events,
    logs: usize,
    /// Whether a log event was left out for the limit (a note says so, once).
    logs_left_out: bool,
    /// What to do once as the events that are not logs reach a number.
    passing: Option<Passing>,
}

/// What a trace does once, as it reaches `at` events that are not logs: `act`, whose text,
/// if any, the trace then notes. Run as the event that reaches `at` is pushed, not between
/// two simulation steps: one step may push hundreds of thousands of events.
struct Passing {
    at: usize,
    act: Box<dyn FnOnce() -> Option<String> + Send>,
}

impl std::fmt::Debug for Passing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Passing").field("at", &self.at).finish()
    }
}

/// A trace's events: its own while the run pushes them, shared once a reader asked for them
/// without a copy ([`Trace::shared_events`], the judge's, after the run), so a push costs no
/// atomic operation and judging copies no event.
#[derive(Debug, Default)]
struct Events {
    /// The events while no reader shares them; empty while `shared` holds them.
    own: Vec<TraceEvent>,
    shared: Option<Arc<Vec<TraceEvent>>>,
}

impl std::ops::Deref for Events {
    type Target = Vec<TraceEvent>;

    fn deref(&self) -> &Vec<TraceEvent> {
        self.shared.as_deref().unwrap_or(&self.own)
    }
}

impl Events {
    fn new(events: Vec<TraceEvent>) -> Self {
        Events {
            own: events,
            shared: None,
        }
    }

    /// The events to push to: shared ones become the trace's own again, copied only if a
    /// reader still holds them (who then keeps the events as they were).
    #[inline(always)]
    fn own(&mut self) -> &mut Vec<TraceEvent> {
        if self.shared.is_some() {
            self.unshare();
        }
        &mut self.own
    }

    /// Takes the shared events back (a push after the run was judged: rare).
    #[cold]
    fn unshare(&mut self) {
        if let Some(shared) = self.shared.take() {
            self.own = Arc::try_unwrap(shared).unwrap_or_else(|held| (*held).clone());
        }
    }

    /// The events, shared without a copy.
    fn share(&mut self) -> Arc<Vec<TraceEvent>> {
        let own = &mut self.own;
        Arc::clone(
            self.shared
                .get_or_insert_with(|| Arc::new(std::mem::take(own))),
        )
    }
}

impl Lines {
    /// Whether it holds [`MAX_TRACE_EVENTS`] events that are not logs.
    fn is_full(&self) -> bool {
        self.len_without_logs() >= MAX_TRACE_EVENTS
    }

    /// The events that are not logs, which [`MAX_TRACE_EVENTS`] bounds.
    fn len_without_logs(&self) -> usize {
        self.events.len() - self.logs
    }

    /// Appends the event `make` makes, one that is not a log, unless full (then it is not
    /// made). Inlined with `make`, the event is built where the vector keeps it, or moved
    /// once: an event is some 200 bytes, and one passed down by value was copied at each step.
    #[inline(always)]
    fn push_unless_full(&mut self, make: impl FnOnce() -> TraceEvent) {
        if !self.is_full() {
            self.events.own().push(make());
            if (self.passing.as_ref()).is_some_and(|p| self.len_without_logs() >= p.at) {
                self.pass();
            }
        }
    }

    /// Runs what was to be done on passing its number of events, and notes what it says,
    /// at the time of the event that passed it.
    #[cold]
    fn pass(&mut self) {
        let Some(passing) = self.passing.take() else {
            return;
        };
        let Some(text) = (passing.act)() else {
            return;
        };
        let at_us = self.events.last().map_or(0, |e| e.at_us);
        self.events.own().push(TraceEvent {
            at_us,
            host: "-".into(),
            who: "-".into(),
            kind: EventKind::Note { text },
        });
    }
}

impl Trace {
    /// An empty trace.
    pub fn new() -> Self {
        Self::default()
    }

    /// A trace holding `events`, e.g. read back from JSON lines.
    pub fn from_events(events: Vec<TraceEvent>) -> Self {
        let logs = events.iter().filter(|e| e.is_log()).count();
        Trace {
            lines: Arc::new(Mutex::new(Lines {
                events: Events::new(events),
                logs,
                logs_left_out: false,
                passing: None,
            })),
        }
    }

    /// A copy without the logged `tracing` events: what a snapshot shows, so that it stays the
    /// same whatever `RUST_LOG` says.
    pub fn without_logs(&self) -> Trace {
        let events = self
            .lock()
            .events
            .iter()
            .filter(|e| !e.is_log())
            .cloned()
            .collect();
        Trace::from_events(events)
    }

    /// A callback sink that records every callback it gets into this trace, as on host
    /// `host`, at the current simulated time ([`now_us`]) and with its connection's addresses,
    /// every write rule W1 drops, every mute and unmute that took effect and the bytes queued
    /// with `write_final`: the trace of
    /// notifiers run outside a scenario, by hand over turmoil or on real sockets, for the
    /// contract checker.
    ///
    /// ```
    /// use tcpnotify::record::{Callback, CallbackSink};
    /// use tcpnotify_sim::run::Trace;
    /// let trace = Trace::new();
    /// trace.sink("client").record(&"c1".into(), None, Callback::Connecting(1));
    /// trace.note("client", "c1", "between two callbacks");
    /// assert_eq!(
    ///     trace.render_text(),
    ///     "     0.000ms client c1 connecting(1)\n     0.000ms client c1 -- between two callbacks\n"
    /// );
    /// ```
    pub fn sink(&self, host: &str) -> Arc<dyn CallbackSink> {
        Arc::new(TraceSink {
            trace: self.clone(),
            host: host.into(),
        })
    }

    /// Appends `callback` of `who` on `host`, run on connection `conn` (its addresses go
    /// with it), at simulated time `at_us`. The names are shared, not copied. Inlined into
    /// the sinks: the callback, some 80 bytes, is moved into the trace from where the sink
    /// got it, not copied once more on the way.
    #[inline]
    pub(crate) fn push_callback(
        &self,
        at_us: u64,
        host: &Name,
        who: &Name,
        conn: Option<&TcpConnection>,
        callback: Callback,
    ) {
        let (local, remote) =
            conn.map_or((None, None), |c| (c.local_address(), c.remote_address()));
        // Not through `push`: a callback is never a log, and this is the path of every one.
        self.lock().push_unless_full(|| TraceEvent {
            at_us,
            host: host.clone(),
            who: who.clone(),
            kind: EventKind::Callback {
                callback,
                local,
                remote,
            },
        });
    }

    /// Appends a note of `who` on `host` (each a `&str`, a `String` or a [`Name`]) at the
    /// current simulated time: what a test or the harness says between callbacks.
    pub fn note(&self, host: impl Into<Name>, who: impl Into<Name>, text: impl Into<String>) {
        self.push(TraceEvent {
            at_us: now_us(),
            host: host.into(),
            who: who.into(),
            kind: EventKind::Note { text: text.into() },
        });
    }

    /// Appends one event, unless the trace already holds [`MAX_TRACE_EVENTS`] events that
    /// are not logs: the run loop then ends the run (see [`is_full`](Self::is_full)), and
    /// memory stays bounded. Logged `tracing` events count apart, up to [`MAX_LOG_EVENTS`];
    /// past that they are left out and a note says so once, so that logging, however
    /// verbose, never ends a run.
    pub fn push(&self, event: TraceEvent) {
        let mut lines = self.lock();
        if !event.is_log() {
            lines.push_unless_full(|| event);
        } else if lines.logs < MAX_LOG_EVENTS {
            lines.logs += 1;
            lines.events.own().push(event);
        } else if !lines.logs_left_out {
            lines.logs_left_out = true;
            let text = format!(
                "the trace holds {MAX_LOG_EVENTS} log events, its limit: later ones are left \
                 out (a narrower log filter keeps the ones that matter)"
            );
            lines.push_unless_full(|| TraceEvent {
                kind: EventKind::Note { text },
                ..event
            });
        }
    }

    /// Runs `act` once, as the trace reaches `events` events that are not logs (inside the
    /// push of the one that reaches it, whichever task pushes it), and notes the text it
    /// returns, if any. A later call replaces an earlier one.
    pub(crate) fn on_passing(
        &self,
        events: usize,
        act: impl FnOnce() -> Option<String> + Send + 'static,
    ) {
        self.lock().passing = Some(Passing {
            at: events,
            act: Box::new(act),
        });
    }

    /// Whether the trace holds [`MAX_TRACE_EVENTS`] events that are not logs, and takes no
    /// more.
    pub fn is_full(&self) -> bool {
        self.lock().is_full()
    }

    /// A copy of every event, in order.
    pub fn events(&self) -> Vec<TraceEvent> {
        self.lock().events.to_vec()
    }

    /// Every event, in order, without a copy: the events as they are now, shared with the
    /// trace (which copies them only if it grows while this is held).
    pub(crate) fn shared_events(&self) -> Arc<Vec<TraceEvent>> {
        self.lock().events.share()
    }

    /// The number of events.
    pub fn len(&self) -> usize {
        self.lock().events.len()
    }

    /// Whether no event was recorded.
    pub fn is_empty(&self) -> bool {
        self.lock().events.is_empty()
    }

    /// One line per event; line `n` (from 1) is event `n - 1`.
    pub fn render_text(&self) -> String {
        self.lock()
            .events
            .iter()
            .map(|e| format!("{e}\n"))
            .collect()
    }

    /// The last `n` lines of [`render_text`](Self::render_text), for failure reports.
    pub fn render_tail(&self, n: usize) -> String {
        let lines = self.lock();
        let start = lines.events.len().saturating_sub(n);
        lines.events[start..]
            .iter()
            .map(|e| format!("{e}\n"))
            .collect()
    }

    /// A summary, for a trace too long to read line by line (a run of 1,000 clients): every
    /// event that is not a callback (harness notes, faults, violations) as it is, then one line
    /// per host, group of connections and kind of callback, in order of first occurrence, with
    /// how many there were, the bytes they carried, and when the first and the last came.
    /// A group is the connections whose names differ only in a trailing number (`c-17` and
    /// `c-18` are `c-*`, `server.1` and `server.2` are `server.*`); a kind is the callback's
    /// name, with its argument where it is a category (`connecting(2)`,
    /// `connect_failed(timed out)`, `received -> false`). Logged `tracing` events are counted
    /// the same way, their kind being their level and target (`DEBUG tcpnotify::proto`).
    ///
    /// ```
    /// use tcpnotify::record::Callback;
    /// use tcpnotify_sim::run::{EventKind, Trace, TraceEvent};
    /// let trace = Trace::new();
    /// for (at_us, who) in [(1000, "c-1"), (3000, "c-2")] {
    ///     let kind = EventKind::Callback { callback: Callback::Connected, local: None, remote: None };
    ///     trace.push(TraceEvent { at_us, host: "client".into(), who: who.into(), kind });
    /// }
    /// assert_eq!(
    ///     trace.render_summary(),
    ///     "summary of 2 trace lines: callbacks counted per host, connection group and kind\n\
    ///      client c-* connected x2 from 1.000ms to 3.000ms\n"
    /// );
    /// ```
    pub fn render_summary(&self) -> String {
        /// How often one kind of callback happened in one group, and when.
        struct Tally {
            count: usize,
            bytes: usize,
            first_us: u64,
            last_us: u64,
        }
        let lines = self.lock();
        let events = &lines.events;
        let mut out = format!(
            "summary of {} trace lines: callbacks counted per host, connection group and kind\n",
            events.len()
        );
        let mut order: Vec<(String, String, String)> = Vec::new();
        let mut tallies: BTreeMap<(String, String, String), Tally> = BTreeMap::new();
        for event in events.iter() {
            let (kind, bytes) = match &event.kind {
                EventKind::Callback { callback, .. } => {
                    (summary_kind(callback), carried_bytes(callback))
                }
                EventKind::Log { level, target, .. } => (format!("{level} {target}"), 0),
                _ => {
                    out += &format!("{event}\n");
                    continue;
                }
            };
            let group = match event.who.trim_end_matches(|c: char| c.is_ascii_digit()) {
                stem if stem.len() < event.who.len() => format!("{stem}*"),
                _ => event.who.to_string(),
            };
            let key = (event.host.to_string(), group, kind);
            let tally = tallies.entry(key.clone()).or_insert_with(|| {
                order.push(key);
                Tally {
                    count: 0,
                    bytes: 0,
                    first_us: event.at_us,
                    last_us: event.at_us,
                }
            });
            tally.count += 1;
            tally.bytes += bytes;
            tally.last_us = event.at_us;
        }
        for key in order {
            let Some(t) = tallies.get(&key) else {
                continue;
            };
            let (host, group, kind) = key;
            out += &format!("{host} {group} {kind} x{}", t.count);
            if t.bytes > 0 {
                out += &format!(", {}B", t.bytes);
            }
            if t.first_us == t.last_us {
                out += &format!(" at {}\n", time(t.first_us).trim_start());
            } else {
                let (first, last) = (time(t.first_us), time(t.last_us));
                out += &format!(" from {} to {}\n", first.trim_start(), last.trim_start());
            }
        }
        out
    }

    /// One JSON object per line, `{"type":"event", ...}` (see [`crate::json`]).
    pub fn render_json_lines(&self) -> String {
        self.lock()
            .events
            .iter()
            .map(|e| format!("{}\n", json::event(e)))
            .collect()
    }

    /// Both renderings, text then JSON lines: what a determinism check compares, so that a
    /// difference in any field shows.
    pub fn render_for_comparison(&self) -> String {
        format!("{}{}", self.render_text(), self.render_json_lines())
    }

    /// Where two renderings first differ: the line (from 1) and each side's line there
    /// (`<end of trace>` past its end); `None` if they are the same.
    ///
    /// ```
    /// use tcpnotify_sim::run::Trace;
    /// assert_eq!(Trace::first_difference("a\nb\n", "a\nb\n"), None);
    /// assert_eq!(
    ///     Trace::first_difference("a\nb\n", "a\n"),
    ///     Some((2, "b".to_string(), "<end of trace>".to_string()))
    /// );
    /// ```
    pub fn first_difference(a: &str, b: &str) -> Option<(usize, String, String)> {
        let (mut la, mut lb) = (a.lines(), b.lines());
        let mut n = 0;
        loop {
            n += 1;
            match (la.next(), lb.next()) {
                (None, None) => return None,
                (Some(x), Some(y)) if x == y => continue,
                (x, y) => {
                    let show = |l: Option<&str>| l.unwrap_or("<end of trace>").to_string();
                    return Some((n, show(x), show(y)));
                }
            }
        }
    }

    /// Reads the trace events of JSON lines, as [`render_json_lines`](Self::render_json_lines)
    /// and `tcpnotify-sim run --json` write them. Data bytes do not survive the round trip,
    /// only their lengths.
    ///
    /// Tolerant of what a newer writer may add: lines of another `type` (the `run` and
    /// `verdict` objects around a trace) are skipped, and so are events of a kind this version
    /// does not know ([`EventKind::TAGS`]). A line without a `type` is read as an event, as
    /// traces were written before the schema had versions. An object of a newer schema
    /// version, a line that is not JSON, or a known kind of event with bad fields is an error
    /// naming its line.
    ///
    /// ```
    /// use tcpnotify_sim::run::Trace;
    /// let text = r#"{"type":"run","version":1,"scenario":"echo"}
    /// {"type":"event","at_us":0,"host":"-","who":"-","event":"note","text":"run started"}
    /// {"type":"event","at_us":5,"host":"-","who":"-","event":"from_the_future","x":1}
    /// "#;
    /// let trace = Trace::parse_json_lines(text).unwrap();
    /// assert_eq!(trace.render_text(), "     0.000ms - - -- run started\n");
    /// ```
    pub fn parse_json_lines(text: &str) -> Result<Trace, TraceParseError> {
        Self::parse_json_run(text).map(|read| read.trace)
    }

    /// Reads JSON lines as [`parse_json_lines`](Self::parse_json_lines) does, keeping the
    /// fault plan of the `run` line that `run --json` opens with ([`JsonTrace::plan`]): what
    /// names the kind of each fault line, where the line itself has only its words; and its
    /// check options ([`JsonTrace::check_options`]), with which the trace is judged as its
    /// run was.
    ///
    /// ```
    /// use tcpnotify_sim::run::Trace;
    /// let text = r#"{"type":"run","version":1,"scenario":"echo","plan":{"seed":1,"send_buffer":64}}
    /// {"type":"event","at_us":0,"host":"-","who":"-","event":"note","text":"run started"}
    /// "#;
    /// let read = Trace::parse_json_run(text).unwrap();
    /// assert_eq!(read.plan.and_then(|p| p.send_buffer), Some(64));
    /// assert_eq!(read.check_options, None, "a run line written before it had them");
    /// assert_eq!(read.trace.len(), 1);
    /// ```
    pub fn parse_json_run(text: &str) -> Result<JsonTrace, TraceParseError> {
        let mut events = Vec::new();
        let (mut runs, mut plan, mut check_options) = (0, None, None);
        for (i, line) in text.lines().enumerate() {
            if line.trim().is_empty() {
                continue;
            }
            let error = |source| TraceParseError {
                line: i + 1,
                source,
            };
            let value: serde_json::Value =
                serde_json::from_str(line).map_err(|e| error(TraceLineError::Json(e)))?;
            json::check_version(&value).map_err(|e| error(TraceLineError::Version(e)))?;
            match json::kind_of(&value) {
                Some(json::RUN) => {
                    runs += 1;
                    // A plan this version cannot read (a newer writer's field) is skipped,
                    // as readers skip what they do not know: the lines' words remain.
                    plan = (value.get("plan")).and_then(|p| FaultPlan::deserialize(p).ok());
                    check_options = value.get("check_options").cloned();
                    continue;
                }
                Some(kind) if kind != json::EVENT => continue,
                _ => {}
            }
            let known = value
                .get("event")
                .and_then(serde_json::Value::as_str)
                .is_none_or(|tag| EventKind::TAGS.contains(&tag));
            // From the line itself, not the value: a value's map sorts its keys, and a log
            // event's fields keep the order they were logged in.
            match serde_json::from_str::<TraceEvent>(line) {
                Ok(mut event) => {
                    event.kind = event.kind.upgrade_older_note();
                    events.push(event);
                }
                Err(_) if !known => continue,
                Err(e) => return Err(error(TraceLineError::Json(e))),
            }
        }
        Ok(JsonTrace {
            trace: Trace::from_events(events),
            // Runs written one after another: which plan a fault's index means, and which
            // run's options judge which events, is unknown.
            plan: plan.filter(|_| runs == 1),
            check_options: check_options.filter(|_| runs == 1),
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Lines> {
        self.lines.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// The kind of a callback in a summary: its name, with its argument where that is a category.
fn summary_kind(callback: &Callback) -> String {
    match callback {
        Callback::Connecting(_)
        | Callback::ConnectFailed(_)
        | Callback::ListenerConnected { .. } => callback.to_string(),
        Callback::Received { result: false, .. } => "received -> false".into(),
        other => other.name().into(),
    }
}

/// The bytes a callback carried: what was delivered, or what was queued.
fn carried_bytes(callback: &Callback) -> usize {
    match callback {
        Callback::Received { data, .. } => data.len(),
        Callback::Sent { result, .. } => result.len(),
        Callback::Sentv { result, .. } => result.iter().map(|p| p.len()).sum(),
        _ => 0,
    }
}

/// Records callbacks into a trace: see [`Trace::sink`].
struct TraceSink {
    trace: Trace,
    host: Name,
}

impl CallbackSink for TraceSink {
    fn record(&self, who: &Name, conn: Option<&TcpConnection>, callback: Callback) {
        (self.trace).push_callback(now_us(), &self.host, who, conn, callback);
    }

    fn write_dropped(&self, who: &Name, dropped: &DroppedWrite) {
        self.trace.push(TraceEvent {
            at_us: now_us(),
            host: self.host.clone(),
            who: who.clone(),
            kind: EventKind::write_dropped(dropped),
        });
    }

    fn mute_changed(&self, who: &Name, muting: Muting) {
        self.trace.push(TraceEvent {
            at_us: now_us(),
            host: self.host.clone(),
            who: who.clone(),
            kind: EventKind::muting(muting),
        });
    }

    fn final_written(&self, who: &Name, data: &Payload, before: FinalWriteBefore) {
        self.trace.push(TraceEvent {
            at_us: now_us(),
            host: self.host.clone(),
            who: who.clone(),
            kind: EventKind::FinalWritten {
                data: data.clone(),
                before,
            },
        });
    }

    fn dialled(&self, by: &Name, who: &Name, host: &str, service: &str) {
        self.trace.push(TraceEvent {
            at_us: now_us(),
            host: self.host.clone(),
            who: by.clone(),
            kind: EventKind::dialled(who, host, service),
        });
    }
}

/// A JSON trace line that could not be read.
#[derive(Debug, thiserror::Error)]
#[error("trace line {line}: {source}")]
pub struct TraceParseError {
    /// The line number, from 1.
    pub line: usize,
    /// What was wrong.
    pub source: TraceLineError,
}

/// What is wrong with a line of a JSON trace.
#[derive(Debug, thiserror::Error)]
pub enum TraceLineError {
    /// Not JSON, or an event of a known kind whose fields do not fit it.
    #[error(transparent)]
    Json(#[from] serde_json::Error),
    /// An object of a newer schema version than this reader's.
    #[error(transparent)]
    Version(#[from] json::NewerVersion),
}

#[cfg(test)]
impl Trace {
    /// How many handles share this trace's events.
    fn holders(&self) -> usize {
        Arc::strong_count(&self.lines)
    }
}

#[cfg(test)]
mod tests {

    #[test]
    fn a_finished_run_leaves_nothing_holding_its_trace() {
        // A connection's drop observer once held its recorder's sink, which reaches the run's
        // state, which reached the connection again: every run leaked whole, and a sweep grew
        // by some 20 KB per seed. Once a run returns, its outcome alone holds the trace.
        use crate::fault::FaultSettings;
        use crate::scenario::Scenario;
        use crate::seed::Seed;
        let scenario = Scenario::echo("leak", 256, 64).faults(FaultSettings::quiet());
        let outcome = crate::run::run(&scenario, &scenario.plan_for(Seed(1))).expect("runs");
        assert!(outcome.trace.len() > 4, "the run did something");
        assert_eq!(outcome.trace.holders(), 1);
    }

    #[test]
    fn a_trace_stops_growing_at_its_limit() {
        // Many bytes in 1-byte writes made an event per byte, until the process ran out of
        // memory; the run loop now ends a run whose trace is full.
        let trace = Trace::new();
        let event = TraceEvent {
            at_us: 0,
            host: "-".into(),
            who: "-".into(),
            kind: EventKind::Note {
                text: String::new(),
            },
        };
        for _ in 0..MAX_TRACE_EVENTS + 10 {
            trace.push(event.clone());
        }
        assert_eq!(trace.len(), MAX_TRACE_EVENTS);
        assert!(trace.is_full());
    }
    use super::*;
    use tcpnotify::record::Payload;

    #[test]
    fn json_lines_round_trip_keeps_everything_but_data_bytes() {
        let trace = Trace::new();
        for callback in [
            Callback::Connecting(2),
            Callback::Accepted,
            Callback::Received {
                data: Payload::of(b"hello"),
                times: 3,
                result: false,
            },
        ] {
            trace.push(TraceEvent {
                at_us: 1500,
                host: "client".into(),
                who: "c1".into(),
                kind: EventKind::Callback {
                    callback,
                    local: Some("10.0.0.1:49152".parse().unwrap()),
                    remote: None,
                },
            });
        }
        trace.push(TraceEvent {
            at_us: 2000,
            host: "-".into(),
            who: "-".into(),
            kind: EventKind::Fault {
                index: 0,
                step: FaultStep::Fired("partition a <-> b".into()),
            },
        });
        let text = trace.render_json_lines();
        let back = Trace::parse_json_lines(&text).unwrap();
        assert_eq!(back.len(), 4);
        assert_eq!(back.render_text(), trace.render_text());
        let lines: Vec<String> = trace
            .render_text()
            .lines()
            .map(|l| format!("{l}\n"))
            .collect();
        assert_eq!(trace.render_tail(2), lines[2..].concat());
        assert_eq!(trace.render_tail(10), trace.render_text());
        assert_eq!(back.events()[0], trace.events()[0]);
        assert_eq!(back.events()[3], trace.events()[3]);
    }

    /// A note at time 0, for tests of which events a trace keeps.
    fn note(text: &str) -> TraceEvent {
        TraceEvent {
            at_us: 0,
            host: "-".into(),
            who: "-".into(),
            kind: EventKind::Note { text: text.into() },
        }
    }

    /// A logged event of c1 on host client at 2.5ms.
    fn log_event(message: &str, fields: &[(&str, &str)]) -> TraceEvent {
        TraceEvent {
            at_us: 2500,
            host: "client".into(),
            who: "c1".into(),
            kind: EventKind::Log {
                level: LogLevel::Debug,
                target: "tcpnotify::proto".into(),
                message: message.into(),
                fields: LogFields(
                    (fields.iter())
                        .map(|(n, v)| (n.to_string(), v.to_string()))
                        .collect(),
                ),
            },
        }
    }

    #[test]
    fn a_log_line_shows_level_target_message_and_fields_in_their_order() {
        let event = log_event("read failed; closing", &[("error", "reset"), ("b", "2")]);
        assert_eq!(
            event.to_string(),
            "     2.500ms client c1 DEBUG tcpnotify::proto: read failed; closing error=reset b=2"
        );
        assert_eq!(
            log_event("", &[("n", "1")]).to_string(),
            "     2.500ms client c1 DEBUG tcpnotify::proto: n=1"
        );
    }

    #[test]
    fn a_log_line_stays_one_line_whatever_its_text() {
        let trace = Trace::from_events(vec![
            log_event("two\nlines", &[("v", "a\r\nb")]),
            log_event("next", &[]),
        ]);
        let text = trace.render_text();
        assert_eq!(text.lines().count(), 2, "{text}");
        assert!(text.starts_with(
            "     2.500ms client c1 DEBUG tcpnotify::proto: two\\nlines v=a\\r\\nb\n"
        ));
        let back = Trace::parse_json_lines(&trace.render_json_lines()).unwrap();
        assert_eq!(
            back.events(),
            trace.events(),
            "JSON keeps the text as it was"
        );
    }

    #[test]
    fn json_lines_round_trip_keeps_log_events_and_their_field_order() {
        let event = log_event("got", &[("zeta", "1"), ("alpha", "x y")]);
        let trace = Trace::from_events(vec![event.clone(), log_event("bare", &[])]);
        let json = trace.render_json_lines();
        let first = json.lines().next().unwrap();
        assert_eq!(
            first,
            r#"{"type":"event","at_us":2500,"host":"client","who":"c1","event":"log","level":"DEBUG","target":"tcpnotify::proto","message":"got","fields":{"zeta":"1","alpha":"x y"}}"#
        );
        assert!(
            !json.lines().nth(1).unwrap().contains("fields"),
            "no empty fields"
        );
        let back = Trace::parse_json_lines(&json).unwrap();
        assert_eq!(back.events(), trace.events());
        assert_eq!(back.render_text(), trace.render_text());
    }

    #[test]
    fn without_logs_keeps_every_other_event_in_order() {
        let trace = Trace::from_events(vec![note("a"), log_event("x", &[]), note("b")]);
        assert_eq!(trace.without_logs().events(), vec![note("a"), note("b")]);
        assert_eq!(trace.len(), 3, "the trace itself keeps its logs");
    }

    #[test]
    fn shared_events_are_the_trace_as_it_was_and_a_later_push_does_not_change_them() {
        let trace = Trace::from_events(vec![note("a")]);
        let shared = trace.shared_events();
        assert_eq!(*shared, trace.events());
        trace.push(note("b"));
        trace.push(log_event("x", &[]));
        assert_eq!(
            *shared,
            vec![note("a")],
            "the copy handed out stays as it was"
        );
        assert_eq!(trace.len(), 3);
        assert_eq!(*trace.shared_events(), trace.events());
        // Shared again and let go: the next push takes the events back without a copy.
        drop(shared);
        trace.push(note("c"));
        assert_eq!(trace.events()[..2], [note("a"), note("b")]);
        assert_eq!(trace.len(), 4);
    }

    #[test]
    fn logs_past_their_limit_are_left_out_with_one_note_and_never_fill_the_trace() {
        let trace = Trace::new();
        let event = log_event("", &[]);
        for _ in 0..MAX_LOG_EVENTS + 10 {
            trace.push(event.clone());
        }
        assert_eq!(trace.len(), MAX_LOG_EVENTS + 1);
        assert!(!trace.is_full(), "logs never end a run");
        let events = trace.events();
        let last = &events[MAX_LOG_EVENTS];
        assert!(
            matches!(&last.kind, EventKind::Note { text } if text.contains("log events, its limit")),
            "{last}"
        );
        assert_eq!((last.host.as_str(), last.who.as_str()), ("client", "c1"));
    }

    #[test]
    fn bad_json_line_names_the_line() {
        let err = Trace::parse_json_lines("\n{\"nope\": 1}\n").unwrap_err();
        assert_eq!(err.line, 2);
        let err = Trace::parse_json_lines("{\"type\":\"event\"}\nnot json\n").unwrap_err();
        assert_eq!(err.line, 1, "an event with no fields is not an event");
        let err = Trace::parse_json_lines("plan:\n").unwrap_err();
        assert!(matches!(err.source, TraceLineError::Json(_)), "{err}");
    }

    #[test]
    fn every_kind_writes_its_tag() {
        let kinds = [
            EventKind::Callback {
                callback: Callback::Closed,
                local: None,
                remote: None,
            },
            EventKind::Fault {
                index: 0,
                step: FaultStep::Healed,
            },
            EventKind::Violation {
                rule: "R6".into(),
                message: String::new(),
            },
            EventKind::Note {
                text: String::new(),
            },
            EventKind::RunEnded {
                ended: Ended::AllFinished,
            },
            EventKind::FinalWritten {
                data: Payload::of(b"x"),
                before: FinalWriteBefore::OwnResult,
            },
            EventKind::Discarded { bytes: 3 },
            EventKind::WriteDropped {
                call: "write".into(),
                bytes: 4,
                phase: "closed".into(),
                after_end: false,
                total: 1,
            },
            EventKind::Muted,
            EventKind::Unmuted,
            EventKind::Assertion {
                name: "n".into(),
                location: "f.rs:1".into(),
                message: String::new(),
            },
            EventKind::Log {
                level: LogLevel::Info,
                target: "t".into(),
                message: String::new(),
                fields: LogFields::default(),
            },
        ];
        assert_eq!(kinds.len(), EventKind::TAGS.len());
        for (kind, tag) in kinds.into_iter().zip(EventKind::TAGS) {
            assert_eq!(kind.tag(), tag);
            let value = serde_json::to_value(&kind).unwrap();
            assert_eq!(value["event"], tag, "{value}");
        }
    }

    /// Bytes queued with `write_final`: a `final_written` event with the data as a callback's
    /// (`len` and `head`), read back with its count and preview, and shown as the note it
    /// was before it had a kind of its own.
    #[test]
    fn final_written_is_an_event_upgrade_older_note_with_its_data() {
        let trace = Trace::from_events(vec![TraceEvent {
            at_us: 1000,
            host: "server".into(),
            who: "server.1".into(),
            kind: EventKind::FinalWritten {
                data: Payload::of(b"got hello"),
                before: FinalWriteBefore::OwnResult,
            },
        }]);
        let json = trace.render_json_lines();
        assert_eq!(
            json,
            concat!(
                r#"{"type":"event","at_us":1000,"host":"server","who":"server.1","#,
                r#""event":"final_written","data":{"len":9,"head":[103,111,116,32,104,101,108,108,111]}}"#,
                "\n"
            )
        );
        assert_eq!(
            trace.render_text(),
            "     1.000ms server server.1 -- write_final(9B \"got hello\"): queued past `sent`\n"
        );
        let back = Trace::parse_json_lines(&json).unwrap();
        assert_eq!(back.render_text(), trace.render_text());
        let data = match &back.events()[0].kind {
            EventKind::FinalWritten { data, .. } => data.clone(),
            other => panic!("read back as {other:?}"),
        };
        assert_eq!(
            (data.len(), data.bytes()),
            (9, None),
            "a summary comes back"
        );
    }

    /// Bytes queued before the result of the `sent` their callback was deferred from: the
    /// JSON field `before_sent_result`, `true`, as when it was a `bool` (absent for the
    /// others, and `false` reads as absent), and the text line's ending.
    #[test]
    fn final_written_before_a_sent_result_is_the_json_field_before_sent_result() {
        let event = |before| TraceEvent {
            at_us: 0,
            host: "client".into(),
            who: "c1".into(),
            kind: EventKind::FinalWritten {
                // As JSON reads it back: a count and a preview.
                data: Payload::summary(b"!"),
                before,
            },
        };
        let json = |before| serde_json::to_string(&event(before)).unwrap();
        let nested = json(FinalWriteBefore::SentResult);
        assert_eq!(
            nested,
            concat!(
                r#"{"at_us":0,"host":"client","who":"c1","event":"final_written","#,
                r#""data":{"len":1,"head":[33]},"before_sent_result":true}"#
            )
        );
        assert!(!json(FinalWriteBefore::OwnResult).contains("before_sent_result"));
        let read = |line: &str| serde_json::from_str::<TraceEvent>(line).unwrap().kind;
        assert_eq!(read(&nested), event(FinalWriteBefore::SentResult).kind);
        let written_false = nested.replace(":true", ":false");
        assert_eq!(
            read(&written_false),
            event(FinalWriteBefore::OwnResult).kind
        );
        assert_eq!(
            event(FinalWriteBefore::SentResult).to_string(),
            "     0.000ms client c1 -- write_final(1B \"!\"): queued past `sent`, \
             before the result of the `sent` it nests in"
        );
    }

    /// Queued bytes a close at once discarded: a `discarded` event with their count, shown as
    /// the note it was before it had a kind of its own.
    #[test]
    fn discarded_is_an_event_upgrade_older_note_with_its_count() {
        let trace = Trace::from_events(vec![TraceEvent {
            at_us: 3000,
            host: "client".into(),
            who: "c1".into(),
            kind: EventKind::Discarded { bytes: 5632 },
        }]);
        let json = trace.render_json_lines();
        assert_eq!(
            json,
            r#"{"type":"event","at_us":3000,"host":"client","who":"c1","event":"discarded","bytes":5632}"#
                .to_string()
                + "\n"
        );
        assert_eq!(
            trace.render_text(),
            "     3.000ms client c1 -- 5632 queued bytes never sent: the connection closed at once \
             and discarded them (the peer's end of stream, a reset, `hard_close`, or \
             `close`/`dispose` while muted)\n"
        );
        let back = Trace::parse_json_lines(&json).unwrap();
        assert_eq!(back.events(), trace.events());
    }

    /// The run's end: a `run_ended` event with how it ended in fields, shown as the note it
    /// was before it had a kind of its own, and read back whole.
    #[test]
    fn run_ended_is_an_event_upgrade_older_note_with_how_it_ended() {
        let ends = [
            (Ended::AllFinished, r#""ended":"all_finished""#),
            (
                Ended::DurationReached {
                    unfinished: vec!["c1".into(), "c2".into()],
                },
                r#""ended":"duration_reached","unfinished":["c1","c2"]"#,
            ),
            (
                Ended::DurationReached {
                    unfinished: Vec::new(),
                },
                r#""ended":"duration_reached","unfinished":[]"#,
            ),
            (
                Ended::Panicked {
                    message: "boom at a.rs:1".into(),
                },
                r#""ended":"panicked","message":"boom at a.rs:1""#,
            ),
            (
                Ended::Failed {
                    message: "trace full".into(),
                },
                r#""ended":"failed","message":"trace full""#,
            ),
        ];
        for (ended, fields) in ends {
            let words = ended.to_string();
            let trace = Trace::from_events(vec![TraceEvent {
                at_us: 7000,
                host: "-".into(),
                who: "-".into(),
                kind: EventKind::RunEnded { ended },
            }]);
            let json = trace.render_json_lines();
            let line = r#"{"type":"event","at_us":7000,"host":"-","who":"-","event":"run_ended","#;
            assert_eq!(json, format!("{line}{fields}}}\n"));
            assert_eq!(
                trace.render_text(),
                format!("     7.000ms - - -- run ended: {words}\n")
            );
            let back = Trace::parse_json_lines(&json).unwrap();
            assert_eq!(back.events(), trace.events());
        }
    }

    /// A JSON trace written before the run's end and discarded bytes had kinds of their own
    /// told of them in notes: read back, they are those kinds, so the checker and the sums
    /// find them; other notes, and notes that only begin as those did, stay notes.
    #[test]
    fn the_notes_of_older_traces_are_read_back_as_the_kinds_they_became() {
        let note = |text: &str| {
            format!(
                r#"{{"type":"event","at_us":5,"host":"-","who":"-","event":"note","text":{text:?}}}"#
            )
        };
        let discarded = "12 queued bytes never sent: the connection closed at once and discarded \
                         them (the peer's end of stream, a reset, `hard_close`, or \
                         `close`/`dispose` while muted)";
        let lines = [
            note("run started: scenario echo, seed 1"),
            note("run ended: duration reached; unfinished: c1, c2"),
            note("run ended: panic: panicked at a.rs:1:2:\nboom"),
            note(discarded),
            note("12 queued bytes never sent: elsewhere"),
            note("run ended: somehow"),
        ];
        let trace = Trace::parse_json_lines(&lines.join("\n")).unwrap();
        let kinds: Vec<EventKind> = trace.events().into_iter().map(|e| e.kind).collect();
        let note = |text: &str| EventKind::Note { text: text.into() };
        assert_eq!(
            kinds,
            [
                note("run started: scenario echo, seed 1"),
                EventKind::RunEnded {
                    ended: Ended::DurationReached {
                        unfinished: vec!["c1".into(), "c2".into()]
                    }
                },
                EventKind::RunEnded {
                    ended: Ended::Panicked {
                        message: "panicked at a.rs:1:2:\nboom".into()
                    }
                },
                EventKind::Discarded { bytes: 12 },
                note("12 queued bytes never sent: elsewhere"),
                note("run ended: somehow"),
            ]
        );
    }

    #[test]
    fn a_reader_skips_other_objects_and_unknown_kinds_and_refuses_a_newer_version() {
        let text = concat!(
            r#"{"type":"run","version":1,"scenario":"echo","seed":1}"#,
            "\n",
            r#"{"type":"event","at_us":1,"host":"h","who":"c1","event":"callback","callback":"closed"}"#,
            "\n",
            r#"{"type":"event","at_us":2,"host":"h","who":"c1","event":"telemetry","level":"INFO"}"#,
            "\n",
            // A trace written before events had a type.
            r#"{"at_us":3,"host":"-","who":"-","event":"note","text":"end"}"#,
            "\n",
            r#"{"type":"verdict","version":1,"passed":true}"#,
            "\n",
        );
        let trace = Trace::parse_json_lines(text).expect("reads");
        assert_eq!(trace.len(), 2, "{}", trace.render_text());
        assert_eq!(trace.events()[1].at_us, 3);

        let newer = r#"{"type":"run","version":2}"#;
        let err = Trace::parse_json_lines(newer).unwrap_err();
        assert!(matches!(err.source, TraceLineError::Version(_)), "{err}");
        assert!(err.to_string().contains("version 2"), "{err}");
    }

    #[test]
    fn a_run_line_gives_its_plan_when_it_is_the_only_one_and_reads() {
        use crate::fault::{Fault, FaultKind};
        use crate::seed::Seed;
        let run = |plan: &str| {
            format!(r#"{{"type":"run","version":1,"scenario":"echo","seed":3,"plan":{plan}}}"#)
        };
        let event = r#"{"type":"event","at_us":1,"host":"h","who":"c1","event":"callback","callback":"closed"}"#;
        let ours = run(r#"{"seed":3,"faults":[{"at_ms":2,"kind":"reset","conn":"c1"}]}"#);
        let newer = run(r#"{"seed":3,"from_a_newer_writer":1}"#);
        let read = |lines: &[&str]| Trace::parse_json_run(&lines.join("\n")).expect("reads");

        let one = read(&[&ours, event]);
        assert_eq!(one.trace.len(), 1);
        let reset = Fault::at(2, FaultKind::Reset { conn: "c1".into() });
        let expected = FaultPlan {
            faults: vec![reset],
            ..FaultPlan::quiet(Seed(3))
        };
        assert_eq!(one.plan, Some(expected));

        // Bare events; two runs one after the other, whose fault indexes could mean either
        // plan; a plan this version cannot read: no plan, and the events as ever.
        for lines in [
            &[event][..],
            &[&ours, event, &ours, event],
            &[&newer, event],
        ] {
            let read = read(lines);
            assert_eq!(read.plan, None, "{lines:?}");
            assert_eq!(read.trace.len(), lines.len().div_ceil(2), "{lines:?}");
        }
    }
}
