//! Stream integrity checked as data flows (rules R6 and W3): what one end's `sent`/`sentv`
//! queued must reach the other end's `received` in order, exactly once.
//!
//! No byte is held: each direction keeps a running CRC-32 of what was queued and one of what
//! was delivered, and the sender sets checkpoints (the stream offset and its CRC) at its
//! write boundaries, at most [`MAX_SEGMENT`] bytes apart. When a delivery reaches a
//! checkpoint, the two CRCs must agree. Memory per direction is a few bytes plus one
//! checkpoint per write in flight (short writes share one, so at least [`MIN_SEGMENT`] bytes
//! each), and the cost per byte is one CRC update on each side, where holding every byte in
//! flight cost a copy and a compare.
//!
//! Each end of a connection registers once, when it is established
//! ([`StreamMatcher::register`], from the recorder's per-connection tap), and holds its
//! connection's two directions from then on: a write or a delivery looks nothing up, and a
//! connection's state is freed with its ends (one whose peer never came, with the run).
//! (Keyed by socket addresses in one map, every write and delivery looked its direction up,
//! and the map held every connection of the run to its end, with its cache misses and page
//! faults.)
//!
//! A CRC mismatch names only the segment between two checkpoints. To name the first
//! differing byte, the run is replayed (it is a function of its scenario and seed) with the
//! exact bytes of that segment kept on both sides ([`StreamMatcher::exact_around`],
//! [`exact_on_mismatch`]): the replay's report is the one a run returns, and it is the one
//! holding every byte would have given, at the same delivery.
//!
//! Why CRC-32 (`crc32fast`): its state is 12 bytes, so 10,000 connections cost nothing;
//! it runs at memory speed with the CPU's carry-less multiply, the same result on every
//! machine and with no random state; and unlike a general hash it is guaranteed to catch a
//! single corrupted burst of up to 32 bits, the commonest corruption.

use rustc_hash::FxHashMap;
use std::collections::{BTreeMap, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};

/// Short writes share a checkpoint until their segment holds this many bytes, so a stream of
/// one-byte writes costs no more than one checkpoint per 4 KiB in flight.
pub(crate) const MIN_SEGMENT: u64 = 4 * 1024;

/// No two checkpoints lie further apart, so a replay keeps at most this many bytes per
/// broken direction, and a mismatch is found within this many bytes of where it happened.
pub(crate) const MAX_SEGMENT: u64 = 64 * 1024;

/// A direction of one connection: (the sender's local address, the sender's remote address).
type DirectionKey = (SocketAddr, SocketAddr);

/// The segments (stream offsets, end excluded) whose CRCs disagreed, by connection and
/// direction: where a replay keeps exact bytes.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(crate) struct Mismatches(BTreeMap<DirectionId, (u64, u64)>);

impl Mismatches {
    /// Whether no direction's CRCs disagreed.
    pub(crate) fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// The stream offset up to which the sender had queued, and the CRC of everything before it.
#[derive(Debug, Clone, Copy)]
struct Checkpoint {
    end: u64,
    crc: u32,
}

/// The exact bytes of one segment, kept during a replay.
struct Exact {
    start: u64,
    end: u64,
    /// The sender's bytes from `start` on, as far as it queued them.
    sent: Vec<u8>,
}

/// A direction's checkpoints in flight, in stream order: the first kept inline, since most
/// directions have at most one in flight (a request, its answer), and the rest behind it. The
/// receiver reaches the first without following a pointer to memory of its own, and a
/// direction with one checkpoint at a time allocates nothing for them.
#[derive(Default)]
struct Checkpoints {
    /// `None` only when `rest` is empty too.
    first: Option<Checkpoint>,
    rest: VecDeque<Checkpoint>,
}

impl Checkpoints {
    fn front(&self) -> Option<&Checkpoint> {
        self.first.as_ref()
    }

    fn back(&self) -> Option<&Checkpoint> {
        self.rest.back().or(self.first.as_ref())
    }

    fn back_mut(&mut self) -> Option<&mut Checkpoint> {
        self.rest.back_mut().or(self.first.as_mut())
    }

