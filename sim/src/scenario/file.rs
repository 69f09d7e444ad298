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
//!
//! # What a file may say
//! - **Names.** Listeners and clients: 1 to 64 letters, digits, `-` and `_`, starting with a
//!   letter or digit, all different. `.` and `#` are kept for the names the simulator makes:
//!   accepted connections are `server.1`, `server.2`, ...; a listener restarted after a crash
//!   is `server#2`, with connections `server#2.1`, .... Hosts and `[names]` may also use `.`,
//!   but are not IP addresses, and a name is not also a host. `*` is not a host: it means
//!   "every host but `a`", and only as the `b` of a `partition` or `latency` fault.
//! - **Connections** named in a plan or `[expect]` are a client or `listener.N` (N from 1),
//!   `listener#R.N` (R from 2). A fault's `after` trigger names a callback that connection
//!   gets (a client never gets `accepted`; an accepted connection never gets `proxy_via`,
//!   `connecting`, `connected` or `connect_failed`) and an occurrence `nth` from 1.
//! - **Ranges** (`[faults]` spans, `[plan] latency`, a latency fault's `latency_ms` ..
//!   `max_latency_ms`) have their minimum at or below their maximum.
//! - **Seeds** are whole numbers from 0 to 18446744073709551615; TOML integers stop at
//!   9223372036854775807, so larger seeds are written as strings (`seed = "18446744073709551615"`),
//!   as `run --save-plan` and `shrink` write them. A `[plan]` may repeat the file's `seed`,
//!   but not contradict it.
//! - **Limits** ([`crate::validate`]): a file is at most 4 MiB; times (`duration_ms`,
//!   `start_ms` — which must fall before the end of the run —, `at_ms`, partition, slow-close,
//!   down and latency times, `connect_timeout_ms`, notifier delays) at most ten
//!   minutes (600,000 ms); buffer sizes (`read_buffer_size`, `yield_after_*`, `send_buffer`, partial
//!   write and read chunk sizes) from 1 to 64 MiB; a notifier sends at most 64 MiB, and all
//!   clients together at most 256 MiB; counts (requests, `nth`, `limit`, ...) at most a
//!   million; at most 2,048 hosts, 1,000 listeners, 10,000 clients and 10,000 faults. A run
//!   whose trace reaches a million events (many bytes in tiny writes or reads) is stopped
//!   with an error saying so.
//!
//! Every rule is checked before anything runs; a broken one is reported as
//! `file:line: field: message`.

use super::registry::{ParamError, Params, Registry};
use super::{Expectations, NotifierFactory, Scenario};
use crate::fault::FaultPlan;
use crate::fault::FaultSettings;
use crate::seed::Seed;
use crate::validate::{
    positive_at_most, InvalidField, MAX_BUFFER_BYTES, MAX_FILE_BYTES, MAX_TOTAL_PAYLOAD_BYTES,
};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::fmt;
use std::io::Read;
use std::ops::Range;
use std::path::{Path, PathBuf};
use tcpnotify::ConnectionConfig;

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

/// A scenario or plan file that cannot be used.
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
    seed: Option<Seed>,
    duration_ms: Option<u64>,
    #[serde(default)]
    hosts: Vec<String>,
    #[serde(default)]
    names: BTreeMap<String, Vec<String>>,
    #[serde(default)]
    listeners: Vec<FileListener>,
    #[serde(default)]
    clients: Vec<FileClient>,
    faults: Option<FaultSettings>,
    plan: Option<FaultPlan>,
    #[serde(default)]
    expect: Expectations,
    #[serde(default)]
    keep_payloads: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileListener {
    name: String,
    host: String,
    port: u16,
    #[serde(default)]
    limit: usize,
    notifier: String,
    params: Option<toml::Table>,
    #[serde(default)]
    config: FileConfig,
}

/// The most clients one `[[clients]]` table may ask for with `count`.
pub const MAX_CLIENT_COUNT: usize = 10_000;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileClient {
    name: String,
    /// How many alike clients this table makes (`name-1`, `name-2`, ...); absent: one, `name`.
    count: Option<usize>,
    host: String,
    target: String,
    port: u16,
    #[serde(default)]
    start_ms: u64,
    notifier: String,
    params: Option<toml::Table>,
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
    /// The settings, each from 1 to [`MAX_BUFFER_BYTES`] (a 0 would silently become 1).
    fn apply(&self, field: &str) -> Result<ConnectionConfig, InvalidField> {
        let mut config = ConnectionConfig::default();
        let setting = |key: &str, value: Option<usize>| -> Result<Option<usize>, InvalidField> {
            if let Some(n) = value {
                positive_at_most(&format!("{field}.config.{key}"), n as u64, MAX_BUFFER_BYTES)?;
            }
            Ok(value)
        };
        if let Some(n) = setting("read_buffer_size", self.read_buffer_size)? {
            config.set_read_buffer_size(n);
        }
        if let Some(n) = setting("yield_after_reading", self.yield_after_reading)? {
            config.set_yield_after_reading(n);
        }
        if let Some(n) = setting("yield_after_writing", self.yield_after_writing)? {
            config.set_yield_after_writing(n);
        }
        Ok(config)
    }
}

impl ScenarioFile {
    /// Reads and validates the scenario file at `path`, building notifiers from `registry`.
    pub fn load(path: &Path, registry: &Registry) -> Result<ScenarioFile, ScenarioError> {
        ScenarioFile::parse(&read(path)?, path, registry)
    }

