//! The seeded fault layer between the stack and turmoil: shared per-run state
//! ([`FaultLayer`]: partitions, flow windows, resets, slow closes) and the stream wrapper
//! ([`FaultyStream`]) that applies it to every simulated connection.
//!
//! turmoil accepts every write whole and returns one segment per read, refuses connects into a
//! partition at once, and drops data on its own partitions. Partial writes, re-chunked reads,
//! byte-sized send buffers, partitions that hold data and heal, and connect time-outs are
//! therefore made here.
//!
//! Flow control is made here too. Each direction of a connection holds at most the plan's
//! [`window`](FaultPlan::window) of bytes written and not yet read by the peer; past it a write
//! waits until the peer reads, as a real socket's does once its buffers are full. The same
//! window keeps the end of stream from being lost: turmoil parks a FIN that finds the
//! receiver's channel full and never delivers it, and since every data segment in that channel
//! holds at least one unread byte of the window, a channel of one slot more than the largest
//! window always has one left for the FIN, however many segments are outstanding (the run
//! sizes turmoil's `tcp_capacity` so: `run::capacity`).

use super::plan::{FaultPlan, MAX_WINDOW};
use crate::seed::{fnv1a, Seed};
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use std::collections::{BTreeMap, BTreeSet};
use std::future::Future;
use std::io::{self, IoSlice};
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll, Waker};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// Largest read from turmoil at once when coalescing segments.
const COALESCE_BYTES: usize = 64 * 1024;

/// Locks `mutex`, also after a panic elsewhere poisoned it: the state stays consistent
/// because every update under it is a single assignment or arithmetic step.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

/// A connection between two sockets, written the same from both ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct LinkKey(SocketAddr, SocketAddr);

impl LinkKey {
    /// The key of the connection from `local` to `remote`, and which direction that is (0 or 1).
    fn of(local: SocketAddr, remote: SocketAddr) -> (LinkKey, usize) {
        if local <= remote {
            (LinkKey(local, remote), 0)
        } else {
            (LinkKey(remote, local), 1)
        }
    }
}

/// The fault state of one connection, shared by its two ends. Directions are numbered as
/// [`LinkKey::of`] gives them to the writing end.
#[derive(Default)]
struct Link {
    reset: bool,
    /// Bytes written in each direction and not yet read by the peer.
    in_flight: [usize; 2],
    /// Whether the end writing in each direction has dropped its stream: nobody reads the
    /// other direction any more.
    dropped: [bool; 2],
    /// Writers waiting for window, per direction.
    writers: [Option<Waker>; 2],
    /// Readers waiting, per receiving direction (woken by a reset).
    readers: [Option<Waker>; 2],
    /// The receiving side of each direction sees the FIN this much later.
    fin_delay: [Option<Duration>; 2],
}

impl Link {
    fn wake_all(&mut self) {
        for w in self.writers.iter_mut().chain(self.readers.iter_mut()) {
            if let Some(w) = w.take() {
                w.wake();
            }
        }
    }
}

#[derive(Default)]
struct State {
    /// Directions (from host, to host) currently cut.
    blocked: BTreeSet<(String, String)>,
    /// Hosts crashed and not yet restarted: SYNs to them are lost.
    down: BTreeSet<String>,
    /// How many times each host crashed or restarted, so a connect can tell a refusal caused
    /// by either (its SYN was lost with the host's backlog) from a real one.
    generations: BTreeMap<String, u64>,
    /// Each connection's state; its streams hold it too, so their reads and writes do not
    /// look it up.
    links: BTreeMap<LinkKey, Arc<Mutex<Link>>>,
    /// Tasks waiting for a partition to heal or a host to restart.
    heal_waiters: Vec<Waker>,
    /// Connection names and their sockets (local, remote), learned from the trace.
    conns: BTreeMap<String, (SocketAddr, SocketAddr)>,
    /// Slow closes asked for by name before the connection existed.
    pending_slow_close: BTreeMap<String, Duration>,
}

/// Per-run fault state shared by every host's network and stream.
pub struct FaultLayer {
    seed: Seed,
    plan: FaultPlan,
    hosts: BTreeMap<String, IpAddr>,
    host_of_ip: BTreeMap<IpAddr, String>,
    state: Mutex<State>,
}

impl FaultLayer {
    /// The layer for a run with `plan`, over hosts with these addresses.
    pub fn new(plan: FaultPlan, hosts: BTreeMap<String, IpAddr>) -> Arc<Self> {
        let host_of_ip = hosts.iter().map(|(h, ip)| (*ip, h.clone())).collect();
        Arc::new(FaultLayer {
            seed: plan.seed,
            plan,
            hosts,
            host_of_ip,
            state: Mutex::new(State::default()),
        })
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        lock(&self.state)
    }

