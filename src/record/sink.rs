//! Where recorded callbacks go: the [`CallbackSink`] trait, the data a sink may watch flow
//! ([`DataFlow`]), and an in-memory log ([`CallbackLog`]).

use super::{Callback, Name, Payload};
use crate::proto::{ConnectionStats, DroppedWrite, Muting, TcpConnection};
use std::sync::{Arc, Mutex};

/// Where recorded callbacks go. `who` names the connection or listener, with the [`Name`] its
/// recorder made once (a sink keeps it by cloning, which copies no text); `conn` is the
/// connection the callback ran on (`None` for listener callbacks and `proxy_via`), so a sink
/// can look at its addresses or state.
pub trait CallbackSink: Send + Sync + 'static {
    /// Records one callback, after it returned.
    fn record(&self, who: &Name, conn: Option<&TcpConnection>, callback: Callback);

    /// Sees data as it flows, borrowed: what a connection queued (after `sent`/`sentv`) and
    /// what it is delivered (just before `received`). For sinks that check streams without
    /// keeping the data. Does nothing by default.
    #[allow(unused_variables)]
    fn data(&self, who: &Name, conn: &TcpConnection, flow: DataFlow<'_>) {}

    /// A tap of its own for `who`'s data, asked for once, when the connection is established
    /// (just before its `connected` or `accepted` callback, when its addresses are known):
    /// if the sink returns one, that connection's data goes to it instead of to
    /// [`data`](Self::data). For sinks that keep state per connection: the tap holds it, so
    /// each write and delivery reaches it without looking the connection up. `None` (the
    /// default) keeps [`data`](Self::data).
    #[allow(unused_variables)]
    fn tap(&self, who: &Name, conn: &TcpConnection) -> Option<Box<dyn DataTap>> {
        None
    }

    /// The recorder of `who` is gone (its connection ended, or its task was dropped with its
    /// host or its runtime): `stats` are the connection's counters as of its last callback
    /// that carried the connection. Told once, and only if such a callback ran. For sinks
    /// that want each connection's final counters: a recorder keeps them, so a sink need
    /// not look the connection up on every callback. Does nothing by default.
    #[allow(unused_variables)]
    fn counters(&self, who: &Name, stats: ConnectionStats) {}

    /// Sees a write of `who` that rule W1 dropped, when it was dropped (no callback runs for
    /// it). The recorders report every drop from the connection's first callback on (see
    /// [`TcpConnection::on_write_dropped`]). Does nothing by default.
    #[allow(unused_variables)]
    fn write_dropped(&self, who: &Name, dropped: &DroppedWrite) {}

    /// Sees a `mute` or `unmute` of `who` take effect, in the turn that handled it (no
    /// callback runs for it): a connection muted and never unmuted reads nothing more. The
    /// recorders report every change from the connection's first callback on (see
    /// [`TcpConnection::on_mute_changed`]). Does nothing by default.
    #[allow(unused_variables)]
    fn mute_changed(&self, who: &Name, muting: Muting) {}

    /// Sees `data` that a callback of `who` queued with `write_final`, which passes by `sent`:
    /// told after that callback's own record, in the order queued. Its bytes also flowed as
    /// [`DataFlow::Queued`] where `sent`'s do, when they were queued. `before` says which
    /// `sent` result they go out before: that of the callback itself, or that of the `sent`
    /// it was deferred from. Does nothing by default.
    #[allow(unused_variables)]
    fn final_written(&self, who: &Name, data: &Payload, before: FinalWriteBefore) {}

    /// A callback of `by` (a connection or a listener) dialled a new connection, recorded from
    /// now on as `who`, to `host` and `service`; told after that callback's own record, before
    /// the new connection's first callback. Does nothing by default.
    #[allow(unused_variables)]
    fn dialled(&self, by: &Name, who: &Name, host: &str, service: &str) {}

    /// The [`Name`] to record for `text`, a host or service that a `proxy_via` was asked for
    /// or returned. Made from the text by default; a sink that sees the same few names over
    /// and over (every client of a host dials the same server) may hand out one shared name
    /// instead, and save an allocation per connection.
    fn name(&self, text: &str) -> Name {
        Name::from(text)
    }

    /// A callback of `who` is about to run: what happens until [`exit`](Self::exit) happens
    /// inside it (the simulator attributes assertions made there to `who`). Callbacks never
    /// nest. Does nothing by default.
    #[allow(unused_variables)]
    fn enter(&self, who: &Name) {}

    /// The callback [`enter`](Self::enter) announced returned. Does nothing by default.
    #[allow(unused_variables)]
    fn exit(&self, who: &Name) {}
}

