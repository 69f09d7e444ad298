//! The command that runs this tool again, for repro lines that work where they are read: a
//! binary started by `cargo run` or `cargo test` in its workspace is named as `cargo run -p
//! PACKAGE [--bin NAME] [--release] --`; a binary found on `PATH` (an installed
//! `tcpnotify-sim`, or a user's own `main_with` binary) by its name; any other by its path.

use std::ffi::OsString;
use std::fmt;
use std::path::{Path, PathBuf};

/// How to start this tool again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Invocation {
    prefix: String,
}

impl Invocation {
    /// This process's invocation, from its executable and environment.
    pub(crate) fn current() -> Self {
        let exe = std::env::current_exe().unwrap_or_else(|_| PathBuf::from("tcpnotify-sim"));
        Self::of(
            &exe,
            std::env::var("CARGO_PKG_NAME").ok().as_deref(),
            std::env::var_os("PATH"),
        )
    }

    /// The invocation of executable `exe`, started by cargo for `package` if that is set (cargo
    /// sets `CARGO_PKG_NAME` for what `cargo run` and `cargo test` start), searched for in
    /// `path` otherwise.
    pub(crate) fn of(exe: &Path, package: Option<&str>, path: Option<OsString>) -> Self {
        let name = exe.file_stem().map_or_else(
            || "tcpnotify-sim".into(),
            |n| n.to_string_lossy().into_owned(),
        );
        if let (Some(package), Some(profile)) = (package, cargo_profile(exe)) {
            let mut prefix = format!("cargo run -p {package}");
            if name != package {
                prefix += &format!(" --bin {name}");
            }
            match profile.as_str() {
                "debug" => {}
                "release" => prefix += " --release",
                other => prefix += &format!(" --profile {other}"),
            }
            prefix += " --";
            return Invocation { prefix };
        }
        let on_path = path.is_some_and(|path| {
            std::env::split_paths(&path)
                .any(|dir| same_file(&dir.join(exe.file_name().unwrap_or_default()), exe))
        });
        Invocation {
            prefix: if on_path {
                shell_word(&name)
            } else {
                shell_word(&exe.display().to_string())
            },
        }
    }

    /// The command line that runs this tool with `args` (each a word, quoted as a shell
    /// needs).
    pub(crate) fn command<S: AsRef<str>>(&self, args: impl IntoIterator<Item = S>) -> String {
        let mut line = self.prefix.clone();
        for arg in args {
            line.push(' ');
            line += &shell_word(arg.as_ref());
        }
        line
    }

    /// The command that re-runs `file` with `seed`.
    pub(crate) fn run(&self, file: &Path, seed: impl fmt::Display) -> String {
        self.command([
            "run".to_string(),
            file.display().to_string(),
            "--seed".into(),
            seed.to_string(),
        ])
    }
}

/// The cargo profile `exe` was built with, if it sits where cargo puts what it builds:
/// `target/PROFILE/NAME` (or `$CARGO_TARGET_DIR/PROFILE/NAME`), or `.../PROFILE/deps/NAME`.
fn cargo_profile(exe: &Path) -> Option<String> {
    let mut dir = exe.parent()?;
    if dir.file_name().is_some_and(|n| n == "deps") {
        dir = dir.parent()?;
    }
    let profile = dir.file_name()?.to_string_lossy().into_owned();
    let target = dir.parent()?;
    let in_target = target.file_name().is_some_and(|n| n == "target")
        || std::env::var_os("CARGO_TARGET_DIR").is_some_and(|t| same_file(Path::new(&t), target));
    in_target.then_some(profile)
}

fn same_file(a: &Path, b: &Path) -> bool {
    match (a.canonicalize(), b.canonicalize()) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    }
}

/// `word` as one shell word: as it is if it is plain, else in single quotes.
fn shell_word(word: &str) -> String {
    let plain = !word.is_empty()
        && word
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./:=@%+,".contains(c));
    if plain {
        word.to_string()
    } else {
        format!("'{}'", word.replace('\'', r"'\''"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!(
            "tcpnotify-invocation-{}-{name}",
            std::process::id()
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn a_binary_cargo_built_and_started_is_named_by_cargo_run() {
        let exe = Path::new("/work/x/target/debug/tcpnotify-sim");
        let inv = Invocation::of(exe, Some("tcpnotify-sim"), None);
        assert_eq!(inv.prefix, "cargo run -p tcpnotify-sim --");
        let mine = Path::new("/home/me/proj/target/release/my-sim");
        assert_eq!(
            Invocation::of(mine, Some("proj"), None).prefix,
            "cargo run -p proj --bin my-sim --release --"
        );
        // Not in a target folder: cargo did not build it there, whatever the environment says.
        let installed = Path::new("/usr/local/bin/tcpnotify-sim");
        assert_eq!(
            Invocation::of(installed, Some("tcpnotify-sim"), None).prefix,
            "/usr/local/bin/tcpnotify-sim"
        );
    }

    #[test]
    fn a_binary_on_the_path_is_named_by_its_name_and_others_by_their_path() {
        let dir = scratch("bin");
        let exe = dir.join("my-sim");
        std::fs::write(&exe, "").unwrap();
        let path = std::env::join_paths([Path::new("/nowhere"), &dir]).unwrap();
        assert_eq!(Invocation::of(&exe, None, Some(path)).prefix, "my-sim");
        let elsewhere = std::env::join_paths([Path::new("/nowhere")]).unwrap();
        assert_eq!(
            Invocation::of(&exe, None, Some(elsewhere)).prefix,
            exe.display().to_string()
        );
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn arguments_are_quoted_only_when_a_shell_needs_it() {
        let inv = Invocation {
            prefix: "tcpnotify-sim".into(),
        };
        assert_eq!(
            inv.run(Path::new("scenarios/chaos.toml"), 46),
            "tcpnotify-sim run scenarios/chaos.toml --seed 46"
        );
        assert_eq!(
            inv.command(["run", "my file's.toml"]),
            r"tcpnotify-sim run 'my file'\''s.toml'"
        );
    }
}