    /// The state of the connection `key`, made on first use.
    fn link(&self, key: LinkKey) -> Arc<Mutex<Link>> {
        self.lock().links.entry(key).or_default().clone()
    }

    /// The address of host `name`.
    pub(crate) fn ip_of(&self, name: &str) -> Option<IpAddr> {
        self.hosts.get(name).copied()
    }

    /// The host at `ip`.
    pub(crate) fn host_of(&self, ip: IpAddr) -> Option<&str> {
        self.host_of_ip.get(&ip).map(String::as_str)
    }

    /// Every host name.
    pub(crate) fn host_names(&self) -> impl Iterator<Item = &str> {
        self.hosts.keys().map(String::as_str)
    }

    /// How long a connect waits for its handshake, whatever holds it (a partition, a host
    /// that is down, a listener that does not accept).
    pub(crate) fn connect_timeout(&self) -> Duration {
        Duration::from_millis(self.plan.connect_timeout_ms)
    }

    /// Cuts traffic from `from` to `to` until [`heal`](Self::heal).
    pub fn block(&self, from: &str, to: &str) {
        self.lock()
            .blocked
            .insert((from.to_string(), to.to_string()));
    }

    /// Restores traffic from `from` to `to`; held data flows again.
    pub fn heal(&self, from: &str, to: &str) {
        self.wake_heal_waiters(|state| {
            state.blocked.remove(&(from.to_string(), to.to_string()));
        });
    }

    /// Host `host` crashed: until [`host_restarted`](Self::host_restarted), SYNs to it are
    /// lost, so connects to it wait (and time out) as TCP's SYN retransmissions would.
    pub(crate) fn host_crashed(&self, host: &str) {
        let mut state = self.lock();
        state.down.insert(host.to_string());
        *state.generations.entry(host.to_string()).or_default() += 1;
    }

    /// Host `host` runs again (turmoil restarts a running host too, with a fresh backlog):
    /// waiting connects send their SYN.
    pub(crate) fn host_restarted(&self, host: &str) {
        self.wake_heal_waiters(|state| {
            state.down.remove(host);
            *state.generations.entry(host.to_string()).or_default() += 1;
        });
    }

    /// How many times host `host` crashed or restarted so far: a connect whose host changed
    /// generation while its SYN was out lost that SYN.
    pub(crate) fn generation(&self, host: &str) -> u64 {
        self.lock().generations.get(host).copied().unwrap_or(0)
    }

    /// Changes the state with `change`, then wakes every task waiting for a path to open.
    fn wake_heal_waiters(&self, change: impl FnOnce(&mut State)) {
        let waiters = {
            let mut state = self.lock();
            change(&mut state);
            std::mem::take(&mut state.heal_waiters)
        };
        for w in waiters {
            w.wake();
        }
    }

    /// Whether traffic from `from` to `to` is cut.
    pub fn is_blocked(&self, from: &str, to: &str) -> bool {
        self.lock()
            .blocked
            .contains(&(from.to_string(), to.to_string()))
    }

    /// Waits (registering `cx`) unless traffic from `from` to `to` flows.
    fn poll_open(&self, from: &str, to: &str, cx: &mut Context<'_>) -> Poll<()> {
        self.poll_flowing(&(from.to_string(), to.to_string()), cx)
    }

    /// [`poll_open`](Self::poll_open) for a direction (from host, to host) already spelled
    /// as [`State::blocked`] keys it: a stream checks it on every read without allocating.
    fn poll_flowing(&self, direction: &(String, String), cx: &mut Context<'_>) -> Poll<()> {
        let mut state = self.lock();
        if state.blocked.contains(direction) {
            state.heal_waiters.push(cx.waker().clone());
            Poll::Pending
        } else {
            Poll::Ready(())
        }
    }

    /// Waits until neither direction between `a` and `b` is cut and `b` is up: until a SYN
    /// from `a` to `b` and its answer can get through.
    pub(crate) async fn wait_connectable(&self, a: &str, b: &str) {
        std::future::poll_fn(|cx| {
            if self.poll_open(a, b, cx).is_pending() || self.poll_open(b, a, cx).is_pending() {
                return Poll::Pending;
            }
            let mut state = self.lock();
            if state.down.contains(b) {
                state.heal_waiters.push(cx.waker().clone());
                return Poll::Pending;
            }
            Poll::Ready(())
        })
        .await
    }

    /// Records that connection `name` runs between `local` and `remote` (from its first
    /// callback), and applies any slow close asked for it.
    pub fn register_connection(&self, name: &str, local: SocketAddr, remote: SocketAddr) {
        let delay = {
            let mut state = self.lock();
            state.conns.insert(name.to_string(), (local, remote));
            state.pending_slow_close.remove(name)
        };
        if let Some(delay) = delay {
            let (key, dir) = LinkKey::of(local, remote);
            // `name`'s own FIN reaches its peer late: delay on the receiving direction.
            lock(&self.link(key)).fin_delay[dir] = Some(delay);
        }
    }

