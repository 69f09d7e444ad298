//! The recording wrappers: [`Recorded`] around a connection notifier, [`RecordedListener`]
//! around a listener notifier (which wraps each accepted connection's notifier in turn). Both
//! wrap the notifier of each connection their notifier dials (`conn.dial`, `listener.dial`),
//! so a dialled connection is recorded like the others, named after its family (`c1~1`).

use super::{Callback, CallbackSink, DataFlow, DataTap, FinalWriteBefore, Name, Payload};
use crate::proto::{
    ConnectFailure, ConnectionStats, DialRequest, TcpConnection, TcpConnectionNotify,
    TcpListenNotify, TcpListener, Unset,
};
use bytes::Bytes;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

/// The connections dialled from one recorded connection or listener and from those it dialled,
/// named `root~1`, `root~2`, ... in the order they were asked for: a client that reconnects
/// over and over gets `c1~1`, `c1~2`, not ever longer names.
#[derive(Debug)]
struct Family {
    root: Name,
    dialled: AtomicUsize,
}

impl Family {
    fn new(root: &Name) -> Arc<Self> {
        Arc::new(Family {
            root: root.clone(),
            dialled: AtomicUsize::new(0),
        })
    }

    fn next_name(&self) -> Name {
        let n = self.dialled.fetch_add(1, Ordering::Relaxed) + 1;
        self.root.numbered('~', n)
    }
}

/// A dial a callback asked for, to announce to the sink once the callback's own line is
/// recorded: `(new connection, host, service)`.
type Announced = (Name, String, String);

/// Wraps the notifier of each request in `requests` in a recorder of `owner`'s `family`
/// (made at the first dial), and returns what to announce: nothing, allocating nothing, when
/// there are no requests.
fn wrap_dials(
    requests: &mut [DialRequest],
    family: &mut Option<Arc<Family>>,
    owner: &Name,
    sink: &Arc<dyn CallbackSink>,
    keep_bytes: bool,
) -> Vec<Announced> {
    if requests.is_empty() {
        return Vec::new();
    }
    let family = family.get_or_insert_with(|| Family::new(owner));
    let mut announced = Vec::with_capacity(requests.len());
    for request in requests {
        let who = family.next_name();
        let inner = std::mem::replace(&mut request.notify, Box::new(Unset));
        request.notify = Box::new(Recorded {
            inner,
            who: who.clone(),
            sink: sink.clone(),
            keep_bytes,
            observing: false,
            family: Some(family.clone()),
            announce: Vec::new(),
            tap: None,
            stats: LastCounters::new(&who, sink),
            final_writes: Vec::new(),
            result_after_deferred: Vec::new(),
        });
        announced.push((who, request.host.clone(), request.service.clone()));
    }
    announced
}

/// The span around one callback recorded as `who` ([`crate::spans::CALLBACK`]): what the
/// notifier logs in it names its connection.
fn callback_span(who: &Name) -> tracing::span::EnteredSpan {
    tracing::info_span!(crate::spans::CALLBACK, who = who.as_str()).entered()
}

/// Wraps a connection notifier and records each callback it gets.
pub struct Recorded<N> {
    inner: N,
    who: Name,
    sink: Arc<dyn CallbackSink>,
    keep_bytes: bool,
    /// Whether the connection reports its dropped writes to the sink yet (from its first
    /// callback that carries it).
    observing: bool,
    /// Names the connections it dials; made at its first dial (most connections dial none),
    /// or given by the connection that dialled it.
    family: Option<Arc<Family>>,
    /// Dials of the running callback, announced after its line.
    announce: Vec<Announced>,
    /// The sink's tap of this connection's data, if it gave one when the connection was
    /// established; otherwise its data goes to the sink's `data`.
    tap: Option<Box<dyn DataTap>>,
    /// The connection's counters as of its last callback that carried it, told to the sink
    /// when the recorder is dropped ([`CallbackSink::counters`]): kept here, a copy of a few
    /// words a callback, where the simulator's sink wrote each callback's counters to a map
    /// (some 130 instructions a callback).
    stats: LastCounters,
    /// What the running callback queued with `write_final`, told to the sink after its line,
    /// each with the result it goes before: that of a `sent` or `sentv` that returned before
    /// it when [`result_after_deferred`](Self::result_after_deferred) held one.
    final_writes: Vec<(Payload, FinalWriteBefore)>,
    /// What `sent` or `sentv` returned while callbacks deferred inside it (Pony nests them:
    /// its `expect` hook, a `throttled` its `write_final` caused) wait to run: the connection
    /// queues it after them, so it flows once the last of them returned, after what they
    /// queued with `write_final`, in stream order.
    result_after_deferred: Vec<Bytes>,
}

