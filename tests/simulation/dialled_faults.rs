//! Connections a notifier dials (`c1~1`, `proxy.1~1`, `server~1`) can be named in a fault
//! plan, as a fault's `conn` and as an event trigger's `after.conn`: the fault layer and the
//! recorder act on them as on any connection. A dialled name is valid whether or not the run
//! dials it; a fault on one that never exists finds nothing (a reset says `not connected: no
//! effect` and is not counted, a trigger never fires), so a sweep whose only faults name it is
//! told that no fault fired. A bad name is refused at its file, line and field.

use crate::support::callbacks_of;
use tcpnotify::record::Callback;
use tcpnotify::{ConnectFailure, TcpConnection, TcpConnectionNotify};
use tcpnotify_sim::explore::{shrink_verdict, Chaos, ChaosError};
use tcpnotify_sim::fault::{EventTrigger, Fault, FaultKind, FaultPlan, ReadChunks, PEER};
use tcpnotify_sim::judge::judge;
use tcpnotify_sim::notifiers::{Echo, Sender};
use tcpnotify_sim::run::{run, EventKind, RunOutcome};
use tcpnotify_sim::scenario::{factory, PlanFile, Scenario};
use tcpnotify_sim::{Expectations, Registry, ScenarioFile, Seed};

/// Refused by its target, it dials its `.0` with a sender of `hello`: its connection `c1~1`.
struct Redial(&'static str);

impl TcpConnectionNotify for Redial {
    fn connect_failed(&mut self, conn: &mut TcpConnection, _reason: ConnectFailure) {
        conn.dial(Sender::new(b"hello".to_vec()), self.0, "7000");
    }
}

/// `c1` on `client` dials the dead host `dead`, then `server` (as `c1~1`), under `faults`.
fn redial(faults: Vec<Fault>) -> Scenario {
    redial_to("server", faults)
}

/// `c1` on `client` dials the dead host `dead`, then `target` (as `c1~1`), under `faults`.
fn redial_to(target: &'static str, faults: Vec<Fault>) -> Scenario {
    Scenario::new("redial")
        .host("dead")
        .listener("server", "server", 7000, factory(|| Echo))
        .client(
            "c1",
            "client",
            "dead",
            7000,
            factory(move || Redial(target)),
        )
        .plan(FaultPlan {
            faults,
            ..FaultPlan::quiet(Seed(1))
        })
}

fn reset(conn: &str) -> FaultKind {
    FaultKind::Reset { conn: conn.into() }
}

fn after(conn: &str, callback: &str, nth: u32) -> EventTrigger {
    EventTrigger {
        conn: conn.into(),
        callback: callback.into(),
        nth,
    }
}

fn ran(scenario: &Scenario) -> RunOutcome {
    run(scenario, &scenario.plan_for(Seed(1))).expect("the plan names connections that may exist")
}

/// The `FAULT` lines of the run, as the trace writes them.
fn fault_lines(outcome: &RunOutcome) -> Vec<String> {
    (outcome.trace.events().into_iter())
        .filter_map(|e| match e.kind {
            EventKind::Fault { step, .. } => Some(step.to_string()),
            _ => None,
        })
        .collect()
}

#[test]
fn a_plan_resets_a_dialled_connection_after_its_own_connected_and_the_reset_hits_it() {
    let outcome = ran(&redial(vec![Fault::after(
        after("c1~1", "connected", 1),
        reset("c1~1"),
    )]));
    let text = outcome.trace.render_text();
    assert_eq!(fault_lines(&outcome), ["reset c1~1"], "{text}");
    assert!(
        text.contains("client c1~1 connected\n     3.000ms - - FAULT #0 reset c1~1\n"),
        "{text}"
    );
    assert_eq!(outcome.fired.get("reset"), Some(&1));
    // Reset before its `hello` went out: it never gets the echo, and both ends close.
    let dialled = callbacks_of(&outcome, "c1~1");
    assert!(
        !dialled.iter().any(|c| c.starts_with("received")),
        "{dialled:?}"
    );
    assert_eq!(dialled.last().map(String::as_str), Some("closed"), "{text}");
    let server = callbacks_of(&outcome, "server.1");
    assert!(
        !server.iter().any(|c| c.starts_with("received")),
        "{server:?}"
    );
    assert_eq!(server.last().map(String::as_str), Some("closed"), "{text}");
}

#[test]
fn a_fault_on_a_dialled_connection_that_never_exists_does_nothing_and_is_not_counted() {
    let outcome = ran(&redial(vec![
        // c1 dials once: there is no c1~2.
        Fault::at(5, reset("c1~2")),
        Fault::after(after("c1~2", "connected", 1), reset("c1")),
    ]));
    assert_eq!(
        fault_lines(&outcome),
        ["reset c1~2 (not connected: no effect)"],
        "{}",
        outcome.trace.render_text()
    );
    assert!(outcome.fired.is_empty(), "{:?}", outcome.fired);
    assert_eq!(outcome.fired_in_flight, 0);
}

#[test]
fn a_sweep_whose_only_faults_name_a_dialled_connection_that_never_exists_fired_no_fault() {
    let scenario = redial(vec![
        Fault::at(5, reset("c1~2")),
        Fault::after(after("c1~2", "received", 1), reset("c1~1")),
    ]);
    let error = Chaos::new(scenario)
        .seeds(0..3)
        .ignoring_env()
        .run()
        .expect_err("no fault fired");
    let ChaosError::NoFaultFired(pass) = &error else {
        panic!("{error}");
    };
    assert_eq!(pass.coverage().never_fired(), ["reset"], "{pass}");
}

/// A partition of `client` from `@peer` after `conn`'s 1st `callback`, for 200 ms.
fn cut_from_peer_after(conn: &str, callback: &str) -> Fault {
    let cut = FaultKind::Partition {
        a: "client".into(),
        b: PEER.into(),
        duration_ms: 200,
        one_way: false,
    };
    Fault::after(after(conn, callback, 1), cut)
}

/// Runs the redial to `target` (`server`, or `alias`, a name of `server` alone) with a
/// second listening host beside it (`spare`) and `c1~1` cut from `@peer` after its 1st
/// `callback`; asserts the cut was of `server`, the host it dials, and counted. Returns the
/// run and its trace.
fn redial_cut_from_its_peer_after(target: &'static str, callback: &str) -> (RunOutcome, String) {
    let scenario = redial_to(target, vec![cut_from_peer_after("c1~1", callback)])
        .listener("spare", "spare", 7000, factory(|| Echo))
        .name("alias", &["server"]);
    let outcome = ran(&scenario);
    let text = outcome.trace.render_text();
    assert_eq!(
        fault_lines(&outcome),
        ["partition client <-> server for 200ms", "healed"],
        "{text}"
    );
    assert_eq!(outcome.fired.get("partition"), Some(&1), "{text}");
    (outcome, text)
}

/// When `who`'s first callback that `is` came, in µs of simulated time.
fn first_at_us(outcome: &RunOutcome, text: &str, who: &str, is: fn(&Callback) -> bool) -> u64 {
    (outcome.trace.events().into_iter())
        .find(|e| e.who == who && e.callback().is_some_and(is))
        .unwrap_or_else(|| panic!("{who} never had that callback:\n{text}"))
        .at_us
}

/// `@peer` is the host the trigger's connection runs to, found as the fault fires: with a
/// second listening host beside it (`spare`), the redial `c1~1` to `server` is cut from
/// `server`, and its `hello` comes back only once the partition healed, 200 ms later.
#[test]
fn a_partition_of_the_peer_cuts_the_host_the_triggers_connection_runs_to() {
    let (outcome, text) = redial_cut_from_its_peer_after("server", "connected");
    // Held, not lost: the echo comes back after the heal.
    let echoed = first_at_us(&outcome, &text, "c1~1", |c| {
        matches!(c, Callback::Received { .. })
    });
    assert!(echoed >= 200_000, "{text}");
}

/// Fired by its connection's `connecting`, before it has a peer, `@peer` is the host the
/// connection dials (its `proxy_via`'s target, resolved as the network resolves it: a name
/// of one host is that host): the redial `c1~1`'s connect to `server` waits out the
/// partition, not `spare`'s.
#[test]
fn a_partition_of_the_peer_fired_as_a_connection_connects_cuts_the_host_it_dials() {
    for target in ["server", "alias"] {
        let (outcome, text) = redial_cut_from_its_peer_after(target, "connecting");
        let connected = first_at_us(&outcome, &text, "c1~1", |c| {
            matches!(c, Callback::Connected)
        });
        assert!(connected >= 200_000, "{target}: {text}");
    }
}

/// Runs the redial to `pool`, a name of `hosts`, with a second listening host `spare`, and
/// `c1~1` cut from `@peer` after its 1st `callback`. Returns the run and its trace.
fn pool_redial_cut_from_its_peer_after(hosts: &[&str], callback: &str) -> (RunOutcome, String) {
    let scenario = redial_to("pool", vec![cut_from_peer_after("c1~1", callback)])
        .listener("spare", "spare", 7000, factory(|| Echo))
        .name("pool", hosts);
    let outcome = ran(&scenario);
    let text = outcome.trace.render_text();
    (outcome, text)
}

/// Of a connection that dials a name of `[names]` of several hosts, whose connect tries
/// them all at once, `@peer` before it has a peer is the first host the name lists: one
/// attempt of two waits out the cut, and the other connects at once.
#[test]
fn a_partition_of_the_peer_of_a_connection_dialling_several_hosts_cuts_the_first() {
    let (outcome, text) = pool_redial_cut_from_its_peer_after(&["server", "spare"], "connecting");
    // The run ends, every client finished, before the cut heals.
    assert_eq!(
        fault_lines(&outcome),
        ["partition client <-> server for 200ms"],
        "{text}"
    );
    assert!(text.contains("c1~1 connecting(2)\n"), "{text}");
    let connected = first_at_us(&outcome, &text, "c1~1", |c| {
        matches!(c, Callback::Connected)
    });
    assert!(connected < 200_000, "{text}");
    assert!(text.contains("spare spare.1 accepted"), "{text}");
}

/// Once connected, `@peer` is the host the connection reached, whatever the name it dialled
/// lists first: of `pool` (`dead`, which runs nothing and refuses, then `spare`), `c1~1`
/// connects to `spare`, and its cut after `connected` is of `spare`.
#[test]
fn a_partition_of_the_peer_of_a_connection_to_several_hosts_cuts_the_one_it_reached() {
    let (outcome, text) = pool_redial_cut_from_its_peer_after(&["dead", "spare"], "connected");
    assert!(text.contains("spare spare.1 accepted"), "{text}");
    assert_eq!(
        fault_lines(&outcome),
        ["partition client <-> spare for 200ms", "healed"],
        "{text}"
    );
}

/// A partition of `@peer` whose trigger's connection neither is connected nor dials a host
/// of the simulation finds no peer: it cuts nothing, says so, and is not counted.
#[test]
fn a_partition_of_the_peer_of_a_connection_dialling_no_host_does_nothing() {
    let outcome = ran(&redial_to(
        "nowhere",
        vec![cut_from_peer_after("c1~1", "connect_failed")],
    ));
    let text = outcome.trace.render_text();
    assert_eq!(
        fault_lines(&outcome),
        ["partition client <-> @peer for 200ms (c1~1 dials nowhere, no host of the simulation: no effect)"],
        "{text}"
    );
    assert!(outcome.fired.is_empty(), "{:?}", outcome.fired);
}

/// `@peer` is a side of a partition fired by an event, and nothing else: refused with a time
/// for a trigger, as a crash's host, or as both sides, at its line and field.
#[test]
fn peer_is_refused_where_no_connection_fires_the_partition() {
    let cut = "kind = \"partition\"\nduration_ms = 5\n";
    let fired = "after = { conn = \"c1\", callback = \"connected\", nth = 1 }\n";
    let text = file_with_plan(&format!("{fired}{cut}a = \"@peer\"\nb = \"client\"\n"));
    assert_eq!(load_error(&text), "loaded");
    for (plan, at) in [
        (
            format!("at_ms = 1\n{cut}a = \"client\"\nb = \"@peer\"\n"),
            "bad.toml:24: plan.faults[0].b: `@peer` (the other end of the trigger's connection) \
             needs an `after` trigger",
        ),
        (
            format!("{fired}kind = \"crash\"\nhost = \"@peer\"\n"),
            "bad.toml:22: plan.faults[0].host: `@peer` (the other end of the trigger's \
             connection) is only for the `a` or `b` of a partition",
        ),
        (
            format!("{fired}{cut}a = \"@peer\"\nb = \"@peer\"\n"),
            "bad.toml:24: plan.faults[0].b: \"@peer\" is also `a`",
        ),
    ] {
        let err = load_error(&file_with_plan(&plan));
        assert!(err.starts_with(at), "{plan}: {err}");
    }
}

/// A proxy's onward connection, `proxy.1~1`, reset once it is connected: the echo cannot come
/// back, so the scenario fails; shrinking keeps that reset as the whole cause and drops the
/// noise beside it.
#[test]
fn shrinking_keeps_the_reset_of_a_dialled_connection_a_failure_needs() {
    let file = ScenarioFile::load(
        std::path::Path::new(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/scenarios/proxy-dials-onward.toml"
        )),
        &Registry::builtin(),
    )
    .expect("the scenario loads");
    let cause = Fault::after(after("proxy.1~1", "connected", 1), reset("proxy.1~1"));
    let plan = FaultPlan {
        read_chunks: Some(ReadChunks::new(7)),
        faults: vec![Fault::at(1, reset("c1~1")), cause.clone()],
        ..FaultPlan::quiet(Seed(5))
    };
    let verdict = judge(&file.scenario, &plan).expect("the plan is valid");
    assert!(!verdict.passed(), "{verdict}");
    assert!(
        fault_lines(&verdict.outcome).contains(&"reset proxy.1~1".to_string()),
        "{}",
        verdict.outcome.trace.render_text()
    );
    let shrunk = shrink_verdict(&file.scenario, &verdict);
    assert_eq!(shrunk.plan.faults, [cause], "{:?}", shrunk.steps);
    assert_eq!(shrunk.plan.read_chunks, None, "{:?}", shrunk.steps);
}

