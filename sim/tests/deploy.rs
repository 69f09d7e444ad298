//! The deployment manifests in `deploy/`, run on this machine as their engines would run them:
//! the Kubernetes Indexed Job's script once per completion index, all at once, then the merge
//! Job's script over the folder that stands in for their shared volume; the GitHub Actions
//! workflow's shard step once per matrix job, each job's artifact handed to the merge job as
//! `download-artifact` hands it, then the merge step. The merged result equals, as parsed
//! JSON, the result of one unsharded sweep of the same seeds, and the last step fails exactly
//! when a seed failed.
//!
//! Every `tcpnotify-sim` command line in the manifests also runs, with the manifests' own
//! values, through a stand-in that records its arguments; each must parse with the real
//! command line's definition (`tcpnotify_sim::cli::command()`), so a manifest cannot name a
//! subcommand or flag that does not exist, or give a flag a value it refuses.
//!
//! What each engine gives a script is imitated: `/bin/sh -c` for a container's command and
//! `bash -eo pipefail` for a `run` step, the environment the manifest sets plus the engine's
//! own (`JOB_COMPLETION_INDEX`; `strategy.job-index`), and the few `${{ }}` expressions the
//! workflow uses.

// The scripts are POSIX shell and bash, as the engines run them.
#![cfg(unix)]

use serde_json::Value;
use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Output};
use yaml_rust2::{Yaml, YamlLoader};

const SIM: &str = env!("CARGO_BIN_EXE_tcpnotify-sim");
const SWEEP_JOB: &str = "deploy/k8s/sweep-job.yaml";
const MERGE_JOB: &str = "deploy/k8s/merge-job.yaml";
const RESULTS_CLAIM: &str = "deploy/k8s/results-pvc.yaml";
const WORKFLOW: &str = "deploy/github/sweep.yml";

/// The test's scenario: an echo whose plan resets the client at some seeds, before its echo
/// is back, so some seeds fail and others pass.
const RESETS: &str = r#"
seed = 1
duration_ms = 2000

[[listeners]]
name = "server"
host = "server"
port = 7000
notifier = "echo"

[[clients]]
name = "c1"
host = "client"
target = "server"
port = 7000
notifier = "sender"
params = { bytes = 512, chunk = 128 }

[faults]
resets = 0.3
reset_after_received = [1, 3]

[expect]
echoed = true
"#;

/// The seeds the runs here sweep.
const SEEDS: &str = "0..24";

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// Every YAML document of the manifest at `path` (from the repository's root).
fn manifest(path: &str) -> Vec<Yaml> {
    let text = std::fs::read_to_string(repo().join(path)).expect("the manifest is readable");
    YamlLoader::load_from_str(&text).unwrap_or_else(|e| panic!("{path}: not YAML: {e}"))
}

/// The string at `node`, which the manifest must have.
fn string(node: &Yaml, what: &str) -> String {
    match node {
        Yaml::String(s) => s.clone(),
        Yaml::Integer(n) => n.to_string(),
        other => panic!("{what}: expected a string, found {other:?}"),
    }
}

/// A shell script from a manifest, with the shell and environment its engine gives it.
#[derive(Clone)]
struct Script {
    /// Where it comes from, for messages.
    origin: String,
    /// The program and arguments that run `text`.
    shell: &'static [&'static str],
    text: String,
    env: BTreeMap<String, String>,
}

/// A Kubernetes container's `/bin/sh -c SCRIPT`.
const SH: &[&str] = &["sh", "-c"];
/// A GitHub Actions `run` step on Linux: `bash --noprofile --norc -eo pipefail {0}`.
const BASH: &[&str] = &["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c"];

impl Script {
    /// The script with `name` set to `value` in its environment.
    fn with(mut self, name: &str, value: impl Into<String>) -> Self {
        self.env.insert(name.to_string(), value.into());
        self
    }