impl<N> Recorded<N> {
    /// Records `inner`'s callbacks under the name `who` (a `&str`, a `String` or a [`Name`]),
    /// keeping the data they carry whole.
    pub fn new(inner: N, who: impl Into<Name>, sink: Arc<dyn CallbackSink>) -> Self {
        let who = who.into();
        Recorded {
            inner,
            family: None,
            stats: LastCounters::new(&who, &sink),
            who,
            sink,
            keep_bytes: true,
            observing: false,
            announce: Vec::new(),
            tap: None,
            final_writes: Vec::new(),
            result_after_deferred: Vec::new(),
        }
    }

    /// Whether to keep whole data (the default) or only counts and previews (cheaper for
    /// large transfers).
    pub fn keeping_payloads(mut self, keep: bool) -> Self {
        self.keep_bytes = keep;
        self
    }

    /// The payload of a delivery, copied when kept: `received` takes the data itself.
    fn payload(&self, data: &[u8]) -> Payload {
        if self.keep_bytes {
            Payload::of(data)
        } else {
            Payload::summary(data)
        }
    }

    /// The payload of a write's data or of what `sent` returned. When kept, a `Bytes` shared
    /// already (one buffer written many times) is shared again, with no copy; one the write
    /// alone holds is copied, as a delivery is: sharing it would keep the whole buffer behind
    /// it for the trace's life (an echo writes back its 16 KiB read buffer holding perhaps a
    /// few bytes), and would stop the connection reading into it once written.
    fn write_payload(&self, data: &Bytes) -> Payload {
        if self.keep_bytes && !data.is_unique() {
            Payload::shared(data.clone())
        } else {
            self.payload(data)
        }
    }

    /// The payload of what a transform returned, given its input's: most notifiers return
    /// what they were given, whose kept bytes are then shared rather than kept again. (Compared
    /// by content: a buffer `sent` dropped may be where the one it returned was allocated.)
    fn result_payload(&self, given: Option<&Payload>, result: &Bytes) -> Payload {
        match given {
            Some(given) if given.bytes() == Some(&result[..]) => given.clone(),
            _ => self.write_payload(result),
        }
    }

    /// Records the callback that just ran, then the connections it dialled (most dial none).
    fn log(&mut self, conn: Option<&TcpConnection>, callback: Callback) {
        if let Some(conn) = conn {
            self.stats.stats = Some(conn.stats());
        }
        self.sink.record(&self.who, conn, callback);
        for (data, before) in self.final_writes.drain(..) {
            (self.sink).final_written(&self.who, &data, before);
        }
        if !self.announce.is_empty() {
            announce(&*self.sink, &self.who, self.announce.drain(..));
        }
    }

    /// Runs one callback of the inner notifier, announced to the sink; the connections it
    /// dials are recorded too.
    fn call<R>(
        &mut self,
        conn: &mut TcpConnection,
        callback: impl FnOnce(&mut N, &mut TcpConnection) -> R,
    ) -> R {
        let before = conn.dials().len();
        let result = announced(&*self.sink, &self.who, &mut self.inner, |n| {
            callback(n, conn)
        });
        let requests = conn.dials().since(before);
        // Most callbacks dial nothing: then there is nothing to wrap or announce (moving an
        // empty list into `announce` still cost some 45 instructions a callback).
        if !requests.is_empty() {
            let dialled = wrap_dials(
                requests,
                &mut self.family,
                &self.who,
                &self.sink,
                self.keep_bytes,
            );
            self.announce.extend(dialled);
        }
        // Queued in the stream as the callback ran, before anything it returns: they flow
        // now, before `sent`'s result does, also that of a `sent` this callback was deferred
        // from.
        let before = match self.result_after_deferred.is_empty() {
            true => FinalWriteBefore::OwnResult,
            false => FinalWriteBefore::SentResult,
        };
        for data in conn.recorded_final_writes.take() {
            self.flow(conn, DataFlow::Queued(&data));
            let payload = self.write_payload(&data);
            self.final_writes.push((payload, before));
        }
        if !self.result_after_deferred.is_empty() && conn.deferred.is_empty() {
            // The last callback deferred inside `sent` returned: its result is queued next.
            for data in std::mem::take(&mut self.result_after_deferred) {
                self.flow(conn, DataFlow::Queued(&data));
            }
        }
        result
    }

