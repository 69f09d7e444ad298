//! Shrinking a failing plan: the smallest plan found that still fails the same way, so the
//! failure can be read from a few faults instead of a whole generated plan.
//!
//! A run is a pure function of its scenario and plan, so each candidate is judged by running
//! it: first delta debugging (ddmin) over the faults, then each chunking policy (latency,
//! partial writes, re-chunked reads, a small send buffer) is removed or relaxed. A candidate
//! is kept only if its first failure has the same signature (rule id or property name) as the
//! original's; a different failure is a different bug. Everything is deterministic: the same
//! failing plan shrinks the same way every time.
//!
//! The minimal cause is the faults *and* policies left ([`FaultPlan::size`]): a failure that
//! needs only re-chunked reads shrinks to one policy, not to "0 faults". Re-chunked reads that
//! the failure needs are first tried without coalescing (reads that only split the peer's
//! writes), so the report tells split reads from joined ones; a relaxed `read_chunks.max`
//! still re-chunks, and only a removed `read_chunks` reads exactly as the peer wrote. Removing
//! one fault leaves every other draw of the run as it was (each link's latency and each
//! stream's chunking come from random streams of their own), so a fault is kept only if the
//! failure needs it.

use crate::fault::{Fault, FaultPlan, Latency, ReadChunks, DEFAULT_CONNECT_TIMEOUT_MS};
use crate::judge::{judge, signature_of, Verdict};
use crate::scenario::Scenario;
use std::fmt;

/// Largest value a relaxed size policy is raised to. A partial write or send buffer this
/// large is as good as off; re-chunked reads of up to this many bytes still join every
/// segment that arrived together (unless not coalescing), which is why they are not "off".
const RELAX_LIMIT: usize = 1 << 20;

/// Most rounds of (faults, then policies): each round only removes or relaxes, so this is a
/// bound on work, not a condition for correctness.
const MAX_ROUNDS: usize = 3;

/// A shrunk plan and how it was found.
#[derive(Debug, Clone, PartialEq)]
pub struct ShrinkResult {
    /// The smallest plan found that fails with the same signature (the original plan if
    /// nothing could be removed, or if the original did not fail that way). A plan a swarm
    /// drew loses its record of the swarm's settings ([`FaultPlan::swarm`]) once shrunk: what
    /// is left is the cause, not a draw.
    pub plan: FaultPlan,
    /// How many runs the shrinking took.
    pub runs: usize,
    /// Each accepted reduction, in order (`removed fault #2: reset c1 ...`, `read_chunks.max
    /// 8 -> 16`).
    pub steps: Vec<String>,
}

impl ShrinkResult {
    /// The minimal cause in words: how many faults and which policies the plan kept
    /// (`1 fault and 1 policy (send_buffer)`, `0 faults and 0 policies`).
    pub fn cause(&self) -> String {
        let policies = self.plan.policies();
        let faults = self.plan.faults.len();
        let plural =
            |n: usize, one: &str, many: &str| format!("{n} {}", if n == 1 { one } else { many });
        let mut text = format!(
            "{} and {}",
            plural(faults, "fault", "faults"),
            plural(policies.len(), "policy", "policies")
        );
        if !policies.is_empty() {
            text += &format!(" ({})", policies.join(", "));
        }
        text
    }
}

impl fmt::Display for ShrinkResult {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "shrunk in {} run(s) to {}:", self.runs, self.cause())?;
        for step in &self.steps {
            writeln!(f, "  {step}")?;
        }
        write!(f, "{}", self.plan.describe().trim_end())
    }
}

/// Judges candidates: does this plan still fail with the signature?
struct Oracle<'a> {
    scenario: &'a Scenario,
    signature: &'a str,
    runs: usize,
}

impl Oracle<'_> {
    fn fails(&mut self, plan: &FaultPlan) -> bool {
        self.runs += 1;
        signature_of(&judge(self.scenario, plan)).is_some_and(|s| s == self.signature)
    }
}

