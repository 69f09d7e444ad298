//! The correct notifiers of `correct_styles_3`, `correct_styles_4`, four of `correct_styles_5`
//! (all but its ping-pong and its 64 KiB frames), all but one of `correct_styles_6` (not its
//! huge writes), all but one of `correct_styles_7` (not its 2 MiB write) and the fixed twins
//! of the late demos (`late_answer_taken_for_next`, `late_report_connect_failed`), swept under
//! fault settings written by hand, harsher than the swarm draws: send buffers of 1 to 256
//! bytes, writes and reads of 1 to 16 bytes, partitions at high odds; where the expectations
//! allow lost connections, partitions, crashes and refusals past the connect timeout and
//! resets after up to 30 deliveries; and link latency near the connect timeout. A failure
//! here is a simulator defect, as in the swarm's sweeps of the same notifiers.
//!
//! Hunted in the seventeenth session (helper-81) with 1,000 seeds per scenario and setting
//! (release): all passed. Four styles of `correct_styles_5` (eighteenth session, helper-82)
//! also passed 1,000 seeds per setting, and eight of `correct_styles_6` (nineteenth
//! session, helper-92: all but its huge writes) 300 seeds per setting. These tests honour
//! `TCPNOTIFY_SEEDS` and the other variables.

use tcpnotify_sim::fault::Span;
use tcpnotify_sim::{Chaos, FaultSettings, Scenario};

/// Seeds each sweeps by default (CI), per scenario and setting.
const SEEDS: u64 = 2;

/// Harsh faults the expectations of a scenario allow: every kind that heals at high odds
/// and small sizes, its partitions short enough that two add to less than the connect
/// timeout where connections may not be lost (`lossy` false); where they may, partitions,
/// crashes and refusals past the connect timeout and resets too. `slow`: each link's
/// latency up to 900 ms, near the 1 s connect timeout.
fn harsh(lossy: bool, slow: bool) -> FaultSettings {
    let latency = if slow { 900 } else { 60 };
    let healing = FaultSettings {
        latency_ms: Some(Span::new(1, latency)),
        partial_writes: 0.8,
        partial_write_bytes: Span::new(1, 16),
        read_chunks: 0.8,
        read_chunk_bytes: Span::new(1, 16),
        send_buffer: 0.8,
        send_buffer_bytes: Span::new(1, 256),
        partitions: 0.9,
        partition_ms: Span::new(20, 490),
        one_way: 0.5,
        slow_close: 0.8,
        slow_close_ms: Span::new(10, 300),
        ..FaultSettings::default()
    };
    if !lossy {
        return healing;
    }
    FaultSettings {
        partition_ms: Span::new(50, 2500),
        resets: 0.8,
        reset_after_received: Span::new(1, 30),
        crashes: 0.8,
        crash_down_ms: Span::new(100, 2500),
        refusals: 0.8,
        refusal_ms: Span::new(10, 1500),
        ..healing
    }
}

/// Sweeps `scenario` under [`harsh`] faults, at both latencies. Its settle period is at
/// least 6 s: workloads paced by timers of their own (ticks 100 ms apart, questions 200 ms
/// apart) take seconds once every fault healed, and 2-byte send buffers over 60 ms links
/// leave most of them to the liveness phase.
fn assert_passes_harsh(mut scenario: Scenario) {
    scenario.settle_ms = scenario.settle_ms.max(6000);
    let lossy = scenario.expectations.allows_lost_connections();
    for slow in [false, true] {
        let faults = harsh(lossy, slow);
        let pass = Chaos::new(scenario.clone().faults(faults))
            .seeds(0..SEEDS)
            .assert_passes();
        println!("{pass}");
    }
}

#[test]
fn correct_styles_4_pass_harsh_faults() {
    use crate::correct_styles_4::*;
    for scenario in [
        counting_wrapper(),
        hub(),
        self_aware_listener(),
        reframes_while_muted(),
        deferred_hooks(),
    ] {
        assert_passes_harsh(scenario);
    }
}

#[test]
fn late_demos_fixed_twins_pass_harsh_faults() {
    use crate::late_report_connect_failed::Retry;
    assert_passes_harsh(crate::late_answer_taken_for_next::session(true));
    assert_passes_harsh(crate::late_report_connect_failed::session(Retry::Always));
}

#[test]
fn correct_styles_3_pass_harsh_faults() {
    use crate::correct_styles_3::*;
    for scenario in [
        closing_listener(),
        five_addresses(),
        proxy_via_chain(),
        frame_churn(),
        shifty(),
        odd_writes(),
        room(),
        audit(),
        final_and_chunky_echoes(),
        trailing_partial_frame(),
    ] {
        assert_passes_harsh(scenario);
    }
}

#[test]
fn correct_styles_5_pass_harsh_faults() {
    use crate::correct_styles_5::*;
    // Not the long ping-pong nor the 64 KiB frames: a thousand round trips over 900 ms links
    // outlast any duration, and 64 KiB frames read 1 to 16 bytes at a time fill the trace.
    for scenario in [
        header_in_sentv(),
        closes_from_accepted(),
        slams_from_accepted(),
        hoppers(),
    ] {
        assert_passes_harsh(scenario);
    }
}

#[test]
fn correct_styles_6_pass_harsh_faults() {
    use crate::correct_styles_6::*;
    // Not the huge writes: 90 KB echoed through 1-byte send buffers outlasts any duration.
    for scenario in [
        pings_on_a_timer(),
        endless_heartbeats(),
        journal_in_run_state(),
        gate_counts_its_own(),
        three_proxies_via(),
        framing_churn(),
        fan_out_at_once(),
        impatient_dialers(),
    ] {
        assert_passes_harsh(scenario);
    }
}

#[test]
fn correct_styles_7_pass_harsh_faults() {
    use crate::correct_styles_7::*;
    // Not the 2 MiB write: read 1 to 16 bytes at a time it fills the trace.
    for scenario in [
        failover_across_hosts(),
        ports_of_one_host(),
        failover_past_missing(),
        yields_on_every_delivery(),
        muted_by_another(),
        muted_across_hosts(),
        tiny_writes_from_one_callback(),
        idle_for_seconds(),
    ] {
        assert_passes_harsh(scenario);
    }
}
