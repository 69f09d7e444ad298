//! The `tcpnotify-sim` command line. A user with notifiers of their own builds a binary that
//! registers them and calls [`main_with`]; the shipped binary uses the built-in ones.
//!
//! Exit codes: 0 passed, 1 a property or the contract failed, 2 bad input (a bad flag or
//! file, said on stderr) or a file to write after the run (`--artifacts`, `--junit`) that
//! could not be (the run's output printed first, the error last), 130 interrupted by Ctrl-C
//! with no failure found.
//!
//! With `--json`, every command prints only JSON on stdout, one object per line, as
//! `docs/json.md` documents (the schema of [`crate::json`]); what it says for people goes to
//! stderr. Every repro line names the binary that is running (`cli/invocation.rs`).

mod artifacts;
mod determinism;
mod error;
mod interrupt;
mod invocation;
mod merge;
mod output;
mod run;
mod shown;
mod shrink;
mod sweep;
mod timeline;

use crate::explore::{
    parse_count, parse_determinism_sample, parse_duration, parse_jobs, SampleSyntax, SeedChoice,
    SeedChoiceError, SeedSet, Shard,
};
use crate::scenario::Registry;
use clap::{Args, Parser, Subcommand};
use error::CliError;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

/// Runs simulated scenarios of notifier-based TCP connections, one seed at a time or many.
#[derive(Parser, Debug)]
#[command(name = "tcpnotify-sim", version, about)]
struct Cli {
    /// Print only JSON on stdout, one object per line (schema: docs/json.md); what is said
    /// for people goes to stderr.
    #[arg(long, global = true)]
    json: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run a scenario once: print its fault plan, its trace, a summary and the contract check.
    Run {
        /// The scenario file.
        file: PathBuf,
        /// The seed (default: the file's).
        #[arg(long)]
        seed: Option<u64>,
        /// Run this fault plan (TOML, as `shrink` writes it) instead of drawing one.
        #[arg(long)]
        plan: Option<PathBuf>,
        /// Also write the run's fault plan as TOML here, to edit and re-run with `--plan`.
        #[arg(long, value_name = "PLAN")]
        save_plan: Option<PathBuf>,
        /// If the run fails, shrink it and write its artifacts (text and JSON trace, plan,
        /// shrunk scenario, timeline page) to DIR/SCENARIO.seed-N/.
        #[arg(long, value_name = "DIR")]
        artifacts: Option<PathBuf>,
    },
    /// Run many seeds in parallel; stop at the first failing seed (unless --keep-going or
    /// --shard) and print its repro line.
    Sweep(SweepArgs),
    /// Combine the JSON results of a sweep's shards (`sweep --shard I/N --json`) into the
    /// result of the whole sweep.
    Merge {
        /// The shards' outputs of `sweep --json` (the last `sweep_result` line of each counts).
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// Also write the merged result as JUnit XML here.
        #[arg(long, value_name = "FILE")]
        junit: Option<PathBuf>,
        /// Pass (with a warning) a merged sweep in which no fault fired, as `sweep` does.
        #[arg(long)]
        allow_no_faults: bool,
    },
    /// Minimise a failing run's fault plan and write it out as a scenario file.
    Shrink {
        /// The scenario file.
        file: PathBuf,
        /// The failing seed.
        #[arg(long)]
        seed: u64,
        /// Where to write the minimal scenario (default:
        /// target/tcpnotify-sim/shrunk/FILE-STEM.seed-N.toml, under $CARGO_TARGET_DIR if set).
        #[arg(short = 'o', long = "output")]
        output: Option<PathBuf>,
        /// Also write the failure's artifacts (text and JSON trace, plan, shrunk scenario,
        /// timeline page) to DIR/SCENARIO.seed-N/; without -o, the shrunk scenario is
        /// written only there.
        #[arg(long, value_name = "DIR")]
        artifacts: Option<PathBuf>,
    },
    /// Draw a run as one self-contained HTML page (a lane per connection and listener,
    /// faults, bytes in flight, contract violations) and/or a Chrome trace-event file for
    /// Perfetto. Exits 0 once written, whether the run passed or not.
    Timeline {
        /// A scenario file (`.toml`, run with the seed) or a JSON-lines trace (`run --json`).
        file: PathBuf,
        /// The seed, for a scenario file (default: the file's).
        #[arg(long)]
        seed: Option<u64>,
        /// Where to write the HTML page.
        #[arg(short = 'o', long = "output", required_unless_present = "chrome_trace")]
        output: Option<PathBuf>,
        /// Where to write the Chrome trace-event JSON.
        #[arg(long, value_name = "FILE")]
        chrome_trace: Option<PathBuf>,
    },
    /// Run each seed twice and report the first trace line that differs.
    CheckDeterminism {
        /// The scenario file.
        file: PathBuf,
        #[command(flatten)]
        seeds: SeedArgs,
        /// Print each seed on stderr before it runs.
        #[arg(short, long)]
        verbose: bool,
    },
}