/// Shrinks `failing`, a plan under which `scenario` fails with first-failure `signature`, to
/// the smallest plan found that still fails that way.
///
/// ```
/// use tcpnotify_sim::notifiers::{Echo, Sender};
/// use tcpnotify_sim::fault::{FaultPlan, ReadChunks};
/// use tcpnotify_sim::{factory, Expectations, Scenario, Seed};
/// use tcpnotify_sim::explore::shrink;
/// use tcpnotify_sim::judge::judge;
/// // The echo must be over within 20ms, with no liveness phase to heal the latency after
/// // it: latency alone breaks that, and re-chunked reads are noise.
/// let scenario = Scenario::new("echo")
///     .listener("server", "server", 7000, factory(|| Echo))
///     .client("c1", "client", "server", 7000, factory(|| Sender::pattern(64)))
///     .duration_ms(20)
///     .settle_ms(0);
/// let plan = FaultPlan {
///     latency: Some(tcpnotify_sim::fault::Latency { min_ms: 50, max_ms: 60 }),
///     read_chunks: Some(ReadChunks::new(3)),
///     ..FaultPlan::quiet(Seed(1))
/// };
/// assert_eq!(judge(&scenario, &plan).unwrap().signature().as_deref(), Some("finished"));
/// let shrunk = shrink(&scenario, &plan, "finished");
/// assert_eq!(shrunk.plan.read_chunks, None);
/// assert!(shrunk.plan.latency.is_some());
/// ```
pub fn shrink(scenario: &Scenario, failing: &FaultPlan, signature: &str) -> ShrinkResult {
    let mut oracle = Oracle {
        scenario,
        signature,
        runs: 0,
    };
    if !oracle.fails(failing) {
        return ShrinkResult {
            plan: failing.clone(),
            runs: oracle.runs,
            steps: vec![format!(
                "the plan does not fail with {signature}: kept as it is"
            )],
        };
    }
    reduce(oracle, failing)
}

/// Shrinks the plan of `verdict`, a judged run of `scenario`, keeping its first failure's
/// signature: [`shrink`] for a caller that already holds the failing run, so the plan is not
/// run again only to see it fail. A run that passed keeps its plan.
///
/// `runs` counts the verdict's run, as [`shrink`]'s counts the run that checks the plan.
pub fn shrink_verdict(scenario: &Scenario, verdict: &Verdict) -> ShrinkResult {
    let plan = &verdict.outcome.plan;
    let Some(signature) = verdict.signature() else {
        return ShrinkResult {
            plan: plan.clone(),
            runs: 1,
            steps: vec!["the plan does not fail: kept as it is".to_string()],
        };
    };
    let oracle = Oracle {
        scenario,
        signature: &signature,
        runs: 1,
    };
    reduce(oracle, plan)
}

/// Rounds of (faults, then policies) over `failing`, which `oracle` has seen fail, until a
/// round changes nothing.
fn reduce(mut oracle: Oracle<'_>, failing: &FaultPlan) -> ShrinkResult {
    let mut result = ShrinkResult {
        plan: failing.clone(),
        runs: 0,
        steps: Vec::new(),
    };
    for _ in 0..MAX_ROUNDS {
        let steps_before = result.steps.len();
        shrink_faults(&mut oracle, &mut result);
        shrink_policies(&mut oracle, &mut result);
        if result.steps.len() == steps_before {
            break;
        }
    }
    if !result.steps.is_empty() {
        result.plan.swarm = None;
    }
    result.runs = oracle.runs;
    result
}

