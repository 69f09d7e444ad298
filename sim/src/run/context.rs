//! The run context: what code running inside a simulated run reaches without being handed
//! it — the run's shared state ([`run_state`]), its assertions ([`always`], [`sometimes`],
//! [`reachable`]), the callback running now and each connection's counters — and what of it
//! is left when the run ends ([`RunContext`]).
//!
//! A simulation runs on one thread: turmoil runs every host, and every host's tasks, on the
//! thread that steps it. So the runner sets the context in a thread-local for the duration of
//! the run, and every notifier of the run finds the same one, in an order the seed fixes.
//! Each run gets a fresh context: nothing carries over from one run (or seed) to the next.
//!
//! The assertions are those of Antithesis and moonpool: [`always`] is a safety property
//! checked where it matters (one failure fails the run), [`sometimes`] a condition some run
//! of a sweep should meet (proof that the sweep reached a state), [`reachable`] a line some
//! run should reach. Each records into the run's [`Assertions`] by name: how often it was
//! evaluated and held, where it is in the source, and for an `always` where and when it first
//! failed — that failure is also a trace line (`ALWAYS FAILED "name" at file:line: ...`), in
//! the callback that made it. The judge fails the run on a failed `always`, with the
//! assertion's name as the failure's signature; a sweep's coverage counts in how many runs
//! each `sometimes` and `reachable` held, and reports those that never did.
//!
//! Outside a simulated run — a notifier on real tokio sockets — there is no context:
//! [`run_state`] gives `None`, and the assertions record nothing and return `false` (a failed
//! `always` is logged through `tracing` at warn level, and nothing else happens), so a
//! notifier may keep them in production code. [`in_run`] says which is the case.

use super::assert::{Assertion, AssertionFailure, AssertionKind, Assertions};
use super::trace::{now_us, EventKind, Trace, TraceEvent};
use rustc_hash::FxHashMap;
use std::any::{Any, TypeId};
use std::cell::RefCell;
use std::collections::BTreeMap;
use std::fmt;
use std::mem::ManuallyDrop;
use std::panic::Location;
use std::sync::{Arc, Mutex, MutexGuard};
use tcpnotify::record::Name;
use tcpnotify::ConnectionStats;

thread_local! {
    /// The context of the run this thread is stepping, if any.
    static CURRENT: RefCell<Option<Arc<Context>>> = const { RefCell::new(None) };
    /// The callback of that run running now on this thread (see [`Running`]). Without a
    /// destructor: a thread-local with one is checked to be alive at each use (with the
    /// call that does it, some 15 instructions a callback). Nothing is left in it to drop:
    /// each run's guard gives back what the thread had, and a thread starts with none.
    static RUNNING: ManuallyDrop<RefCell<Running>> =
        const { ManuallyDrop::new(RefCell::new(Running::new())) };
}

/// Locks `mutex`, also after a panic elsewhere poisoned it: a panicking notifier ends its run
/// (it is reported), and what it left is still read.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

/// The values of the run's shared state, one per type.
type States = BTreeMap<TypeId, Arc<dyn Any + Send + Sync>>;

/// The callback running now, as the recorder announced it: its host and connection, with
/// the names the recorders share. The names stay when the callback returns, only `inside`
/// changes: the next callback is often the same connection's, and then none changes hands
/// (a callback used to clone both names in and drop both again, under two locks).
///
/// Kept beside [`CURRENT`], per thread, rather than in the [`Context`]: the callbacks of a
/// run run on the thread that steps it, the only one where its context is current (and so
/// the only one where an assertion reaches it), and a thread-local cell is announced to
/// without a lock, on every callback (with a lock, and the names compared as text, it took
/// some 30 instructions a callback more). [`Context::enter`] starts each run with none, and
/// its guard gives the thread back what it had.
struct Running {
    /// The host and connection of the callback running now, or of the last one.
    names: Option<(Name, Name)>,
    /// Whether a callback is running now.
    inside: bool,
}

impl Running {
    const fn new() -> Running {
        Running {
            names: None,
            inside: false,
        }
    }
}