    /// Parses scenario `text`; `path` names it in errors and gives the default scenario name.
    pub fn parse(
        text: &str,
        path: &Path,
        registry: &Registry,
    ) -> Result<ScenarioFile, ScenarioError> {
        let at = Locator::new(text, path);
        let file: FileScenario = toml::from_str(text).map_err(|e| at.toml_error(&e))?;
        build(&file, &at, registry)
    }
}

/// A fault plan file, as `tcpnotify-sim run --plan` takes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlanFile {
    /// The plan, checked against the scenario it is for.
    pub plan: FaultPlan,
    /// The seed the file names, if it names one; if not, the run's seed applies.
    pub seed: Option<Seed>,
}

impl PlanFile {
    /// Reads a fault plan file for `scenario`, as `tcpnotify-sim run --plan` takes it: a bare
    /// plan (as `run --save-plan` writes), or a scenario file whose `[plan]` is used (as `shrink`
    /// writes). The plan is validated against `scenario`; errors name the plan file's lines.
    pub fn load(path: &Path, scenario: &Scenario) -> Result<PlanFile, ScenarioError> {
        PlanFile::parse(&read(path)?, path, scenario)
    }

    /// Parses plan file `text` for `scenario`, as [`PlanFile::load`] does; `path` names it in
    /// errors.
    pub fn parse(text: &str, path: &Path, scenario: &Scenario) -> Result<PlanFile, ScenarioError> {
        /// A scenario file: only its seed and plan matter here.
        #[derive(Deserialize)]
        struct WithPlan {
            seed: Option<Seed>,
            plan: FaultPlan,
            #[serde(flatten)]
            _rest: toml::Table,
        }
        let at = Locator::new(text, path);
        let table: toml::Table = toml::from_str(text).map_err(|e| at.toml_error(&e))?;
        let (plan, prefix, root_seed) = if table.contains_key("plan") {
            let file: WithPlan = toml::from_str(text).map_err(|e| at.toml_error(&e))?;
            (file.plan, "plan", file.seed)
        } else {
            let plan: FaultPlan = toml::from_str(text).map_err(|e| at.toml_error(&e))?;
            (plan, "", None)
        };
        let seed = at.plan_seed(&plan, prefix, root_seed)?;
        plan.validate(&scenario.topology())
            .map_err(|e| at.invalid(&e.within(prefix)))?;
        Ok(PlanFile {
            plan: FaultPlan {
                seed: seed.unwrap_or(plan.seed),
                ..plan
            },
            seed,
        })
    }
}

/// The text of the file at `path`, if it is no larger than [`MAX_FILE_BYTES`].
fn read(path: &Path) -> Result<String, ScenarioError> {
    let error = |message: String| ScenarioError {
        file: path.to_path_buf(),
        line: None,
        field: String::new(),
        message,
    };
    let file = std::fs::File::open(path).map_err(|e| error(format!("cannot read: {e}")))?;
    let mut bytes = Vec::new();
    file.take(MAX_FILE_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| error(format!("cannot read: {e}")))?;
    if bytes.len() as u64 > MAX_FILE_BYTES {
        return Err(error(format!(
            "larger than the limit of {MAX_FILE_BYTES} bytes"
        )));
    }
    String::from_utf8(bytes).map_err(|e| error(format!("not UTF-8 text: {e}")))
}

/// The scenario of a parsed file, validated whole before it is returned.
fn build(
    file: &FileScenario,
    at: &Locator<'_>,
    registry: &Registry,
) -> Result<ScenarioFile, ScenarioError> {
    let name = file.name.clone().unwrap_or_else(|| {
        let stem = at
            .path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned());
        stem.unwrap_or_else(|| "scenario".into())
    });
    if file.listeners.is_empty() && file.clients.is_empty() {
        let message = "nothing to run: add a [[listeners]] or [[clients]] table";
        return Err(at.invalid(&InvalidField::new("", message)));
    }
    let invalid = |e: InvalidField| at.invalid(&e);
    let mut scenario = Scenario::new(&name);
    if let Some(ms) = file.duration_ms {
        scenario = scenario.duration_ms(ms);
    }
    for host in &file.hosts {
        scenario = scenario.host(host);
    }
    for (alias, hosts) in &file.names {
        let hosts: Vec<&str> = hosts.iter().map(String::as_str).collect();
        scenario = scenario.name(alias, &hosts);
    }
    let mut payload: u64 = 0;
    // The `[[clients]]` table each client of the scenario comes from, so that an error about
    // a client names its table: with `count`, one table makes many clients.
    let mut tables: Vec<usize> = Vec::new();
    for (i, l) in file.listeners.iter().enumerate() {
        let field = format!("listeners[{i}]");
        let (notifier, _) = at.notifier(registry, &l.notifier, &l.params, &field)?;
        scenario = scenario
            .listener(&l.name, &l.host, l.port, notifier)
            .with_config(l.config.apply(&field).map_err(invalid)?);
        if let Some(spec) = scenario.listeners.last_mut() {
            spec.limit = l.limit;
        }
    }
    for (i, c) in file.clients.iter().enumerate() {
        let field = format!("clients[{i}]");
        let (notifier, bytes) = at.notifier(registry, &c.notifier, &c.params, &field)?;
        let names = client_names(c, &field).map_err(invalid)?;
        payload = payload.saturating_add(bytes.saturating_mul(names.len() as u64));
        if payload > MAX_TOTAL_PAYLOAD_BYTES {
            let message = format!(
                "the clients up to this one send {payload} bytes in all, above the limit of \
                 {MAX_TOTAL_PAYLOAD_BYTES}"
            );
            return Err(invalid(InvalidField::new(
                format!("{field}.params"),
                message,
            )));
        }
        let config = c.config.apply(&field).map_err(invalid)?;
        for name in names {
            tables.push(i);
            scenario = scenario
                .client(&name, &c.host, &c.target, c.port, notifier.clone())
                .starting_at(c.start_ms)
                .with_config(config);
        }
    }
    if let Some(settings) = &file.faults {
        scenario = scenario.faults(settings.clone());
    }
    let mut seed = file.seed;
    if let Some(plan) = &file.plan {
        if file.faults.is_some() {
            let message =
                "give either [faults] (settings a plan is drawn from) or [plan], not both";
            return Err(invalid(InvalidField::new("plan", message)));
        }
        seed = at.plan_seed(plan, "plan", file.seed)?;
        scenario = scenario.plan(plan.clone());
    }
    if file.keep_payloads {
        scenario = scenario.keep_payloads();
    }
    scenario = scenario.expecting(file.expect.clone());
    scenario
        .validate()
        .map_err(|e| invalid(in_client_table(e, &tables)))?;
    Ok(ScenarioFile {
        path: at.path.to_path_buf(),
        scenario,
        seed: seed.unwrap_or(Seed(1)),
        text: at.text.to_string(),
    })
}

