//! Scenario and plan files against hand-written text: what loads, and where every error
//! points (file, line, field).

use super::*;
use crate::fault::{EventTrigger, Fault, FaultKind};

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

/// The field of an error is found by walking the document to it (an array's elements by
/// where they start), not by naming every field: the last of many elements, of an array or
/// of an array of tables, and the table after them, are named as the first would be.
#[test]
fn the_last_of_many_elements_is_named_at_its_line() {
    let client = GOOD.split_once("[[clients]]").unwrap().1;
    let client = client.split_once("[expect]").unwrap().0;
    let clients = format!("[[clients]]{client}").repeat(500);
    let cases = [
        (
            format!("{GOOD}\n{clients}[[clients]]\nname = \"c\"\n"),
            ("[[clients]]", 501),
            "clients[501]: missing field `host`",
        ),
        (
            format!(
                "{GOOD}\n{clients}[[clients]]{}",
                client.replace("7000", "\"x\"")
            ),
            ("port = \"x\"", 0),
            "clients[501].port: invalid type",
        ),
        // A table after the array of tables, and one between its elements.
        (
            format!("{GOOD}\n{clients}[faults]\nbogus = 1\n"),
            ("bogus", 0),
            "faults.bogus: unknown field",
        ),
        (
            format!("{GOOD}\n{clients}[faults]\n[[clients]]{client}[clients.config]\nbogus = 1\n"),
            ("bogus", 0),
            "clients[501].config.bogus: unknown field",
        ),
        // The last element of an inline array, nested.
        (
            format!(
                "{GOOD}\n[names]\nall = [\n{}\n[1]]\n",
                (0..2000).map(|i| format!("\"h{i}\", ")).collect::<String>()
            ),
            ("[1]]", 0),
            "names.all[2000]: invalid type",
        ),
    ];
    for (text, (needle, n), error) in cases {
        let line = line_of(&text, needle, n);
        let err = parse_err(&text);
        assert!(
            err.starts_with(&format!("bad.toml:{line}: {error}")),
            "{err}"
        );
    }
}

