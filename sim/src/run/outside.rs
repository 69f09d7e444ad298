//! Hosts with an address but no place in turmoil, and what a SYN sent to one meets.
//!
//! turmoil links every pair of the hosts it runs and scans every link for each host it steps
//! (issue 12), so a run leaves out of turmoil the hosts that run nothing (`runner.rs`). Such a
//! host still has its address, and a connect to it must end as it would with the host in
//! turmoil:
//! - a host no client dials is **silent**: a SYN to it is lost, and the connect waits until
//!   its caller gives up (the fault layer's connect timeout), as to a host whose software
//!   ended;
//! - a host a client dials **refuses**: it is up with no listener, so the connect fails as
//!   refused, at the simulated moment and in the order turmoil would refuse it.
//!
//! How turmoil refuses (0.7.2): the connect takes an ephemeral port on its host and sends the
//! SYN on the link, to be delivered once the link's latency has passed; at the first step the
//! SYN is due, turmoil's step delivers it as it comes to the destination host among the hosts
//! it runs, and a host with nothing bound to the port drops it, which drops the sender of the
//! connect's one-shot answer: the connect's task is woken and fails with `ConnectionRefused`
//! the next time its host runs, one step later. No RST travels back. A destination that is
//! crashed is not stepped, so its SYNs wait until it is restarted and are refused in the first
//! step after that; one never restarted never answers.
//!
//! [`OutsideHosts`] keeps that: each SYN to a refusing host is recorded as it is sent
//! ([`OutsideHosts::send_syn`]); after every step the run loop tells it the step's link
//! latencies ([`OutsideHosts::after_step`]), which fix when each new SYN is due, and it
//! refuses those due whose host is up, by dropping the sender of a tokio one-shot whose
//! receiver the connect awaits, as turmoil's connect awaits its own. The order of those drops
//! is turmoil's order of delivery (destination, then sender, in the order of the hosts; then
//! when due, then as sent), which is the order the woken tasks run in. Every host that runs
//! something comes before every host left out in the order of the hosts (`runner.rs`), so
//! turmoil's refusals in a step came after every other host had run in it: waking them between
//! steps is the same.

use rustc_hash::{FxHashMap, FxHashSet};
use std::net::IpAddr;
use std::sync::{Mutex, MutexGuard};
use tokio::sync::oneshot;

/// What answers a SYN sent to a host left out of turmoil.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Answer {
    /// Nothing: no client dials the host, so the SYN is lost.
    Silent,
    /// A refusal, as from a host that is up with nothing listening.
    Refusal,
}

/// The hosts of a run that turmoil does not run, and the SYNs on their way to those that
/// refuse.
#[derive(Default)]
pub(crate) struct OutsideHosts {
    /// Every host's place in the order of the hosts (the order turmoil registers them in).
    places: FxHashMap<IpAddr, usize>,
    /// Each host left out, with how it answers.
    answers: FxHashMap<IpAddr, Answer>,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    /// SYNs sent during the step now running: when each is due is known after it.
    sent: Vec<Syn>,
    /// SYNs sent before, each with the step it is due at.
    in_flight: Vec<(u64, Syn)>,
    /// Refusing hosts that are crashed: their SYNs wait.
    down: FxHashSet<IpAddr>,
    /// How many SYNs were sent: the order they went in.
    count: u64,
}

struct Syn {
    from: IpAddr,
    to: IpAddr,
    number: u64,
    /// Dropped to refuse: the connect awaiting its receiver fails.
    answer: oneshot::Sender<()>,
}

impl OutsideHosts {
    /// The hosts at `in_order`, in the order of the hosts; of them, those in `left_out` are
    /// not in turmoil and answer as given.
    pub(crate) fn new(
        in_order: impl IntoIterator<Item = IpAddr>,
        left_out: impl IntoIterator<Item = (IpAddr, Answer)>,
    ) -> Self {
        OutsideHosts {
            places: (in_order.into_iter().enumerate())
                .map(|(i, ip)| (ip, i))
                .collect(),
            answers: left_out.into_iter().collect(),
            state: Mutex::default(),
        }
    }

    /// How the host at `ip` answers if it is left out of turmoil; `None` if turmoil runs it.
    pub(crate) fn answer(&self, ip: IpAddr) -> Option<Answer> {
        self.answers.get(&ip).copied()
    }

    /// A SYN from `from` to the refusing host `to` leaves in the step now running; the
    /// receiver fails (its sender dropped) when the host refuses it.
    pub(crate) fn send_syn(&self, from: IpAddr, to: IpAddr) -> oneshot::Receiver<()> {
        let (answer, refused) = oneshot::channel();
        let mut state = self.lock();
        let number = state.count;
        state.count += 1;
        state.sent.push(Syn {
            from,
            to,
            number,
            answer,
        });
        refused
    }

    /// The host at `ip` crashed: SYNs to it wait, until it restarts, in the step they are due.
    pub(crate) fn crashed(&self, ip: IpAddr) {
        if self.answers.contains_key(&ip) {
            self.lock().down.insert(ip);
        }
    }

    /// The host at `ip` runs again: the SYNs due to it are refused at the end of the next step.
    pub(crate) fn restarted(&self, ip: IpAddr) {
        self.lock().down.remove(&ip);
    }

