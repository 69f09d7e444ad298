//! Scenario files: a [`Scenario`] written as TOML, with its seed and end conditions. Every
//! error names the file, the line and the field, and nothing runs until the whole file is
//! valid.
//!
//! ```toml
//! # what it reproduces, in a comment
//! name = "echo"
//! seed = 7                  # the seed `run` uses unless given one
//! duration_ms = 5000
//! hosts = ["spare"]         # hosts with nothing on them
//!
//! [names]                   # names that resolve to several hosts, in order
//! svc = ["spare", "server"]
//!
//! [[listeners]]
//! name = "server"
//! host = "server"
//! port = 7000
//! limit = 0                 # connection limit, 0 = none
//! notifier = "echo"         # a registered notifier
//! params = {}               # its parameters
//! config = { read_buffer_size = 16384 }
//!
//! [[clients]]
//! name = "c1"
//! host = "client"
//! target = "svc"
//! port = 7000
//! start_ms = 0
//! notifier = "sender"
//! params = { bytes = 4096, chunk = 512 }
//!
//! [[clients]]               # many alike clients from one table: `count` of them, named
//! name = "web"              # `web-1` to `web-1000` (a dash and a number, so never like an
//! count = 1000              # accepted connection's `server.1`); at most 10,000 per table
//! host = "browsers"
//! target = "svc"
//! port = 7000
//! notifier = "line-client"
//!
//! [faults]                  # probabilities and ranges a plan is drawn from ...
//! partial_writes = 0.5
//! # [plan]                  # ... or an explicit plan instead
//!
//! [expect]                  # what must hold at the end
//! echoed = true
//! closed = 2
//! ```

use crate::plan::FaultPlan;
use crate::registry::{ParamError, Params, Registry};
use crate::runner::SimError;
use crate::scenario::{NotifierFactory, Scenario};
use crate::seed::Seed;
use crate::settings::FaultSettings;
use crate::verdict::{judge, Expectations, Verdict};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::fmt;
use std::ops::Range;
use std::path::{Path, PathBuf};
use tcpnotify::ConnectionConfig;
use toml::Spanned;

/// A loaded scenario file.
#[derive(Debug, Clone)]
pub struct ScenarioFile {
    /// Where it was read from.
    pub path: PathBuf,
    /// The scenario, ready to run.
    pub scenario: Scenario,
    /// The seed the file names (1 if it names none).
    pub seed: Seed,
    /// The file's text.
    pub text: String,
}

/// A scenario file that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScenarioError {
    /// The file.
    pub file: PathBuf,
    /// The line (from 1), when the error is at one place.
    pub line: Option<usize>,
    /// The field (`clients[1].target`), or empty.
    pub field: String,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for ScenarioError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file.display())?;
        if let Some(line) = self.line {
            write!(f, ":{line}")?;
        }
        if !self.field.is_empty() {
            write!(f, ": {}", self.field)?;
        }
        write!(f, ": {}", self.message)
    }
}

impl std::error::Error for ScenarioError {}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileScenario {
    name: Option<String>,
    seed: Option<u64>,
    duration_ms: Option<u64>,
    #[serde(default)]
    hosts: Vec<Spanned<String>>,
    #[serde(default)]
    names: BTreeMap<String, Spanned<Vec<String>>>,
    #[serde(default)]
    listeners: Vec<FileListener>,
    #[serde(default)]
    clients: Vec<FileClient>,
    faults: Option<Spanned<FaultSettings>>,
    // Not `Spanned`: toml cannot span a table made only by sub-headers (`[[plan.faults]]`).
    plan: Option<FaultPlan>,
    #[serde(default)]
    expect: Expectations,
    #[serde(default)]
    keep_payloads: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileListener {
    name: Spanned<String>,
    host: String,
    port: u16,
    #[serde(default)]
    limit: usize,
    notifier: Spanned<String>,
    params: Option<Spanned<toml::Table>>,
    #[serde(default)]
    config: FileConfig,
}

/// The most clients one `[[clients]]` table may ask for with `count`.
pub const MAX_CLIENT_COUNT: usize = 10_000;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileClient {
    name: Spanned<String>,
    /// How many alike clients this table makes (`name-1`, `name-2`, ...); absent: one, `name`.
    count: Option<Spanned<usize>>,
    host: String,
    target: Spanned<String>,
    port: u16,
    #[serde(default)]
    start_ms: u64,
    notifier: Spanned<String>,
    params: Option<Spanned<toml::Table>>,
    #[serde(default)]
    config: FileConfig,
}

/// Connection settings; absent ones keep Pony's defaults.
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    read_buffer_size: Option<usize>,
    yield_after_reading: Option<usize>,
    yield_after_writing: Option<usize>,
}