/// ddmin over the plan's faults.
fn shrink_faults(oracle: &mut Oracle<'_>, result: &mut ShrinkResult) {
    let faults = result.plan.faults.clone();
    if faults.is_empty() {
        return;
    }
    let with = |faults: &[Fault]| FaultPlan {
        faults: faults.to_vec(),
        ..result.plan.clone()
    };
    let kept = ddmin(faults.clone(), |candidate| oracle.fails(&with(candidate)));
    if kept.len() < faults.len() {
        for (i, fault) in faults.iter().enumerate() {
            if !kept.contains(fault) {
                result.steps.push(format!("removed fault #{i}: {fault}"));
            }
        }
        result.plan.faults = kept;
    }
}

/// The smallest subset of `items` found for which `fails` holds, assuming it holds for all of
/// `items` (Zeller's ddmin, with the empty set tried first).
fn ddmin<T: Clone>(mut items: Vec<T>, mut fails: impl FnMut(&[T]) -> bool) -> Vec<T> {
    if fails(&[]) {
        return Vec::new();
    }
    let mut n = 2;
    while items.len() >= 2 {
        let chunks = split(&items, n);
        let mut reduced = false;
        for chunk in &chunks {
            if fails(chunk) {
                items = chunk.clone();
                n = 2;
                reduced = true;
                break;
            }
        }
        if !reduced && n > 2 {
            for skip in 0..chunks.len() {
                let complement: Vec<T> = chunks
                    .iter()
                    .enumerate()
                    .filter(|(i, _)| *i != skip)
                    .flat_map(|(_, c)| c.iter().cloned())
                    .collect();
                if fails(&complement) {
                    items = complement;
                    n = (n - 1).max(2);
                    reduced = true;
                    break;
                }
            }
        }
        if !reduced {
            if n >= items.len() {
                break;
            }
            n = (2 * n).min(items.len());
        }
    }
    items
}

/// `items` in `n` contiguous parts as equal as can be.
fn split<T: Clone>(items: &[T], n: usize) -> Vec<Vec<T>> {
    let n = n.clamp(1, items.len().max(1));
    let (size, extra) = (items.len() / n, items.len() % n);
    let mut parts = Vec::with_capacity(n);
    let mut start = 0;
    for i in 0..n {
        let len = size + usize::from(i < extra);
        parts.push(items[start..start + len].to_vec());
        start += len;
    }
    parts
}

/// Takes one policy out of a plan; false if it was not there.
type Removal = fn(&mut FaultPlan) -> bool;

/// Removes each chunking policy that the failure does not need, puts back the default connect
/// timeout if the failure does not need a shorter one, then relaxes the rest.
fn shrink_policies(oracle: &mut Oracle<'_>, result: &mut ShrinkResult) {
    let removals: [(&str, Removal); 4] = [
        ("partial_writes", |p| p.partial_writes.take().is_some()),
        ("read_chunks", |p| p.read_chunks.take().is_some()),
        ("send_buffer", |p| p.send_buffer.take().is_some()),
        ("latency", |p| p.latency.take().is_some()),
    ];
    for (name, remove) in removals {
        let mut candidate = result.plan.clone();
        if remove(&mut candidate) && oracle.fails(&candidate) {
            result.plan = candidate;
            result.steps.push(format!("removed {name}"));
        }
    }
    relax(oracle, result, "partial_writes.average", |p| {
        let w = p.partial_writes.as_mut()?;
        let before = w.average;
        w.average = grow(before)?;
        w.variation = w.variation.min(w.average / 2);
        Some((before, w.average))
    });
    if result.plan.connect_timeout_ms != DEFAULT_CONNECT_TIMEOUT_MS {
        // A timeout the failure does not need (a swarm may shorten it) is only noise.
        let mut candidate = result.plan.clone();
        candidate.connect_timeout_ms = DEFAULT_CONNECT_TIMEOUT_MS;
        if oracle.fails(&candidate) {
            result.steps.push(format!(
                "connect timeout {}ms -> {DEFAULT_CONNECT_TIMEOUT_MS}ms",
                result.plan.connect_timeout_ms
            ));
            result.plan = candidate;
        }
    }
    let mut split_only = result.plan.clone();
    if let Some(chunks @ ReadChunks { coalesce: true, .. }) = split_only.read_chunks.as_mut() {
        chunks.coalesce = false;
        if oracle.fails(&split_only) {
            result.plan = split_only;
            result
                .steps
                .push("read_chunks: reads no longer coalesced".to_string());
        }
    }
    relax(oracle, result, "read_chunks.max", |p| {
        let r = p.read_chunks.as_mut()?;
        let before = r.max;
        r.max = grow(before)?;
        Some((before, r.max))
    });
    relax(oracle, result, "send_buffer", |p| {
        let b = p.send_buffer.as_mut()?;
        let before = *b;
        *b = grow(before)?;
        Some((before, *b))
    });
    relax(oracle, result, "latency.max_ms", |p| {
        let Latency { min_ms, max_ms } = p.latency.as_mut()?;
        let before = *max_ms;
        // Narrower jitter first: halve the spread above the minimum.
        let next = *min_ms + (*max_ms - (*min_ms).min(*max_ms)) / 2;
        if next >= before {
            return None;
        }
        *max_ms = next;
        Some((usize::try_from(before).ok()?, usize::try_from(next).ok()?))
    });
}

