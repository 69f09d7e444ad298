//! Failures as text, a line each, but at most [`LISTED_PER_KIND`] of each kind: a run in which
//! thousands of connections fail one property stays readable. The JSON verdict and
//! [`Verdict::failures`](super::Verdict::failures) keep every one.

use std::collections::BTreeMap;
use std::fmt;

/// How many failures of one kind (a rule, a property) the text lists.
pub(crate) const LISTED_PER_KIND: usize = 10;

/// Writes each of `items` (its kind, as `contract R6` or `property echoed`, and the item) on
/// a line of its own, at most [`LISTED_PER_KIND`] of a kind, then a line per kind saying how
/// many were left out.
pub(crate) fn write_listed<T: fmt::Display>(
    f: &mut fmt::Formatter<'_>,
    items: impl IntoIterator<Item = (String, T)>,
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
                "\n{kind}: {} more like the {LISTED_PER_KIND} above, not shown (`--json` lists \
                 every one)",
                count - LISTED_PER_KIND
            )?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Listed(Vec<(&'static str, String)>);

    impl fmt::Display for Listed {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            write!(f, "head")?;
            write_listed(
                f,
                self.0.iter().map(|(kind, item)| (kind.to_string(), item)),
            )
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
}