    fn push_back(&mut self, checkpoint: Checkpoint) {
        match self.first {
            None => self.first = Some(checkpoint),
            Some(_) => self.rest.push_back(checkpoint),
        }
    }

    fn pop_front(&mut self) {
        self.first = self.rest.pop_front();
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        usize::from(self.first.is_some()) + self.rest.len()
    }
}

/// One direction of one connection.
struct Direction {
    /// Bytes queued so far, and their CRC.
    sent_len: u64,
    sent_crc: crc32fast::Hasher,
    /// Where the segment ending at the last checkpoint starts.
    segment_start: u64,
    /// Checkpoints the receiver has not reached yet, in stream order.
    checkpoints: Checkpoints,
    /// Bytes delivered so far, and their CRC.
    received_len: u64,
    received_crc: crc32fast::Hasher,
    /// The last checkpoint the receiver reached (the stream agrees up to here).
    verified: u64,
    /// During a replay, the exact bytes of the segment that broke.
    exact: Option<Box<Exact>>,
    /// A mismatch was reported; later bytes cannot be compared meaningfully.
    broken: bool,
}

impl Direction {
    /// A direction with nothing sent yet: its CRCs copied from `crc`, a fresh hasher (making
    /// one looks the CPU's features up each time), and the segment `exact` keeps in a replay.
    fn new(crc: &crc32fast::Hasher, exact: Option<Box<Exact>>) -> Direction {
        Direction {
            sent_len: 0,
            sent_crc: crc.clone(),
            segment_start: 0,
            checkpoints: Checkpoints::default(),
            received_len: 0,
            received_crc: crc.clone(),
            verified: 0,
            exact,
            broken: false,
        }
    }

    fn sent(&mut self, chunk: &[u8]) {
        let mut rest = chunk;
        while !rest.is_empty() {
            // The last checkpoint moves forward while its segment is short and unreached.
            let extend = self
                .checkpoints
                .back()
                .is_some_and(|c| c.end == self.sent_len)
                && self.sent_len - self.segment_start < MIN_SEGMENT;
            if !extend {
                self.segment_start = self.sent_len;
            }
            let room = MAX_SEGMENT - (self.sent_len - self.segment_start);
            let take = rest.len().min(usize::try_from(room).unwrap_or(usize::MAX));
            let (piece, after) = rest.split_at(take);
            if let Some(exact) = &mut self.exact {
                exact.keep(self.sent_len, piece);
            }
            self.sent_crc.update(piece);
            self.sent_len += take as u64;
            let checkpoint = Checkpoint {
                end: self.sent_len,
                crc: self.sent_crc.clone().finalize(),
            };
            match self.checkpoints.back_mut() {
                Some(last) if extend => *last = checkpoint,
                _ => self.checkpoints.push_back(checkpoint),
            }
            rest = after;
        }
    }

    /// Checks `data`, delivered next; on a CRC mismatch also returns the broken segment.
    fn received(&mut self, data: &[u8]) -> (Option<String>, Option<(u64, u64)>) {
        let mut rest = data;
        while let Some(&checkpoint) = self.checkpoints.front() {
            if rest.is_empty() {
                break;
            }
            let room = checkpoint.end - self.received_len;
            let take = rest.len().min(usize::try_from(room).unwrap_or(usize::MAX));
            let (piece, after) = rest.split_at(take);
            if let Some(message) =
                (self.exact.as_ref()).and_then(|e| e.differs(self.received_len, piece))
            {
                self.broken = true;
                return (Some(message), None);
            }
            self.received_crc.update(piece);
            self.received_len += take as u64;
            rest = after;
            if self.received_len == checkpoint.end {
                self.checkpoints.pop_front();
                if self.received_crc.clone().finalize() != checkpoint.crc {
                    self.broken = true;
                    let segment = (self.verified, checkpoint.end);
                    return (
                        Some(format!(
                            "bytes at stream offsets {}..{} differ from what the peer sent \
                             (CRC-32 mismatch)",
                            segment.0, segment.1
                        )),
                        Some(segment),
                    );
                }
                self.verified = checkpoint.end;
            }
        }
        if rest.is_empty() {
            return (None, None);
        }
        self.broken = true;
        let message = format!(
            "{} bytes received at stream offset {} that the peer never sent",
            rest.len(),
            self.received_len
        );
        (Some(message), None)
    }
}

impl Exact {
    /// Keeps the part of `piece` (queued at stream offset `at`) that lies in the segment.
    fn keep(&mut self, at: u64, piece: &[u8]) {
        if let Some(range) = overlap(at, piece.len(), self.start, self.end) {
            self.sent.extend_from_slice(&piece[range]);
        }
    }

