//! The differential conformance suite: every scenario's body runs over real loopback sockets,
//! where its sections are snapshotted, and over the simulator with a quiet fault plan, where
//! they must equal that snapshot once addresses are normalised (ports are `PORT` on both; no
//! times are shown). On both backends every callback a body recorded must pass the contract
//! checker. A difference the simulator cannot avoid is a row of "Where the simulator differs"
//! in `docs/contract.md` and a [`Difference`] here; the scenario that meets it names the id and
//! asserts, on each backend, what that backend must show, so the table cannot go stale
//! silently.
//!
//! [`conformance!`] writes both tests of each scenario from one body.

use crate::world::{
    Loopback, Recording, Simulated, World, LOOPBACK_HOST, PAIR, SIM_DEAD_HOST, SIM_HOST,
};
use std::cell::RefCell;
use std::collections::BTreeMap;
use std::future::Future;
use std::net::IpAddr;
use std::path::PathBuf;
use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;
use tcpnotify_sim::explore::{repro_line, seed_or};
use tcpnotify_sim::fault::FaultLayer;
use tcpnotify_sim::judge::Rule;
use tcpnotify_sim::run::Trace as SimTrace;
use tcpnotify_sim::run::{simulation_builder, TurmoilNetwork};
use tcpnotify_sim::FaultPlan;

/// The seed of every simulated conformance run (`TCPNOTIFY_SEED` overrides it).
pub const SEED: u64 = 8;

/// Longest simulated run: well past every wait of a body ([`crate::support::PATIENCE`]).
const SIM_DURATION: Duration = Duration::from_secs(120);

/// A difference between the simulator and real sockets that no fix of ours removes, as listed
/// under the same id in `docs/contract.md`, "Where the simulator differs". A body that meets
/// one asks its world whether it [`differs`](crate::world::World::differs) and asserts what
/// that world must show, so the table cannot go stale silently.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Difference {
    /// A turmoil connect completes when the listener accepts it; a kernel completes the
    /// handshake from the backlog, so a peer of a listener at its limit is connected (and may
    /// write) before it is accepted.
    S1,
    /// The fault layer lets at most `MAX_SEGMENTS_IN_FLIGHT` segments be unread per direction;
    /// a kernel's buffers hold bytes, so it takes thousands of tiny writes to a peer that does
    /// not read without pushing the writer back.
    S4,
    /// A quiet plan's simulated stream returns each of the peer's writes by itself from a
    /// read; a kernel's read takes every byte waiting, so two writes that both wait arrive in
    /// one delivery. Re-chunked reads (`read_chunks`) join writes in the simulator too.
    S5,
}

/// Runs `body` over real loopback sockets; its text, once every callback it recorded passed
/// the contract checker.
pub async fn on_loopback<F, Fut>(body: F) -> String
where
    F: FnOnce(Loopback) -> Fut,
    Fut: Future<Output = String>,
{
    let world = Loopback::new();
    let text = body(world.clone()).await;
    assert_contract_holds(world.recording(), LOOPBACK_HOST, "loopback", None);
    text
}

/// Runs `body` on host [`SIM_HOST`] of a simulation with a quiet fault plan (seed [`SEED`],
/// turmoil's seed derived from it, a fixed epoch), through the fault layer; its text and the
/// traces it recorded (with simulated times), once they passed the contract checker.
pub fn in_the_simulator<F, Fut>(body: F) -> (String, Vec<SimTrace>)
where
    F: FnOnce(Simulated) -> Fut + 'static,
    Fut: Future<Output = String> + 'static,
{
    let seed = seed_or(SEED);
    let plan = FaultPlan::quiet(seed);
    let mut sim = simulation_builder(&plan, SIM_DURATION).build();
    let hosts: BTreeMap<String, IpAddr> = [SIM_HOST, SIM_DEAD_HOST]
        .into_iter()
        .map(|host| (host.to_string(), sim.lookup(host)))
        .collect();
    let names = BTreeMap::from([(
        PAIR.to_string(),
        vec![SIM_DEAD_HOST.to_string(), SIM_HOST.to_string()],
    )]);
    let net = TurmoilNetwork::new(SIM_HOST, Arc::new(names), Arc::new(hosts.clone()))
        .with_faults(FaultLayer::new(plan, hosts));
    let world = Simulated::new(net);
    sim.host(SIM_DEAD_HOST, || async {
        std::future::pending::<()>().await;
        Ok(())
    });
    let text = Rc::new(RefCell::new(None));
    let (out, body_world) = (text.clone(), world.clone());
    sim.client(SIM_HOST, async move {
        *out.borrow_mut() = Some(body(body_world).await);
        Ok(())
    });
    if let Err(e) = sim.run() {
        panic!("simulated run failed: {e}\nreproduce: {}", repro_line(seed));
    }
    let recording = world.recording();
    assert_contract_holds(recording, SIM_HOST, "simulator", Some(seed));
    let text = text.take().expect("the body finished");
    (text, recording.traces(SIM_HOST))
}

