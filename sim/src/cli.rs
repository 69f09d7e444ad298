//! The `tcpnotify-sim` command line. A user with notifiers of their own builds a binary that
//! registers them and calls [`main_with`]; the shipped binary uses the built-in ones.
//!
//! Exit codes: 0 passed, 1 a property or the contract failed, 2 bad input.

use crate::explore;
use crate::explore::shrink_verdict;
use crate::explore::{default_jobs, sweep as run_sweep, SweepOptions};
use crate::fault::FaultPlan;
use crate::judge::{judge, Verdict};
use crate::report::{Timeline, TimelineError};
use crate::run::{RunError, Trace};
use crate::scenario::{PlanFile, Registry, ScenarioError, ScenarioFile};
use crate::seed::Seed;
use crate::validate::MAX_JOBS;
use clap::{Args, Parser, Subcommand};
use std::fmt;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// Runs simulated scenarios of notifier-based TCP connections, one seed at a time or many.
#[derive(Parser, Debug)]
#[command(name = "tcpnotify-sim", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run a scenario once: print its fault plan, its trace and the contract check.
    Run {
        /// The scenario file.
        file: PathBuf,
        /// The seed (default: the file's).
        #[arg(long)]
        seed: Option<u64>,
        /// Run this fault plan (TOML, as `shrink` writes it) instead of drawing one.
        #[arg(long)]
        plan: Option<PathBuf>,
        /// Print the trace as JSON lines instead of text.
        #[arg(long)]
        json: bool,
        /// Also write the run's fault plan as TOML here, to edit and re-run with `--plan`.
        #[arg(long, value_name = "PLAN")]
        save_plan: Option<PathBuf>,
    },
    /// Run many seeds in parallel; stop at the first failing seed and print its repro line.
    Sweep(SweepArgs),
    /// Minimise a failing run's fault plan and write it out as a scenario file.
    Shrink {
        /// The scenario file.
        file: PathBuf,
        /// The failing seed.
        #[arg(long)]
        seed: u64,
        /// Where to write the minimal scenario (default: FILE with `.shrunk.toml`).
        #[arg(short = 'o', long = "output")]
        output: Option<PathBuf>,
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
        /// Seeds as `A..B` (B excluded).
        #[arg(long, value_parser = parse_seeds)]
        seeds: Range<u64>,
    },
}

#[derive(Args, Debug)]
struct SweepArgs {
    /// The scenario file.
    file: PathBuf,
    /// Seeds as `A..B` (B excluded).
    #[arg(long, value_parser = parse_seeds)]
    seeds: Range<u64>,
    /// Worker threads, 1 to 256 (default: the number of cores).
    #[arg(long, value_parser = parse_jobs)]
    jobs: Option<usize>,
    /// Run only shard I of N (`0/4`): seeds whose offset from A is I modulo N.
    #[arg(long, value_parser = parse_shard)]
    shard: Option<(usize, usize)>,
    /// Run every seed instead of stopping at the first failure.
    #[arg(long)]
    keep_going: bool,
    /// Pass (with a warning) a sweep in which no fault fired; without it such a sweep fails,
    /// as it tested only the fault-free path.
    #[arg(long)]
    allow_no_faults: bool,
}

/// Parses `A..B` as [`explore::parse_seeds`] does, less the empty range: on the command line,
/// asking for no seeds is a mistake.
fn parse_seeds(text: &str) -> Result<Range<u64>, String> {
    match explore::parse_seeds(text) {
        Ok(seeds) if !seeds.is_empty() => Ok(seeds),
        _ => Err(format!(
            "{text:?}: expected a range A..B of whole numbers with A below B, e.g. 0..1000"
        )),
    }
}

/// Parses a number of jobs: 1 to [`MAX_JOBS`].
fn parse_jobs(text: &str) -> Result<usize, String> {
    match text.trim().parse::<usize>() {
        Ok(n) if (1..=MAX_JOBS).contains(&n) => Ok(n),
        _ => Err(format!(
            "{text:?}: expected a number of worker threads from 1 to {MAX_JOBS}"
        )),
    }
}

/// Parses `I/N`.
fn parse_shard(text: &str) -> Result<(usize, usize), String> {
    let parsed = text
        .split_once('/')
        .and_then(|(i, n)| Some((i.trim().parse().ok()?, n.trim().parse().ok()?)));
    match parsed {
        Some((i, n)) if n > 0 && i < n => Ok((i, n)),
        _ => Err(format!("{text:?}: expected I/N with I below N, e.g. 0/4")),
    }
}

/// What a command found: it passed, something failed, or the input was bad.
enum Status {
    Passed,
    Failed,
}

