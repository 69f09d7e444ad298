//! A file the simulator writes (a JUnit report, a shrunk scenario, a failure's artifacts, a
//! chaos test's saved regression), written whole or not at all: it is created as a temporary
//! file beside its place before any work starts, so an unwritable path is reported before
//! anything runs, and [`OutputFile::commit`] writes it and renames it into place, so a
//! failure (a full disk, Ctrl-C, a panic) never leaves an empty or partial file where a
//! reader looks. A new file gets the mode `File::create` would give it (0666 less the umask,
//! not the temporary file's 0600), and a file it replaces keeps its own.

use crate::seed::fnv1a;
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
        let file = temporary_file(dir, path).map_err(|e| cannot_write(path, e))?;
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

/// A temporary file in `dir` to become `path`, with the permissions `path` will have: a
/// report or a shrunk scenario is for others to read too, where tempfile's own default (0600)
/// is for secrets.
fn temporary_file(dir: &Path, path: &Path) -> std::io::Result<tempfile::NamedTempFile> {
    let mut builder = tempfile::Builder::new();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        // Masked by the umask as it is created, as `File::create`'s 0666 is.
        builder.permissions(std::fs::Permissions::from_mode(0o666));
    }
    let file = builder.tempfile_in(dir)?;
    if let Some(existing) = std::fs::metadata(path).ok().filter(|m| m.is_file()) {
        file.as_file().set_permissions(existing.permissions())?;
    }
    Ok(file)
}

/// Longest name [`file_name`] makes, in bytes: 255 (a file name's limit on common file
/// systems) leaves room after it for what the simulator appends, `.seed-N` of any seed.
pub(crate) const MAX_FILE_NAME_BYTES: usize = 200;

/// `name` as a file or folder name on any system: a name of letters, digits, `-`, `_` and
/// `.` (not starting with `.`) as it is; any other, with those characters made `_` and no
/// leading `.` (no hidden file, no `..`; `scenario` if nothing is left), ended by a hash of
/// the whole `name`, so that `a b`, `a/b` and `a_b` keep folders of their own; and, longer
/// than [`MAX_FILE_NAME_BYTES`], cut and ended by that hash, so that two long names with one
/// beginning do too. For names the simulator makes from a scenario's name.
///
/// A safe name's file name is the name: folders written for it stay where they are. Before
/// the hash was added for replaced characters, a short name that needed replacing got its
/// replaced form alone ([`unhashed_file_name`]).
pub(crate) fn file_name(name: &str) -> String {
    let safe = safe_characters(name);
    if safe == name && safe.len() <= MAX_FILE_NAME_BYTES {
        return safe.into();
    }
    let hash = format!("-{:016x}", fnv1a(name.as_bytes()));
    // Every character left is ASCII, so any byte is a character boundary.
    let keep = safe.len().min(MAX_FILE_NAME_BYTES - hash.len());
    format!("{}{hash}", &safe[..keep])
}

/// The file name earlier versions made for `name` where [`file_name`] now makes another: a
/// short name that needed characters replaced, which got no hash then. For finding what they
/// wrote (a chaos test's saved regressions).
pub(crate) fn unhashed_file_name(name: &str) -> Option<String> {
    let safe = safe_characters(name);
    (safe != name && safe.len() <= MAX_FILE_NAME_BYTES).then(|| safe.into())
}