impl FileConfig {
    fn apply(&self) -> ConnectionConfig {
        let mut config = ConnectionConfig::default();
        if let Some(n) = self.read_buffer_size {
            config.set_read_buffer_size(n);
        }
        if let Some(n) = self.yield_after_reading {
            config.set_yield_after_reading(n);
        }
        if let Some(n) = self.yield_after_writing {
            config.set_yield_after_writing(n);
        }
        config
    }
}

/// Reads and validates the scenario file at `path`, building notifiers from `registry`.
pub fn load(path: &Path, registry: &Registry) -> Result<ScenarioFile, ScenarioError> {
    parse(&read(path)?, path, registry)
}

/// Reads a fault plan file, as `tcpnotify-sim run --plan` takes it: a bare plan (as
/// `run --save-plan` writes), or a scenario file whose `[plan]` is used (as `shrink` writes).
/// Also says whether the file names its seed; if not, the run's seed applies.
pub fn load_plan(path: &Path) -> Result<(FaultPlan, bool), ScenarioError> {
    /// A scenario file: only its plan matters here.
    #[derive(Deserialize)]
    struct WithPlan {
        plan: FaultPlan,
        #[serde(flatten)]
        _rest: toml::Table,
    }
    let text = read(path)?;
    let at = Locator { text: &text, path };
    let table: toml::Table = toml::from_str(&text).map_err(|e| at.toml_error(&e))?;
    let plan = if table.contains_key("plan") {
        toml::from_str::<WithPlan>(&text).map(|file| file.plan)
    } else {
        toml::from_str::<FaultPlan>(&text)
    };
    let plan = plan.map_err(|e| at.toml_error(&e))?;
    Ok((plan, table.contains_key("seed")))
}

fn read(path: &Path) -> Result<String, ScenarioError> {
    std::fs::read_to_string(path).map_err(|e| ScenarioError {
        file: path.to_path_buf(),
        line: None,
        field: String::new(),
        message: format!("cannot read: {e}"),
    })
}

/// Parses scenario `text`; `path` names it in errors and gives the default scenario name.
pub fn parse(text: &str, path: &Path, registry: &Registry) -> Result<ScenarioFile, ScenarioError> {
    let at = Locator { text, path };
    let file: FileScenario = toml::from_str(text).map_err(|e| at.toml_error(&e))?;
    let name = file.name.clone().unwrap_or_else(|| {
        let stem = path.file_stem().map(|s| s.to_string_lossy().into_owned());
        stem.unwrap_or_else(|| "scenario".into())
    });
    if file.listeners.is_empty() && file.clients.is_empty() {
        let message = "nothing to run: add a [[listeners]] or [[clients]] table";
        return Err(at.error(0..0, "", message));
    }
    let mut scenario = Scenario::new(&name);
    if let Some(ms) = file.duration_ms {
        if ms == 0 {
            let span = at.table_span("duration_ms");
            return Err(at.error(span, "duration_ms", "must be at least 1"));
        }
        scenario = scenario.duration_ms(ms);
    }
    for host in &file.hosts {
        scenario = scenario.host(host.get_ref());
    }
    for (alias, hosts) in &file.names {
        if hosts.get_ref().is_empty() {
            return Err(at.error(
                hosts.span(),
                &format!("names.{alias}"),
                "a name needs at least one host",
            ));
        }
        let hosts: Vec<&str> = hosts.get_ref().iter().map(String::as_str).collect();
        scenario = scenario.name(alias, &hosts);
    }
    let mut seen: BTreeMap<String, String> = BTreeMap::new();
    for (i, l) in file.listeners.iter().enumerate() {
        let field = format!("listeners[{i}]");
        at.unique(&mut seen, l.name.get_ref(), l.name.span(), &field)?;
        let notifier = at.notifier(registry, &l.notifier, &l.params, &field)?;
        scenario = scenario
            .listener(l.name.get_ref(), &l.host, l.port, notifier)
            .with_config(l.config.apply());
        if let Some(spec) = scenario.listeners.last_mut() {
            spec.limit = l.limit;
        }
    }
    for (i, c) in file.clients.iter().enumerate() {
        let field = format!("clients[{i}]");
        let notifier = at.notifier(registry, &c.notifier, &c.params, &field)?;
        for name in at.client_names(c, &field)? {
            at.unique(&mut seen, &name, c.name.span(), &field)?;
            scenario = scenario
                .client(&name, &c.host, c.target.get_ref(), c.port, notifier.clone())
                .starting_at(c.start_ms)
                .with_config(c.config.apply());
        }
    }
    let topology = scenario.topology();
    for (i, c) in file.clients.iter().enumerate() {
        let target = c.target.get_ref();
        if !scenario.names.contains_key(target) && !topology.hosts.contains(target) {
            let message = format!("{target:?} is neither a host nor a name of this scenario");
            return Err(at.error(c.target.span(), &format!("clients[{i}].target"), &message));
        }
    }
    if let Some(settings) = &file.faults {
        settings
            .get_ref()
            .validate()
            .map_err(|m| at.within(settings.span(), "faults", &m))?;
        scenario = scenario.faults(settings.get_ref().clone());
    }
    if let Some(plan) = &file.plan {
        let span = at.table_span("plan");
        if file.faults.is_some() {
            let message =
                "give either [faults] (settings a plan is drawn from) or [plan], not both";
            return Err(at.error(span, "plan", message));
        }
        plan.validate(&topology)
            .map_err(|m| at.within(span, "plan", &m))?;
        scenario = scenario.plan(plan.clone());
    }
    if file.keep_payloads {
        scenario = scenario.keep_payloads();
    }
    scenario = scenario.expecting(file.expect.clone());
    Ok(ScenarioFile {
        path: path.to_path_buf(),
        scenario,
        seed: Seed(file.seed.unwrap_or(1)),
        text: text.to_string(),
    })
}

