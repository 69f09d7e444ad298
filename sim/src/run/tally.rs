//! What each connection and listener of a trace did, in one pass over its events: the host it
//! ran on, whether it was a client, an accepted connection or a listener, the bytes it sent
//! (that went out) and received, how it ended (also lost with its crashed host) and the writes
//! rule W1 dropped.
//! Everything that reads connections off a trace reads this pass, so they cannot disagree: the
//! end conditions of a scenario (`echoed`, `delivered`), the properties' view of a run and a
//! run's summary.

use super::trace::TraceEvent;
use crate::fault::{FaultKind, FaultPlan};
use crate::run::EventKind;
use std::collections::BTreeMap;
use tcpnotify::record::{Callback, FinalWriteBefore, Payload};
use tcpnotify::{ConnectFailure, Role};

/// How a connection ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ending {
    /// `closed` ran.
    Closed,
    /// `connect_failed` ran, for this reason.
    ConnectFailed(ConnectFailure),
    /// Its host crashed (or was restarted while running) while it was open: it ended with no
    /// callback.
    Lost,
    /// It was still open when the run ended.
    Open,
}

/// Whether `callback` is one of a listener's (`listening`, `not_listening`, `connected`,
/// `closed` of a listener) rather than a connection's: it tells a listener's trace name from a
/// connection's.
pub fn is_listener_callback(callback: &Callback) -> bool {
    matches!(
        callback,
        Callback::Listening(_)
            | Callback::NotListening
            | Callback::ListenerConnected { .. }
            | Callback::ListenerClosed
    )
}

/// One connection's (or listener's) sums over a trace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tally {
    /// The host it ran on.
    pub host: String,
    /// Client or accepted connection, from its first callback (`accepted` or another); `None`
    /// for a listener (its first callback was a listener's).
    pub role: Option<Role>,
    /// Bytes it sent, that went out on its socket: what its `sent` and `sentv` callbacks
    /// returned and what it queued with `write_final`, less what never went out: a result W1
    /// dropped because the notifier closed inside that callback, and the queued bytes a
    /// close at once discarded (L3, L5, a reset).
    pub sent: usize,
    /// Bytes delivered to it in `received`.
    pub received: usize,
    /// The bytes it sent (those [`sent`](Self::sent) counts), in order, when the run kept whole
    /// payloads ([`Scenario::keep_payloads`](crate::Scenario::keep_payloads)); `None`
    /// otherwise.
    pub sent_data: Option<Vec<u8>>,
    /// The bytes delivered to it, in order, when the run kept whole payloads.
    pub received_data: Option<Vec<u8>>,
    /// How a connection ended; a listener's stays [`Ending::Open`].
    pub ending: Ending,
    /// Its writes that rule W1 dropped, over the whole run (the trace's `W1 dropped` lines
    /// after its first callback, also those sent after it ended).
    pub writes_dropped: u64,
    /// Where in `sent_data` the result of its last `sent` or `sentv` begins, for
    /// [`final_written`](Self::final_written): bytes queued with `write_final` in that
    /// callback, or in one deferred from it, go before it.
    last_sent_at: Option<usize>,
    /// Whether its last callback was a `sent` or `sentv`.
    in_sent: bool,
}

impl Tally {
    fn new(host: &str, role: Option<Role>) -> Self {
        Tally {
            host: host.to_string(),
            role,
            sent: 0,
            received: 0,
            sent_data: Some(Vec::new()),
            received_data: Some(Vec::new()),
            ending: Ending::Open,
            writes_dropped: 0,
            last_sent_at: None,
            in_sent: false,
        }
    }

    /// Takes back the last `bytes` it queued, which never went out
    /// ([`EventKind::unsent_bytes`]): a `sent` or `sentv` result W1 dropped, told right after
    /// that callback (and the bytes `write_final` queued in it, which went before it), or
    /// what a close at once discarded of its queue, told right after `closed`.
    fn unsend(&mut self, bytes: usize) {
        self.sent = self.sent.saturating_sub(bytes);
        match self.sent_data.as_mut() {
            Some(data) if bytes <= data.len() => data.truncate(data.len() - bytes),
            _ => self.sent_data = None,
        }
    }

