//! Chaos testing a notifier from a plain `#[test]`: sweep a scenario over many seeds, each
//! with its own generated fault plan, and on the first failure shrink its plan and report
//! everything needed to understand and re-run it.
//!
//! ```no_run
//! use tcpnotify_sim::{factory, Chaos, Scenario};
//! use tcpnotify_sim::notifiers::{Echo, Sender};
//!
//! // In a `#[test]` function. No fault settings written: each seed draws its own (swarm).
//! let scenario = Scenario::new("echo")
//!     .listener("server", "server", 7000, factory(|| Echo))
//!     .client("c1", "client", "server", 7000, factory(|| Sender::pattern(4096)));
//! let pass = Chaos::new(scenario).seeds(0..200).assert_passes();
//! println!("{}", pass.coverage()); // what the seeds exercised
//! ```
//!
//! # No silent green
//! A sweep in which no fault fired tested only the fault-free path, however many seeds it ran:
//! [`Chaos::run`] returns [`ChaosError::NoFaultFired`] (and [`Chaos::assert_passes`] panics)
//! with the coverage report, which lists every enabled fault kind that never fired, unless the
//! test opts out with [`Chaos::allow_no_faults`] (then it passes with a warning on stderr).
//! Re-running one seed with `TCPNOTIFY_SEED` passes with the warning too: one seed may draw
//! no fault.
//!
//! # Environment
//! The environment overrides the code, so CI can sweep more seeds, fresh seeds, or reproduce
//! one without code changes; each variable does what the `sweep` flag of the same name does
//! (the table is in `explore/env.rs`):
//! - `TCPNOTIFY_SEEDS=A..B` replaces the seed range (e.g. a nightly job with
//!   `TCPNOTIFY_SEEDS=0..100000`); `TCPNOTIFY_SEEDS=random` runs fresh seeds, as many as the
//!   test's own range holds unless `TCPNOTIFY_COUNT=N` or `TCPNOTIFY_BUDGET=10m` says
//!   otherwise, and prints the generator first (`TCPNOTIFY_SEEDS=random:G` runs them again);
//! - `TCPNOTIFY_SEED=N` runs exactly seed `N`: the repro line of a failure sets it;
//!   it wins over `TCPNOTIFY_SEEDS`;
//! - `TCPNOTIFY_BUDGET=10m` starts no seed after ten minutes; `TCPNOTIFY_SEED_TIMEOUT=30s`
//!   stops a seed that runs longer and fails the test with it;
//! - `TCPNOTIFY_JOBS=N` sets the number of worker threads (default: one per core);
//! - `TCPNOTIFY_VERBOSE=1` prints each seed on stderr before it runs;
//! - `TCPNOTIFY_CHECK_DETERMINISM=1` runs every failing seed and one passing seed in 16
//!   twice and fails on a difference (`=N`: one in N, `=all`: every seed).
//!
//! A value that does not parse stops the test with a message naming the variable.
//!
//! # Regressions
//! Each shrunk failure of [`Chaos::assert_passes`] is saved as a plan file in
//! `regressions/<scenario name>/seed-<N>.toml` beside the test's source file (a name of other
//! characters than letters, digits, `-`, `_` and `.` made safe, with a hash), and every run
//! replays the saved plans first, before the sweep; a saved plan that passes stays. Nothing is
//! written when `CI` is set. [`Chaos::regressions`] names another folder and
//! [`Chaos::without_regressions`] turns this off; `explore/regressions.rs` has the details.

use super::env::{EnvError, EnvOverrides};
use super::lost_hint::LostConnectionsHint;
use super::regressions::{in_ci, Failure, Regressions, SaveOutcome, Saved};
use super::rerun::Rerun;
use super::seeds::SeedSet;
use super::shrink::ShrinkResult;
use super::sweep::{default_jobs, sweep, SweepOptions};
use super::sweep_report::{FailureKind, SweepFailure, SweepReport};
use super::testing::repro_line;
use crate::judge::listing::FailureTexts;
use crate::judge::Coverage;
use crate::judge::{judge, signature_of, Verdict};
use crate::run::RunError;
use crate::scenario::Scenario;
use crate::seed::Seed;
use std::fmt;
use std::ops::Range;
use std::panic::Location;
use std::path::PathBuf;

/// How many trailing trace lines a failure shows.
const TRACE_TAIL_LINES: usize = 30;

/// A chaos test of one scenario: its notifiers, workload, expectations and fault settings,
/// swept over a range of seeds.
///
/// Defaults: seeds `0..100`, one job per core, the environment's overrides honoured, no
/// progress bar, sometimes-assertions that never held reported but not failing.
#[derive(Debug, Clone)]
pub struct Chaos {
    scenario: Scenario,
    seeds: Range<u64>,
    jobs: usize,
    from_env: bool,
    progress: bool,
    allow_no_faults: bool,
    require_sometimes: bool,
    regressions: Regressions,
}

impl Chaos {
    /// Chaos tests `scenario`; its fault settings draw each seed's plan (an explicit plan in
    /// the scenario would make every seed run that one plan). Its saved regressions are
    /// beside the caller's source file (see the module docs).
    #[track_caller]
    pub fn new(scenario: Scenario) -> Self {
        Chaos {
            scenario,
            seeds: 0..100,
            jobs: default_jobs(),
            from_env: true,
            progress: false,
            allow_no_faults: false,
            require_sometimes: false,
            regressions: Regressions::NextTo(Location::caller()),
        }
    }