impl ScenarioFile {
    /// Runs the scenario with `seed` (the file's own when `None`) and judges it: the library
    /// call behind `tcpnotify-sim run`.
    ///
    /// ```
    /// use std::path::Path;
    /// use tcpnotify_sim::notifiers::Echo;
    /// use tcpnotify_sim::registry::Registry;
    /// use tcpnotify_sim::scenario::factory;
    /// use tcpnotify_sim::scenario_file::parse;
    ///
    /// let mut registry = Registry::builtin();
    /// registry.register("my-server", |_| Ok(factory(|| Echo)));
    /// let text = r#"
    ///     [[listeners]]
    ///     name = "server"
    ///     host = "server"
    ///     port = 7000
    ///     notifier = "my-server"
    ///     [[clients]]
    ///     name = "c1"
    ///     host = "client"
    ///     target = "server"
    ///     port = 7000
    ///     notifier = "sender"
    ///     params = { text = "hello" }
    ///     [expect]
    ///     echoed = true
    ///     closed = 2
    /// "#;
    /// let file = parse(text, Path::new("mine.toml"), &registry).unwrap();
    /// let verdict = file.judge(None).unwrap();
    /// assert!(verdict.passed(), "{verdict}");
    /// ```
    pub fn judge(&self, seed: Option<Seed>) -> Result<Verdict, SimError> {
        let plan = self.scenario.plan_for(seed.unwrap_or(self.seed));
        judge(&self.scenario, &plan)
    }

    /// The file's text with `plan` as its explicit `[plan]` (replacing `[faults]` or an older
    /// plan) and `seed` as its seed, keeping every comment: what `shrink` writes out.
    pub fn with_plan(&self, plan: &FaultPlan, header: &str) -> String {
        let mut doc: toml_edit::DocumentMut = match self.text.parse() {
            Ok(doc) => doc,
            // The text parsed when the file was loaded.
            Err(_) => return self.text.clone(),
        };
        doc.remove("faults");
        doc.remove("plan");
        doc["seed"] = toml_edit::value(plan.seed.0 as i64);
        if let Ok(plan_doc) = plan.to_toml().parse::<toml_edit::DocumentMut>() {
            doc["plan"] = toml_edit::Item::Table(plan_doc.as_table().clone());
        }
        let comments: String = header.lines().map(|l| format!("# {l}\n")).collect();
        format!("{comments}{doc}")
    }
}

/// Turns byte offsets into lines and fields for errors.
struct Locator<'a> {
    text: &'a str,
    path: &'a Path,
}

