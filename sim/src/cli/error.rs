//! Why a command could not do its work: bad input, exit code 2. Each says which file or flag.

use crate::explore::MergeError;
use crate::json::NewerVersion;
use crate::output_file::WriteError;
use crate::report::{JunitError, TimelineError};
use crate::run::RunError;
use crate::scenario::ScenarioError;
use crate::seed::Seed;
use std::path::PathBuf;

/// Why a command could not do its work.
#[derive(Debug, thiserror::Error)]
pub(crate) enum CliError {
    /// A scenario or plan file that cannot be used.
    #[error(transparent)]
    File(#[from] ScenarioError),
    /// A scenario the runner refused, or a limit of the simulator its run reached.
    #[error(transparent)]
    Run(#[from] RunError),
    /// A file no timeline could be drawn from.
    #[error(transparent)]
    Timeline(#[from] TimelineError),
    /// A plan TOML cannot hold (a number above `i64::MAX`), which a validated plan never has.
    #[error(transparent)]
    Toml(#[from] toml::ser::Error),
    /// The JUnit XML could not be made.
    #[error(transparent)]
    Junit(#[from] JunitError),
    /// Flags that do not go together, or a value a flag's parser cannot judge alone.
    #[error("{0}")]
    Usage(String),
    /// A file the command writes could not be written.
    #[error(transparent)]
    Write(#[from] WriteError),
    /// A file the command reads could not be read.
    #[error("{path}: cannot read: {source}", path = .path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// A file given to `merge` holds no sweep result it can read.
    #[error("{}: {problem}", place(.path, *.line))]
    SweepResult {
        /// The file.
        path: PathBuf,
        /// The line (0: the file as a whole).
        line: usize,
        /// What is wrong.
        problem: String,
    },
    /// A result of a newer schema.
    #[error("{path}:{line}: {source}", path = .path.display())]
    Version {
        /// The file.
        path: PathBuf,
        /// The line.
        line: usize,
        /// The version found.
        source: NewerVersion,
    },
    /// The results given to `merge` are not the shards of one sweep.
    #[error("cannot merge: {0}")]
    Merge(#[from] MergeError),
    /// `run --seed` names another seed than the `--plan` file does.
    #[error(
        "--seed {flag} conflicts with seed {named}, which {plan} names: drop --seed to run the \
         plan's seed, or remove `seed` from the plan file to run another",
        plan = .plan.display()
    )]
    SeedConflict {
        /// The seed of `--seed`.
        flag: Seed,
        /// The seed the plan file names.
        named: Seed,
        /// The plan file.
        plan: PathBuf,
    },
    /// `shrink` was given a seed that passes.
    #[error("{path}: seed {seed} passes; there is nothing to shrink", path = .path.display())]
    NothingToShrink {
        /// The scenario file.
        path: PathBuf,
        /// The seed.
        seed: Seed,
    },
}

/// `path:line`, or `path` for line 0 (the file as a whole).
fn place(path: &std::path::Path, line: usize) -> String {
    match line {
        0 => path.display().to_string(),
        line => format!("{}:{line}", path.display()),
    }
}
