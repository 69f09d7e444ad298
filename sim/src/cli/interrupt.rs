//! Ctrl-C: the first stops a sweep or a determinism check (each stops starting seeds, stops
//! the runs in flight between two steps, and reports what ran); a second ends the process at
//! once, for a run stuck inside one step.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};

/// The flag Ctrl-C sets, with the handler installed on first use; `None` if no handler could
/// be installed (a `main_with` binary that has its own): Ctrl-C then does what it did before.
pub(crate) fn flag() -> Option<Arc<AtomicBool>> {
    static FLAG: OnceLock<Option<Arc<AtomicBool>>> = OnceLock::new();
    FLAG.get_or_init(|| {
        let flag = Arc::new(AtomicBool::new(false));
        let set = flag.clone();
        let installed = ctrlc::set_handler(move || {
            if set.swap(true, Ordering::SeqCst) {
                std::process::exit(130);
            }
            eprintln!("interrupted: stopping (Ctrl-C again to quit at once)");
        });
        installed.ok().map(|()| flag)
    })
    .clone()
}
