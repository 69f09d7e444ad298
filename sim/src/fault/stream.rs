//! The fault layer's stream: any backend's byte stream seen through the fault layer, as
//! smoltcp's `FaultInjector` wraps any device. [`FaultyStream<S>`] is itself a tcpnotify
//! [`Stream`], so a connection runs over it unchanged, whether `S` is turmoil's simulated
//! stream or a real socket.
//!
//! It applies, on every read and write: partial writes (each write takes about the plan's
//! average, from the stream's own seeded random stream), re-chunked reads (split and, unless
//! the plan says otherwise, coalesced to 1 to `max` bytes), the connection's flow window or a smaller send buffer
//! (a writer past it waits until the peer reads, as a real socket's does once its buffers are
//! full), partitions that hold data until they heal, resets and slow closes. The flow window
//! is shared by the two ends of a connection through the [`FaultLayer`], so both ends must go
//! through the same layer (true of a simulated run, and of a process that talks to itself over
//! loopback).
//!
//! A size is drawn from a stream's random stream only when it is used: a write's share once
//! the window has room for it, a read's size once there are bytes to deliver. A read or write
//! that waits draws nothing, so how often a task is woken (which other faults change) does not
//! move the chunk boundaries of the bytes that follow.

use super::layer::{lock, FaultLayer, Link, LinkKey};
use super::plan::{ReadChunks, MAX_WINDOW};
use super::readiness::Readiness;
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use std::future::Future;
use std::io::{self, IoSlice};
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use tcpnotify::Stream;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// Largest read from the backend at once when coalescing segments.
const COALESCE_BYTES: usize = 64 * 1024;

/// A backend stream that can look at its next bytes without taking them: a writer whose peer
/// went away while its window was full learns of the peer's reset this way, without consuming
/// data it has not been asked to read.
pub trait Peek {
    /// Polls for data (or end of stream) without taking it: the number of bytes copied into
    /// `buf`, 0 at end of stream, or the error a read would return.
    fn poll_peek(&mut self, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>)
        -> Poll<io::Result<usize>>;
}

impl Peek for tokio::net::TcpStream {
    fn poll_peek(
        &mut self,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<usize>> {
        tokio::net::TcpStream::poll_peek(self, cx, buf)
    }
}

/// A backend's stream `S` seen through the fault layer.
pub struct FaultyStream<S> {
    inner: S,
    layer: Arc<FaultLayer>,
    link: Arc<Mutex<Link>>,
    local: SocketAddr,
    remote: SocketAddr,
    /// The direction (from host, to host) our reads come from, as partitions key it.
    inbound: (Arc<str>, Arc<str>),
    /// Direction of our writes; the peer's writes are `1 - out`.
    out: usize,
    /// Bytes our direction may hold unread: the plan's window, or its smaller send buffer.
    window: usize,
    /// Boxed, as is the other: a generator holds a block of 64 words, and a stream moves
    /// several times between its connect or accept and its connection's task.
    write_slicer: Option<Box<ChaCha8Rng>>,
    read_chunker: Option<Box<ChaCha8Rng>>,
    stash: Vec<u8>,
    /// Reused buffer for coalescing reads (only with re-chunking): always empty, its spare
    /// capacity is what is read into.
    scratch: Vec<u8>,
    /// Reused buffer that joins a vectored write's slices into one segment.
    gather: Vec<u8>,
    eof: bool,
    fin_timer: Option<Pin<Box<tokio::time::Sleep>>>,
    /// The waker everything this stream waits on is handed, and whether a read may find
    /// anything new.
    readiness: Readiness,
}

impl<S: Stream + Peek> FaultyStream<S> {
    /// Wraps `inner`, a stream between two hosts the layer knows (by their addresses).
    pub fn new(inner: S, layer: Arc<FaultLayer>) -> io::Result<Self> {
        let local = inner.local_address()?;
        let remote = inner.remote_address()?;
        let name = |ip: IpAddr| -> io::Result<Arc<str>> {
            layer.host_name(ip).cloned().ok_or_else(|| {
                io::Error::new(io::ErrorKind::AddrNotAvailable, format!("no host at {ip}"))
            })
        };
        let inbound = (name(remote.ip())?, name(local.ip())?);
        let (key, out) = LinkKey::of(local, remote);
        let link = layer.link(key);
        {
            let mut state = lock(&link);
            if state.dropped[out] {
                // This socket pair served an earlier connection (ports are reused, e.g. by a
                // restarted host): nothing of that one applies to this one.
                *state = Link::default();
            }
        }
        let plan = &layer.plan;
        // Clamped: a plan that skipped validation may ask for any window.
        let window = plan
            .send_buffer
            .map_or(plan.window, |b| b.min(plan.window))
            .clamp(1, MAX_WINDOW);
        let write_slicer = plan
            .partial_writes
            .map(|_| Box::new(layer.stream_rng("partial-writes", local, remote)));
        let read_chunker = plan
            .read_chunks
            .map(|_| Box::new(layer.stream_rng("read-chunks", local, remote)));
        Ok(FaultyStream {
            inner,
            layer,
            link,
            local,
            remote,
            inbound,
            out,
            window,
            write_slicer,
            read_chunker,
            stash: Vec::new(),
            scratch: Vec::new(),
            gather: Vec::new(),
            eof: false,
            fin_timer: None,
            readiness: Readiness::new(),
        })
    }

