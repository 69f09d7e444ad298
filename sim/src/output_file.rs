//! A file the simulator writes (a JUnit report, a shrunk scenario, a failure's artifacts, a
//! chaos test's saved regression), written whole or not at all: it is created as a temporary
//! file beside its place before any work starts, so an unwritable path is reported before
//! anything runs, and [`OutputFile::commit`] writes it and renames it into place, so a
//! failure (a full disk, Ctrl-C, a panic) never leaves an empty or partial file where a
//! reader looks.

use std::path::{Path, PathBuf};

/// A file being written: see the module docs.
pub(crate) struct OutputFile {
    /// Where it goes.
    pub(crate) path: PathBuf,
    file: tempfile::NamedTempFile,
}

/// A file that could not be written: which, and why.
#[derive(Debug, thiserror::Error)]
#[error("{path}: cannot write: {source}", path = .path.display())]
pub(crate) struct WriteError {
    /// The file.
    pub(crate) path: PathBuf,
    /// Why.
    pub(crate) source: std::io::Error,
}

impl OutputFile {
    /// Starts writing `path`, whose folder must exist.
    pub(crate) fn create(path: &Path) -> Result<Self, WriteError> {
        let dir = match path.parent() {
            Some(dir) if !dir.as_os_str().is_empty() => dir,
            _ => Path::new("."),
        };
        let file = tempfile::NamedTempFile::new_in(dir).map_err(|e| cannot_write(path, e))?;
        Ok(OutputFile {
            path: path.to_path_buf(),
            file,
        })
    }

    /// [`create`](Self::create), making the folders it is in first: for the simulator's own
    /// places (under `target/`, an artifacts or regressions folder), not for a file path the
    /// user gave.
    pub(crate) fn create_with_folders(path: &Path) -> Result<Self, WriteError> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| cannot_write(path, e))?;
        }
        Self::create(path)
    }

    /// Writes `text` and moves the file into place.
    pub(crate) fn commit(mut self, text: &str) -> Result<(), WriteError> {
        std::io::Write::write_all(&mut self.file, text.as_bytes())
            .map_err(|e| cannot_write(&self.path, e))?;
        self.file
            .persist(&self.path)
            .map_err(|e| cannot_write(&self.path, e.error))?;
        Ok(())
    }
}

/// `name` as a file or folder name on any system: anything but letters, digits, `-`, `_`
/// and `.` made `_`, with no leading `.` (no hidden file, no `..`); `scenario` if nothing is
/// left. For names the simulator makes from a scenario's name.
pub(crate) fn file_name(name: &str) -> String {
    let name: String = name
        .chars()
        .map(|c| match c {
            'a'..='z' | 'A'..='Z' | '0'..='9' | '-' | '_' | '.' => c,
            _ => '_',
        })
        .collect();
    match name.trim_start_matches('.') {
        "" => "scenario".into(),
        name => name.into(),
    }
}

fn cannot_write(path: &Path, source: std::io::Error) -> WriteError {
    WriteError {
        path: path.to_path_buf(),
        source,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_names_keep_safe_characters_only() {
        assert_eq!(file_name("chaos-echo_2.v1"), "chaos-echo_2.v1");
        assert_eq!(file_name("my echo/1"), "my_echo_1");
        assert_eq!(file_name("../up"), "_up");
        assert_eq!(file_name(".."), "scenario");
        assert_eq!(file_name(""), "scenario");
    }

    #[test]
    fn a_file_appears_whole_on_commit_and_a_failure_names_its_path() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a/b/out.txt");
        let file = OutputFile::create_with_folders(&path).unwrap();
        assert!(!path.exists(), "nothing is in place before the commit");
        file.commit("whole").unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "whole");
        let missing = dir.path().join("no-such-folder/out.txt");
        let error = OutputFile::create(&missing).err().expect("no folder");
        assert!(
            error
                .to_string()
                .starts_with(&format!("{}: cannot write: ", missing.display())),
            "{error}"
        );
    }
}
