//! Whether a stream's next read may find anything new ([`Readiness`]).
//!
//! A connection asks its socket for data after every pass of its turn loop, so most of its reads
//! come right after one that waited, with nothing arrived in between. Through the fault layer
//! each such read costs two lock round trips and a backend poll. The waker a
//! [`FaultyStream`](super::FaultyStream) hands everything it waits on (its backend, the layer's
//! partitions, resets and flow window, its FIN timer) therefore notes every wake before
//! passing it on to the task's: a read that waited, and was not woken since, waits again at once.
//! Nothing that was waited on has changed, and the waker is already registered everywhere; a
//! read that waits draws nothing from the stream's random streams, so skipping it moves no
//! chunk boundary. One case differs from asking: a read that waited because the task's tokio
//! budget ran out (the backend's channel defers its wake until the runtime parks) is not asked
//! again by a later poll of the same task before that wake, where the backend, with a fresh
//! budget, might have given data. The read is only later, never lost (the deferred wake sets
//! the flag), and it stays a function of the seed (no snapshot changed with the skip).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::{Wake, Waker};

/// The wake flag of one stream, shared with the waker it hands out.
struct Flag {
    /// Set by every wake, and by a read that found something; cleared by the read that asks.
    woken: AtomicBool,
    /// The task polling the stream.
    task: Waker,
}

impl Wake for Flag {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.woken.store(true, Ordering::SeqCst);
        self.task.wake_by_ref();
    }
}

/// One stream's waker for what it waits on, and whether its next read may find anything new.
pub(super) struct Readiness {
    /// The flag of the task that polls the stream, and it as a waker (made once per task
    /// rather than once per poll); none before the first poll.
    current: Option<(Arc<Flag>, Waker)>,
}

impl Readiness {
    /// A stream's, before its first read (which asks).
    pub(super) fn new() -> Self {
        Readiness { current: None }
    }

    /// The waker to hand whatever a poll by `task` waits on. Another task's poll starts afresh:
    /// what waited before registered the old one, so its next read asks.
    pub(super) fn waker(&mut self, task: &Waker) -> Waker {
        match &self.current {
            Some((flag, waker)) if flag.task.will_wake(task) => waker.clone(),
            _ => {
                let flag = Arc::new(Flag {
                    woken: AtomicBool::new(true),
                    task: task.clone(),
                });
                let waker = Waker::from(flag.clone());
                self.current = Some((flag, waker.clone()));
                waker
            }
        }
    }

    /// For a read by `task`: the waker to hand what it waits on, or none if the read would
    /// find nothing new (the last read waited and nothing woke the stream since). Asking
    /// clears the flag, so a wake during that read counts for the next.
    pub(super) fn read_waker(&mut self, task: &Waker) -> Option<Waker> {
        if let Some((flag, waker)) = &self.current {
            if flag.task.will_wake(task) {
                // The waker is cloned only for a read that asks.
                return (flag.woken.swap(false, Ordering::SeqCst)).then(|| waker.clone());
            }
        }
        let waker = self.waker(task);
        if let Some((flag, _)) = &self.current {
            flag.woken.store(false, Ordering::SeqCst);
        }
        Some(waker)
    }

    /// The read found something (or an end or error): the next one asks again.
    pub(super) fn found(&self) {
        if let Some((flag, _)) = &self.current {
            flag.woken.store(true, Ordering::SeqCst);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A task's waker. (Not `Waker::noop()`: its clones need not compare equal to it, and a
    /// stream polled by another task asks again.)
    fn task() -> Waker {
        struct Task;
        impl Wake for Task {
            fn wake(self: Arc<Self>) {}
        }
        Waker::from(Arc::new(Task))
    }

    /// Whether a read by the task `task` wakes asks (and so clears the flag).
    fn asks(readiness: &mut Readiness, task: &Waker) -> bool {
        readiness.read_waker(task).is_some()
    }

    #[test]
    fn a_read_that_waited_asks_again_only_after_a_wake() {
        let task = task();
        let mut readiness = Readiness::new();
        assert!(asks(&mut readiness, &task), "the first read asks");
        assert!(
            !asks(&mut readiness, &task),
            "nothing woke the stream since"
        );
        readiness.waker(&task).wake_by_ref();
        assert!(asks(&mut readiness, &task), "a wake lets the next read ask");
        assert!(!asks(&mut readiness, &task));
        readiness.found();
        assert!(
            asks(&mut readiness, &task),
            "a read that found something is followed by one that asks"
        );
    }

    #[test]
    fn a_poll_by_another_task_asks_again() {
        let (one, other) = (task(), task());
        let mut readiness = Readiness::new();
        assert!(asks(&mut readiness, &one));
        assert!(!asks(&mut readiness, &one));
        assert!(
            asks(&mut readiness, &other),
            "the other task's waker is registered nowhere yet"
        );
    }
}
