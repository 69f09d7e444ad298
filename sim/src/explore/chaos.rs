//! Chaos testing a notifier from a plain `#[test]`: sweep a scenario over many seeds, each
//! with its own generated fault plan, and on the first failure shrink its plan and report
//! everything needed to understand and re-run it.
//!
//! ```no_run
//! use tcpnotify_sim::{factory, Chaos, FaultSettings, Scenario};
//! use tcpnotify_sim::notifiers::{Echo, Sender};
//!
//! // In a `#[test]` function:
//! let scenario = Scenario::new("echo")
//!     .listener("server", "server", 7000, factory(|| Echo))
//!     .client("c1", "client", "server", 7000, factory(|| Sender::pattern(4096)))
//!     .faults(FaultSettings { partitions: 0.5, read_chunks: 0.5, ..FaultSettings::default() });
//! Chaos::new(scenario).seeds(0..200).assert_passes();
//! ```
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

use super::env::{resolve, EnvError};
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
/// progress bar, sometimes-assertions that never held reported but not failing.
#[derive(Debug, Clone)]
pub struct Chaos {
    scenario: Scenario,
    seeds: Range<u64>,
    jobs: usize,
    from_env: bool,
    progress: bool,
    require_sometimes: bool,
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
            require_sometimes: false,
        }
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

    /// The seed range and jobs this chaos test will use, after the environment's overrides.
    pub fn resolved(&self) -> Result<(Range<u64>, usize), EnvError> {
        resolve(self.seeds.clone(), self.jobs, |name| {
            self.from_env.then(|| std::env::var(name).ok()).flatten()
        })
    }

    /// Sweeps the seeds; on the first failing seed, re-runs it for its trace, shrinks its
    /// plan and returns everything as a [`ChaosFailure`].
    ///
    /// # Panics
    /// If an environment override does not parse (see the module docs).
    // Returned once per test: boxing it would only make matching on it clumsier.
    #[allow(clippy::result_large_err)]
    pub fn run(&self) -> Result<ChaosPass, ChaosFailure> {
        let (seeds, jobs) = self.resolved().unwrap_or_else(|e| panic!("{e}"));
        let report = sweep(
            &self.scenario,
            &SweepOptions {
                jobs,
                progress: self.progress,
                ..SweepOptions::new(seeds)
            },
        );
        match report.failures.first() {
            None => Ok(ChaosPass {
                scenario: self.scenario.name.clone(),
                report,
            }),
            Some(failure) => Err(self.explain(failure.seed, &failure.signature, &report)),
        }
    }

    /// Runs the chaos test and panics with the failure's report if a seed fails.
    ///
    /// # Panics
    /// With [`ChaosFailure`]'s report if a seed fails; with the coverage if
    /// [`require_sometimes`](Self::require_sometimes) is set and a sometimes-assertion held
    /// in no run; or if an environment override does not parse.
    pub fn assert_passes(&self) -> ChaosPass {
        match self.run() {
            Ok(pass) if self.require_sometimes && !pass.never_met().is_empty() => panic!(
                "chaos: scenario {}: sometimes-assertions that held in none of the {} runs: \
                 {}\n{pass}",
                pass.scenario,
                pass.seeds_run(),
                pass.never_met().join(", ")
            ),
            Ok(pass) => pass,
            Err(failure) => panic!("{failure}"),
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

    /// The `sometimes` and `reachable` assertions that held in no run (see
    /// [`Chaos::require_sometimes`]).
    pub fn never_met(&self) -> Vec<&str> {
        self.report.coverage.assertions.never_met()
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
            .expect_err("the plan is invalid at every seed");
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
            .expect_err("every seed resets c1 before its echo is complete");
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
}
