//! Each link's latency, drawn per millisecond from a random stream of its own.
//!
//! turmoil draws a message's latency from one random stream shared by every link, in the
//! order messages are sent: a fault that adds or removes a message anywhere (a reset, a
//! partition, a slow close) would move the latency of every message after it, on every link,
//! and shrinking could not tell a fault the failure needs from one whose removal only
//! reshuffled the timing. So turmoil's latency is fixed, and the run sets each link's
//! latency itself before every step: a value drawn from `min..=max` (the plan's latency, or a
//! latency fault's range once it fired) from the link's stream (`Seed::stream("latency",
//! link)`), one draw per millisecond whatever the traffic. The latency of link `a <-> b` at a
//! given millisecond is then the same in every run of the seed, whatever else the plan holds.
//!
//! Links no client connects across (where no traffic flows) keep the plan's least latency,
//! unless a latency fault names them.
//!
//! A host a client dials that runs nothing is not in turmoil (`outside.rs`), but a SYN to it
//! takes the latency of its link as in turmoil: such links vary the same way, from the same
//! streams, and [`LinkLatencies::latency_ms`] tells their latency at the current step instead
//! of turmoil being told.

use crate::fault::{FaultPlan, DEFAULT_LATENCY_MS};
use crate::seed::{fnv1a, Seed};
use rand::RngCore;
use rand_chacha::ChaCha8Rng;
use rustc_hash::FxHashMap;
use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;
use std::time::Duration;

/// The latency of every link a run starts with, fixed: the plan's least. turmoil's links
/// have it unless set otherwise.
pub(crate) fn least_ms(plan: &FaultPlan) -> u64 {
    plan.latency.map_or(DEFAULT_LATENCY_MS, |l| l.min_ms)
}

/// One link's latency range and its random stream.
struct Walk {
    /// Its ends, in address order.
    ends: (IpAddr, IpAddr),
    /// Whether one end is a host outside turmoil: turmoil has no link to tell.
    outside: bool,
    min_ms: u64,
    max_ms: u64,
    rng: ChaCha8Rng,
    /// What turmoil was last told, so an unchanged value is not set again every step.
    set_ms: Option<u64>,
}

/// The latency of every link that varies, by its pair of host names (in name order).
pub(crate) struct LinkLatencies {
    seed: Seed,
    addresses: BTreeMap<String, IpAddr>,
    /// Of the hosts at `addresses`, those turmoil does not run.
    outside: BTreeSet<IpAddr>,
    walks: BTreeMap<(String, String), Walk>,
    /// The latency of each varying link with an end outside turmoil at the current step, by
    /// its ends in address order.
    outside_ms: FxHashMap<(IpAddr, IpAddr), u64>,
    /// The latency of every other link: the plan's least, then the liveness phase's quiet one.
    fixed_ms: u64,
}

impl LinkLatencies {
    /// The latencies of a run of `plan` over hosts at `addresses` (of which those at
    /// `outside` are not in turmoil), where clients connect across the pairs of hosts
    /// `linked`.
    pub(crate) fn new<'a>(
        plan: &FaultPlan,
        addresses: &BTreeMap<String, IpAddr>,
        outside: BTreeSet<IpAddr>,
        linked: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> Self {
        let mut latencies = LinkLatencies {
            seed: plan.seed,
            addresses: addresses.clone(),
            outside,
            walks: BTreeMap::new(),
            outside_ms: FxHashMap::default(),
            fixed_ms: least_ms(plan),
        };
        if let Some(l) = plan.latency.filter(|l| l.min_ms < l.max_ms) {
            // Each pair once, however many clients connect across it, before `set` makes
            // its names into keys.
            let pairs: BTreeSet<(&str, &str)> = (linked.into_iter())
                .map(|(a, b)| if a <= b { (a, b) } else { (b, a) })
                .collect();
            for (a, b) in pairs {
                latencies.set(a, b, l.min_ms, l.max_ms);
            }
        }
        latencies
    }

    /// Link `a <-> b` takes `min_ms..=max_ms` from now on (a latency fault).
    pub(crate) fn set(&mut self, a: &str, b: &str, min_ms: u64, max_ms: u64) {
        let (Some(&ip_a), Some(&ip_b)) = (self.addresses.get(a), self.addresses.get(b)) else {
            return;
        };
        let key = if a <= b {
            (a.to_string(), b.to_string())
        } else {
            (b.to_string(), a.to_string())
        };
        let (seed, outside) = (self.seed, &self.outside);
        let walk = self.walks.entry(key).or_insert_with_key(|(a, b)| Walk {
            ends: (ip_a.min(ip_b), ip_a.max(ip_b)),
            outside: outside.contains(&ip_a) || outside.contains(&ip_b),
            min_ms,
            max_ms,
            rng: seed.stream("latency", fnv1a(format!("{a}<->{b}").as_bytes())),
            set_ms: None,
        });
        walk.min_ms = min_ms;
        walk.max_ms = max_ms.max(min_ms);
    }

    /// Every link takes `ms` from now on, fixed (the liveness phase's quiet latency): the
    /// varying ones, and those outside turmoil. The caller tells turmoil of its other links.
    pub(crate) fn fix_all(&mut self, ms: u64) {
        for walk in self.walks.values_mut() {
            (walk.min_ms, walk.max_ms) = (ms, ms);
        }
        self.fixed_ms = ms;
    }

    /// The latency of link `a <-> b`, one end of which is outside turmoil, at the current
    /// step: what turmoil would have given a message sent on it in the step.
    pub(crate) fn latency_ms(&self, a: IpAddr, b: IpAddr) -> u64 {
        let ends = (a.min(b), a.max(b));
        self.outside_ms.get(&ends).copied().unwrap_or(self.fixed_ms)
    }

    /// Sets every varying link's latency for the next step of `sim`: one draw per link.
    pub(crate) fn step(&mut self, sim: &turmoil::Sim<'_>) {
        for walk in self.walks.values_mut() {
            let span = walk.max_ms - walk.min_ms;
            // One draw per link and step, however the value is used, so that a link's
            // stream is at the same place at the same time in every run of the seed.
            let draw = walk.rng.next_u64();
            let offset = if span == 0 {
                0
            } else {
                ((u128::from(draw) * (u128::from(span) + 1)) >> 64) as u64
            };
            let ms = walk.min_ms + offset;
            if walk.set_ms != Some(ms) {
                walk.set_ms = Some(ms);
                let (a, b) = walk.ends;
                if walk.outside {
                    self.outside_ms.insert((a, b), ms);
                } else {
                    sim.set_link_latency(a, b, Duration::from_millis(ms));
                }
            }
        }
    }
}