    /// How many `tcpnotify-sim` commands the script's text holds (comments left out).
    fn sim_commands(&self) -> usize {
        self.text
            .lines()
            .filter(|line| !line.trim_start().starts_with('#'))
            .flat_map(str::split_whitespace)
            .filter(|word| *word == "tcpnotify-sim")
            .count()
    }
}

/// A folder to run scripts in, with a stand-in `tcpnotify-sim` first on `PATH` that records
/// each command line it is given and then runs the real binary, or only records it.
struct Stage {
    dir: PathBuf,
    argv: PathBuf,
}

impl Stage {
    fn new(name: &str) -> Self {
        let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("deploy-{name}"));
        let _ = std::fs::remove_dir_all(&dir);
        let (bin, argv) = (dir.join("bin"), dir.join("argv"));
        std::fs::create_dir_all(&bin).expect("scratch dir");
        std::fs::create_dir_all(&argv).expect("scratch dir");
        let stand_in = bin.join("tcpnotify-sim");
        std::fs::write(
            &stand_in,
            "#!/bin/sh\n\
             printf '%s\\0' \"$@\" > \"$(mktemp \"$DEPLOY_TEST_ARGV/argv.XXXXXX\")\"\n\
             if [ -n \"${DEPLOY_TEST_SIM:-}\" ]; then exec \"$DEPLOY_TEST_SIM\" \"$@\"; fi\n",
        )
        .expect("writable");
        make_executable(&stand_in);
        Stage { dir, argv }
    }

    /// A folder of the stage, made empty.
    fn folder(&self, name: &str) -> PathBuf {
        let dir = self.dir.join(name);
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("scratch dir");
        dir
    }

    /// Runs `script` in `cwd`; `real`: the stand-in runs the real binary after recording.
    fn run(&self, script: &Script, cwd: &Path, real: bool) -> Ran {
        let path = std::env::join_paths(std::iter::once(self.dir.join("bin")).chain(
            std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default()),
        ))
        .expect("a PATH");
        let mut command = Command::new(script.shell[0]);
        command
            .args(&script.shell[1..])
            .arg(&script.text)
            .current_dir(cwd)
            .envs(&script.env)
            .env("PATH", path)
            .env("DEPLOY_TEST_ARGV", &self.argv)
            .env_remove("DEPLOY_TEST_SIM");
        if real {
            command.env("DEPLOY_TEST_SIM", SIM);
        }
        let Output { status, stderr, .. } = command
            .output()
            .unwrap_or_else(|e| panic!("{}: cannot start {}: {e}", script.origin, script.shell[0]));
        Ran {
            status,
            stderr: String::from_utf8_lossy(&stderr).into_owned(),
        }
    }

    /// Runs every script at once (as an engine runs a Job's pods or a matrix's jobs), each in
    /// its own folder, and returns how each ended.
    fn run_all(&self, scripts: &[(Script, PathBuf)], real: bool) -> Vec<Ran> {
        std::thread::scope(|scope| {
            let runs: Vec<_> = scripts
                .iter()
                .map(|(script, cwd)| scope.spawn(move || self.run(script, cwd, real)))
                .collect();
            runs.into_iter()
                .map(|run| run.join().expect("the script ran"))
                .collect()
        })
    }

    /// The command lines the stand-in was given, and forgets them.
    fn take_recorded(&self) -> Vec<Vec<String>> {
        let mut lines = Vec::new();
        for entry in std::fs::read_dir(&self.argv).expect("the argv folder") {
            let path = entry.expect("an entry").path();
            let bytes = std::fs::read(&path).expect("readable");
            std::fs::remove_file(&path).expect("removable");
            let text = String::from_utf8(bytes).expect("UTF-8 arguments");
            lines.push(
                text.strip_suffix('\0')
                    .unwrap_or(&text)
                    .split('\0')
                    .map(String::from)
                    .collect(),
            );
        }
        lines
    }
}

