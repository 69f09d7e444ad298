//! Comments that a rewritten scenario file would carry stale: when `shrink` (or an artifact,
//! or a chaos regression) writes a file with a new `[plan]` and seed, the comments that
//! described the values it replaced no longer say anything true about the file.
//!
//! What counts as stale, decided from the file's structure where it can be and from the
//! replaced seed where it cannot:
//! - the comments attached to the `seed` line (above it, or after its value), and those inside
//!   the `[faults]` and `[plan]` tables (which go with the tables);
//! - every comment paragraph anywhere in the file that names the replaced seed (`seed 46`,
//!   `seed = 46`, `seeds 46`): it describes that seed's drawn plan, which the file no longer
//!   runs (the seed may even be the same number, with a shrunk plan).
//!
//! A paragraph is a run of comment lines, ended by a line that is not a comment, an empty `#`
//! line, or a sentence's end (`.`, `!`, `?`) followed by a line starting with a capital
//! letter: prose in comments is wrapped, and a sentence is the smallest unit that can be
//! dropped without leaving half of it behind.

use crate::seed::Seed;
use toml_edit::{Decor, DocumentMut, Item, Table};

/// Drops the stale comments of `doc`, whose `seed` (if it names one) is `replaced`, and
/// says how many comment paragraphs went. The caller then sets the new seed and plan.
pub(super) fn drop_stale(doc: &mut DocumentMut, replaced: Option<Seed>) -> usize {
    let mut dropped = 0;
    if let Some((mut key, item)) = doc.as_table_mut().get_key_value_mut("seed") {
        dropped += strip_adjacent(key.leaf_decor_mut());
        if let Some(value) = item.as_value_mut() {
            dropped += strip(value.decor_mut(), &|_| true);
        }
    }
    if let Some(seed) = replaced {
        let stale = |paragraph: &str| names_seed(paragraph, seed);
        dropped += strip_table(doc.as_table_mut(), &stale);
        let trailing = doc.trailing().as_str().map(str::to_string);
        if let Some(text) = trailing {
            let (kept, n) = without(&text, &stale);
            doc.set_trailing(kept);
            dropped += n;
        }
    }
    dropped
}

/// Drops the paragraphs `stale` picks from every comment in `table`, its sub-tables and
/// arrays of tables.
fn strip_table(table: &mut Table, stale: &dyn Fn(&str) -> bool) -> usize {
    let mut dropped = strip(table.decor_mut(), stale);
    for (mut key, item) in table.iter_mut() {
        dropped += strip(key.leaf_decor_mut(), stale);
        match item {
            Item::Value(value) => dropped += strip(value.decor_mut(), stale),
            Item::Table(inner) => dropped += strip_table(inner, stale),
            Item::ArrayOfTables(tables) => {
                for inner in tables.iter_mut() {
                    dropped += strip_table(inner, stale);
                }
            }
            Item::None => {}
        }
    }
    dropped
}

/// Drops the comment lines right above an item (no blank line between): they are about it.
/// A comment above a blank line is about what follows in general (the file's own header,
/// when the item is the first), and stays.
fn strip_adjacent(decor: &mut Decor) -> usize {
    let Some(text) = decor.prefix().and_then(|p| p.as_str()).map(str::to_string) else {
        return 0;
    };
    let lines: Vec<&str> = text.split_inclusive('\n').collect();
    let above = lines
        .iter()
        .rev()
        .take_while(|l| l.trim_start().starts_with('#'))
        .count();
    if above == 0 {
        return 0;
    }
    decor.set_prefix(lines[..lines.len() - above].concat());
    1
}

/// Drops the paragraphs `stale` picks from a decor's prefix and suffix.
fn strip(decor: &mut Decor, stale: &dyn Fn(&str) -> bool) -> usize {
    let mut dropped = 0;
    if let Some(text) = decor.prefix().and_then(|p| p.as_str()).map(str::to_string) {
        let (kept, n) = without(&text, stale);
        decor.set_prefix(kept);
        dropped += n;
    }
    if let Some(text) = decor.suffix().and_then(|s| s.as_str()).map(str::to_string) {
        let (kept, n) = without(&text, stale);
        decor.set_suffix(kept);
        dropped += n;
    }
    dropped
}

