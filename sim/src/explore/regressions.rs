//! A chaos test's saved regressions, as proptest keeps `proptest-regressions/`: each shrunk
//! failure of [`Chaos::assert_passes`](super::Chaos::assert_passes) is saved as a plan file,
//! and every later run of the test replays the saved plans first, before its sweep.
//!
//! - **Where.** By default in `regressions/<scenario name>/` beside the source file of the
//!   test that called `Chaos::new` (found through `#[track_caller]`): a test in
//!   `tests/chaos/echo.rs` sweeping scenario `echo` keeps `tests/chaos/regressions/echo/`.
//!   A name of other characters than letters, digits, `-`, `_` and `.` has them made `_` and
//!   its hash appended (`my echo` keeps `my_echo-<16 hex digits>/`), so that it shares no
//!   folder with `my_echo` or `my/echo`; the folder such a name had before the hash
//!   (`my_echo/`) is still replayed from, but for the files whose first line names another
//!   scenario, and new regressions go to the new one. `Chaos::regressions(dir)` names the
//!   folder instead; `Chaos::without_regressions()` turns both saving and replaying off. Two
//!   chaos tests beside each other with the same scenario name share a folder, and each
//!   replays the other's plans.
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
use crate::output_file::{file_name, unhashed_file_name, OutputFile, WriteError};
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

    /// The folder earlier versions kept `scenario`'s regressions in by default, where it is
    /// not [`dir`](Self::dir): a short name with characters made `_` (`my echo` in `my_echo/`),
    /// which now gets a hash too (`crate::output_file::file_name`), as `my_echo` and `my/echo`
    /// shared that folder.
    fn unhashed_dir(&self, scenario: &str) -> Option<PathBuf> {
        let Regressions::NextTo(caller) = self else {
            return None;
        };
        let source = source_file(Path::new(caller.file()))?;
        let folder = unhashed_file_name(scenario)?;
        Some(source.parent()?.join(REGRESSIONS_FOLDER).join(folder))
    }

    /// The saved regressions of `scenario`, in seed order, each checked against it: its
    /// folder's, and those of its folder of earlier versions ([`unhashed_dir`]).
    ///
    /// [`unhashed_dir`]: Self::unhashed_dir
    pub(crate) fn load(&self, scenario: &Scenario) -> Result<Vec<Saved>, RegressionError> {
        let Some(dir) = self.dir(&scenario.name) else {
            return Ok(Vec::new());
        };
        load_from(&dir, self.unhashed_dir(&scenario.name).as_deref(), scenario)
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
        "{HEADER}{:?}: seed {} failed with [{}]:\n# {first}\n\
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

/// The saved regressions of `scenario` in `dir` and, but for the files that say they are
/// another scenario's (of a name that shared the folder), in `unhashed`, in seed order.
fn load_from(
    dir: &Path,
    unhashed: Option<&Path>,
    scenario: &Scenario,
) -> Result<Vec<Saved>, RegressionError> {
    let mut paths = plan_files(dir)?;
    if let Some(old) = unhashed {
        let others = |path: &PathBuf| saved_for_another(path, &scenario.name);
        paths.extend(plan_files(old)?.into_iter().filter(|p| !others(p)));
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

/// The `.toml` files of `dir`; none if it does not exist.
fn plan_files(dir: &Path) -> Result<Vec<PathBuf>, RegressionError> {
    let folder_error = |source| RegressionError::Folder {
        dir: dir.to_path_buf(),
        source,
    };
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(source) => return Err(folder_error(source)),
    };
    let mut paths = Vec::new();
    for entry in entries {
        let path = entry.map_err(folder_error)?.path();
        if path.extension().is_some_and(|e| e == "toml") {
            paths.push(path);
        }
    }
    Ok(paths)
}

/// The start of a saved regression's first line, before the scenario's name ([`text`]).
const HEADER: &str = "# A chaos regression of scenario ";

/// Whether the regression file at `path` says it was saved for a scenario other than
/// `scenario`. A file that does not say (saved by hand) or cannot be read is not: loading
/// it names any error.
fn saved_for_another(path: &Path, scenario: &str) -> bool {
    let Ok(text) = std::fs::read_to_string(path) else {
        return false;
    };
    let first = text.lines().next().unwrap_or_default();
    first.starts_with(HEADER) && !first.starts_with(&format!("{HEADER}{scenario:?}:"))
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
        let folders = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/explore/regressions");
        assert_eq!(here().dir("my-echo.1"), Some(folders.join("my-echo.1")));
        // A name with characters made `_` gets its hash: `my_echo_1` is another scenario's.
        let dir = here().dir("my echo/1").expect("this file is found");
        let folder = crate::output_file::file_name("my echo/1");
        assert!(folder.starts_with("my_echo_1-"), "{folder}");
        assert_eq!(dir, folders.join(folder));
        assert_eq!(
            here().unhashed_dir("my echo/1"),
            Some(folders.join("my_echo_1"))
        );
        assert_eq!(here().unhashed_dir("my-echo.1"), None);
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

    /// A scenario whose name had characters made `_` kept its regressions in a folder of that
    /// name alone (`my echo` in `my_echo/`), shared with the scenarios `my_echo` and
    /// `my/echo`. They are still replayed from there, but for those another scenario saved.
    #[test]
    fn regressions_saved_before_the_hash_in_the_unhashed_folder_are_still_replayed() {
        let scratch = tempfile::tempdir().unwrap();
        let (dir, old) = (scratch.path().join("new"), scratch.path().join("old"));
        let scenario = Scenario::echo("my echo", 64, 16);
        let plan = |seed| FaultPlan::quiet(Seed(seed));
        let save = |dir: &Path, name: &str, seed| {
            let failure = Failure {
                scenario: name,
                seed: Seed(seed),
                signature: "echoed",
                first: "property echoed",
                plan: &plan(seed),
                shrunk: &plan(seed),
            };
            let outcome = Regressions::At(dir.to_path_buf()).save(&failure, false);
            assert!(matches!(outcome, Ok(SaveOutcome::Saved(_))), "{outcome:?}");
        };
        save(&old, "my echo", 3);
        save(&old, "my_echo", 4);
        save(&dir, "my echo", 5);
        // Saved by hand (CI prints the plan alone): whose it is cannot be told, so it stays.
        std::fs::write(old.join("seed-6.toml"), plan(6).to_toml().unwrap()).unwrap();
        let seeds = |saved: Vec<Saved>| saved.iter().map(|s| s.plan.seed.0).collect::<Vec<_>>();
        assert_eq!(
            seeds(load_from(&dir, Some(&old), &scenario).unwrap()),
            [3, 5, 6]
        );
        assert_eq!(seeds(load_from(&dir, None, &scenario).unwrap()), [5]);
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