/// How a script ended: its exit status, and its stderr, which says why.
struct Ran {
    status: ExitStatus,
    stderr: String,
}

impl fmt::Display for Ran {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}\n{}", self.status, self.stderr)
    }
}

fn make_executable(path: &Path) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).expect("chmod");
}

/// Runs `scripts` with the manifests' own values, recording their command lines, and checks
/// that each script ran each of its `tcpnotify-sim` commands and that every command line
/// parses with the real command line's definition.
fn check_command_lines(stage: &Stage, scripts: &[Script]) {
    let runs: Vec<(Script, PathBuf)> = scripts
        .iter()
        .enumerate()
        .map(|(i, script)| (script.clone(), stage.folder(&format!("dry-{i}"))))
        .collect();
    for ((script, _), ran) in runs.iter().zip(stage.run_all(&runs, false)) {
        assert!(ran.status.success(), "{}: {ran}", script.origin);
    }
    let recorded = stage.take_recorded();
    let expected: usize = scripts.iter().map(Script::sim_commands).sum();
    assert!(expected > 0, "no tcpnotify-sim command in the scripts");
    assert_eq!(recorded.len(), expected, "every command line ran once");
    for args in recorded {
        let argv = std::iter::once("tcpnotify-sim".to_string()).chain(args.iter().cloned());
        if let Err(e) = tcpnotify_sim::cli::command().try_get_matches_from(argv) {
            panic!("tcpnotify-sim {}:\n{}", args.join(" "), e.render());
        }
    }
}

/// The last line of `text` (a `sweep --json` or `merge --json` output: its result), parsed.
fn result(text: &str, what: &str) -> Value {
    let line = text
        .lines()
        .last()
        .unwrap_or_else(|| panic!("{what}: empty"));
    let value: Value = serde_json::from_str(line).unwrap_or_else(|e| panic!("{what}: {e}"));
    assert_eq!(value["type"], "sweep_result", "{what}");
    value
}