/// The live context of one run (see the module docs).
pub(crate) struct Context {
    /// The run's trace, where assertion failures go.
    trace: Trace,
    states: Mutex<States>,
    assertions: Mutex<Assertions>,
    /// Each connection's counters as of its last callback. Written once per connection, as
    /// its recorder is dropped (the recorder keeps them: written here on every callback they
    /// cost some 130 instructions a callback), taken once, at the end, and then only looked
    /// up by name: a hash map with a deterministic hash (FxHash: no random state, and a few
    /// instructions for a name like `c12` where SipHash took some 170); its order is never
    /// seen. A name used twice (a client of a restarted host) keeps the counters of the
    /// recorder dropped last: the old one went with its host's crash, at a point the seed
    /// fixes. The recorders still alive when the run ends are dropped together, in an order
    /// the seed does not fix (tokio's task ids count across the process), which is safe only
    /// because the names of live connections are unique.
    stats: Mutex<FxHashMap<Name, ConnectionStats>>,
}

impl Context {
    /// The context of a new run recording into `trace`, knowing the sometimes-assertions
    /// `declared` by its scenario before any is evaluated, with room for the counters of
    /// about `connections` connections (a hint: the map grows past it, but a run of 1,000
    /// clients no longer rehashes it a dozen times on the way).
    pub(crate) fn new(trace: Trace, declared: &[String], connections: usize) -> Arc<Context> {
        let mut assertions = Assertions::default();
        for name in declared {
            assertions.declare(name);
        }
        Arc::new(Context {
            trace,
            states: Mutex::new(States::new()),
            assertions: Mutex::new(assertions),
            stats: Mutex::new(FxHashMap::with_capacity_and_hasher(
                connections,
                Default::default(),
            )),
        })
    }

    /// Makes this the context of the calling thread until the guard drops.
    pub(crate) fn enter(self: &Arc<Self>) -> Entered {
        let previous = CURRENT.with(|c| c.replace(Some(self.clone())));
        let running = RUNNING.with(|r| r.replace(Running::new()));
        Entered { previous, running }
    }

    /// Runs `f` with the calling thread's context, if it is in a run.
    fn with_current<R>(f: impl FnOnce(&Context) -> R) -> Option<R> {
        CURRENT.with(|c| c.borrow().as_deref().map(f))
    }

    /// A callback of `who` on `host` starts: what happens until [`callback_ended`] happens
    /// in it. Called on the thread that steps the run, as every callback of a run is (see
    /// [`Running`]).
    ///
    /// [`callback_ended`]: Self::callback_ended
    pub(crate) fn callback_started(&self, host: &Name, who: &Name) {
        RUNNING.with(|running| {
            let mut running = running.borrow_mut();
            // The same names as the last callback's, or new ones: compared as shared text,
            // not as text (a name of equal text made apart is simply taken in).
            let same = |a: &Name, b: &Name| std::ptr::eq(a.as_str(), b.as_str());
            match &running.names {
                Some((h, w)) if same(h, host) && same(w, who) => {}
                _ => running.names = Some((host.clone(), who.clone())),
            }
            running.inside = true;
        });
    }

    /// The callback announced last returned.
    pub(crate) fn callback_ended(&self) {
        RUNNING.with(|running| running.borrow_mut().inside = false);
    }

    /// The host and connection of the callback running now on this thread, or `-` and `-`
    /// outside one.
    fn running(&self) -> (Name, Name) {
        RUNNING.with(|running| match &*running.borrow() {
            Running {
                names: Some((host, who)),
                inside: true,
            } => (host.clone(), who.clone()),
            _ => ("-".into(), "-".into()),
        })
    }

    /// Keeps `stats` as connection `who`'s counters (from its last callback), as its recorder
    /// is dropped.
    pub(crate) fn record_stats(&self, who: &Name, stats: ConnectionStats) {
        // Once per connection, and its name mostly new here: inserted with one hash (looked
        // up first to spare a clone of the name, it was hashed twice).
        lock(&self.stats).insert(who.clone(), stats);
    }

