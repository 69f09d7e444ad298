//! A record gateway that takes `sent` on its onward connection for delivery. A client sends
//! numbered records one at a time to a gateway beside the server (a sidecar proxy on the
//! server's host that knows the records), the next once the server acknowledged the last; the
//! gateway's accepted connection dials the server and forwards each record onward, relaying
//! acknowledgements back. Every connection to the server opens with the server's count of
//! stored records; the gateway holds the records it forwarded until a count covers them and,
//! when its onward connection is lost, dials again and resends those the new connection's
//! count does not cover. The bug: the gateway drops a record from what it holds in its onward
//! connection's `sent`, as if `sent` meant delivered (the contract's `sent` is a transform,
//! not a completion): a record lost in flight with the onward connection is gone, the
//! server's count never passes it, and the client waits for its acknowledgement forever
//! (`finished`: the run ends with its connection open). The fix drops a record once the
//! server's count covers it.
//!
//! Only a loss of the onward connection between the gateway's write and the server's read of
//! a record shows it: a lost client connection tears the gateway's relay down and the client
//! resends; a server's connection lost after one of its events (its count, a read, an
//! acknowledgement) has nothing in flight towards it, as the client sends a record only once
//! the last was acknowledged and the gateway forwards it only once that connection counted;
//! and a crash of the host takes the gateway with the server. Until the sixteenth session the
//! swarm never reset a proxy's onward connection (`gateway.1~1`) and missed it (a false green:
//! 2,000 seeds); it now resets the connections each listener's first accepted connection
//! dials after one of their first `sent` or `received`, and catches it. One reset written by
//! hand catches it too. (With the gateway on a host of its own, a crash of the server behind
//! a partition between the two hosts also showed it, in 3 of 2,000 seeds.)

use crate::support::{
    assert_caught, assert_fix_passes_many, assert_plan_catches, reset_after, store_record, Records,
};
use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard};
use tcpnotify::{Bytes, ConnectFailure, ConnectionHandle, TcpConnection, TcpConnectionNotify};
use tcpnotify_sim::fault::FaultPlan;
use tcpnotify_sim::notifiers::pattern;
use tcpnotify_sim::{factory, run_passing, run_state, Scenario, Seed};

/// A record's payload.
const RECORD: usize = 512;
const RECORDS: u64 = 24;
/// A record on the wire: its number (8 bytes, big-endian), then its payload.
const FRAME: usize = 8 + RECORD;
/// The server's count of stored records: 8 bytes, big-endian.
const COUNT: usize = 8;
/// A bound on the redials of a run that keeps failing, far above what any drawn fault takes
/// to heal.
const MAX_REDIALS: u32 = 10_000;

/// Record `n` as it is written.
fn frame(n: u64) -> Vec<u8> {
    let from = n as usize * RECORD;
    let mut frame = n.to_be_bytes().to_vec();
    frame.extend_from_slice(&pattern(0, from + RECORD)[from..]);
    frame
}

/// A record's number, or a count, from the 8 bytes that open it.
fn number(data: &[u8]) -> u64 {
    u64::from_be_bytes(
        data.get(..8)
            .and_then(|b| b.try_into().ok())
            .unwrap_or_default(),
    )
}

/// The client's memory, kept across its connections.
#[derive(Debug, Default)]
struct Outbox {
    /// The record sent and not yet acknowledged.
    unacked: Option<u64>,
    /// The next record never sent.
    next: u64,
    /// The server counted every record.
    done: bool,
    redials: u32,
}

/// Sends a record once the last was acknowledged; a lost connection is dialled again and
/// resends the unacknowledged record first.
struct Client;

impl Client {
    fn send(outbox: &mut Outbox, conn: &mut TcpConnection) {
        if outbox.unacked.is_none() && outbox.next < RECORDS {
            outbox.unacked = Some(outbox.next);
            outbox.next += 1;
        }
        if let Some(n) = outbox.unacked {
            conn.write(frame(n));
        }
    }

    fn redial(conn: &mut TcpConnection) {
        let Some(outbox) = run_state::<Outbox>() else {
            return;
        };
        let mut outbox = outbox.lock();
        if outbox.done || outbox.redials >= MAX_REDIALS {
            return;
        }
        outbox.redials += 1;
        conn.dial(Client, "server", "7001");
    }
}

