//! The seeded fault layer between the stack and turmoil: shared per-run state
//! ([`FaultLayer`]: partitions, send windows, resets, slow closes) and the stream wrapper
//! ([`FaultyStream`]) that applies it to every simulated connection.
//!
//! turmoil accepts every write whole and returns one segment per read, refuses connects into a
//! partition at once, and drops data on its own partitions. Partial writes, re-chunked reads,
//! byte-sized send buffers, partitions that hold data and heal, and connect time-outs are
//! therefore made here.

use crate::plan::FaultPlan;
use crate::seed::{fnv1a, Seed};
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use std::collections::{BTreeMap, BTreeSet};
use std::future::Future;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll, Waker};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// Largest read from turmoil at once when coalescing segments.
const COALESCE_BYTES: usize = 64 * 1024;

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

/// The fault state of one connection.
#[derive(Default)]
struct Link {
    reset: bool,
    /// Bytes written in each direction and not yet read by the peer.
    in_flight: [usize; 2],
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
    links: BTreeMap<LinkKey, Link>,
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
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The address of host `name`.
    pub fn ip_of(&self, name: &str) -> Option<IpAddr> {
        self.hosts.get(name).copied()
    }

    /// The host at `ip`.
    pub fn host_of(&self, ip: IpAddr) -> Option<&str> {
        self.host_of_ip.get(&ip).map(String::as_str)
    }

    /// Every host name.
    pub fn host_names(&self) -> impl Iterator<Item = &str> {
        self.hosts.keys().map(String::as_str)
    }