    /// The shared value of type `T`, made with `T::default()` on first use.
    fn state<T: Default + Send + 'static>(&self) -> SharedState<T> {
        let mut states = lock(&self.states);
        let id = TypeId::of::<T>();
        // Keyed by the type's id, the value found is of that type.
        if let Some(value) = states.get(&id).and_then(|v| v.clone().downcast().ok()) {
            return SharedState(value);
        }
        let value = Arc::new(Mutex::new(T::default()));
        states.insert(id, value.clone());
        SharedState(value)
    }

    /// What the run leaves: its shared state, assertions and counters.
    pub(crate) fn finish(&self) -> RunContext {
        RunContext {
            states: lock(&self.states).clone(),
            assertions: lock(&self.assertions).clone(),
            // Taken, not copied: a run ends once, and copying every connection's name into a
            // sorted map cost as much as all the writes did. Only looked up by name.
            stats: std::mem::take(&mut lock(&self.stats)),
        }
    }
}

/// The thread's context until this drops (see [`Context::enter`]).
pub(crate) struct Entered {
    previous: Option<Arc<Context>>,
    running: Running,
}

impl Drop for Entered {
    fn drop(&mut self) {
        let previous = self.previous.take();
        CURRENT.with(|c| *c.borrow_mut() = previous);
        let running = std::mem::replace(&mut self.running, Running::new());
        RUNNING.with(|r| *r.borrow_mut() = running);
    }
}

/// Whether the calling code runs inside a simulated run (a notifier's callback, a task of a
/// simulated host): where [`run_state`] and the assertions reach the run. `false` on real
/// sockets.
///
/// ```
/// assert!(!tcpnotify_sim::in_run());
/// ```
pub fn in_run() -> bool {
    Context::with_current(|_| ()).is_some()
}

/// The current run's shared value of type `T`, made with `T::default()` the first time any
/// code of the run asks for it, and the same for every notifier of the run; a new run starts
/// from a new default. For application-level facts that no single connection sees ("every
/// order was acknowledged exactly once"): notifiers write them, and properties read them at
/// the end ([`RunView::state`](crate::judge::RunView::state)).
///
/// `None` outside a simulated run (on real sockets), where there is no run to share with.
///
/// ```
/// #[derive(Default)]
/// struct Orders(Vec<u32>);
/// // Outside a run there is nothing to share:
/// assert!(tcpnotify_sim::run_state::<Orders>().is_none());
/// ```
pub fn run_state<T: Default + Send + 'static>() -> Option<SharedState<T>> {
    Context::with_current(|context| context.state::<T>())
}

/// A run's shared value of type `T` (see [`run_state`]): cloning shares it.
pub struct SharedState<T>(Arc<Mutex<T>>);

impl<T> SharedState<T> {
    /// The value, to read or change. A simulation runs on one thread: nothing else holds it
    /// while a callback does, unless that callback still holds an earlier guard.
    pub fn lock(&self) -> MutexGuard<'_, T> {
        lock(&self.0)
    }
}

impl<T> Clone for SharedState<T> {
    fn clone(&self) -> Self {
        SharedState(self.0.clone())
    }
}

impl<T: fmt::Debug> fmt::Debug for SharedState<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("SharedState").field(&*self.lock()).finish()
    }
}

/// What a run left in its context: the shared state its notifiers wrote, its assertions, and
/// each connection's counters as of its last callback. Part of every
/// [`RunOutcome`](super::RunOutcome); properties see it through
/// [`RunView`](crate::judge::RunView).
#[derive(Clone, Default)]
pub struct RunContext {
    states: States,
    assertions: Assertions,
    stats: FxHashMap<Name, ConnectionStats>,
}

impl RunContext {
    /// The run's shared value of type `T`, if any code of the run asked for it.
    pub fn state<T: Send + 'static>(&self) -> Option<SharedState<T>> {
        let value = self.states.get(&TypeId::of::<T>())?.clone();
        value.downcast::<Mutex<T>>().ok().map(SharedState)
    }

    /// Every assertion evaluated in the run, and every sometimes-assertion its scenario
    /// declared, by name.
    pub fn assertions(&self) -> &Assertions {
        &self.assertions
    }

    /// The assertion called `name`, if the run evaluated or declared one.
    pub fn assertion(&self, name: &str) -> Option<&Assertion> {
        self.assertions.get(name)
    }

    /// Connection `who`'s counters as of its last callback (writes dropped, bytes sent and
    /// received), if it had a callback with the connection.
    pub fn stats(&self, who: &str) -> Option<ConnectionStats> {
        self.stats.get(who).copied()
    }
}