impl TcpConnectionNotify for Client {
    fn connected(&mut self, conn: &mut TcpConnection) {
        let _ = conn.expect(COUNT);
        if let Some(outbox) = run_state::<Outbox>() {
            Self::send(&mut outbox.lock(), conn);
        }
    }
    fn received(&mut self, conn: &mut TcpConnection, data: Vec<u8>, _times: usize) -> bool {
        let count = number(&data);
        let Some(outbox) = run_state::<Outbox>() else {
            return true;
        };
        let mut outbox = outbox.lock();
        if outbox.unacked.is_some_and(|n| n < count) {
            outbox.unacked = None;
            match count >= RECORDS {
                true => {
                    outbox.done = true;
                    conn.close();
                }
                false => Self::send(&mut outbox, conn),
            }
        }
        true
    }
    fn closed(&mut self, conn: &mut TcpConnection) {
        Self::redial(conn);
    }
    fn connect_failed(&mut self, conn: &mut TcpConnection, _reason: ConnectFailure) {
        Self::redial(conn);
    }
}

/// How many records the server stored.
fn stored() -> u64 {
    run_state::<Records>().map_or(0, |r| r.lock().stored)
}

/// Opens each connection with its count of stored records, then stores each record in order
/// and answers with the count; a record it already has is counted again, not stored twice.
struct Server;

impl TcpConnectionNotify for Server {
    fn accepted(&mut self, conn: &mut TcpConnection) {
        let _ = conn.expect(FRAME);
        conn.write(stored().to_be_bytes().to_vec());
    }
    fn received(&mut self, conn: &mut TcpConnection, data: Vec<u8>, _times: usize) -> bool {
        let n = number(&data);
        let stored = store_record(n, data == frame(n));
        conn.write(stored.to_be_bytes().to_vec());
        true
    }
    fn connect_failed(&mut self, _conn: &mut TcpConnection, _reason: ConnectFailure) {}
}

/// What a client's connection to the gateway and its onward connections share.
#[derive(Default)]
struct Relay {
    /// Records the client sent that the server has not counted, oldest first.
    held: VecDeque<u64>,
    /// The onward connection once it is connected.
    onward: Option<ConnectionHandle>,
    /// The server's first count arrived on it: records go onward as they come.
    open: bool,
    /// The highest count relayed to the client: a connection's first count is relayed only
    /// if it says more (an acknowledgement lost with the last connection).
    relayed: u64,
    /// The client's connection ended: nothing more is dialled.
    front_closed: bool,
    redials: u32,
}

type Shared = Arc<Mutex<Relay>>;

fn lock(relay: &Shared) -> MutexGuard<'_, Relay> {
    relay.lock().unwrap_or_else(|e| e.into_inner())
}

/// The gateway's accepted connection: dials the server, forwards each record onward.
struct Front {
    relay: Shared,
    /// Whether the onward connection drops a record at its `sent` (the bug).
    sent_as_delivered: bool,
}

impl Front {
    fn new(sent_as_delivered: bool) -> Self {
        Front {
            relay: Shared::default(),
            sent_as_delivered,
        }
    }
}

impl TcpConnectionNotify for Front {
    fn accepted(&mut self, conn: &mut TcpConnection) {
        let _ = conn.expect(FRAME);
        let onward = Onward {
            relay: self.relay.clone(),
            front: conn.handle(),
            sent_as_delivered: self.sent_as_delivered,
        };
        conn.dial(onward, "server", "7000");
    }
    fn received(&mut self, _conn: &mut TcpConnection, data: Vec<u8>, _times: usize) -> bool {
        let mut relay = lock(&self.relay);
        relay.held.push_back(number(&data));
        if let (Some(onward), true) = (&relay.onward, relay.open) {
            onward.write(data);
        }
        true
    }
    fn closed(&mut self, _conn: &mut TcpConnection) {
        let mut relay = lock(&self.relay);
        relay.front_closed = true;
        if let Some(onward) = relay.onward.take() {
            onward.dispose();
        }
    }
    fn connect_failed(&mut self, _conn: &mut TcpConnection, _reason: ConnectFailure) {}
}