/// The result of one unsharded sweep of `seeds` of `scenario`, with the environment the
/// scripts' runs had (the repro lines name the binary as it was started).
fn unsharded(scenario: &Path, seeds: &str) -> Value {
    let output = Command::new(SIM)
        .args(["sweep", scenario.to_str().expect("a UTF-8 path")])
        .args(["--seeds", seeds, "--keep-going", "--json"])
        .output()
        .expect("the binary runs");
    assert!(
        matches!(output.status.code(), Some(0 | 1)),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    result(
        &String::from_utf8_lossy(&output.stdout),
        "the unsharded sweep",
    )
}

// ---- Kubernetes -------------------------------------------------------------------------

/// A Job manifest's one container: its script, environment and results mount.
struct Job {
    doc: Yaml,
    script: Script,
    /// The mount path of the results claim and the claim's name.
    mount: (String, String),
}

fn job(path: &str) -> Job {
    let docs = manifest(path);
    let [doc] = docs.as_slice() else {
        panic!("{path}: expected one document, found {}", docs.len());
    };
    assert_eq!(doc["apiVersion"].as_str(), Some("batch/v1"), "{path}");
    assert_eq!(doc["kind"].as_str(), Some("Job"), "{path}");
    let pod = &doc["spec"]["template"]["spec"];
    assert_eq!(pod["restartPolicy"].as_str(), Some("Never"), "{path}");
    let containers = pod["containers"].as_vec().expect("containers");
    let [container] = containers.as_slice() else {
        panic!("{path}: expected one container");
    };
    let command = container["command"].as_vec().expect("a command");
    let [sh, c, text] = command.as_slice() else {
        panic!("{path}: expected the command [/bin/sh, -c, SCRIPT]");
    };
    assert_eq!(
        (sh.as_str(), c.as_str()),
        (Some("/bin/sh"), Some("-c")),
        "{path}"
    );
    let env = container["env"]
        .as_vec()
        .expect("env")
        .iter()
        .map(|var| (string(&var["name"], path), string(&var["value"], path)))
        .collect();
    let mounts = container["volumeMounts"].as_vec().expect("volumeMounts");
    let [mount] = mounts.as_slice() else {
        panic!("{path}: expected one volume mount");
    };
    let volume = pod["volumes"]
        .as_vec()
        .expect("volumes")
        .iter()
        .find(|v| v["name"] == mount["name"])
        .unwrap_or_else(|| panic!("{path}: the mounted volume is not defined"));
    Job {
        doc: doc.clone(),
        script: Script {
            origin: path.to_string(),
            shell: SH,
            text: string(text, path),
            env,
        },
        mount: (
            string(&mount["mountPath"], path),
            string(&volume["persistentVolumeClaim"]["claimName"], path),
        ),
    }
}

/// The sweep Job and the merge Job, checked to fit each other: an Indexed Job with as many
/// completions (and pods at once) as SHARDS says, both writing and reading the results claim
/// at the path RESULTS names, a claim many nodes can mount.
fn kubernetes() -> (Job, Job, usize) {
    let (sweep, merge) = (job(SWEEP_JOB), job(MERGE_JOB));
    let spec = &sweep.doc["spec"];
    assert_eq!(spec["completionMode"].as_str(), Some("Indexed"));
    let shards: usize = sweep.script.env["SHARDS"]
        .parse()
        .expect("SHARDS is a number");
    for field in ["completions", "parallelism"] {
        assert_eq!(
            spec[field].as_i64(),
            Some(shards as i64),
            "{field} and SHARDS"
        );
    }
    let claims = manifest(RESULTS_CLAIM);
    let claim = &claims[0];
    assert_eq!(claim["kind"].as_str(), Some("PersistentVolumeClaim"));
    let modes = claim["spec"]["accessModes"].as_vec().expect("accessModes");
    assert!(modes.contains(&Yaml::String("ReadWriteMany".into())));
    for job in [&sweep, &merge] {
        assert_eq!(
            job.script.env["RESULTS"], job.mount.0,
            "RESULTS is the mount"
        );
        assert_eq!(
            Some(job.mount.1.as_str()),
            claim["metadata"]["name"].as_str()
        );
    }
    let rule = &spec["podFailurePolicy"]["rules"][0]["onExitCodes"]["containerName"];
    let container = &spec["template"]["spec"]["containers"][0]["name"];
    assert_eq!(
        rule, container,
        "the pod failure policy names the container"
    );
    (sweep, merge, shards)
}

#[test]
fn kubernetes_jobs_call_only_flags_that_exist() {
    let stage = Stage::new("k8s-flags");
    let (sweep, merge, shards) = kubernetes();
    let scenario = sweep.script.env["SCENARIO"].clone();
    // The image holds the repository's scenarios in /scenarios (deploy/Dockerfile).
    let in_repo = repo().join(scenario.strip_prefix('/').expect("an absolute path"));
    assert!(in_repo.is_file(), "{scenario} is not in the repository");
    let results = stage.folder("results");
    let mut scripts: Vec<Script> = (0..shards)
        .map(|i| {
            sweep
                .script
                .clone()
                .with("JOB_COMPLETION_INDEX", i.to_string())
                .with("RESULTS", results.to_str().expect("UTF-8"))
        })
        .collect();
    scripts.push(
        merge
            .script
            .with("RESULTS", results.to_str().expect("UTF-8")),
    );
    check_command_lines(&stage, &scripts);
}

#[test]
fn kubernetes_shards_merge_into_the_unsharded_result() {
    let stage = Stage::new("k8s-run");
    let (sweep, merge, shards) = kubernetes();
    let scenario = stage.dir.join("resets.toml");
    std::fs::write(&scenario, RESETS).expect("writable");
    let results = stage.folder("results");
    let pods: Vec<(Script, PathBuf)> = (0..shards)
        .map(|i| {
            let script = (sweep.script.clone())
                .with("SCENARIO", scenario.to_str().expect("UTF-8"))
                .with("SEEDS", SEEDS)
                .with("RESULTS", results.to_str().expect("UTF-8"))
                .with("JOB_COMPLETION_INDEX", i.to_string());
            (script, stage.folder(&format!("pod-{i}")))
        })
        .collect();
    for ran in stage.run_all(&pods, true) {
        assert!(ran.status.success(), "a shard pod: {ran}");
    }
    for i in 0..shards {
        assert!(results.join(format!("shard-{i}.json")).is_file());
        assert!(!results.join(format!("shard-{i}.json.partial")).exists());
    }
    let merge_script = merge
        .script
        .with("RESULTS", results.to_str().expect("UTF-8"));
    let ran = stage.run(&merge_script, &stage.folder("merge-pod"), true);
    assert_eq!(
        ran.status.code(),
        Some(1),
        "the merge Job fails: some seeds fail; {ran}"
    );
    let merged = std::fs::read_to_string(results.join("merged.json")).expect("merged.json");
    let merged = result(&merged, "merged.json");
    let whole = unsharded(&scenario, SEEDS);
    assert!(!whole["failures"].as_array().expect("failures").is_empty());
    assert_eq!(merged, whole);
    assert!(results.join("junit.xml").is_file());
}

// ---- GitHub Actions ---------------------------------------------------------------------

/// What a workflow's `${{ }}` expressions see.
struct Context<'a> {
    inputs: &'a BTreeMap<String, String>,
    job_index: usize,
    job_total: usize,
}