    /// Compares the part of `piece` (delivered at stream offset `at`) that lies in the
    /// segment with what the sender queued there: the first differing byte, if any.
    fn differs(&self, at: u64, piece: &[u8]) -> Option<String> {
        let range = overlap(at, piece.len(), self.start, self.end)?;
        let from = usize::try_from(at + range.start as u64 - self.start).ok()?;
        let got = &piece[range];
        let wanted = self.sent.get(from..)?;
        let i = got.iter().zip(wanted).position(|(g, w)| g != w)?;
        Some(format!(
            "byte at stream offset {} is {:#04x}, the peer sent {:#04x}",
            self.start + (from + i) as u64,
            got[i],
            wanted[i]
        ))
    }
}

/// The indices of a `len`-byte piece at stream offset `at` that lie in `start..end`.
fn overlap(at: u64, len: usize, start: u64, end: u64) -> Option<std::ops::Range<usize>> {
    let lo = start.max(at);
    let hi = end.min(at + len as u64);
    (lo < hi).then(|| (lo - at) as usize..(hi - at) as usize)
}

/// Which connection a direction belongs to, by the order connections were registered in (the
/// same in a replay, which runs the same until the mismatch), and which direction it is.
type DirectionId = (u64, DirectionKey);

/// Both directions of one connection, shared by its two ends' [`StreamEnd`]s.
struct Connection {
    /// Indexed by the sending end: 0 for the end that registered first, 1 for its peer.
    directions: [Direction; 2],
    /// Registered as the run's `number`th connection.
    number: u64,
    /// (local, remote) of the end that registered first: direction 0's key.
    key: DirectionKey,
    /// Where a CRC mismatch is noted, for the replay.
    mismatches: Arc<Mutex<Mismatches>>,
}

impl Connection {
    /// Direction `side`'s name in [`Mismatches`].
    fn id(&self, side: usize) -> DirectionId {
        let (first, second) = self.key;
        match side {
            0 => (self.number, (first, second)),
            _ => (self.number, (second, first)),
        }
    }
}

/// One end of a connection as the check sees it: feeds what the end queued and what it is
/// delivered to the connection's two directions, with no lookup (the end holds them). Two
/// words, so that the recorder's tap holding it fits a cache line: at 1,000 connections the
/// tap and the connection are out of the cache by the time their next data comes.
pub(crate) struct StreamEnd {
    connection: Arc<Mutex<Connection>>,
    /// The direction this end sends on (0 or 1); it receives on the other.
    side: usize,
}

impl StreamEnd {
    fn connection(&self) -> MutexGuard<'_, Connection> {
        lock(&self.connection)
    }

    /// This end queued `chunk` for sending.
    pub(crate) fn sent(&self, chunk: &[u8]) {
        if chunk.is_empty() {
            return;
        }
        let mut connection = self.connection();
        let direction = &mut connection.directions[self.side];
        if !direction.broken {
            direction.sent(chunk);
        }
    }

    /// This end received `data`. Returns what is wrong, if the data is not exactly the next
    /// bytes its peer queued.
    pub(crate) fn received(&self, data: &[u8]) -> Option<String> {
        let mut connection = self.connection();
        let side = 1 - self.side;
        let direction = &mut connection.directions[side];
        if direction.broken {
            return None;
        }
        let (message, segment) = direction.received(data);
        if let Some(segment) = segment {
            let id = connection.id(side);
            (connection
                .mismatches
                .lock()
                .unwrap_or_else(|e| e.into_inner()))
            .0
            .insert(id, segment);
        }
        message
    }
}

/// `connection`, locked, also after a panic while it was held (the run reports the panic).
fn lock(connection: &Mutex<Connection>) -> MutexGuard<'_, Connection> {
    connection.lock().unwrap_or_else(|e| e.into_inner())
}