    /// Flows what `sent` or `sentv` returned, now, or once the callbacks deferred inside it
    /// ran, which the connection runs before it queues the result.
    fn flow_result<'a>(
        &mut self,
        conn: &TcpConnection,
        result: impl IntoIterator<Item = &'a Bytes>,
    ) {
        for data in result {
            match conn.deferred.is_empty() {
                true => self.flow(conn, DataFlow::Queued(data)),
                false => self.result_after_deferred.push(data.clone()),
            }
        }
    }

    /// The connection is established: asks the sink for a tap of its data, before any flows.
    fn established(&mut self, conn: &TcpConnection) {
        self.tap = self.sink.tap(&self.who, conn);
    }

    /// Hands data flowing through `conn` to the tap, or else to the sink.
    fn flow(&mut self, conn: &TcpConnection, flow: DataFlow<'_>) {
        match &mut self.tap {
            Some(tap) => tap.data(flow),
            None => self.sink.data(&self.who, conn, flow),
        }
    }

    /// From the connection's first callback on, its dropped writes (W1) and its mutes and
    /// unmutes (R5) go to the sink too.
    fn observe(&mut self, conn: &mut TcpConnection) {
        if self.observing {
            return;
        }
        self.observing = true;
        conn.recorded_final_writes.keep();
        // Weak references: the connection keeps its observers, and a sink may (through its
        // run's state) reach the connection again; a strong one closed that cycle and leaked
        // every simulated run whole. A fact after the sink is gone has no one to tell.
        let (who, sink) = (self.who.clone(), Arc::downgrade(&self.sink));
        conn.on_write_dropped(move |dropped| {
            if let Some(sink) = sink.upgrade() {
                sink.write_dropped(&who, dropped);
            }
        });
        let (who, sink) = (self.who.clone(), Arc::downgrade(&self.sink));
        conn.on_mute_changed(move |muting| {
            if let Some(sink) = sink.upgrade() {
                sink.mute_changed(&who, *muting);
            }
        });
    }
}

/// A connection's counters as of its last callback that carried them, told to the sink when
/// dropped. A field of its own rather than a `Drop` of [`Recorded`], so that a swap can move
/// the recorded notifier out of its recorder (`replaced_by`).
struct LastCounters {
    who: Name,
    sink: Arc<dyn CallbackSink>,
    stats: Option<ConnectionStats>,
}

impl LastCounters {
    fn new(who: &Name, sink: &Arc<dyn CallbackSink>) -> Self {
        LastCounters {
            who: who.clone(),
            sink: sink.clone(),
            stats: None,
        }
    }
}

impl Drop for LastCounters {
    /// Tells the sink the connection's last counters, if a callback carried them.
    fn drop(&mut self) {
        if let Some(stats) = self.stats {
            self.sink.counters(&self.who, stats);
        }
    }
}