/// Which seeds: `--seeds` and, for random seeds, `--count`.
#[derive(Args, Debug)]
struct SeedArgs {
    /// Seeds as `A..B` (B excluded), `random` (fresh seeds from the OS, printed up front) or
    /// `random:G` (the random seeds of generator G again).
    #[arg(long, value_parser = str::parse::<SeedChoice>)]
    seeds: SeedChoice,
    /// How many random seeds (with `--seeds random`).
    #[arg(long, value_parser = parse_count)]
    count: Option<u64>,
}

#[derive(Args, Debug)]
struct SweepArgs {
    /// The scenario file.
    file: PathBuf,
    #[command(flatten)]
    seeds: SeedArgs,
    /// Start no seed after this much wall-clock time (`10m`, `90s`, `1h 30m`); the seeds that
    /// ran are reported. With `--seeds random` and no `--count`: fresh seeds until then.
    #[arg(long, value_parser = parse_duration_flag)]
    budget: Option<Duration>,
    /// Stop a seed that runs longer than this in wall-clock time and report it as a failure of
    /// its own kind (`seed_timeout`).
    #[arg(long, value_parser = parse_duration_flag)]
    seed_timeout: Option<Duration>,
    /// Worker threads, 1 to 256 (default: the number of cores; `TCPNOTIFY_JOBS` is for
    /// `#[test]`s and not read here).
    #[arg(long, value_parser = parse_jobs)]
    jobs: Option<usize>,
    /// Run only shard I of N (`0/4`): seeds whose index in the set is I modulo N. A shard runs
    /// every one of its seeds, so that `merge` gives exactly the whole sweep's result.
    #[arg(long, value_parser = parse_shard)]
    shard: Option<Shard>,
    /// Run every seed instead of stopping at the first failure.
    #[arg(long)]
    keep_going: bool,
    /// Pass (with a warning) a sweep in which no fault fired; without it such a sweep fails,
    /// as it tested only the fault-free path.
    #[arg(long)]
    allow_no_faults: bool,
    /// Print each seed on stderr before it runs.
    #[arg(short, long)]
    verbose: bool,
    /// Run every failing seed and a sample of passing seeds twice, and fail a seed whose two
    /// traces differ: one passing seed in 16, or in N from 1 (`1` or `all`: every seed).
    #[arg(long, value_name = "N", num_args = 0..=1, default_missing_value = "on",
          value_parser = parse_sample)]
    check_determinism: Option<Sample>,
    /// Also write the result as JUnit XML here: a test case per failing seed and one for the
    /// sweep.
    #[arg(long, value_name = "FILE")]
    junit: Option<PathBuf>,
    /// Write each failing seed's artifacts (text and JSON trace, plan, shrunk scenario,
    /// timeline page) to DIR/SCENARIO.seed-N/: the lowest 20 failing seeds, each re-run and
    /// shrunk after the sweep.
    #[arg(long, value_name = "DIR")]
    artifacts: Option<PathBuf>,
}

/// Parses `I/N`.
fn parse_shard(text: &str) -> Result<Shard, String> {
    text.parse()
        .map_err(|e: crate::explore::ParseShardError| e.to_string())
}

fn parse_duration_flag(text: &str) -> Result<Duration, String> {
    parse_duration(text).map_err(|e| e.to_string())
}

/// `--check-determinism`'s value: one passing seed in this many is run twice (`None`: off).
#[derive(Debug, Clone, Copy)]
struct Sample(Option<u64>);

/// Parses `--check-determinism`'s value as a count, as its help reads: `1` is every seed.
fn parse_sample(text: &str) -> Result<Sample, String> {
    parse_determinism_sample(text, SampleSyntax::Count)
        .map(Sample)
        .ok_or_else(|| {
            // The flag's value is optional, so a scenario file written right after it is
            // taken for its value: say how to write both.
            let file_hint = if text.contains(['.', '/', '\\']) {
                "; a scenario file right after this flag is read as its value: write \
                 `--check-determinism=on FILE`, or the file first"
            } else {
                ""
            };
            format!(
                "{text:?}: expected N from 1 (one passing seed in N is run twice; 1: every \
                 seed), all, on or off{file_hint}"
            )
        })
}

impl SeedArgs {
    /// The seed set: a random one is drawn here, and sized by `--count`, or by `budget`
    /// for a random set without a count.
    fn resolve(&self, budget: Option<Duration>) -> Result<SeedSet, CliError> {
        if self.seeds.is_random() && self.count.is_none() && budget.is_none() {
            return Err(CliError::Usage(
                "--seeds random needs --count N (how many seeds) or --budget TIME (as many as \
                 fit)"
                    .into(),
            ));
        }
        self.seeds.resolve(self.count).map_err(|e| match e {
            SeedChoiceError::CountOfRange(set) => CliError::Usage(format!(
                "--count applies to random seeds (--seeds random); --seeds {set} already says \
                 which seeds"
            )),
            SeedChoiceError::Random(e) => {
                CliError::Usage(format!("--seeds random: no randomness from the OS: {e}"))
            }
        })
    }
}

