//! A scenario file's error names its field by walking the document to it, not by naming every
//! field of the file first: four allocations an element, and for a 4 MB file of two million
//! array elements a release build's load took 2.0 to 3.3 s with them, 1.3 to 1.7 s without
//! (the peak memory, some 700 MB, is the document and its copy either way). The allocations a load
//! makes are counted on its own thread and compared with what parsing the file allocates:
//! the document and the deserialiser's copy of it, and a few for the error.

mod counting;

use counting::allocated_by;
use std::path::Path;
use tcpnotify_sim::{Registry, ScenarioFile};

const LISTENER: &str = r#"
seed = 7

[[listeners]]
name = "server"
host = "server"
port = 7000
notifier = "echo"
"#;

#[test]
fn naming_a_bad_field_allocates_nothing_per_array_element() {
    let n = 20_000;
    let cases = [
        // Serde stops at the key, whose value is the long array.
        (
            format!("x = [{}1]\n{LISTENER}", "1, ".repeat(n - 1)),
            "x.toml:1: x: unknown field `x`",
        ),
        // The last element is the bad one.
        (
            format!("hosts = [{}1]\n{LISTENER}", "\"a\", ".repeat(n - 1)),
            "x.toml:1: hosts[19999]: invalid type: integer `1`, expected a string",
        ),
        // An array of tables, each missing its fields.
        (
            format!("{LISTENER}{}", "[[clients]]\n".repeat(n)),
            "x.toml:9: clients[0]: missing field `name`",
        ),
    ];
    for (text, error) in cases {
        let (_, parsing) = allocated_by(|| toml_edit::Document::parse(text.as_str()).is_ok());
        let (loaded, loading) =
            allocated_by(|| ScenarioFile::parse(&text, Path::new("x.toml"), &Registry::builtin()));
        let message = loaded.err().map(|e| e.to_string()).unwrap_or_default();
        assert!(message.starts_with(error), "{message}");
        assert!(
            loading.calls < 2 * parsing.calls + 1000,
            "{error}: loading made {} allocations, parsing {}",
            loading.calls,
            parsing.calls
        );
    }
}
