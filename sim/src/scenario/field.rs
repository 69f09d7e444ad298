//! A field's name in errors: the path from the top of a document to a value
//! (`clients[1].params.bytes`), each key written as TOML writes it, so that a key holding a dot
//! or a bracket reads as one key (`params."by.tes"`), not as two. The locator reads a name
//! back into its steps to walk only that path of the document.

use crate::validate;
use std::borrow::Cow;

/// One step of a field's path: a key of a table, or an index of an array.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Step<'a> {
    /// A key, as the document holds it (unquoted).
    Key(Cow<'a, str>),
    /// An index from 0.
    Index(usize),
}

/// `key` as a path writes it: bare if TOML writes it bare (letters, digits, `-` and `_`),
/// quoted as TOML quotes it otherwise.
pub(crate) fn key(key: &str) -> Cow<'_, str> {
    if is_bare(key) {
        key.into()
    } else {
        toml_edit::Key::new(key).display_repr().into_owned().into()
    }
}

/// The field `key` (as the document holds it) of the table at `path` (empty: the top).
pub(crate) fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        self::key(key).into_owned()
    } else {
        format!("{path}.{}", self::key(key))
    }
}

/// The path of `steps`.
pub(super) fn path(steps: &[Step<'_>]) -> String {
    render(steps, |k| key(k).into_owned())
}

/// `path` with each key cut as [`validate::shortened`] cuts a name, keeping its indices
/// (`names.hhhh…[2045]`): a key may be the input's, of any length. A path this module does
/// not write is cut as one name.
pub(super) fn shortened(path: &str) -> Cow<'_, str> {
    match steps(path) {
        Some(steps) => render(&steps, |k| match validate::cut(k) {
            None => key(k).into_owned(),
            // Quoted if the whole key is, whatever its start.
            Some((start, _)) if is_bare(k) || !is_bare(start) => format!("{}…", key(start)),
            Some((start, _)) => format!("\"{start}\"…"),
        })
        .into(),
        None => validate::shortened(path),
    }
}

fn render(steps: &[Step<'_>], key: impl Fn(&str) -> String) -> String {
    let mut out = String::new();
    for step in steps {
        match step {
            Step::Key(k) => {
                if !out.is_empty() {
                    out.push('.');
                }
                out += &key(k);
            }
            Step::Index(i) => out += &format!("[{i}]"),
        }
    }
    out
}

/// The steps of `path`, or `None` if it is not a path as [`path`] writes one: keys bare or
/// quoted, separated by `.`, each followed by any number of `[index]`.
pub(super) fn steps(path: &str) -> Option<Vec<Step<'_>>> {
    let mut steps = Vec::new();
    let mut rest = path;
    while !rest.is_empty() {
        if !steps.is_empty() {
            rest = rest.strip_prefix('.')?;
        }
        let (key, after) = first_key(rest)?;
        steps.push(Step::Key(key));
        rest = after;
        while let Some(inside) = rest.strip_prefix('[') {
            let (index, after) = inside.split_once(']')?;
            if !index.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            steps.push(Step::Index(index.parse().ok()?));
            rest = after;
        }
    }
    Some(steps)
}

/// The key `path` starts with (decoded, if quoted) and the text after it.
fn first_key(path: &str) -> Option<(Cow<'_, str>, &str)> {
    let end = match path.chars().next()? {
        '\'' => path[1..].find('\'')? + 2,
        '"' => {
            // A basic string ends at the first `"` not escaped by a backslash.
            let mut escaped = false;
            let close = path[1..].char_indices().find(|&(_, c)| {
                let closes = c == '"' && !escaped;
                escaped = c == '\\' && !escaped;
                closes
            });
            close?.0 + 2
        }
        _ => {
            let end = path.find(['.', '[']).unwrap_or(path.len());
            let bare = &path[..end];
            return is_bare(bare).then_some((bare.into(), &path[end..]));
        }
    };
    let quoted: toml_edit::Key = path[..end].parse().ok()?;
    Some((quoted.get().to_string().into(), &path[end..]))
}

/// Whether TOML may write `key` without quotes.
fn is_bare(key: &str) -> bool {
    !key.is_empty()
        && key
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_holding_a_dot_or_a_bracket_is_quoted_and_read_back_as_one_key() {
        for raw in [
            "by.tes",
            "a[0]",
            "say \"hi\"",
            "it's",
            "",
            "tab\there",
            "ключ",
        ] {
            let path = join("clients[0].params", raw);
            assert!(path.ends_with(['"', '\'']), "{path}");
            let steps = steps(&path).unwrap_or_else(|| panic!("{path} does not read back"));
            assert_eq!(steps.last(), Some(&Step::Key(raw.into())), "{path}");
            assert_eq!(self::path(&steps), path);
        }
        assert_eq!(
            join("clients[0].params", "by.tes"),
            "clients[0].params.\"by.tes\""
        );
        assert_eq!(join("", "bytes"), "bytes");
        assert_eq!(
            steps("x[1][20].y"),
            Some(vec![
                Step::Key("x".into()),
                Step::Index(1),
                Step::Index(20),
                Step::Key("y".into())
            ])
        );
        for not_a_path in ["a..b", "a b", ".a", "a.", "a[x]", "a[1", "\"open"] {
            assert_eq!(steps(not_a_path), None, "{not_a_path}");
        }
    }

    #[test]
    fn a_shortened_path_cuts_each_key_and_keeps_indices_and_quotes() {
        let long = "b".repeat(100);
        let b64 = &long[..64];
        assert_eq!(
            shortened(&format!("names.{long}[3]")),
            format!("names.{b64}…[3]")
        );
        let dotted = format!("x.\"{long}.c\"");
        assert_eq!(shortened(&dotted), format!("x.\"{b64}\"…"));
        assert_eq!(shortened("x.\"by.tes\""), "x.\"by.tes\"");
    }
}