    /// Whether the connection was reset; if not, `cx` is woken by a reset.
    fn is_reset(&self, cx: &mut Context<'_>) -> bool {
        let mut link = lock(&self.link);
        if link.reset {
            return true;
        }
        // Every read registers: the waker is most often the one already there.
        match &mut link.readers[1 - self.out] {
            Some(waker) => waker.clone_from(cx.waker()),
            slot => *slot = Some(cx.waker().clone()),
        }
        false
    }

    /// How many of `offered` bytes the next write may take, or why it may take none. The
    /// partial write's share is drawn only once the window has room.
    fn write_allowance(&mut self, offered: usize, cx: &mut Context<'_>) -> Allowance {
        let mut link = lock(&self.link);
        if link.reset {
            return Allowance::Reset;
        }
        let calm = self.layer.is_calm();
        // Calm, a small send buffer is the whole window again.
        let window = match calm {
            true => self.layer.plan.window.clamp(self.window, MAX_WINDOW),
            false => self.window,
        };
        let free = window.saturating_sub(link.in_flight[self.out]);
        if free == 0 || link.segments_full(self.out) {
            if link.dropped[1 - self.out] {
                return Allowance::PeerGone;
            }
            link.writers[self.out] = Some(cx.waker().clone());
            if self.inner.task_budget_spent() {
                // The connection takes this wait for tokio's budget and waits for a wake
                // (see `Stream::spends_task_budget`): asked again with budget, the full window
                // is then pushback.
                cx.waker().wake_by_ref();
            }
            return Allowance::Wait;
        }
        let mut allowed = offered.min(free);
        let cuts = self.layer.rechunks();
        let slicer = self.write_slicer.as_mut().filter(|_| cuts);
        if let (Some(rng), Some(p)) = (slicer, self.layer.plan.partial_writes) {
            let low = p.average.saturating_sub(p.variation).max(1);
            let high = p.average.saturating_add(p.variation).max(low);
            allowed = allowed.min(rng.random_range(low..=high));
        }
        Allowance::Bytes(allowed.max(1))
    }

    /// The peer dropped its stream with our bytes unread, so it answers with a reset, as a
    /// real peer does: the reset is ours once the backend closes our receive channel (woken
    /// then).
    /// Unread data or end of stream of our own would hide that moment, and the reset is
    /// reported at once instead, so a writer that is not reading never waits forever.
    fn poll_peer_reset(&mut self, cx: &mut Context<'_>) -> Poll<io::Error> {
        let mut byte = [0u8; 1];
        let mut buf = ReadBuf::new(&mut byte);
        match self.inner.poll_peek(cx, &mut buf) {
            Poll::Pending => Poll::Pending,
            Poll::Ready(Err(e)) => Poll::Ready(e),
            Poll::Ready(Ok(_)) => Poll::Ready(reset_error()),
        }
    }

    /// Pulls segments from the backend into the stash while it holds fewer than `target`
    /// bytes and the backend has more at once; `Pending` only if the stash is still empty.
    fn fill_stash(&mut self, cx: &mut Context<'_>, target: usize) -> Poll<io::Result<()>> {
        // Never zeroed: a ReadBuf shows only the bytes the backend wrote, and zeroing 64 KiB
        // for each stream that re-chunks was a run's largest memset.
        self.scratch.reserve_exact(COALESCE_BYTES);
        while !self.eof && self.stash.len() < target {
            let spare = &mut self.scratch.spare_capacity_mut()[..COALESCE_BYTES];
            let mut buf = ReadBuf::uninit(spare);
            match Pin::new(&mut self.inner).poll_read(cx, &mut buf) {
                Poll::Ready(Ok(())) if buf.filled().is_empty() => self.eof = true,
                Poll::Ready(Ok(())) => self.stash.extend_from_slice(buf.filled()),
                Poll::Ready(Err(e)) if self.stash.is_empty() => return Poll::Ready(Err(e)),
                Poll::Pending if self.stash.is_empty() => return Poll::Pending,
                Poll::Ready(Err(_)) | Poll::Pending => break,
            }
        }
        Poll::Ready(Ok(()))
    }