/// The gateway's onward connection: its first count says what the server has, and the
/// records held past it are resent; each later count is relayed to the client.
struct Onward {
    relay: Shared,
    front: ConnectionHandle,
    sent_as_delivered: bool,
}

impl Onward {
    /// Dials the next onward connection unless the client's connection ended.
    fn redial(&self, conn: &mut TcpConnection) {
        let mut relay = lock(&self.relay);
        relay.onward = None;
        relay.open = false;
        if relay.front_closed {
            return;
        }
        if relay.redials >= MAX_REDIALS {
            self.front.dispose();
            return;
        }
        relay.redials += 1;
        let again = Onward {
            relay: self.relay.clone(),
            front: self.front.clone(),
            sent_as_delivered: self.sent_as_delivered,
        };
        conn.dial(again, "server", "7000");
    }
}

impl TcpConnectionNotify for Onward {
    fn connected(&mut self, conn: &mut TcpConnection) {
        let _ = conn.expect(COUNT);
        let mut relay = lock(&self.relay);
        match relay.front_closed {
            true => conn.dispose(),
            false => relay.onward = Some(conn.handle()),
        }
    }
    fn received(&mut self, conn: &mut TcpConnection, data: Vec<u8>, _times: usize) -> bool {
        let count = number(&data);
        let mut relay = lock(&self.relay);
        relay.held.retain(|n| *n >= count);
        if !relay.open {
            relay.open = true;
            for n in &relay.held {
                conn.write(frame(*n));
            }
        }
        if count > relay.relayed {
            relay.relayed = count;
            self.front.write(data);
        }
        true
    }
    fn sent(&mut self, _conn: &mut TcpConnection, data: Bytes) -> Bytes {
        if self.sent_as_delivered {
            // The bug: handed to the connection is not received by the server.
            let n = number(&data);
            lock(&self.relay).held.retain(|held| *held != n);
        }
        data
    }
    fn closed(&mut self, conn: &mut TcpConnection) {
        self.redial(conn);
    }
    fn connect_failed(&mut self, conn: &mut TcpConnection, _reason: ConnectFailure) {
        self.redial(conn);
    }
}

fn gateway(sent_as_delivered: bool) -> Scenario {
    Scenario::new("gateway-sent-as-delivered")
        .listener("server", "server", 7000, factory(|| Server))
        .listener(
            "gateway",
            "server",
            7001,
            factory(move || Front::new(sent_as_delivered)),
        )
        .client("c1", "client", "server", 7001, factory(|| Client))
        .duration_ms(5000)
}

/// The bug hides on a quiet network, and behind the losses of every connection but the
/// onward one: a client's connection, the server's, before and after records.
#[test]
fn gateway_sent_as_delivered_survives_the_losses_the_swarm_drew_before() {
    run_passing(&gateway(true).plan(FaultPlan::quiet(Seed(1))), Seed(1));
    let mut plan = FaultPlan::quiet(Seed(1));
    plan.faults = vec![
        reset_after("c1", "received", 3),
        reset_after("c1~1", "sent", 2),
        reset_after("server.1", "received", 2),
        reset_after("server.2", "sent", 1),
    ];
    run_passing(&gateway(true).plan(plan), Seed(1));
}

/// The onward connection lost as the gateway forwards a record, before the server read it:
/// the buggy gateway no longer holds it; the fixed one resends it on its next connection.
#[test]
fn gateway_sent_as_delivered_is_caught_by_a_reset_of_the_onward_connection_by_hand() {
    let mut plan = FaultPlan::quiet(Seed(1));
    plan.faults = vec![reset_after("gateway.1~1", "sent", 3)];
    assert_plan_catches(&gateway(true), &gateway(false), &plan, "finished");
}

/// The swarm with no settings catches it with a reset of the onward connection timed by its
/// `sent`: first at seed 2, shrunk to that one reset (after `gateway.1~1`'s 1st `sent`).
#[test]
fn gateway_sent_as_delivered_is_caught_by_the_swarm() {
    assert_caught(&gateway(true), "finished");
}

/// The fixed gateway passes the swarm (`TCPNOTIFY_SEEDS` sweeps more).
#[test]
fn gateway_sent_as_delivered_fixed_passes_many_seeds() {
    assert_fix_passes_many(gateway(false));
}
