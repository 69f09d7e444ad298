//! The fault layer's shared state for one run ([`FaultLayer`]): partitions, crashed hosts,
//! resets, slow closes, and each connection's flow window, which both ends of a connection
//! see. The streams ([`FaultyStream`](super::FaultyStream)) and the network
//! ([`FaultNetwork`](super::FaultNetwork)) apply it.
//!
//! turmoil accepts every write whole and returns one segment per read, refuses connects into a
//! partition at once, and drops data on its own partitions. Partial writes, re-chunked reads,
//! byte-sized send buffers, partitions that hold data and heal, and the time-outs of connects
//! whose SYNs these faults lose are therefore made here, over any backend: the same faults
//! wrap a real socket (whose kernel keeps its own connect timeout).
//!
//! Flow control is made here too. Each direction of a connection holds at most the plan's
//! [`window`](FaultPlan::window) of bytes written and not yet read by the peer, in at most
//! [`MAX_SEGMENTS_IN_FLIGHT`](super::MAX_SEGMENTS_IN_FLIGHT) segments; past either a write
//! waits until the peer reads, as a real socket's does once its buffers are full. The segment
//! bound keeps the end of stream from being lost: turmoil parks a FIN that finds the
//! receiver's channel full and never delivers it, and since every data segment in that channel
//! is one of its direction's unread segments, a channel of one slot more than the bound always
//! has one left for the FIN (the run sizes turmoil's `tcp_capacity` so: `run::capacity`).

use super::plan::{FaultKind, FaultPlan};
use crate::seed::{fnv1a, Seed};
use rand_chacha::ChaCha8Rng;
use rustc_hash::FxHashMap;
use std::collections::{hash_map, BTreeMap, BTreeSet, VecDeque};
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll, Waker};
use std::time::Duration;
use tcpnotify::record::Name;

/// Locks `mutex`, also after a panic elsewhere poisoned it: the state stays consistent
/// because every update under it is a single assignment or arithmetic step.
pub(super) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

/// A connection between two sockets, written the same from both ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(super) struct LinkKey(SocketAddr, SocketAddr);