impl Locator<'_> {
    fn error(&self, span: Range<usize>, field: &str, message: &str) -> ScenarioError {
        let offset = span.start.min(self.text.len());
        ScenarioError {
            file: self.path.to_path_buf(),
            line: Some(self.text[..offset].matches('\n').count() + 1),
            field: field.to_string(),
            message: message.to_string(),
        }
    }

    /// From the first line that opens table `name` (`[name`, `name =`, `name.`) to the end
    /// of the text.
    fn table_span(&self, name: &str) -> Range<usize> {
        let mut offset = 0;
        for line in self.text.split_inclusive('\n') {
            let t = line.trim_start();
            let opens = t
                .strip_prefix("[[")
                .or_else(|| t.strip_prefix('['))
                .unwrap_or(t);
            if opens.starts_with(name)
                && opens[name.len()..]
                    .trim_start()
                    .starts_with(['.', ']', '='])
            {
                return offset..self.text.len();
            }
            offset += line.len();
        }
        0..self.text.len()
    }

    /// A TOML error, at its line and field.
    fn toml_error(&self, e: &toml::de::Error) -> ScenarioError {
        let span = e.span().unwrap_or(0..0);
        self.error(span.clone(), &self.field_at(span.start), e.message().trim())
    }

    /// An error inside table `table` (at `span`) whose message may start with the key it is
    /// about (`partial_writes: ...`): points at that key's line when it can find it.
    fn within(&self, span: Range<usize>, table: &str, message: &str) -> ScenarioError {
        let found = message.split_once(": ").and_then(|(key, rest)| {
            let key = key.split(['.', '[']).next().unwrap_or(key);
            let body = self.text.get(span.clone())?;
            let mut offset = span.start;
            for line in body.split_inclusive('\n') {
                if line.trim_start().starts_with(key) && line.contains('=') {
                    return Some((offset, format!("{table}.{key}"), rest));
                }
                offset += line.len();
            }
            None
        });
        match found {
            Some((offset, field, rest)) => self.error(offset..offset, &field, rest),
            None => self.error(span, table, message),
        }
    }

    /// The dotted field at `offset`: the enclosing table header (with the index of an array
    /// of tables) and the key on that line.
    fn field_at(&self, offset: usize) -> String {
        let offset = offset.min(self.text.len());
        let line_start = self.text[..offset].rfind('\n').map_or(0, |i| i + 1);
        let line = self.text[line_start..].lines().next().unwrap_or("");
        let mut table = String::new();
        let mut counts: BTreeMap<String, usize> = BTreeMap::new();
        for header in self.text[..line_start].lines().map(str::trim) {
            if let Some(name) = header.strip_prefix("[[").and_then(|h| h.split("]]").next()) {
                let name = name.trim().to_string();
                let n = counts.entry(name.clone()).or_insert(0);
                table = format!("{name}[{n}]");
                *n += 1;
            } else if let Some(name) = header.strip_prefix('[').and_then(|h| h.split(']').next()) {
                table = name.trim().to_string();
            }
        }
        let key = line
            .split_once('=')
            .map(|(k, _)| k.trim())
            .filter(|k| !k.starts_with('['));
        match key {
            Some(key) if table.is_empty() => key.to_string(),
            Some(key) => format!("{table}.{key}"),
            None => table,
        }
    }

    /// Records `name` (written at `span`) as the name of `field`, unless it is taken.
    fn unique(
        &self,
        seen: &mut BTreeMap<String, String>,
        name: &str,
        span: Range<usize>,
        field: &str,
    ) -> Result<(), ScenarioError> {
        if let Some(first) = seen.get(name) {
            let message = format!("{name:?} is already the name of {first}");
            return Err(self.error(span, &format!("{field}.name"), &message));
        }
        seen.insert(name.to_string(), field.to_string());
        Ok(())
    }

    /// The names of the clients a `[[clients]]` table makes: its `name`, or with `count`,
    /// `name-1` to `name-<count>`.
    fn client_names(&self, client: &FileClient, field: &str) -> Result<Vec<String>, ScenarioError> {
        let name = client.name.get_ref();
        let Some(count) = &client.count else {
            return Ok(vec![name.clone()]);
        };
        let n = *count.get_ref();
        if !(1..=MAX_CLIENT_COUNT).contains(&n) {
            let message = format!("{n} is not between 1 and {MAX_CLIENT_COUNT}");
            return Err(self.error(count.span(), &format!("{field}.count"), &message));
        }
        Ok((1..=n).map(|i| format!("{name}-{i}")).collect())
    }

    fn notifier(
        &self,
        registry: &Registry,
        name: &Spanned<String>,
        params: &Option<Spanned<toml::Table>>,
        field: &str,
    ) -> Result<NotifierFactory, ScenarioError> {
        let table = params
            .as_ref()
            .map(|p| p.get_ref().clone())
            .unwrap_or_default();
        registry.build(name.get_ref(), &Params::new(table)).map_err(
            |ParamError { key, message }| {
                if key.is_empty() {
                    self.error(name.span(), &format!("{field}.notifier"), &message)
                } else {
                    let span = params.as_ref().map_or(name.span(), |p| p.span());
                    self.error(span, &format!("{field}.params.{key}"), &message)
                }
            },
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_err(text: &str) -> String {
        parse(text, Path::new("bad.toml"), &Registry::builtin())
            .err()
            .map(|e| e.to_string())
            .unwrap_or_else(|| "parsed".into())
    }

    const GOOD: &str = r#"
name = "echo"
seed = 7

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
params = { bytes = 100 }

[expect]
echoed = true
"#;

    #[test]
    fn a_good_file_loads_with_its_seed_and_expectations() {
        let file = parse(GOOD, Path::new("echo.toml"), &Registry::builtin()).unwrap();
        assert_eq!(file.seed, Seed(7));
        assert_eq!(file.scenario.clients[0].target, "server");
        assert!(file.scenario.expectations.echoed);
    }

    #[test]
    fn an_unknown_field_names_file_line_and_field() {
        let text = GOOD.replace(
            "port = 7000\nnotifier = \"sender\"",
            "prot = 7000\nnotifier = \"sender\"",
        );
        let err = parse_err(&text);
        assert!(err.starts_with("bad.toml:15: clients[0].prot: "), "{err}");
        assert!(err.contains("unknown field `prot`"), "{err}");
    }

    #[test]
    fn a_wrongly_typed_value_names_its_field() {
        let err = parse_err(&GOOD.replace("seed = 7", "seed = \"seven\""));
        assert!(err.starts_with("bad.toml:3: seed: "), "{err}");
        let err = parse_err(&GOOD.replace(
            "port = 7000\nnotifier = \"echo\"",
            "port = 70000\nnotifier = \"echo\"",
        ));
        assert!(err.starts_with("bad.toml:8: listeners[0].port: "), "{err}");
    }

    #[test]
    fn an_unknown_notifier_or_parameter_is_named() {
        let err = parse_err(&GOOD.replace("\"sender\"", "\"sendr\""));
        assert!(
            err.starts_with("bad.toml:16: clients[0].notifier: unknown notifier \"sendr\""),
            "{err}"
        );
        let err = parse_err(&GOOD.replace("bytes = 100", "bytes = 100, chunks = 3"));
        assert!(
            err.starts_with("bad.toml:17: clients[0].params.chunks: unknown parameter"),
            "{err}"
        );
        let err = parse_err(&GOOD.replace("bytes = 100", "bytes = -1"));
        assert!(
            err.starts_with("bad.toml:17: clients[0].params.bytes: must not be negative"),
            "{err}"
        );
    }

    #[test]
    fn an_empty_scenario_or_a_zero_duration_is_refused() {
        assert_eq!(
            parse_err("# nothing\n"),
            "bad.toml:1: nothing to run: add a [[listeners]] or [[clients]] table"
        );
        let err = parse_err(&GOOD.replace("seed = 7", "seed = 7\nduration_ms = 0"));
        assert_eq!(err, "bad.toml:4: duration_ms: must be at least 1");
    }

    #[test]
    fn an_unknown_target_and_a_duplicate_name_are_refused() {
        let err = parse_err(&GOOD.replace("target = \"server\"", "target = \"nowhere\""));
        assert!(
            err.starts_with("bad.toml:14: clients[0].target: \"nowhere\""),
            "{err}"
        );
        let err = parse_err(&GOOD.replace("name = \"c1\"", "name = \"server\""));
        assert!(
            err.starts_with("bad.toml:12: clients[0].name: \"server\" is already"),
            "{err}"
        );
    }

    #[test]
    fn a_client_table_with_count_makes_that_many_numbered_clients() {
        let text = GOOD.replace("name = \"c1\"", "name = \"web\"\ncount = 3");
        let file = parse(&text, Path::new("many.toml"), &Registry::builtin()).unwrap();
        let names: Vec<&str> = file
            .scenario
            .clients
            .iter()
            .map(|c| c.name.as_str())
            .collect();
        assert_eq!(names, ["web-1", "web-2", "web-3"]);
        assert!(file.scenario.clients.iter().all(|c| c.target == "server"));
    }

    #[test]
    fn a_count_out_of_range_or_a_numbered_name_taken_twice_is_refused() {
        let err = parse_err(&GOOD.replace("name = \"c1\"", "name = \"web\"\ncount = 0"));
        assert_eq!(
            err,
            "bad.toml:13: clients[0].count: 0 is not between 1 and 10000"
        );
        let err = parse_err(&GOOD.replace("name = \"c1\"", "name = \"web\"\ncount = 10001"));
        assert!(
            err.starts_with("bad.toml:13: clients[0].count: 10001"),
            "{err}"
        );
        let err = parse_err(&GOOD.replace("name = \"c1\"", "name = \"web\"\ncount = -1"));
        assert!(err.starts_with("bad.toml:13: clients[0].count: "), "{err}");
        let text = format!(
            "{GOOD}\n[[clients]]\nname = \"c\"\ncount = 2\nhost = \"client\"\n\
             target = \"server\"\nport = 7000\nnotifier = \"sender\"\nparams = {{ bytes = 1 }}\n"
        )
        .replace("name = \"c1\"", "name = \"c-2\"");
        let err = parse_err(&text);
        assert!(
            err.contains("clients[1].name: \"c-2\" is already the name of clients[0]"),
            "{err}"
        );
    }

    #[test]
    fn a_bad_plan_or_settings_is_refused_before_running() {
        let err = parse_err(&format!("{GOOD}\n[faults]\npartial_writes = 1.5\n"));
        assert!(
            err.starts_with("bad.toml:23: faults.partial_writes: probability 1.5"),
            "{err}"
        );
        let text = format!(
            "{GOOD}\n[plan]\n[[plan.faults]]\nat_ms = 5\nkind = \"reset\"\nconn = \"c9\"\n"
        );
        let err = parse_err(&text);
        assert!(err.contains(": plan: "), "{err}");
        assert!(err.contains("c9"), "{err}");
    }

    #[test]
    fn a_plan_file_is_a_bare_plan_or_a_scenario_with_a_plan() {
        let dir = std::env::temp_dir().join(format!("tcpnotify-plan-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let bare = dir.join("bare.toml");
        std::fs::write(
            &bare,
            "seed = 3\n[[faults]]\nat_ms = 1\nkind = \"reset\"\nconn = \"c1\"\n",
        )
        .unwrap();
        let (plan, named_seed) = load_plan(&bare).unwrap();
        assert_eq!(
            (plan.seed, plan.faults.len(), named_seed),
            (Seed(3), 1, true)
        );
        let wrapped = dir.join("wrapped.toml");
        std::fs::write(
            &wrapped,
            format!("{GOOD}\n[[plan.faults]]\nat_ms = 1\nkind = \"reset\"\nconn = \"c1\"\n"),
        )
        .unwrap();
        let (plan, named_seed) = load_plan(&wrapped).unwrap();
        assert_eq!((plan.faults.len(), named_seed), (1, true));
        // A bad field inside the plan is reported at its line in the file itself.
        let bad = dir.join("bad.toml");
        std::fs::write(
            &bad,
            format!("{GOOD}\n[[plan.faults]]\nat_ms = \"soon\"\nkind = \"reset\"\nconn = \"c1\"\n"),
        )
        .unwrap();
        let err = load_plan(&bad).unwrap_err().to_string();
        assert!(
            err.starts_with(&format!("{}:23: plan.faults[0].at_ms: ", bad.display())),
            "{err}"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn with_plan_keeps_comments_and_round_trips() {
        let text = format!("# keep me\n{GOOD}\n[faults]\npartial_writes = 0.5\n");
        let file = parse(&text, Path::new("x.toml"), &Registry::builtin()).unwrap();
        let plan = FaultPlan::quiet(Seed(42));
        let written = file.with_plan(&plan, "shrunk");
        assert!(written.starts_with("# shrunk\n# keep me\n"), "{written}");
        assert!(!written.contains("[faults]"), "{written}");
        let back = parse(&written, Path::new("x.toml"), &Registry::builtin()).unwrap();
        assert_eq!(back.seed, Seed(42));
        assert_eq!(back.scenario.plan, Some(plan));
    }
}
