//! Scenario files: a [`Scenario`] written as TOML, with its seed and end conditions. Every
//! error names the file, the line and the field, and nothing runs until the whole file is
//! valid.
//!
//! ```toml
//! # what it reproduces, in a comment
//! name = "echo"
//! seed = 7                  # the seed `run` uses unless given one
//! duration_ms = 5000         # the active duration: clients start and faults fire in it
//! settle_ms = 1000          # then the liveness phase: every fault heals, the run settles
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
//! notifier = "echo"         # a registered notifier for each accepted connection, or
//! # listen_notifier = "..." # instead, a registered listen notifier (TcpListenNotify)
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
//! [faults]                  # probabilities and ranges a plan is drawn from (leave the
//! partial_writes = 0.5      # table out to let each seed draw its own: swarm testing) ...
//! # [plan]                  # ... or an explicit plan instead
//!
//! [expect]                  # what must hold at the end
//! echoed = true
//! closed = 2
//! ```
//!
//! # Where faults come from
//! - **No `[faults]` and no `[plan]`: swarm testing.** Each seed draws which fault kinds are
//!   on and how strong ([`Swarm`](crate::fault::Swarm)); resets, crashes and partitions past
//!   the connect timeout only if `[expect]` allows lost connections (no `echoed`, no
//!   `delivered`, no exact `closed`, `connect_failed` or `accepted`). `run` prints what the
//!   seed drew with its plan, and `--save-plan` writes it down.
//! - **`[faults]`: these settings at every seed.** The table is the whole of the settings: a
//!   field it names is pinned, a field it leaves out is at its default, which for every fault
//!   kind is off. An empty `[faults]` table asks for runs without faults. Without
//!   `fault_window_ms`, partitions and crashes are timed by the traffic (on an event of a
//!   client connection across the hosts they cut).
//! - **`[plan]`: exactly this plan** (as `run --save-plan` and `shrink` write it).
//!
//! # What a file may say
//! - **Names.** Listeners and clients: 1 to 64 letters, digits, `-` and `_`, starting with a
//!   letter or digit, all different. `.`, `#` and `~` are kept for the names the simulator
//!   makes: accepted connections are `server.1`, `server.2`, ...; a listener restarted after a
//!   crash is `server#2`, with connections `server#2.1`, ...; connections dialled by `c1` are
//!   `c1~1`, `c1~2`, .... Hosts and `[names]` may also use `.`,
//!   but are not IP addresses, and a name is not also a host. `hosts` and each `[names]`
//!   list name a host at most once. `*` is not a host: it means "every host but `a`", and
//!   only as the `b` of a `partition` or `latency` fault. `@peer` is not a host either: as
//!   the `a` or `b` of a `partition` with an `after` trigger, it is the host at the other end
//!   of the trigger's connection, found as the fault fires, or, before it has one, the host
//!   its `proxy_via` returned (the swarm's cuts of redials and later sessions name it); a
//!   partition whose trigger's connection neither connected nor dials a host of the
//!   simulation, or runs within the other side's host, says why and `no effect`.
//! - **Connections** named in a plan or `[expect]` are a client or `listener.N` (N from 1),
//!   `listener#R.N` (R from 2), or a connection one of those or a listener dials:
//!   `c1~N`, `server.1~N`, `server~N` (N from 1; a family counts on from its first dialler,
//!   so what `c1~1` dials is `c1~2`). A dialled name is valid whether or not the run dials
//!   it: a reset of one that never connected says `(not connected: no effect)` and is not
//!   counted as fired, and a trigger on one never fires. A fault's `after` trigger names a
//!   callback that connection gets (a client or a dialled connection never gets `accepted`;
//!   an accepted connection never gets `proxy_via`, `connecting`, `connected` or
//!   `connect_failed`) and an occurrence `nth` from 1.
//! - **Ranges** (`[faults]` spans, `[plan] latency`, a latency fault's `latency_ms` ..
//!   `max_latency_ms`) have their minimum at or below their maximum.
//! - **Seeds** are whole numbers from 0 to 18446744073709551615; TOML integers stop at
//!   9223372036854775807, so larger seeds are written as strings (`seed = "18446744073709551615"`),
//!   as `run --save-plan` and `shrink` write them. A `[plan]` may repeat the file's `seed`,
//!   but not contradict it.
//! - **Limits** ([`crate::validate`]): a file is at most 4 MiB; times (`duration_ms`, `settle_ms`,
//!   `start_ms` — which must fall before the end of the active duration —, `at_ms`, partition, slow-close,
//!   down and latency times, `connect_timeout_ms`, notifier delays) at most ten minutes
//!   (600,000 ms); buffer sizes (`read_buffer_size`, `yield_after_*`, `send_buffer`, partial
//!   write and read chunk sizes) from 1 to 64 MiB; a notifier sends at most 64 MiB, and all
//!   clients together at most 256 MiB (and so does `[expect] delivered`); counts (requests,
//!   `nth`, `limit`, `[expect]`'s `closed`, `connect_failed` and `accepted`, ...) at most a
//!   million; a scenario's `name` at most 1,024 characters (those of hosts, listeners and
//!   clients at most 64); at most 2,048 hosts, 1,000 listeners, 10,000 clients and 10,000 faults; the
//!   clients of one host make at most 16,384 connect attempts (one per address each dials: a
//!   simulated host's ephemeral ports). A run whose trace reaches a million events (many bytes
//!   in tiny writes or reads) is stopped with an error saying so.
//!
//! Every rule is checked before anything runs; a broken one is reported as
//! `file:line: field: message`.

