//! `tracing` at simulated time: while a run's loop goes, a subscriber of the run's own
//! records every `tracing` event its [`LogFilter`] lets through into the run's trace, as an
//! [`EventKind::Log`] line stamped with simulated time, host and connection.
//!
//! turmoil polls every host on the thread that steps the simulation, so a subscriber set as
//! that thread's default for the duration of the loop (`tracing::dispatcher::with_default`)
//! sees every event of the run and none of another run on another thread (a sweep's other
//! workers). With the filter off no subscriber is made at all, and a disabled `tracing`
//! call site costs a load and a compare.
//!
//! Where an event happened is read from the spans it is in:
//! - the host from turmoil's `node{name}` span, which turmoil enters around each host's poll;
//! - the connection from tcpnotify's `callback{who}` span, which the recorders enter around
//!   each callback ([`tcpnotify::spans::CALLBACK`]), or else from the task span it is in
//!   ([`tcpnotify::spans::CONNECTION`], [`tcpnotify::spans::LISTENER`]), which learns its
//!   name from the first callback span opened inside it: what the core crate logs between
//!   callbacks (`read failed; closing`) names its connection too;
//! - the time from turmoil's clock of the host being polled, or, between polls, from the run
//!   loop's clock ([`LogCapture::set_now`]); never a host's clock outside its poll, which
//!   reads the machine's time.
//!
//! Other spans are recorded only if the filter enables them, and only to find these.

use super::log_line::LogFields;
use super::trace::{sim_now_us, EventKind, Trace, TraceEvent};
use crate::scenario::LogFilter;
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use tcpnotify::record::Name;
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id};
use tracing::subscriber::NoSubscriber;
use tracing::{Dispatch, Event, Metadata, Subscriber};
use tracing_subscriber::filter::{filter_fn, FilterExt};
use tracing_subscriber::layer::{Context, Layer, SubscriberExt};
use tracing_subscriber::registry::{LookupSpan, Registry};

/// turmoil's span around each poll of a host, and the field that names the host.
const TURMOIL_NODE: (&str, &str) = ("node", "name");

/// The recorders' field that names a callback's connection or listener.
const WHO: &str = "who";

/// What a span tells about where an event happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Place {
    /// turmoil's span around a host's poll.
    Host,
    /// A recorder's span around one callback.
    Callback,
    /// tcpnotify's span around a connection's or a listener's task.
    Task,
}

impl Place {
    /// What a span of `meta` tells, if anything.
    fn of(meta: &Metadata<'_>) -> Option<Place> {
        let target = meta.target();
        if target == "tcpnotify" || target.starts_with("tcpnotify::") {
            match meta.name() {
                tcpnotify::spans::CALLBACK => Some(Place::Callback),
                tcpnotify::spans::CONNECTION | tcpnotify::spans::LISTENER => Some(Place::Task),
                _ => None,
            }
        } else if target.starts_with("turmoil") && meta.name() == TURMOIL_NODE.0 {
            Some(Place::Host)
        } else {
            None
        }
    }
}

/// The host a turmoil `node` span names.
struct HostName(Name);

/// The connection or listener a callback span names, or that a task span learned from its
/// first callback span.
struct Who(Name);

/// Records a run's `tracing` events into its trace: see the module doc. Cloning shares it.
#[derive(Clone)]
pub(crate) struct LogCapture {
    /// The run's subscriber; `None` when the filter is off.
    dispatch: Option<Dispatch>,
    /// The run loop's simulated time, in µs: the time of events logged between host polls.
    loop_us: Arc<AtomicU64>,
}

impl LogCapture {
    /// The capture of the events `filter` lets through into `trace`.
    pub(crate) fn new(filter: &LogFilter, trace: &Trace) -> LogCapture {
        let loop_us = Arc::new(AtomicU64::new(0));
        let dispatch = filter.env_filter().map(|env| {
            keep_a_second_dispatcher_registered();
            let layer = TraceLayer {
                trace: trace.clone(),
                loop_us: loop_us.clone(),
            };
            // The spans that tell where an event happened are recorded whatever the filter
            // says, so that `my_notifier=info` alone still finds each event's connection.
            let places = filter_fn(|meta| meta.is_span() && Place::of(meta).is_some());
            Dispatch::new(Registry::default().with(layer.with_filter(env.or(places))))
        });
        LogCapture { dispatch, loop_us }
    }

    /// Runs `f` with this capture's subscriber as the thread's default (just `f` when the
    /// filter is off).
    pub(crate) fn during<R>(&self, f: impl FnOnce() -> R) -> R {
        match &self.dispatch {
            Some(dispatch) => tracing::dispatcher::with_default(dispatch, f),
            None => f(),
        }
    }

    /// Sets the run loop's simulated time, the time of events logged outside a host's poll.
    pub(crate) fn set_now(&self, at_us: u64) {
        self.loop_us.store(at_us, Ordering::Relaxed);
    }
}

/// Works around tokio-rs/tracing#3611 (and #2874): while exactly one dispatcher is registered
/// in the process, tracing-core 0.1 computes a call site's interest, when a thread first hits
/// it, from that thread's default dispatcher alone. A sweep worker that records nothing would
/// then switch a call site off for good while a run on another thread records, and that run
/// would lose the event: its trace would depend on what other threads did first. With a
/// second dispatcher registered (one that wants nothing, kept for the life of the process),
/// tracing-core asks every registered dispatcher instead.
fn keep_a_second_dispatcher_registered() {
    static SECOND: OnceLock<Dispatch> = OnceLock::new();
    SECOND.get_or_init(|| Dispatch::new(NoSubscriber::default()));
}

