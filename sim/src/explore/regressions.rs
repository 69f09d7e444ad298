//! A chaos test's saved regressions, as proptest keeps `proptest-regressions/`: each shrunk
//! failure of [`Chaos::assert_passes`](super::Chaos::assert_passes) is saved as a plan file,
//! and every later run of the test replays the saved plans first, before its sweep.
//!
//! - **Where.** By default in `regressions/<scenario name>/` beside the source file of the
//!   test that called `Chaos::new` (found through `#[track_caller]`): a test in
//!   `tests/chaos/echo.rs` sweeping scenario `echo` keeps `tests/chaos/regressions/echo/`.
//!   `Chaos::regressions(dir)` names the folder instead; `Chaos::without_regressions()` turns
//!   both saving and replaying off. Two chaos tests beside each other with the same scenario
//!   name share a folder, and each replays the other's plans.
//! - **What.** `seed-<N>.toml`: comments saying what failed and how, then the shrunk plan
//!   with its seed, as `run --save-plan` writes one. A scenario built in Rust cannot be written
//!   as a scenario file (its notifiers are the test's code), so the file holds what the test
//!   cannot rebuild: the plan. It is checked against the scenario when loaded, and a file that
//!   no longer fits (a connection renamed) stops the test naming the file and line.
//! - **Replay.** In seed order, before the sweep: the first that fails is the test's failure,
//!   and the sweep does not run. One that passes stays, as proptest keeps a passing
//!   regression: a bug fixed once can come back. Delete a file when it no longer matters.
//! - **CI.** With `CI` set (and not `false` or `0`), nothing is written, as insta writes no
//!   snapshot there: a CI checkout is thrown away, and a file appearing in it would be missed.
//!   The failure's report prints the plan to save by hand instead. Replaying is the same
//!   everywhere.

use crate::fault::FaultPlan;
use crate::output_file::{file_name, OutputFile, WriteError};
use crate::scenario::{PlanFile, Scenario, ScenarioError};
use crate::seed::Seed;
use std::panic::Location;
use std::path::{Path, PathBuf};

/// The folder under a test's source folder that holds its regressions.
pub(crate) const REGRESSIONS_FOLDER: &str = "regressions";

/// Where a chaos test keeps its regressions.
#[derive(Debug, Clone)]
pub(crate) enum Regressions {
    /// `regressions/<scenario name>/` beside this source file (the test's).
    NextTo(&'static Location<'static>),
    /// This folder.
    At(PathBuf),
    /// Nowhere: neither saved nor replayed.
    Off,
}

/// A saved regression: its file and plan.
#[derive(Debug, Clone)]
pub(crate) struct Saved {
    pub(crate) path: PathBuf,
    pub(crate) plan: FaultPlan,
}

/// Why saved regressions could not be read or a new one written.
#[derive(Debug, thiserror::Error)]
pub(crate) enum RegressionError {
    /// The folder cannot be listed.
    #[error("{dir}: cannot read the chaos test's regressions: {source}", dir = .dir.display())]
    Folder {
        dir: PathBuf,
        source: std::io::Error,
    },
    /// A saved file cannot be used.
    #[error("saved chaos regression {0} (fix or delete the file)")]
    File(#[source] ScenarioError),
    /// A new regression cannot be written.
    #[error(transparent)]
    Write(#[from] WriteError),
}

/// What saving a failure did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum SaveOutcome {
    /// Written to this file.
    Saved(PathBuf),
    /// Not written, and why (CI, no folder known).
    NotSaved(String),
}

/// What a regression file says about its failure, in its comments.
pub(crate) struct Failure<'a> {
    pub(crate) scenario: &'a str,
    pub(crate) seed: Seed,
    pub(crate) signature: &'a str,
    /// The first failure, in words.
    pub(crate) first: &'a str,
    /// The seed's plan before shrinking, and after.
    pub(crate) plan: &'a FaultPlan,
    pub(crate) shrunk: &'a FaultPlan,
}

