//! A liveness bug that only shows once the faults heal. A client must deliver one report to a
//! collector, which answers `ok`; when a connect fails, or the connection ends unanswered, it
//! dials again from inside `connect_failed` or `closed` (`conn.dial`), but only twice: then
//! it gives up for good. A dashboard stays connected to the collector all along (dialling
//! again until it is), so the run goes on to its end. While the network is broken a client that keeps trying cannot deliver
//! either, so a run judged with its faults still in force cannot tell the two apart. The
//! liveness phase can: every fault heals, the run settles, and the report must eventually
//! have arrived. The client that keeps trying delivers it; the one that gave up never does.

use crate::support::{assert_caught, assert_fix_passes, assert_fix_passes_many, Sink};
use tcpnotify::{ConnectFailure, TcpConnection, TcpConnectionNotify};
use tcpnotify_sim::fault::FaultPlan;
use tcpnotify_sim::{factory, run_passing, run_state, Expectations, Scenario, Seed};

const REPORT: &[u8] = b"report: all systems nominal\n";

/// How many whole reports the collector got, in the run's shared state.
#[derive(Debug, Default)]
struct Collected {
    reports: usize,
}

/// The collector: once a connection brought a whole report, counts it and answers `ok`.
#[derive(Default)]
struct Collector {
    got: usize,
}

impl TcpConnectionNotify for Collector {
    fn received(&mut self, conn: &mut TcpConnection, data: Vec<u8>, _times: usize) -> bool {
        let before = self.got;
        self.got += data.len();
        if before < REPORT.len() && self.got >= REPORT.len() {
            if let Some(collected) = run_state::<Collected>() {
                collected.lock().reports += 1;
            }
            conn.write("ok\n");
        }
        true
    }
    fn connect_failed(&mut self, _conn: &mut TcpConnection, _reason: ConnectFailure) {}
}

/// Connections a client that gives up makes at most.
const GIVE_UP_AFTER: u32 = 3;

/// Connections the fixed client makes at most: far more than any fault the swarm draws takes
/// to heal (a refused connect takes a round trip, a partitioned one the connect timeout).
const KEEP_TRYING: u32 = 10_000;

/// The reporting client: sends the report once connected and closes once it is answered;
/// dials again when a connect fails or the connection ends unanswered, up to its limit.
struct Reporter {
    attempt: u32,
    limit: u32,
    answered: bool,
}

impl Reporter {
    fn again(&self, conn: &mut TcpConnection) {
        if self.answered || self.attempt >= self.limit {
            return;
        }
        let next = Reporter {
            attempt: self.attempt + 1,
            limit: self.limit,
            answered: false,
        };
        conn.dial(next, "collector", "7000");
    }
}

impl TcpConnectionNotify for Reporter {
    fn connected(&mut self, conn: &mut TcpConnection) {
        conn.write(REPORT);
    }
    fn received(&mut self, conn: &mut TcpConnection, _data: Vec<u8>, _times: usize) -> bool {
        self.answered = true;
        conn.close();
        true
    }
    fn closed(&mut self, conn: &mut TcpConnection) {
        self.again(conn);
    }
    fn connect_failed(&mut self, conn: &mut TcpConnection, _reason: ConnectFailure) {
        self.again(conn);
    }
}

/// The dashboard: stays connected to the collector for the whole run, dialling again until
/// it is.
struct Dashboard {
    attempt: u32,
}

impl TcpConnectionNotify for Dashboard {
    fn connect_failed(&mut self, conn: &mut TcpConnection, _reason: ConnectFailure) {
        if self.attempt < KEEP_TRYING {
            let next = Dashboard {
                attempt: self.attempt + 1,
            };
            conn.dial(next, "collector", "7001");
        }
    }
}

fn reporting(limit: u32) -> Scenario {
    Scenario::new("gives-up-too-soon")
        .listener("collector", "collector", 7000, factory(Collector::default))
        .client(
            "reporter",
            "app",
            "collector",
            7000,
            factory(move || Reporter {
                attempt: 1,
                limit,
                answered: false,
            }),
        )
        .listener("dashboards", "collector", 7001, factory(|| Sink))
        .client(
            "dashboard",
            "office",
            "collector",
            7001,
            factory(|| Dashboard { attempt: 1 }),
        )
        .duration_ms(1500)
        // The dashboard never leaves: what must hold is the report's delivery.
        .expecting(Expectations {
            finished: false,
            ..Expectations::default()
        })
        .eventually("report-delivered", |run| {
            let reports = run.state::<Collected>().map_or(0, |c| c.lock().reports);
            match reports > 0 {
                true => Ok(()),
                false => Err("the collector got no whole report".to_string()),
            }
        })
}

/// The bug hides on a quiet network: the first connect succeeds.
#[test]
fn gives_up_too_soon_passes_on_a_quiet_network() {
    let scenario = reporting(GIVE_UP_AFTER).plan(FaultPlan::quiet(Seed(1)));
    run_passing(&scenario, Seed(1));
}

/// Caught with no fault settings written, by the liveness phase: after every fault healed the
/// report still has not arrived. The client that keeps trying passes the same seeds.
#[test]
fn gives_up_too_soon_is_caught_after_the_faults_heal() {
    let failure = assert_caught(&reporting(GIVE_UP_AFTER), "report-delivered");
    assert!(
        failure.to_string().contains("healed"),
        "the failure must say the faults had healed:\n{failure}"
    );
    assert_fix_passes(reporting(KEEP_TRYING), &failure);
}

/// The fixed client passes many seeds (`TCPNOTIFY_SEEDS` sweeps more).
#[test]
fn keeps_trying_passes_many_seeds() {
    assert_fix_passes_many(reporting(KEEP_TRYING));
}