impl<N: TcpConnectionNotify> TcpConnectionNotify for Recorded<N> {
    fn accepted(&mut self, conn: &mut TcpConnection) {
        self.observe(conn);
        self.established(conn);
        self.call(conn, |n, conn| n.accepted(conn));
        self.log(Some(conn), Callback::Accepted);
    }
    fn proxy_via(&mut self, host: &str, service: &str) -> (String, String) {
        let target = announced(&*self.sink, &self.who, &mut self.inner, |n| {
            n.proxy_via(host, service)
        });
        // Most notifiers return what they were asked: the names are shared then, not copied.
        let (host, service) = (self.sink.name(host), self.sink.name(service));
        let same_or_new = |asked: &Name, returned: &str| match *asked == *returned {
            true => asked.clone(),
            false => self.sink.name(returned),
        };
        let returned = (
            same_or_new(&host, &target.0),
            same_or_new(&service, &target.1),
        );
        self.log(
            None,
            Callback::ProxyVia {
                host,
                service,
                target: returned,
            },
        );
        target
    }
    fn connecting(&mut self, conn: &mut TcpConnection, count: u32) {
        self.observe(conn);
        self.call(conn, |n, conn| n.connecting(conn, count));
        self.log(Some(conn), Callback::Connecting(count));
    }
    fn connected(&mut self, conn: &mut TcpConnection) {
        self.observe(conn);
        self.established(conn);
        self.call(conn, |n, conn| n.connected(conn));
        self.log(Some(conn), Callback::Connected);
    }
    fn connect_failed(&mut self, conn: &mut TcpConnection, reason: ConnectFailure) {
        self.observe(conn);
        self.call(conn, |n, conn| n.connect_failed(conn, reason));
        self.log(Some(conn), Callback::ConnectFailed(reason));
    }
    fn auth_failed(&mut self, conn: &mut TcpConnection) {
        self.call(conn, |n, conn| n.auth_failed(conn));
        self.log(Some(conn), Callback::AuthFailed);
    }
    fn sent(&mut self, conn: &mut TcpConnection, data: Bytes) -> Bytes {
        let before = self.write_payload(&data);
        let result = self.call(conn, |n, conn| n.sent(conn, data));
        self.flow_result(conn, [&result]);
        let after = self.result_payload(Some(&before), &result);
        self.log(
            Some(conn),
            Callback::Sent {
                data: before,
                result: after,
            },
        );
        result
    }
    fn sentv(&mut self, conn: &mut TcpConnection, chunks: Vec<Bytes>) -> Vec<Bytes> {
        let data: Vec<Payload> = chunks.iter().map(|c| self.write_payload(c)).collect();
        let result = self.call(conn, |n, conn| n.sentv(conn, chunks));
        self.flow_result(conn, &result);
        let result_payloads = (result.iter().enumerate())
            .map(|(i, chunk)| self.result_payload(data.get(i), chunk))
            .collect();
        self.log(
            Some(conn),
            Callback::Sentv {
                data,
                result: result_payloads,
            },
        );
        result
    }
    fn received(&mut self, conn: &mut TcpConnection, data: Vec<u8>, times: usize) -> bool {
        let payload = self.payload(&data);
        self.flow(conn, DataFlow::Delivered(&data));
        let result = self.call(conn, |n, conn| n.received(conn, data, times));
        self.log(
            Some(conn),
            Callback::Received {
                data: payload,
                times,
                result,
            },
        );
        result
    }
    fn expect(&mut self, conn: &mut TcpConnection, qty: usize) -> usize {
        let result = self.call(conn, |n, conn| n.expect(conn, qty));
        self.log(Some(conn), Callback::Expect { qty, result });
        result
    }
    fn closed(&mut self, conn: &mut TcpConnection) {
        self.call(conn, |n, conn| n.closed(conn));
        self.log(Some(conn), Callback::Closed);
    }
    fn throttled(&mut self, conn: &mut TcpConnection) {
        self.call(conn, |n, conn| n.throttled(conn));
        self.log(Some(conn), Callback::Throttled);
    }
    fn unthrottled(&mut self, conn: &mut TcpConnection) {
        self.call(conn, |n, conn| n.unthrottled(conn));
        self.log(Some(conn), Callback::Unthrottled);
    }
    /// Records `next` from now on, under the same name, with the same tap: a swapped-in
    /// notifier's callbacks and data are the connection's as much as the first one's (the
    /// stream check would otherwise see bytes arrive that no `sent` queued, and the run a
    /// connection that never closes).
    ///
    /// The recorded notifier decides what replaces it, as it would unrecorded: `next` (the
    /// default), or itself around `next` (a wrapper that outlives the swap).
    fn replaced_by(
        self: Box<Self>,
        next: Box<dyn TcpConnectionNotify>,
    ) -> Box<dyn TcpConnectionNotify> {
        let Recorded {
            inner,
            who,
            sink,
            keep_bytes,
            observing,
            family,
            announce,
            tap,
            stats,
            final_writes,
            result_after_deferred,
        } = *self;
        Box::new(Recorded {
            inner: Box::new(inner).replaced_by(next),
            who,
            sink,
            keep_bytes,
            observing,
            family,
            announce,
            tap,
            // Told by the new recorder when it goes.
            stats,
            final_writes,
            result_after_deferred,
        })
    }
}

