//! Where a command's output goes: the lines it prints (human text on stdout, or with `--json`
//! only JSON on stdout and the human text on stderr), and the files it writes, whole or not
//! at all.

use super::error::CliError;
use crate::json;
use serde::Serialize;
use std::path::{Path, PathBuf};

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

/// A file the command will write, created (as a temporary file beside it) before any work
/// starts, so an unwritable path is reported before anything runs; [`commit`](Self::commit)
/// writes it whole and renames it into place, so a failure never leaves an empty or partial
/// file.
pub(crate) struct Output {
    pub(crate) path: PathBuf,
    file: tempfile::NamedTempFile,
}

impl Output {
    pub(crate) fn create(path: &Path) -> Result<Self, CliError> {
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

    /// [`create`](Self::create), making the folders it is in first: for the command's own
    /// default places (under `target/`), not for a path the user gave.
    pub(crate) fn create_with_folders(path: &Path) -> Result<Self, CliError> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| cannot_write(path, e))?;
        }
        Self::create(path)
    }

    pub(crate) fn commit(mut self, text: &str) -> Result<(), CliError> {
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

/// Lines indented by two spaces.
pub(crate) fn indent(text: &str) -> String {
    text.lines().map(|l| format!("  {l}\n")).collect()
}