/// The layer that turns events into trace lines.
struct TraceLayer {
    trace: Trace,
    loop_us: Arc<AtomicU64>,
}

impl<S: Subscriber + for<'a> LookupSpan<'a>> Layer<S> for TraceLayer {
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        let Some(span) = ctx.span(id) else {
            return;
        };
        match Place::of(attrs.metadata()) {
            Some(Place::Host) => {
                if let Some(host) = field_text(attrs, TURMOIL_NODE.1) {
                    span.extensions_mut().replace(HostName(host));
                }
            }
            Some(Place::Callback) => {
                let Some(who) = field_text(attrs, WHO) else {
                    return;
                };
                // The task this callback runs in learns its name from its first callback.
                if let Some(task) = span.parent() {
                    if Place::of(task.metadata()) == Some(Place::Task) {
                        let mut extensions = task.extensions_mut();
                        if extensions.get_mut::<Who>().is_none() {
                            extensions.insert(Who(who.clone()));
                        }
                    }
                }
                span.extensions_mut().replace(Who(who));
            }
            Some(Place::Task) | None => {}
        }
    }

    fn on_event(&self, event: &Event<'_>, ctx: Context<'_, S>) {
        let (mut host, mut who) = (None, None);
        for span in ctx.event_scope(event).into_iter().flatten() {
            let place = Place::of(span.metadata());
            let extensions = span.extensions();
            if host.is_none() {
                host = extensions.get::<HostName>().map(|h| h.0.clone());
            }
            // The innermost callback or task span decides: an accepted connection's task
            // that has not had a callback yet is not its listener.
            if who.is_none() && matches!(place, Some(Place::Callback | Place::Task)) {
                who = Some(extensions.get::<Who>().map(|w| w.0.clone()));
            }
            if host.is_some() && who.is_some() {
                break;
            }
        }
        let mut fields = EventFields::default();
        event.record(&mut fields);
        let meta = event.metadata();
        // A host's clock only inside its poll: outside it (turmoil's own `Crash` and `Bounce`,
        // logged while it crashes or restarts a host) the host's clock reads tokio's time
        // with no runtime entered, the machine's own, and the run loop's clock is the time.
        let loop_us = || self.loop_us.load(Ordering::Relaxed);
        let at_us = match host {
            Some(_) => sim_now_us().unwrap_or_else(loop_us),
            None => loop_us(),
        };
        self.trace.push(TraceEvent {
            at_us,
            host: host.unwrap_or_else(|| "-".into()),
            who: who.flatten().unwrap_or_else(|| "-".into()),
            kind: EventKind::Log {
                level: (*meta.level()).into(),
                target: meta.target().to_string(),
                message: fields.message,
                fields: LogFields(fields.others),
            },
        });
    }
}

/// The value of the field `name` of a new span, as text: a [`Name`] made straight from it.
fn field_text(attrs: &Attributes<'_>, name: &str) -> Option<Name> {
    /// Keeps the value of one field.
    struct One<'a> {
        name: &'a str,
        value: Option<Name>,
    }
    impl Visit for One<'_> {
        fn record_str(&mut self, field: &Field, value: &str) {
            if field.name() == self.name {
                self.value = Some(value.into());
            }
        }
        fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
            if field.name() == self.name {
                self.value = Some(format!("{value:?}").into());
            }
        }
    }
    let mut one = One { name, value: None };
    attrs.record(&mut one);
    one.value
}

/// An event's message and its other fields as text, in the order the event names them: a
/// string as it is, anything else as `Debug` shows it (which for a number, a `%value` and an
/// error is its `Display`).
#[derive(Default)]
struct EventFields {
    message: String,
    others: Vec<(String, String)>,
}

impl EventFields {
    fn keep(&mut self, field: &Field, value: String) {
        match field.name() {
            "message" => self.message = value,
            name => self.others.push((name.to_string(), value)),
        }
    }
}

impl Visit for EventFields {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.keep(field, value.to_string());
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.keep(field, format!("{value:?}"));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One call site, hit from any thread.
    fn log(text: &str) {
        tracing::info!(target: "cold_call_site", "{text}");
    }

    #[test]
    fn a_call_site_first_hit_by_a_thread_that_records_nothing_still_records_in_a_run() {
        let trace = Trace::new();
        let filter = LogFilter::new("cold_call_site=info").unwrap();
        let capture = LogCapture::new(&filter, &trace);
        // Another thread, with no subscriber, is the first to hit the call site.
        std::thread::spawn(|| log("elsewhere")).join().unwrap();
        capture.during(|| log("in the run"));
        let messages: Vec<String> = (trace.events().into_iter())
            .filter_map(|e| match e.kind {
                EventKind::Log { message, .. } => Some(message),
                _ => None,
            })
            .collect();
        assert_eq!(messages, ["in the run"]);
    }

    #[test]
    fn an_off_filter_makes_no_subscriber() {
        let trace = Trace::new();
        let capture = LogCapture::new(&LogFilter::off(), &trace);
        assert!(capture.dispatch.is_none());
        capture.during(|| log("nobody listens"));
        assert!(trace.is_empty());
    }
}