    /// Resets connection `name`: both ends fail their next I/O. False if it is unknown.
    pub fn reset(&self, name: &str) -> bool {
        let Some((local, remote)) = self.lock().conns.get(name).copied() else {
            return false;
        };
        let link = self.link(LinkKey::of(local, remote).0);
        let mut link = lock(&link);
        link.reset = true;
        link.wake_all();
        true
    }

    /// Delays the FIN that connection `name` sends by `delay`.
    pub fn slow_close(&self, name: &str, delay: Duration) {
        let known = self.lock().conns.get(name).copied();
        match known {
            Some((local, remote)) => {
                let (key, dir) = LinkKey::of(local, remote);
                lock(&self.link(key)).fin_delay[dir] = Some(delay);
            }
            None => {
                self.lock()
                    .pending_slow_close
                    .insert(name.to_string(), delay);
            }
        }
    }

    fn stream_rng(&self, purpose: &str, local: SocketAddr, remote: SocketAddr) -> ChaCha8Rng {
        self.seed
            .stream(purpose, fnv1a(format!("{local}>{remote}").as_bytes()))
    }
}

/// A turmoil stream seen through the fault layer.
pub struct FaultyStream {
    inner: turmoil::net::TcpStream,
    layer: Arc<FaultLayer>,
    link: Arc<Mutex<Link>>,
    local: SocketAddr,
    remote: SocketAddr,
    /// The direction (from host, to host) our reads come from, as partitions key it.
    inbound: (String, String),
    /// Direction of our writes; the peer's writes are `1 - out`.
    out: usize,
    /// Bytes our direction may hold unread: the plan's window, or its smaller send buffer.
    window: usize,
    write_slicer: Option<ChaCha8Rng>,
    read_chunker: Option<ChaCha8Rng>,
    stash: Vec<u8>,
    /// Reused buffer for coalescing reads (only with re-chunking).
    scratch: Vec<u8>,
    /// Reused buffer that joins a vectored write's slices into one segment.
    gather: Vec<u8>,
    eof: bool,
    fin_timer: Option<Pin<Box<tokio::time::Sleep>>>,
    /// What `set_nodelay` last set: turmoil has no Nagle, but the setting reads back as on a
    /// real socket, which starts with Nagle on.
    nodelay: AtomicBool,
}