    /// Accepts a sweep in which no fault fired (it passes with a warning on stderr instead of
    /// failing): for a scenario meant to run quiet, such as `FaultSettings::quiet()`.
    pub fn allow_no_faults(mut self) -> Self {
        self.allow_no_faults = true;
        self
    }

    /// Keeps this test's regressions in `dir` (files `seed-<N>.toml`) instead of
    /// `regressions/<scenario name>/` beside the test's source file.
    pub fn regressions(mut self, dir: impl Into<PathBuf>) -> Self {
        self.regressions = Regressions::At(dir.into());
        self
    }

    /// Neither replays saved regressions nor saves new ones.
    pub fn without_regressions(mut self) -> Self {
        self.regressions = Regressions::Off;
        self
    }

    /// The folder of this test's regressions, if it has one (see the module docs).
    pub fn regressions_dir(&self) -> Option<PathBuf> {
        self.regressions.dir(&self.scenario.name)
    }

    /// Sweeps `seeds` (unless `TCPNOTIFY_SEEDS` or `TCPNOTIFY_SEED` say otherwise).
    pub fn seeds(mut self, seeds: Range<u64>) -> Self {
        self.seeds = seeds;
        self
    }

    /// Runs `jobs` seeds at once (unless `TCPNOTIFY_JOBS` says otherwise).
    pub fn jobs(mut self, jobs: usize) -> Self {
        self.jobs = jobs.max(1);
        self
    }

    /// Shows a progress bar on stderr when it is a terminal (with the `progress` feature,
    /// which the default `cli` feature turns on; without it, nothing is drawn).
    pub fn progress(mut self, show: bool) -> Self {
        self.progress = show;
        self
    }

    /// Makes [`assert_passes`](Self::assert_passes) fail when a `sometimes` or `reachable`
    /// assertion (one the notifiers evaluated, or one the scenario declared with
    /// [`Scenario::sometimes`]) held in no run of the sweep: the sweep never reached the
    /// state it names. Without it such assertions are only reported, in the coverage.
    pub fn require_sometimes(mut self) -> Self {
        self.require_sometimes = true;
        self
    }

    /// Ignores `TCPNOTIFY_SEEDS`, `TCPNOTIFY_SEED` and `TCPNOTIFY_JOBS`: for tests whose
    /// assertions depend on the exact seeds swept.
    pub fn ignoring_env(mut self) -> Self {
        self.from_env = false;
        self
    }

    /// The sweep this chaos test will run, after the environment's overrides (see the
    /// module docs). `TCPNOTIFY_SEEDS=random` draws its generator here.
    pub fn resolved(&self) -> Result<SweepOptions, EnvError> {
        Ok(self.resolve_with(self.env()?))
    }

    /// The environment's overrides, or none if the test ignores them.
    fn env(&self) -> Result<EnvOverrides, EnvError> {
        match self.from_env {
            true => EnvOverrides::from_process(),
            false => Ok(EnvOverrides::default()),
        }
    }

    /// The sweep this chaos test runs under the overrides `env`.
    fn resolve_with(&self, env: EnvOverrides) -> SweepOptions {
        let code_count = self.seeds.end.saturating_sub(self.seeds.start);
        let seeds = match env.seeds {
            // Fresh seeds, as many as the test's own range unless a budget sets the end.
            Some(SeedSet::Random {
                generator,
                count: None,
            }) if env.budget.is_none() => SeedSet::Random {
                generator,
                count: Some(code_count),
            },
            Some(set) => set,
            None => SeedSet::from(self.seeds.clone()),
        };
        SweepOptions {
            jobs: env.jobs.unwrap_or(self.jobs),
            progress: self.progress,
            verbose: env.verbose,
            budget: env.budget,
            seed_timeout: env.seed_timeout,
            check_determinism: env.check_determinism,
            ..SweepOptions::new(seeds)
        }
    }

    /// Replays the saved regressions, then sweeps the seeds; on the first failing regression
    /// or seed, re-runs it for its trace, shrinks its plan and returns everything as a
    /// [`ChaosFailure`] ([`ChaosError::Failed`]). A sweep in which every seed passed but no
    /// fault fired is an error too ([`ChaosError::NoFaultFired`]), unless
    /// [`allow_no_faults`](Self::allow_no_faults) or `TCPNOTIFY_SEED` (one seed re-run) say
    /// otherwise. Writes nothing: saving a new regression is
    /// [`assert_passes`](Self::assert_passes)'s.
    ///
    /// # Panics
    /// If an environment override does not parse, or a saved regression cannot be read or no
    /// longer fits the scenario (see the module docs).
    // Returned once per test: boxing it would only make matching on it clumsier.
    #[allow(clippy::result_large_err)]
    pub fn run(&self) -> Result<ChaosPass, ChaosError> {
        let env = self.env().unwrap_or_else(|e| panic!("{e}"));
        // One seed run again (a repro line): whether faults fired is not the question.
        let rerun = env.one_seed;
        self.run_with(&self.resolve_with(env), rerun)
    }

