//! Observers of what a connection does that no callback tells its notifier: writes W1 drops
//! ([`DroppedWrite`](super::DroppedWrite)) and mutes and unmutes that took effect
//! ([`Muting`](super::Muting)). The connection reports each fact to its observers in the turn
//! that made it, and knows nothing of who listens: a recorder, a test, the simulator's trace.

use std::sync::Arc;

/// What is told of every fact of one kind about a connection. Called in the connection's own
/// turn (or, for a write dropped after the end, in the task of the handle that sent it).
pub(crate) type Observer<T> = Arc<dyn Fn(&T) + Send + Sync>;

/// `first`, then `second`: both observers of one connection see every fact.
pub(crate) fn chain<T: 'static>(first: Option<Observer<T>>, second: Observer<T>) -> Observer<T> {
    match first {
        None => second,
        Some(first) => Arc::new(move |fact: &T| {
            first(fact);
            second(fact);
        }),
    }
}
