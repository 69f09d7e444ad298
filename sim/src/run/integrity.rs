//! Stream integrity checked as data flows (rules R6 and W3): what one end's `sent`/`sentv`
//! queued must reach the other end's `received` in order, exactly once. Only bytes in flight
//! are held, so memory stays bounded however much a run transfers.

use std::collections::BTreeMap;
use std::net::SocketAddr;

/// The bytes one direction of one connection queued and its peer has not received yet.
#[derive(Default)]
struct Direction {
    /// Bytes queued; those before `start` were matched already. Compacted once the matched
    /// part is the larger half, so memory stays bounded by what is in flight.
    pending: Vec<u8>,
    start: usize,
    /// Bytes matched so far (the stream offset of the next expected byte).
    matched: u64,
    /// A mismatch was reported; later bytes cannot be compared meaningfully.
    broken: bool,
}

/// Matches sent bytes against received bytes, per connection direction.
#[derive(Default)]
pub(crate) struct StreamMatcher {
    /// Keyed by (sender's local address, sender's remote address).
    directions: BTreeMap<(SocketAddr, SocketAddr), Direction>,
}

impl StreamMatcher {
    /// An empty matcher.
    pub(crate) fn new() -> Self {
        Self::default()
    }

    /// The end at `local` talking to `remote` queued `chunk` for sending.
    pub(crate) fn sent(&mut self, local: SocketAddr, remote: SocketAddr, chunk: &[u8]) {
        if chunk.is_empty() {
            return;
        }
        let direction = self.directions.entry((local, remote)).or_default();
        if !direction.broken {
            if direction.start > 0 && direction.start >= direction.pending.len() / 2 {
                direction.pending.drain(..direction.start);
                direction.start = 0;
            }
            direction.pending.extend_from_slice(chunk);
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
        let direction = self.directions.entry((remote, local)).or_default();
        if direction.broken {
            return None;
        }
        let expected = &direction.pending[direction.start..];
        let n = expected.len().min(data.len());
        if data[..n] != expected[..n] {
            let i = data
                .iter()
                .zip(expected)
                .position(|(g, w)| g != w)
                .unwrap_or(0);
            direction.broken = true;
            return Some(format!(
                "byte at stream offset {} is {:#04x}, the peer sent {:#04x}",
                direction.matched + i as u64,
                data[i],
                expected[i]
            ));
        }
        direction.start += n;
        direction.matched += n as u64;
        if n < data.len() {
            direction.broken = true;
            return Some(format!(
                "{} bytes received at stream offset {} that the peer never sent",
                data.len() - n,
                direction.matched
            ));
        }
        None
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
    }

    #[test]
    fn r6_corrupted_byte_is_reported_with_its_offset() {
        let (a, b) = addrs();
        let mut m = StreamMatcher::new();
        m.sent(a, b, &b"hello"[..]);
        assert_eq!(
            m.received(b, a, b"heLlo").as_deref(),
            Some("byte at stream offset 2 is 0x4c, the peer sent 0x6c")
        );
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
