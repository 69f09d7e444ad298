//! Shared pieces of the chaos demonstrations: a server that only reads, a client that resumes
//! an upload where its server says, what an echo's sweep expects, and the checks every buggy
//! notifier's sweep must pass.

use std::collections::BTreeSet;
use tcpnotify::{ConnectFailure, TcpConnection, TcpConnectionNotify};
use tcpnotify_sim::explore::{shrink_verdict, Chaos, ChaosError, ChaosFailure};
use tcpnotify_sim::fault::{EventTrigger, Fault, FaultKind, Faults};
use tcpnotify_sim::judge::judge;
use tcpnotify_sim::notifiers::pattern;
use tcpnotify_sim::{always, factory, run_state, Expectations, FaultPlan, Scenario, Seed};

/// Most seeds a sweep may need to catch a bug.
pub const MAX_SEEDS: u64 = 1000;

/// Most faults and chunking policies a shrunk plan may keep.
pub const MAX_SHRUNK_CAUSES: usize = 3;

/// Every client's echo came back whole: what a sweep of echoing notifiers expects.
pub fn echoed() -> Expectations {
    Expectations {
        echoed: true,
        ..Expectations::default()
    }
}

/// Reads everything and never writes; closes when its peer does.
#[derive(Debug, Default)]
pub struct Sink;

impl TcpConnectionNotify for Sink {
    fn connect_failed(&mut self, _conn: &mut TcpConnection, _reason: ConnectFailure) {}
}

/// How far a sweep may go to catch a bug, and to how few faults and policies its failing plan
/// must shrink: [`MAX_SEEDS`] and [`MAX_SHRUNK_CAUSES`] unless a demo says why not.
#[derive(Debug, Clone, Copy)]
pub struct Budget {
    /// Seeds swept, from 0.
    pub seeds: u64,
    /// Most faults and policies the shrunk plan may keep.
    pub shrunk_causes: usize,
}

impl Default for Budget {
    fn default() -> Self {
        Budget {
            seeds: MAX_SEEDS,
            shrunk_causes: MAX_SHRUNK_CAUSES,
        }
    }
}

/// Sweeps `scenario` over seeds `0..MAX_SEEDS` and returns the failure it must find: with
/// `signature`, in a run that fails the same way again, shrunk to at most
/// [`MAX_SHRUNK_CAUSES`] faults and policies that still fail that way.
pub fn assert_caught(scenario: &Scenario, signature: &str) -> ChaosFailure {
    assert_caught_within(scenario, signature, Budget::default())
}

/// [`assert_caught`] within `budget`.
pub fn assert_caught_within(scenario: &Scenario, signature: &str, budget: Budget) -> ChaosFailure {
    let Budget {
        seeds,
        shrunk_causes,
    } = budget;
    let failure = match Chaos::new(scenario.clone())
        .seeds(0..seeds)
        .ignoring_env()
        .run()
        .map_err(ChaosError::into_failure)
    {
        Ok(pass) => panic!("the bug was not caught in {seeds} seeds:\n{pass}"),
        Err(Err(pass)) => panic!("no fault fired in {seeds} seeds:\n{pass}"),
        Err(Ok(failure)) => failure,
    };
    // Shown with `--nocapture`: what a user of the chaos API sees.
    println!("{failure}");
    assert_eq!(failure.signature, signature, "{failure}");
    assert!(failure.deterministic, "{failure}");
    assert!(failure.seeds_run as u64 <= seeds, "{failure}");
    assert!(
        failure.shrunk.plan.size() <= shrunk_causes,
        "shrunk to {}:\n{failure}",
        failure.shrunk.cause()
    );
    let again = judge(scenario, &failure.shrunk.plan).expect("the shrunk plan runs");
    assert_eq!(
        again.signature().as_deref(),
        Some(signature),
        "the shrunk plan must fail the same way:\n{again}"
    );
    failure
}

/// Fewest seeds a fixed notifier must pass.
pub const FIX_SEEDS: u64 = 200;

/// Asserts that `scenario` (the buggy scenario with its bug fixed) passes every seed up to and
/// including the one that caught the bug, and at least [`FIX_SEEDS`]: the failures were the
/// bug's, not the scenario's.
pub fn assert_fix_passes(scenario: Scenario, caught: &ChaosFailure) {
    let seeds = 0..(caught.seed.0 + 1).max(FIX_SEEDS);
    if let Err(failure) = Chaos::new(scenario).seeds(seeds).ignoring_env().run() {
        panic!("the fixed notifier must pass the seeds that caught the bug:\n{failure}");
    }
}