impl Regressions {
    /// The folder of `scenario`'s regressions, if there is one: see the module docs.
    pub(crate) fn dir(&self, scenario: &str) -> Option<PathBuf> {
        match self {
            Regressions::Off => None,
            Regressions::At(dir) => Some(dir.clone()),
            Regressions::NextTo(caller) => {
                let source = source_file(Path::new(caller.file()))?;
                Some(
                    source
                        .parent()?
                        .join(REGRESSIONS_FOLDER)
                        .join(file_name(scenario)),
                )
            }
        }
    }

    /// The saved regressions of `scenario`, in seed order, each checked against it.
    pub(crate) fn load(&self, scenario: &Scenario) -> Result<Vec<Saved>, RegressionError> {
        let Some(dir) = self.dir(&scenario.name) else {
            return Ok(Vec::new());
        };
        let entries = match std::fs::read_dir(&dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(source) => return Err(RegressionError::Folder { dir, source }),
        };
        let mut paths = Vec::new();
        for entry in entries {
            let path = entry
                .map_err(|source| RegressionError::Folder {
                    dir: dir.clone(),
                    source,
                })?
                .path();
            if path.extension().is_some_and(|e| e == "toml") {
                paths.push(path);
            }
        }
        paths.sort_by_key(|p| (seed_of_name(p).unwrap_or(u64::MAX), p.clone()));
        paths
            .into_iter()
            .map(|path| {
                let file = PlanFile::load(&path, scenario).map_err(RegressionError::File)?;
                Ok(Saved {
                    path,
                    plan: file.plan,
                })
            })
            .collect()
    }

    /// Saves `failure` as `seed-<N>.toml` in the scenario's folder, unless `ci` (see the
    /// module docs) or no folder is known.
    pub(crate) fn save(
        &self,
        failure: &Failure<'_>,
        ci: bool,
    ) -> Result<SaveOutcome, RegressionError> {
        let Some(dir) = self.dir(failure.scenario) else {
            return Ok(SaveOutcome::NotSaved(match self {
                Regressions::NextTo(caller) => format!(
                    "the test's source file {} was not found from {}; name a folder with \
                     `.regressions(dir)`",
                    caller.file(),
                    search_root().display()
                ),
                _ => "regressions are off for this test".into(),
            }));
        };
        let path = dir.join(format!("seed-{}.toml", failure.seed));
        if ci {
            return Ok(SaveOutcome::NotSaved(format!(
                "CI is set, so {} was not written; to keep this regression, save the shrunk \
                 plan above as that file",
                path.display()
            )));
        }
        OutputFile::create_with_folders(&path)?.commit(&text(failure))?;
        Ok(SaveOutcome::Saved(path))
    }
}

/// Whether this is a CI run: `CI` set, and not to `false` or `0`.
pub(crate) fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| !matches!(v.trim(), "" | "false" | "0"))
}

/// A regression file's text: what failed, in comments, then the shrunk plan.
fn text(failure: &Failure<'_>) -> String {
    let plan = failure
        .shrunk
        .to_toml()
        .unwrap_or_else(|e| format!("# the plan cannot be written as TOML: {e}\n"));
    let first = failure.first.lines().next().unwrap_or_default();
    format!(
        "# A chaos regression of scenario {:?}: seed {} failed with [{}]:\n# {first}\n\
         # Its plan shrunk from {} to {} fault(s). The chaos test replays this plan before its\n\
         # sweep on every run, and keeps the file when it passes (a fixed bug can come back):\n\
         # delete it when it no longer matters. The scenario is the test's code; this is its plan.\n\
         {plan}",
        failure.scenario,
        failure.seed,
        failure.signature,
        failure.plan.faults.len(),
        failure.shrunk.faults.len()
    )
}

/// `N` of a file named `seed-N.toml`.
fn seed_of_name(path: &Path) -> Option<u64> {
    path.file_stem()?
        .to_str()?
        .strip_prefix("seed-")?
        .parse()
        .ok()
}

/// Where a relative source path is looked for: the package that cargo runs the test in
/// (`CARGO_MANIFEST_DIR`, as cargo and nextest set it), or else the working folder.
fn search_root() -> PathBuf {
    std::env::var_os("CARGO_MANIFEST_DIR")
        .map(PathBuf::from)
        .or_else(|| std::env::current_dir().ok())
        .unwrap_or_default()
}