impl Context<'_> {
    /// `text` with each `${{ expression }}` replaced by its value.
    fn expand(&self, text: &str) -> String {
        let mut out = String::new();
        let mut rest = text;
        while let Some(start) = rest.find("${{") {
            let end = rest[start..].find("}}").expect("an expression ends") + start;
            out += &rest[..start];
            out += &self.eval(rest[start + 3..end].trim());
            rest = &rest[end + 2..];
        }
        out + rest
    }

    /// The expressions the workflow uses: `a || b` (the first that is not empty), `'text'`,
    /// `inputs.NAME` (empty when not given, as in a scheduled run), `strategy.job-index` and
    /// `strategy.job-total`.
    fn eval(&self, expression: &str) -> String {
        let value = |term: &str| -> String {
            if let Some(text) = term.strip_prefix('\'').and_then(|t| t.strip_suffix('\'')) {
                return text.to_string();
            }
            if let Some(name) = term.strip_prefix("inputs.") {
                return self.inputs.get(name).cloned().unwrap_or_default();
            }
            match term {
                "strategy.job-index" => self.job_index.to_string(),
                "strategy.job-total" => self.job_total.to_string(),
                other => panic!("an expression this test does not know: {other}"),
            }
        };
        expression
            .split("||")
            .map(|term| value(term.trim()))
            .find(|v| !v.is_empty())
            .unwrap_or_default()
    }
}

/// The environment of `node` (a workflow, job or step), expanded.
fn env_of(node: &Yaml, context: &Context) -> BTreeMap<String, String> {
    node["env"]
        .as_hash()
        .into_iter()
        .flatten()
        .map(|(k, v)| (string(k, "env"), context.expand(&string(v, "env"))))
        .collect()
}

/// The workflow and its shard count (the matrix's size).
fn workflow() -> (Yaml, usize) {
    let docs = manifest(WORKFLOW);
    let doc = docs.first().expect("a document").clone();
    let jobs = &doc["jobs"];
    assert_eq!(jobs["shard"]["needs"].as_str(), Some("build"));
    assert_eq!(jobs["merge"]["needs"].as_str(), Some("shard"));
    let strategy = &jobs["shard"]["strategy"];
    assert_eq!(
        strategy["fail-fast"].as_bool(),
        Some(false),
        "every shard runs"
    );
    let matrix = strategy["matrix"].as_hash().expect("a matrix");
    assert_eq!(matrix.len(), 1, "one dimension: the shard");
    let shards = matrix
        .values()
        .next()
        .and_then(Yaml::as_vec)
        .expect("a list")
        .len();
    (doc, shards)
}