    /// Hands the reader up to `most` bytes of the stash.
    fn deliver_stash(&mut self, buf: &mut ReadBuf<'_>, most: usize) {
        let n = self.stash.len().min(most).min(buf.remaining());
        buf.put_slice(&self.stash[..n]);
        self.stash.drain(..n);
        self.consumed(n);
    }

    /// The peer's bytes were read by this end: they leave the peer's window.
    fn consumed(&self, n: usize) {
        let mut link = lock(&self.link);
        let incoming = 1 - self.out;
        link.read(incoming, n);
        if let Some(w) = link.writers[incoming].take() {
            w.wake();
        }
    }

    /// In the liveness phase (and once a run stopped cutting, `FaultLayer::stop_rechunking`), a
    /// read takes every byte that already arrived, up to the reader's buffer, as a working
    /// network's socket does, where the backend hands over one segment a read. Before it, segments stay apart (a quiet plan never joins two writes into
    /// one read), but segments the faults left small would keep a reader that takes one
    /// delivery at a time (muted between, say) slow for good: a peer's window refills by what
    /// it read, so its writes stay as small as the reads that freed room for them, and a
    /// correct notifier failed to finish after every fault had healed. An end of stream met
    /// here is reported by the next read; an error, by the next read that asks the backend.
    fn join_arrived(&mut self, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) {
        while buf.remaining() > 0 {
            let before = buf.filled().len();
            match Pin::new(&mut self.inner).poll_read(cx, buf) {
                Poll::Ready(Ok(())) if buf.filled().len() == before => {
                    self.eof = true;
                    return;
                }
                Poll::Ready(Ok(())) => {}
                Poll::Ready(Err(_)) | Poll::Pending => return,
            }
        }
    }

    /// Whether the end of stream may be reported now (a slow close delays it).
    fn poll_fin(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        if self.layer.is_calm() {
            return Poll::Ready(());
        }
        if self.fin_timer.is_none() {
            match lock(&self.link).fin_delay[1 - self.out] {
                Some(delay) => self.fin_timer = Some(Box::pin(tokio::time::sleep(delay))),
                None => return Poll::Ready(()),
            }
        }
        match self.fin_timer.as_mut() {
            Some(timer) => timer.as_mut().poll(cx),
            None => Poll::Ready(()),
        }
    }
}

impl<S> Drop for FaultyStream<S> {
    fn drop(&mut self) {
        let both_dropped = {
            let mut link = lock(&self.link);
            link.dropped[self.out] = true;
            // Nobody polls this end again: its wakers go now, not with the connection's state.
            link.writers[self.out] = None;
            link.readers[1 - self.out] = None;
            // The peer may be waiting for window we will never open: it should wait for our
            // reset instead (see `poll_peer_reset`).
            if let Some(w) = link.writers[1 - self.out].take() {
                w.wake();
            }
            link.dropped == [true, true]
        };
        if both_dropped {
            self.layer
                .forget_link(LinkKey::of(self.local, self.remote).0, &self.link);
        }
    }
}

/// What the next write may do, from the connection's state and its window.
enum Allowance {
    /// Take this many bytes (at least 1).
    Bytes(usize),
    /// Wait until the peer reads (the writer's waker is registered).
    Wait,
    /// The window is full and the peer's stream is gone: wait for its reset.
    PeerGone,
    /// The connection was reset by a fault.
    Reset,
}

fn reset_error() -> io::Error {
    io::Error::new(io::ErrorKind::ConnectionReset, "connection reset (fault)")
}

impl<S: Stream + Peek> AsyncRead for FaultyStream<S> {
    // Inline: a connection reads after every pass of its turn loop, and most reads end here
    // at once (see `Readiness`); whether the compiler inlined it into the caller's read
    // otherwise changed with unrelated code, by some 26 instructions a read.
    #[inline]
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = &mut *self;
        let Some(waker) = this.readiness.read_waker(cx.waker()) else {
            // The last read waited and nothing it waited on woke us since: it would again.
            return Poll::Pending;
        };
        let read = this.read_now(&mut Context::from_waker(&waker), buf);
        if read.is_ready() {
            this.readiness.found();
        }
        read
    }
}