/// `name` with every character but letters, digits, `-`, `_` and `.` made `_`, without
/// leading `.`; `scenario` if nothing is left.
fn safe_characters(name: &str) -> std::borrow::Cow<'_, str> {
    let safe = |c: char| matches!(c, 'a'..='z' | 'A'..='Z' | '0'..='9' | '-' | '_' | '.');
    let name = match name.chars().all(safe) {
        true => std::borrow::Cow::Borrowed(name),
        false => name
            .chars()
            .map(|c| if safe(c) { c } else { '_' })
            .collect(),
    };
    match name.trim_start_matches('.') {
        "" => "scenario".into(),
        trimmed if trimmed.len() == name.len() => name,
        trimmed => trimmed.to_string().into(),
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
        let hashed = |shown: &str, name: &str| format!("{shown}-{:016x}", fnv1a(name.as_bytes()));
        assert_eq!(file_name("my echo/1"), hashed("my_echo_1", "my echo/1"));
        assert_eq!(file_name("../up"), hashed("_up", "../up"));
        assert_eq!(file_name(".."), hashed("scenario", ".."));
        assert_eq!(file_name(""), hashed("scenario", ""));
        assert_eq!(file_name(".hidden"), hashed("hidden", ".hidden"));
    }

    /// Names that differ only in characters made `_` shared a folder: `a b`'s artifacts and
    /// regressions were `a/b`'s and `a_b`'s. A safe name keeps its file name (folders of it
    /// are committed); a replaced one gets its whole name's hash.
    #[test]
    fn names_that_differ_only_in_replaced_characters_keep_folders_of_their_own() {
        let names = ["a_b", "a b", "a/b", "a:b", "a\u{e9}b", "scenario", ""];
        let files: Vec<String> = names.iter().map(|n| file_name(n)).collect();
        for (i, file) in files.iter().enumerate() {
            for other in &files[i + 1..] {
                assert_ne!(file, other, "{names:?}: {files:?}");
            }
        }
        assert_eq!(file_name("a_b"), "a_b");
        assert_eq!(file_name("scenario"), "scenario");
        // What earlier versions made, for a name that needed replacing only.
        assert_eq!(unhashed_file_name("a b").as_deref(), Some("a_b"));
        assert_eq!(unhashed_file_name("a_b"), None);
        assert_eq!(
            unhashed_file_name(&"é".repeat(300)),
            None,
            "cut and hashed then too"
        );
    }

    #[test]
    fn a_long_name_is_cut_to_a_bounded_file_name_that_differs_from_another_long_names() {
        let fits = "n".repeat(MAX_FILE_NAME_BYTES);
        assert_eq!(file_name(&fits), fits, "a name that fits is kept");
        let one = format!("{}a", "L".repeat(300));
        let other = format!("{}b", "L".repeat(300));
        let (cut, other_cut) = (file_name(&one), file_name(&other));
        assert_eq!(cut.len(), MAX_FILE_NAME_BYTES);
        assert!(cut.starts_with(&"L".repeat(100)), "{cut}");
        assert_ne!(cut, other_cut, "the whole name's hash tells them apart");
        assert_eq!(file_name(&one), cut, "the same name, the same folder");
        // Made `_`, a name of two-byte characters is no longer; its hash is of the name given.
        let wide = file_name(&"é".repeat(300));
        assert_eq!(wide.len(), MAX_FILE_NAME_BYTES);
        assert_ne!(wide, file_name(&"_".repeat(300)));
    }

    /// The process's umask, set to `mask` while `f` runs: the umask is per process, so the
    /// tests that set it take this lock.
    #[cfg(unix)]
    fn with_umask<T>(mask: libc::mode_t, f: impl FnOnce() -> T) -> T {
        static UMASK: std::sync::Mutex<()> = std::sync::Mutex::new(());
        let _held = UMASK.lock().unwrap_or_else(|e| e.into_inner());
        // SAFETY: umask has no memory effects; it only swaps the process's mask.
        let old = unsafe { libc::umask(mask) };
        let result = f();
        // SAFETY: as above.
        unsafe { libc::umask(old) };
        result
    }

    #[cfg(unix)]
    fn mode(path: &Path) -> u32 {
        use std::os::unix::fs::PermissionsExt;
        std::fs::metadata(path).unwrap().permissions().mode() & 0o777
    }

    #[cfg(unix)]
    #[test]
    fn a_new_file_gets_the_mode_file_create_gives_and_a_replaced_one_keeps_its_own() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let new = dir.path().join("new.txt");
        with_umask(0o022, || {
            OutputFile::create(&new).unwrap().commit("x").unwrap()
        });
        assert_eq!(mode(&new), 0o644, "0666 less the umask 022");
        with_umask(0o077, || {
            OutputFile::create(&new).unwrap().commit("y").unwrap()
        });
        assert_eq!(mode(&new), 0o644, "a replaced file keeps its mode");
        let private = dir.path().join("private.txt");
        std::fs::write(&private, "").unwrap();
        std::fs::set_permissions(&private, std::fs::Permissions::from_mode(0o600)).unwrap();
        with_umask(0o022, || {
            OutputFile::create(&private).unwrap().commit("z").unwrap()
        });
        assert_eq!(mode(&private), 0o600, "a private file stays private");
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
