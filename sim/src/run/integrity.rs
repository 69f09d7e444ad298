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

/// Short writes share a checkpoint until their segment holds this many bytes, so a stream of
/// one-byte writes costs no more than one checkpoint per 4 KiB in flight.
pub(crate) const MIN_SEGMENT: u64 = 4 * 1024;

/// No two checkpoints lie further apart, so a replay keeps at most this many bytes per
/// broken direction, and a mismatch is found within this many bytes of where it happened.
pub(crate) const MAX_SEGMENT: u64 = 64 * 1024;

/// A direction of one connection: (the sender's local address, the sender's remote address).
type DirectionKey = (SocketAddr, SocketAddr);

/// The segments (stream offsets, end excluded) whose CRCs disagreed, by direction: where a
/// replay keeps exact bytes.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(crate) struct Mismatches(BTreeMap<DirectionKey, (u64, u64)>);

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

/// One direction of one connection.
#[derive(Default)]
struct Direction {
    /// Bytes queued so far, and their CRC.
    sent_len: u64,
    sent_crc: crc32fast::Hasher,
    /// Where the segment ending at the last checkpoint starts.
    segment_start: u64,
    /// Checkpoints the receiver has not reached yet, in stream order.
    checkpoints: VecDeque<Checkpoint>,
    /// Bytes delivered so far, and their CRC.
    received_len: u64,
    received_crc: crc32fast::Hasher,
    /// The last checkpoint the receiver reached (the stream agrees up to here).
    verified: u64,
    /// During a replay, the exact bytes of the segment that broke.
    exact: Option<Exact>,
    /// A mismatch was reported; later bytes cannot be compared meaningfully.
    broken: bool,
}

impl Direction {
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

/// Matches sent bytes against received bytes, per connection direction.
#[derive(Default)]
pub(crate) struct StreamMatcher {
    /// Looked up on every delivery and write, never iterated: a hash map (a `BTreeMap`
    /// compared pairs of socket addresses, ~1,000 instructions a lookup at 1,000 connections).
    directions: FxHashMap<DirectionKey, Direction>,
    mismatches: Mismatches,
}

impl StreamMatcher {
    /// An empty matcher, comparing CRCs only.
    pub(crate) fn new() -> Self {
        Self::default()
    }

    /// A matcher for the replay of a run whose CRCs disagreed in `mismatches`: it keeps the
    /// exact bytes of those segments, so it reports the first differing byte.
    pub(crate) fn exact_around(mismatches: &Mismatches) -> Self {
        let directions = (mismatches.0.iter())
            .map(|(key, &(start, end))| {
                let exact = Exact {
                    start,
                    end,
                    sent: Vec::new(),
                };
                let direction = Direction {
                    exact: Some(exact),
                    ..Direction::default()
                };
                (*key, direction)
            })
            .collect();
        StreamMatcher {
            directions,
            mismatches: Mismatches::default(),
        }
    }

    /// The segments whose CRCs disagreed so far.
    pub(crate) fn mismatches(&self) -> Mismatches {
        self.mismatches.clone()
    }

    /// The end at `local` talking to `remote` queued `chunk` for sending.
    pub(crate) fn sent(&mut self, local: SocketAddr, remote: SocketAddr, chunk: &[u8]) {
        if chunk.is_empty() {
            return;
        }
        let direction = self.directions.entry((local, remote)).or_default();
        if !direction.broken {
            direction.sent(chunk);
        }
    }

    /// The end at `local` talking to `remote` received `data`. Returns what is wrong, if the
    /// data is not exactly the next bytes its peer queued.
    pub(crate) fn received(
        &mut self,
        local: SocketAddr,
        remote: SocketAddr,
        data: &[u8],
    ) -> Option<String> {
        let key = (remote, local);
        let direction = self.directions.entry(key).or_default();
        if direction.broken {
            return None;
        }
        let (message, segment) = direction.received(data);
        if let Some(segment) = segment {
            self.mismatches.0.insert(key, segment);
        }
        message
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

    fn addrs() -> (SocketAddr, SocketAddr) {
        (
            "10.0.0.1:1000".parse().unwrap(),
            "10.0.0.2:7000".parse().unwrap(),
        )
    }

    #[test]
    fn r6_other_boundaries_match() {
        let (a, b) = addrs();
        let mut m = StreamMatcher::new();
        m.sent(a, b, &b"hello "[..]);
        m.sent(a, b, &b"world"[..]);
        assert_eq!(m.received(b, a, b"hel"), None);
        assert_eq!(m.received(b, a, b"lo wo"), None);
        assert_eq!(m.received(b, a, b"rld"), None);
        assert!(m.mismatches().is_empty());
    }

    /// Feeds `m` one direction of a stream: `sent` in the given writes, then `received` in
    /// the given deliveries; returns the first report.
    fn feed(m: &mut StreamMatcher, sent: &[&[u8]], received: &[&[u8]]) -> Option<String> {
        let (a, b) = addrs();
        for chunk in sent {
            m.sent(a, b, chunk);
        }
        received.iter().find_map(|data| m.received(b, a, data))
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
        let expected = Mismatches(BTreeMap::from([((a, b), (0, 10))]));
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
        let (a, b) = addrs();
        let mut m = StreamMatcher::new();
        for _ in 0..10_000 {
            m.sent(a, b, b"x");
        }
        let direction = &m.directions[&(a, b)];
        assert_eq!(direction.checkpoints.len(), 3, "4 KiB + 4 KiB + the rest");
        assert_eq!(m.received(b, a, &[b'x'; 10_000]), None);
    }

    #[test]
    fn w3_duplicated_bytes_are_reported() {
        let (a, b) = addrs();
        let mut m = StreamMatcher::new();
        m.sent(a, b, &b"ab"[..]);
        assert_eq!(m.received(b, a, b"ab"), None);
        assert_eq!(
            m.received(b, a, b"b").as_deref(),
            Some("1 bytes received at stream offset 2 that the peer never sent")
        );
    }

    #[test]
    fn directions_are_independent() {
        let (a, b) = addrs();
        let mut m = StreamMatcher::new();
        m.sent(a, b, &b"ping"[..]);
        m.sent(b, a, &b"pong"[..]);
        assert_eq!(m.received(a, b, b"pong"), None);
        assert_eq!(m.received(b, a, b"ping"), None);
    }
}