impl LinkKey {
    /// The key of the connection from `local` to `remote`, and which direction that is (0 or 1).
    pub(super) fn of(local: SocketAddr, remote: SocketAddr) -> (LinkKey, usize) {
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
pub(super) struct Link {
    pub(super) reset: bool,
    /// Bytes written in each direction and not yet read by the peer: the sum of `segments`,
    /// kept as a count because every write and every fault's firing asks it.
    pub(super) in_flight: [usize; 2],
    /// The unread bytes of each segment in flight per direction, oldest first: how many
    /// there are is bounded by [`MAX_SEGMENTS_IN_FLIGHT`](super::MAX_SEGMENTS_IN_FLIGHT).
    pub(super) segments: [VecDeque<usize>; 2],
    /// Whether the end writing in each direction has dropped its stream: nobody reads the
    /// other direction any more.
    pub(super) dropped: [bool; 2],
    /// Writers waiting for window, per direction.
    pub(super) writers: [Option<Waker>; 2],
    /// Readers waiting, per receiving direction (woken by a reset).
    pub(super) readers: [Option<Waker>; 2],
    /// The receiving side of each direction sees the FIN this much later.
    pub(super) fin_delay: [Option<Duration>; 2],
}

impl Link {
    /// `n` bytes written in direction `dir` went out as one segment.
    pub(super) fn sent(&mut self, dir: usize, n: usize) {
        self.in_flight[dir] += n;
        self.segments[dir].push_back(n);
    }

    /// The peer read `n` bytes of direction `dir`: they, and every segment they end, leave
    /// the flight.
    pub(super) fn read(&mut self, dir: usize, mut n: usize) {
        self.in_flight[dir] = self.in_flight[dir].saturating_sub(n);
        let segments = &mut self.segments[dir];
        while let Some(left) = segments.front_mut() {
            if *left > n {
                *left -= n;
                break;
            }
            n -= *left;
            segments.pop_front();
        }
    }

    /// Whether direction `dir` has as many segments in flight as it may.
    pub(super) fn segments_full(&self, dir: usize) -> bool {
        self.segments[dir].len() >= super::MAX_SEGMENTS_IN_FLIGHT
    }

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
    /// Directions currently cut: from host, to the hosts it cannot reach. Keyed by name so
    /// that a read or a connect looks a direction up by `&str`, with no allocation.
    blocked: BTreeMap<String, BTreeSet<String>>,
    /// Hosts crashed and not yet restarted: SYNs to them are lost.
    down: BTreeSet<String>,
    /// How many times each host crashed or restarted, so a connect can tell a refusal caused
    /// by either (its SYN was lost with the host's backlog) from a real one.
    generations: BTreeMap<String, u64>,
    /// Each connection's state; its streams hold it too, so their reads and writes do not
    /// look it up. Hashed, with no random state: each stream looks its connection up once
    /// as it is made and once as it is dropped, and a sorted map's search, comparing pairs of
    /// socket addresses, cost ten times more. What iterates it sorts first where the order
    /// is seen ([`FaultLayer::calm`]'s wakes).
    links: FxHashMap<LinkKey, Arc<Mutex<Link>>>,
    /// Tasks waiting for a partition to heal or a host to restart.
    heal_waiters: Vec<Waker>,
    /// Connects whose SYN is out, by a number given in the order they asked ([`SynWatch`]):
    /// the host it went to, and the task to wake when that host crashes or restarts.
    syn_watchers: BTreeMap<u64, (Arc<str>, Waker)>,
    /// The number the next [`SynWatch`] takes.
    next_syn_watch: u64,
    /// Hosts that answer no SYN: those the run leaves out of turmoil that no client dials
    /// (`run::outside`).
    silent: BTreeSet<String>,
    /// Connection names and their sockets (local, remote), learned from the trace. Hashed,
    /// with no random state: every connection is registered, only a fault naming one looks
    /// it up, and nothing iterates it (its order is never seen); a sorted map's insert,
    /// comparing names, cost several times more. Keyed by the recorder's own [`Name`] of each,
    /// shared rather than copied.
    conns: FxHashMap<Name, (SocketAddr, SocketAddr)>,
    /// Slow closes asked for by name before the connection existed.
    pending_slow_close: BTreeMap<String, Duration>,
    /// Ports refusing connects, by host then port, each with the plan faults that refuse it
    /// (they may overlap). Keyed so that a connect looks its port up with no allocation.
    refusing: BTreeMap<String, BTreeMap<u16, BTreeSet<usize>>>,
}

impl State {
    /// Whether traffic from `from` to `to` is cut.
    fn is_blocked(&self, from: &str, to: &str) -> bool {
        (self.blocked.get(from)).is_some_and(|cut| cut.contains(to))
    }

    /// Host `host` crashed or restarted: its generation moves on, and the connects whose SYN
    /// was out to it, which that lost, are returned to be woken in the order they sent it.
    fn new_generation(&mut self, host: &str) -> Vec<Waker> {
        *self.generations.entry(host.to_string()).or_default() += 1;
        let lost: Vec<u64> = (self.syn_watchers.iter())
            .filter(|(_, (to, _))| &**to == host)
            .map(|(id, _)| *id)
            .collect();
        (lost.iter())
            .filter_map(|id| self.syn_watchers.remove(id))
            .map(|(_, waker)| waker)
            .collect()
    }
}

/// A connect's watch on its SYN while it is out ([`FaultLayer::poll_syn_lost`]); dropping it
/// forgets the task to wake.
pub(super) struct SynWatch<'a> {
    layer: &'a FaultLayer,
    /// Its number among the watchers, from its first wait.
    id: Option<u64>,
}

impl<'a> SynWatch<'a> {
    pub(super) fn new(layer: &'a FaultLayer) -> Self {
        SynWatch { layer, id: None }
    }
}

impl Drop for SynWatch<'_> {
    fn drop(&mut self) {
        if let Some(id) = self.id {
            self.layer.lock().syn_watchers.remove(&id);
        }
    }
}

