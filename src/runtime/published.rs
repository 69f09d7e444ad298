//! A value one task publishes and any number of tasks wait on: a listener's state, which its
//! handles wait on ([`ListenerHandle::listening`](super::ListenerHandle::listening)).
//!
//! Waiters are woken in one order, that in which they began to wait. tokio's `watch` spreads
//! its waiters over eight queues, each waiter's picked by a generator tokio seeds from the
//! operating system, so two tasks waiting for the same listener woke in an order that could
//! differ from one run of a simulation to the next.

use std::pin::pin;
use std::sync::{Arc, Mutex, MutexGuard};
use tokio::sync::Notify;

/// Publishes to its [`Subscriber`]s; dropping it tells them nothing more will come.
#[derive(Debug)]
pub(crate) struct Publisher<T>(Arc<Shared<T>>);

/// Reads what its [`Publisher`] published, and waits for it to change.
#[derive(Debug, Clone)]
pub(crate) struct Subscriber<T>(Arc<Shared<T>>);

#[derive(Debug)]
struct Shared<T> {
    latest: Mutex<Latest<T>>,
    changed: Notify,
}

#[derive(Debug)]
struct Latest<T> {
    value: T,
    /// Whether the publisher is gone: the value is final.
    finished: bool,
}

/// A publisher of `initial`, and a subscriber of it.
pub(crate) fn channel<T>(initial: T) -> (Publisher<T>, Subscriber<T>) {
    let shared = Arc::new(Shared {
        latest: Mutex::new(Latest {
            value: initial,
            finished: false,
        }),
        changed: Notify::new(),
    });
    (Publisher(shared.clone()), Subscriber(shared))
}

impl<T> Shared<T> {
    fn lock(&self) -> MutexGuard<'_, Latest<T>> {
        // Each use writes or reads a whole value: nothing is left half done by a panic.
        self.latest.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl<T> Publisher<T> {
    /// Replaces the value and wakes every waiter, in the order they began to wait.
    pub(crate) fn publish(&self, value: T) {
        self.0.lock().value = value;
        self.0.changed.notify_waiters();
    }
}

impl<T> Drop for Publisher<T> {
    fn drop(&mut self) {
        self.0.lock().finished = true;
        self.0.changed.notify_waiters();
    }
}

impl<T: Clone> Subscriber<T> {
    /// The latest value.
    pub(crate) fn get(&self) -> T {
        self.0.lock().value.clone()
    }

    /// Waits until the value satisfies `ready` and returns it, or `None` if the publisher went
    /// away with a value that does not.
    pub(crate) async fn wait_for(&self, ready: impl Fn(&T) -> bool) -> Option<T> {
        loop {
            // Registered before the value is read, so a publish in between is not missed.
            let mut changed = pin!(self.0.changed.notified());
            changed.as_mut().enable();
            {
                let latest = self.0.lock();
                if ready(&latest.value) {
                    return Some(latest.value.clone());
                }
                if latest.finished {
                    return None;
                }
            }
            changed.await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waiters_wake_in_the_order_they_began_to_wait_in_every_run() {
        let order_of_one_run = || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .build()
                .unwrap();
            runtime.block_on(async {
                let (publisher, subscriber) = channel(0);
                let woken = Arc::new(Mutex::new(Vec::new()));
                let mut tasks = Vec::new();
                for waiter in 0..16 {
                    let (subscriber, woken) = (subscriber.clone(), woken.clone());
                    tasks.push(tokio::spawn(async move {
                        subscriber.wait_for(|v| *v == 1).await;
                        woken.lock().unwrap().push(waiter);
                    }));
                    // Each waits before the next starts.
                    tokio::task::yield_now().await;
                }
                publisher.publish(1);
                for task in tasks {
                    task.await.unwrap();
                }
                let order = woken.lock().unwrap().clone();
                order
            })
        };
        let first = order_of_one_run();
        assert_eq!(first, (0..16).collect::<Vec<_>>());
        for _ in 0..20 {
            assert_eq!(order_of_one_run(), first);
        }
    }

    #[tokio::test]
    async fn a_waiter_gets_the_value_it_waits_for_or_none_once_the_publisher_is_gone() {
        let (publisher, subscriber) = channel("binding");
        publisher.publish("listening");
        assert_eq!(
            subscriber.wait_for(|s| *s != "binding").await,
            Some("listening")
        );
        assert_eq!(subscriber.get(), "listening");
        let waiting = tokio::spawn({
            let subscriber = subscriber.clone();
            async move { subscriber.wait_for(|s| *s == "closed").await }
        });
        tokio::task::yield_now().await;
        drop(publisher);
        assert_eq!(waiting.await.unwrap(), None);
        // What was published last is still there, and a value already reached still returns.
        assert_eq!(
            subscriber.wait_for(|s| *s == "listening").await,
            Some("listening")
        );
    }
}