/// `text` (whitespace and comment lines) without the comment paragraphs `stale` picks, and
/// how many it dropped.
fn without(text: &str, stale: &dyn Fn(&str) -> bool) -> (String, usize) {
    let mut kept = String::new();
    let mut paragraph: Vec<&str> = Vec::new();
    let mut dropped = 0;
    let mut flush = |paragraph: &mut Vec<&str>, kept: &mut String| {
        if paragraph.is_empty() {
            return;
        }
        let words: Vec<&str> = paragraph.iter().map(|l| comment_text(l)).collect();
        if stale(&words.join(" ")) {
            dropped += 1;
        } else {
            kept.extend(paragraph.iter().copied());
        }
        paragraph.clear();
    };
    for line in text.split_inclusive('\n') {
        let comment = line.trim_start().starts_with('#');
        let starts_paragraph = !comment
            || comment_text(line).is_empty()
            || paragraph.last().is_some_and(|last| {
                comment_text(last).ends_with(['.', '!', '?'])
                    && comment_text(line).starts_with(|c: char| c.is_uppercase())
            });
        if starts_paragraph {
            flush(&mut paragraph, &mut kept);
        }
        if comment && !comment_text(line).is_empty() {
            paragraph.push(line);
        } else {
            kept.push_str(line);
        }
    }
    flush(&mut paragraph, &mut kept);
    (kept, dropped)
}

/// A comment line's words, without the `#` and the spaces around them.
fn comment_text(line: &str) -> &str {
    line.trim().trim_start_matches('#').trim()
}

/// Whether `text` names `seed` as a seed: `seed 46`, `seed = 46`, `seeds 46`, in any case,
/// with no digit right after the number.
fn names_seed(text: &str, seed: Seed) -> bool {
    let lower = text.to_lowercase();
    let number = seed.0.to_string();
    lower.match_indices("seed").any(|(at, word)| {
        let rest = lower[at + word.len()..].trim_start_matches('s');
        let rest = rest.trim_start_matches([' ', '=', '"']);
        rest.strip_prefix(number.as_str())
            .is_some_and(|after| !after.starts_with(|c: char| c.is_ascii_digit()))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_paragraph_naming_the_replaced_seed_goes_and_its_neighbours_stay() {
        let text = "# Title line.\n#\n# Guarded by: C1 and\n# C2.\n# At seed 46 the plan has a\n\
                    # partition. Expect, at every seed: it closes\n# (at seed 46, c3 gets 36 \
                    bytes).\n\n";
        let stale = |p: &str| names_seed(p, Seed(46));
        let (kept, dropped) = without(text, &stale);
        // The paragraph runs on to the end of the sentence its last line ends.
        assert_eq!(dropped, 1, "{kept}");
        assert_eq!(kept, "# Title line.\n#\n# Guarded by: C1 and\n# C2.\n\n");
    }

    #[test]
    fn names_seed_matches_the_seed_as_a_number_only() {
        let at = |text: &str| names_seed(text, Seed(46));
        assert!(at("at seed 46 the plan"));
        assert!(at("Seed = 46"));
        assert!(at("seeds 46 and 47"));
        assert!(at("seed \"46\""));
        assert!(!at("seed 460"));
        assert!(!at("seed 4"));
        assert!(!at("46 bytes at every seed"));
    }

    #[test]
    fn comments_on_the_seed_line_go_with_the_value_they_described() {
        let mut doc: DocumentMut = "# about the file\nname = \"x\"\n# why this seed\nseed = 7 \
                                    # the seed run uses\n"
            .parse()
            .unwrap();
        assert_eq!(drop_stale(&mut doc, Some(Seed(7))), 2);
        assert_eq!(
            doc.to_string(),
            "# about the file\nname = \"x\"\nseed = 7\n"
        );
        // A file that starts with its seed keeps its header, which a blank line sets apart.
        let mut doc: DocumentMut = "# about the file\n\n# why\nseed = 7\n".parse().unwrap();
        assert_eq!(drop_stale(&mut doc, Some(Seed(7))), 1);
        assert_eq!(doc.to_string(), "# about the file\n\nseed = 7\n");
    }
}