impl ScenarioFile {
    /// The file's text with `plan` as its explicit `[plan]` (replacing `[faults]` or an older
    /// plan) and the plan's seed as the file's seed, keeping every comment: what `shrink`
    /// writes out. Fails only if the plan holds a number TOML cannot (above `i64::MAX`).
    pub fn with_plan(&self, plan: &FaultPlan, header: &str) -> Result<String, toml::ser::Error> {
        let plan_doc: toml_edit::DocumentMut =
            plan.to_toml()?.parse().map_err(|e: toml_edit::TomlError| {
                <toml::ser::Error as serde::ser::Error>::custom(e)
            })?;
        let mut doc: toml_edit::DocumentMut =
            self.text.parse().map_err(|e: toml_edit::TomlError| {
                <toml::ser::Error as serde::ser::Error>::custom(e)
            })?;
        doc.remove("faults");
        doc.remove("plan");
        // The seed as the plan wrote it: an integer, or a string above i64::MAX.
        if let Some(seed) = plan_doc.get("seed") {
            doc["seed"] = seed.clone();
        }
        doc["plan"] = toml_edit::Item::Table(plan_doc.as_table().clone());
        let comments: String = header.lines().map(|l| format!("# {l}\n")).collect();
        Ok(format!("{comments}{doc}"))
    }
}

/// The names of the clients a `[[clients]]` table makes: its `name`, or with `count`,
/// `name-1` to `name-<count>`.
fn client_names(client: &FileClient, field: &str) -> Result<Vec<String>, InvalidField> {
    let Some(count) = client.count else {
        return Ok(vec![client.name.clone()]);
    };
    if !(1..=MAX_CLIENT_COUNT).contains(&count) {
        return Err(InvalidField::new(
            format!("{field}.count"),
            format!("{count} is not between 1 and {MAX_CLIENT_COUNT}"),
        ));
    }
    Ok((1..=count)
        .map(|i| format!("{}-{i}", client.name))
        .collect())
}

/// `e` about the scenario's client `clients[j]` as an error about the file's table that made
/// it (`tables[j]`), so that its line is that table's.
fn in_client_table(e: InvalidField, tables: &[usize]) -> InvalidField {
    let table = e
        .field
        .strip_prefix("clients[")
        .and_then(|rest| rest.split_once(']'))
        .and_then(|(j, rest)| Some((tables.get(j.parse::<usize>().ok()?)?, rest)));
    match table {
        Some((i, rest)) => InvalidField::new(format!("clients[{i}]{rest}"), e.message),
        None => e,
    }
}

/// Turns fields into lines, and byte offsets into fields, for errors. The document's spans
/// are read only when an error needs them.
struct Locator<'a> {
    text: &'a str,
    path: &'a Path,
}

/// A place in the document: the dotted field and the bytes it covers.
struct Place {
    field: String,
    span: Range<usize>,
    /// A table's header: the table runs on to the next header.
    header: bool,
}

impl<'a> Locator<'a> {
    fn new(text: &'a str, path: &'a Path) -> Self {
        Locator { text, path }
    }

    fn error(&self, offset: Option<usize>, field: &str, message: &str) -> ScenarioError {
        ScenarioError {
            file: self.path.to_path_buf(),
            line: offset.map(|o| self.text[..o.min(self.text.len())].matches('\n').count() + 1),
            field: field.to_string(),
            message: message.to_string(),
        }
    }

    /// A validation error, at the line of its field (or of the nearest enclosing field that
    /// is written in the file).
    fn invalid(&self, e: &InvalidField) -> ScenarioError {
        let places = self.places();
        let mut field = e.field.as_str();
        let offset = loop {
            if let Some(place) = places.iter().find(|p| p.field == field) {
                break Some(place.span.start);
            }
            match field.rfind(['.', '[']) {
                Some(cut) => field = &field[..cut],
                None => break places.first().map(|_| 0).filter(|_| e.field.is_empty()),
            }
        };
        self.error(offset.or(Some(0)), &e.field, &e.message)
    }

    /// A TOML error, at its line and field.
    fn toml_error(&self, e: &toml::de::Error) -> ScenarioError {
        let offset = e.span().map(|s| s.start);
        let field = offset.map(|o| self.field_at(o)).unwrap_or_default();
        self.error(offset.or(Some(0)), &field, e.message().trim())
    }