    /// How long a connect waits for its handshake, whatever holds it (a partition, a host
    /// that is down, a listener that does not accept).
    pub fn connect_timeout(&self) -> Duration {
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
    pub fn host_crashed(&self, host: &str) {
        let mut state = self.lock();
        state.down.insert(host.to_string());
        *state.generations.entry(host.to_string()).or_default() += 1;
    }

    /// Host `host` runs again (turmoil restarts a running host too, with a fresh backlog):
    /// waiting connects send their SYN.
    pub fn host_restarted(&self, host: &str) {
        self.wake_heal_waiters(|state| {
            state.down.remove(host);
            *state.generations.entry(host.to_string()).or_default() += 1;
        });
    }

    /// How many times host `host` crashed or restarted so far: a connect whose host changed
    /// generation while its SYN was out lost that SYN.
    pub fn generation(&self, host: &str) -> u64 {
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
        let mut state = self.lock();
        if state.blocked.contains(&(from.to_string(), to.to_string())) {
            state.heal_waiters.push(cx.waker().clone());
            Poll::Pending
        } else {
            Poll::Ready(())
        }
    }

    /// Waits until neither direction between `a` and `b` is cut and `b` is up: until a SYN
    /// from `a` to `b` and its answer can get through.
    pub async fn wait_connectable(&self, a: &str, b: &str) {
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
        let mut state = self.lock();
        state.conns.insert(name.to_string(), (local, remote));
        if let Some(delay) = state.pending_slow_close.remove(name) {
            let (key, dir) = LinkKey::of(local, remote);
            // `name`'s own FIN reaches its peer late: delay on the receiving direction.
            state.links.entry(key).or_default().fin_delay[dir] = Some(delay);
        }
    }

    /// Resets connection `name`: both ends fail their next I/O. False if it is unknown.
    pub fn reset(&self, name: &str) -> bool {
        let mut state = self.lock();
        let Some(&(local, remote)) = state.conns.get(name) else {
            return false;
        };
        let link = state.links.entry(LinkKey::of(local, remote).0).or_default();
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
                self.lock().links.entry(key).or_default().fin_delay[dir] = Some(delay);
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
    local: SocketAddr,
    remote: SocketAddr,
    local_host: String,
    remote_host: String,
    key: LinkKey,
    /// Direction of our writes; the peer's writes are `1 - out`.
    out: usize,
    write_slicer: Option<ChaCha8Rng>,
    read_chunker: Option<ChaCha8Rng>,
    stash: Vec<u8>,
    /// Reused buffer for coalescing reads (only with re-chunking).
    scratch: Vec<u8>,
    eof: bool,
    fin_timer: Option<Pin<Box<tokio::time::Sleep>>>,
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
        let (local_host, remote_host) = (name(local.ip())?, name(remote.ip())?);
        let (key, out) = LinkKey::of(local, remote);
        let write_slicer = layer
            .plan
            .partial_writes
            .map(|_| layer.stream_rng("partial-writes", local, remote));
        let read_chunker = layer
            .plan
            .read_chunks
            .map(|_| layer.stream_rng("read-chunks", local, remote));
        Ok(FaultyStream {
            inner,
            layer,
            local,
            remote,
            local_host,
            remote_host,
            key,
            out,
            write_slicer,
            read_chunker,
            stash: Vec::new(),
            scratch: Vec::new(),
            eof: false,
            fin_timer: None,
        })
    }

    fn is_reset(&self, cx: &mut Context<'_>, reading: bool) -> bool {
        let mut state = self.layer.lock();
        let link = state.links.entry(self.key).or_default();
        if link.reset {
            return true;
        }
        let slot = if reading {
            &mut link.readers[1 - self.out]
        } else {
            &mut link.writers[self.out]
        };
        *slot = Some(cx.waker().clone());
        false
    }

    /// How many bytes the next write may take, or `None` to wait for window.
    fn write_allowance(&mut self, wanted: usize, cx: &mut Context<'_>) -> Option<usize> {
        let mut allowed = wanted;
        if let (Some(rng), Some(p)) = (self.write_slicer.as_mut(), self.layer.plan.partial_writes) {
            let low = p.average.saturating_sub(p.variation).max(1);
            let high = (p.average + p.variation).max(low);
            allowed = allowed.min(rng.random_range(low..=high));
        }
        if let Some(capacity) = self.layer.plan.send_buffer {
            let mut state = self.layer.lock();
            let link = state.links.entry(self.key).or_default();
            let free = capacity.saturating_sub(link.in_flight[self.out]);
            if free == 0 {
                link.writers[self.out] = Some(cx.waker().clone());
                return None;
            }
            allowed = allowed.min(free);
        }
        Some(allowed.max(1))
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

    /// The peer's bytes were read by this end: they leave the peer's send window.
    fn consumed(&self, n: usize) {
        let mut state = self.layer.lock();
        let link = state.links.entry(self.key).or_default();
        let incoming = 1 - self.out;
        link.in_flight[incoming] = link.in_flight[incoming].saturating_sub(n);
        if let Some(w) = link.writers[incoming].take() {
            w.wake();
        }
    }

    /// Whether the end of stream may be reported now (a slow close delays it).
    fn poll_fin(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        if self.fin_timer.is_none() {
            let delay = self
                .layer
                .lock()
                .links
                .get(&self.key)
                .and_then(|l| l.fin_delay[1 - self.out]);
            match delay {
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
        if this.is_reset(cx, true) {
            return Poll::Ready(Err(reset_error()));
        }
        if this.stash.is_empty() && !this.eof {
            // Data from a cut direction stays in flight until the partition heals.
            if this
                .layer
                .poll_open(&this.remote_host, &this.local_host, cx)
                .is_pending()
            {
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
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = &mut *self;
        if this.is_reset(cx, false) {
            return Poll::Ready(Err(reset_error()));
        }
        if buf.is_empty() {
            return Poll::Ready(Ok(0));
        }
        let Some(allowed) = this.write_allowance(buf.len(), cx) else {
            return Poll::Pending;
        };
        let n = allowed.min(buf.len());
        match Pin::new(&mut this.inner).poll_write(cx, &buf[..n]) {
            Poll::Ready(Ok(written)) => {
                let mut state = this.layer.lock();
                state.links.entry(this.key).or_default().in_flight[this.out] += written;
                Poll::Ready(Ok(written))
            }
            other => other,
        }
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = &mut *self;
        if this.is_reset(cx, false) {
            return Poll::Ready(Err(reset_error()));
        }
        Pin::new(&mut this.inner).poll_shutdown(cx)
    }
}

impl tcpnotify::Stream for FaultyStream {
    fn set_nodelay(&self, nodelay: bool) -> io::Result<()> {
        self.inner.set_nodelay(nodelay)
    }
    fn nodelay(&self) -> io::Result<bool> {
        // turmoil has no Nagle; report what a peer would observe: no delay.
        Ok(true)
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