    /// Adds `data`, which its last callback queued with `write_final`: in the stream before
    /// what that callback returned, if it was a `sent` or `sentv` (told after its line), or
    /// before what the `sent` or `sentv` it was deferred from returned
    /// ([`FinalWriteBefore::SentResult`]), and after everything else queued before.
    fn final_written(&mut self, data: &Payload, before: FinalWriteBefore) {
        self.sent += data.len();
        let before_a_result = match before {
            FinalWriteBefore::OwnResult => self.in_sent,
            FinalWriteBefore::SentResult => true,
        };
        let result_at = self.last_sent_at.filter(|_| before_a_result);
        match (self.sent_data.as_mut(), data.bytes()) {
            (Some(sent), Some(bytes)) => {
                let at = result_at.map_or(sent.len(), |at| at.min(sent.len()));
                sent.splice(at..at, bytes.iter().copied());
                if result_at.is_some() {
                    self.last_sent_at = Some(at + bytes.len());
                }
            }
            _ => self.sent_data = None,
        }
    }

    /// Whether it is a listener.
    pub fn is_listener(&self) -> bool {
        self.role.is_none()
    }

    /// Adds what `callback` carried or ended.
    fn count(&mut self, callback: &Callback) {
        self.in_sent = matches!(callback, Callback::Sent { .. } | Callback::Sentv { .. });
        if self.in_sent {
            self.last_sent_at = self.sent_data.as_ref().map(Vec::len);
        }
        match callback {
            Callback::Sent { result, .. } => {
                self.sent += result.len();
                extend(&mut self.sent_data, result);
            }
            Callback::Sentv { result, .. } => {
                for chunk in result {
                    self.sent += chunk.len();
                    extend(&mut self.sent_data, chunk);
                }
            }
            Callback::Received { data, .. } => {
                self.received += data.len();
                extend(&mut self.received_data, data);
            }
            Callback::Closed => self.ending = Ending::Closed,
            Callback::ConnectFailed(reason) => self.ending = Ending::ConnectFailed(*reason),
            _ => {}
        }
    }
}

/// Appends `payload`'s bytes to `data`, or forgets `data` when the payload kept only a
/// summary.
fn extend(data: &mut Option<Vec<u8>>, payload: &Payload) {
    match (data.as_mut(), payload.bytes()) {
        (Some(data), Some(bytes)) => data.extend_from_slice(bytes),
        _ => *data = None,
    }
}