impl<S: Stream + Peek> FaultyStream<S> {
    /// A read, asked of the connection's state and the backend now.
    fn read_now(&mut self, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        if self.is_reset(cx) {
            return Poll::Ready(Err(reset_error()));
        }
        if self.stash.is_empty() && !self.eof {
            // Data from a cut direction stays in flight until the partition heals.
            let (from, to) = &self.inbound;
            if self.layer.poll_open(from, to, cx).is_pending() {
                return Poll::Pending;
            }
        }
        // Calm, or the run stopped cutting (`FaultLayer::stop_rechunking`).
        let whole = !self.layer.rechunks();
        if whole && !self.stash.is_empty() {
            // Re-chunking stopped: what was coalesced goes out whole.
            self.deliver_stash(buf, usize::MAX);
            return Poll::Ready(Ok(()));
        }
        if self.read_chunker.is_none() || whole {
            // No re-chunking: the backend's own reads, straight into the caller's buffer.
            if self.eof {
                return self.poll_fin(cx).map(Ok);
            }
            let before = buf.filled().len();
            return match Pin::new(&mut self.inner).poll_read(cx, buf) {
                Poll::Ready(Ok(())) if buf.filled().len() == before => {
                    self.eof = true;
                    self.poll_fin(cx).map(Ok)
                }
                Poll::Ready(Ok(())) => {
                    if whole {
                        self.join_arrived(cx, buf);
                    }
                    self.consumed(buf.filled().len() - before);
                    Poll::Ready(Ok(()))
                }
                other => other,
            };
        }
        if buf.remaining() == 0 {
            return Poll::Ready(Ok(()));
        }
        let policy = self.layer.plan.read_chunks.unwrap_or(ReadChunks::new(1));
        // One segment first, so that a size is drawn only when there are bytes to deliver.
        match self.fill_stash(cx, 1) {
            Poll::Ready(Ok(())) => {}
            other => return other,
        }
        if self.stash.is_empty() {
            // The end of stream, and nothing left before it.
            return self.poll_fin(cx).map(Ok);
        }
        let max = policy.max.max(1);
        let target = (self.read_chunker.as_mut()).map_or(1, |rng| rng.random_range(1..=max));
        if policy.coalesce {
            // Bytes that already arrived join this read, up to its size.
            if let Poll::Ready(Err(e)) = self.fill_stash(cx, target) {
                return Poll::Ready(Err(e));
            }
        }
        self.deliver_stash(buf, target);
        Poll::Ready(Ok(()))
    }
}

impl<S: Stream + Peek> AsyncWrite for FaultyStream<S> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.poll_write_vectored(cx, &[IoSlice::new(buf)])
    }

    /// One call is one backend write (one turmoil segment) of up to the allowance's bytes, taken from the slices
    /// in order, as one `writev` on a real socket takes from every buffer it is given.
    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = &mut *self;
        // What a write waits on may also be what the next read waits on (a peek registers
        // with the backend's receiving side): its wakes must count for reads too.
        let waker = this.readiness.waker(cx.waker());
        let cx = &mut Context::from_waker(&waker);
        let offered: usize = bufs.iter().map(|b| b.len()).sum();
        if offered == 0 {
            return Poll::Ready(if lock(&this.link).reset {
                Err(reset_error())
            } else {
                Ok(0)
            });
        }
        let n = match this.write_allowance(offered, cx) {
            Allowance::Bytes(allowed) => allowed.min(offered),
            Allowance::Wait => return Poll::Pending,
            Allowance::PeerGone => return this.poll_peer_reset(cx).map(Err),
            Allowance::Reset => return Poll::Ready(Err(reset_error())),
        };
        let segment: &[u8] = match bufs.iter().find(|b| !b.is_empty()) {
            // The common case, a single buffer: no copy here.
            Some(first) if first.len() >= n => &first[..n],
            _ => {
                this.gather.clear();
                for b in bufs {
                    let take = (n - this.gather.len()).min(b.len());
                    this.gather.extend_from_slice(&b[..take]);
                }
                &this.gather
            }
        };
        match Pin::new(&mut this.inner).poll_write(cx, segment) {
            Poll::Ready(Ok(written)) => {
                lock(&this.link).sent(this.out, written);
                Poll::Ready(Ok(written))
            }
            Poll::Pending => {
                // The backend wakes us when it has room; a reset must wake us too.
                lock(&this.link).writers[this.out] = Some(cx.waker().clone());
                Poll::Pending
            }
            other => other,
        }
    }

    fn is_write_vectored(&self) -> bool {
        true
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = &mut *self;
        if lock(&this.link).reset {
            return Poll::Ready(Err(reset_error()));
        }
        // The FIN takes no window: the receiver's channel always has a slot for it.
        let waker = this.readiness.waker(cx.waker());
        Pin::new(&mut this.inner).poll_shutdown(&mut Context::from_waker(&waker))
    }
}