/// The lines of a scenario file with one client `c1` of an echo `server`, then `plan`.
fn file_with_plan(plan: &str) -> String {
    format!(
        "name = \"x\"\nseed = 1\n\n[[listeners]]\nname = \"server\"\nhost = \"server\"\n\
         port = 7000\nnotifier = \"echo\"\n\n[[clients]]\nname = \"c1\"\nhost = \"client\"\n\
         target = \"server\"\nport = 7000\nnotifier = \"sender\"\nparams = {{ bytes = 1 }}\n\n\
         [plan]\n[[plan.faults]]\n{plan}"
    )
}

fn load_error(text: &str) -> String {
    match ScenarioFile::parse(text, std::path::Path::new("bad.toml"), &Registry::builtin()) {
        Ok(_) => "loaded".into(),
        Err(e) => e.to_string(),
    }
}

#[test]
fn dialled_names_of_the_scenarios_diallers_load_in_a_plan() {
    for conn in [
        "c1~1",
        "c1~12",
        "server.1~1",
        "server#2.3~1",
        "server~1",
        "server#2~4",
    ] {
        let text = file_with_plan(&format!("at_ms = 1\nkind = \"reset\"\nconn = \"{conn}\"\n"));
        assert_eq!(load_error(&text), "loaded", "{conn}");
        let text = file_with_plan(&format!(
            "after = {{ conn = \"{conn}\", callback = \"connected\", nth = 1 }}\n\
             kind = \"reset\"\nconn = \"c1\"\n"
        ));
        assert_eq!(load_error(&text), "loaded", "{conn}");
    }
}