/// The source file `file!()` named: as is when absolute, else found from the search root or
/// one of its parents (rustc names a workspace member's files from the workspace's root,
/// while a test runs in its package's folder).
fn source_file(file: &Path) -> Option<PathBuf> {
    if file.is_absolute() {
        return file.is_file().then(|| file.to_path_buf());
    }
    search_root()
        .ancestors()
        .map(|dir| dir.join(file))
        .find(|path| path.is_file())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fault::{Fault, FaultKind};

    #[track_caller]
    fn here() -> Regressions {
        Regressions::NextTo(Location::caller())
    }

    #[test]
    fn by_default_regressions_live_beside_the_calling_source_file_by_scenario_name() {
        let dir = here().dir("my echo/1").expect("this file is found");
        let expected =
            Path::new(env!("CARGO_MANIFEST_DIR")).join("src/explore/regressions/my_echo_1");
        assert_eq!(dir, expected);
        assert_eq!(Regressions::Off.dir("x"), None);
        assert_eq!(
            Regressions::At("/r".into()).dir("x"),
            Some(PathBuf::from("/r"))
        );
    }

    #[test]
    fn a_saved_regression_loads_back_as_its_plan_and_ci_writes_nothing() {
        let scratch = tempfile::tempdir().unwrap();
        let regressions = Regressions::At(scratch.path().join("echo"));
        let scenario = Scenario::echo("echo", 64, 16);
        let plan = FaultPlan {
            faults: vec![Fault::at(1, FaultKind::Reset { conn: "c1".into() })],
            ..FaultPlan::quiet(Seed(7))
        };
        let failure = Failure {
            scenario: "echo",
            seed: Seed(7),
            signature: "echoed",
            first: "property echoed: c1 sent 64 bytes but 16 came back\nmore",
            plan: &plan,
            shrunk: &plan,
        };
        let outcome = regressions.save(&failure, true).unwrap();
        assert!(
            matches!(&outcome, SaveOutcome::NotSaved(why) if why.contains("CI is set")),
            "{outcome:?}"
        );
        assert!(regressions.load(&scenario).unwrap().is_empty());
        let SaveOutcome::Saved(path) = regressions.save(&failure, false).unwrap() else {
            panic!("not saved")
        };
        assert_eq!(path, scratch.path().join("echo/seed-7.toml"));
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.starts_with("# A chaos regression of scenario \"echo\": seed 7 failed"));
        assert!(!text.contains("more"), "{text}");
        let saved = regressions.load(&scenario).unwrap();
        assert_eq!(saved.len(), 1);
        assert_eq!((saved[0].path.clone(), saved[0].plan.clone()), (path, plan));
    }

    #[test]
    fn saved_regressions_load_in_seed_order_and_a_bad_one_names_its_file() {
        let scratch = tempfile::tempdir().unwrap();
        let scenario = Scenario::echo("echo", 64, 16);
        for seed in [10, 9, 100] {
            let text = FaultPlan::quiet(Seed(seed)).to_toml().unwrap();
            std::fs::write(scratch.path().join(format!("seed-{seed}.toml")), text).unwrap();
        }
        std::fs::write(scratch.path().join("notes.txt"), "not a plan").unwrap();
        let regressions = Regressions::At(scratch.path().to_path_buf());
        let seeds: Vec<u64> = regressions
            .load(&scenario)
            .unwrap()
            .iter()
            .map(|s| s.plan.seed.0)
            .collect();
        assert_eq!(seeds, [9, 10, 100]);
        let bad = scratch.path().join("seed-11.toml");
        std::fs::write(
            &bad,
            "seed = 11\n[[faults]]\nat_ms = 1\nkind = \"reset\"\nconn = \"c9\"\n",
        )
        .unwrap();
        let error = regressions.load(&scenario).unwrap_err().to_string();
        assert!(
            error.starts_with(&format!("saved chaos regression {}:", bad.display())),
            "{error}"
        );
        assert!(error.contains("c9"), "{error}");
    }
}