    // As `run`: returned once per test.
    #[allow(clippy::result_large_err)]
    fn run_with(&self, options: &SweepOptions, rerun: bool) -> Result<ChaosPass, ChaosError> {
        let saved = self
            .replay(options)
            .map_err(|failure| ChaosError::Failed(Box::new(failure)))?;
        if let SeedSet::Random { .. } = options.seeds {
            // Up front, so the seeds can be run again even if the test never ends.
            eprintln!(
                "chaos: scenario {}: seeds {}{}; run them again with {}",
                self.scenario.name,
                options.seeds,
                options
                    .seeds
                    .len()
                    .map_or(String::new(), |n| format!(" ({n} seeds)")),
                env_form(&options.seeds)
            );
        }
        let mut report = sweep(&self.scenario, options);
        for failure in &mut report.failures {
            failure.repro = Some(repro_line(failure.seed));
        }
        if let Some(failure) = report.failures.first() {
            let plan = self.scenario.plan_for(failure.seed);
            return Err(ChaosError::Failed(Box::new(
                self.explain(failure, plan, &report, None),
            )));
        }
        let pass = ChaosPass {
            scenario: self.scenario.name.clone(),
            report,
            regressions: saved,
        };
        if !pass.coverage().no_fault_fired() {
            return Ok(pass);
        }
        if self.allow_no_faults || rerun {
            eprintln!("{pass}");
            return Ok(pass);
        }
        Err(ChaosError::NoFaultFired(Box::new(pass)))
    }

    /// Runs the chaos test (saved regressions first) and panics with the failure's report if
    /// a regression or a seed fails, after saving a new failure's shrunk plan as a regression
    /// (not under `CI`; see the module docs), or if no fault fired (see [`run`](Self::run)).
    ///
    /// # Panics
    /// With [`ChaosError`]'s report if a regression or a seed fails or no fault fired; with the coverage if
    /// [`require_sometimes`](Self::require_sometimes) is set and a sometimes-assertion held
    /// in no run; or if an environment override or a saved regression cannot be used.
    pub fn assert_passes(&self) -> ChaosPass {
        self.assert_passes_in(in_ci())
    }

    /// [`assert_passes`](Self::assert_passes), in CI or not.
    fn assert_passes_in(&self, ci: bool) -> ChaosPass {
        match self.run() {
            Ok(pass) if self.require_sometimes && !pass.never_met().is_empty() => panic!(
                "chaos: scenario {}: sometimes-assertions that held in none of the {} runs: \
                 {}\n{pass}",
                pass.scenario,
                pass.seeds_run(),
                pass.never_met().join(", ")
            ),
            Ok(pass) => pass,
            Err(ChaosError::Failed(failure)) => panic!("{failure}\n{}", self.save(&failure, ci)),
            Err(error) => panic!("{error}"),
        }
    }

    /// Replays the saved regressions, in seed order: the first that fails is the test's
    /// failure; otherwise their files, every one passing.
    // As `run`: returned once per test.
    #[allow(clippy::result_large_err)]
    fn replay(&self, options: &SweepOptions) -> Result<Vec<PathBuf>, ChaosFailure> {
        let saved = self
            .regressions
            .load(&self.scenario)
            .unwrap_or_else(|e| panic!("{e}"));
        for Saved { path, plan } in &saved {
            let result = judge(&self.scenario, plan);
            let Some(signature) = signature_of(&result) else {
                continue;
            };
            let failure = SweepFailure {
                seed: plan.seed,
                index: 0,
                kind: FailureKind::Failed,
                summary: match &result {
                    Ok(verdict) => verdict.failures.first().map(|f| f.to_string()),
                    Err(e) => Some(e.to_string()),
                }
                .unwrap_or_default(),
                signature,
                repro: None,
            };
            // No seed of the sweep ran.
            let report = SweepReport::empty(&self.scenario.name, options.seeds.clone(), None);
            let mut explained = self.explain(&failure, plan.clone(), &report, Some(result));
            explained.regression = Some(path.clone());
            return Err(explained);
        }
        Ok(saved.into_iter().map(|s| s.path).collect())
    }

    /// Saves `failure` as a regression if it is one to replay (it failed the same way twice,
    /// and was not itself replayed), and says what happened, for the failure's report.
    fn save(&self, failure: &ChaosFailure, ci: bool) -> String {
        if let Some(path) = &failure.regression {
            return format!(
                "regression: replayed from {} (it is kept until deleted)",
                path.display()
            );
        }
        if failure.kind != FailureKind::Failed || !failure.deterministic {
            return "regression: not saved (only a failure that repeats is replayed)".into();
        }
        let saved = self.regressions.save(
            &Failure {
                scenario: &self.scenario.name,
                seed: failure.seed,
                signature: &failure.signature,
                first: failure.failures.first().map_or("", String::as_str),
                plan: &failure.plan,
                shrunk: &failure.shrunk.plan,
            },
            ci,
        );
        match saved {
            Ok(SaveOutcome::Saved(path)) => format!(
                "regression: saved as {}; every run of this test replays it first",
                path.display()
            ),
            Ok(SaveOutcome::NotSaved(why)) => format!("regression: not saved: {why}"),
            Err(e) => format!("regression: not saved: {e}"),
        }
    }

