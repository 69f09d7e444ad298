//! What each connection of a trace did, in sums: the bytes it sent and received and how it
//! ended. The end conditions of a scenario (`echoed`, `delivered`) and a run's summary read
//! them.

use super::trace::Trace;
use std::collections::BTreeMap;
use tcpnotify::record::Callback;

/// One connection's (or listener's) sums over a trace.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Tally {
    /// The host it ran on.
    pub host: String,
    /// Bytes it queued for sending: what its `sent` and `sentv` callbacks returned.
    pub sent: usize,
    /// Bytes delivered to it in `received`.
    pub received: usize,
    /// Its last `closed` or `connect_failed`, if it had one.
    pub ended: Option<Callback>,
    /// Whether it is a listener (it had a listener's callbacks).
    pub listener: bool,
}

/// The sums of every connection and listener of `trace`, by name (`c1`, `server.1`).
///
/// ```
/// use tcpnotify::record::{Callback, Payload};
/// use tcpnotify_sim::run::{tally, EventKind, Trace, TraceEvent};
/// let trace = Trace::new();
/// for callback in [
///     Callback::Sent { data: Payload::of(b"hello"), result: Payload::of(b"hello") },
///     Callback::Received { data: Payload::of(b"hi"), times: 1, result: true },
///     Callback::Closed,
/// ] {
///     let kind = EventKind::Callback { callback, local: None, remote: None };
///     trace.push(TraceEvent { at_us: 0, host: "client".into(), who: "c1".into(), kind });
/// }
/// let c1 = &tally(&trace)["c1"];
/// assert_eq!((c1.sent, c1.received), (5, 2));
/// assert_eq!(c1.ended, Some(Callback::Closed));
/// ```
pub fn tally(trace: &Trace) -> BTreeMap<String, Tally> {
    let mut tallies: BTreeMap<String, Tally> = BTreeMap::new();
    for event in trace.events() {
        let Some(callback) = event.callback() else {
            continue;
        };
        let tally = tallies.entry(event.who.clone()).or_insert_with(|| Tally {
            host: event.host.clone(),
            ..Tally::default()
        });
        match callback {
            Callback::Sent { result, .. } => tally.sent += result.len(),
            Callback::Sentv { result, .. } => {
                tally.sent += result.iter().map(|p| p.len()).sum::<usize>()
            }
            Callback::Received { data, .. } => tally.received += data.len(),
            Callback::Closed | Callback::ConnectFailed(_) => tally.ended = Some(callback.clone()),
            Callback::Listening(_)
            | Callback::NotListening
            | Callback::ListenerConnected { .. }
            | Callback::ListenerClosed => tally.listener = true,
            _ => {}
        }
    }
    tallies
}