/// The `run` steps of job `name` that call tcpnotify-sim, as scripts.
fn sim_steps(doc: &Yaml, name: &str, context: &Context) -> Vec<Script> {
    let job = &doc["jobs"][name];
    let mut env = env_of(doc, context);
    env.extend(env_of(job, context));
    let steps = job["steps"].as_vec().expect("steps");
    let scripts: Vec<Script> = steps
        .iter()
        .filter_map(|step| {
            let script = Script {
                origin: format!("{WORKFLOW}: job {name}"),
                shell: BASH,
                text: context.expand(step["run"].as_str()?),
                env: env
                    .iter()
                    .chain(&env_of(step, context))
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect(),
            };
            (script.sim_commands() > 0).then_some(script)
        })
        .collect();
    assert!(!scripts.is_empty(), "job {name} runs tcpnotify-sim");
    scripts
}

/// The `with` of job `name`'s step that uses `action`.
fn action_with<'a>(doc: &'a Yaml, name: &str, action: &str, key: &str) -> Vec<&'a Yaml> {
    doc["jobs"][name]["steps"]
        .as_vec()
        .expect("steps")
        .iter()
        .filter(|step| {
            step["uses"]
                .as_str()
                .is_some_and(|uses| uses.starts_with(&format!("{action}@")))
        })
        .map(|step| &step["with"])
        .filter(|with| !with[key].is_badvalue())
        .collect()
}

/// Every shard job and the merge job of a run with `inputs`, as scripts in their folders,
/// with what they hand on: the shards' artifacts (name, file), and the folder the merge job
/// downloads them to.
struct GithubRun {
    shards: Vec<(Vec<Script>, (String, String))>,
    merge: Vec<Script>,
    download: (String, String),
}

fn github_run(inputs: &BTreeMap<String, String>) -> GithubRun {
    let (doc, total) = workflow();
    let shards = (0..total)
        .map(|i| {
            let context = Context {
                inputs,
                job_index: i,
                job_total: total,
            };
            let upload = action_with(&doc, "shard", "actions/upload-artifact", "name");
            let [upload] = upload.as_slice() else {
                panic!("the shard job uploads one artifact");
            };
            let artifact = (
                context.expand(&string(&upload["name"], "name")),
                context.expand(&string(&upload["path"], "path")),
            );
            (sim_steps(&doc, "shard", &context), artifact)
        })
        .collect();
    let context = Context {
        inputs,
        job_index: 0,
        job_total: 1,
    };
    let download = action_with(&doc, "merge", "actions/download-artifact", "pattern");
    let [download] = download.as_slice() else {
        panic!("the merge job downloads the shards' artifacts once");
    };
    // With merge-multiple, every artifact's files land in `path` itself.
    assert_eq!(download["merge-multiple"].as_bool(), Some(true));
    GithubRun {
        shards,
        merge: sim_steps(&doc, "merge", &context),
        download: (
            string(&download["pattern"], "pattern"),
            string(&download["path"], "path"),
        ),
    }
}

/// The inputs of a manual run with the defaults the workflow gives.
fn default_inputs() -> BTreeMap<String, String> {
    let (doc, _) = workflow();
    doc["on"]["workflow_dispatch"]["inputs"]
        .as_hash()
        .expect("workflow_dispatch inputs")
        .iter()
        .map(|(k, v)| (string(k, "input"), string(&v["default"], "default")))
        .collect()
}