    /// The seed a plan file or a scenario's `[plan]` names: the plan's own `seed` (if it is
    /// written) and `root` (the file's top-level seed) must agree.
    fn plan_seed(
        &self,
        plan: &FaultPlan,
        prefix: &str,
        root: Option<Seed>,
    ) -> Result<Option<Seed>, ScenarioError> {
        let field = if prefix.is_empty() {
            "seed".to_string()
        } else {
            format!("{prefix}.seed")
        };
        let written = self.places().iter().any(|p| p.field == field);
        match (written.then_some(plan.seed), root) {
            (Some(own), Some(root)) if own != root => {
                let message = format!(
                    "{own} differs from the file's seed {root}: give one seed, or the same in both"
                );
                Err(self.invalid(&InvalidField::new(field, message)))
            }
            (own, root) => Ok(root.or(own)),
        }
    }

    /// The field at byte `offset`: the smallest written place that holds it, or else the
    /// table whose header comes last before it.
    fn field_at(&self, offset: usize) -> String {
        let places = self.places();
        let holding = places
            .iter()
            .filter(|p| !p.header && p.span.contains(&offset))
            .min_by_key(|p| p.span.len());
        if let Some(place) = holding {
            return place.field.clone();
        }
        let table = places
            .iter()
            .filter(|p| p.header && p.span.start <= offset)
            .max_by_key(|p| p.span.start);
        match table {
            Some(place) if place.span.contains(&offset) || !self.has_key_at(offset) => {
                place.field.clone()
            }
            Some(place) => format!("{}.{}", place.field, self.key_at(offset)),
            None => self.key_at(offset),
        }
    }

    fn line_at(&self, offset: usize) -> &str {
        let offset = offset.min(self.text.len());
        let start = self.text[..offset].rfind('\n').map_or(0, |i| i + 1);
        self.text[start..].lines().next().unwrap_or("")
    }

    fn has_key_at(&self, offset: usize) -> bool {
        !self.key_at(offset).is_empty()
    }

    /// The key written on the line of `offset`, for text the TOML parser could not read.
    fn key_at(&self, offset: usize) -> String {
        let line = self.line_at(offset);
        line.split_once('=')
            .map(|(k, _)| k.trim())
            .filter(|k| !k.starts_with('[') && !k.starts_with('#'))
            .unwrap_or("")
            .to_string()
    }

    /// Every written field of the document with its span (none if the text does not parse).
    fn places(&self) -> Vec<Place> {
        let mut places = Vec::new();
        if let Ok(doc) = toml_edit::ImDocument::parse(self.text) {
            collect_table(doc.as_table(), "", &mut places);
        }
        places
    }
}

fn join(prefix: &str, key: &str) -> String {
    if prefix.is_empty() {
        key.to_string()
    } else {
        format!("{prefix}.{key}")
    }
}

fn collect_table(table: &toml_edit::Table, prefix: &str, places: &mut Vec<Place>) {
    for (key, item) in table.iter() {
        let field = join(prefix, key);
        let key_span = table.key(key).and_then(|k| k.span());
        collect_item(item, &field, key_span, places);
    }
}

fn collect_item(
    item: &toml_edit::Item,
    field: &str,
    key_span: Option<Range<usize>>,
    places: &mut Vec<Place>,
) {
    match item {
        toml_edit::Item::None => {}
        toml_edit::Item::Value(value) => collect_value(value, field, key_span, places),
        toml_edit::Item::Table(table) => {
            if let Some(span) = table.span() {
                places.push(Place {
                    field: field.to_string(),
                    span,
                    header: true,
                });
            }
            collect_table(table, field, places);
        }
        toml_edit::Item::ArrayOfTables(tables) => {
            for (i, table) in tables.iter().enumerate() {
                let field = format!("{field}[{i}]");
                if let Some(span) = table.span() {
                    places.push(Place {
                        field: field.clone(),
                        span,
                        header: true,
                    });
                }
                collect_table(table, &field, places);
            }
        }
    }
}

fn collect_value(
    value: &toml_edit::Value,
    field: &str,
    key_span: Option<Range<usize>>,
    places: &mut Vec<Place>,
) {
    if let Some(span) = value.span() {
        let start = key_span.map_or(span.start, |k| k.start.min(span.start));
        places.push(Place {
            field: field.to_string(),
            span: start..span.end,
            header: false,
        });
    }
    match value {
        toml_edit::Value::InlineTable(table) => {
            for (key, value) in table.iter() {
                let key_span = table.key(key).and_then(|k| k.span());
                collect_value(value, &join(field, key), key_span, places);
            }
        }
        toml_edit::Value::Array(array) => {
            for (i, value) in array.iter().enumerate() {
                collect_value(value, &format!("{field}[{i}]"), None, places);
            }
        }
        _ => {}
    }
}