/// The sums of every connection and listener of a trace's `events`, by name (`c1`,
/// `server.1`), the trace of a run of `plan`: a crash or restart of a host (a fault of the
/// plan) ends the connections then open on it, not those made later.
///
/// ```
/// use tcpnotify::record::{Callback, Payload};
/// use tcpnotify_sim::run::{tally, Ending, EventKind, TraceEvent};
/// use tcpnotify_sim::{FaultPlan, Seed};
/// let events: Vec<TraceEvent> = [
///     Callback::Sent { data: Payload::of(b"hello"), result: Payload::of(b"hello") },
///     Callback::Received { data: Payload::of(b"hi"), times: 1, result: true },
///     Callback::Closed,
/// ]
/// .into_iter()
/// .map(|callback| {
///     let kind = EventKind::Callback { callback, local: None, remote: None };
///     TraceEvent { at_us: 0, host: "client".into(), who: "c1".into(), kind }
/// })
/// .collect();
/// let c1 = &tally(&events, &FaultPlan::quiet(Seed(1)))["c1"];
/// assert_eq!((c1.sent, c1.received), (5, 2));
/// assert_eq!(c1.ending, Ending::Closed);
/// assert_eq!(c1.sent_data.as_deref(), Some(&b"hello"[..]));
/// ```
pub fn tally(events: &[TraceEvent], plan: &FaultPlan) -> BTreeMap<String, Tally> {
    let mut tallies: BTreeMap<String, Tally> = BTreeMap::new();
    for event in events {
        match &event.kind {
            EventKind::Callback { callback, .. } => {
                // Looked up by `&str`: a key is made once per connection, not per event.
                let who = event.who.as_str();
                match tallies.get_mut(who) {
                    Some(tally) => tally.count(callback),
                    None => {
                        let role = match callback {
                            c if is_listener_callback(c) => None,
                            Callback::Accepted => Some(Role::Server),
                            _ => Some(Role::Client),
                        };
                        let mut tally = Tally::new(&event.host, role);
                        tally.count(callback);
                        tallies.insert(who.to_string(), tally);
                    }
                }
            }
            kind @ (EventKind::WriteDropped { .. } | EventKind::Discarded { .. }) => {
                if let Some(tally) = tallies.get_mut(event.who.as_str()) {
                    if let EventKind::WriteDropped { .. } = kind {
                        tally.writes_dropped += 1;
                    }
                    if let Some(bytes) = kind.unsent_bytes() {
                        tally.unsend(bytes);
                    }
                }
            }
            EventKind::FinalWritten { data, before } => {
                // Bytes queued with `write_final` go out as `sent`'s results do.
                if let Some(tally) = tallies.get_mut(event.who.as_str()) {
                    tally.final_written(data, *before);
                }
            }
            EventKind::Fault { index, .. } => {
                // A crash ends the connections open on its host with no callback; so does its
                // restart (turmoil restarts a running host too, as after a second crash). A
                // connection made after the restart is not touched by either.
                if let Some(FaultKind::Crash { host, .. }) =
                    plan.faults.get(*index).map(|f| &f.kind)
                {
                    let open = tallies.values_mut().filter(|t| {
                        &t.host == host && !t.is_listener() && t.ending == Ending::Open
                    });
                    for tally in open {
                        tally.ending = Ending::Lost;
                    }
                }
            }
            _ => {}
        }
    }
    tallies
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fault::Fault;
    use crate::run::FaultStep;
    use crate::seed::Seed;

    fn callback(at_us: u64, host: &str, who: &str, callback: Callback) -> TraceEvent {
        let kind = EventKind::Callback {
            callback,
            local: None,
            remote: None,
        };
        TraceEvent {
            at_us,
            host: host.into(),
            who: who.into(),
            kind,
        }
    }

    /// An event of `who` on host `client` that is not a callback.
    fn event(at_us: u64, who: &str, kind: EventKind) -> TraceEvent {
        TraceEvent {
            at_us,
            host: "client".into(),
            who: who.into(),
            kind,
        }
    }

    fn final_written(at_us: u64, who: &str, data: Payload) -> TraceEvent {
        let before = FinalWriteBefore::OwnResult;
        event(at_us, who, EventKind::FinalWritten { data, before })
    }

    /// Bytes queued with `write_final` in a callback deferred from the last `sent`.
    fn final_written_before_result(at_us: u64, who: &str, data: Payload) -> TraceEvent {
        let before = FinalWriteBefore::SentResult;
        event(at_us, who, EventKind::FinalWritten { data, before })
    }

    fn sent(data: &[u8], result: &[u8]) -> Callback {
        Callback::Sent {
            data: Payload::of(data),
            result: Payload::of(result),
        }
    }

    /// Bytes queued with `write_final` are sent bytes, in the order they went out: after
    /// what was queued before, and before the result of the `sent` they were queued in (whose
    /// line comes first).
    #[test]
    fn bytes_queued_with_write_final_count_as_sent_and_keep_the_sent_data_whole() {
        let events = [
            callback(1, "client", "c1", Callback::Connected),
            final_written(1, "c1", Payload::of(b"hello ")),
            callback(2, "client", "c1", sent(b"abc", b"ABC")),
            final_written(2, "c1", Payload::of(b"<")),
            final_written(2, "c1", Payload::of(b">")),
            callback(3, "client", "c1", sent(b"de", b"de")),
            callback(4, "client", "c1", Callback::Throttled),
            final_written(4, "c1", Payload::of(b"!")),
        ];
        let c1 = &tally(&events, &FaultPlan::quiet(Seed(1)))["c1"];
        assert_eq!(c1.sent, 6 + 3 + 2 + 2 + 1);
        assert_eq!(c1.sent_data.as_deref(), Some(&b"hello <>ABCde!"[..]));
    }

    /// Bytes queued with `write_final` in a callback deferred from `sent` (its `expect` hook,
    /// a `throttled` its `write_final` caused) go before that `sent`'s result, whose line came
    /// first, and after the bytes queued in `sent` itself; once the deferred callbacks ran,
    /// bytes another callback queues go last again. W1 then takes back that result, the last
    /// bytes queued, when the notifier closed in a deferred callback.
    #[test]
    fn bytes_queued_with_write_final_in_a_callback_deferred_from_sent_go_before_its_result() {
        let events = [
            callback(1, "client", "c1", Callback::Connected),
            callback(2, "client", "c1", sent(b"abc", b"ABC")),
            final_written(2, "c1", Payload::of(b"<")),
            callback(2, "client", "c1", Callback::Throttled),
            final_written_before_result(2, "c1", Payload::of(b"!")),
            callback(2, "client", "c1", Callback::Expect { qty: 0, result: 0 }),
            final_written_before_result(2, "c1", Payload::of(b"?")),
            callback(3, "client", "c1", Callback::Unthrottled),
            final_written(3, "c1", Payload::of(b">")),
        ];
        let c1 = &tally(&events, &FaultPlan::quiet(Seed(1)))["c1"];
        assert_eq!(c1.sent, 3 + 4);
        assert_eq!(c1.sent_data.as_deref(), Some(&b"<!?ABC>"[..]));
        let dropped = EventKind::WriteDropped {
            call: "sent result".into(),
            bytes: 3,
            phase: "closing(shut)".into(),
            after_end: false,
            total: 1,
        };
        let events = [&events[..7], &[event(2, "c1", dropped)]].concat();
        let c1 = &tally(&events, &FaultPlan::quiet(Seed(1)))["c1"];
        assert_eq!(c1.sent_data.as_deref(), Some(&b"<!?"[..]));
    }

    /// W1: a `sent` result dropped after the notifier called `write_final` and then `close()`
    /// inside that `sent` is taken back; the bytes queued with `write_final` stay.
    #[test]
    fn w1_a_dropped_sent_result_is_taken_back_after_the_bytes_write_final_queued_in_it() {
        let dropped = EventKind::WriteDropped {
            call: "sent result".into(),
            bytes: 2,
            phase: "closing(shut)".into(),
            after_end: false,
            total: 1,
        };
        let events = [
            callback(1, "client", "c1", Callback::Connected),
            callback(1, "client", "c1", sent(b"ab", b"ab")),
            callback(2, "client", "c1", sent(b"cd", b"cd")),
            final_written(2, "c1", Payload::of(b"<>")),
            event(2, "c1", dropped),
        ];
        let c1 = &tally(&events, &FaultPlan::quiet(Seed(1)))["c1"];
        assert_eq!((c1.sent, c1.writes_dropped), (4, 1));
        assert_eq!(c1.sent_data.as_deref(), Some(&b"ab<>"[..]));
    }

    /// L3, L5: the queued bytes a close at once discarded, told right after `closed`, are the
    /// last ones queued, whichever call queued them: they never went out.
    #[test]
    fn l5_the_queued_bytes_a_close_at_once_discarded_are_not_sent() {
        let events = [
            callback(1, "client", "c1", Callback::Connected),
            callback(2, "client", "c1", sent(b"abcd", b"abcd")),
            callback(3, "client", "c1", Callback::Throttled),
            final_written(3, "c1", Payload::of(b"ef")),
            callback(4, "client", "c1", sent(b"gh", b"gh")),
            final_written(4, "c1", Payload::of(b"<>")),
            callback(5, "client", "c1", Callback::Closed),
            event(5, "c1", EventKind::Discarded { bytes: 5 }),
        ];
        let c1 = &tally(&events, &FaultPlan::quiet(Seed(1)))["c1"];
        assert_eq!((c1.sent, c1.writes_dropped), (5, 0));
        assert_eq!(c1.sent_data.as_deref(), Some(&b"abcde"[..]));
    }

    #[test]
    fn bytes_queued_with_write_final_and_kept_as_a_summary_count_without_data() {
        let events = [
            callback(1, "client", "c1", sent(b"ab", b"ab")),
            final_written(1, "c1", Payload::summary(b"0123456789abcdefghij")),
        ];
        let c1 = &tally(&events, &FaultPlan::quiet(Seed(1)))["c1"];
        assert_eq!((c1.sent, c1.sent_data.as_deref()), (22, None));
    }

    /// Every chunk a `sentv` queued is sent, in order, and a failed connect is how its
    /// connection ended.
    #[test]
    fn a_sentv_sends_each_chunk_and_a_failed_connect_ends_its_connection() {
        let sentv = Callback::Sentv {
            data: vec![Payload::of(b"ab"), Payload::of(b"cde")],
            result: vec![Payload::of(b"AB"), Payload::of(b"CDE")],
        };
        let failed = Callback::ConnectFailed(ConnectFailure::TimedOut);
        let events = [
            callback(1, "client", "c1", Callback::Connected),
            callback(2, "client", "c1", sentv),
            callback(3, "client", "c2", Callback::Connecting(1)),
            callback(4, "client", "c2", failed),
        ];
        let tallies = tally(&events, &FaultPlan::quiet(Seed(1)));
        assert_eq!(tallies["c1"].sent, 5);
        assert_eq!(tallies["c1"].sent_data.as_deref(), Some(&b"ABCDE"[..]));
        assert_eq!(
            tallies["c2"].ending,
            Ending::ConnectFailed(ConnectFailure::TimedOut)
        );
    }

    /// A trace read from a file may take back more bytes than it showed sent: the count
    /// stops at none and the sent bytes are no longer known, rather than a panic.
    #[test]
    fn taking_back_more_bytes_than_were_sent_forgets_the_sent_data() {
        let events = [
            callback(1, "client", "c1", sent(b"ab", b"ab")),
            callback(2, "client", "c1", Callback::Closed),
            event(2, "c1", EventKind::Discarded { bytes: 5 }),
        ];
        let c1 = &tally(&events, &FaultPlan::quiet(Seed(1)))["c1"];
        assert_eq!((c1.sent, c1.sent_data.as_deref()), (0, None));
    }

    fn fault(at_us: u64, step: FaultStep) -> TraceEvent {
        TraceEvent {
            at_us,
            host: "".into(),
            who: "".into(),
            kind: EventKind::Fault { index: 0, step },
        }
    }

    /// L1: the crash ends what was open on its host then; what its restarted listener
    /// accepted later, and the listeners themselves, are not lost in it.
    #[test]
    fn l1_a_crash_loses_only_the_connections_open_on_its_host_at_that_time() {
        let plan = FaultPlan {
            faults: vec![Fault::at(
                10,
                FaultKind::Crash {
                    host: "server".into(),
                    restart_after_ms: Some(100),
                },
            )],
            ..FaultPlan::quiet(Seed(1))
        };
        let events = [
            callback(1, "server", "server", Callback::NotListening),
            callback(2, "server", "server.1", Callback::Accepted),
            callback(3, "server", "server.2", Callback::Accepted),
            callback(4, "server", "server.2", Callback::Closed),
            callback(5, "client", "c1", Callback::Connected),
            fault(10_000, FaultStep::Fired("crash server".into())),
            fault(
                110_000,
                FaultStep::Restarted {
                    host: "server".into(),
                },
            ),
            callback(120_000, "server", "server#2.1", Callback::Accepted),
        ];
        let tallies = tally(&events, &plan);
        let ending = |name: &str| tallies[name].ending;
        assert_eq!(ending("server.1"), Ending::Lost);
        assert_eq!(ending("server.2"), Ending::Closed);
        assert_eq!(ending("c1"), Ending::Open, "another host");
        assert_eq!(ending("server#2.1"), Ending::Open, "made after the restart");
        assert!(tallies["server"].is_listener());
        assert_eq!(ending("server"), Ending::Open);
        assert_eq!(tallies["server.1"].role, Some(Role::Server));
        assert_eq!(tallies["c1"].role, Some(Role::Client));
    }
}