    /// The step that started at `step_ms` is over; `latency_ms` gives each link's latency in
    /// it. The SYNs sent in it are due `latency_ms` steps later; those due by this step whose
    /// host is up are refused now, in turmoil's order of delivery.
    pub(crate) fn after_step(&self, step_ms: u64, latency_ms: impl Fn(IpAddr, IpAddr) -> u64) {
        // Dropped with nothing locked: each wakes the task that awaits it.
        for syn in self.take_refused(step_ms, latency_ms) {
            drop(syn.answer);
        }
    }

    /// What [`after_step`](Self::after_step) refuses, in the order it refuses them.
    fn take_refused(&self, step_ms: u64, latency_ms: impl Fn(IpAddr, IpAddr) -> u64) -> Vec<Syn> {
        let mut state = self.lock();
        if state.sent.is_empty() && state.in_flight.is_empty() {
            return Vec::new();
        }
        let sent = std::mem::take(&mut state.sent);
        for syn in sent {
            let due = step_ms.saturating_add(latency_ms(syn.from, syn.to));
            state.in_flight.push((due, syn));
        }
        let State {
            in_flight, down, ..
        } = &mut *state;
        let is_refused = |(due, syn): &(u64, Syn)| *due <= step_ms && !down.contains(&syn.to);
        // Most steps refuse nothing: the SYNs stay where they are.
        if !in_flight.iter().any(is_refused) {
            return Vec::new();
        }
        let (mut refused, waiting): (Vec<_>, Vec<_>) =
            std::mem::take(in_flight).into_iter().partition(is_refused);
        *in_flight = waiting;
        refused
            .sort_by_key(|(due, syn)| (self.place(syn.to), self.place(syn.from), *due, syn.number));
        refused.into_iter().map(|(_, syn)| syn).collect()
    }

    fn place(&self, ip: IpAddr) -> usize {
        self.places.get(&ip).copied().unwrap_or(usize::MAX)
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // Lists each change leaves whole, after any panic.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;

    fn ip(last: u8) -> IpAddr {
        IpAddr::V4(Ipv4Addr::new(192, 168, 0, last))
    }

    /// Hosts .1 to .4 in that order; .3 and .4 left out and refusing.
    fn hosts() -> OutsideHosts {
        OutsideHosts::new(
            (1..=4).map(ip),
            [(ip(3), Answer::Refusal), (ip(4), Answer::Refusal)],
        )
    }

    fn is_refused(rx: &mut oneshot::Receiver<()>) -> bool {
        matches!(rx.try_recv(), Err(oneshot::error::TryRecvError::Closed))
    }

    #[test]
    fn a_syn_is_refused_after_the_step_it_is_due_in() {
        let hosts = hosts();
        let mut rx = hosts.send_syn(ip(1), ip(3));
        hosts.after_step(10, |_, _| 2);
        assert!(!is_refused(&mut rx), "sent at 10, due at 12");
        hosts.after_step(11, |_, _| 9);
        assert!(!is_refused(&mut rx), "its latency was fixed as it was sent");
        hosts.after_step(12, |_, _| 9);
        assert!(is_refused(&mut rx));
    }

    #[test]
    fn a_syn_with_no_latency_is_refused_after_the_step_it_was_sent_in() {
        let hosts = hosts();
        let mut rx = hosts.send_syn(ip(1), ip(3));
        hosts.after_step(0, |_, _| 0);
        assert!(is_refused(&mut rx));
    }

    #[test]
    fn a_syn_to_a_crashed_host_waits_for_its_restart() {
        let hosts = hosts();
        let mut rx = hosts.send_syn(ip(1), ip(3));
        hosts.crashed(ip(3));
        for step in 0..5 {
            hosts.after_step(step, |_, _| 1);
        }
        assert!(
            !is_refused(&mut rx),
            "never delivered while the host is down"
        );
        hosts.restarted(ip(3));
        hosts.after_step(5, |_, _| 1);
        assert!(
            is_refused(&mut rx),
            "refused in the first step after the restart"
        );
    }

    #[test]
    fn refusals_come_in_the_order_of_the_hosts_then_when_due_then_as_sent() {
        let hosts = hosts();
        let _rxs = [
            hosts.send_syn(ip(2), ip(4)),
            hosts.send_syn(ip(2), ip(3)),
            hosts.send_syn(ip(1), ip(4)),
            hosts.send_syn(ip(1), ip(4)),
        ];
        let latency = |_: IpAddr, _: IpAddr| 0;
        let first = hosts.take_refused(0, latency);
        let numbers = |syns: Vec<Syn>| syns.iter().map(|s| s.number).collect::<Vec<_>>();
        // To .3 first (from .2), then to .4: from .1 (as sent), then from .2.
        assert_eq!(numbers(first), vec![1, 2, 3, 0]);
        hosts.crashed(ip(4));
        let _later = [hosts.send_syn(ip(1), ip(4)), hosts.send_syn(ip(1), ip(4))];
        assert!(hosts.take_refused(1, |_, _| 3).is_empty());
        let _last = hosts.send_syn(ip(1), ip(4));
        assert!(
            hosts.take_refused(2, |_, _| 0).is_empty(),
            "its host is down"
        );
        hosts.restarted(ip(4));
        // Due at 4, 4 and 2: the one due first comes first, though sent last.
        assert_eq!(numbers(hosts.take_refused(5, |_, _| 0)), vec![6, 4, 5]);
    }
}