impl<S: Stream + Peek> Stream for FaultyStream<S> {
    fn spends_task_budget(&self) -> bool {
        self.inner.spends_task_budget()
    }
    fn set_nodelay(&self, nodelay: bool) -> io::Result<()> {
        self.inner.set_nodelay(nodelay)
    }
    fn nodelay(&self) -> io::Result<bool> {
        self.inner.nodelay()
    }
    fn set_keepalive(&self, secs: u32) -> io::Result<()> {
        self.inner.set_keepalive(secs)
    }
    fn local_address(&self) -> io::Result<SocketAddr> {
        Ok(self.local)
    }
    fn remote_address(&self) -> io::Result<SocketAddr> {
        Ok(self.remote)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fault::{FaultPlan, PartialWrites, MAX_SEGMENTS_IN_FLIGHT};
    use crate::seed::Seed;
    use std::collections::BTreeMap;
    use std::sync::atomic::Ordering;
    use std::task::Waker;
    use tokio::io::DuplexStream;

    /// One end of an in-memory pipe, as if at a socket address: a backend whose reads and
    /// writes the test polls by hand.
    struct Pipe {
        io: DuplexStream,
        local: SocketAddr,
        remote: SocketAddr,
        /// Whether it says it spends tokio's budget, as a tokio socket does.
        spends_task_budget: bool,
    }

    impl AsyncRead for Pipe {
        fn poll_read(
            mut self: Pin<&mut Self>,
            cx: &mut Context<'_>,
            buf: &mut ReadBuf<'_>,
        ) -> Poll<io::Result<()>> {
            Pin::new(&mut self.io).poll_read(cx, buf)
        }
    }

    impl AsyncWrite for Pipe {
        fn poll_write(
            mut self: Pin<&mut Self>,
            cx: &mut Context<'_>,
            buf: &[u8],
        ) -> Poll<io::Result<usize>> {
            Pin::new(&mut self.io).poll_write(cx, buf)
        }
        fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
            Pin::new(&mut self.io).poll_flush(cx)
        }
        fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
            Pin::new(&mut self.io).poll_shutdown(cx)
        }
    }

    impl Peek for Pipe {
        fn poll_peek(
            &mut self,
            _: &mut Context<'_>,
            _: &mut ReadBuf<'_>,
        ) -> Poll<io::Result<usize>> {
            Poll::Pending
        }
    }

    impl Stream for Pipe {
        fn spends_task_budget(&self) -> bool {
            self.spends_task_budget
        }
        fn set_nodelay(&self, _: bool) -> io::Result<()> {
            Ok(())
        }
        fn nodelay(&self) -> io::Result<bool> {
            Ok(true)
        }
        fn set_keepalive(&self, _: u32) -> io::Result<()> {
            Ok(())
        }
        fn local_address(&self) -> io::Result<SocketAddr> {
            Ok(self.local)
        }
        fn remote_address(&self) -> io::Result<SocketAddr> {
            Ok(self.remote)
        }
    }

    /// A connected pair (client, server) through one fault layer with `plan`.
    fn pair(plan: FaultPlan) -> (FaultyStream<Pipe>, FaultyStream<Pipe>) {
        pair_over(plan, false)
    }

    /// [`pair`] over pipes that say whether they spend tokio's budget.
    fn pair_over(
        plan: FaultPlan,
        spends_task_budget: bool,
    ) -> (FaultyStream<Pipe>, FaultyStream<Pipe>) {
        let (a, b): (SocketAddr, SocketAddr) = (
            "10.0.0.1:49152".parse().expect("address"),
            "10.0.0.2:7000".parse().expect("address"),
        );
        let hosts = BTreeMap::from([("client".into(), a.ip()), ("server".into(), b.ip())]);
        let layer = FaultLayer::new(plan, hosts);
        let (x, y) = tokio::io::duplex(1 << 16);
        let end = |io, local, remote| {
            let pipe = Pipe {
                io,
                local,
                remote,
                spends_task_budget,
            };
            FaultyStream::new(pipe, layer.clone()).expect("known hosts")
        };
        (end(x, a, b), end(y, b, a))
    }

    /// A connection's state in the layer lives while either of its streams does and goes
    /// with the last, so a run of many connections holds only those still open.
    #[test]
    fn a_link_is_forgotten_with_the_last_of_its_streams() {
        let (client, server) = pair(FaultPlan::quiet(Seed(1)));
        let layer = client.layer.clone();
        assert_eq!(layer.links_held(), 1);
        drop(client);
        assert_eq!(layer.links_held(), 1, "the server's stream still reads it");
        drop(server);
        assert_eq!(layer.links_held(), 0);
    }

    fn poll<T>(f: impl FnOnce(&mut Context<'_>) -> Poll<T>) -> Poll<T> {
        f(&mut Context::from_waker(Waker::noop()))
    }

    fn read(stream: &mut FaultyStream<Pipe>, buf: &mut [u8]) -> Poll<usize> {
        let mut buf = ReadBuf::new(buf);
        poll(|cx| Pin::new(&mut *stream).poll_read(cx, &mut buf))
            .map(|r| r.map(|()| buf.filled().len()).expect("no error"))
    }

    fn write(stream: &mut FaultyStream<Pipe>, data: &[u8]) -> Poll<usize> {
        poll(|cx| Pin::new(&mut *stream).poll_write(cx, data)).map(|r| r.expect("no error"))
    }

    /// The sizes of the reads of 3,000 bytes re-chunked to 1..300, after the reader was
    /// polled `idle` times with nothing to read.
    fn read_sizes(idle: usize) -> Vec<usize> {
        let plan = FaultPlan {
            read_chunks: Some(ReadChunks::new(300)),
            ..FaultPlan::quiet(Seed(9))
        };
        let (mut client, mut server) = pair(plan);
        let mut buf = [0u8; 4096];
        for _ in 0..idle {
            assert!(read(&mut server, &mut buf).is_pending());
        }
        let data: Vec<u8> = (0..3000u32).map(|i| i as u8).collect();
        assert_eq!(write(&mut client, &data), Poll::Ready(3000));
        let mut sizes = Vec::new();
        while let Poll::Ready(n) = read(&mut server, &mut buf) {
            sizes.push(n);
            if sizes.iter().sum::<usize>() == data.len() {
                break;
            }
        }
        sizes
    }

    /// A task's waker that counts its wakes. (Not `Waker::noop()`: its clones need not
    /// compare equal, so a stream polled with it may ask on every read and skip nothing.)
    struct CountingTask(std::sync::atomic::AtomicUsize);

    impl std::task::Wake for CountingTask {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }

    /// Reads `stream` as the task `task`.
    fn read_as(
        task: &Waker,
        stream: &mut FaultyStream<Pipe>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        let mut buf = ReadBuf::new(buf);
        let mut cx = Context::from_waker(task);
        Pin::new(&mut *stream)
            .poll_read(&mut cx, &mut buf)
            .map(|r| r.map(|()| buf.filled().len()))
    }

    /// The server's reads wait twice (the second without asking the layer or the backend),
    /// then `event` happens: it must wake the task, and the next read must see what it did.
    fn after_two_waiting_reads(
        event: impl FnOnce(&mut FaultyStream<Pipe>, &FaultLayer),
    ) -> (usize, Poll<io::Result<usize>>) {
        let (mut client, mut server) = pair(FaultPlan::quiet(Seed(9)));
        let layer = server.layer.clone();
        let counter = Arc::new(CountingTask(Default::default()));
        let task = Waker::from(counter.clone());
        let mut buf = [0u8; 64];
        assert!(read_as(&task, &mut server, &mut buf).is_pending());
        assert!(read_as(&task, &mut server, &mut buf).is_pending());
        event(&mut client, &layer);
        let wakes = counter.0.load(Ordering::SeqCst);
        (wakes, read_as(&task, &mut server, &mut buf))
    }

    #[test]
    fn a_read_skipped_after_a_wait_is_woken_by_data_and_then_reads_it() {
        let (wakes, read) = after_two_waiting_reads(|client, _| {
            assert_eq!(write(client, b"hello"), Poll::Ready(5));
        });
        assert!(wakes > 0, "the data woke the reading task");
        assert!(matches!(read, Poll::Ready(Ok(5))), "{read:?}");
    }

    #[test]
    fn a_read_skipped_after_a_wait_is_woken_by_a_reset_and_then_fails() {
        let (wakes, read) = after_two_waiting_reads(|_, layer| {
            layer.register_connection(
                "c1",
                "10.0.0.1:49152".parse().expect("address"),
                "10.0.0.2:7000".parse().expect("address"),
            );
            assert!(layer.reset("c1"));
        });
        assert!(wakes > 0, "the reset woke the reading task");
        assert!(matches!(read, Poll::Ready(Err(_))), "{read:?}");
    }

    /// The layer's stream says whether its backend spends tokio's budget, as the connection
    /// asks its stream: over a tokio socket, a `Pending` may be the budget's.
    #[test]
    fn the_layer_tells_whether_its_backend_spends_the_task_budget() {
        for spends in [false, true] {
            let (client, _server) = pair_over(FaultPlan::quiet(Seed(1)), spends);
            assert_eq!(client.spends_task_budget(), spends);
        }
    }

    /// A read into a buffer that already holds bytes frees the window of the bytes it read,
    /// not of the ones the buffer held.
    #[test]
    fn a_read_into_a_partly_filled_buffer_frees_only_what_it_read() {
        let plan = FaultPlan {
            send_buffer: Some(64),
            ..FaultPlan::quiet(Seed(1))
        };
        let (mut client, mut server) = pair(plan);
        assert_eq!(write(&mut client, &[7u8; 100]), Poll::Ready(64));
        let mut storage = [0u8; 60];
        let mut buf = ReadBuf::new(&mut storage);
        buf.put_slice(&[0u8; 50]);
        let read = poll(|cx| Pin::new(&mut server).poll_read(cx, &mut buf));
        assert!(matches!(read, Poll::Ready(Ok(()))), "{read:?}");
        assert_eq!(buf.filled().len(), 60, "ten bytes read");
        assert_eq!(write(&mut client, &[7u8; 100]), Poll::Ready(10));
    }

    /// Bytes that arrived before a partition are read during it, as from a real socket's
    /// receive buffer (re-chunked, they wait in the stream's stash); only bytes still on
    /// their way wait for the heal.
    #[test]
    fn bytes_that_arrived_before_a_partition_are_read_during_it() {
        let plan = FaultPlan {
            read_chunks: Some(ReadChunks::new(10)),
            ..FaultPlan::quiet(Seed(9))
        };
        let (mut client, mut server) = pair(plan);
        let layer = server.layer.clone();
        let data: Vec<u8> = (0..100u8).collect();
        assert_eq!(write(&mut client, &data), Poll::Ready(100));
        let mut buf = [0u8; 64];
        let Poll::Ready(mut got) = read(&mut server, &mut buf) else {
            panic!("the bytes arrived");
        };
        assert!(got <= 10, "a read of at most 10 bytes took {got}");
        layer.partition("client", "server", false);
        while got < data.len() {
            match read(&mut server, &mut buf) {
                Poll::Ready(n) => got += n,
                Poll::Pending => panic!("the partition held bytes that had arrived ({got} read)"),
            }
        }
    }

    #[test]
    fn a_read_held_by_a_partition_is_woken_by_the_heal_and_then_reads() {
        let (mut client, mut server) = pair(FaultPlan::quiet(Seed(9)));
        let layer = server.layer.clone();
        let counter = Arc::new(CountingTask(Default::default()));
        let task = Waker::from(counter.clone());
        let mut buf = [0u8; 64];
        layer.partition("client", "server", false);
        assert_eq!(write(&mut client, b"held"), Poll::Ready(4));
        assert!(read_as(&task, &mut server, &mut buf).is_pending());
        assert!(read_as(&task, &mut server, &mut buf).is_pending());
        let before = counter.0.load(Ordering::SeqCst);
        layer.heal("client", "server");
        assert!(
            counter.0.load(Ordering::SeqCst) > before,
            "the heal woke the reading task"
        );
        let read = read_as(&task, &mut server, &mut buf);
        assert!(matches!(read, Poll::Ready(Ok(4))), "{read:?}");
    }

    #[test]
    fn read_chunk_sizes_do_not_depend_on_how_often_the_reader_was_woken() {
        let sizes = read_sizes(0);
        assert_eq!(sizes.iter().sum::<usize>(), 3000);
        assert!(sizes.len() > 5, "{sizes:?}");
        assert_eq!(read_sizes(7), sizes);
    }

    /// The shares the writer's 64 bytes went out in, under partial writes and an 8-byte send
    /// buffer, polled `idle` more times each time the buffer is full.
    fn write_sizes(idle: usize) -> Vec<usize> {
        let plan = FaultPlan {
            partial_writes: Some(PartialWrites {
                average: 3,
                variation: 2,
            }),
            send_buffer: Some(8),
            ..FaultPlan::quiet(Seed(9))
        };
        let (mut client, mut server) = pair(plan);
        let data = [7u8; 64];
        let (mut written, mut sizes, mut buf) = (0, Vec::new(), [0u8; 8]);
        while written < data.len() {
            match write(&mut client, &data[written..]) {
                Poll::Ready(n) => {
                    sizes.push(n);
                    written += n;
                }
                Poll::Pending => {
                    for _ in 0..idle {
                        assert!(write(&mut client, &data[written..]).is_pending());
                    }
                    assert!(read(&mut server, &mut buf).is_ready());
                }
            }
        }
        sizes
    }

    #[test]
    fn a_writer_of_tiny_segments_waits_at_the_segment_bound_until_the_peer_reads_one_whole() {
        let plan = FaultPlan {
            partial_writes: Some(PartialWrites {
                average: 2,
                variation: 0,
            }),
            ..FaultPlan::quiet(Seed(9))
        };
        let (mut client, mut server) = pair(plan);
        let counter = Arc::new(CountingTask(Default::default()));
        let writer = Waker::from(counter.clone());
        let data = [7u8; 4096];
        let write_as = |client: &mut FaultyStream<Pipe>| {
            let mut cx = Context::from_waker(&writer);
            Pin::new(client)
                .poll_write(&mut cx, &data)
                .map(|r| r.expect("no error"))
        };
        let mut segments = 0;
        while let Poll::Ready(n) = write_as(&mut client) {
            assert_eq!(n, 2);
            segments += 1;
        }
        // 8 KiB are far from the default window: the number of segments stopped it.
        assert_eq!(segments, MAX_SEGMENTS_IN_FLIGHT);
        let mut byte = [0u8; 1];
        assert_eq!(read(&mut server, &mut byte), Poll::Ready(1));
        assert!(
            write_as(&mut client).is_pending(),
            "half of the oldest segment is still unread"
        );
        let woken = counter.0.load(Ordering::SeqCst);
        assert_eq!(read(&mut server, &mut byte), Poll::Ready(1));
        assert!(
            counter.0.load(Ordering::SeqCst) > woken,
            "the read woke the writer"
        );
        assert_eq!(write_as(&mut client), Poll::Ready(2));
        assert!(write_as(&mut client).is_pending());
    }

    /// Whether a write into a full window, over pipes that do or do not spend tokio's budget,
    /// with the task's budget spent, wakes the writing task at once.
    async fn full_window_wakes_at_once(spends_task_budget: bool) -> bool {
        let plan = FaultPlan {
            window: 4,
            ..FaultPlan::quiet(Seed(9))
        };
        let (mut client, _server) = pair_over(plan, spends_task_budget);
        let counter = Arc::new(CountingTask(Default::default()));
        let writer = Waker::from(counter.clone());
        // Before the budget is spent: the pipe spends it too.
        assert_eq!(write(&mut client, b"full"), Poll::Ready(4));
        std::future::poll_fn(|cx| {
            while let Poll::Ready(progress) = tokio::task::coop::poll_proceed(cx) {
                progress.made_progress();
            }
            let mut cx = Context::from_waker(&writer);
            let more = Pin::new(&mut client).poll_write(&mut cx, b"more");
            assert!(more.is_pending());
            Poll::Ready(())
        })
        .await;
        counter.0.load(Ordering::SeqCst) > 0
    }

    #[tokio::test]
    async fn a_full_window_over_a_socket_that_spends_tokios_budget_wakes_a_writer_out_of_budget() {
        // The connection takes that wait for the budget's and waits for a wake: asked again
        // with budget, the full window is pushback (`Stream::spends_task_budget`).
        assert!(full_window_wakes_at_once(true).await);
        tokio::task::yield_now().await;
        // Over turmoil the window's own wake is the only one: a simulated run's wakes do not
        // depend on tokio's budget.
        assert!(!full_window_wakes_at_once(false).await);
    }

    #[test]
    fn partial_write_shares_do_not_depend_on_how_often_a_full_writer_was_woken() {
        let sizes = write_sizes(0);
        assert!(sizes.iter().all(|n| (1..=5).contains(n)), "{sizes:?}");
        assert_eq!(write_sizes(4), sizes);
    }
}