impl fmt::Debug for RunContext {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RunContext")
            .field("states", &self.states.len())
            .field("assertions", &self.assertions)
            .field("connections", &self.stats.len())
            .finish()
    }
}

/// Records one evaluation into the current run; `false` outside one.
fn record(
    kind: AssertionKind,
    name: &str,
    held: bool,
    location: &Location<'_>,
    details: impl FnOnce() -> String,
) -> bool {
    // Formatted at most once, for a failure, inside a run or out.
    let mut details = Some(details);
    let mut details = move || details.take().map(|d| d()).unwrap_or_default();
    let recorded = Context::with_current(|context| {
        let first_failure = {
            let mut assertions = lock(&context.assertions);
            assertions.evaluate(kind, name, location, held).1
        };
        if !first_failure {
            return;
        }
        let (host, who) = context.running();
        let (at_us, message) = (now_us(), details());
        let location = format!("{}:{}", location.file(), location.line());
        // A full trace leaves the event out: then it has no line (the length would name the
        // last line kept, another event's).
        let before = context.trace.len();
        context.trace.push(TraceEvent {
            at_us,
            host: host.clone(),
            who: who.clone(),
            kind: EventKind::Assertion {
                name: name.to_string(),
                location,
                message: message.clone(),
            },
        });
        let line = Some(context.trace.len()).filter(|after| *after > before);
        let mut assertions = lock(&context.assertions);
        if let Some(assertion) = assertions.get_mut(name) {
            assertion.first_failure = Some(AssertionFailure {
                at_us,
                host: host.to_string(),
                who: who.to_string(),
                message,
                line,
            });
        }
    });
    match recorded {
        Some(()) => true,
        None => {
            if kind == AssertionKind::Always && !held {
                tracing::warn!(
                    assertion = name,
                    details = details(),
                    "always-assertion failed outside a simulated run (not recorded)"
                );
            } else {
                tracing::debug!(
                    assertion = name,
                    %kind,
                    "assertion outside a simulated run: not recorded"
                );
            }
            false
        }
    }
}

/// Asserts that `condition` holds every time this line runs, in every run. The first failure
/// in a run is a trace line — when, on which host, in which connection's callback, where in
/// the source, with `details` — and fails the run with the signature `name` (shrinking keeps
/// it). `details` is only formatted on a failure.
///
/// Returns whether it was recorded into a simulated run: `false` outside one, where it does
/// nothing but log a failure (see the module docs).
///
/// ```
/// // On real sockets, or in a plain test: harmless, and it says so.
/// assert!(!tcpnotify_sim::always("balance-never-negative", 1 + 1 == 2, "never shown"));
/// ```
#[track_caller]
pub fn always(name: &str, condition: bool, details: impl fmt::Display) -> bool {
    let location = Location::caller();
    record(AssertionKind::Always, name, condition, location, || {
        details.to_string()
    })
}

/// Asserts that `condition` holds at least once across a sweep: evidence that the runs reach
/// an interesting state (a reconnect, a retry, a full window). A run never fails on it; a
/// sweep's coverage reports each that never held, and
/// [`Chaos::require_sometimes`](crate::Chaos::require_sometimes) makes that a failure.
///
/// Returns whether it was recorded into a simulated run (`false` outside one).
#[track_caller]
pub fn sometimes(name: &str, condition: bool) -> bool {
    let location = Location::caller();
    record(
        AssertionKind::Sometimes,
        name,
        condition,
        location,
        String::new,
    )
}