/// Per-run fault state shared by every host's network and stream.
pub struct FaultLayer {
    seed: Seed,
    pub(super) plan: FaultPlan,
    hosts: BTreeMap<String, IpAddr>,
    /// The scenario's `[names]`: each name and the hosts it resolves to, in order.
    names: Arc<BTreeMap<String, Vec<String>>>,
    /// Shared names, so a stream and a connect keep a host's name without allocating.
    /// Hashed (no random state, never iterated): every stream looks up both its ends.
    host_of_ip: FxHashMap<IpAddr, Arc<str>>,
    state: Mutex<State>,
    /// Set by [`calm`](Self::calm): every fault healed for good.
    calm: AtomicBool,
    /// Set by [`stop_rechunking`](Self::stop_rechunking): writes and reads pass whole for good.
    whole: AtomicBool,
    /// Whether any direction is cut (`State::blocked` is not empty), kept with it under the
    /// lock: a stream asks on every read, and most runs are not partitioned most of the time.
    cut: AtomicBool,
}

impl FaultLayer {
    /// The layer for a run with `plan`, over hosts with these addresses.
    pub fn new(plan: FaultPlan, hosts: BTreeMap<String, IpAddr>) -> Arc<Self> {
        Self::with_names(plan, hosts, Arc::default())
    }

    /// [`new`](Self::new), in a scenario whose `[names]` are `names`: what a `@peer` that a
    /// connection dials by a name resolves through.
    pub(crate) fn with_names(
        plan: FaultPlan,
        hosts: BTreeMap<String, IpAddr>,
        names: Arc<BTreeMap<String, Vec<String>>>,
    ) -> Arc<Self> {
        let host_of_ip = hosts
            .iter()
            .map(|(h, ip)| (*ip, h.as_str().into()))
            .collect();
        Arc::new(FaultLayer {
            seed: plan.seed,
            plan,
            hosts,
            names,
            host_of_ip,
            state: Mutex::new(State::default()),
            calm: AtomicBool::new(false),
            whole: AtomicBool::new(false),
            cut: AtomicBool::new(false),
        })
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        lock(&self.state)
    }

    /// The state of the connection `key`, made on first use.
    pub(super) fn link(&self, key: LinkKey) -> Arc<Mutex<Link>> {
        self.lock().links.entry(key).or_default().clone()
    }

    /// The state of the connection on sockets `key` while one of its streams exists. Once
    /// both are dropped it is forgotten ([`forget_link`](Self::forget_link)) and a reset or
    /// slow close of that connection finds nothing, which has the effect it would have had:
    /// no stream reads that state again. (Should a later connection reuse the same sockets,
    /// the name still maps to them and the fault reaches the new one, as it did before
    /// states were forgotten; turmoil hands out a host's ephemeral ports in turn, so that takes
    /// a host making more connections than it has ports.)
    fn live_link(&self, key: LinkKey) -> Option<Arc<Mutex<Link>>> {
        self.lock().links.get(&key).cloned()
    }

    /// Forgets `link`, the state of connection `key`, once both its streams were dropped:
    /// a run's connections come and go, and the layer keeps only the live ones. Not if a
    /// stream of a new connection on the same sockets took it over meanwhile.
    pub(super) fn forget_link(&self, key: LinkKey, link: &Arc<Mutex<Link>>) {
        let mut state = self.lock();
        if let hash_map::Entry::Occupied(current) = state.links.entry(key) {
            if Arc::ptr_eq(current.get(), link) && lock(link).dropped == [true, true] {
                current.remove();
            }
        }
    }

    /// How many connections' states the layer holds (tests: they go with their streams).
    #[cfg(test)]
    pub(super) fn links_held(&self) -> usize {
        self.lock().links.len()
    }

    /// The plan this layer applies.
    pub fn plan(&self) -> &FaultPlan {
        &self.plan
    }

    /// The host at `ip`.
    pub(crate) fn host_of(&self, ip: IpAddr) -> Option<&str> {
        self.host_of_ip.get(&ip).map(|name| &**name)
    }

    /// The host at `ip`, as a name to keep.
    pub(super) fn host_name(&self, ip: IpAddr) -> Option<&Arc<str>> {
        self.host_of_ip.get(&ip)
    }