/// Which result of a `sent` or `sentv` bytes queued with `write_final` go out before, as
/// [`CallbackSink::final_written`] is told: the connection queues what `sent` returned only
/// once the callbacks Pony nests inside it have run, so what those queue goes out first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FinalWriteBefore {
    /// The result of the callback that queued them, if it is a `sent` or `sentv`; after
    /// everything queued before them either way.
    OwnResult,
    /// The result of the `sent` or `sentv` whose record came before, which the callback that
    /// queued them was deferred from (its `expect` hook, a `throttled` its `write_final`
    /// caused; Pony nests them inside it): the connection queues that result after them.
    SentResult,
}

/// Data passing through a connection, as [`CallbackSink::data`] sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DataFlow<'a> {
    /// Bytes queued for sending: the result of `sent`, or one chunk of the result of `sentv`.
    Queued(&'a [u8]),
    /// Bytes about to be delivered to `received`.
    Delivered(&'a [u8]),
}

/// One connection's data, as a [`CallbackSink::tap`] sees it: the same flows as
/// [`CallbackSink::data`], in the same order, from that connection alone.
///
/// ```
/// use tcpnotify::record::{DataFlow, DataTap};
/// /// Counts the bytes a connection queued.
/// struct Queued(usize);
/// impl DataTap for Queued {
///     fn data(&mut self, flow: DataFlow<'_>) {
///         if let DataFlow::Queued(bytes) = flow {
///             self.0 += bytes.len();
///         }
///     }
/// }
/// let mut tap = Queued(0);
/// tap.data(DataFlow::Queued(b"hello"));
/// tap.data(DataFlow::Delivered(b"hi"));
/// assert_eq!(tap.0, 5);
/// ```
pub trait DataTap: Send + 'static {
    /// Sees data as it flows, borrowed (see [`CallbackSink::data`]).
    fn data(&mut self, flow: DataFlow<'_>);
}

/// An in-memory, ordered log of callbacks from any number of notifiers.
///
/// ```
/// use tcpnotify::record::{Callback, CallbackLog, CallbackSink, Name};
/// let log = CallbackLog::new();
/// let client = Name::from("client");
/// log.record(&client, None, Callback::Connecting(2));
/// log.record(&client, None, Callback::Connected);
/// assert_eq!(log.render(), "client connecting(2)\nclient connected\n");
/// ```
#[derive(Clone, Default, Debug)]
pub struct CallbackLog {
    entries: Arc<Mutex<Vec<(String, Callback)>>>,
}

impl CallbackLog {
    /// An empty log.
    pub fn new() -> Self {
        Self::default()
    }

    /// Every entry so far, in order.
    pub fn entries(&self) -> Vec<(String, Callback)> {
        self.entries
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// The entries of one notifier, in order.
    pub fn of(&self, who: &str) -> Vec<Callback> {
        self.entries()
            .into_iter()
            .filter(|(w, _)| w == who)
            .map(|(_, c)| c)
            .collect()
    }

    /// One line per callback: `who callback`.
    pub fn render(&self) -> String {
        self.entries()
            .iter()
            .map(|(who, cb)| format!("{who} {cb}\n"))
            .collect()
    }

    /// One line per callback of `who`.
    pub fn render_of(&self, who: &str) -> String {
        self.of(who).iter().map(|cb| format!("{cb}\n")).collect()
    }
}

impl CallbackSink for CallbackLog {
    fn record(&self, who: &Name, _conn: Option<&TcpConnection>, callback: Callback) {
        self.entries
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push((who.to_string(), callback));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_log_renders_every_notifiers_lines_in_order_or_one_notifiers_alone() {
        let log = CallbackLog::new();
        let (client, server) = (Name::from("client"), Name::from("server"));
        log.record(&client, None, Callback::Connecting(1));
        log.record(&server, None, Callback::Accepted);
        log.record(&client, None, Callback::Connected);
        assert_eq!(
            log.render(),
            "client connecting(1)\nserver accepted\nclient connected\n"
        );
        assert_eq!(log.render_of("client"), "connecting(1)\nconnected\n");
        assert_eq!(log.of("server"), [Callback::Accepted]);
        assert_eq!(log.render_of("nobody"), "");
    }
}
