//! Failures as text, a line each, but at most [`LISTED_PER_KIND`] of each kind: a run in which
//! thousands of connections fail one property stays readable. The JSON verdict and
//! [`Verdict::failures`](super::Verdict::failures) keep every one.

use super::{Failure, Rule};
use std::collections::BTreeMap;
use std::fmt;

/// How many failures of one kind (a rule, a property) the text lists.
pub(crate) const LISTED_PER_KIND: usize = 10;

/// Where a verdict's text sends its reader for the failures it leaves out.
pub(crate) const JSON_LISTS_EVERY_ONE: &str =
    "`Verdict::failures`, and `run --json`'s verdict, hold every one";

/// Writes each of `items` (its kind, as `contract R6` or `property echoed`, and the item) on
/// a line of its own, at most [`LISTED_PER_KIND`] of a kind, then a line per kind saying how
/// many were left out and, in `all_in`, where to find them.
pub(crate) fn write_listed<T: fmt::Display>(
    f: &mut fmt::Formatter<'_>,
    items: impl IntoIterator<Item = (String, T)>,
    all_in: &str,
) -> fmt::Result {
    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
    for (kind, item) in items {
        let count = seen.entry(kind).or_default();
        *count += 1;
        if *count <= LISTED_PER_KIND {
            write!(f, "\n{item}")?;
        }
    }
    for (kind, count) in seen {
        if count > LISTED_PER_KIND {
            write!(
                f,
                "\n{kind}: {} more like the {LISTED_PER_KIND} above, not shown ({all_in})",
                count - LISTED_PER_KIND
            )?;
        }
    }
    Ok(())
}

/// Failures already in words (`property echoed: ...`, `contract R6 broken by ...`), a line
/// each ([`write_listed`]) after a leading newline, counted under their first two words; the
/// second field says where every one is.
pub(crate) struct FailureTexts<'a>(pub(crate) &'a [String], pub(crate) &'a str);

impl fmt::Display for FailureTexts<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = |text: &str| {
            let words: Vec<&str> = text.split_whitespace().take(2).collect();
            words.join(" ").trim_end_matches(':').to_string()
        };
        write_listed(f, self.0.iter().map(|text| (kind(text), text)), self.1)
    }
}

/// `contract R6` or `property echoed`: what [`write_listed`] counts a failure under.
pub(crate) fn kind(failure: &Failure) -> String {
    match failure {
        Failure::Contract(v) => contract_kind(v.rule),
        Failure::Property { name, .. } => format!("property {name}"),
    }
}

/// `contract R6`: what [`write_listed`] counts a violation of `rule` under.
pub(crate) fn contract_kind(rule: Rule) -> String {
    format!("contract {rule}")
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Listed(Vec<(&'static str, String)>);

    impl fmt::Display for Listed {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            write!(f, "head")?;
            let items = self.0.iter().map(|(kind, item)| (kind.to_string(), item));
            write_listed(f, items, "`--json` lists every one")
        }
    }

    #[test]
    fn each_kind_lists_ten_then_says_how_many_more() {
        let mut items: Vec<(&str, String)> = (0..25)
            .map(|i| ("property echoed", format!("property echoed: c{i}")))
            .collect();
        items.insert(3, ("property closed", "property closed: 3 of 4".into()));
        items.extend((0..10).map(|i| ("contract R6", format!("R6 broken by c{i}"))));
        let text = Listed(items).to_string();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 1 + 10 + 1 + 10 + 1, "{text}");
        assert_eq!(
            lines[1..5],
            [
                "property echoed: c0",
                "property echoed: c1",
                "property echoed: c2",
                "property closed: 3 of 4"
            ]
        );
        assert_eq!(lines[11], "property echoed: c9");
        assert_eq!(lines[12], "R6 broken by c0");
        assert_eq!(
            lines[22],
            "property echoed: 15 more like the 10 above, not shown (`--json` lists every one)"
        );
    }

    #[test]
    fn failures_in_words_are_counted_under_their_rule_or_property() {
        let echoed = Failure::Property {
            name: "echoed".into(),
            message: "c1 sent 200 bytes but 20 came back".into(),
        };
        assert_eq!(kind(&echoed), "property echoed");
        let mut texts: Vec<String> = (0..12).map(|_| echoed.to_string()).collect();
        texts.extend((0..12).map(|i| format!("contract R6 broken by c{i}: bytes differ")));
        let text = FailureTexts(&texts, "every one is above").to_string();
        assert!(text.starts_with('\n'), "{text}");
        let lines: Vec<&str> = text.trim_start_matches('\n').lines().collect();
        assert_eq!(lines.len(), 22, "{text}");
        assert_eq!(
            lines[20..],
            [
                "contract R6: 2 more like the 10 above, not shown (every one is above)",
                "property echoed: 2 more like the 10 above, not shown (every one is above)"
            ]
        );
    }
}