    /// Every host name.
    pub(crate) fn host_names(&self) -> impl Iterator<Item = &str> {
        self.hosts.keys().map(String::as_str)
    }

    /// How long a connect's SYNs may be lost in all (across a partition, to a host that is
    /// down or answers nothing) before it times out. A SYN waiting in a live listener's
    /// backlog is not lost (`fault::network`).
    pub(crate) fn connect_timeout(&self) -> Duration {
        Duration::from_millis(self.plan.connect_timeout_ms)
    }

    /// Cuts traffic from `from` to `to` until [`heal`](Self::heal).
    pub fn block(&self, from: &str, to: &str) {
        let mut state = self.lock();
        (state.blocked.entry(from.to_string()).or_default()).insert(to.to_string());
        self.cut.store(true, Ordering::Release);
    }

    /// The hosts a link fault between `a` and `b` joins `a` to: `b`, or every host but `a`
    /// for `*`.
    pub(crate) fn others(&self, a: &str, b: &str) -> Vec<String> {
        match b {
            "*" => (self.host_names())
                .filter(|h| *h != a)
                .map(str::to_string)
                .collect(),
            b => vec![b.to_string()],
        }
    }

    /// Cuts `a` from `b` (`*`: from every other host), both ways unless `one_way` (then only
    /// traffic from `a`); returns the directions cut, to [`heal`](Self::heal) later.
    pub(crate) fn partition(&self, a: &str, b: &str, one_way: bool) -> Vec<(String, String)> {
        let mut cuts = Vec::new();
        for b in self.others(a, b) {
            cuts.push((a.to_string(), b.clone()));
            if !one_way {
                cuts.push((b, a.to_string()));
            }
        }
        for (from, to) in &cuts {
            self.block(from, to);
        }
        cuts
    }

    /// Restores traffic from `from` to `to`; held data flows again.
    pub fn heal(&self, from: &str, to: &str) {
        self.wake_heal_waiters(|state| {
            if let Some(cut) = state.blocked.get_mut(from) {
                cut.remove(to);
                if cut.is_empty() {
                    state.blocked.remove(from);
                }
            }
            self.cut.store(!state.blocked.is_empty(), Ordering::Release);
        });
    }

    /// Port `port` of host `host` refuses connects, for the plan's fault `index`, until
    /// [`accept_again`](Self::accept_again) for that fault (refusals may overlap; applying
    /// one twice is applying it once).
    pub(crate) fn refuse(&self, index: usize, host: &str, port: u16) {
        (self.lock().refusing)
            .entry(host.to_string())
            .or_default()
            .entry(port)
            .or_default()
            .insert(index);
    }

    /// The refusal of fault `index` ended; the port accepts again once no refusal is left.
    pub(crate) fn accept_again(&self, index: usize, host: &str, port: u16) {
        let mut state = self.lock();
        let Some(ports) = state.refusing.get_mut(host) else {
            return;
        };
        if let Some(faults) = ports.get_mut(&port) {
            faults.remove(&index);
            if faults.is_empty() {
                ports.remove(&port);
            }
        }
        if ports.is_empty() {
            state.refusing.remove(host);
        }
    }

    /// Whether port `port` of host `host` refuses connects now.
    pub fn refuses(&self, host: &str, port: u16) -> bool {
        (self.lock().refusing.get(host)).is_some_and(|ports| ports.contains_key(&port))
    }

    /// How long a refused connect takes: the round trip of the SYN and the RST that answers
    /// it, at the plan's least latency (at least 1 ms each way).
    pub(crate) fn refusal_round_trip(&self) -> Duration {
        let one_way = (self.plan.latency)
            .map_or(super::plan::DEFAULT_LATENCY_MS, |l| l.min_ms)
            .max(1);
        Duration::from_millis(one_way.saturating_mul(2))
    }

    /// Host `host` crashed: until [`host_restarted`](Self::host_restarted), SYNs to it are
    /// lost, so connects to it wait (and time out) as TCP's SYN retransmissions would.
    pub(crate) fn host_crashed(&self, host: &str) {
        let watchers = {
            let mut state = self.lock();
            state.down.insert(host.to_string());
            state.new_generation(host)
        };
        watchers.into_iter().for_each(Waker::wake);
    }

