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
//! The environment overrides the code, so CI can sweep more seeds (or reproduce one) without
//! code changes:
//! - `TCPNOTIFY_SEEDS=A..B` replaces the seed range (e.g. a nightly job with
//!   `TCPNOTIFY_SEEDS=0..100000`);
//! - `TCPNOTIFY_SEED=N` runs exactly seed `N`: the repro line of a failure sets it;
//!   it wins over `TCPNOTIFY_SEEDS`;
//! - `TCPNOTIFY_JOBS=N` sets the number of worker threads (default: one per core).
//!
//! A value that does not parse stops the test with a message naming the variable.

use super::env::{resolve, EnvError, SEED_VAR};
use super::shrink::{shrink, shrink_verdict, ShrinkResult};
use super::sweep::{default_jobs, sweep, SweepOptions, SweepReport};
use super::testing::repro_line;
use crate::judge::Coverage;
use crate::judge::{judge, signature_of};
use crate::scenario::Scenario;
use crate::seed::Seed;
use std::fmt;
use std::ops::Range;

/// How many trailing trace lines a failure shows.
const TRACE_TAIL_LINES: usize = 30;

/// A chaos test of one scenario: its notifiers, workload, expectations and fault settings,
/// swept over a range of seeds.
///
/// Defaults: seeds `0..100`, one job per core, the environment's overrides honoured, no
/// progress bar.
#[derive(Debug, Clone)]
pub struct Chaos {
    scenario: Scenario,
    seeds: Range<u64>,
    jobs: usize,
    from_env: bool,
    progress: bool,
    allow_no_faults: bool,
}

impl Chaos {
    /// Chaos tests `scenario`; its fault settings draw each seed's plan (an explicit plan in
    /// the scenario would make every seed run that one plan).
    pub fn new(scenario: Scenario) -> Self {
        Chaos {
            scenario,
            seeds: 0..100,
            jobs: default_jobs(),
            from_env: true,
            progress: false,
            allow_no_faults: false,
        }
    }