/// Wraps a listener notifier and records each callback it gets; accepted connections'
/// notifiers are wrapped too, named `who` plus `.` and a running number from 1.
pub struct RecordedListener<N> {
    inner: N,
    who: Name,
    sink: Arc<dyn CallbackSink>,
    accepted: usize,
    keep_bytes: bool,
    /// Names the connections it dials; made at its first dial.
    family: Option<Arc<Family>>,
}

impl<N> RecordedListener<N> {
    /// Records `inner`'s callbacks under the name `who` (a `&str`, a `String` or a [`Name`]).
    pub fn new(inner: N, who: impl Into<Name>, sink: Arc<dyn CallbackSink>) -> Self {
        RecordedListener {
            inner,
            family: None,
            who: who.into(),
            sink,
            accepted: 0,
            keep_bytes: true,
        }
    }

    /// Whether accepted connections keep whole data (the default) or only counts and
    /// previews.
    pub fn keeping_payloads(mut self, keep: bool) -> Self {
        self.keep_bytes = keep;
        self
    }
}

impl<N> RecordedListener<N> {
    /// Runs one callback of the inner notifier, announced to the sink; returns its result and
    /// the connections it dialled, wrapped in recorders, for [`announce`](Self::announce).
    fn call<R>(
        &mut self,
        listener: &mut TcpListener,
        callback: impl FnOnce(&mut N, &mut TcpListener) -> R,
    ) -> (R, Vec<Announced>) {
        let before = listener.dials().len();
        let result = announced(&*self.sink, &self.who, &mut self.inner, |n| {
            callback(n, listener)
        });
        let requests = listener.dials().since(before);
        let dialled = wrap_dials(
            requests,
            &mut self.family,
            &self.who,
            &self.sink,
            self.keep_bytes,
        );
        (result, dialled)
    }

    /// Tells the sink of the connections a callback dialled, after the callback's own line.
    fn announce(&self, dialled: Vec<Announced>) {
        announce(&*self.sink, &self.who, dialled);
    }
}

/// Tells `sink` of the connections `owner` dialled (after its callback's own line).
fn announce(sink: &dyn CallbackSink, owner: &Name, dialled: impl IntoIterator<Item = Announced>) {
    for (who, host, service) in dialled {
        sink.dialled(owner, &who, &host, &service);
    }
}

/// Runs `callback` on `inner`, the notifier of `who`, between the sink's `enter` and `exit`.
fn announced<N, R>(
    sink: &dyn CallbackSink,
    who: &Name,
    inner: &mut N,
    callback: impl FnOnce(&mut N) -> R,
) -> R {
    // `tracing` events the callback logs belong to `who` (the simulator stamps them with it).
    let _span = callback_span(who);
    sink.enter(who);
    let result = callback(inner);
    sink.exit(who);
    result
}

impl<N: TcpListenNotify> TcpListenNotify for RecordedListener<N> {
    fn listening(&mut self, listener: &mut TcpListener) {
        self.sink.record(
            &self.who,
            None,
            Callback::Listening(listener.local_address()),
        );
        let ((), dialled) = self.call(listener, |n, l| n.listening(l));
        self.announce(dialled);
    }
    fn not_listening(&mut self, listener: &mut TcpListener) {
        self.sink.record(&self.who, None, Callback::NotListening);
        let ((), dialled) = self.call(listener, |n, l| n.not_listening(l));
        self.announce(dialled);
    }
    fn connected(&mut self, listener: &mut TcpListener) -> Option<Box<dyn TcpConnectionNotify>> {
        let (notify, dialled) = self.call(listener, |n, l| n.connected(l));
        self.sink.record(
            &self.who,
            None,
            Callback::ListenerConnected {
                accepted: notify.is_some(),
            },
        );
        self.announce(dialled);
        notify.map(|inner| {
            self.accepted += 1;
            let who = self.who.numbered('.', self.accepted);
            Box::new(Recorded::new(inner, who, self.sink.clone()).keeping_payloads(self.keep_bytes))
                as Box<dyn TcpConnectionNotify>
        })
    }
    fn closed(&mut self, listener: &mut TcpListener) {
        self.sink.record(&self.who, None, Callback::ListenerClosed);
        let ((), dialled) = self.call(listener, |n, l| n.closed(l));
        self.announce(dialled);
    }
}