#[test]
fn a_bad_dialled_name_is_refused_at_its_file_line_and_field() {
    for (conn, why) in [
        ("c1~0", "what c1 dials is named c1~1, c1~2, ..."),
        ("c1~x", "what c1 dials is named c1~1, c1~2, ..."),
        ("c1~01", "what c1 dials is named c1~1, c1~2, ..."),
        ("c1~", "what c1 dials is named c1~1, c1~2, ..."),
        ("c1~1~1", "what c1 dials is named c1~1, c1~2, ..."),
        (
            "c9~1",
            "\"c9\" is no client, accepted connection or listener",
        ),
        (
            "server.0~1",
            "\"server.0\" is no client, accepted connection or listener",
        ),
        ("~1", "\"\" is no client, accepted connection or listener"),
    ] {
        // The fault's own connection, on line 22 of the file.
        let text = file_with_plan(&format!("at_ms = 1\nkind = \"reset\"\nconn = \"{conn}\"\n"));
        let err = load_error(&text);
        let at = format!("bad.toml:22: plan.faults[0].conn: unknown connection \"{conn}\": {why}");
        assert!(err.starts_with(&at), "{conn}: {err}");
        // A trigger's connection, on line 20.
        let text = file_with_plan(&format!(
            "after = {{ conn = \"{conn}\", callback = \"connected\", nth = 1 }}\n\
             kind = \"reset\"\nconn = \"c1\"\n"
        ));
        let err = load_error(&text);
        let at =
            format!("bad.toml:20: plan.faults[0].after.conn: unknown connection \"{conn}\": {why}");
        assert!(err.starts_with(&at), "{conn}: {err}");
    }
    // A dialled connection is a client: it gets `connected`, never `accepted`.
    let text = file_with_plan(
        "after = { conn = \"server.1~1\", callback = \"accepted\", nth = 1 }\nkind = \"reset\"\n\
         conn = \"c1\"\n",
    );
    let err = load_error(&text);
    assert!(
        err.starts_with(
            "bad.toml:20: plan.faults[0].after.callback: \"accepted\" is not a callback of a \
             dialled connection"
        ),
        "{err}"
    );
}