/// Matches sent bytes against received bytes, per connection direction: each end of a
/// connection registers once ([`StreamMatcher::register`]) and then feeds its own
/// [`StreamEnd`], so a write or a delivery costs no lookup, and a connection's state goes
/// when both its ends are gone (or, if its peer never came, with the matcher).
#[derive(Default)]
pub(crate) struct StreamMatcher {
    /// Connections one end of which registered, by that end's (local, remote), waiting for
    /// the other end: looked up once per end, never iterated. An end may be gone before its
    /// peer registers (a server that greets and hard-closes before its client's `connected`
    /// runs) while its bytes are still on their way: see [`StreamMatcher::register`] for when
    /// its peer joins.
    waiting: FxHashMap<DirectionKey, Arc<Mutex<Connection>>>,
    /// Connections registered so far.
    registered: u64,
    /// In a replay, the segments whose exact bytes to keep.
    exact: Mismatches,
    /// The segments whose CRCs disagreed so far.
    mismatches: Arc<Mutex<Mismatches>>,
    /// A fresh CRC, copied into each new direction.
    crc: crc32fast::Hasher,
}

impl StreamMatcher {
    /// An empty matcher, comparing CRCs only.
    pub(crate) fn new() -> Self {
        Self::default()
    }

    /// A matcher for the replay of a run whose CRCs disagreed in `mismatches`: it keeps the
    /// exact bytes of those segments, so it reports the first differing byte.
    pub(crate) fn exact_around(mismatches: &Mismatches) -> Self {
        StreamMatcher {
            exact: mismatches.clone(),
            ..Self::default()
        }
    }

    /// The segments whose CRCs disagreed so far.
    pub(crate) fn mismatches(&self) -> Mismatches {
        (self.mismatches.lock().unwrap_or_else(|e| e.into_inner())).clone()
    }

    /// The end at `local`, connected to `remote`, is established: its peer's end, registered
    /// before with the addresses the other way round, shares its directions; otherwise it is
    /// a new connection, which its peer will join.
    ///
    /// A peer that is gone is joined if it queued bytes: they are this end's to receive.
    /// One that queued nothing leaves nothing to check, and its addresses are not joined: a
    /// simulated host takes a port again only after all its 16,384 ephemeral ports, so a
    /// connection on the addresses of one whose peer never came is a new one.
    pub(crate) fn register(&mut self, local: SocketAddr, remote: SocketAddr) -> StreamEnd {
        if let Some(connection) = self.waiting.remove(&(remote, local)) {
            let live = Arc::strong_count(&connection) > 1;
            if live || lock(&connection).directions[0].sent_len > 0 {
                return StreamEnd {
                    connection,
                    side: 1,
                };
            }
        }
        let number = self.registered;
        self.registered += 1;
        let direction = |key: DirectionKey| {
            let exact = (self.exact.0.get(&(number, key))).map(|&(start, end)| {
                Box::new(Exact {
                    start,
                    end,
                    sent: Vec::new(),
                })
            });
            Direction::new(&self.crc, exact)
        };
        let connection = Arc::new(Mutex::new(Connection {
            directions: [direction((local, remote)), direction((remote, local))],
            number,
            key: (local, remote),
            mismatches: self.mismatches.clone(),
        }));
        self.waiting.insert((local, remote), connection.clone());
        StreamEnd {
            connection,
            side: 0,
        }
    }
}