/// Marks a line that some run of a sweep should reach: [`sometimes`] with a condition that
/// holds whenever it runs. A `reachable` that no run reached is only known if the scenario
/// declares it ([`Scenario::sometimes`](crate::Scenario::sometimes)).
///
/// Returns whether it was recorded into a simulated run (`false` outside one).
#[track_caller]
pub fn reachable(name: &str) -> bool {
    let location = Location::caller();
    record(AssertionKind::Reachable, name, true, location, String::new)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_assertion_names_the_callback_running_on_its_thread_and_only_inside_it() {
        let context = Context::new(Trace::new(), &[], 1);
        let entered = context.enter();
        let (host, who) = (Name::from("client"), Name::from("c1"));
        assert_eq!(context.running(), ("-".into(), "-".into()));
        context.callback_started(&host, &who);
        assert_eq!(context.running(), (host.clone(), who.clone()));
        context.callback_ended();
        assert_eq!(context.running(), ("-".into(), "-".into()));
        context.callback_started(&host, &Name::from("c2"));
        // A run entered inside starts with none running, and gives this one back.
        let inner = Context::new(Trace::new(), &[], 1);
        let nested = inner.enter();
        assert_eq!(inner.running(), ("-".into(), "-".into()));
        drop(nested);
        assert_eq!(context.running(), (host, Name::from("c2")));
        drop(entered);
    }

    #[derive(Debug, Default)]
    struct Orders(Vec<u32>);

    /// Inside a run its code shares one value of each type, and what the run leaves holds
    /// that value, its assertions (declared and evaluated) and each connection's last
    /// counters; outside a run there is nothing to share.
    #[test]
    fn a_run_leaves_its_shared_state_assertions_and_counters() {
        assert!(!in_run());
        assert!(run_state::<Orders>().is_none());
        let declared = ["reconnected".to_string()];
        let context = Context::new(Trace::new(), &declared, 1);
        let entered = context.enter();
        assert!(in_run());
        let state = run_state::<Orders>().expect("a run shares state");
        state.lock().0.push(7);
        let again = run_state::<Orders>().expect("a run shares state");
        assert_eq!(again.lock().0, [7], "one value of a type for the whole run");
        assert_eq!(format!("{again:?}"), "SharedState(Orders([7]))");
        assert!(always("positive", true, "never shown"));
        assert!(sometimes("reconnected", true));
        assert!(reachable("retried"));
        let mut stats = ConnectionStats::default();
        stats.bytes_sent = 5;
        context.record_stats(&Name::from("c1"), stats);
        drop(entered);
        assert!(!in_run());

        let left = context.finish();
        assert_eq!(left.state::<Orders>().expect("written").lock().0, [7]);
        assert!(left.state::<u64>().is_none(), "no code asked for it");
        let names: Vec<&str> = left.assertions().iter().map(|a| a.name.as_str()).collect();
        assert_eq!(names, ["positive", "reconnected", "retried"]);
        let kind_and_held = |name| {
            left.assertion(name)
                .map(|a| (a.kind, a.evaluations, a.held))
        };
        assert_eq!(
            kind_and_held("positive"),
            Some((AssertionKind::Always, 1, 1))
        );
        assert_eq!(
            kind_and_held("reconnected"),
            Some((AssertionKind::Sometimes, 1, 1))
        );
        assert_eq!(
            kind_and_held("retried"),
            Some((AssertionKind::Reachable, 1, 1))
        );
        assert_eq!(left.stats("c1"), Some(stats));
        assert_eq!(left.stats("c2"), None);
        let shown = format!("{left:?}");
        assert!(
            shown.starts_with("RunContext { states: 1, assertions: "),
            "{shown}"
        );
        assert!(shown.ends_with(", connections: 1 }"), "{shown}");
    }

    /// Outside a run only a failed `always` is a warning (a notifier may keep its assertions
    /// in production code); a held one, and a `sometimes` either way, log at debug level.
    #[test]
    fn outside_a_run_only_a_failed_always_warns() {
        use super::super::log_capture::LogCapture;
        use super::super::log_line::LogLevel;
        use crate::scenario::LogFilter;
        // The run's own capture of `tracing` events, here with no run entered.
        let logged = Trace::new();
        let filter = LogFilter::new("tcpnotify_sim=debug").expect("a valid filter");
        LogCapture::new(&filter, &logged).during(|| {
            assert!(!always("failed", false, "shown"));
            assert!(!always("held", true, "not shown"));
            assert!(!sometimes("not yet", false));
            assert!(!reachable("not recorded"));
        });
        let levels: Vec<LogLevel> = (logged.events().into_iter())
            .filter_map(|e| match e.kind {
                EventKind::Log { level, .. } => Some(level),
                _ => None,
            })
            .collect();
        let (warn, debug) = (LogLevel::Warn, LogLevel::Debug);
        assert_eq!(levels, [warn, debug, debug, debug]);
    }
}
