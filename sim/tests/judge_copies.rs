//! Judging a run takes its trace's events once: the contract check, the end conditions (the
//! per-connection tally, the callback counts) and the properties' view all read that one copy.
//! A trace holds up to a million events, and a sweep judges every seed it runs: each extra
//! copy of the trace is that much more memory and time per seed. The bytes a judgement
//! allocates are counted on its own thread and compared with what one copy of the events
//! costs.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use tcpnotify_sim::judge::judge_outcome;
use tcpnotify_sim::run::run;
use tcpnotify_sim::{FaultPlan, Scenario, Seed};

/// The system allocator, counting the bytes each thread asks for.
struct Counting;

thread_local! {
    static ALLOCATED: Cell<usize> = const { Cell::new(0) };
}

fn count(bytes: usize) {
    // `try_with`: a thread being torn down allocates after its locals are gone.
    let _ = ALLOCATED.try_with(|n| n.set(n.get() + bytes));
}

// SAFETY: every call is passed on to `System` unchanged; the count touches no allocation.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count(layout.size());
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        count(new_size.saturating_sub(layout.size()));
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static COUNTING: Counting = Counting;

/// The bytes this thread allocates while `f` runs.
fn allocated_by<T>(f: impl FnOnce() -> T) -> (T, usize) {
    let before = ALLOCATED.with(Cell::get);
    let value = f();
    (value, ALLOCATED.with(Cell::get) - before)
}

#[test]
fn judging_a_run_copies_its_trace_once() {
    // Thousands of callbacks, a handful of connections: the trace dominates what judging
    // allocates. The property makes the judgement build the properties' view too.
    let scenario = Scenario::echo("judged-once", 64 * 1024, 64)
        .property("c1-seen", |run| run.connection("c1").is_some());
    let outcome = run(&scenario, &FaultPlan::quiet(Seed(1))).expect("the scenario runs");
    let (events, one_copy) = allocated_by(|| outcome.trace.events());
    assert!(events.len() > 4000, "{} events", events.len());
    drop(events);
    let (verdict, judging) = allocated_by(|| judge_outcome(&scenario, outcome));
    assert!(verdict.passed(), "{verdict}");
    assert!(
        judging < 2 * one_copy,
        "judging allocated {judging} bytes; one copy of the trace's events is {one_copy}"
    );
}
