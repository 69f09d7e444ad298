//! The order in which a crash ends a host's connections.
//!
//! turmoil crashes (and restarts) a host by dropping its tokio runtime, and tokio drops a
//! runtime's unfinished tasks shard by shard, a task's shard being its id modulo the number
//! of shards. Task ids count every task the process ever started, so the same run, made
//! again in the same process (as a sweep does), ended a crashed host's connections in
//! another order, and sent their FINs and resets, woke their peers and freed their ports in
//! another order: its trace could differ from the run's in a fresh process.
//!
//! [`Teardown`] takes that order from tokio. Every task the stack starts on a simulated host
//! (a connection's, a listener's, a scenario's client) is started through it, as a tokio task
//! as before, so it is scheduled among its user's tasks as before. While a crash or restart
//! drops the runtime ([`Teardown::crashing`]) of a host whose software holds a guard
//! ([`Teardown::guard`]), a dropped task's future is kept rather than dropped, and the guard,
//! dropped with the software after the runtime and still inside the crash, drops the kept
//! ones in the order they started.
//!
//! What a user's own notifier starts with `tokio::spawn` is not covered: a crash still ends
//! such tasks in tokio's order.

use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll};
use tcpnotify::BoxFuture;

/// One run's tasks, numbered as they start, and those a crash dropped, until they are ended
/// in that order.
///
/// A simulation of your own over [`TurmoilNetwork`](crate::run::TurmoilNetwork) gets the same
/// order by giving each host's software the network's guard and crashing through it:
///
/// ```
/// use std::sync::Arc;
/// use tcpnotify_sim::run::TurmoilNetwork;
///
/// let mut sim = turmoil::Builder::new().build();
/// let network = TurmoilNetwork::new("server", Arc::default(), Arc::default());
/// let teardown = network.teardown().clone();
/// sim.host("server", move || {
///     // Moved into the software, so dropped with it, after the runtime's tasks.
///     let guard = teardown.guard("server");
///     async move {
///         let _guard = guard;
///         // ... listeners and connections built on `network.on_host("server")` ...
///         std::future::pending::<()>().await;
///         Ok(())
///     }
/// });
/// sim.step().unwrap();
/// network.teardown().crashing("server", || sim.crash("server"));
/// ```
#[derive(Default)]
pub struct Teardown {
    /// The number the next task takes.
    started: AtomicU64,
    /// Whether a crash or restart is dropping the runtime of a host that holds a guard now.
    crashing: AtomicBool,
    /// The hosts whose software holds a guard, each with how many of its guards live.
    guarded: Mutex<BTreeMap<String, usize>>,
    /// Tasks the runtime dropped during the crash, by number, still to be dropped.
    dropped: Mutex<BTreeMap<u64, BoxFuture<'static, ()>>>,
}

impl Teardown {
    /// Starts `task` on the current runtime with `tokio::spawn`.
    pub fn spawn(self: &Arc<Self>, task: impl Future<Output = ()> + Send + 'static) {
        let number = self.started.fetch_add(1, Ordering::Relaxed);
        tokio::spawn(Numbered {
            number,
            task: Some(Box::pin(task)),
            teardown: self.clone(),
        });
    }

    /// Runs `crash`, which drops the runtime of `host` (turmoil's `crash` or `bounce` of it).
    /// If the host's software holds a [`guard`](Self::guard), the tasks the crash drops are
    /// kept for the guard to end in the order they started, when turmoil drops the software
    /// after the runtime, still inside the crash. A host without one has its tasks dropped as
    /// tokio drops them: inside the crash, where a dropped socket still tells turmoil it
    /// closed, but in tokio's order. (Kept with no guard to end them, they would be dropped
    /// after the crash, outside turmoil's world, where a socket's port stays bound and its
    /// peer hears nothing.)
    pub fn crashing<R>(&self, host: &str, crash: impl FnOnce() -> R) -> R {
        let guarded = self.guarded().get(host).is_some_and(|n| *n > 0);
        self.crashing.store(guarded, Ordering::Relaxed);
        let result = crash();
        self.crashing.store(false, Ordering::Relaxed);
        // Nothing is kept past its guard; this only frees what a guard left (none does).
        self.end_dropped();
        result
    }

    /// What the software of `host` holds for as long as it runs: dropped with the software,
    /// which turmoil drops after the runtime's tasks, it ends the tasks a crash of `host`
    /// dropped.
    pub fn guard(self: &Arc<Self>, host: &str) -> TeardownGuard {
        *self.guarded().entry(host.to_string()).or_insert(0) += 1;
        TeardownGuard {
            teardown: self.clone(),
            host: host.to_string(),
        }
    }