use super::comments;
use super::field;
use super::locate::{Locator, ScenarioError};
use super::registry::{ParamError, Params, Registry};
use super::{Expectations, ListenerNotifier, NotifierFactory, Scenario};
use crate::fault::FaultPlan;
use crate::fault::FaultSettings;
use crate::seed::Seed;
use crate::validate::{
    positive_at_most, InvalidField, MAX_BUFFER_BYTES, MAX_FILE_BYTES, MAX_TOTAL_PAYLOAD_BYTES,
};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::io::Read;
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

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileScenario {
    name: Option<String>,
    seed: Option<Seed>,
    duration_ms: Option<u64>,
    settle_ms: Option<u64>,
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
    /// The notifier of each accepted connection; or, instead, `listen_notifier`.
    notifier: Option<String>,
    /// A registered listen notifier, instead of `notifier`.
    listen_notifier: Option<String>,
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
        let at = Locator::parse(text, path)?;
        build(&at.deserialize()?, &at, registry)
    }
}

/// A fault plan file, as `tcpnotify-sim run --plan` takes it.
#[derive(Debug, Clone, PartialEq)]
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
        let at = Locator::parse(text, path)?;
        let (plan, prefix, root_seed) = if at.has_key("plan") {
            let file: WithPlan = at.deserialize()?;
            (file.plan, "plan", file.seed)
        } else {
            (at.deserialize::<FaultPlan>()?, "", None)
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
    if let Some(ms) = file.settle_ms {
        scenario = scenario.settle_ms(ms);
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
        let notifier = at.listener_notifier(registry, l, &field)?;
        scenario = scenario
            .listener_with(&l.name, &l.host, l.port, notifier)
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
    /// plan) and the plan's seed as the file's seed, under `header` (written as comments):
    /// what `shrink` writes out. Comments that described what was replaced are dropped (those
    /// on the `seed` line, inside `[faults]` and `[plan]`, and every comment paragraph that
    /// names the file's old seed, which described that seed's drawn plan), and the header says
    /// how many went; every other comment is kept. Fails only if the plan holds a number TOML
    /// cannot (above `i64::MAX`).
    pub fn with_plan(&self, plan: &FaultPlan, header: &str) -> Result<String, toml::ser::Error> {
        let plan_doc: toml_edit::DocumentMut =
            plan.to_toml()?.parse().map_err(|e: toml_edit::TomlError| {
                <toml::ser::Error as serde::ser::Error>::custom(e)
            })?;
        let mut doc: toml_edit::DocumentMut =
            self.text.parse().map_err(|e: toml_edit::TomlError| {
                <toml::ser::Error as serde::ser::Error>::custom(e)
            })?;
        let named_seed = doc.contains_key("seed").then_some(self.seed);
        let dropped = comments::drop_stale(&mut doc, named_seed);
        doc.remove("faults");
        doc.remove("plan");
        // The seed as the plan wrote it: an integer, or a string above i64::MAX.
        if let Some(seed) = plan_doc.get("seed") {
            doc["seed"] = seed.clone();
        }
        // The plan's tables are numbered in its own document: after the file's, in the same
        // order, so it is written below every table of the file instead of among them.
        let mut plan_table = plan_doc.as_table().clone();
        let after = last_position(doc.as_table());
        shift_positions(&mut plan_table, after.saturating_add(2));
        // A document's root has no position of its own; as `[plan]` it comes first.
        plan_table.set_position(Some(after.saturating_add(1)));
        doc["plan"] = toml_edit::Item::Table(plan_table);
        let mut header = header.to_string();
        if dropped > 0 {
            header.push_str(&format!(
                "\n(Dropped {dropped} comment paragraph(s) of the original that described its\n\
                 seed or its fault settings, which this file replaces.)"
            ));
        }
        let header: String = header.lines().map(|l| format!("# {l}\n")).collect();
        Ok(format!("{header}{doc}"))
    }
}

/// The highest position of `table` and of the tables inside it (the order in which a
/// document writes its tables).
fn last_position(table: &toml_edit::Table) -> isize {
    let inside = table.iter().map(|(_, item)| match item {
        toml_edit::Item::Table(t) => last_position(t),
        toml_edit::Item::ArrayOfTables(a) => a.iter().map(last_position).max().unwrap_or(0),
        _ => 0,
    });
    inside.chain(table.position()).max().unwrap_or(0)
}

/// Moves `table` and the tables inside it `by` places later in their document's order.
fn shift_positions(table: &mut toml_edit::Table, by: isize) {
    if let Some(position) = table.position() {
        table.set_position(Some(position.saturating_add(by)));
    }
    for (_, item) in table.iter_mut() {
        match item {
            toml_edit::Item::Table(t) => shift_positions(t, by),
            toml_edit::Item::ArrayOfTables(a) => a.iter_mut().for_each(|t| shift_positions(t, by)),
            _ => {}
        }
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

impl Locator<'_> {
    /// Builds notifier `name` with `params`; also returns the bytes it declared it sends.
    fn notifier(
        &self,
        registry: &Registry,
        name: &str,
        params: &Option<toml::Table>,
        field: &str,
    ) -> Result<(NotifierFactory, u64), ScenarioError> {
        self.built(params, field, "notifier", |p| registry.build(name, p))
    }

    /// What listener `l` runs: its `notifier` for each accepted connection, or its
    /// `listen_notifier`; exactly one of the two.
    fn listener_notifier(
        &self,
        registry: &Registry,
        l: &FileListener,
        field: &str,
    ) -> Result<ListenerNotifier, ScenarioError> {
        match (&l.notifier, &l.listen_notifier) {
            (Some(name), None) => Ok(self.notifier(registry, name, &l.params, field)?.0.into()),
            (None, Some(name)) => {
                let key = "listen_notifier";
                let built = self.built(&l.params, field, key, |p| registry.build_listener(name, p));
                Ok(built?.0.into())
            }
            (Some(_), Some(_)) => Err(self.invalid(&InvalidField::new(
                format!("{field}.listen_notifier"),
                "give either `notifier` (for each accepted connection) or `listen_notifier` \
                 (a listen notifier of its own), not both",
            ))),
            (None, None) => Err(self.invalid(&InvalidField::new(
                format!("{field}.notifier"),
                "missing: give `notifier` (for each accepted connection) or `listen_notifier` \
                 (a listen notifier of its own)",
            ))),
        }
    }

    /// Runs `build` on `params`; errors name `field.key` (the notifier's name) or
    /// `field.params.<param>`. Also returns the bytes the notifier declared it sends.
    fn built<T>(
        &self,
        params: &Option<toml::Table>,
        field: &str,
        key: &str,
        build: impl FnOnce(&Params) -> Result<T, ParamError>,
    ) -> Result<(T, u64), ScenarioError> {
        let params = Params::new(params.clone().unwrap_or_default());
        match build(&params) {
            Ok(made) => Ok((made, params.payload_bytes())),
            Err(ParamError {
                key: param,
                message,
            }) => {
                let field = match param.is_empty() {
                    true => format!("{field}.{key}"),
                    false => field::join(&format!("{field}.params"), &param),
                };
                Err(self.invalid(&InvalidField::new(field, message)))
            }
        }
    }
}

#[cfg(test)]
#[path = "file_tests.rs"]
mod tests;
