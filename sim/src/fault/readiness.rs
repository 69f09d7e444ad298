//! Whether a stream's next read may find anything new ([`Readiness`]).
//!
//! A connection asks its socket for data after every pass of its turn loop, so most of its reads
//! come right after one that waited, with nothing arrived in between. Through the fault layer
//! each such read costs two lock round trips and a backend poll. The waker a
//! [`FaultyStream`](super::FaultyStream) hands everything it waits on (its backend, the layer's
//! partitions, resets and flow window, its FIN timer) therefore notes every wake before
//! passing it on to the task's: a read that waited, and was not woken since, waits again at once.
//! Nothing that was waited on has changed, so asking again would have waited too, and it
//! would have registered the same waker where it already is; a read that waits draws nothing
//! from the stream's random streams, so skipping it moves no chunk boundary.

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

    /// Whether the read about to be made may find anything: true unless the last read waited
    /// and nothing woke the stream since. Asking clears it, so a wake during that read counts
    /// for the next.
    pub(super) fn take(&self) -> bool {
        (self.current.as_ref()).is_none_or(|(flag, _)| flag.woken.swap(false, Ordering::SeqCst))
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

    #[test]
    fn a_read_that_waited_asks_again_only_after_a_wake() {
        let mut readiness = Readiness::new();
        let waker = readiness.waker(Waker::noop());
        assert!(readiness.take(), "the first read asks");
        assert!(!readiness.take(), "nothing woke the stream since");
        waker.wake_by_ref();
        assert!(readiness.take(), "a wake lets the next read ask");
        assert!(!readiness.take());
        readiness.found();
        assert!(
            readiness.take(),
            "a read that found something is followed by one that asks"
        );
    }

    #[test]
    fn a_poll_by_another_task_asks_again() {
        struct Other;
        impl Wake for Other {
            fn wake(self: Arc<Self>) {}
        }
        let mut readiness = Readiness::new();
        readiness.waker(Waker::noop());
        assert!(readiness.take());
        assert!(!readiness.take());
        readiness.waker(&Waker::from(Arc::new(Other)));
        assert!(
            readiness.take(),
            "the other task's waker is registered nowhere yet"
        );
    }
}