    /// Accepts a sweep in which no fault fired (it passes with a warning on stderr instead of
    /// failing): for a scenario meant to run quiet, such as `FaultSettings::quiet()`.
    pub fn allow_no_faults(mut self) -> Self {
        self.allow_no_faults = true;
        self
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

    /// Shows a progress bar on stderr when it is a terminal.
    pub fn progress(mut self, show: bool) -> Self {
        self.progress = show;
        self
    }

    /// Ignores `TCPNOTIFY_SEEDS`, `TCPNOTIFY_SEED` and `TCPNOTIFY_JOBS`: for tests whose
    /// assertions depend on the exact seeds swept.
    pub fn ignoring_env(mut self) -> Self {
        self.from_env = false;
        self
    }

    /// The seed range and jobs this chaos test will use, after the environment's overrides.
    pub fn resolved(&self) -> Result<(Range<u64>, usize), EnvError> {
        resolve(self.seeds.clone(), self.jobs, |name| {
            self.from_env.then(|| std::env::var(name).ok()).flatten()
        })
    }

    /// Sweeps the seeds; on the first failing seed, re-runs it for its trace, shrinks its
    /// plan and returns everything as a [`ChaosFailure`]. A sweep in which every seed passed
    /// but no fault fired is an error too ([`ChaosError::NoFaultFired`]), unless
    /// [`allow_no_faults`](Self::allow_no_faults) or `TCPNOTIFY_SEED` (one seed re-run) say
    /// otherwise.
    ///
    /// # Panics
    /// If an environment override does not parse (see the module docs).
    // Returned once per test: boxing it would only make matching on it clumsier.
    #[allow(clippy::result_large_err)]
    pub fn run(&self) -> Result<ChaosPass, ChaosError> {
        self.run_in(|name| self.from_env.then(|| std::env::var(name).ok()).flatten())
    }

    /// [`run`](Self::run) with the environment variables `var` gives.
    #[allow(clippy::result_large_err)]
    fn run_in(&self, var: impl Fn(&str) -> Option<String>) -> Result<ChaosPass, ChaosError> {
        let rerun = var(SEED_VAR).is_some();
        let (seeds, jobs) =
            resolve(self.seeds.clone(), self.jobs, &var).unwrap_or_else(|e| panic!("{e}"));
        let report = sweep(
            &self.scenario,
            &SweepOptions {
                jobs,
                progress: self.progress,
                ..SweepOptions::new(seeds)
            },
        );
        if let Some(failure) = report.failures.first() {
            let explained = self.explain(failure.seed, &failure.signature, &report);
            return Err(ChaosError::Failed(Box::new(explained)));
        }
        let pass = ChaosPass {
            scenario: self.scenario.name.clone(),
            report,
        };
        if !pass.coverage().no_fault_fired() {
            return Ok(pass);
        }
        if self.allow_no_faults || rerun {
            eprintln!("{pass}");
            return Ok(pass);
        }
        Err(ChaosError::NoFaultFired(pass))
    }

    /// Runs the chaos test and panics with the failure's report if a seed fails, or if no
    /// fault fired (see [`run`](Self::run)).
    ///
    /// # Panics
    /// With [`ChaosError`]'s report if a seed fails or no fault fired, or if an environment
    /// override does not parse.
    pub fn assert_passes(&self) -> ChaosPass {
        match self.run() {
            Ok(pass) => pass,
            Err(error) => panic!("{error}"),
        }
    }

    /// The failure of `seed`, re-run for its trace and shrunk.
    fn explain(&self, seed: Seed, signature: &str, report: &SweepReport) -> ChaosFailure {
        let plan = self.scenario.plan_for(seed);
        let rerun = judge(&self.scenario, &plan);
        let deterministic = signature_of(&rerun).as_deref() == Some(signature);
        let same_failure = rerun.as_ref().ok().filter(|_| deterministic);
        // A rerun that failed the same way already shows what shrinking would first run the
        // plan again to see.
        let shrunk = match same_failure {
            Some(verdict) => shrink_verdict(&self.scenario, verdict),
            None => shrink(&self.scenario, &plan, signature),
        };
        let (failures, trace_tail) = match &rerun {
            Ok(verdict) => (
                verdict.failures.iter().map(|f| f.to_string()).collect(),
                verdict.outcome.trace.render_tail(TRACE_TAIL_LINES),
            ),
            Err(e) => (vec![e.to_string()], String::new()),
        };
        ChaosFailure {
            scenario: self.scenario.name.clone(),
            seed,
            signature: signature.to_string(),
            deterministic,
            seeds_run: report.seeds_run,
            failures,
            trace_tail,
            plan,
            shrunk,
            coverage: report.coverage.clone(),
            repro: repro_line(seed),
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
    NoFaultFired(ChaosPass),
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
            ChaosError::NoFaultFired(pass) => Err(pass),
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
}

impl fmt::Display for ChaosPass {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
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
    /// What the seeds run exercised.
    pub coverage: Coverage,
    /// The command that re-runs this test with this seed only.
    pub repro: String,
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
        writeln!(
            f,
            "chaos: scenario {} FAILED with seed {} [{}] (seed {} of the sweep)",
            self.scenario, self.seed, self.signature, self.seeds_run
        )?;
        if !self.deterministic {
            writeln!(
                f,
                "WARNING: re-running the seed did not fail the same way: the run is not \
                 deterministic"
            )?;
        }
        for failure in &self.failures {
            writeln!(f, "{failure}")?;
        }
        writeln!(f, "\nplan of seed {}:\n{}", self.seed, self.plan.describe())?;
        writeln!(
            f,
            "last {TRACE_TAIL_LINES} trace lines:\n{}",
            self.trace_tail
        )?;
        writeln!(f, "{}\n", self.shrunk)?;
        writeln!(f, "shrunk plan (TOML):\n{}", self.plan_toml())?;
        writeln!(f, "{}\n", self.coverage)?;
        write!(f, "reproduce: {}", self.repro)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fault::{FaultSettings, Span};
    use crate::scenario::Expectations;

    fn echo(settings: FaultSettings, expectations: Expectations) -> Scenario {
        Scenario::echo("chaos-echo", 512, 128)
            .faults(settings)
            .expecting(expectations)
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
        assert_eq!(failure.plan.faults.len(), 2);
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
        // Resets are enabled but wait for a 1000th delivery that never comes.
        let scenario = echo(
            FaultSettings {
                resets: 1.0,
                reset_after_received: Span::new(1000, 1000),
                ..FaultSettings::quiet()
            },
            Expectations::default(),
        );
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
        let env = |name: &str| (name == SEED_VAR).then(|| "7".to_string());
        let pass = chaos
            .run_in(env)
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