    /// Host `host` runs again (turmoil restarts a running host too, with a fresh backlog):
    /// waiting connects send their SYN.
    pub(crate) fn host_restarted(&self, host: &str) {
        let mut watchers = Vec::new();
        self.wake_heal_waiters(|state| {
            state.down.remove(host);
            watchers = state.new_generation(host);
        });
        watchers.into_iter().for_each(Waker::wake);
    }

    /// Host `host` answers no SYN, for the whole run: a connect to it times out.
    pub(crate) fn host_silent(&self, host: &str) {
        self.lock().silent.insert(host.to_string());
    }

    /// Whether a SYN to host `to` is ever answered: not if `to` is silent.
    pub(super) fn answers_syns(&self, to: &str) -> bool {
        !self.lock().silent.contains(to)
    }

    /// Whether the SYN `watch` sent to host `to` when it was at `generation` is lost: `to`
    /// crashed or restarted since (turmoil drops a SYN waiting in a backlog at once, and holds
    /// one in flight to a crashed host until it is back, then delivers it to the new backlog).
    /// If not, `cx` is woken when `to` next crashes or restarts.
    pub(super) fn poll_syn_lost(
        &self,
        watch: &mut SynWatch<'_>,
        to: &Arc<str>,
        generation: u64,
        cx: &mut Context<'_>,
    ) -> Poll<()> {
        let mut state = self.lock();
        let now = state.generations.get(&**to).copied().unwrap_or(0);
        if now != generation {
            return Poll::Ready(());
        }
        let id = *watch.id.get_or_insert_with(|| {
            state.next_syn_watch += 1;
            state.next_syn_watch
        });
        state
            .syn_watchers
            .insert(id, (to.clone(), cx.waker().clone()));
        Poll::Pending
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

    /// Heals every fault of the layer at once and for good, for a run's liveness phase: every
    /// partition is repaired, every slow close delivers its end of stream now, every refusing
    /// port accepts again, and the chunking policies stop — writes and reads pass whole, and each direction may hold the
    /// plan's whole window again. Every task waiting on a fault is woken. Hosts that are down
    /// stay down until the runner restarts them; a reset stays a reset.
    pub fn calm(&self) {
        self.calm.store(true, Ordering::Relaxed);
        let mut links = self.links();
        // In the order of the sockets, whatever the map's: the order of the wakes is the
        // order the tasks run in.
        links.sort_unstable_by_key(|(key, _)| *key);
        for (_, link) in links {
            let mut link = lock(&link);
            link.fin_delay = [None; 2];
            link.wake_all();
        }
        self.wake_heal_waiters(|state| {
            state.blocked.clear();
            self.cut.store(false, Ordering::Release);
            state.pending_slow_close.clear();
            state.refusing.clear();
        });
    }

    /// Whether [`calm`](Self::calm) healed every fault.
    pub fn is_calm(&self) -> bool {
        self.calm.load(Ordering::Relaxed)
    }

    /// Stops the chunking policies that cut writes and reads finer (partial writes,
    /// re-chunked reads) for good, every other fault left as it is: from now on a write takes
    /// what the window allows and a read every byte that arrived, as in the liveness phase.
    /// For a run whose trace nears its limit: cut to a few bytes, a transfer of megabytes
    /// takes a callback every few bytes, and a correct notifier would fail for the trace's
    /// size alone.
    pub fn stop_rechunking(&self) {
        self.whole.store(true, Ordering::Relaxed);
    }

    /// Whether writes and reads are still cut as the plan's chunking policies say: not once
    /// the layer is [calm](Self::calm) or [stopped rechunking](Self::stop_rechunking).
    pub fn rechunks(&self) -> bool {
        !self.is_calm() && !self.whole.load(Ordering::Relaxed)
    }

    /// Whether traffic from `from` to `to` is cut.
    pub fn is_blocked(&self, from: &str, to: &str) -> bool {
        self.cut.load(Ordering::Acquire) && self.lock().is_blocked(from, to)
    }

    /// Waits (registering `cx`) unless traffic from `from` to `to` flows. A stream checks
    /// it on every read.
    pub(super) fn poll_open(&self, from: &str, to: &str, cx: &mut Context<'_>) -> Poll<()> {
        if !self.cut.load(Ordering::Acquire) {
            // Nothing is cut: no lock, and nothing to wait for.
            return Poll::Ready(());
        }
        let mut state = self.lock();
        if state.is_blocked(from, to) {
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

    /// Makes room for `connections` more connections to register (a hint): every one of a
    /// run registers, and growing the map on the way, rehashing every name at each doubling,
    /// cost some 190 instructions a connection at 1,000 clients.
    pub(crate) fn reserve_connections(&self, connections: usize) {
        self.lock().conns.reserve(connections);
    }

    /// Records that connection `name` (a `&str`, a `String` or a [`Name`], which is kept
    /// without copying its text) runs between `local` and `remote` (from its first callback),
    /// and applies any slow close asked for it.
    pub fn register_connection(
        &self,
        name: impl Into<Name>,
        local: SocketAddr,
        remote: SocketAddr,
    ) {
        let name = name.into();
        let delay = {
            let mut state = self.lock();
            let delay = state.pending_slow_close.remove(name.as_str());
            state.conns.insert(name, (local, remote));
            delay
        };
        if let Some(delay) = delay {
            let (key, dir) = LinkKey::of(local, remote);
            // `name`'s own FIN reaches its peer late: delay on the receiving direction.
            lock(&self.link(key)).fin_delay[dir] = Some(delay);
        }
    }

    /// The host at the other end of connection `name`: `None` if it never connected, or
    /// runs to an address outside the simulation.
    pub(crate) fn peer_host(&self, name: &str) -> Option<String> {
        let (_, remote) = self.lock().conns.get(name).copied()?;
        self.host_of(remote.ip()).map(str::to_string)
    }

    /// The host a connect to `target` (as a `proxy_via` returns it) tries first, resolved as
    /// the simulated network resolves it (a name of `[names]` before a host's own): of a
    /// name of several hosts, whose connect tries them all at once, the first it lists, so
    /// a cut of it fails one attempt of several. `None` for a name outside the simulation.
    pub(crate) fn host_named(&self, target: &str) -> Option<String> {
        match self.names.get(target) {
            Some(hosts) => hosts.first().cloned(),
            None => self.hosts.contains_key(target).then(|| target.to_string()),
        }
    }

    /// Resets connection `name`: both ends fail their next I/O. False if it is unknown.
    pub fn reset(&self, name: &str) -> bool {
        let Some((local, remote)) = self.lock().conns.get(name).copied() else {
            return false;
        };
        // A connection that ended has nothing left to reset.
        if let Some(link) = self.live_link(LinkKey::of(local, remote).0) {
            let mut link = lock(&link);
            link.reset = true;
            link.wake_all();
        }
        true
    }

    /// Delays the FIN that connection `name` sends by `delay`.
    pub fn slow_close(&self, name: &str, delay: Duration) {
        let known = self.lock().conns.get(name).copied();
        match known {
            Some((local, remote)) => {
                let (key, dir) = LinkKey::of(local, remote);
                // A connection that ended sends no FIN any more.
                if let Some(link) = self.live_link(key) {
                    lock(&link).fin_delay[dir] = Some(delay);
                }
            }
            None => {
                self.lock()
                    .pending_slow_close
                    .insert(name.to_string(), delay);
            }
        }
    }

    /// Bytes written and not yet read on the connections `kind` acts on, just before it
    /// acts: the directions a partition cuts, both directions of the links a latency change
    /// or a crash touches, both directions of the connection a reset or slow close names.
    /// Bytes a reader will never read (its stream was dropped, or the connection reset) do
    /// not count. What a coverage report's "fired while data was in flight" counts.
    pub(crate) fn in_flight_under(&self, kind: &FaultKind) -> usize {
        let either = |a: &str, b: &str, from: &str, to: &str| {
            let matches = |x: &str, host: &str| x == "*" || x == host;
            (from == a && matches(b, to)) || (to == a && matches(b, from))
        };
        match kind {
            FaultKind::Partition {
                a,
                b,
                one_way: true,
                ..
            } => self.in_flight(|from, to| from == a && (b == "*" || to == b)),
            FaultKind::Partition { a, b, .. } | FaultKind::Latency { a, b, .. } => {
                self.in_flight(|from, to| either(a, b, from, to))
            }
            FaultKind::Crash { host, .. } => self.in_flight(|from, to| from == host || to == host),
            // A refusal acts on connects to the host: bytes already flowing to it count.
            FaultKind::Refuse { host, .. } => self.in_flight(|_, to| to == host),
            FaultKind::Reset { conn } | FaultKind::SlowClose { conn, .. } => {
                let Some((local, remote)) = self.lock().conns.get(conn.as_str()).copied() else {
                    return 0;
                };
                let Some(link) = self.live_link(LinkKey::of(local, remote).0) else {
                    return 0;
                };
                let link = lock(&link);
                if link.reset {
                    return 0;
                }
                (0..2)
                    .filter(|dir| !link.dropped[1 - dir])
                    .map(|dir| link.in_flight[dir])
                    .sum()
            }
        }
    }

    /// Every connection's state with its sockets, in no set order, copied out so that each
    /// link is locked without the layer's lock held.
    fn links(&self) -> Vec<(LinkKey, Arc<Mutex<Link>>)> {
        (self.lock().links.iter())
            .map(|(key, link)| (*key, link.clone()))
            .collect()
    }

    /// Bytes in flight from host to host, over the directions `counts` picks (a sum, so the
    /// order the connections are visited in does not matter).
    fn in_flight(&self, counts: impl Fn(&str, &str) -> bool) -> usize {
        let links = self.links();
        let mut total = 0;
        for (LinkKey(low, high), link) in links {
            let link = lock(&link);
            if link.reset {
                continue;
            }
            // Direction 0 is written by the lower address (`LinkKey::of`).
            for (dir, (from, to)) in [(low, high), (high, low)].into_iter().enumerate() {
                let (Some(from), Some(to)) = (self.host_of(from.ip()), self.host_of(to.ip()))
                else {
                    continue;
                };
                if !link.dropped[1 - dir] && counts(from, to) {
                    total += link.in_flight[dir];
                }
            }
        }
        total
    }

    pub(super) fn stream_rng(
        &self,
        purpose: &str,
        local: SocketAddr,
        remote: SocketAddr,
    ) -> ChaCha8Rng {
        self.seed
            .stream(purpose, fnv1a(format!("{local}>{remote}").as_bytes()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The address of the test hosts' host number `last`: `a` is 1, `b` 2, `c` 3.
    fn ip(last: u8) -> IpAddr {
        IpAddr::from([10, 0, 0, last])
    }

    /// A quiet layer over hosts `a`, `b` and `c`.
    fn three_hosts() -> Arc<FaultLayer> {
        let hosts = (["a", "b", "c"].into_iter().zip(1..))
            .map(|(name, last)| (name.to_string(), ip(last)))
            .collect();
        FaultLayer::new(FaultPlan::quiet(Seed(1)), hosts)
    }

    /// What [`FaultLayer::is_blocked`] tells a caller outside the layer follows each cut and
    /// heal, per direction.
    #[test]
    fn is_blocked_follows_each_direction_cut_and_healed() {
        let layer = three_hosts();
        assert!(!layer.is_blocked("a", "b"));
        let cuts = layer.partition("a", "b", true);
        assert_eq!(cuts, [("a".to_string(), "b".to_string())]);
        assert!(layer.is_blocked("a", "b"));
        assert!(!layer.is_blocked("b", "a"), "one way");
        assert!(!layer.is_blocked("a", "c"));
        layer.heal("a", "b");
        assert!(!layer.is_blocked("a", "b"));
    }

    /// What [`FaultLayer::in_flight_under`] counts for each kind of fault (the coverage
    /// report's "fired while data was in flight"): hosts a, b and c, one connection per pair,
    /// and a different power of two unread in each direction, so that each sum names the
    /// directions it took.
    #[test]
    fn in_flight_under_counts_the_directions_each_fault_acts_on() {
        let layer = three_hosts();
        let socket = |last: u8| SocketAddr::new(ip(last), 1000 + u16::from(last));
        let unread = |from: u8, to: u8, bytes: usize| {
            let (key, dir) = LinkKey::of(socket(from), socket(to));
            lock(&layer.link(key)).sent(dir, bytes);
        };
        unread(1, 2, 1); // a -> b
        unread(2, 1, 2); // b -> a
        unread(1, 3, 4); // a -> c
        unread(3, 1, 8); // c -> a
        unread(2, 3, 16); // b -> c
        unread(3, 2, 32); // c -> b
        layer.register_connection("x", socket(1), socket(2));
        let partition = |a: &str, b: &str, one_way| FaultKind::Partition {
            a: a.into(),
            b: b.into(),
            duration_ms: 10,
            one_way,
        };
        let latency = |a: &str, b: &str| FaultKind::Latency {
            a: a.into(),
            b: b.into(),
            latency_ms: 5,
            max_latency_ms: None,
        };
        let crash = FaultKind::Crash {
            host: "b".into(),
            restart_after_ms: None,
        };
        let refuse = FaultKind::Refuse {
            host: "c".into(),
            port: 1003,
            duration_ms: 10,
        };
        let counted = |kind: &FaultKind| layer.in_flight_under(kind);
        assert_eq!(counted(&partition("a", "b", true)), 1);
        assert_eq!(counted(&partition("b", "a", true)), 2);
        assert_eq!(counted(&partition("a", "*", true)), 1 + 4);
        assert_eq!(counted(&partition("a", "b", false)), 1 + 2);
        assert_eq!(counted(&partition("c", "*", false)), 4 + 8 + 16 + 32);
        assert_eq!(counted(&latency("b", "c")), 16 + 32);
        assert_eq!(counted(&latency("b", "*")), 1 + 2 + 16 + 32);
        assert_eq!(counted(&crash), 1 + 2 + 16 + 32);
        assert_eq!(counted(&refuse), 4 + 16);
        assert_eq!(counted(&FaultKind::Reset { conn: "x".into() }), 1 + 2);
        let slow_close = |conn: &str| FaultKind::SlowClose {
            conn: conn.into(),
            delay_ms: 10,
        };
        assert_eq!(counted(&slow_close("x")), 1 + 2);
        assert_eq!(counted(&slow_close("never-connected")), 0);
        // Bytes nobody will read do not count: b's stream of a <-> b is gone (so a -> b is
        // never read), and a <-> c was reset.
        let (key, b_writes) = LinkKey::of(socket(2), socket(1));
        lock(&layer.link(key)).dropped[b_writes] = true;
        assert_eq!(counted(&crash), 2 + 16 + 32);
        assert_eq!(counted(&FaultKind::Reset { conn: "x".into() }), 2);
        lock(&layer.link(LinkKey::of(socket(1), socket(3)).0)).reset = true;
        assert_eq!(counted(&partition("a", "*", false)), 2);
    }

    /// A read that ends partway into a segment leaves the rest of that segment in flight, so
    /// the segment still counts against [`MAX_SEGMENTS_IN_FLIGHT`](crate::fault::MAX_SEGMENTS_IN_FLIGHT)
    /// until its last byte is read.
    #[test]
    fn a_read_leaves_the_unread_rest_of_a_segment_in_flight() {
        let mut link = Link::default();
        link.sent(0, 10);
        link.sent(0, 5);
        link.read(0, 3);
        assert_eq!(link.segments[0], [7, 5]);
        assert_eq!(link.in_flight[0], 12);
        link.read(0, 9);
        assert_eq!(
            link.segments[0],
            [3],
            "the first segment ended, 2 of the second read"
        );
        assert_eq!(link.in_flight[0], 3);
        link.read(0, 3);
        assert!(link.segments[0].is_empty());
        assert_eq!(link.in_flight, [0, 0]);
    }
}