/// Runs the workflow with `inputs` for real: the shard jobs at once, their artifacts handed to
/// the merge job, then the merge job. Returns how the merge step ended and the merged result.
fn run_workflow(stage: &Stage, inputs: &BTreeMap<String, String>) -> (Ran, Value) {
    let run = github_run(inputs);
    let jobs: Vec<(Vec<Script>, PathBuf)> = (run.shards.iter().enumerate())
        .map(|(i, (steps, _))| (steps.clone(), stage.folder(&format!("job-{i}"))))
        .collect();
    std::thread::scope(|scope| {
        for (steps, cwd) in &jobs {
            scope.spawn(move || {
                for step in steps {
                    let ran = stage.run(step, cwd, true);
                    assert!(ran.status.success(), "{}: {ran}", step.origin);
                }
            });
        }
    });
    let merge_dir = stage.folder("merge-job");
    let (pattern, path) = &run.download;
    let downloaded = merge_dir.join(path);
    std::fs::create_dir_all(&downloaded).expect("scratch dir");
    for ((_, (name, file)), (_, cwd)) in run.shards.iter().zip(&jobs) {
        let prefix = pattern.strip_suffix('*').expect("a NAME-* pattern");
        assert!(name.starts_with(prefix), "{name} matches {pattern}");
        let file = Path::new(file);
        std::fs::copy(
            cwd.join(file),
            downloaded.join(file.file_name().expect("a file")),
        )
        .expect("the shard's artifact was written");
    }
    let [merge] = run.merge.as_slice() else {
        panic!("one merge step");
    };
    let ran = stage.run(merge, &merge_dir, true);
    let merged = std::fs::read_to_string(merge_dir.join("merged.json")).expect("merged.json");
    (ran, result(&merged, "merged.json"))
}

#[test]
fn github_workflow_calls_only_flags_that_exist() {
    let stage = Stage::new("github-flags");
    // A scheduled run (no inputs) and a manual one with the default inputs.
    for inputs in [BTreeMap::new(), default_inputs()] {
        let run = github_run(&inputs);
        let scenario = run.shards[0].0[0].env["SCENARIO"].clone();
        assert!(repo().join(&scenario).is_file(), "{scenario}");
        let mut scripts: Vec<Script> = run.shards.into_iter().flat_map(|(s, _)| s).collect();
        scripts.extend(run.merge);
        check_command_lines(&stage, &scripts);
    }
}

#[test]
fn github_shards_merge_into_the_unsharded_result_and_fail_on_a_failure() {
    let stage = Stage::new("github-run");
    let scenario = stage.dir.join("resets.toml");
    std::fs::write(&scenario, RESETS).expect("writable");
    let path = scenario.to_str().expect("UTF-8");
    let inputs = BTreeMap::from([
        ("scenario".to_string(), path.to_string()),
        ("seeds".to_string(), SEEDS.to_string()),
    ]);
    let (ran, merged) = run_workflow(&stage, &inputs);
    assert_eq!(
        ran.status.code(),
        Some(1),
        "the merge step fails: some seeds fail; {ran}"
    );
    let whole = unsharded(&scenario, SEEDS);
    assert!(!whole["failures"].as_array().expect("failures").is_empty());
    assert_eq!(merged, whole);

    // Without the resets every seed passes, and so does the merge step.
    let passing = stage.dir.join("echo.toml");
    let faults = RESETS.find("[faults]").expect("a [faults] table");
    let expect = RESETS.find("[expect]").expect("an [expect] table");
    std::fs::write(&passing, [&RESETS[..faults], &RESETS[expect..]].concat()).expect("writable");
    let inputs = BTreeMap::from([
        (
            "scenario".to_string(),
            passing.to_str().expect("UTF-8").to_string(),
        ),
        ("seeds".to_string(), "0..8".to_string()),
    ]);
    let (ran, merged) = run_workflow(&stage, &inputs);
    assert!(ran.status.success(), "the merge step passes: {ran}");
    assert_eq!(merged, unsharded(&passing, "0..8"));
    assert_eq!(merged["failures"].as_array().map(Vec::len), Some(0));
}