    /// The failure of a seed, run again for its trace (or `judged`, a run already judged
    /// again) and shrunk if it failed the same way ([`Rerun`]: not a seed that timed out, each
    /// of its runs would take as long again).
    fn explain(
        &self,
        failure: &SweepFailure,
        plan: crate::fault::FaultPlan,
        report: &SweepReport,
        judged: Option<Result<Verdict, RunError>>,
    ) -> ChaosFailure {
        let rerun = Rerun::of(&self.scenario, failure, &plan, judged);
        let (mut failures, trace_tail): (Vec<String>, String) = match &rerun.result {
            None => (Vec::new(), String::new()),
            Some(Ok(verdict)) => (
                verdict.failures.iter().map(|f| f.to_string()).collect(),
                verdict.outcome.trace.render_tail(TRACE_TAIL_LINES),
            ),
            Some(Err(e)) => (vec![e.to_string()], String::new()),
        };
        if matches!(
            failure.kind,
            FailureKind::Nondeterministic | FailureKind::TimedOut
        ) {
            failures.insert(0, failure.summary.clone());
        }
        let shrunk = rerun.shrink(&self.scenario);
        // An unshrunk plan still holds faults the failure may not need: no hint from it.
        let lost_connections = (shrunk.as_ref().ok())
            .and_then(|shrunk| LostConnectionsHint::of(&self.scenario, &shrunk.plan));
        let shrunk = shrunk.unwrap_or_else(|why| ShrinkResult {
            plan: plan.clone(),
            runs: 0,
            steps: vec![format!("not shrunk: {why}")],
        });
        ChaosFailure {
            scenario: self.scenario.name.clone(),
            seed: failure.seed,
            kind: failure.kind,
            signature: failure.signature.clone(),
            // A seed that timed out was not run again: it is taken to time out every time.
            deterministic: rerun.repeated || failure.kind == FailureKind::TimedOut,
            seeds_run: report.seeds_run,
            failures,
            trace_tail,
            plan,
            shrunk,
            lost_connections,
            coverage: report.coverage.clone(),
            repro: repro_line(failure.seed),
            regression: None,
        }
    }
}

/// Why a chaos test did not pass.
#[derive(Debug, Clone)]
pub enum ChaosError {
    /// A seed failed: the lowest failing seed, re-run and shrunk.
    Failed(Box<ChaosFailure>),
    /// Every seed passed, but no fault fired in any of them: the sweep tested only the
    /// fault-free path. The pass, with its coverage report (which lists every enabled fault
    /// kind that never fired).
    NoFaultFired(Box<ChaosPass>),
}

impl ChaosError {
    /// The failing seed's report, if a seed failed.
    pub fn failure(&self) -> Option<&ChaosFailure> {
        match self {
            ChaosError::Failed(failure) => Some(failure),
            ChaosError::NoFaultFired(_) => None,
        }
    }

    /// The failing seed's report, or the pass in which no fault fired.
    // Called once per test, as `run` is.
    #[allow(clippy::result_large_err)]
    pub fn into_failure(self) -> Result<ChaosFailure, ChaosPass> {
        match self {
            ChaosError::Failed(failure) => Ok(*failure),
            ChaosError::NoFaultFired(pass) => Err(*pass),
        }
    }
}

impl fmt::Display for ChaosError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ChaosError::Failed(failure) => write!(f, "{failure}"),
            ChaosError::NoFaultFired(pass) => write!(
                f,
                "chaos: scenario {} FAILED: no fault fired in any of its {} seed(s), so it \
                 tested only the fault-free path. Leave the fault settings unwritten (each seed \
                 then draws its own), raise their probabilities or sweep more seeds; or call \
                 `.allow_no_faults()` if the scenario is meant to run quiet.\n{}",
                pass.scenario,
                pass.seeds_run(),
                pass.report
            ),
        }
    }
}

impl std::error::Error for ChaosError {}

/// A chaos test that passed: how much it ran and what it exercised.
#[derive(Debug, Clone)]
pub struct ChaosPass {
    /// The scenario's name.
    pub scenario: String,
    /// The whole sweep report (with its timing).
    pub report: SweepReport,
    /// The saved regressions replayed before the sweep, every one passing.
    pub regressions: Vec<PathBuf>,
}

impl ChaosPass {
    /// Seeds run.
    pub fn seeds_run(&self) -> usize {
        self.report.seeds_run
    }

    /// What the runs exercised.
    pub fn coverage(&self) -> &Coverage {
        &self.report.coverage
    }

    /// The `sometimes` and `reachable` assertions that held in no run (see
    /// [`Chaos::require_sometimes`]).
    pub fn never_met(&self) -> Vec<&str> {
        self.report.coverage.assertions.never_met()
    }
}

impl fmt::Display for ChaosPass {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if !self.regressions.is_empty() {
            writeln!(
                f,
                "chaos: scenario {}: {} saved regression(s) replayed first, all passing",
                self.scenario,
                self.regressions.len()
            )?;
        }
        write!(f, "chaos: scenario {}: {}", self.scenario, self.report)
    }
}

/// A chaos test that failed: the first failing seed, why, and its shrunk plan.
#[derive(Debug, Clone)]
pub struct ChaosFailure {
    /// The scenario's name.
    pub scenario: String,
    /// The lowest failing seed.
    pub seed: Seed,
    /// What kind of failure it had.
    pub kind: FailureKind,
    /// Its first failure's signature (rule id or property name).
    pub signature: String,
    /// Whether re-running the seed failed the same way (it must: runs are deterministic).
    pub deterministic: bool,
    /// Seeds run, up to and including the failing one.
    pub seeds_run: usize,
    /// Every failure of the seed's run, first first.
    pub failures: Vec<String>,
    /// The last trace lines of the seed's run.
    pub trace_tail: String,
    /// The seed's generated plan.
    pub plan: crate::fault::FaultPlan,
    /// The shrunk plan and how it was found.
    pub shrunk: ShrinkResult,
    /// Set when the shrunk plan still loses connections to faults the swarm drew only because
    /// the scenario's expectations allow lost connections: the report names the setting that
    /// turns them off.
    pub lost_connections: Option<LostConnectionsHint>,
    /// What the seeds run exercised.
    pub coverage: Coverage,
    /// The command that re-runs this test with this seed only.
    pub repro: String,
    /// The saved regression this failure was replayed from, before the sweep (which then
    /// did not run).
    pub regression: Option<PathBuf>,
}