impl FaultyStream {
    /// Wraps a turmoil stream between two known hosts.
    pub fn new(inner: turmoil::net::TcpStream, layer: Arc<FaultLayer>) -> io::Result<Self> {
        let local = inner.local_addr()?;
        let remote = inner.peer_addr()?;
        let name = |ip: IpAddr| -> io::Result<String> {
            layer.host_of(ip).map(str::to_string).ok_or_else(|| {
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
        // A plan that skipped validation still keeps the FIN's slot (see `run::capacity`).
        let window = plan
            .send_buffer
            .map_or(plan.window, |b| b.min(plan.window))
            .clamp(1, MAX_WINDOW);
        let write_slicer = plan
            .partial_writes
            .map(|_| layer.stream_rng("partial-writes", local, remote));
        let read_chunker = plan
            .read_chunks
            .map(|_| layer.stream_rng("read-chunks", local, remote));
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
            nodelay: AtomicBool::new(false),
        })
    }

    /// Whether the connection was reset; if not, `cx` is woken by a reset.
    fn is_reset(&self, cx: &mut Context<'_>) -> bool {
        let mut link = lock(&self.link);
        if link.reset {
            return true;
        }
        link.readers[1 - self.out] = Some(cx.waker().clone());
        false
    }

    /// How many of `offered` bytes the next write may take, or why it may take none.
    fn write_allowance(&mut self, offered: usize, cx: &mut Context<'_>) -> Allowance {
        let mut link = lock(&self.link);
        if link.reset {
            return Allowance::Reset;
        }
        let mut allowed = offered;
        if let (Some(rng), Some(p)) = (self.write_slicer.as_mut(), self.layer.plan.partial_writes) {
            let low = p.average.saturating_sub(p.variation).max(1);
            let high = p.average.saturating_add(p.variation).max(low);
            allowed = allowed.min(rng.random_range(low..=high));
        }
        let free = self.window.saturating_sub(link.in_flight[self.out]);
        if free > 0 {
            return Allowance::Bytes(allowed.min(free).max(1));
        }
        if link.dropped[1 - self.out] {
            return Allowance::PeerGone;
        }
        link.writers[self.out] = Some(cx.waker().clone());
        Allowance::Wait
    }

    /// The peer dropped its stream with our bytes unread, so it answers with a reset, as a
    /// real peer does: the reset is ours once turmoil closes our receive channel (woken then).
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

    /// Pulls segments from turmoil into the stash until it holds `target` bytes or turmoil
    /// has no more (coalescing), for re-chunked reads.
    fn fill_stash(&mut self, cx: &mut Context<'_>, target: usize) -> io::Result<()> {
        if self.scratch.is_empty() {
            self.scratch = vec![0u8; COALESCE_BYTES];
        }
        while !self.eof && self.stash.len() < target {
            let mut buf = ReadBuf::new(&mut self.scratch);
            match Pin::new(&mut self.inner).poll_read(cx, &mut buf) {
                Poll::Ready(Ok(())) if buf.filled().is_empty() => self.eof = true,
                Poll::Ready(Ok(())) => self.stash.extend_from_slice(buf.filled()),
                Poll::Ready(Err(e)) if self.stash.is_empty() => return Err(e),
                Poll::Ready(Err(_)) | Poll::Pending => break,
            }
        }
        Ok(())
    }

    /// The peer's bytes were read by this end: they leave the peer's window.
    fn consumed(&self, n: usize) {
        let mut link = lock(&self.link);
        let incoming = 1 - self.out;
        link.in_flight[incoming] = link.in_flight[incoming].saturating_sub(n);
        if let Some(w) = link.writers[incoming].take() {
            w.wake();
        }
    }

    /// Whether the end of stream may be reported now (a slow close delays it).
    fn poll_fin(&mut self, cx: &mut Context<'_>) -> Poll<()> {
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

impl Drop for FaultyStream {
    fn drop(&mut self) {
        let mut link = lock(&self.link);
        link.dropped[self.out] = true;
        // The peer may be waiting for window we will never open: it should wait for our
        // reset instead (see `poll_peer_reset`).
        if let Some(w) = link.writers[1 - self.out].take() {
            w.wake();
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

impl AsyncRead for FaultyStream {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = &mut *self;
        if this.is_reset(cx) {
            return Poll::Ready(Err(reset_error()));
        }
        if this.stash.is_empty() && !this.eof {
            // Data from a cut direction stays in flight until the partition heals.
            if this.layer.poll_flowing(&this.inbound, cx).is_pending() {
                return Poll::Pending;
            }
        }
        let Some(rng) = this.read_chunker.as_mut() else {
            // No re-chunking: turmoil's own segments, straight into the caller's buffer.
            if this.eof {
                return this.poll_fin(cx).map(Ok);
            }
            let before = buf.filled().len();
            return match Pin::new(&mut this.inner).poll_read(cx, buf) {
                Poll::Ready(Ok(())) if buf.filled().len() == before => {
                    this.eof = true;
                    this.poll_fin(cx).map(Ok)
                }
                Poll::Ready(Ok(())) => {
                    this.consumed(buf.filled().len() - before);
                    Poll::Ready(Ok(()))
                }
                other => other,
            };
        };
        let max = this.layer.plan.read_chunks.map_or(1, |r| r.max.max(1));
        let target = rng.random_range(1..=max);
        if let Err(e) = this.fill_stash(cx, target) {
            return Poll::Ready(Err(e));
        }
        if this.stash.is_empty() {
            if this.eof {
                return this.poll_fin(cx).map(Ok);
            }
            return Poll::Pending;
        }
        let n = this.stash.len().min(target).min(buf.remaining());
        buf.put_slice(&this.stash[..n]);
        this.stash.drain(..n);
        this.consumed(n);
        Poll::Ready(Ok(()))
    }
}

impl AsyncWrite for FaultyStream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.poll_write_vectored(cx, &[IoSlice::new(buf)])
    }

    /// One call is one turmoil segment of up to the allowance's bytes, taken from the slices
    /// in order, as one `writev` on a real socket takes from every buffer it is given.
    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = &mut *self;
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
                lock(&this.link).in_flight[this.out] += written;
                Poll::Ready(Ok(written))
            }
            Poll::Pending => {
                // turmoil wakes us when it has room; a reset must wake us too.
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
        Pin::new(&mut this.inner).poll_shutdown(cx)
    }
}

impl tcpnotify::Stream for FaultyStream {
    fn set_nodelay(&self, nodelay: bool) -> io::Result<()> {
        self.inner.set_nodelay(nodelay)?;
        self.nodelay.store(nodelay, Ordering::Relaxed);
        Ok(())
    }
    fn nodelay(&self) -> io::Result<bool> {
        Ok(self.nodelay.load(Ordering::Relaxed))
    }
    fn set_keepalive(&self, _secs: u32) -> io::Result<()> {
        Ok(())
    }
    fn local_address(&self) -> io::Result<SocketAddr> {
        Ok(self.local)
    }
    fn remote_address(&self) -> io::Result<SocketAddr> {
        Ok(self.remote)
    }
}