    fn guarded(&self) -> MutexGuard<'_, BTreeMap<String, usize>> {
        // Counts, whole after any panic.
        self.guarded.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Drops the kept tasks, oldest first. One at a time, with nothing locked: dropping a
    /// task may drop anything, including tasks of ours.
    fn end_dropped(&self) {
        loop {
            let Some((_, task)) = self.lock().pop_first() else {
                return;
            };
            drop(task);
        }
    }

    fn lock(&self) -> MutexGuard<'_, BTreeMap<u64, BoxFuture<'static, ()>>> {
        // A map of boxes, whole after any panic: nothing in it is left half done.
        self.dropped.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Held by a host's software: see [`Teardown::guard`].
pub struct TeardownGuard {
    teardown: Arc<Teardown>,
    host: String,
}

impl Drop for TeardownGuard {
    fn drop(&mut self) {
        self.teardown.end_dropped();
        if let Some(n) = self.teardown.guarded().get_mut(&self.host) {
            *n = n.saturating_sub(1);
        }
    }
}

/// A task started through a [`Teardown`], with its number. Boxed: a dropped task's future
/// moves to the teardown's map, and only a box can move once its future was polled.
struct Numbered {
    number: u64,
    /// `None` once the task finished.
    task: Option<BoxFuture<'static, ()>>,
    teardown: Arc<Teardown>,
}

impl Future for Numbered {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let Some(task) = self.task.as_mut() else {
            return Poll::Ready(());
        };
        let finished = task.as_mut().poll(cx);
        if finished.is_ready() {
            self.task = None;
        }
        finished
    }
}

impl Drop for Numbered {
    fn drop(&mut self) {
        if let Some(task) = self.task.take() {
            if self.teardown.crashing.load(Ordering::Relaxed) {
                self.teardown.lock().insert(self.number, task);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ops::Range;
    use tokio::runtime::Runtime;

    /// The numbers of the tasks dropped so far, in the order they were.
    type Ended = Arc<Mutex<Vec<u64>>>;

    /// Pushes its number to a shared list when dropped.
    struct Noted(u64, Ended);

    impl Drop for Noted {
        fn drop(&mut self) {
            self.1.lock().unwrap().push(self.0);
        }
    }

    /// A runtime on which `teardown` started a task per number, each pending for ever and
    /// noting its number in `ended` when dropped, and one task that finished.
    fn started(teardown: &Arc<Teardown>, numbers: Range<u64>, ended: &Ended) -> Runtime {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        runtime.block_on(async {
            for n in numbers {
                let noted = Noted(n, ended.clone());
                teardown.spawn(async move {
                    let _noted = noted;
                    std::future::pending::<()>().await;
                });
            }
            let (tx, rx) = tokio::sync::oneshot::channel();
            teardown.spawn(async move {
                let _ = tx.send(());
            });
            rx.await.unwrap();
        });
        runtime
    }

    #[test]
    fn a_crash_ends_the_tasks_it_drops_in_the_order_they_started_at_the_guards_drop() {
        let teardown = Arc::new(Teardown::default());
        let ended = Ended::default();
        let runtime = started(&teardown, 0..40, &ended);
        let guard = teardown.guard("server");
        teardown.crashing("server", || {
            drop(runtime);
            assert!(ended.lock().unwrap().is_empty(), "kept, not dropped");
            drop(guard);
        });
        // The finished task was not kept: only the 40 pending ones, in order.
        assert_eq!(*ended.lock().unwrap(), (0..40).collect::<Vec<_>>());
    }

    #[test]
    fn outside_a_crash_a_dropped_task_is_dropped_at_once() {
        let teardown = Arc::new(Teardown::default());
        let ended = Ended::default();
        drop(started(&teardown, 7..8, &ended));
        assert_eq!(*ended.lock().unwrap(), [7]);
        assert!(teardown.lock().is_empty());
    }

    #[test]
    fn a_crash_of_a_host_without_a_guard_drops_its_tasks_inside_the_crash() {
        let teardown = Arc::new(Teardown::default());
        let ended = Ended::default();
        // Another host's guard, and one of this host's software that is gone.
        let _other = teardown.guard("other");
        drop(teardown.guard("server"));
        let runtime = started(&teardown, 0..3, &ended);
        teardown.crashing("server", || {
            drop(runtime);
            let mut dropped = ended.lock().unwrap().clone();
            dropped.sort();
            assert_eq!(dropped, [0, 1, 2], "dropped inside the crash");
        });
        assert!(teardown.lock().is_empty());
    }
}