impl Locator<'_> {
    /// Builds notifier `name` with `params`; also returns the bytes it declared it sends.
    fn notifier(
        &self,
        registry: &Registry,
        name: &str,
        params: &Option<toml::Table>,
        field: &str,
    ) -> Result<(NotifierFactory, u64), ScenarioError> {
        let params = Params::new(params.clone().unwrap_or_default());
        match registry.build(name, &params) {
            Ok(factory) => Ok((factory, params.payload_bytes())),
            Err(ParamError { key, message }) => {
                let field = match key.is_empty() {
                    true => format!("{field}.notifier"),
                    false => format!("{field}.params.{key}"),
                };
                Err(self.invalid(&InvalidField::new(field, message)))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_err(text: &str) -> String {
        ScenarioFile::parse(text, Path::new("bad.toml"), &Registry::builtin())
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
        let file = ScenarioFile::parse(GOOD, Path::new("echo.toml"), &Registry::builtin()).unwrap();
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
        let file =
            ScenarioFile::parse(&text, Path::new("many.toml"), &Registry::builtin()).unwrap();
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
        // A name the second table makes is one the first table already has: the error names
        // the second table, at its line.
        let text = format!(
            "{GOOD}\n[[clients]]\nname = \"c\"\ncount = 2\nhost = \"client\"\n\
             target = \"server\"\nport = 7000\nnotifier = \"sender\"\nparams = {{ bytes = 1 }}\n"
        )
        .replace("name = \"c1\"", "name = \"c-2\"");
        let err = parse_err(&text);
        assert!(err.contains(": clients[1].name: "), "{err}");
        assert!(err.contains("c-2"), "{err}");
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
        assert!(
            err.starts_with("bad.toml:26: plan.faults[0].conn: unknown connection \"c9\""),
            "{err}"
        );
    }

    fn scratch(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("tcpnotify-{name}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn a_plan_file_is_a_bare_plan_or_a_scenario_with_a_plan() {
        let dir = scratch("plan");
        let scenario = ScenarioFile::parse(GOOD, Path::new("echo.toml"), &Registry::builtin())
            .unwrap()
            .scenario;
        let bare = dir.join("bare.toml");
        std::fs::write(
            &bare,
            "seed = 3\n[[faults]]\nat_ms = 1\nkind = \"reset\"\nconn = \"c1\"\n",
        )
        .unwrap();
        let loaded = PlanFile::load(&bare, &scenario).unwrap();
        assert_eq!(
            (loaded.plan.seed, loaded.plan.faults.len(), loaded.seed),
            (Seed(3), 1, Some(Seed(3)))
        );
        let wrapped = dir.join("wrapped.toml");
        std::fs::write(
            &wrapped,
            format!("{GOOD}\n[[plan.faults]]\nat_ms = 1\nkind = \"reset\"\nconn = \"c1\"\n"),
        )
        .unwrap();
        // The scenario's own seed (7) is the plan's, though [plan] does not repeat it.
        let loaded = PlanFile::load(&wrapped, &scenario).unwrap();
        assert_eq!((loaded.plan.faults.len(), loaded.seed), (1, Some(Seed(7))));
        assert_eq!(loaded.plan.seed, Seed(7));
        // A bad field inside the plan is reported at its line in the file itself.
        let bad = dir.join("bad.toml");
        std::fs::write(
            &bad,
            format!("{GOOD}\n[[plan.faults]]\nat_ms = \"soon\"\nkind = \"reset\"\nconn = \"c1\"\n"),
        )
        .unwrap();
        let err = PlanFile::load(&bad, &scenario).unwrap_err().to_string();
        assert!(
            err.starts_with(&format!("{}:23: plan.faults[0].at_ms: ", bad.display())),
            "{err}"
        );
        // So is a plan that does not fit the scenario.
        std::fs::write(
            &bad,
            "[[faults]]\nat_ms = 1\nkind = \"reset\"\nconn = \"c9\"\n",
        )
        .unwrap();
        let err = PlanFile::load(&bad, &scenario).unwrap_err().to_string();
        assert!(
            err.starts_with(&format!(
                "{}:4: faults[0].conn: unknown connection \"c9\"",
                bad.display()
            )),
            "{err}"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn with_plan_keeps_comments_and_round_trips() {
        let text = format!("# keep me\n{GOOD}\n[faults]\npartial_writes = 0.5\n");
        let file = ScenarioFile::parse(&text, Path::new("x.toml"), &Registry::builtin()).unwrap();
        let plan = FaultPlan::quiet(Seed(42));
        let written = file.with_plan(&plan, "shrunk").unwrap();
        assert!(written.starts_with("# shrunk\n# keep me\n"), "{written}");
        assert!(!written.contains("[faults]"), "{written}");
        let back =
            ScenarioFile::parse(&written, Path::new("x.toml"), &Registry::builtin()).unwrap();
        assert_eq!(back.seed, Seed(42));
        assert_eq!(back.scenario.plan, Some(plan));
    }

    #[test]
    fn every_u64_seed_round_trips_through_shrink_output_and_plan_files() {
        let file = ScenarioFile::parse(GOOD, Path::new("x.toml"), &Registry::builtin()).unwrap();
        let dir = scratch("seeds");
        for seed in [0, 7, i64::MAX as u64, 1 << 63, u64::MAX] {
            let plan = FaultPlan::quiet(Seed(seed));
            // As `shrink` writes it: the scenario with its plan.
            let written = file.with_plan(&plan, "shrunk").unwrap();
            let back =
                ScenarioFile::parse(&written, Path::new("x.toml"), &Registry::builtin()).unwrap();
            assert_eq!(back.seed, Seed(seed), "{written}");
            let path = dir.join("shrunk.toml");
            std::fs::write(&path, &written).unwrap();
            let loaded = PlanFile::load(&path, &file.scenario).unwrap();
            assert_eq!(
                (loaded.seed, loaded.plan.seed),
                (Some(Seed(seed)), Seed(seed))
            );
            // As `run --save-plan` writes it: the bare plan.
            let bare = plan.to_toml().unwrap();
            assert!(!bare.trim().is_empty());
            std::fs::write(&path, &bare).unwrap();
            let loaded = PlanFile::load(&path, &file.scenario).unwrap();
            assert_eq!(loaded.plan, plan, "{bare}");
        }
        // A file that writes a large seed as a string is read as it says.
        let text = GOOD.replace("seed = 7", "seed = \"18446744073709551615\"");
        let back = ScenarioFile::parse(&text, Path::new("x.toml"), &Registry::builtin()).unwrap();
        assert_eq!(back.seed, Seed(u64::MAX));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_plan_seed_that_differs_from_the_files_seed_is_refused() {
        let text = format!("{GOOD}\n[plan]\nseed = 8\n");
        let err = parse_err(&text);
        assert!(
            err.starts_with("bad.toml:23: plan.seed: 8 differs from the file's seed 7"),
            "{err}"
        );
        // Alone, the plan's seed is the file's.
        let text = format!("{}\n[plan]\nseed = 8\n", GOOD.replace("seed = 7\n", ""));
        let file = ScenarioFile::parse(&text, Path::new("x.toml"), &Registry::builtin()).unwrap();
        assert_eq!(file.seed, Seed(8));
    }

    /// Each of these asked for a size, count or duration large enough to abort the process
    /// (an allocation), overflow time arithmetic, or run for ever.
    #[test]
    fn sizes_counts_and_durations_are_bounded() {
        let big = "9000000000000000000";
        let cases = [
            (GOOD.replace("bytes = 100", &format!("bytes = {big}")), "clients[0].params.bytes: 9000000000000000000 is above the limit of 67108864"),
            (GOOD.replace("bytes = 100", "bytes = 100, chunk = 9000000000000"), "clients[0].params.chunk: "),
            (GOOD.replace("notifier = \"echo\"", &format!("notifier = \"echo\"\nconfig = {{ read_buffer_size = {big} }}")), "listeners[0].config.read_buffer_size: "),
            (GOOD.replace("params = { bytes = 100 }", "params = { bytes = 100 }\nconfig = { read_buffer_size = 0 }"), "clients[0].config.read_buffer_size: must be at least 1"),
            (GOOD.replace("params = { bytes = 100 }", "params = { bytes = 100 }\nconfig = { yield_after_writing = 100000000000 }"), "clients[0].config.yield_after_writing: "),
            (GOOD.replace("seed = 7", &format!("seed = 7\nduration_ms = {big}")), "duration_ms: 9000000000000000000 is above the limit of 600000"),
            (GOOD.replace("port = 7000\nnotifier = \"sender\"", &format!("port = 7000\nstart_ms = {big}\nnotifier = \"sender\"")), "clients[0].start_ms: "),
            (format!("{GOOD}\n[[plan.faults]]\nat_ms = 1\nkind = \"partition\"\na = \"client\"\nb = \"server\"\nduration_ms = {big}\n"), "plan.faults[0].duration_ms: 9000000000000000000 is above the limit"),
            (format!("{GOOD}\n[[plan.faults]]\nat_ms = {big}\nkind = \"reset\"\nconn = \"c1\"\n"), "plan.faults[0].at_ms: 9000000000000000000 is not before the end of the run (duration_ms = 10000): the fault would never fire"),
            (format!("{GOOD}\n[[plan.faults]]\nat_ms = 1\nkind = \"crash\"\nhost = \"server\"\nrestart_after_ms = {big}\n"), "plan.faults[0].restart_after_ms: "),
            (format!("{GOOD}\n[[plan.faults]]\nat_ms = 1\nkind = \"slow_close\"\nconn = \"c1\"\ndelay_ms = {big}\n"), "plan.faults[0].delay_ms: "),
            (format!("{GOOD}\n[[plan.faults]]\nat_ms = 1\nkind = \"latency\"\na = \"client\"\nb = \"server\"\nlatency_ms = {big}\n"), "plan.faults[0].latency_ms: "),
            (format!("{GOOD}\n[plan]\nsend_buffer = {big}\n"), "plan.send_buffer: "),
            (format!("{GOOD}\n[plan]\npartial_writes = {{ average = {big}, variation = {big} }}\n"), "plan.partial_writes.average: "),
            (format!("{GOOD}\n[plan]\npartial_writes = {{ average = 5, variation = {big} }}\n"), "plan.partial_writes.variation: "),
            (format!("{GOOD}\n[plan]\nread_chunks = {{ max = {big} }}\n"), "plan.read_chunks.max: "),
            (format!("{GOOD}\n[plan]\nconnect_timeout_ms = {big}\n"), "plan.connect_timeout_ms: "),
            (format!("{GOOD}\n[faults]\npartition_ms = [1, {big}]\n"), "faults.partition_ms: "),
            (format!("{GOOD}\n[faults]\nsend_buffer_bytes = [1, {big}]\n"), "faults.send_buffer_bytes: "),
            (format!("{GOOD}\n[faults]\nreset_after_received = [1, {big}]\n"), "faults.reset_after_received: "),
            (GOOD.replace("notifier = \"echo\"", "notifier = \"echo\"\nlimit = 9000000000000"), "listeners[0].limit: "),
        ];
        for (text, expected) in cases {
            let err = parse_err(&text);
            assert!(
                err.starts_with("bad.toml:") && err.contains(&format!(": {expected}")),
                "{expected}\n{err}"
            );
        }
        // The clients of one scenario together send at most MAX_TOTAL_PAYLOAD_BYTES.
        let mut text = GOOD.replace("bytes = 100", "bytes = 60000000");
        for i in 2..=5 {
            text.push_str(&format!(
                "\n[[clients]]\nname = \"c{i}\"\nhost = \"client\"\ntarget = \"server\"\nport = 7000\nnotifier = \"sender\"\nparams = {{ bytes = 60000000 }}\n"
            ));
        }
        let err = parse_err(&text);
        assert!(
            err.contains(": clients[4].params: the clients up to this one send 300000000 bytes"),
            "{err}"
        );
    }

    #[test]
    fn a_big_file_is_refused_before_it_is_read_whole() {
        let dir = scratch("big");
        let path = dir.join("big.toml");
        let line = "# padding\n".repeat(1024);
        let text: String = std::iter::repeat_n(line.as_str(), 500).collect();
        std::fs::write(&path, text).unwrap();
        let err = ScenarioFile::load(&path, &Registry::builtin())
            .unwrap_err()
            .to_string();
        assert!(
            err.ends_with("larger than the limit of 4194304 bytes"),
            "{err}"
        );
        std::fs::write(&path, b"name = \"\xff\"\n").unwrap();
        let err = ScenarioFile::load(&path, &Registry::builtin())
            .unwrap_err()
            .to_string();
        assert!(err.contains("not UTF-8"), "{err}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn star_is_every_other_host_only_where_a_link_fault_takes_it() {
        let fault = |body: &str| format!("{GOOD}\n[[plan.faults]]\nat_ms = 1\n{body}\n");
        // Latency to `*` runs (it used to panic inside turmoil: "unable to find link").
        let text = fault("kind = \"latency\"\na = \"client\"\nb = \"*\"\nlatency_ms = 5");
        let file = ScenarioFile::parse(&text, Path::new("x.toml"), &Registry::builtin()).unwrap();
        let verdict = file.judge(None).unwrap();
        assert!(verdict.passed(), "{verdict}");
        // A crash of `*` ("missing host" inside turmoil) and `*` as `a` are refused.
        let err = parse_err(&fault("kind = \"crash\"\nhost = \"*\""));
        assert!(
            err.starts_with(
                "bad.toml:25: plan.faults[0].host: `*` (every other host) is only for the `b`"
            ),
            "{err}"
        );
        let err = parse_err(&fault(
            "kind = \"partition\"\na = \"*\"\nb = \"server\"\nduration_ms = 5",
        ));
        assert!(
            err.starts_with("bad.toml:25: plan.faults[0].a: `*`"),
            "{err}"
        );
        let err = parse_err(&fault(
            "kind = \"latency\"\na = \"client\"\nb = \"client\"\nlatency_ms = 5",
        ));
        assert!(
            err.starts_with("bad.toml:26: plan.faults[0].b: \"client\" is also `a`"),
            "{err}"
        );
    }

    #[test]
    fn names_that_collide_with_the_simulators_names_are_refused() {
        let err = parse_err(&GOOD.replace("name = \"c1\"", "name = \"server.1\""));
        assert!(
            err.starts_with("bad.toml:12: clients[0].name: \"server.1\": '.' is not allowed"),
            "{err}"
        );
        let err = parse_err(&GOOD.replace("name = \"c1\"", "name = \"server#2\""));
        assert!(
            err.starts_with("bad.toml:12: clients[0].name: \"server#2\": '#' is not allowed"),
            "{err}"
        );
        let err = parse_err(&GOOD.replace("host = \"client\"", "host = \"192.168.0.1\""));
        assert!(
            err.starts_with("bad.toml:13: clients[0].host: \"192.168.0.1\": an IP address"),
            "{err}"
        );
        let err = parse_err(&GOOD.replace("host = \"client\"", "host = \"*\""));
        assert!(
            err.starts_with("bad.toml:13: clients[0].host: \"*\""),
            "{err}"
        );
        let err = parse_err(&format!("hosts = [\"a b\"]\n{GOOD}"));
        assert!(err.starts_with("bad.toml:1: hosts[0]: \"a b\""), "{err}");
        let err = parse_err(&format!("{GOOD}\n[names]\nserver = [\"client\"]\n"));
        assert!(
            err.starts_with("bad.toml:23: names.server: \"server\" is also a host"),
            "{err}"
        );
    }

    #[test]
    fn a_trigger_that_could_never_fire_is_refused() {
        let trigger = |after: &str| {
            format!("{GOOD}\n[[plan.faults]]\nafter = {after}\nkind = \"reset\"\nconn = \"c1\"\n")
        };
        let err = parse_err(&trigger(
            "{ conn = \"c1\", callback = \"recieved\", nth = 1 }",
        ));
        assert!(err.starts_with("bad.toml:23: plan.faults[0].after.callback: \"recieved\" is not a callback of a client connection"), "{err}");
        assert!(err.contains("received"), "{err}");
        let err = parse_err(&trigger(
            "{ conn = \"server.1\", callback = \"connected\", nth = 1 }",
        ));
        assert!(err.contains("plan.faults[0].after.callback: \"connected\" is not a callback of an accepted connection"), "{err}");
        let err = parse_err(&trigger(
            "{ conn = \"c1\", callback = \"received\", nth = 0 }",
        ));
        assert!(
            err.starts_with("bad.toml:23: plan.faults[0].after.nth: must be at least 1"),
            "{err}"
        );
        let err = parse_err(&trigger(
            "{ conn = \"server.0\", callback = \"received\", nth = 1 }",
        ));
        assert!(
            err.contains("plan.faults[0].after.conn: unknown connection \"server.0\""),
            "{err}"
        );
        let err = parse_err(&trigger(
            "{ conn = \"server#1.1\", callback = \"received\", nth = 1 }",
        ));
        assert!(err.contains("after.conn: unknown connection"), "{err}");
        assert!(
            parse_err(&trigger(
                "{ conn = \"server#2.1\", callback = \"accepted\", nth = 1 }"
            )) == "parsed"
        );
    }

    #[test]
    fn a_fault_with_both_triggers_or_none_is_refused_at_its_table() {
        let fault = |trigger: &str| {
            format!("{GOOD}\n[[plan.faults]]\n{trigger}kind = \"reset\"\nconn = \"c1\"\n")
        };
        for trigger in [
            "",
            "at_ms = 5\nafter = { conn = \"c1\", callback = \"received\", nth = 1 }\n",
        ] {
            let err = parse_err(&fault(trigger));
            assert!(
                err.starts_with("bad.toml:22: plan.faults[0]: set exactly one of at_ms and after"),
                "{err}"
            );
        }
        assert_eq!(parse_err(&fault("at_ms = 5\n")), "parsed");
    }

    #[test]
    fn plan_latency_and_fault_settings_latency_follow_one_rule() {
        let err = parse_err(&format!(
            "{GOOD}\n[plan]\nlatency = {{ min_ms = 10, max_ms = 2 }}\n"
        ));
        assert_eq!(
            err,
            "bad.toml:23: plan.latency: the range 10..2 has its minimum above its maximum"
        );
        let err = parse_err(&format!("{GOOD}\n[faults]\nlatency_ms = [10, 2]\n"));
        assert_eq!(
            err,
            "bad.toml:23: faults.latency_ms: the range 10..2 has its minimum above its maximum"
        );
        let err = parse_err(&format!("{GOOD}\n[[plan.faults]]\nat_ms = 1\nkind = \"latency\"\na = \"client\"\nb = \"server\"\nlatency_ms = 10\nmax_latency_ms = 2\n"));
        assert_eq!(err, "bad.toml:28: plan.faults[0].max_latency_ms: the range 10..2 has its minimum above its maximum");
    }

    #[test]
    fn fault_settings_that_could_draw_too_many_faults_are_refused() {
        let hosts: Vec<String> = (0..150).map(|i| format!("\"h{i}\"")).collect();
        let text = format!(
            "hosts = [{}]\n{GOOD}\n[faults]\npartitions = 0.1\n",
            hosts.join(", ")
        );
        let err = parse_err(&text);
        assert!(
            err.starts_with("bad.toml:24: faults.partitions: plans drawn for 152 hosts and 1 clients may hold 11476 faults"),
            "{err}"
        );
        let text = format!(
            "hosts = [{}]\n{GOOD}\n[faults]\nresets = 0.1\n",
            hosts.join(", ")
        );
        assert_eq!(parse_err(&text), "parsed");
    }

    #[test]
    fn a_fault_window_past_the_end_of_the_run_is_refused() {
        // Plans drawn with it held faults that never fire, which the runner refuses.
        let text = format!("{GOOD}\n[faults]\ncrashes = 1.0\nfault_window_ms = [0, 10000]\n");
        let err = parse_err(&text);
        assert!(
            err.starts_with("bad.toml:24: faults.fault_window_ms: ends at 10000"),
            "{err}"
        );
    }

    #[test]
    fn port_zero_and_two_listeners_on_one_port_are_refused() {
        let err = parse_err(&GOOD.replace(
            "port = 7000\nnotifier = \"echo\"",
            "port = 0\nnotifier = \"echo\"",
        ));
        assert!(
            err.starts_with("bad.toml:8: listeners[0].port: must be from 1 to 65535"),
            "{err}"
        );
        // turmoil lets both bind, and only one ever accepts: refused rather than half-run.
        let text = format!("{GOOD}\n[[listeners]]\nname = \"dup\"\nhost = \"server\"\nport = 7000\nnotifier = \"echo\"\n");
        let err = parse_err(&text);
        assert!(
            err.starts_with(
                "bad.toml:25: listeners[1].port: listener server already listens on server:7000"
            ),
            "{err}"
        );
    }

    #[test]
    fn expectations_naming_unknown_connections_are_refused() {
        let err =
            parse_err(&GOOD.replace("echoed = true", "echoed = true\ndelivered = { c9 = 10 }"));
        assert!(
            err.starts_with("bad.toml:21: expect.delivered.c9: unknown connection \"c9\""),
            "{err}"
        );
        let ok = GOOD.replace(
            "echoed = true",
            "echoed = true\ndelivered = { \"server.1\" = 100 }",
        );
        assert_eq!(parse_err(&ok), "parsed");
    }

    #[test]
    fn errors_name_the_table_they_are_in() {
        let text = GOOD.replace("[[clients]]", "[clients]");
        let err = parse_err(&text);
        assert!(err.starts_with("bad.toml:11: clients: "), "{err}");
        let err = parse_err(&format!("{GOOD}\n[bogus]\nx = 1\n"));
        assert!(
            err.starts_with("bad.toml:22: bogus: unknown field `bogus`"),
            "{err}"
        );
        let err = parse_err(&format!("{GOOD}\n[expect.more]\nx = 1\n"));
        assert!(
            err.starts_with("bad.toml:22: expect.more: unknown field `more`"),
            "{err}"
        );
        let err = parse_err(&GOOD.replace("echoed = true", "echoed = true\nbogus = 1"));
        assert!(
            err.starts_with("bad.toml:21: expect.bogus: unknown field `bogus`"),
            "{err}"
        );
    }
}
