//! The system allocator as a test binary's global allocator, counting what each thread asks
//! for: the bytes and the number of allocations, read around one call with [`allocated_by`].
#![allow(dead_code)] // each test binary reads what it needs of it

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

/// The system allocator, counting the bytes and allocations each thread asks for.
struct Counting;

thread_local! {
    static ALLOCATED: Cell<Allocated> = const { Cell::new(Allocated { bytes: 0, calls: 0 }) };
}

/// What a thread allocated: bytes (a `realloc` counts what it grew by), and calls (each
/// `alloc` and `realloc`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Allocated {
    pub bytes: usize,
    pub calls: usize,
}

fn count(bytes: usize) {
    // `try_with`: a thread being torn down allocates after its locals are gone.
    let _ = ALLOCATED.try_with(|n| {
        let Allocated { bytes: b, calls } = n.get();
        n.set(Allocated {
            bytes: b + bytes,
            calls: calls + 1,
        })
    });
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

/// What this thread allocates while `f` runs.
pub fn allocated_by<T>(f: impl FnOnce() -> T) -> (T, Allocated) {
    let before = ALLOCATED.with(Cell::get);
    let value = f();
    let after = ALLOCATED.with(Cell::get);
    let allocated = Allocated {
        bytes: after.bytes - before.bytes,
        calls: after.calls - before.calls,
    };
    (value, allocated)
}
