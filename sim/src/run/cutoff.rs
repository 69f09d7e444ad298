//! When to give up on a run from outside it: a deadline in wall-clock time (a sweep's
//! `--seed-timeout`) or an interrupt (Ctrl-C). The run loop checks it between simulation
//! steps, so a run stops at a step boundary, on its own thread, with nothing torn down by
//! force; a stopped run gets no verdict.
//!
//! A cutoff reads the wall clock, which no simulation may: it decides only *whether* a run
//! goes on, never what happens in it, so every run that is not stopped is the same as without
//! a cutoff. A run caught inside one step (a callback that never returns) cannot be stopped
//! this way; the sweep names such a seed while it waits for it.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// When a run must stop early: a wall-clock deadline, an interrupt flag, both or neither.
///
/// ```
/// use std::sync::atomic::{AtomicBool, Ordering};
/// use std::sync::Arc;
/// use std::time::Duration;
/// use tcpnotify_sim::run::{Cutoff, Stop};
/// assert_eq!(Cutoff::never().reached(), None);
/// let flag = Arc::new(AtomicBool::new(false));
/// let cutoff = Cutoff::never().interrupted_by(flag.clone()).after(Duration::from_secs(3600));
/// assert_eq!(cutoff.reached(), None);
/// flag.store(true, Ordering::SeqCst);
/// assert_eq!(cutoff.reached(), Some(Stop::Interrupted));
/// ```
#[derive(Debug, Clone, Default)]
pub struct Cutoff {
    deadline: Option<(Instant, Duration)>,
    interrupt: Option<Arc<AtomicBool>>,
}

/// Why a run was stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stop {
    /// It ran longer than this much wall-clock time.
    TimedOut(Duration),
    /// The interrupt flag was set.
    Interrupted,
}

impl Cutoff {
    /// No cutoff: the run goes on until it ends by itself.
    pub fn never() -> Self {
        Cutoff::default()
    }

    /// Also stops the run once `timeout` of wall-clock time has passed from now (a timeout
    /// too large to add to the clock is no deadline).
    pub fn after(mut self, timeout: Duration) -> Self {
        self.deadline = Instant::now()
            .checked_add(timeout)
            .map(|deadline| (deadline, timeout));
        self
    }

    /// Also stops the run once `flag` is set (by a Ctrl-C handler, say).
    pub fn interrupted_by(mut self, flag: Arc<AtomicBool>) -> Self {
        self.interrupt = Some(flag);
        self
    }

    /// Whether the run must stop now, and why.
    pub fn reached(&self) -> Option<Stop> {
        if self
            .interrupt
            .as_ref()
            .is_some_and(|flag| flag.load(Ordering::Relaxed))
        {
            return Some(Stop::Interrupted);
        }
        match self.deadline {
            Some((deadline, timeout)) if Instant::now() >= deadline => {
                Some(Stop::TimedOut(timeout))
            }
            _ => None,
        }
    }

    /// Whether there is anything to check: the run loop skips the clock otherwise.
    pub(crate) fn is_set(&self) -> bool {
        self.deadline.is_some() || self.interrupt.is_some()
    }
}

impl std::fmt::Display for Stop {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Stop::TimedOut(timeout) => write!(
                f,
                "ran longer than {} of wall-clock time",
                humantime::format_duration(*timeout)
            ),
            Stop::Interrupted => write!(f, "interrupted"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_passed_deadline_times_out_and_a_huge_one_never_does() {
        let now = Cutoff::never().after(Duration::ZERO);
        assert_eq!(now.reached(), Some(Stop::TimedOut(Duration::ZERO)));
        assert!(now.is_set());
        let never = Cutoff::never().after(Duration::MAX);
        assert_eq!(never.reached(), None);
        assert!(!Cutoff::never().is_set());
    }
}