/// Doubles a size, up to [`RELAX_LIMIT`]; `None` once it is there.
fn grow(size: usize) -> Option<usize> {
    (size < RELAX_LIMIT).then(|| size.saturating_mul(2).clamp(1, RELAX_LIMIT))
}

/// Applies `step` (which relaxes one policy and reports its old and new value) as long as the
/// failure persists, and records the overall change.
fn relax(
    oracle: &mut Oracle<'_>,
    result: &mut ShrinkResult,
    name: &str,
    step: impl Fn(&mut FaultPlan) -> Option<(usize, usize)>,
) {
    let mut first = None;
    let mut last = None;
    loop {
        let mut candidate = result.plan.clone();
        let Some((before, after)) = step(&mut candidate) else {
            break;
        };
        if !oracle.fails(&candidate) {
            break;
        }
        result.plan = candidate;
        first.get_or_insert(before);
        last = Some(after);
    }
    if let (Some(from), Some(to)) = (first, last) {
        result.steps.push(format!("relaxed {name} {from} -> {to}"));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fault::{EventTrigger, FaultKind, PartialWrites, ReadChunks};
    use crate::scenario::Expectations;
    use crate::seed::Seed;

    fn echo() -> Scenario {
        Scenario::echo("shrink-echo", 1024, 128).expecting(Expectations {
            echoed: true,
            ..Expectations::default()
        })
    }

    /// Six faults; only the reset stops the echo coming back whole.
    fn six_faults() -> Vec<Fault> {
        let partition = |ms, duration_ms| {
            Fault::at(
                ms,
                FaultKind::Partition {
                    a: "client".into(),
                    b: "server".into(),
                    duration_ms,
                    one_way: false,
                },
            )
        };
        vec![
            partition(1, 30),
            Fault::at(
                0,
                FaultKind::SlowClose {
                    conn: "c1".into(),
                    delay_ms: 20,
                },
            ),
            Fault::at(
                0,
                FaultKind::Latency {
                    a: "client".into(),
                    b: "server".into(),
                    latency_ms: 3,
                    max_latency_ms: None,
                },
            ),
            Fault::after(
                EventTrigger {
                    conn: "c1".into(),
                    callback: "received".into(),
                    nth: 2,
                },
                FaultKind::Reset { conn: "c1".into() },
            ),
            partition(5000, 100),
            Fault::at(
                2,
                FaultKind::SlowClose {
                    conn: "server.1".into(),
                    delay_ms: 10,
                },
            ),
        ]
    }

    #[test]
    fn six_faults_shrink_to_the_one_reset_that_fails() {
        let plan = FaultPlan {
            faults: six_faults(),
            ..FaultPlan::quiet(Seed(4))
        };
        let scenario = echo();
        assert_eq!(
            judge(&scenario, &plan)
                .expect("runs")
                .signature()
                .as_deref(),
            Some("echoed")
        );
        let shrunk = shrink(&scenario, &plan, "echoed");
        assert_eq!(
            shrunk.plan.faults,
            vec![six_faults()[3].clone()],
            "{shrunk}"
        );
        assert_eq!(
            shrunk
                .steps
                .iter()
                .filter(|s| s.starts_with("removed fault"))
                .count(),
            5
        );
        assert!(shrunk.runs > 1);
        // The shrunk plan still fails the same way.
        let again = judge(&scenario, &shrunk.plan).expect("runs");
        assert_eq!(again.signature().as_deref(), Some("echoed"));
    }

    #[test]
    fn shrinking_a_verdict_matches_shrinking_its_plan() {
        let plan = FaultPlan {
            faults: six_faults(),
            ..FaultPlan::quiet(Seed(4))
        };
        let scenario = echo();
        let verdict = judge(&scenario, &plan).expect("runs");
        assert_eq!(
            shrink_verdict(&scenario, &verdict),
            shrink(&scenario, &plan, "echoed")
        );
        let quiet = judge(&scenario, &FaultPlan::quiet(Seed(4))).expect("runs");
        let kept = shrink_verdict(&scenario, &quiet);
        assert_eq!(kept.plan, FaultPlan::quiet(Seed(4)));
        assert_eq!(kept.runs, 1);
    }

    #[test]
    fn policies_the_failure_does_not_need_are_removed() {
        let plan = FaultPlan {
            partial_writes: Some(PartialWrites {
                average: 7,
                variation: 3,
            }),
            read_chunks: Some(ReadChunks::new(5)),
            send_buffer: Some(300),
            latency: Some(Latency {
                min_ms: 1,
                max_ms: 9,
            }),
            faults: vec![six_faults()[3].clone()],
            ..FaultPlan::quiet(Seed(5))
        };
        let shrunk = shrink(&echo(), &plan, "echoed");
        assert_eq!(shrunk.plan.partial_writes, None, "{shrunk}");
        assert_eq!(shrunk.plan.read_chunks, None, "{shrunk}");
        assert_eq!(shrunk.plan.send_buffer, None, "{shrunk}");
        assert_eq!(shrunk.plan.latency, None, "{shrunk}");
        assert_eq!(shrunk.plan.faults.len(), 1);
        assert!(shrunk.steps.contains(&"removed read_chunks".to_string()));
    }

    #[test]
    fn shrinking_is_deterministic() {
        let plan = FaultPlan {
            read_chunks: Some(ReadChunks::new(5)),
            faults: six_faults(),
            ..FaultPlan::quiet(Seed(6))
        };
        let a = shrink(&echo(), &plan, "echoed");
        let b = shrink(&echo(), &plan, "echoed");
        assert_eq!(a, b);
    }

    #[test]
    fn a_plan_that_does_not_fail_that_way_is_kept() {
        let plan = FaultPlan {
            faults: six_faults(),
            ..FaultPlan::quiet(Seed(7))
        };
        let shrunk = shrink(&echo(), &plan, "R6");
        assert_eq!(shrunk.plan, plan);
        assert_eq!(shrunk.runs, 1);
    }

    #[test]
    fn ddmin_finds_a_pair_that_must_stay_together() {
        let mut tests = 0;
        let kept = ddmin((0..16).collect::<Vec<u32>>(), |c| {
            tests += 1;
            c.contains(&3) && c.contains(&12)
        });
        assert_eq!(kept, vec![3, 12]);
        assert!(tests < 60, "{tests} tests");
    }

    #[test]
    fn grow_doubles_up_to_the_limit() {
        assert_eq!(grow(1), Some(2));
        assert_eq!(grow(RELAX_LIMIT - 1), Some(RELAX_LIMIT));
        assert_eq!(grow(RELAX_LIMIT), None);
    }

    /// An echo server that takes each `received` as one whole 5-byte message: it hard-closes
    /// on a shorter read or a longer one.
    struct WholeMessages;

    impl tcpnotify::TcpConnectionNotify for WholeMessages {
        fn received(
            &mut self,
            conn: &mut tcpnotify::TcpConnection,
            data: Vec<u8>,
            _times: usize,
        ) -> bool {
            if data.len() == 5 {
                conn.write(data);
            } else {
                conn.hard_close();
            }
            true
        }
        fn connect_failed(
            &mut self,
            _conn: &mut tcpnotify::TcpConnection,
            _reason: tcpnotify::ConnectFailure,
        ) {
        }
    }

    fn messages(text: &str) -> Scenario {
        use crate::scenario::factory;
        use crate::scenario::notifiers::Sender;
        let payload = text.as_bytes().to_vec();
        Scenario::new("whole-messages")
            .listener("server", "server", 7000, factory(|| WholeMessages))
            .client(
                "c1",
                "client",
                "server",
                7000,
                factory(move || Sender::new(payload.clone()).chunked(5)),
            )
            .expecting(Expectations {
                echoed: true,
                ..Expectations::default()
            })
    }

    /// Latency, a slow close and a partition long after the end: none of them is the cause.
    fn noise(read_chunks: ReadChunks) -> FaultPlan {
        FaultPlan {
            read_chunks: Some(read_chunks),
            latency: Some(Latency {
                min_ms: 1,
                max_ms: 5,
            }),
            faults: vec![six_faults()[1].clone(), six_faults()[4].clone()],
            ..FaultPlan::quiet(Seed(2))
        }
    }

    #[test]
    fn a_failure_caused_by_split_reads_shrinks_to_one_policy_that_only_splits() {
        let scenario = messages("hello");
        let plan = noise(ReadChunks::new(2));
        let verdict = judge(&scenario, &plan).expect("runs");
        assert_eq!(verdict.signature().as_deref(), Some("echoed"));
        let shrunk = shrink_verdict(&scenario, &verdict);
        assert_eq!(
            shrunk.cause(),
            "0 faults and 1 policy (read_chunks)",
            "{shrunk}"
        );
        assert!(
            shrunk.plan.read_chunks.is_some_and(|r| !r.coalesce),
            "{shrunk}"
        );
        let text = shrunk.to_string();
        assert!(
            text.contains("to 0 faults and 1 policy (read_chunks):"),
            "{text}"
        );
        assert!(text.contains("never coalesced"), "{text}");
    }

    #[test]
    fn a_failure_caused_by_joined_reads_keeps_coalescing() {
        let scenario = messages("hellohello");
        let plan = noise(ReadChunks::new(64));
        let verdict = judge(&scenario, &plan).expect("runs");
        assert_eq!(verdict.signature().as_deref(), Some("echoed"));
        let shrunk = shrink_verdict(&scenario, &verdict);
        assert_eq!(
            shrunk.cause(),
            "0 faults and 1 policy (read_chunks)",
            "{shrunk}"
        );
        // Reads that only split deliver each message whole: the join is the cause.
        assert!(
            shrunk.plan.read_chunks.is_some_and(|r| r.coalesce),
            "{shrunk}"
        );
    }

    #[test]
    fn a_shrunk_swarm_plan_no_longer_claims_to_be_a_draw() {
        let plan = FaultPlan {
            faults: six_faults(),
            swarm: Some(crate::fault::FaultSettings::healing()),
            ..FaultPlan::quiet(Seed(4))
        };
        let shrunk = shrink(&echo(), &plan, "echoed");
        assert_eq!(shrunk.plan.faults.len(), 1, "{shrunk}");
        assert_eq!(shrunk.plan.swarm, None);
        assert_eq!(shrunk.cause(), "1 fault and 0 policies");
    }
}