/// What a command found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Status {
    Passed,
    Failed,
    /// Ctrl-C ended it before it was done, with no failure found.
    Interrupted,
}

/// Parses the process arguments and runs the command with the built-in notifiers.
pub fn main() -> ExitCode {
    main_with(Registry::builtin())
}

/// Parses the process arguments and runs the command, building notifiers from `registry`.
pub fn main_with(registry: Registry) -> ExitCode {
    // Bad flags exit 2 with clap's message, which names the flag and what it expects.
    let cli = Cli::parse();
    match execute(cli, &registry) {
        Ok(Status::Passed) => ExitCode::SUCCESS,
        Ok(Status::Failed) => ExitCode::from(1),
        Ok(Status::Interrupted) => ExitCode::from(130),
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(2)
        }
    }
}

/// The command line's definition: every subcommand and flag [`main_with`] accepts. For tools
/// around the command line, such as a check that a script calls it only with flags that exist
/// (`sim/tests/deploy.rs` checks the deployment manifests so), shell completions or a man
/// page.
///
/// ```
/// let command = tcpnotify_sim::cli::command();
/// assert!(command.clone().try_get_matches_from(["tcpnotify-sim", "merge", "a.json"]).is_ok());
/// assert!(command.try_get_matches_from(["tcpnotify-sim", "merge", "--no-such-flag"]).is_err());
/// ```
pub fn command() -> clap::Command {
    <Cli as clap::CommandFactory>::command()
}

fn execute(cli: Cli, registry: &Registry) -> Result<Status, CliError> {
    let out = output::Printer::new(cli.json);
    match cli.command {
        Command::Run {
            file,
            seed,
            plan,
            save_plan,
            artifacts,
        } => run::run(&out, registry, &file, seed, plan, save_plan, artifacts),
        Command::Sweep(args) => sweep::sweep(&out, registry, args),
        Command::Merge {
            files,
            junit,
            allow_no_faults,
        } => merge::merge(&out, &files, junit, allow_no_faults),
        Command::Shrink {
            file,
            seed,
            output,
            artifacts,
        } => shrink::shrink(&out, registry, &file, seed, output, artifacts),
        Command::Timeline {
            file,
            seed,
            output,
            chrome_trace,
        } => timeline::timeline(&out, registry, &file, seed, output, chrome_trace),
        Command::CheckDeterminism {
            file,
            seeds,
            verbose,
        } => determinism::check(&out, registry, &file, &seeds, verbose),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn the_command_line_is_well_formed() {
        Cli::command().debug_assert();
    }

    #[test]
    fn check_determinism_takes_no_value_or_a_sample() {
        let parse = |extra: &[&str]| {
            let args = [
                &["tcpnotify-sim", "sweep", "f.toml", "--seeds", "0..3"],
                extra,
            ]
            .concat();
            match Cli::try_parse_from(args).expect("parses").command {
                Command::Sweep(args) => args.check_determinism.map(|s| s.0),
                other => panic!("{other:?}"),
            }
        };
        assert_eq!(parse(&[]), None);
        assert_eq!(parse(&["--check-determinism"]), Some(Some(16)));
        assert_eq!(parse(&["--check-determinism", "4"]), Some(Some(4)));
        assert_eq!(parse(&["--check-determinism", "off"]), Some(None));
        assert_eq!(
            parse(&["--check-determinism", "1"]),
            Some(Some(1)),
            "every seed"
        );
        let zero = ["tcpnotify-sim", "sweep", "f.toml", "--seeds", "0..3"];
        let error = Cli::try_parse_from([&zero[..], &["--check-determinism", "0"]].concat())
            .expect_err("one seed in 0 is refused")
            .to_string();
        assert!(
            error.contains("--check-determinism") && error.contains("expected N from 1"),
            "{error}"
        );
        assert!(!error.contains("scenario file"), "{error}");
        let before_file = [
            "tcpnotify-sim",
            "sweep",
            "--seeds",
            "0..3",
            "--check-determinism",
        ];
        let error = Cli::try_parse_from([&before_file[..], &["scenarios/chaos.toml"]].concat())
            .expect_err("the file is taken for the flag's value")
            .to_string();
        assert!(
            error.contains("\"scenarios/chaos.toml\"")
                && error.contains("`--check-determinism=on FILE`, or the file first"),
            "{error}"
        );
        let fixed = Cli::try_parse_from(
            [
                &before_file[..4],
                &["--check-determinism=on", "scenarios/chaos.toml"],
            ]
            .concat(),
        )
        .expect("the hint's spelling parses");
        match fixed.command {
            Command::Sweep(args) => assert_eq!(args.check_determinism.map(|s| s.0), Some(Some(16))),
            other => panic!("{other:?}"),
        }
    }
}
