//! Lanes: a row per connection and per listener of a trace, in order of first appearance,
//! what each stands for (from its callbacks, or else its name) and the trace lines it owns.

use crate::run::{is_listener_callback, EventKind, TraceEvent};
use std::collections::BTreeMap;
use std::net::SocketAddr;
use tcpnotify::record::Callback;

/// What a lane stands for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum LaneKind {
    /// A listener (`server`, or `server#2` after its host restarted).
    Listener,
    /// A connection a listener accepted (`server.1`).
    Accepted,
    /// A client connection (`c1`).
    Client,
}

impl LaneKind {
    /// The kind a callback shows its lane to be, if it shows one.
    pub(super) fn of(callback: &Callback) -> Option<LaneKind> {
        match callback {
            c if is_listener_callback(c) => Some(LaneKind::Listener),
            Callback::Accepted => Some(LaneKind::Accepted),
            Callback::ProxyVia { .. }
            | Callback::Connecting(_)
            | Callback::Connected
            | Callback::ConnectFailed(_) => Some(LaneKind::Client),
            _ => None,
        }
    }

    /// The kind of a lane none of whose callbacks tells: `server.3` names an accepted
    /// connection, anything else a client.
    pub(super) fn by_name(name: &str) -> LaneKind {
        match accepted_by(name) {
            Some(_) => LaneKind::Accepted,
            None => LaneKind::Client,
        }
    }

    /// Its name in renderings.
    pub(crate) fn name(self) -> &'static str {
        match self {
            LaneKind::Listener => "listener",
            LaneKind::Accepted => "accepted",
            LaneKind::Client => "client",
        }
    }
}

/// The listener `name` was accepted by (`server` for `server.3` and `server#2.1`), if the
/// name has that shape.
pub(super) fn accepted_by(name: &str) -> Option<&str> {
    let (listener, n) = name.rsplit_once('.')?;
    n.parse::<u64>().ok()?;
    Some(listener_base(listener))
}

/// A listener's name without its incarnation (`server` for `server#2`).
pub(super) fn listener_base(name: &str) -> &str {
    name.split('#').next().unwrap_or(name)
}

/// One row of the timeline: a connection or a listener and the trace lines it owns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Lane {
    /// Its name in the trace (`c1`, `server`, `server.1`).
    pub(crate) name: String,
    /// The host it runs on.
    pub(crate) host: String,
    /// What it stands for.
    pub(crate) kind: LaneKind,
    /// Its local and peer address, from its first callback that had both.
    pub(crate) addresses: Option<(SocketAddr, SocketAddr)>,
    /// The lane of the other end of the same connection, found by its addresses.
    pub(crate) peer: Option<usize>,
    /// The group it is folded into.
    pub(crate) group: usize,
    /// Its trace lines, as indices into [`Timeline::events`] (line number less one).
    pub(crate) lines: Vec<usize>,
}

/// The lanes of a trace in order of first appearance, and the lane of each line.
pub(super) fn lanes_of(events: &[TraceEvent]) -> (Vec<Lane>, Vec<Option<usize>>) {
    let mut lanes: Vec<Lane> = Vec::new();
    let mut index: BTreeMap<&str, usize> = BTreeMap::new();
    let mut kinds: Vec<Option<LaneKind>> = Vec::new();
    let mut lane_of = Vec::with_capacity(events.len());
    for (line, event) in events.iter().enumerate() {
        if event.who == "-" {
            lane_of.push(None);
            continue;
        }
        let lane = *index.entry(&event.who).or_insert_with(|| {
            lanes.push(Lane {
                name: event.who.to_string(),
                host: event.host.to_string(),
                kind: LaneKind::Client,
                addresses: None,
                peer: None,
                group: 0,
                lines: Vec::new(),
            });
            kinds.push(None);
            lanes.len() - 1
        });
        lane_of.push(Some(lane));
        lanes[lane].lines.push(line);
        if let EventKind::Callback {
            callback,
            local,
            remote,
        } = &event.kind
        {
            if kinds[lane].is_none() {
                kinds[lane] = LaneKind::of(callback);
            }
            if let (None, Some(local), Some(remote)) = (lanes[lane].addresses, local, remote) {
                lanes[lane].addresses = Some((*local, *remote));
            }
        }
    }
    for (lane, kind) in lanes.iter_mut().zip(kinds) {
        lane.kind = kind.unwrap_or_else(|| LaneKind::by_name(&lane.name));
    }
    (lanes, lane_of)
}