/// Runs `pass` once with CRCs only; if their CRCs disagreed somewhere, runs it again keeping
/// the exact bytes there, and returns the second result (the one naming the first differing
/// byte). Should the second pass fail, the first result stands.
pub(crate) fn exact_on_mismatch<T, E>(
    mut pass: impl FnMut(Option<&Mismatches>) -> Result<(T, Mismatches), E>,
) -> Result<T, E> {
    let (first, mismatches) = pass(None)?;
    if mismatches.is_empty() {
        return Ok(first);
    }
    match pass(Some(&mismatches)) {
        Ok((exact, _)) => Ok(exact),
        Err(_) => Ok(first),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fault::FaultPlan;
    use crate::run::recorder::{Tamper, TAMPERED_WRITER};
    use crate::run::{run, EventKind};
    use crate::scenario::notifiers::Echo;
    use crate::{factory, Scenario, Seed};
    use tcpnotify::{ConnectFailure, TcpConnection, TcpConnectionNotify};

    fn addrs() -> (SocketAddr, SocketAddr) {
        (
            "10.0.0.1:1000".parse().unwrap(),
            "10.0.0.2:7000".parse().unwrap(),
        )
    }

    /// Both ends of one connection, the client's (at `a`, registered first) and the server's.
    fn connect(m: &mut StreamMatcher) -> (StreamEnd, StreamEnd) {
        let (a, b) = addrs();
        (m.register(a, b), m.register(b, a))
    }

    #[test]
    fn r6_other_boundaries_match() {
        let mut m = StreamMatcher::new();
        let (a, b) = connect(&mut m);
        a.sent(&b"hello "[..]);
        a.sent(&b"world"[..]);
        assert_eq!(b.received(b"hel"), None);
        assert_eq!(b.received(b"lo wo"), None);
        assert_eq!(b.received(b"rld"), None);
        assert!(m.mismatches().is_empty());
    }

    /// Feeds one direction of a new connection in `m`: `sent` in the given writes, then
    /// `received` in the given deliveries; returns the first report.
    fn feed(m: &mut StreamMatcher, sent: &[&[u8]], received: &[&[u8]]) -> Option<String> {
        let (a, b) = connect(m);
        for chunk in sent {
            a.sent(chunk);
        }
        received.iter().find_map(|data| b.received(data))
    }

    #[test]
    fn r6_corrupted_byte_is_reported_with_its_offset() {
        let pass = |mismatches: Option<&Mismatches>| {
            let mut m = mismatches.map_or_else(StreamMatcher::new, StreamMatcher::exact_around);
            let report = feed(&mut m, &[b"hello"], &[b"heLlo"]);
            Ok::<_, ()>((report, m.mismatches()))
        };
        assert_eq!(
            exact_on_mismatch(pass).unwrap().as_deref(),
            Some("byte at stream offset 2 is 0x4c, the peer sent 0x6c")
        );
    }

    #[test]
    fn r6_crcs_alone_name_the_broken_segment() {
        let mut m = StreamMatcher::new();
        let report = feed(&mut m, &[b"hello", b"world"], &[b"hel", b"lo", b"woRld"]);
        assert_eq!(
            report.as_deref(),
            Some("bytes at stream offsets 0..10 differ from what the peer sent (CRC-32 mismatch)")
        );
        let (a, b) = addrs();
        let expected = Mismatches(BTreeMap::from([((0, (a, b)), (0, 10))]));
        assert_eq!(m.mismatches(), expected);
    }

    #[test]
    fn r6_replay_names_the_first_differing_byte_deep_in_a_long_stream() {
        // Two 100 KiB writes, delivered in 1000-byte pieces: the corrupt byte lies in the last
        // of the four segments.
        let data: Vec<u8> = (0..200 * 1024).map(|i| (i % 251) as u8).collect();
        let mut corrupt = data.clone();
        let at = 100 * 1024 + 2 * MAX_SEGMENT as usize - 36 * 1024 + 5;
        corrupt[at] ^= 0xff;
        let pass = |mismatches: Option<&Mismatches>| {
            let mut m = mismatches.map_or_else(StreamMatcher::new, StreamMatcher::exact_around);
            let deliveries: Vec<&[u8]> = corrupt.chunks(1000).collect();
            let report = feed(
                &mut m,
                &[&data[..100 * 1024], &data[100 * 1024..]],
                &deliveries,
            );
            Ok::<_, ()>((report, m.mismatches()))
        };
        let report = exact_on_mismatch(pass).unwrap();
        assert_eq!(
            report,
            Some(format!(
                "byte at stream offset {at} is {:#04x}, the peer sent {:#04x}",
                corrupt[at], data[at]
            ))
        );
    }

    #[test]
    fn r6_replay_names_the_byte_in_the_connection_that_broke_not_an_earlier_one_on_its_addresses() {
        // Two connections on the same addresses, one after the other: the first streams
        // `hello` intact, the second corrupts its third byte.
        let pass = |mismatches: Option<&Mismatches>| {
            let mut m = mismatches.map_or_else(StreamMatcher::new, StreamMatcher::exact_around);
            let first = feed(&mut m, &[b"hello"], &[b"hello"]);
            assert_eq!(first, None, "the first connection is intact");
            let report = feed(&mut m, &[b"hello"], &[b"heLlo"]);
            Ok::<_, ()>((report, m.mismatches()))
        };
        assert_eq!(
            exact_on_mismatch(pass).unwrap().as_deref(),
            Some("byte at stream offset 2 is 0x4c, the peer sent 0x6c")
        );
    }

    /// A replay keeps exact bytes for the connection that broke alone, not for every one
    /// that ran on its addresses before it: connections are told apart by their order.
    #[test]
    fn a_replay_keeps_bytes_only_for_the_connection_that_broke() {
        let (a, b) = addrs();
        let broken = Mismatches(BTreeMap::from([((1, (a, b)), (0, 5))]));
        let mut m = StreamMatcher::exact_around(&broken);
        let keeps = |end: &StreamEnd| end.connection().directions[end.side].exact.is_some();
        let (first, _) = connect(&mut m);
        let (second, _) = connect(&mut m);
        assert!(
            !keeps(&first),
            "the first connection on these addresses did not break"
        );
        assert!(keeps(&second), "the second one did");
    }

    #[test]
    fn r6_a_failed_replay_keeps_the_first_report() {
        let mut passes = 0;
        let report = exact_on_mismatch(|mismatches| {
            passes += 1;
            match mismatches {
                None => {
                    let mut m = StreamMatcher::new();
                    let report = feed(&mut m, &[b"ab"], &[b"aB"]);
                    Ok((report, m.mismatches()))
                }
                Some(_) => Err(()),
            }
        });
        assert_eq!(passes, 2);
        assert_eq!(
            report.unwrap().as_deref(),
            Some("bytes at stream offsets 0..2 differ from what the peer sent (CRC-32 mismatch)")
        );
    }

    #[test]
    fn r6_many_short_writes_share_checkpoints() {
        let mut m = StreamMatcher::new();
        let (a, b) = connect(&mut m);
        for _ in 0..10_000 {
            a.sent(b"x");
        }
        let checkpoints = a.connection().directions[a.side].checkpoints.len();
        assert_eq!(checkpoints, 3, "4 KiB + 4 KiB + the rest");
        assert_eq!(b.received(&[b'x'; 10_000]), None);
    }

    /// The ends of the checkpoints `writes` leave in flight on a fresh direction.
    fn checkpoint_ends(writes: &[usize]) -> Vec<u64> {
        let mut direction = Direction::new(&crc32fast::Hasher::new(), None);
        for &len in writes {
            direction.sent(&vec![b'x'; len]);
        }
        let mut ends = Vec::new();
        while let Some(checkpoint) = direction.checkpoints.front() {
            ends.push(checkpoint.end);
            direction.checkpoints.pop_front();
        }
        ends
    }

    #[test]
    fn a_short_segment_grows_no_longer_than_max_segment() {
        // One byte opens a short segment; the long write after it fills that segment only up
        // to MAX_SEGMENT (the most a replay keeps), and its last byte starts another.
        let max = MAX_SEGMENT as usize;
        assert_eq!(checkpoint_ends(&[1, max]), [MAX_SEGMENT, MAX_SEGMENT + 1]);
        assert_eq!(
            checkpoint_ends(&[1, 3 * max]),
            [
                MAX_SEGMENT,
                2 * MAX_SEGMENT,
                3 * MAX_SEGMENT,
                3 * MAX_SEGMENT + 1
            ]
        );
    }

    #[test]
    fn a_segment_of_min_segment_bytes_takes_no_more_writes() {
        let min = MIN_SEGMENT as usize;
        assert_eq!(checkpoint_ends(&[min - 1, 1]), [MIN_SEGMENT]);
        assert_eq!(checkpoint_ends(&[min, 1]), [MIN_SEGMENT, MIN_SEGMENT + 1]);
    }

    #[test]
    fn exact_names_the_stream_offset_of_a_piece_that_straddles_the_segment_start() {
        // The segment 10..20 was sent as 10 times b'a' + 0..10; a delivery of offsets 6..16
        // holds four bytes before the segment and differs at stream offset 13.
        let mut exact = Exact {
            start: 10,
            end: 20,
            sent: Vec::new(),
        };
        exact.keep(0, b"aaaaaaaaaa");
        exact.keep(10, &[0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
        assert_eq!(exact.sent, [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
        assert_eq!(
            exact.differs(6, &[b'a', b'a', b'a', b'a', 0, 1, 2, 3, 4, 5]),
            None
        );
        assert_eq!(
            exact
                .differs(6, &[b'Z', b'a', b'a', b'a', 0, 1, 2, 0xee, 4, 5])
                .as_deref(),
            Some("byte at stream offset 13 is 0xee, the peer sent 0x03"),
            "a byte before the segment is not compared; the offset counts from the stream's start"
        );
        assert_eq!(
            exact.differs(15, &[5, 6, 7, 8, 9, 0x77]),
            None,
            "a byte past the segment is not compared"
        );
    }

    #[test]
    fn checkpoints_keep_stream_order_through_the_inline_one() {
        let mut c = Checkpoints::default();
        let at = |end| Checkpoint { end, crc: 0 };
        let ends = |c: &mut Checkpoints, n| -> Vec<u64> {
            (0..n)
                .map(|_| {
                    let end = c.front().map(|c| c.end);
                    c.pop_front();
                    end.unwrap_or(0)
                })
                .collect()
        };
        c.push_back(at(1));
        c.push_back(at(2));
        assert_eq!(ends(&mut c, 1), [1]);
        c.push_back(at(3));
        c.back_mut().unwrap().end = 4;
        assert_eq!(c.back().map(|c| c.end), Some(4));
        assert_eq!(ends(&mut c, 2), [2, 4]);
        assert!(c.front().is_none() && c.back().is_none() && c.len() == 0);
        c.push_back(at(5));
        c.back_mut().unwrap().end = 6;
        assert_eq!(ends(&mut c, 1), [6]);
    }

    #[test]
    fn w3_duplicated_bytes_are_reported() {
        let mut m = StreamMatcher::new();
        let (a, b) = connect(&mut m);
        a.sent(&b"ab"[..]);
        assert_eq!(b.received(b"ab"), None);
        assert_eq!(
            b.received(b"b").as_deref(),
            Some("1 bytes received at stream offset 2 that the peer never sent")
        );
    }

    #[test]
    fn w3_bytes_of_an_earlier_connection_on_the_same_addresses_do_not_count() {
        // The first connection queued bytes its peer never got; a later connection on the
        // same addresses starts a stream of its own, where they were never sent.
        let mut m = StreamMatcher::new();
        let (a, _b) = connect(&mut m);
        a.sent(&b"lost"[..]);
        let (_a, b) = connect(&mut m);
        assert_eq!(
            b.received(b"lost").as_deref(),
            Some("4 bytes received at stream offset 0 that the peer never sent")
        );
    }

    #[test]
    fn directions_are_independent() {
        let mut m = StreamMatcher::new();
        let (a, b) = connect(&mut m);
        a.sent(&b"ping"[..]);
        b.sent(&b"pong"[..]);
        assert_eq!(a.received(b"pong"), None);
        assert_eq!(b.received(b"ping"), None);
    }

    #[test]
    fn either_end_may_register_first() {
        let (a, b) = addrs();
        let mut m = StreamMatcher::new();
        let server = m.register(b, a);
        server.sent(&b"banner"[..]);
        let client = m.register(a, b);
        assert_eq!(client.received(b"banner"), None);
        client.sent(&b"hi"[..]);
        assert_eq!(server.received(b"hi"), None);
    }

    #[test]
    fn w3_a_new_connection_does_not_join_one_whose_registered_end_is_gone() {
        // The client end of a connection registers, and goes (its server never accepted);
        // a new connection on the same addresses registers its server end first.
        let (a, b) = addrs();
        let mut m = StreamMatcher::new();
        drop(m.register(a, b));
        let server = m.register(b, a);
        let client = m.register(a, b);
        server.sent(&b"hi"[..]);
        assert_eq!(client.received(b"hi"), None);
        client.sent(&b"ho"[..]);
        assert_eq!(server.received(b"ho"), None);
    }

    #[test]
    fn r6_an_end_gone_before_its_peer_registered_is_joined_for_the_bytes_it_queued() {
        // The server end greets and goes before the client end registers (its `connected`
        // runs a latency later): the greeting is the client's to receive.
        let (a, b) = addrs();
        let mut m = StreamMatcher::new();
        let server = m.register(b, a);
        server.sent(&b"hello"[..]);
        drop(server);
        let client = m.register(a, b);
        assert_eq!(client.received(b"hello"), None);
        assert_eq!(
            client.received(b"!"),
            Some("1 bytes received at stream offset 5 that the peer never sent".into())
        );
    }

    #[test]
    fn a_stream_end_is_two_words() {
        assert_eq!(size_of::<StreamEnd>(), 2 * size_of::<usize>());
    }

    #[test]
    fn a_connection_is_forgotten_once_both_ends_registered() {
        let mut m = StreamMatcher::new();
        let (a, b) = connect(&mut m);
        assert!(
            m.waiting.is_empty(),
            "only half-registered connections wait"
        );
        drop(m);
        a.sent(&b"still checked"[..]);
        assert_eq!(b.received(b"still checked"), None);
        assert_eq!(
            Arc::strong_count(&a.connection),
            2,
            "held by its ends alone"
        );
    }

    /// A client that writes `ping` and closes.
    struct WritesPing;

    impl TcpConnectionNotify for WritesPing {
        fn connected(&mut self, conn: &mut TcpConnection) {
            conn.write(b"ping".to_vec());
            conn.dispose();
        }
        fn connect_failed(&mut self, _conn: &mut TcpConnection, _reason: ConnectFailure) {}
    }

    /// The R6 and W3 reports of a simulated run of `WritesPing` against an echo server,
    /// its writes seen by the check as `tamper` says
    /// ([`TAMPERED_WRITER`](crate::run::recorder::TAMPERED_WRITER)): the bytes reach the
    /// server as written, not as the check saw them queued.
    fn violations_of_tampered_writes(tamper: Tamper, check_integrity: bool) -> Vec<String> {
        let mut scenario = Scenario::new("tampered-writes")
            .listener("server", "server", 7000, factory(|| Echo))
            .client("c1", "client", "server", 7000, factory(|| WritesPing))
            .duration_ms(1_000)
            .plan(FaultPlan::quiet(Seed(0)));
        scenario.options.check_integrity = check_integrity;
        TAMPERED_WRITER.set(Some(("c1", tamper)));
        let outcome = run(&scenario, &scenario.plan_for(Seed(1)));
        TAMPERED_WRITER.set(None);
        let outcome = outcome.expect("a valid scenario");
        (outcome.trace.events().into_iter())
            .filter_map(|event| match event.kind {
                EventKind::Violation { rule, message } => {
                    Some(format!("{} {rule}: {message}", event.who))
                }
                _ => None,
            })
            .collect()
    }

    #[test]
    fn w3_a_simulated_run_reports_bytes_the_sender_never_queued() {
        assert_eq!(
            violations_of_tampered_writes(Tamper::Unseen, true),
            ["server.1 R6: 4 bytes received at stream offset 0 that the peer never sent"]
        );
    }

    /// The CRCs find the stream broken; the run is replayed keeping the exact bytes there,
    /// and its report names the first byte that differs.
    #[test]
    fn r6_a_simulated_run_names_the_first_byte_that_differs_from_what_was_queued() {
        assert_eq!(
            violations_of_tampered_writes(Tamper::Altered, true),
            ["server.1 R6: byte at stream offset 0 is 0x70, the peer sent 0x50"]
        );
    }

    #[test]
    fn w3_a_simulated_run_with_the_check_off_reports_nothing() {
        for tamper in [Tamper::Unseen, Tamper::Altered] {
            assert!(violations_of_tampered_writes(tamper, false).is_empty());
        }
    }
}