/// Seeds a fixed twin sweeps by default (CI); `TCPNOTIFY_SEEDS=0..10000` sweeps the 10,000
/// the README reports.
pub const FIX_MANY_SEEDS: u64 = 300;

/// Sweeps `scenario` (a correct notifier: a buggy demo with its bug fixed, or a correct
/// style of `correct_styles_2`) over [`FIX_MANY_SEEDS`] seeds, or the seeds the environment
/// asks for, and asserts that every one passed.
pub fn assert_fix_passes_many(scenario: Scenario) {
    assert_passes_seeds(scenario, FIX_MANY_SEEDS);
}

/// [`assert_fix_passes_many`] over `seeds` seeds by default: for sweeps whose runs are too
/// long for [`FIX_MANY_SEEDS`] in CI.
pub fn assert_passes_seeds(scenario: Scenario, seeds: u64) {
    let pass = Chaos::new(scenario).seeds(0..seeds).assert_passes();
    println!("{pass}");
}

/// Asserts that `plan`, written by hand, tells the bug from its fix: `buggy` fails it with
/// `signature`, and `fixed` passes it.
pub fn assert_plan_catches(buggy: &Scenario, fixed: &Scenario, plan: &FaultPlan, signature: &str) {
    let verdict = judge(buggy, plan).expect("runs");
    assert_eq!(verdict.signature().as_deref(), Some(signature), "{verdict}");
    let verdict = judge(fixed, plan).expect("runs");
    assert!(verdict.passed(), "{verdict}");
}

/// Asserts that the swarm's plan for `seed` fails `scenario` with `signature` and shrinks to
/// one fault, which `is_cause` picks out: a seed a new draw catches, on the fault it drew.
pub fn assert_seed_shrinks_to(
    scenario: &Scenario,
    seed: Seed,
    signature: &str,
    is_cause: fn(&Fault) -> bool,
) {
    let verdict = judge(scenario, &scenario.plan_for(seed)).expect("runs");
    assert_eq!(verdict.signature().as_deref(), Some(signature), "{verdict}");
    let shrunk = shrink_verdict(scenario, &verdict);
    assert_eq!(shrunk.plan.faults.len(), 1, "{:?}", shrunk.steps);
    assert!(is_cause(&shrunk.plan.faults[0]), "{:?}", shrunk.plan);
}

/// A reset of `conn` after its `nth` `callback`: the fault a hand-written plan aims at a
/// moment the swarm may not reach.
pub fn reset_after(conn: &str, callback: &str, nth: u32) -> Fault {
    fault_after(conn, callback, nth, FaultKind::Reset { conn: conn.into() })
}

/// `kind` after the `nth` `callback` of `conn`, as a hand-written plan aims it.
pub fn fault_after(conn: &str, callback: &str, nth: u32, kind: FaultKind) -> Fault {
    let event = EventTrigger {
        conn: conn.into(),
        callback: callback.into(),
        nth,
    };
    Fault::after(event, kind)
}

/// A bound on the redials of a run that keeps failing, far above what any drawn fault takes
/// to heal.
const MAX_REDIALS: u32 = 10_000;

/// A resumable upload as its client sees it (the run's state).
#[derive(Debug, Default)]
pub struct Upload {
    /// The server said it has the whole file.
    pub done: bool,
    /// Redials so far.
    pub redials: u32,
}

/// The client of a resumable upload of `pattern(0, file)` to `server:7000`. Each connection
/// starts with the server's "have N" (8 bytes, big-endian, read with `expect(8)`); the client
/// then writes the rest of the file, `file[N..]`, in one write, and disposes of the
/// connection when "have" reaches the file's length. A connection lost (or a connect failed)
/// before that is dialled again.
struct ResumingUploader {
    file: usize,
    done: bool,
    failed_connects: FailedConnects,
    /// This connection is a redial, not the client's first.
    redialled: bool,
}

/// Which failed connects a resuming uploader dials again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailedConnects {
    /// Every one: its first connection's and its redials'.
    Redialled,
    /// Only its first connection's: a redial whose connect fails gives the upload up.
    FirstOnly,
}

impl ResumingUploader {
    fn new(file: usize, failed_connects: FailedConnects) -> Self {
        ResumingUploader {
            file,
            done: false,
            failed_connects,
            redialled: false,
        }
    }

    fn redial(&self, conn: &mut TcpConnection) {
        let Some(upload) = run_state::<Upload>() else {
            return;
        };
        let mut upload = upload.lock();
        if upload.redials >= MAX_REDIALS {
            return;
        }
        upload.redials += 1;
        let next = ResumingUploader {
            redialled: true,
            ..ResumingUploader::new(self.file, self.failed_connects)
        };
        conn.dial(next, "server", "7000");
    }
}

