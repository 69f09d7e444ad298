//! Drawing a plan: every fault parameter from the seed's `plan` stream and the fault
//! settings, so the same seed and settings give the same plan, and a plan is data before
//! the run starts.

use super::plan::{
    EventTrigger, Fault, FaultKind, FaultPlan, Latency, PartialWrites, ReadChunks, Topology,
};
use super::settings::{FaultSettings, Span};
use crate::seed::Seed;
use rand::Rng;

impl FaultPlan {
    /// Generates the plan for `seed` from `settings`: every fault parameter comes from the
    /// seed's `plan` stream, so the same seed and settings give the same plan.
    pub fn generate(seed: Seed, settings: &FaultSettings, topology: &Topology) -> FaultPlan {
        let mut rng = seed.stream("plan", 0);
        let mut plan = FaultPlan::quiet(seed);
        plan.connect_timeout_ms = settings.connect_timeout_ms;
        plan.latency = settings.latency_ms.map(|s| Latency {
            min_ms: s.min,
            max_ms: s.max,
        });
        if rng.random_bool(settings.partial_writes.clamp(0.0, 1.0)) {
            let average = settings.partial_write_bytes.pick(&mut rng).max(1) as usize;
            plan.partial_writes = Some(PartialWrites {
                average,
                variation: rng.random_range(0..=average / 2),
            });
        }
        if rng.random_bool(settings.read_chunks.clamp(0.0, 1.0)) {
            plan.read_chunks = Some(ReadChunks {
                max: settings.read_chunk_bytes.pick(&mut rng).max(1) as usize,
            });
        }
        if rng.random_bool(settings.send_buffer.clamp(0.0, 1.0)) {
            plan.send_buffer = Some(settings.send_buffer_bytes.pick(&mut rng).max(1) as usize);
        }
        let window = settings
            .fault_window_ms
            .unwrap_or(Span::new(0, topology.duration_ms.saturating_mul(4) / 5));
        for (i, a) in topology.hosts.iter().enumerate() {
            for b in &topology.hosts[i + 1..] {
                if rng.random_bool(settings.partitions.clamp(0.0, 1.0)) {
                    let one_way = rng.random_bool(settings.one_way.clamp(0.0, 1.0));
                    let (a, b) = if one_way && rng.random_bool(0.5) {
                        (b, a)
                    } else {
                        (a, b)
                    };
                    // The time is drawn before the duration: argument order is draw order.
                    plan.faults.push(Fault::at(
                        window.pick(&mut rng),
                        FaultKind::Partition {
                            a: a.clone(),
                            b: b.clone(),
                            duration_ms: settings.partition_ms.pick(&mut rng),
                            one_way,
                        },
                    ));
                }
            }
        }
        for conn in &topology.clients {
            if rng.random_bool(settings.resets.clamp(0.0, 1.0)) {
                let nth = settings.reset_after_received.pick(&mut rng).max(1);
                let received = EventTrigger {
                    conn: conn.clone(),
                    callback: "received".into(),
                    nth: u32::try_from(nth).unwrap_or(u32::MAX),
                };
                plan.faults.push(Fault::after(
                    received,
                    FaultKind::Reset { conn: conn.clone() },
                ));
            }
            if rng.random_bool(settings.slow_close.clamp(0.0, 1.0)) {
                plan.faults.push(Fault::at(
                    0,
                    FaultKind::SlowClose {
                        conn: conn.clone(),
                        delay_ms: settings.slow_close_ms.pick(&mut rng),
                    },
                ));
            }
        }
        for host in &topology.servers {
            if rng.random_bool(settings.crashes.clamp(0.0, 1.0)) {
                plan.faults.push(Fault::at(
                    window.pick(&mut rng),
                    FaultKind::Crash {
                        host: host.clone(),
                        restart_after_ms: Some(settings.crash_down_ms.pick(&mut rng)),
                    },
                ));
            }
        }
        plan
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fault::Trigger;

    fn topology() -> Topology {
        Topology {
            hosts: vec!["server".into(), "client".into()],
            servers: vec!["server".into()],
            clients: vec!["c1".into()],
            listeners: vec!["server".into()],
            duration_ms: 10_000,
        }
    }

    #[test]
    fn timed_faults_fall_inside_the_fault_window() {
        let settings = FaultSettings {
            partitions: 1.0,
            crashes: 1.0,
            fault_window_ms: Some(Span::new(5, 20)),
            ..FaultSettings::default()
        };
        for seed in 0..50 {
            let plan = FaultPlan::generate(Seed(seed), &settings, &topology());
            assert_eq!(plan.faults.len(), 2, "{plan:?}");
            for fault in &plan.faults {
                let Trigger::At(at) = fault.trigger else {
                    panic!("seed {seed}: {fault} is not timed");
                };
                assert!((5..=20).contains(&at), "seed {seed}: {fault}");
            }
        }
    }

    #[test]
    fn every_drawn_plan_of_valid_settings_validates() {
        // A drawn plan the runner refused would fail a sweep's seed with a run error.
        let settings = FaultSettings {
            partitions: 1.0,
            resets: 1.0,
            slow_close: 1.0,
            crashes: 1.0,
            partial_writes: 1.0,
            read_chunks: 1.0,
            send_buffer: 1.0,
            latency_ms: Some(Span::new(1, 9)),
            ..FaultSettings::default()
        };
        assert_eq!(settings.validate(), Ok(()));
        for seed in 0..50 {
            let plan = FaultPlan::generate(Seed(seed), &settings, &topology());
            assert_eq!(plan.validate(&topology()), Ok(()), "seed {seed}: {plan:?}");
        }
    }

    #[test]
    fn without_a_window_faults_spread_over_most_of_the_duration() {
        let settings = FaultSettings {
            partitions: 1.0,
            ..FaultSettings::default()
        };
        let latest = (0..50)
            .filter_map(|seed| {
                match FaultPlan::generate(Seed(seed), &settings, &topology()).faults[0].trigger {
                    Trigger::At(at) => Some(at),
                    Trigger::After(_) => None,
                }
            })
            .max();
        assert!(
            latest.is_some_and(|at| at > 1000 && at <= 8000),
            "{latest:?}"
        );
    }
}