#[test]
fn a_scenario_name_past_its_limit_is_refused_at_its_line_without_being_repeated() {
    let long = "L".repeat(crate::validate::MAX_SCENARIO_NAME_LEN + 1);
    let err = parse_err(&GOOD.replace("name = \"echo\"", &format!("name = \"{long}\"")));
    assert_eq!(
        err,
        "bad.toml:2: name: 1025 characters are more than the limit of 1024"
    );
    let fits = "L".repeat(crate::validate::MAX_SCENARIO_NAME_LEN);
    let text = GOOD.replace("name = \"echo\"", &format!("name = \"{fits}\""));
    assert_eq!(parse_err(&text), "parsed");
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

/// A key holding a dot is one key: the field names it quoted as TOML writes it
/// (`params."by.tes"`), where it read as a path (`params.by.tes`), whichever check refused
/// it, and its line is found through it.
#[test]
fn a_key_holding_a_dot_is_named_quoted_as_toml_writes_it() {
    let cases = [
        (
            GOOD.replace("bytes = 100", "bytes = 100, \"by.tes\" = 1"),
            "bad.toml:17: clients[0].params.\"by.tes\": unknown parameter of sender",
        ),
        (
            format!("{GOOD}\n[names]\n\"a.b\" = []\n"),
            "bad.toml:23: names.\"a.b\": a name needs at least one host",
        ),
        (
            GOOD.replace("echoed = true", "echoed = true\ndelivered = { 'x.y' = 1 }"),
            "bad.toml:21: expect.delivered.\"x.y\": unknown connection \"x.y\"",
        ),
        (
            GOOD.replace("echoed = true", "echoed = true\n\"by.tes\" = 1"),
            "bad.toml:21: expect.\"by.tes\": unknown field `by.tes`",
        ),
        // Text that does not parse is named by the key on its line, as TOML writes it.
        (
            GOOD.replace("echoed = true", "echoed = true\n'by.tes' = 1x"),
            "bad.toml:21: \"by.tes\": ",
        ),
    ];
    for (text, error) in cases {
        let err = parse_err(&text);
        assert!(err.starts_with(error), "{err}");
    }
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

/// A host list (`hosts`, a `[names]` name's) names each host once: a name listing a host
/// twice made its client dial the same address twice, and `hosts` repeated one for nothing.
/// The error is at the second entry, naming the first.
#[test]
fn a_host_listed_twice_in_hosts_or_a_name_is_refused_at_the_second_entry() {
    let names = "\n[names]\napi = [\n  \"server\",\n  \"spare\",\n  \"other\",\n  \"spare\",\n]\n";
    let text = format!("hosts = [\"spare\", \"other\"]\n{GOOD}{names}");
    assert_eq!(
        parse_err(&text),
        format!(
            "bad.toml:{}: names.api[3]: \"spare\" is already names.api[1]: a host list names \
             each host once",
            line_of(&text, "\"spare\",", 2)
        )
    );
    let err = parse_err(&format!(
        "hosts = [\"spare\", \"other\", \"spare\"]\n{GOOD}"
    ));
    assert_eq!(
        err,
        "bad.toml:1: hosts[2]: \"spare\" is already hosts[0]: a host list names each host once"
    );
    // Each list on its own: a host may be in `hosts` and in a name, or in two names.
    let text = format!("hosts = [\"spare\"]\n{GOOD}\n[names]\na = [\"spare\", \"server\"]\nb = [\"server\", \"spare\"]\n");
    assert_eq!(parse_err(&text), "parsed");
}

#[test]
fn a_client_table_with_count_makes_that_many_numbered_clients() {
    let text = GOOD.replace("name = \"c1\"", "name = \"web\"\ncount = 3");
    let file = ScenarioFile::parse(&text, Path::new("many.toml"), &Registry::builtin()).unwrap();
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
    let text =
        format!("{GOOD}\n[plan]\n[[plan.faults]]\nat_ms = 5\nkind = \"reset\"\nconn = \"c9\"\n");
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
    let back = ScenarioFile::parse(&written, Path::new("x.toml"), &Registry::builtin()).unwrap();
    assert_eq!(back.seed, Seed(42));
    assert_eq!(back.scenario.plan, Some(plan));
}

#[test]
fn with_plan_drops_the_comments_that_described_the_replaced_seed_and_settings() {
    // As scenarios/chaos.toml was: a header whose last paragraphs describe seed 7's plan.
    let text = format!(
        "# Echo under faults.\n#\n# Guarded by: C1 and the end conditions.\n# At seed 7 the \
         plan has a\n# reset of c1. Expect, at every seed: an echo\n# (at seed 7, 100 bytes).\n\
         {}\n# drawn from these\n[faults]\nresets = 0.5 # half the seeds\n",
        GOOD.trim_start()
    );
    let file = ScenarioFile::parse(&text, Path::new("x.toml"), &Registry::builtin()).unwrap();
    let plan = FaultPlan::quiet(Seed(0));
    let written = file.with_plan(&plan, "shrunk").unwrap();
    assert!(!written.contains("seed 7"), "{written}");
    assert!(!written.contains("drawn from these"), "{written}");
    assert!(!written.contains("half the seeds"), "{written}");
    assert!(
        written.starts_with(
            "# shrunk\n# (Dropped 1 comment paragraph(s) of the original that described its\n\
             # seed or its fault settings, which this file replaces.)\n# Echo under faults.\n#\n\
             # Guarded by: C1 and the end conditions.\nname = \"echo\"\nseed = 0\n"
        ),
        "{written}"
    );
    let back = ScenarioFile::parse(&written, Path::new("x.toml"), &Registry::builtin()).unwrap();
    assert_eq!((back.seed, back.scenario.plan), (Seed(0), Some(plan)));
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
fn a_bare_integer_above_i64_max_is_refused_at_its_line_as_toml_edit_would() {
    // TOML's integers are signed 64-bit numbers. (When files were deserialised with `toml`,
    // which read it, it loaded, and `shrink`, which rewrites files with `toml_edit`, failed.)
    let text = GOOD.replace("seed = 7", "seed = 18446744073709551615");
    let e = ScenarioFile::parse(&text, Path::new("x.toml"), &Registry::builtin()).unwrap_err();
    assert_eq!(e.line, Some(3), "{e}");
    assert!(e.to_string().starts_with("x.toml:3: "), "{e}");
    assert!(e.message.contains("\"18446744073709551615\""), "{e}");
    let file = ScenarioFile::parse(GOOD, Path::new("x.toml"), &Registry::builtin()).unwrap();
    let plan_text = "seed = 18446744073709551615\n";
    let e = PlanFile::parse(plan_text, Path::new("p.toml"), &file.scenario).unwrap_err();
    assert!(e.to_string().starts_with("p.toml:1: "), "{e}");
}

#[test]
fn an_integer_beyond_64_bits_is_refused_at_its_field_with_a_hint_that_names_a_seed_only_for_a_seed()
{
    let scenario = |from: &str, to: &str| {
        assert!(GOOD.contains(from), "{from}");
        parse_err(&GOOD.replace(from, to))
    };
    let seed_hint = "(TOML integers go up to 9223372036854775807; a larger seed is written as a \
                     string, \"18446744073709551615\")";
    let int_hint = "(TOML integers go up to 9223372036854775807)";
    let big = "18446744073709551615";
    assert_eq!(
        scenario("seed = 7", &format!("seed = {big}")),
        format!("bad.toml:3: seed: integer number overflowed {seed_hint}")
    );
    assert_eq!(
        scenario("seed = 7", &format!("seed = 7\nduration_ms = {big}")),
        format!("bad.toml:4: duration_ms: integer number overflowed {int_hint}")
    );
    assert_eq!(
        scenario("echoed = true", &format!("closed = {big}")),
        format!("bad.toml:20: expect.closed: integer number overflowed {int_hint}")
    );
    assert_eq!(
        scenario("seed = 7", "seed = -9223372036854775809"),
        "bad.toml:3: seed: integer number overflowed (TOML integers go down to \
         -9223372036854775808)"
    );
    // A plan's seed is a seed; a notifier's parameter named `seed` is not.
    let plan = parse_err(&format!("{GOOD}\n[plan] # minimal\nseed = {big}\n"));
    assert_eq!(
        plan,
        format!("bad.toml:23: plan.seed: integer number overflowed {seed_hint}")
    );
    let params = GOOD.replace("params = { bytes = 100 }\n", "");
    let params = parse_err(&format!(
        "{params}\n[clients.params]\nbytes = 100\nseed = {big}\n"
    ));
    assert_eq!(
        params,
        format!("bad.toml:23: clients[0].params.seed: integer number overflowed {int_hint}")
    );
    let dotted = parse_err(&format!("{GOOD}plan.seed = {big}\n"));
    assert_eq!(
        dotted,
        format!("bad.toml:21: expect.plan.seed: integer number overflowed {int_hint}"),
        "in [expect], not the plan's seed"
    );
    let dotted = parse_err(&format!("plan.seed = {big}\n{GOOD}"));
    assert_eq!(
        dotted,
        format!("bad.toml:1: plan.seed: integer number overflowed {seed_hint}")
    );
    // A plan file says the same as a scenario file.
    let file = ScenarioFile::parse(GOOD, Path::new("x.toml"), &Registry::builtin()).unwrap();
    let e = PlanFile::parse(
        &format!("seed = {big}\n"),
        Path::new("p.toml"),
        &file.scenario,
    );
    assert_eq!(
        e.unwrap_err().to_string(),
        format!("p.toml:1: seed: integer number overflowed {seed_hint}")
    );
}

/// A number beyond 64 bits is refused by the TOML parser, before serde tracks the field:
/// its error named only the key on its line (`params`, `port`, `config`). It names the whole
/// field, as a value out of its type's range does (`clients[0].port: invalid value`).
#[test]
fn an_integer_beyond_64_bits_is_named_by_its_whole_field() {
    let big = "9223372036854775808";
    let hint = "integer number overflowed (TOML integers go up to 9223372036854775807)";
    let cases = [
        (
            GOOD.replace("bytes = 100", &format!("bytes = {big}")),
            "bad.toml:17: clients[0].params.bytes",
        ),
        (
            GOOD.replacen("port = 7000", &format!("port = {big}"), 1),
            "bad.toml:8: listeners[0].port",
        ),
        (
            GOOD.replacen(
                "port = 7000\nnotifier = \"sender\"",
                &format!("port = {big}\nnotifier = \"sender\""),
                1,
            ),
            "bad.toml:15: clients[0].port",
        ),
        (
            GOOD.replace(
                "notifier = \"echo\"",
                &format!("notifier = \"echo\"\nconfig = {{ read_buffer_size = {big} }}"),
            ),
            "bad.toml:10: listeners[0].config.read_buffer_size",
        ),
        // Two of them: the first is named, found with the second also written as a string.
        (
            GOOD.replace("bytes = 100", &format!("bytes = {big}, chunk = -{big}9")),
            "bad.toml:17: clients[0].params.bytes",
        ),
        (
            format!(
                "{GOOD}\n[[plan.faults]]\nat_ms = 0x{}\nkind = \"reset\"\nconn = \"c1\"\n",
                "f".repeat(17)
            ),
            "bad.toml:23: plan.faults[0].at_ms",
        ),
    ];
    for (text, field) in cases {
        assert_eq!(parse_err(&text), format!("{field}: {hint}"));
    }
}

/// A file of many numbers beyond 64 bits (a tool's output of `u64` values) is refused at the
/// first as a file of one is: its whole field, and for a seed the hint to write it as a
/// string. The field was found by parsing the file again for each later such number, up to
/// 16: past them the error named only the key on its line, and a seed lost its hint.
#[test]
fn an_integer_beyond_64_bits_is_named_by_its_whole_field_however_many_follow() {
    let big = "18446744073709551615";
    let seed_hint = "(TOML integers go up to 9223372036854775807; a larger seed is written as a \
                     string, \"18446744073709551615\")";
    let int_hint = "(TOML integers go up to 9223372036854775807)";
    let faults: String = (0..1000)
        .map(|_| format!("\n[[plan.faults]]\nat_ms = {big}\nkind = \"reset\"\nconn = \"c1\"\n"))
        .collect();
    let seed = GOOD.replace("seed = 7", &format!("seed = {big}"));
    assert_eq!(
        parse_err(&format!("{seed}{faults}")),
        format!("bad.toml:3: seed: integer number overflowed {seed_hint}")
    );
    let bytes = GOOD.replace("bytes = 100", &format!("bytes = {big}"));
    assert_eq!(
        parse_err(&format!("{bytes}{faults}")),
        format!("bad.toml:17: clients[0].params.bytes: integer number overflowed {int_hint}")
    );
    // In arrays over several lines (no field at all was named past 16 numbers: its line
    // has no key).
    let array = format!("{GOOD}\n[faults]\npartition_ms = [\n  1,\n  {big}, # ms\n]\n{faults}");
    assert_eq!(
        parse_err(&array),
        format!("bad.toml:25: faults.partition_ms[1]: integer number overflowed {int_hint}")
    );
    let nested =
        format!("{GOOD}\n[faults]\nx = [\n  [1, 2],\n  [\n    3,\n    {big}\n  ],\n]\n{faults}");
    assert_eq!(
        parse_err(&nested),
        format!("bad.toml:27: faults.x[1][1]: integer number overflowed {int_hint}")
    );
    // In an inline table over several lines (TOML 1.1), in an array of them.
    let table =
        format!("{GOOD}\n[faults]\nx = [\n  {{\n    a = 1,\n    b = {big},\n  }},\n]\n{faults}");
    assert_eq!(
        parse_err(&table),
        format!("bad.toml:26: faults.x[0].b: integer number overflowed {int_hint}")
    );
    // A string over several lines after it: found in the whole file, each later number
    // written as a string in turn.
    let later: String = faults.split_inclusive("\"c1\"\n").take(20).collect();
    let string = format!("{GOOD}\n[faults]\nx = [{big}, \"\"\"a\nb\"\"\"]\n{later}");
    assert_eq!(
        parse_err(&string),
        format!("bad.toml:23: faults.x[0]: integer number overflowed {int_hint}")
    );
    // Many on its own line, and more after.
    let row = vec![big; 40].join(", ");
    let line = format!("{GOOD}\n[faults]\nx = [{row}]\n{faults}");
    assert_eq!(
        parse_err(&line),
        format!("bad.toml:23: faults.x[0]: integer number overflowed {int_hint}")
    );
}

/// However deep the arrays and inline tables around an overflowed number, with many more
/// after it, its whole field is named: each level closed took a parse, and past eight the
/// file was parsed whole, once per later overflowed number, until the budget ran out and
/// the field came out empty (the number's line has no key).
#[test]
fn an_integer_beyond_64_bits_is_named_however_deep_it_is_nested() {
    let big = "18446744073709551615";
    let hint = "integer number overflowed (TOML integers go up to 9223372036854775807)";
    let faults: String = (0..1000)
        .map(|_| format!("\n[[plan.faults]]\nat_ms = {big}\nkind = \"reset\"\nconn = \"c1\"\n"))
        .collect();
    // 80: the deepest toml_edit parses (past it, the file is refused for its depth).
    for depth in [9, 40, 80] {
        // Arrays and inline tables in turn, each over several lines (TOML 1.1).
        let open: String = (0..depth)
            .map(|i| if i % 2 == 0 { "[\n" } else { "{ k = \n" })
            .collect();
        let close: String = (0..depth)
            .rev()
            .map(|i| if i % 2 == 0 { "]\n" } else { "}\n" })
            .collect();
        let text = format!("{GOOD}\n[faults]\nx = {open}{big}\n{close}{faults}");
        let field: String = (0..depth)
            .map(|i| if i % 2 == 0 { "[0]" } else { ".k" })
            .collect();
        let line = line_of(&text, big, 0);
        assert_eq!(
            parse_err(&text),
            format!("bad.toml:{line}: faults.x{field}: {hint}"),
            "{depth} deep"
        );
    }
}

/// What follows an overflowed number on its own line is not parsed to name its field: a seed
/// in an inline table before 3,000 overflowed numbers on that line keeps its field and hint
/// (parsed up to the end of its line, each of those numbers took a parse of the line, and
/// the budget ran out at the key `plan`, without the hint).
#[test]
fn an_integer_beyond_64_bits_is_named_by_its_field_however_many_follow_on_its_line() {
    let big = "18446744073709551615";
    let row = vec![big; 3000].join(", ");
    let text = GOOD.replace(
        "seed = 7",
        &format!("plan = {{ seed = {big}, x = [{row}] }}"),
    );
    assert_eq!(
        parse_err(&text),
        "bad.toml:3: plan.seed: integer number overflowed (TOML integers go up to \
         9223372036854775807; a larger seed is written as a string, \"18446744073709551615\")"
    );
}

#[test]
fn of_several_unknown_fields_in_a_table_the_first_by_name_is_reported() {
    // The order `toml`'s sorted tables gave; kept when loading moved to `toml_edit`, whose
    // tables keep the file's order.
    let err = parse_err(&GOOD.replace("echoed = true", "zeta = 1\nalpha = 2"));
    assert!(
        err.starts_with("bad.toml:21: expect.alpha: unknown field `alpha`"),
        "{err}"
    );
    // A scenario file given as a bare plan file: `clients` comes before `name` and `seed`.
    let file = ScenarioFile::parse(GOOD, Path::new("x.toml"), &Registry::builtin()).unwrap();
    let e = PlanFile::parse(GOOD, Path::new("p.toml"), &file.scenario).unwrap_err();
    assert!(
        e.to_string()
            .starts_with("p.toml:11: clients[0]: unknown field `clients`"),
        "{e}"
    );
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
        (GOOD.replace("echoed = true", &format!("closed = {big}")), "expect.closed: 9000000000000000000 is above the limit of 1000000"),
        (GOOD.replace("echoed = true", "connect_failed = 1000001"), "expect.connect_failed: 1000001 is above the limit of 1000000"),
        (GOOD.replace("echoed = true", "accepted = 1000001"), "expect.accepted: "),
        (GOOD.replace("echoed = true", &format!("delivered = {{ c1 = {big} }}")), "expect.delivered.c1: 9000000000000000000 is above the limit of 268435456"),
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
fn a_file_naming_a_hundred_thousand_hosts_is_refused_for_their_number_in_linear_time() {
    // 1.3 MB, well under the file limit. Listing the hosts in order of mention searched the
    // list for each host, so the refusal came after 5 billion comparisons (over a minute in
    // a debug build; ten minutes for 300,000): a file could hang `run` before validation.
    // No time is asserted; a return of that search shows as this test taking minutes.
    let hosts: Vec<String> = (0..100_000).map(|i| format!("\"h{i}\"")).collect();
    let text = format!("hosts = [{}]\n{GOOD}", hosts.join(", "));
    let err = parse_err(&text);
    assert_eq!(
        err,
        "bad.toml:1: hosts[2046]: 100002 hosts in all (100000 in `hosts`, plus the hosts of \
         listeners, clients and [names]) are more than the limit of 2048: this is the first past it"
    );
}

/// The line of the `n`th (from 0) occurrence of `needle` in `text`, from 1.
fn line_of(text: &str, needle: &str, n: usize) -> usize {
    let (at, _) = text.match_indices(needle).nth(n).expect("in the text");
    text[..at].matches('\n').count() + 1
}

/// A count past its limit is reported at the first entry past it (or the table that makes
/// it), not at line 1; a count of hosts from several places says so.
#[test]
fn a_count_past_its_limit_is_reported_where_the_limit_is_passed() {
    let table = "\n[[clients]]\nname = \"web\"\ncount = 10000\nhost = \"client\"\ntarget = \"server\"\nport = 7000\nnotifier = \"sender\"\nparams = { bytes = 1 }\n";
    let text = format!("{GOOD}{table}");
    assert_eq!(
        parse_err(&text),
        format!(
            "bad.toml:{}: clients[1]: 10001 clients are more than the limit of 10000: this is the \
             first past it",
            line_of(&text, "[[clients]]", 1)
        )
    );
    // No `hosts` key: the client whose host is the 2,049th.
    let mut text = GOOD.to_string();
    for i in 0..2047 {
        text.push_str(&format!(
            "\n[[clients]]\nname = \"c{i}x\"\nhost = \"h{i}\"\ntarget = \"server\"\nport = 7000\nnotifier = \"sender\"\nparams = {{ bytes = 1 }}\n"
        ));
    }
    assert_eq!(
        parse_err(&text),
        format!(
            "bad.toml:{}: clients[2047].host: 2049 hosts in all (the hosts of listeners, clients \
             and [names]) are more than the limit of 2048: this is the first past it",
            line_of(&text, "host = \"h2046\"", 0)
        )
    );
    // A `hosts` key that is not the whole count says so.
    let hosts: Vec<String> = (0..2047).map(|i| format!("\"h{i}\"")).collect();
    let text = GOOD.replacen(
        "seed = 7",
        &format!("seed = 7\nhosts = [{}]", hosts.join(", ")),
        1,
    );
    assert_eq!(
        parse_err(&text),
        "bad.toml:4: hosts[2046]: 2049 hosts in all (2047 in `hosts`, plus the hosts of \
         listeners, clients and [names]) are more than the limit of 2048: this is the first past it"
    );
    // A plan's faults.
    let file = ScenarioFile::parse(GOOD, Path::new("x.toml"), &Registry::builtin()).unwrap();
    let plan = "[[faults]]\nat_ms = 1\nkind = \"reset\"\nconn = \"c1\"\n".repeat(10_001);
    let e = PlanFile::parse(&plan, Path::new("p.toml"), &file.scenario).unwrap_err();
    assert_eq!(
        e.to_string(),
        format!(
            "p.toml:{}: faults[10000]: 10001 faults are more than the limit of 10000: this is the \
             first past it",
            line_of(&plan, "[[faults]]", 10_000)
        )
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

/// A fault window times a partition for every pair of hosts: 152 hosts, 11,476 pairs.
#[test]
fn fault_settings_that_could_draw_too_many_faults_are_refused() {
    let hosts: Vec<String> = (0..150).map(|i| format!("\"h{i}\"")).collect();
    let file = |faults: &str| {
        format!(
            "hosts = [{}]\n{GOOD}\n[faults]\nfault_window_ms = [0, 100]\n{faults}",
            hosts.join(", ")
        )
    };
    let err = parse_err(&file("partitions = 0.1\n"));
    assert!(
        err.starts_with("bad.toml:25: faults.partitions: plans drawn for 152 hosts and 1 clients may hold 11476 faults"),
        "{err}"
    );
    assert_eq!(parse_err(&file("resets = 0.1\n")), "parsed");
}

/// Without a fault window the traffic times every partition: hosts nothing runs on get
/// none, however many (the count took one per pair of hosts, 11,476, and refused this file,
/// whose plans hold at most 7 partitions).
#[test]
fn without_a_fault_window_hosts_nothing_runs_on_count_no_partition() {
    let hosts: Vec<String> = (0..150).map(|i| format!("\"h{i}\"")).collect();
    let text = format!(
        "hosts = [{}]\n{GOOD}\n[faults]\npartitions = 0.1\ncrashes = 0.1\n",
        hosts.join(", ")
    );
    assert_eq!(parse_err(&text), "parsed");
}

/// With a fault window no partition is drawn later or deep in a session or at a redial, and
/// no crash later or deep in a server's connection: 141 hosts and 50 clients may draw 9,870
/// partitions (one per pair of hosts) and a crash, under the limit; one host more adds 141
/// partitions, over it. The count added 2 partitions for the pair of hosts the clients cross, 3
/// per client and 2 crashes, and refused the file of 141 hosts at 10,025.
#[test]
fn a_fault_window_counts_no_fault_timed_late_in_a_session() {
    let clients: String = (2..=50)
        .map(|i| format!("[[clients]]\nname = \"c{i}\"\nhost = \"client\"\ntarget = \"server\"\nport = 7000\nnotifier = \"sender\"\nparams = {{ bytes = 100 }}\n\n"))
        .collect();
    let file = |spare: usize| {
        let hosts: Vec<String> = (0..spare).map(|i| format!("\"h{i}\"")).collect();
        format!(
            "hosts = [{}]\n{GOOD}\n{clients}[faults]\nfault_window_ms = [0, 100]\n\
             partitions = 0.1\ncrashes = 0.1\n",
            hosts.join(", ")
        )
    };
    assert_eq!(parse_err(&file(139)), "parsed");
    let err = parse_err(&file(140));
    assert!(
        err.contains("plans drawn for 142 hosts and 50 clients may hold 10012 faults (10011 of them from partitions)"),
        "{err}"
    );
}

/// Refusals count towards the bound: per listener's port one, and one for each of a client's
/// first three redials.
#[test]
fn fault_settings_whose_refusals_pass_the_limit_are_refused() {
    let hosts: Vec<String> = (0..139).map(|i| format!("\"h{i}\"")).collect();
    let listeners: String = (1..=200)
        .map(|i| format!("[[listeners]]\nname = \"l{i}\"\nhost = \"server\"\nport = {}\nnotifier = \"echo\"\n\n", 7000 + i))
        .collect();
    // 141 hosts in a fault window: 9,870 partitions (one per pair), under the limit alone;
    // 201 ports refuse too, each up to four times (in the window, and as c1's three
    // redials connect): 804.
    let file = |faults: &str| {
        format!(
            "hosts = [{}]\n{GOOD}\n{listeners}[faults]\nfault_window_ms = [0, 100]\n\
             partitions = 0.1\n{faults}",
            hosts.join(", ")
        )
    };
    assert_eq!(parse_err(&file("")), "parsed");
    let err = parse_err(&file("refusals = 0.1\n"));
    assert!(
        err.contains(
            "faults.partitions: plans drawn for 141 hosts and 1 clients may hold 10674 faults"
        ),
        "{err}"
    );
}

/// Later partitions count only the pairs of hosts a connection crosses: 100 clients, each on
/// a host of its own, on one server draw at most 100 of them (as many deep in a session and
/// as many in later sessions, and 300 at redials), not one per pair of client hosts (4,950
/// more, which had this file refused).
#[test]
fn later_partitions_count_only_the_pairs_connections_cross() {
    let clients: String = (1..=100)
        .map(|i| format!("[[clients]]\nname = \"c{i}\"\nhost = \"h{i}\"\ntarget = \"server\"\nport = 7000\nnotifier = \"sender\"\nparams = {{ bytes = 64 }}\n\n"))
        .collect();
    let text = format!(
        "name = \"many-hosts\"\n\n[[listeners]]\nname = \"server\"\nhost = \"server\"\nport = 7000\nnotifier = \"echo\"\n\n{clients}[faults]\npartitions = 0.5\n"
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
    let err = parse_err(&GOOD.replace("echoed = true", "echoed = true\ndelivered = { c9 = 10 }"));
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

/// An error is one line a person reads, however many names the scenario has or however long
/// the name it quotes: a list of 10,000 clients made a line of 70 KB, a 100,000-character
/// host a line of 100 KB.
#[test]
fn an_error_stays_bounded_whatever_it_quotes_and_keeps_the_loaders_index() {
    // serde quotes an unknown key in backquotes without escaping one inside it: the quotes
    // cannot be paired, and the message is cut as a whole.
    let long = "b".repeat(100_000);
    let err = parse_err(&GOOD.replace("seed = 7", &format!("seed = 7\n\"a`{long}\" = 1")));
    assert!(err.len() < 700, "{} bytes: {}", err.len(), &err[..400]);
    assert!(err.ends_with(" characters)"), "{}", &err[err.len() - 100..]);
    // A long name of `[names]` keeps the index the loader gave the entry.
    let hosts: Vec<String> = (0..2048).map(|i| format!("\"h{i}\"")).collect();
    let names = format!("{GOOD}\n[names]\n{long} = [{}]\n", hosts.join(", "));
    let err = parse_err(&names);
    assert!(
        err.contains(&format!("names.{}…[2046]: ", &long[..64])),
        "{err}"
    );
}

#[test]
fn errors_list_a_few_known_names_and_cut_long_ones_at_any_size() {
    let many = GOOD.replace("name = \"c1\"", "name = \"c\"\ncount = 10000");
    let err = parse_err(&many.replace("echoed = true", "delivered = { nosuch = 1 }"));
    assert!(
        err.starts_with(
            "bad.toml:21: expect.delivered.nosuch: unknown connection \"nosuch\" \
                         (clients: c-1, c-2, c-3, c-4, c-5, c-6, c-7, c-8, … and 9992 more;"
        ),
        "{err}"
    );
    assert!(err.len() < 400, "{} bytes", err.len());
    let file = ScenarioFile::parse(&many, Path::new("x.toml"), &Registry::builtin()).unwrap();
    let plan = "[[faults]]\nat_ms = 1\nkind = \"reset\"\nconn = \"nosuch\"\n";
    let e = PlanFile::parse(plan, Path::new("p.toml"), &file.scenario).unwrap_err();
    assert!(e.to_string().contains("c-8, … and 9992 more;"), "{e}");
    assert!(e.to_string().len() < 400, "{e}");
    let long = "h".repeat(100_000);
    let err = parse_err(&GOOD.replace("host = \"server\"", &format!("host = \"{long}\"")));
    let start = format!(
        "bad.toml:7: listeners[0].host: \"{}\"… (100000 characters)",
        &long[..64]
    );
    assert!(err.starts_with(&start), "{}", &err[..err.len().min(400)]);
    assert!(
        err.ends_with("longer than 64 characters"),
        "{}",
        &err[..err.len().min(400)]
    );
    // A name the file uses as a key is cut in the field's path too, and what serde quotes.
    let key = parse_err(&GOOD.replace("echoed = true", &format!("delivered = {{ {long} = 1 }}")));
    let port = GOOD.replace(
        "port = 7000\nnotifier = \"echo\"",
        &format!("port = \"{long}\""),
    );
    let field = GOOD.replace("echoed = true", &format!("{long} = 1"));
    for err in [key, parse_err(&port), parse_err(&field)] {
        assert!(err.len() < 600, "{}", &err[..err.len().min(600)]);
        assert!(err.contains("(100000 characters)"), "{err}");
    }
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

#[test]
fn a_file_without_faults_is_swarm_tested_and_prints_what_each_seed_drew() {
    use crate::fault::{Faults, Swarm};
    let file = ScenarioFile::parse(GOOD, Path::new("echo.toml"), &Registry::builtin()).unwrap();
    assert_eq!(file.scenario.faults, Faults::Swarm(Swarm::default()));
    let plan = file.scenario.plan_for(Seed(7));
    let drawn = plan.swarm.clone().expect("the seed's draw is in its plan");
    // `echoed` allows no lost connection: no resets or crashes in any seed's draw.
    assert_eq!((drawn.resets, drawn.crashes), (0.0, 0.0));
    assert!(
        plan.describe().contains("drawn by the swarm from:"),
        "{}",
        plan.describe()
    );
    // The draw is saved with the plan and read back (`run --save-plan`, then `--plan`).
    let text = plan.to_toml().unwrap();
    assert!(text.contains("[swarm]"), "{text}");
    let loaded = PlanFile::parse(&text, Path::new("plan.toml"), &file.scenario).unwrap();
    assert_eq!(loaded.plan, plan);
}

#[test]
fn a_faults_table_pins_every_setting_and_leaves_out_nothing_on() {
    let load = |faults: &str| {
        let text = format!("{GOOD}\n[faults]\n{faults}");
        ScenarioFile::parse(&text, Path::new("echo.toml"), &Registry::builtin())
            .unwrap()
            .scenario
    };
    // An empty table: no faults at all, at every seed.
    let quiet = load("");
    assert_eq!(quiet.faults, FaultSettings::quiet().into());
    assert_eq!(quiet.plan_for(Seed(3)), FaultPlan::quiet(Seed(3)));
    // A field it names is pinned; every field it leaves out is off.
    let partitions = load("partitions = 0.5\n");
    let pinned = FaultSettings {
        partitions: 0.5,
        ..FaultSettings::quiet()
    };
    assert_eq!(partitions.faults, pinned.into());
    assert_eq!(partitions.plan_for(Seed(3)).swarm, None);
}

#[test]
fn settle_ms_sets_the_liveness_phase_and_is_bounded() {
    let file = ScenarioFile::parse(GOOD, Path::new("echo.toml"), &Registry::builtin()).unwrap();
    assert_eq!(file.scenario.settle_ms, crate::scenario::DEFAULT_SETTLE_MS);
    let text = GOOD.replace("seed = 7", "seed = 7\nsettle_ms = 0");
    let file = ScenarioFile::parse(&text, Path::new("echo.toml"), &Registry::builtin()).unwrap();
    assert_eq!(file.scenario.settle_ms, 0, "0 turns the liveness phase off");
    let err = parse_err(&GOOD.replace("seed = 7", "seed = 7\nsettle_ms = 600001"));
    assert!(
        err.starts_with("bad.toml:4: settle_ms: 600001 is above the limit"),
        "{err}"
    );
}

/// A registry with one listen notifier, `gate`, that accepts peers with an echo up to its
/// `accept` parameter and then rejects them.
fn with_gate() -> Registry {
    use crate::notifiers::Echo;
    use tcpnotify::{TcpConnectionNotify, TcpListenNotify, TcpListener};
    struct Gate(usize);
    impl TcpListenNotify for Gate {
        fn connected(&mut self, _: &mut TcpListener) -> Option<Box<dyn TcpConnectionNotify>> {
            self.0 = self.0.checked_sub(1)?;
            Some(Box::new(Echo))
        }
        fn not_listening(&mut self, _: &mut TcpListener) {}
    }
    let mut registry = Registry::builtin();
    registry.register_listener("gate", |p: &Params| {
        let accept = p.usize_at_most("accept", 1, 100)?;
        Ok(crate::scenario::listen_factory(move || Gate(accept)))
    });
    registry
}

fn parse_with_gate(text: &str) -> Result<ScenarioFile, String> {
    ScenarioFile::parse(text, Path::new("bad.toml"), &with_gate()).map_err(|e| e.to_string())
}

#[test]
fn a_listener_may_name_a_registered_listen_notifier_instead_of_a_notifier() {
    let text = GOOD.replace(
        "notifier = \"echo\"",
        "listen_notifier = \"gate\"\nparams = { accept = 2 }",
    );
    let file = parse_with_gate(&text).expect("loads");
    assert!(matches!(
        file.scenario.listeners[0].notifier,
        crate::scenario::ListenerNotifier::Listen(_)
    ));
}

#[test]
fn a_listener_with_both_or_neither_notifier_kinds_is_refused_at_the_field() {
    let both = GOOD.replace(
        "notifier = \"echo\"",
        "notifier = \"echo\"\nlisten_notifier = \"gate\"",
    );
    let err = parse_with_gate(&both).err().unwrap_or_default();
    assert!(
        err.starts_with("bad.toml:10: listeners[0].listen_notifier: give either"),
        "{err}"
    );
    let neither = GOOD.replace("port = 7000\nnotifier = \"echo\"", "port = 7000");
    let err = parse_with_gate(&neither).err().unwrap_or_default();
    assert!(err.contains("listeners[0].notifier: missing"), "{err}");
}

#[test]
fn an_unknown_listen_notifier_or_its_parameter_is_named() {
    let text = GOOD.replace("notifier = \"echo\"", "listen_notifier = \"echo\"");
    let err = parse_with_gate(&text).err().unwrap_or_default();
    assert!(
        err.starts_with(
            "bad.toml:9: listeners[0].listen_notifier: unknown listen notifier \"echo\" \
             (registered: gate)"
        ),
        "{err}"
    );
    let text = GOOD.replace(
        "notifier = \"echo\"",
        "listen_notifier = \"gate\"\nparams = { acept = 2 }",
    );
    let err = parse_with_gate(&text).err().unwrap_or_default();
    assert!(
        err.starts_with("bad.toml:10: listeners[0].params.acept: unknown parameter of gate"),
        "{err}"
    );
}

#[test]
fn the_builtin_proxy_needs_a_target_and_a_port() {
    let proxy = |params: &str| {
        GOOD.replace(
            "notifier = \"echo\"",
            &format!("notifier = \"proxy\"\nparams = {params}"),
        )
    };
    assert!(parse_err(&proxy("{ target = \"server\", port = 7000 }")) == "parsed");
    let err = parse_err(&proxy("{ port = 7000 }"));
    assert!(
        err.starts_with("bad.toml:10: listeners[0].params.target: missing"),
        "{err}"
    );
    let err = parse_err(&proxy("{ target = \"server\", port = 0 }"));
    assert!(
        err.contains("listeners[0].params.port: missing or 0"),
        "{err}"
    );
}

#[test]
fn a_refusal_loads_from_a_plan_and_its_fields_are_checked() {
    let with =
        |fault: &str| GOOD.replace("[expect]", &format!("[[plan.faults]]\n{fault}\n\n[expect]"));
    let ok = with("at_ms = 5\nkind = \"refuse\"\nhost = \"server\"\nport = 7000\nduration_ms = 50");
    assert_eq!(parse_err(&ok), "parsed");
    let err = parse_err(&with(
        "at_ms = 5\nkind = \"refuse\"\nhost = \"nowhere\"\nport = 7000\nduration_ms = 50",
    ));
    assert!(
        err.contains("plan.faults[0].host: unknown host \"nowhere\""),
        "{err}"
    );
    let err = parse_err(&with(
        "at_ms = 5\nkind = \"refuse\"\nhost = \"server\"\nport = 0\nduration_ms = 50",
    ));
    assert!(err.contains("plan.faults[0].port"), "{err}");
    let settings = GOOD.replace("[expect]", "[faults]\nrefusals = 1.5\n\n[expect]");
    let err = parse_err(&settings);
    assert!(
        err.contains("faults.refusals: probability 1.5 is not between 0 and 1"),
        "{err}"
    );
}

/// A misspelt field of a planned fault is refused at its line, as anywhere else in the file:
/// `[[plan.faults]]` tables flatten their kind's fields beside the trigger, and serde's
/// flatten alone would take `one_wya = true` for a two-way partition without a word.
#[test]
fn an_unknown_field_of_a_planned_fault_names_file_line_and_field() {
    for (kind, fields) in [
        (
            "partition",
            "a = \"client\"\nb = \"server\"\nduration_ms = 10\none_wya = true",
        ),
        ("reset", "conn = \"c1\"\nzz = 1"),
        ("crash", "host = \"server\"\nrestart_after = 5"),
    ] {
        let text =
            format!("{GOOD}\n[plan]\n[[plan.faults]]\nat_ms = 5\nkind = \"{kind}\"\n{fields}\n");
        let err = parse_err(&text);
        let wrong = fields.lines().last().unwrap().split(' ').next().unwrap();
        // `[plan]` is line 22 and the fields start at 26.
        let line = 25 + fields.lines().count();
        assert!(
            err.starts_with(&format!("bad.toml:{line}: plan.faults[0].{wrong}: ")),
            "{kind}: {err}"
        );
        assert!(
            err.contains(&format!("unknown field `{wrong}`")),
            "{kind}: {err}"
        );
    }
}

/// What `shrink` writes keeps the file's tables in their order and puts the plan after all of
/// them: a plan's own tables (`[[plan.faults]]`, `[plan.faults.after]`) are numbered in its
/// own document, and kept so they landed among the file's `[[listeners]]` and `[[clients]]`.
#[test]
fn with_plan_writes_the_plan_after_every_table_of_the_file() {
    let text = format!(
        "{GOOD}\n[plan]\nseed = 7\n\n[[listeners]]\nname = \"other\"\nhost = \"server\"\n\
         port = 7001\nnotifier = \"echo\"\n"
    );
    let file = ScenarioFile::parse(&text, Path::new("x.toml"), &Registry::builtin()).unwrap();
    let plan = FaultPlan {
        faults: vec![
            Fault::at(5, FaultKind::Reset { conn: "c1".into() }),
            Fault::after(
                EventTrigger {
                    conn: "c1".into(),
                    callback: "connected".into(),
                    nth: 1,
                },
                FaultKind::Reset { conn: "c1".into() },
            ),
        ],
        ..FaultPlan::quiet(Seed(3))
    };
    let written = file.with_plan(&plan, "shrunk").unwrap();
    let headers: Vec<&str> = (written.lines()).filter(|l| l.starts_with('[')).collect();
    assert_eq!(
        headers,
        [
            "[[listeners]]",
            "[[clients]]",
            "[expect]",
            "[[listeners]]",
            "[plan]",
            "[[plan.faults]]",
            "[[plan.faults]]",
            "[plan.faults.after]",
        ],
        "{written}"
    );
    let back = ScenarioFile::parse(&written, Path::new("x.toml"), &Registry::builtin()).unwrap();
    assert_eq!(back.scenario.plan, Some(plan));
}