/// Panics with every violation unless each of `recording`'s traces passes the checker.
fn assert_contract_holds(
    recording: &Recording,
    host: &str,
    backend: &str,
    seed: Option<tcpnotify_sim::seed::Seed>,
) {
    for (report, trace) in recording.check(host) {
        if !report.is_ok() {
            let repro = seed.map(|s| format!("reproduce: {}", repro_line(s)));
            panic!(
                "the contract is broken on {backend}:\n{report}\ntrace:\n{}{}",
                trace.render_text(),
                repro.unwrap_or_default()
            );
        }
    }
}

/// The contents of the loopback snapshot of test `name` in module `module` (as
/// `module_path!()` gives it).
pub fn loopback_snapshot(module: &str, name: &str) -> String {
    let file = format!("{}__{name}.snap", module.replace("::", "__"));
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/loopback/snapshots")
        .join(file);
    let snapshot = insta::Snapshot::from_file(&path)
        .unwrap_or_else(|e| panic!("loopback snapshot {}: {e}", path.display()));
    snapshot
        .contents()
        .as_text()
        .unwrap_or_else(|| panic!("loopback snapshot {} is not text", path.display()))
        .to_string()
}

/// `text` with the address a client dials (`host`, as `proxy_via` shows it) as `ADDR`, and
/// no trailing blank lines: what the two backends must agree on.
pub fn normalise(text: &str, host: &str) -> String {
    text.trim_end().replace(&format!("({host}, "), "(ADDR, ")
}

/// Runs `body` in the simulator and asserts that its text equals the loopback snapshot of
/// test `name` in module `module` (the simulated tests' module is the loopback tests'
/// module's `in_the_simulator`), addresses normalised.
pub fn assert_simulator_conforms<F, Fut>(module: &str, name: &str, body: F)
where
    F: FnOnce(Simulated) -> Fut + 'static,
    Fut: Future<Output = String> + 'static,
{
    let module = module.strip_suffix("::in_the_simulator").unwrap_or(module);
    let loopback = normalise(&loopback_snapshot(module, name), LOOPBACK_HOST);
    let (simulated, _) = in_the_simulator(body);
    let simulated = normalise(&simulated, SIM_HOST);
    if let Some((line, want, got)) = SimTrace::first_difference(&loopback, &simulated) {
        panic!(
            "{name}: the simulator differs from loopback at line {line}:\n  loopback: {want}\n  \
             simulated: {got}\n--- loopback ---\n{loopback}\n--- simulated ---\n{simulated}\n\
             reproduce: {}",
            repro_line(seed_or(SEED))
        );
    }
}

/// Writes both tests of each scenario: `name: body;` gives the loopback test `name`, which
/// snapshots what `body` returns over loopback sockets, and the simulated test
/// `in_the_simulator::name`, which runs the same `body` in the simulator and asserts that it
/// gives that snapshot ([`assert_simulator_conforms`]). Attributes before an entry apply to
/// its simulated test only (e.g. `#[ignore]`).
macro_rules! conformance {
    ($( $(#[$sim:meta])* $name:ident: $body:expr; )*) => {
        $(
            #[tokio::test]
            async fn $name() {
                insta::assert_snapshot!($crate::conformance::on_loopback($body).await);
            }
        )*

        /// The same scenarios over the simulator, compared with the loopback snapshots.
        mod in_the_simulator {
            #[allow(unused_imports)]
            use super::*;
            $(
                #[test]
                $(#[$sim])*
                fn $name() {
                    $crate::conformance::assert_simulator_conforms(
                        module_path!(),
                        stringify!($name),
                        $body,
                    );
                }
            )*
        }
    };
}

/// A simulated run is a function of its seed: the same body twice gives the same callbacks
/// at the same simulated times.
#[test]
fn simulated_runs_are_deterministic() {
    let run = || in_the_simulator(crate::lifetime::limit_holds_a_peer_back);
    let (first, second) = (run(), run());
    assert!(
        first
            .1
            .iter()
            .any(|t| t.events().iter().any(|e| e.at_us > 0)),
        "the trace has simulated times"
    );
    assert_eq!(first.0, second.0);
    let render = |traces: &[SimTrace]| -> String {
        traces.iter().map(SimTrace::render_for_comparison).collect()
    };
    if let Some((line, a, b)) = SimTrace::first_difference(&render(&first.1), &render(&second.1)) {
        panic!("two runs of one seed differ at trace line {line}:\n  {a}\n  {b}");
    }
}

/// What a body records reaches the contract checker, with its listeners' limits: a listener of
/// limit 1 with two connections open at once breaks N3, a second `closed` breaks L1.
#[test]
fn recorded_callbacks_reach_the_contract_checker() {
    use tcpnotify::record::Callback;
    let world = Loopback::new();
    world.recording().set_limit("server", 1);
    let trace = world.trace().sink();
    trace.record(&"server".into(), None, Callback::Listening(None));
    for conn in ["server.1", "server.2"] {
        let connected = Callback::ListenerConnected { accepted: true };
        trace.record(&"server".into(), None, connected);
        trace.record(&conn.into(), None, Callback::Accepted);
    }
    trace.record(&"server.1".into(), None, Callback::Closed);
    trace.record(&"server.1".into(), None, Callback::Closed);
    let checked = world.recording().check(LOOPBACK_HOST);
    assert_eq!(checked.len(), 1);
    assert_eq!(checked[0].0.broken_rules(), vec![Rule::L1, Rule::N3]);
}