#[test]
fn a_plan_file_naming_a_bad_dialled_connection_is_refused_at_its_own_line() {
    let scenario = redial(Vec::new());
    let dir = std::env::temp_dir().join(format!("tcpnotify-dialled-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("plan.toml");
    std::fs::write(
        &path,
        "[[faults]]\nat_ms = 1\nkind = \"reset\"\nconn = \"c1~0\"\n",
    )
    .unwrap();
    let err = PlanFile::load(&path, &scenario).unwrap_err().to_string();
    std::fs::write(
        &path,
        "[[faults]]\nat_ms = 1\nkind = \"reset\"\nconn = \"c1~1\"\n",
    )
    .unwrap();
    let good = PlanFile::load(&path, &scenario).map(|loaded| loaded.plan.faults);
    std::fs::remove_dir_all(&dir).unwrap();
    assert!(
        err.starts_with(&format!(
            "{}:4: faults[0].conn: unknown connection \"c1~0\"",
            path.display()
        )),
        "{err}"
    );
    assert_eq!(good.unwrap(), [Fault::at(1, reset("c1~1"))]);
}

/// `[expect] delivered` names connections as plans do: a dialled one is judged by what it
/// received, and one the run never dials received nothing.
#[test]
fn an_expectation_of_bytes_delivered_may_name_a_dialled_connection() {
    let expecting = |who: &str| {
        redial(Vec::new()).expecting(Expectations {
            delivered: [(who.to_string(), 5)].into(),
            ..Expectations::default()
        })
    };
    let dialled = judge(&expecting("c1~1"), &FaultPlan::quiet(Seed(1))).expect("valid");
    assert!(dialled.passed(), "{dialled}");
    let never = judge(&expecting("c1~2"), &FaultPlan::quiet(Seed(1))).expect("valid");
    assert!(!never.passed(), "{never}");
}

/// `@peer` of a connection that dials a host running nothing (not turmoil's: the simulator
/// refuses its connects itself) cuts that host as well: `c1`'s SYN to `dead` is held until
/// the partition heals, then refused.
#[test]
fn a_partition_of_the_peer_fired_as_a_connection_connects_holds_a_connect_to_an_idle_host() {
    let outcome = ran(&redial(vec![cut_from_peer_after("c1", "connecting")]));
    let text = outcome.trace.render_text();
    assert_eq!(
        fault_lines(&outcome),
        ["partition client <-> dead for 200ms", "healed"],
        "{text}"
    );
    let failed = first_at_us(&outcome, &text, "c1", |c| {
        matches!(c, Callback::ConnectFailed(_))
    });
    assert!(failed >= 200_000, "{text}");
    assert!(text.contains("c1 connect_failed(refused)"), "{text}");
}
