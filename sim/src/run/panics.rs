//! The panics of the run on this thread, recorded by a panic hook instead of printed: a
//! notifier's panic is a verdict (`no_panic`), and turmoil's at a limit of its network is an
//! error of the simulator ([`LimitError::reached_in`]). turmoil runs every host on the calling
//! thread, so a thread-local list holds every panic of a run.

use super::capacity::LimitError;
use std::cell::RefCell;
use std::sync::Once;

thread_local! {
    /// Panic messages of the run on this thread; `None` outside a run, whose panics the hook
    /// passes on to the hook before it.
    static PANICS: RefCell<Option<Vec<String>>> = const { RefCell::new(None) };
}

/// Installs the hook that records a run's panics, once per process.
pub(crate) fn install_recorder() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let recorded = PANICS.with(|p| match p.borrow_mut().as_mut() {
                Some(list) => {
                    list.push(info.to_string());
                    true
                }
                None => false,
            });
            if !recorded {
                previous(info);
            }
        }));
    });
}

/// Starts recording the panics of a run on this thread.
pub(crate) fn record() {
    PANICS.with(|p| *p.borrow_mut() = Some(Vec::new()));
}

/// The panics recorded since [`record`], in order; recording stops.
pub(crate) fn take() -> Vec<String> {
    PANICS.with(|p| p.borrow_mut().take()).unwrap_or_default()
}

/// Whether the run on this thread has panicked so far.
pub(crate) fn any() -> bool {
    PANICS.with(|p| p.borrow().as_ref().is_some_and(|l| !l.is_empty()))
}

/// Whether the run on this thread has reached a limit of the simulator: turmoil's first panic
/// of the run said it ran out of a host's ports ([`LimitError::reached_in`]). The run then
/// ends with that limit and no trace, after its step; until then every connect would panic
/// again only after turmoil searched all the host's ports.
pub(crate) fn limit_reached() -> bool {
    PANICS.with(|p| {
        (p.borrow().as_ref())
            .and_then(|list| list.first())
            .is_some_and(|first| LimitError::reached_in(first).is_some())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A run's panics are kept in order, as the hook shows them, and only while recording.
    #[test]
    fn a_runs_panics_are_kept_in_order_until_taken() {
        install_recorder();
        record();
        assert!(!any());
        let _ = std::panic::catch_unwind(|| panic!("first of {}", 2));
        let _ = std::panic::catch_unwind(|| panic!("second"));
        assert!(any());
        assert!(!limit_reached(), "a notifier's panic is no limit");
        let panics = take();
        assert_eq!(panics.len(), 2, "{panics:?}");
        assert!(panics[0].starts_with("panicked at "), "{panics:?}");
        assert!(panics[0].ends_with(":\nfirst of 2"), "{panics:?}");
        assert!(panics[1].ends_with(":\nsecond"), "{panics:?}");
        assert!(!any());
        assert!(take().is_empty(), "recording stopped");
    }
}