/// The environment variables that make a chaos test sweep `seeds`.
fn env_form(seeds: &SeedSet) -> String {
    use super::env::{COUNT_VAR, SEEDS_VAR};
    match seeds {
        SeedSet::Random {
            count: Some(count), ..
        } => format!("{SEEDS_VAR}={seeds} {COUNT_VAR}={count}"),
        _ => format!("{SEEDS_VAR}={seeds}"),
    }
}

impl ChaosFailure {
    /// The shrunk plan as TOML (for a scenario file's `plan`, or `Scenario::plan`).
    pub fn plan_toml(&self) -> String {
        self.shrunk
            .plan
            .to_toml()
            .unwrap_or_else(|e| format!("# the plan cannot be written as TOML: {e}\n"))
    }
}

impl fmt::Display for ChaosFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.regression {
            Some(path) => writeln!(
                f,
                "chaos: scenario {} FAILED with seed {} [{}]: the saved regression {}, \
                 replayed before the sweep",
                self.scenario,
                self.seed,
                self.signature,
                path.display()
            )?,
            None => writeln!(
                f,
                "chaos: scenario {} FAILED with seed {} [{}] (seed {} of the sweep)",
                self.scenario, self.seed, self.signature, self.seeds_run
            )?,
        }
        if !self.deterministic {
            writeln!(
                f,
                "WARNING: re-running the seed did not fail the same way: the run is not \
                 deterministic"
            )?;
        }
        if !self.failures.is_empty() {
            let failures = FailureTexts(&self.failures, "`ChaosError::failures` holds every one");
            writeln!(f, "{}", failures.to_string().trim_start_matches('\n'))?;
        }
        writeln!(f, "\nplan of seed {}:\n{}", self.seed, self.plan.describe())?;
        writeln!(
            f,
            "last {TRACE_TAIL_LINES} trace lines:\n{}",
            self.trace_tail
        )?;
        writeln!(f, "{}\n", self.shrunk)?;
        if let Some(hint) = &self.lost_connections {
            writeln!(f, "{hint}\n")?;
        }
        writeln!(f, "shrunk plan (TOML):\n{}", self.plan_toml())?;
        writeln!(f, "{}\n", self.coverage.of_failing_sweep())?;
        write!(f, "reproduce: {}", self.repro)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::explore::env::SEED_VAR;
    use crate::fault::{FaultSettings, Span, Swarm};
    use crate::scenario::Expectations;

    fn echo(settings: FaultSettings, expectations: Expectations) -> Scenario {
        Scenario::echo("chaos-echo", 512, 128)
            .faults(settings)
            .expecting(expectations)
    }

    /// An echo whose every seed fails [echoed], swept over seeds 3..5 with its regressions in
    /// `dir`.
    fn always_failing(dir: &std::path::Path) -> Chaos {
        let scenario = echo(
            FaultSettings {
                resets: 1.0,
                reset_after_received: Span::new(1, 2),
                ..FaultSettings::default()
            },
            Expectations {
                echoed: true,
                ..Expectations::default()
            },
        );
        Chaos::new(scenario)
            .seeds(3..5)
            .jobs(1)
            .ignoring_env()
            .regressions(dir)
    }

    /// The message `assert_passes` panicked with.
    fn panic_of(chaos: &Chaos, ci: bool) -> String {
        let panic =
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| chaos.assert_passes_in(ci)))
                .expect_err("the test fails");
        panic
            .downcast_ref::<String>()
            .cloned()
            .expect("a formatted message")
    }

    #[test]
    fn a_failure_of_assert_passes_is_saved_and_replayed_first_on_the_next_run() {
        let dir = tempfile::tempdir().unwrap();
        let chaos = always_failing(dir.path());
        let message = panic_of(&chaos, false);
        let path = dir.path().join("seed-3.toml");
        assert!(
            message.contains(&format!("regression: saved as {}", path.display())),
            "{message}"
        );
        let saved = crate::scenario::PlanFile::load(&path, &chaos.scenario).expect("a plan file");
        assert_eq!(saved.seed, Some(Seed(3)));
        assert_eq!(saved.plan.faults.len(), 1, "the shrunk plan");
        // The next run replays it before sweeping anything.
        let failure = (chaos.run().expect_err("the regression still fails"))
            .into_failure()
            .expect("a failure, not a sweep without faults");
        assert_eq!(failure.regression.as_ref(), Some(&path));
        assert_eq!((failure.seed, failure.seeds_run), (Seed(3), 0));
        assert_eq!(failure.signature, "echoed");
        assert_eq!(failure.plan, saved.plan);
        let text = failure.to_string();
        assert!(text.contains("the saved regression"), "{text}");
        // Failing again from the file, it is not saved twice.
        let message = panic_of(&chaos, false);
        assert!(message.contains("regression: replayed from"), "{message}");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[test]
    fn under_ci_a_failure_is_not_saved_and_the_report_says_so() {
        let dir = tempfile::tempdir().unwrap();
        let message = panic_of(&always_failing(&dir.path().join("r")), true);
        assert!(
            message.contains("regression: not saved: CI is set"),
            "{message}"
        );
        assert!(message.contains("shrunk plan (TOML):"), "{message}");
        assert!(!dir.path().join("r").exists());
    }

    /// A regressions folder holding one saved plan, seed 9's with no faults, and that file.
    fn one_saved_quiet_regression() -> (tempfile::TempDir, std::path::PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("seed-9.toml");
        let quiet = crate::fault::FaultPlan::quiet(Seed(9));
        std::fs::write(&path, quiet.to_toml().unwrap()).unwrap();
        (dir, path)
    }

    #[test]
    fn a_saved_regression_that_passes_is_replayed_and_kept() {
        let (dir, path) = one_saved_quiet_regression();
        let scenario = echo(
            FaultSettings {
                slow_close: 1.0,
                ..FaultSettings::default()
            },
            Expectations::default(),
        );
        let pass = Chaos::new(scenario)
            .seeds(0..2)
            .jobs(1)
            .ignoring_env()
            .regressions(dir.path())
            .assert_passes_in(false);
        assert_eq!(pass.regressions, std::slice::from_ref(&path));
        assert_eq!(pass.seeds_run(), 2);
        assert!(path.exists());
        assert!(
            pass.to_string()
                .contains("1 saved regression(s) replayed first, all passing"),
            "{pass}"
        );
    }

    /// The first failure of `scenario` over seeds 0..100 (one job, no regressions).
    fn first_failure(scenario: Scenario) -> ChaosFailure {
        Chaos::new(scenario)
            .seeds(0..100)
            .jobs(1)
            .ignoring_env()
            .without_regressions()
            .run()
            .expect_err("a seed fails")
            .into_failure()
            .expect("a failure, not a sweep without faults")
    }

    /// A swarm-tested echo whose own property wants the whole echo back, which no
    /// expectation says: the swarm draws resets, which lose it.
    fn whole_echo_by_property() -> Scenario {
        Scenario::echo("whole-echo", 512, 128).property("whole-echo", |run| {
            run.connection("c1").map(|c1| c1.received_bytes) == Some(512)
        })
    }

    #[test]
    fn a_failure_shrunk_to_a_reset_or_crash_the_swarm_drew_for_the_expectations_names_the_setting()
    {
        let failure = first_failure(whole_echo_by_property());
        assert_eq!(failure.signature, "whole-echo", "{failure}");
        let lost: Vec<&str> = (failure.shrunk.plan.faults.iter())
            .map(|f| f.kind.name())
            .filter(|kind| ["reset", "crash"].contains(kind))
            .collect();
        assert!(!lost.is_empty(), "{failure}");
        assert_eq!(
            failure.lost_connections.as_ref().map(|h| &h.kinds[..]),
            Some(&lost[..])
        );
        let text = failure.to_string();
        assert!(
            text.contains("hint: the shrunk plan still loses connections (a "),
            "{text}"
        );
        assert!(
            text.contains("`.faults(Swarm::lost_connections(false))`"),
            "{text}"
        );
    }

    #[test]
    fn a_failure_without_such_a_reset_or_with_resets_asked_for_has_no_hint() {
        // Fails whatever the faults: shrunk to no fault at all.
        let always = Scenario::echo("never", 64, 64).property("never", |_| false);
        let failure = first_failure(always);
        assert!(failure.shrunk.plan.faults.is_empty(), "{failure}");
        // Resets asked for whatever the expectations say: they are the scenario's choice.
        let asked = first_failure(whole_echo_by_property().faults(Swarm::lost_connections(true)));
        assert!(
            (asked.shrunk.plan.faults.iter()).any(|f| ["reset", "crash"].contains(&f.kind.name())),
            "{asked}"
        );
        for failure in [failure, asked] {
            assert_eq!(failure.lost_connections, None, "{failure}");
            assert!(!failure.to_string().contains("hint:"), "{failure}");
        }
    }

    #[test]
    fn without_regressions_nothing_is_replayed_or_saved() {
        let dir = tempfile::tempdir().unwrap();
        let chaos = always_failing(dir.path()).without_regressions();
        assert_eq!(chaos.regressions_dir(), None);
        let message = panic_of(&chaos, false);
        assert!(message.contains("regression: not saved"), "{message}");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    }

    #[test]
    fn the_environment_sizes_fresh_seeds_by_the_tests_own_range_unless_told() {
        use std::time::Duration;
        let chaos = Chaos::new(Scenario::echo("env", 16, 16))
            .seeds(0..40)
            .jobs(3);
        let random = SeedSet::Random {
            generator: Seed(5),
            count: None,
        };
        let options = chaos.resolve_with(EnvOverrides {
            seeds: Some(random.clone()),
            seed_timeout: Some(Duration::from_secs(30)),
            verbose: true,
            check_determinism: Some(16),
            ..EnvOverrides::default()
        });
        assert_eq!(
            options.seeds,
            SeedSet::Random {
                generator: Seed(5),
                count: Some(40)
            }
        );
        assert_eq!(options.jobs, 3);
        assert_eq!(options.seed_timeout, Some(Duration::from_secs(30)));
        assert!(options.verbose);
        assert_eq!(options.check_determinism, Some(16));
        // With a budget, fresh seeds go on until it is spent.
        let budgeted = chaos.resolve_with(EnvOverrides {
            seeds: Some(random.clone()),
            budget: Some(Duration::from_secs(60)),
            jobs: Some(1),
            ..EnvOverrides::default()
        });
        assert_eq!(budgeted.seeds, random);
        assert_eq!(budgeted.jobs, 1);
        assert_eq!(
            chaos.resolve_with(EnvOverrides::default()).seeds,
            SeedSet::from(0..40)
        );
    }

    #[test]
    fn a_seed_past_its_timeout_fails_the_test_unshrunk_with_its_repro_line() {
        use std::time::Duration;
        let slow = super::super::test_scenarios::never_finishing();
        let chaos = Chaos::new(slow).ignoring_env();
        let failure = chaos
            .run_with(
                &SweepOptions {
                    seed_timeout: Some(Duration::from_millis(1)),
                    jobs: 1,
                    ..SweepOptions::new(4..6)
                },
                false,
            )
            .expect_err("every seed outlasts a millisecond")
            .into_failure()
            .expect("a failing seed");
        assert_eq!(failure.seed, Seed(4));
        assert_eq!(failure.kind, FailureKind::TimedOut);
        assert_eq!(failure.shrunk.runs, 0);
        assert!(
            failure.repro.starts_with("TCPNOTIFY_SEED=4 cargo test"),
            "{failure}"
        );
        assert!(failure.to_string().contains("[seed_timeout]"), "{failure}");
    }

    #[test]
    fn a_run_that_cannot_start_fails_the_same_way_every_time() {
        use crate::fault::{Fault, FaultKind, FaultPlan};
        // An explicit plan naming a host the scenario does not have: the runner refuses it.
        let scenario = Scenario::echo("chaos-bad-plan", 64, 64).plan(FaultPlan {
            faults: vec![Fault::at(
                0,
                FaultKind::Crash {
                    host: "nowhere".into(),
                    restart_after_ms: None,
                },
            )],
            ..FaultPlan::quiet(Seed(0))
        });
        let failure = Chaos::new(scenario)
            .seeds(0..3)
            .jobs(1)
            .ignoring_env()
            .run()
            .map_err(ChaosError::into_failure)
            .expect_err("the plan is invalid at every seed")
            .expect("a seed failed");
        assert_eq!(failure.signature, crate::judge::RUN_ERROR);
        assert!(failure.deterministic, "{failure}");
        assert!(failure.failures[0].contains("nowhere"), "{failure}");
    }

    /// A quiet echo whose property `counted` fails in the runs `fails` picks (by how many
    /// judgements came before), counting every judgement in `judged`.
    fn counted(
        judged: &std::sync::Arc<std::sync::atomic::AtomicUsize>,
        fails: fn(usize) -> bool,
    ) -> Scenario {
        let judged = judged.clone();
        Scenario::echo("chaos-counted", 64, 64)
            .faults(FaultSettings::quiet())
            .property("counted", move |_| {
                !fails(judged.fetch_add(1, std::sync::atomic::Ordering::SeqCst))
            })
    }

    /// A failure that does not repeat is run again once, for its trace, and not shrunk: the
    /// report says it did not repeat, and it is not saved.
    #[test]
    fn a_failure_that_does_not_repeat_is_not_shrunk() {
        use std::sync::atomic::{AtomicUsize, Ordering};
        let judged = std::sync::Arc::new(AtomicUsize::new(0));
        let chaos = Chaos::new(counted(&judged, |before| before == 0))
            .seeds(0..1)
            .jobs(1)
            .ignoring_env()
            .without_regressions();
        let failure = (chaos.run().expect_err("the first run fails"))
            .into_failure()
            .expect("a failing seed");
        assert_eq!(failure.signature, "counted");
        assert!(!failure.deterministic, "{failure}");
        assert_eq!(
            judged.load(Ordering::SeqCst),
            2,
            "the sweep's run and one more"
        );
        assert_eq!(failure.shrunk.runs, 0, "{failure}");
        assert_eq!(failure.shrunk.plan, failure.plan);
        let steps = failure.shrunk.steps.join("\n");
        assert!(
            steps.contains("not shrunk: run again, the seed passed"),
            "{steps}"
        );
        assert!(chaos.save(&failure, false).contains("not saved"));
    }

    /// A saved regression that fails is judged once: replaying it is the run its report
    /// shows and shrinking starts from.
    #[test]
    fn a_failing_regression_is_judged_once_before_it_is_shrunk() {
        use std::sync::atomic::{AtomicUsize, Ordering};
        let (dir, path) = one_saved_quiet_regression();
        let judged = std::sync::Arc::new(AtomicUsize::new(0));
        let chaos = Chaos::new(counted(&judged, |_| true))
            .seeds(0..1)
            .jobs(1)
            .ignoring_env()
            .regressions(dir.path());
        let failure = (chaos.run().expect_err("the regression fails"))
            .into_failure()
            .expect("a failing regression");
        assert_eq!(failure.regression.as_ref(), Some(&path));
        assert!(failure.deterministic, "{failure}");
        // Shrinking counts the replay as its first run.
        assert_eq!(
            judged.load(Ordering::SeqCst),
            failure.shrunk.runs,
            "{failure}"
        );
    }

    #[test]
    fn passing_sweep_reports_its_coverage() {
        let scenario = echo(
            FaultSettings {
                slow_close: 0.5,
                resets: 0.5,
                ..FaultSettings::default()
            },
            Expectations::default(),
        );
        let pass = Chaos::new(scenario)
            .seeds(0..16)
            .jobs(2)
            .ignoring_env()
            .run()
            .expect("an echo under healing partitions passes");
        assert_eq!(pass.seeds_run(), 16);
        assert_eq!(pass.coverage().runs, 16);
        assert!(pass.coverage().fired.contains_key("slow_close"), "{pass}");
        assert!(pass.coverage().fired.contains_key("reset"), "{pass}");
        assert!(!pass.to_string().contains("WARNING"), "{pass}");
    }

    #[test]
    fn failure_is_shrunk_and_reported_with_its_repro_line() {
        let scenario = echo(
            FaultSettings {
                resets: 1.0,
                reset_after_received: Span::new(1, 2),
                slow_close: 1.0,
                ..FaultSettings::default()
            },
            Expectations {
                echoed: true,
                ..Expectations::default()
            },
        );
        let failure = Chaos::new(scenario)
            .seeds(0..5)
            .jobs(1)
            .ignoring_env()
            .run()
            .map_err(ChaosError::into_failure)
            .expect_err("every seed resets c1 before its echo is complete")
            .expect("a seed failed");
        assert_eq!(failure.seed, Seed(0));
        assert_eq!(failure.signature, "echoed");
        assert!(failure.deterministic);
        // Resets after a `received` and a `sent` and of the first redial, a slow close,
        // resets of the server's connection after a `received` and after a `sent`, and of
        // later connections: the redials after a `sent` (three) and a `received` (two), the
        // server's second and third, and of the two connections `server.1` might dial
        // (`server.1~1`, `server.1~2`: it dials none) after a `received` and after a `sent`;
        // and slow closes of the server's first three connections.
        assert_eq!(failure.plan.faults.len(), 20, "{failure}");
        assert_eq!(failure.shrunk.plan.faults.len(), 1);
        assert!(failure.plan_toml().contains("kind = \"reset\""));
        let text = failure.to_string();
        assert!(
            text.contains("property echoed: c1 sent 512 bytes"),
            "{text}"
        );
        assert!(
            text.contains("reproduce: TCPNOTIFY_SEED=0 cargo test"),
            "{text}"
        );
        assert!(text.contains("shrunk plan (TOML):"), "{text}");
        assert!(failure.trace_tail.lines().count() <= TRACE_TAIL_LINES);
        assert!(failure.trace_tail.contains("run ended"), "{text}");
    }

    #[test]
    fn a_sweep_in_which_no_fault_fired_fails_and_lists_each_enabled_kind_that_never_fired() {
        // Resets are enabled but wait for an event that never comes: a 1000th delivery, or
        // any event of a client that has nothing to echo (no `sent`, no redial) and of the
        // server's connection that gets nothing (no `received`, no `sent`).
        let scenario = Scenario::echo("chaos-echo", 0, 128).faults(FaultSettings {
            resets: 1.0,
            reset_after_received: Span::new(1000, 1000),
            ..FaultSettings::quiet()
        });
        let error = Chaos::new(scenario)
            .seeds(0..4)
            .jobs(2)
            .ignoring_env()
            .run()
            .expect_err("no fault fires");
        let ChaosError::NoFaultFired(pass) = &error else {
            panic!("{error}");
        };
        assert_eq!(pass.seeds_run(), 4);
        assert_eq!(pass.coverage().never_fired(), vec!["reset"]);
        let text = error.to_string();
        assert!(
            text.contains("no fault fired in any of its 4 seed(s)"),
            "{text}"
        );
        assert!(text.contains("enabled but never fired: reset"), "{text}");
        assert!(text.contains(".allow_no_faults()"), "{text}");
    }

    #[test]
    fn allow_no_faults_passes_a_quiet_sweep_with_its_warning() {
        let chaos = Chaos::new(echo(FaultSettings::quiet(), Expectations::default()))
            .seeds(0..3)
            .jobs(1)
            .ignoring_env();
        assert!(matches!(chaos.run(), Err(ChaosError::NoFaultFired(_))));
        let pass = chaos.allow_no_faults().run().expect("allowed");
        assert!(pass.coverage().no_fault_fired());
        assert!(
            pass.to_string().contains("WARNING: no fault fired"),
            "{pass}"
        );
    }

    #[test]
    fn one_seed_rerun_with_tcpnotify_seed_passes_when_it_draws_no_fault() {
        let chaos = Chaos::new(echo(FaultSettings::quiet(), Expectations::default())).seeds(0..50);
        let env = EnvOverrides::read(|name| (name == SEED_VAR).then(|| "7".to_string())).unwrap();
        assert!(env.one_seed);
        let pass = chaos
            .run_with(&chaos.resolve_with(env), true)
            .expect("a rerun of one seed is not a sweep");
        assert_eq!(pass.seeds_run(), 1);
        assert!(pass.coverage().no_fault_fired());
    }

    #[test]
    fn with_no_fault_settings_written_faults_fire_while_bytes_are_in_flight() {
        // The swarm's default: no `.faults(..)` at all.
        let scenario = Scenario::echo("chaos-swarm", 4096, 256).expecting(Expectations {
            echoed: true,
            ..Expectations::default()
        });
        let pass = Chaos::new(scenario)
            .seeds(0..24)
            .jobs(2)
            .ignoring_env()
            .run()
            .unwrap_or_else(|e| panic!("{e}"));
        let coverage = pass.coverage();
        assert!(coverage.faults_fired() > 0, "{pass}");
        assert!(coverage.fired_in_flight > 0, "{pass}");
        assert!(coverage.fired_in_flight <= coverage.faults_fired());
        // Lost connections would break the echo: the swarm drew none.
        assert!(!coverage.enabled.contains_key("reset"), "{pass}");
        assert!(!coverage.enabled.contains_key("crash"), "{pass}");
        assert!(pass.to_string().contains("with bytes in flight"), "{pass}");
    }
}
