//! Where a command's output goes: the lines it prints (human text on stdout, or with `--json`
//! only JSON on stdout and the human text on stderr), and the files it writes, whole or not
//! at all.

use crate::json;
use serde::Serialize;

/// Prints a command's lines: see the module docs.
pub(crate) struct Printer {
    json: bool,
}

impl Printer {
    pub(crate) fn new(json: bool) -> Self {
        Printer { json }
    }

    /// Whether the command prints JSON.
    pub(crate) fn json(&self) -> bool {
        self.json
    }

    /// Says `text` for people: on stdout, or on stderr when stdout is JSON.
    pub(crate) fn say(&self, text: impl AsRef<str>) {
        let text = text.as_ref().trim_end_matches('\n');
        if self.json {
            eprintln!("{text}");
        } else {
            println!("{text}");
        }
    }

    /// Prints the JSON object of type `kind` (only with `--json`).
    pub(crate) fn record<T: Serialize>(&self, kind: &str, body: &T) {
        if self.json {
            println!("{}", json::record(kind, body));
        }
    }

    /// Prints raw JSON lines (trace events; only with `--json`).
    pub(crate) fn lines(&self, text: &str) {
        if self.json {
            print!("{text}");
        }
    }
}

/// A file the command writes, whole or not at all (`crate::output_file`).
pub(crate) use crate::output_file::OutputFile as Output;

/// Lines indented by two spaces.
pub(crate) fn indent(text: &str) -> String {
    text.lines().map(|l| format!("  {l}\n")).collect()
}
