//! A FIFO of [`Message`]s whose oldest waits inline ([`Messages`]): what a connection sends
//! itself (its outbox) and what its task queues for itself (the mailbox's own queue).

use super::message::Message;
use std::collections::VecDeque;

/// Messages in order, oldest first, the oldest held inline.
///
/// A connection sends itself a message or two at a time for most of its life (a write per
/// delivery, a dispose): with the oldest inline, the outbox and the mailbox's queue of its own
/// hold those without a heap buffer each, where a `Vec` and a `VecDeque` cost a connection an
/// allocation apiece. More at once (a sender writing a payload in chunks) go behind it, in a
/// `VecDeque` that keeps its buffer.
#[derive(Default)]
pub(crate) struct Messages {
    /// The oldest, if any. `None` only when `rest` is empty too.
    first: Option<Message>,
    /// The others, in order.
    rest: VecDeque<Message>,
}

impl Messages {
    /// Whether there is none.
    #[inline]
    pub(crate) fn is_empty(&self) -> bool {
        self.first.is_none()
    }

    /// Queues `msg` behind the others.
    #[inline]
    pub(crate) fn push_back(&mut self, msg: Message) {
        if self.first.is_none() {
            self.first = Some(msg);
        } else {
            self.rest.push_back(msg);
        }
    }

    /// Takes the oldest.
    #[inline]
    pub(crate) fn pop_front(&mut self) -> Option<Message> {
        let msg = self.first.take()?;
        self.first = self.rest.pop_front();
        Some(msg)
    }

    /// Takes them all, oldest first: an iterator that leaves the queue empty (and its buffer
    /// kept) once it ran out, or with what it did not take if dropped before.
    pub(crate) fn drain(&mut self) -> impl Iterator<Item = Message> + '_ {
        std::iter::from_fn(move || self.pop_front())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(messages: &mut Messages) -> Vec<String> {
        messages.drain().map(|m| format!("{m:?}")).collect()
    }

    #[test]
    fn messages_come_out_in_the_order_they_went_in_whether_inline_or_not() {
        let mut messages = Messages::default();
        assert!(messages.is_empty());
        messages.push_back(Message::Mute);
        assert!(!messages.is_empty());
        messages.push_back(Message::Write(vec![1, 2].into()));
        messages.push_back(Message::Unmute);
        assert_eq!(format!("{:?}", messages.pop_front()), "Some(Mute)");
        messages.push_back(Message::Dispose);
        assert_eq!(
            kinds(&mut messages),
            ["Write(2 bytes)", "Unmute", "Dispose"]
        );
        assert!(messages.is_empty());
        assert!(messages.pop_front().is_none());
        messages.push_back(Message::ReadAgain);
        assert_eq!(kinds(&mut messages), ["ReadAgain"]);
    }

    #[test]
    fn a_drain_dropped_early_leaves_the_rest_in_order() {
        let mut messages = Messages::default();
        for msg in [Message::Mute, Message::Unmute, Message::Dispose] {
            messages.push_back(msg);
        }
        let first = messages.drain().next().map(|m| format!("{m:?}"));
        assert_eq!(first.as_deref(), Some("Mute"));
        messages.push_back(Message::ReadAgain);
        assert_eq!(kinds(&mut messages), ["Unmute", "Dispose", "ReadAgain"]);
    }
}
