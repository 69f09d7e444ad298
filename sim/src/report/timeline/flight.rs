//! Bytes in flight per direction: what one end queued (the results of its `sent` and
//! `sentv`) and its peer has not yet been delivered (`received`). The two ends of a connection
//! are paired by their addresses: one's local address is the other's peer address.

use super::lane::Lane;
use crate::judge::pair_by_addresses;
use crate::run::{EventKind, TraceEvent};
use std::collections::BTreeMap;
use tcpnotify::record::Callback;

/// Bytes in flight from one lane to its peer over time: a step function, one point where it
/// changes (the last value at a given time), starting at the first change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Flight {
    /// The sending lane.
    pub(crate) from: usize,
    /// The receiving lane.
    pub(crate) to: usize,
    /// `(time in µs, bytes queued by `from` less bytes delivered to `to`)`. Negative only
    /// if the trace shows more delivered than queued, which R6 forbids.
    pub(crate) points: Vec<(u64, i64)>,
    /// The last time either end did anything: past it, bytes still counted in flight were
    /// never delivered (a reset, a crash), and the series says nothing more.
    pub(crate) until_us: u64,
}

impl Flight {
    /// The most bytes in flight at any time.
    pub(crate) fn peak(&self) -> i64 {
        self.points.iter().map(|p| p.1).max().unwrap_or(0).max(0)
    }
}

/// Sets each lane's peer: the lane whose (local, peer) addresses are this one's swapped, as
/// the judge pairs a connection's ends ([`pair_by_addresses`]); lanes whose addresses another
/// lane shares have none.
pub(crate) fn pair(lanes: &mut [Lane]) {
    let addresses: Vec<_> = lanes.iter().map(|lane| lane.addresses).collect();
    for (lane, peer) in lanes.iter_mut().zip(pair_by_addresses(&addresses)) {
        lane.peer = peer;
    }
}

/// The bytes-in-flight series of every direction that carried data, ordered by sending lane.
pub(crate) fn series(
    events: &[TraceEvent],
    lane_of: &[Option<usize>],
    lanes: &[Lane],
) -> Vec<Flight> {
    let mut flights: BTreeMap<usize, Flight> = BTreeMap::new();
    for (event, lane) in events.iter().zip(lane_of) {
        let Some(lane) = *lane else {
            continue;
        };
        let Some(peer) = lanes[lane].peer else {
            continue;
        };
        // What went out is what `sent` and `sentv` returned and what `write_final` queued past
        // them, less a result W1 dropped (the notifier closed inside that callback) and what a
        // close at once discarded.
        let (from, to, change) = match event.callback() {
            Some(Callback::Sent { result, .. }) => (lane, peer, bytes(result.len())),
            Some(Callback::Sentv { result, .. }) => {
                (lane, peer, bytes(result.iter().map(|p| p.len()).sum()))
            }
            Some(Callback::Received { data, .. }) => (peer, lane, -bytes(data.len())),
            Some(_) => continue,
            None => match (&event.kind, event.kind.unsent_bytes()) {
                (EventKind::FinalWritten { data, .. }, _) => (lane, peer, bytes(data.len())),
                (_, Some(n)) => (lane, peer, -bytes(n)),
                (_, None) => continue,
            },
        };
        let flight = flights.entry(from).or_insert_with(|| {
            let last = |lane: usize| lanes[lane].lines.last().map_or(0, |&l| events[l].at_us);
            Flight {
                from,
                to,
                points: Vec::new(),
                until_us: last(from).max(last(to)),
            }
        });
        let value = flight
            .points
            .last()
            .map_or(0, |p| p.1)
            .saturating_add(change);
        match flight.points.last_mut() {
            Some(last) if last.0 == event.at_us => last.1 = value,
            _ => flight.points.push((event.at_us, value)),
        }
    }
    flights.into_values().collect()
}

fn bytes(n: usize) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use super::super::model::tests::{callback, echo_trace, received, sent, timeline_of, CLIENT};
    use super::*;
    use crate::run::Trace;

    #[test]
    fn in_flight_is_what_one_end_queued_less_what_its_peer_was_delivered() {
        let t = timeline_of(&echo_trace());
        let c1_to_server: Vec<(u64, i64)> = vec![(1000, 100), (402_000, 0)];
        let server_to_c1: Vec<(u64, i64)> = vec![(402_000, 100), (403_000, 30), (404_000, 0)];
        assert_eq!(
            t.flights,
            vec![
                Flight {
                    from: 1,
                    to: 2,
                    points: c1_to_server,
                    until_us: 406_000,
                },
                Flight {
                    from: 2,
                    to: 1,
                    points: server_to_c1,
                    until_us: 406_000,
                },
            ]
        );
        assert_eq!(t.flights[0].peak(), 100);
    }

    #[test]
    fn an_end_without_a_peer_in_the_trace_has_no_flight() {
        let trace = Trace::from_events(vec![
            callback(0, "client", "c1", sent(10), Some(CLIENT)),
            callback(1, "client", "c1", received(10), Some(CLIENT)),
        ]);
        assert_eq!(timeline_of(&trace).flights, vec![]);
    }

    #[test]
    fn write_final_adds_and_a_dropped_sent_result_and_a_discard_take_back() {
        use super::super::model::tests::{event, SERVER};
        use tcpnotify::record::{FinalWriteBefore, Payload};
        let dropped = EventKind::WriteDropped {
            call: "sent result".into(),
            bytes: 10,
            phase: "closing(shut)".into(),
            after_end: false,
            total: 1,
        };
        let trace = Trace::from_events(vec![
            callback(0, "client", "c1", Callback::Connected, Some(CLIENT)),
            callback(0, "server", "s.1", Callback::Accepted, Some(SERVER)),
            callback(5, "client", "c1", sent(10), Some(CLIENT)),
            event(5, "client", "c1", dropped),
            event(
                6,
                "client",
                "c1",
                EventKind::FinalWritten {
                    data: Payload::of(b"abcd"),
                    before: FinalWriteBefore::OwnResult,
                },
            ),
            event(7, "client", "c1", EventKind::Discarded { bytes: 3 }),
        ]);
        let flight = &timeline_of(&trace).flights[0];
        assert_eq!(flight.points, [(5, 0), (6, 4), (7, 1)]);
    }

    #[test]
    fn sentv_counts_the_chunks_actually_queued() {
        use tcpnotify::record::Payload;
        let chunks = vec![Payload::of(b"abc"), Payload::of(b"de")];
        let trace = Trace::from_events(vec![
            callback(0, "client", "c1", Callback::Connected, Some(CLIENT)),
            callback(
                0,
                "server",
                "s.1",
                Callback::Accepted,
                Some(super::super::model::tests::SERVER),
            ),
            callback(
                5,
                "client",
                "c1",
                Callback::Sentv {
                    data: chunks.clone(),
                    result: chunks[..1].to_vec(),
                },
                Some(CLIENT),
            ),
        ]);
        let flight = &timeline_of(&trace).flights[0];
        assert_eq!(
            (flight.points.as_slice(), flight.until_us),
            (&[(5, 3)][..], 5)
        );
    }
}