impl TcpConnectionNotify for ResumingUploader {
    fn connected(&mut self, conn: &mut TcpConnection) {
        let _ = conn.expect(8);
    }
    fn received(&mut self, conn: &mut TcpConnection, data: Vec<u8>, _times: usize) -> bool {
        let have = u64::from_be_bytes(data.try_into().unwrap_or_default());
        let have = usize::try_from(have).unwrap_or(usize::MAX);
        if have >= self.file {
            self.done = true;
            if let Some(upload) = run_state::<Upload>() {
                upload.lock().done = true;
            }
            conn.dispose();
        } else {
            conn.write(pattern(0, self.file)[have..].to_vec());
        }
        true
    }
    fn closed(&mut self, conn: &mut TcpConnection) {
        if !self.done {
            self.redial(conn);
        }
    }
    fn connect_failed(&mut self, conn: &mut TcpConnection, _reason: ConnectFailure) {
        if !self.redialled || self.failed_connects == FailedConnects::Redialled {
            self.redial(conn);
        }
    }
}

/// `scenario` (whose server listens on `server:7000`) with client `c1` uploading a file of
/// `file` bytes with resumes ([`Upload`]), and the property that the server eventually said
/// it had it all.
pub fn resuming_upload(scenario: Scenario, file: usize) -> Scenario {
    resuming_upload_redialling(scenario, file, FailedConnects::Redialled)
}

/// [`resuming_upload`] with a client that dials again after the failed connects
/// `failed_connects` names.
pub fn resuming_upload_redialling(
    scenario: Scenario,
    file: usize,
    failed_connects: FailedConnects,
) -> Scenario {
    let uploader = move || ResumingUploader::new(file, failed_connects);
    scenario
        .client("c1", "client", "server", 7000, factory(uploader))
        .eventually("uploaded", |run| {
            match run.state::<Upload>().is_some_and(|u| u.lock().done) {
                true => Ok(()),
                false => Err("the server never said it had the whole file".to_string()),
            }
        })
}

/// A server's store of numbered records, kept across its connections and restarts (its
/// disk): how many it holds, record 0 first.
#[derive(Debug, Default)]
pub struct Records {
    pub stored: u64,
}

/// Stores record `n` if it is the next one (`intact`: it holds its payload), asserting that
/// none is skipped; a record already stored is not stored twice. Returns how many are stored.
pub fn store_record(n: u64, intact: bool) -> u64 {
    let Some(records) = run_state::<Records>() else {
        return 0;
    };
    let mut records = records.lock();
    always(
        "no record is skipped",
        n <= records.stored,
        format_args!("record {n} arrived after {} stored", records.stored),
    );
    if n == records.stored {
        always(
            "records hold their payload",
            intact,
            format_args!("record {n} differs"),
        );
        records.stored += 1;
    }
    records.stored
}

/// The ids of the clients that completed their work (the run's state), for sweeps whose
/// clients dial again until they have: `mark_done` and `all_done`.
#[derive(Default)]
pub struct Done(BTreeSet<String>);

/// Marks `id` done in the run's state.
pub fn mark_done(id: &str) {
    if let Some(done) = run_state::<Done>() {
        done.lock().0.insert(id.to_string());
    }
}

/// `scenario` with the property that every one of `ids` eventually completed its work.
pub fn all_done(scenario: Scenario, ids: &'static [&'static str]) -> Scenario {
    scenario.eventually("all-done", move |run| {
        let done = run.state::<Done>();
        let done = done
            .as_ref()
            .map(|d| d.lock().0.clone())
            .unwrap_or_default();
        match ids.iter().find(|id| !done.contains(**id)) {
            None => Ok(()),
            Some(id) => Err(format!("{id} never completed")),
        }
    })
}

/// Lost connections allowed: every client only has to finish.
pub fn finished() -> Expectations {
    Expectations {
        finished: true,
        ..Expectations::default()
    }
}

/// `scenario` with its hand-written fault settings taken away: the swarm draws each seed's.
pub fn without_settings(scenario: Scenario) -> Scenario {
    scenario.faults(Faults::default())
}

/// Checks `data`, the next bytes back of an echo of the `len` pattern bytes a client wrote,
/// `*echoed` of which came back before (an `always` assertion named `name`), and counts them:
/// whether all of them are back now.
pub fn echo_checked(name: &str, echoed: &mut usize, len: usize, data: &[u8]) -> bool {
    let fits = *echoed + data.len() <= len;
    always(name, fits && data == pattern(*echoed, data.len()), *echoed);
    *echoed += data.len();
    *echoed == len
}