/// Why a command could not do its work: bad input, exit code 2. Each says which file or flag.
#[derive(Debug, thiserror::Error)]
enum CliError {
    /// A scenario or plan file that cannot be used.
    #[error(transparent)]
    File(#[from] ScenarioError),
    /// A scenario the runner refused.
    #[error(transparent)]
    Run(#[from] RunError),
    /// A file no timeline could be drawn from.
    #[error(transparent)]
    Timeline(#[from] TimelineError),
    /// A plan TOML cannot hold (a number above `i64::MAX`), which a validated plan never has.
    #[error(transparent)]
    Toml(#[from] toml::ser::Error),
    /// A file the command writes could not be written.
    #[error("{path}: cannot write: {source}", path = .path.display())]
    Write {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
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

/// Parses the process arguments and runs the command with the built-in notifiers.
pub fn main() -> ExitCode {
    main_with(Registry::builtin())
}

/// Parses the process arguments and runs the command, building notifiers from `registry`.
pub fn main_with(registry: Registry) -> ExitCode {
    let cli = Cli::parse();
    match execute(cli, &registry) {
        Ok(Status::Passed) => ExitCode::SUCCESS,
        Ok(Status::Failed) => ExitCode::from(1),
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(2)
        }
    }
}

fn execute(cli: Cli, registry: &Registry) -> Result<Status, CliError> {
    match cli.command {
        Command::Run {
            file,
            seed,
            plan,
            json,
            save_plan,
        } => {
            let scenario = ScenarioFile::load(&file, registry)?;
            let plan = match plan {
                Some(path) => {
                    let loaded = PlanFile::load(&path, &scenario.scenario)?;
                    match (seed.map(Seed), loaded.seed) {
                        (Some(flag), Some(named)) if flag != named => {
                            return Err(CliError::SeedConflict {
                                flag,
                                named,
                                plan: path,
                            });
                        }
                        (_, Some(named)) => FaultPlan {
                            seed: named,
                            ..loaded.plan
                        },
                        (flag, None) => FaultPlan {
                            seed: flag.unwrap_or(scenario.seed),
                            ..loaded.plan
                        },
                    }
                }
                None => scenario
                    .scenario
                    .plan_for(seed.map(Seed).unwrap_or(scenario.seed)),
            };
            if let Some(path) = save_plan {
                Output::create(&path)?.commit(&plan.to_toml()?)?;
                println!("plan written to {}", path.display());
            }
            run_once(&scenario, &plan, json)
        }
        Command::Sweep(args) => sweep(args, registry),
        Command::Shrink { file, seed, output } => shrink(&file, Seed(seed), output, registry),
        Command::Timeline {
            file,
            seed,
            output,
            chrome_trace,
        } => {
            // Created before the run, so an unwritable path is refused before anything runs.
            let html = output.as_deref().map(Output::create).transpose()?;
            let chrome = chrome_trace.as_deref().map(Output::create).transpose()?;
            let timeline = Timeline::load(&file, seed.map(Seed), registry)?;
            for (out, text) in [(html, timeline.html()), (chrome, timeline.chrome_trace())] {
                if let Some(out) = out {
                    let path = out.path.clone();
                    out.commit(&text)?;
                    println!("wrote {} ({timeline})", path.display());
                }
            }
            Ok(Status::Passed)
        }
        Command::CheckDeterminism { file, seeds } => {
            check_determinism(&ScenarioFile::load(&file, registry)?, seeds)
        }
    }
}

/// A file the command will write, created (as a temporary file beside it) before any work
/// starts, so an unwritable path is reported before anything runs; [`commit`](Self::commit)
/// writes it whole and renames it into place, so a failure never leaves an empty or partial
/// file.
struct Output {
    path: PathBuf,
    file: tempfile::NamedTempFile,
}

impl Output {
    fn create(path: &Path) -> Result<Self, CliError> {
        let dir = match path.parent() {
            Some(dir) if !dir.as_os_str().is_empty() => dir,
            _ => Path::new("."),
        };
        let file = tempfile::NamedTempFile::new_in(dir).map_err(|e| cannot_write(path, e))?;
        Ok(Output {
            path: path.to_path_buf(),
            file,
        })
    }

    fn commit(mut self, text: &str) -> Result<(), CliError> {
        std::io::Write::write_all(&mut self.file, text.as_bytes())
            .map_err(|e| cannot_write(&self.path, e))?;
        self.file
            .persist(&self.path)
            .map_err(|e| cannot_write(&self.path, e.error))?;
        Ok(())
    }
}

fn cannot_write(path: &Path, source: std::io::Error) -> CliError {
    CliError::Write {
        path: path.to_path_buf(),
        source,
    }
}

/// The command line that runs this tool with `args`.
fn sim_command(args: impl fmt::Display) -> String {
    format!("cargo run -p tcpnotify-sim -- {args}")
}

/// The command that re-runs `file` with `seed`.
fn repro_command(file: &Path, seed: Seed) -> String {
    sim_command(format_args!("run {} --seed {seed}", file.display()))
}

fn run_once(file: &ScenarioFile, plan: &FaultPlan, json: bool) -> Result<Status, CliError> {
    let verdict = judge(&file.scenario, plan)?;
    println!("scenario {} (seed {})", file.scenario.name, plan.seed);
    println!("plan:\n{}", indent(&plan.describe()));
    if json {
        print!("{}", verdict.outcome.trace.render_json_lines());
    } else {
        print!("{}", verdict.outcome.trace.render_text());
    }
    println!("{verdict}");
    Ok(report_status(&verdict, &file.path))
}

fn report_status(verdict: &Verdict, file: &Path) -> Status {
    if verdict.passed() {
        Status::Passed
    } else {
        println!(
            "reproduce: {}",
            repro_command(file, verdict.outcome.plan.seed)
        );
        Status::Failed
    }
}

fn indent(text: &str) -> String {
    text.lines().map(|l| format!("  {l}\n")).collect()
}

fn check_determinism(file: &ScenarioFile, seeds: Range<u64>) -> Result<Status, CliError> {
    let render = |seed: Seed| -> Result<String, CliError> {
        let verdict = judge(&file.scenario, &file.scenario.plan_for(seed))?;
        Ok(verdict.outcome.trace.render_for_comparison())
    };
    let count = seeds.end - seeds.start;
    for seed in seeds.map(Seed) {
        let (first, second) = (render(seed)?, render(seed)?);
        if let Some((line, a, b)) = Trace::first_difference(&first, &second) {
            println!(
                "seed {seed}: runs differ at trace line {line}:\n  first:  {a}\n  second: {b}"
            );
            let args = format!(
                "check-determinism {} --seeds {seed}..{}",
                file.path.display(),
                seed.0 + 1
            );
            println!("reproduce: {}", sim_command(args));
            return Ok(Status::Failed);
        }
    }
    println!("{count} seeds, each run twice: identical traces");
    Ok(Status::Passed)
}

fn sweep(args: SweepArgs, registry: &Registry) -> Result<Status, CliError> {
    let file = ScenarioFile::load(&args.file, registry)?;
    let options = SweepOptions {
        seeds: args.seeds,
        jobs: args.jobs.unwrap_or_else(default_jobs),
        shard: args.shard,
        keep_going: args.keep_going,
        progress: true,
    };
    println!("sweeping with {} job(s)", options.jobs);
    let report = run_sweep(&file.scenario, &options);
    println!("{report}");
    if report.passed() && report.coverage.no_fault_fired() {
        if args.allow_no_faults {
            return Ok(Status::Passed);
        }
        println!(
            "FAILED: no fault fired in any seed, so the sweep tested only the fault-free path: \
             leave [faults] out of the file (each seed then draws its own), raise its \
             probabilities or sweep more seeds; or pass --allow-no-faults"
        );
        return Ok(Status::Failed);
    }
    if report.passed() {
        return Ok(Status::Passed);
    }
    for failure in &report.failures {
        println!("reproduce: {}", repro_command(&file.path, failure.seed));
    }
    let args = format!(
        "shrink {} --seed {}",
        file.path.display(),
        report.failures[0].seed
    );
    println!("shrink:    {}", sim_command(args));
    Ok(Status::Failed)
}

fn shrink(
    path: &Path,
    seed: Seed,
    output: Option<PathBuf>,
    registry: &Registry,
) -> Result<Status, CliError> {
    let file = ScenarioFile::load(path, registry)?;
    let output = output.unwrap_or_else(|| path.with_extension("shrunk.toml"));
    let out = Output::create(&output)?;
    let plan = file.scenario.plan_for(seed);
    let verdict = judge(&file.scenario, &plan)?;
    let Some(first) = verdict.failures.first() else {
        return Err(CliError::NothingToShrink {
            path: path.to_path_buf(),
            seed,
        });
    };
    let signature = first.signature();
    println!("seed {seed} fails with [{signature}]: {first}");
    println!(
        "plan ({} faults, {} policies):\n{}",
        plan.faults.len(),
        plan.policies().len(),
        indent(&plan.describe())
    );
    let result = shrink_verdict(&file.scenario, &verdict);
    for step in &result.steps {
        println!("  {step}");
    }
    println!(
        "minimal plan ({}; {} runs):\n{}",
        result.cause(),
        result.runs,
        indent(&result.plan.describe())
    );
    let header = format!(
        "Shrunk by `tcpnotify-sim shrink {} --seed {seed}`: still fails with [{signature}].",
        path.display()
    );
    out.commit(&file.with_plan(&result.plan, &header)?)?;
    println!("wrote {}", output.display());
    println!(
        "reproduce: {}",
        sim_command(format_args!("run {}", output.display()))
    );
    Ok(Status::Failed)
}
