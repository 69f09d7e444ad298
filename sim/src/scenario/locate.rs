//! Where in a scenario or plan file an error is: the error a loader returns
//! ([`ScenarioError`]: file, line, field, message), a field's line, and a byte offset's field,
//! read from the document's spans only when an error needs them.
//!
//! A file is parsed once, by `toml_edit` ([`Locator::parse`]), and deserialised from that
//! document ([`Locator::deserialize`]): what loads is exactly what `shrink` can edit and
//! write back, and what an error's line is found in.

use super::field::{self, Step};
use crate::fault::FaultPlan;
use crate::seed::Seed;
use crate::validate::{cut, cut_at, InvalidField, MAX_FILE_BYTES};
use serde::de::DeserializeOwned;
use std::fmt;
use std::ops::Range;
use std::path::{Path, PathBuf};
use toml_edit::visit_mut::VisitMut;
use toml_parser::parser::{EventReceiver, RecursionGuard};
use toml_parser::{ErrorSink, Span};

/// The longest message an error of the file keeps: a few lines' worth, whatever it quotes.
const MAX_MESSAGE_CHARS: usize = 400;

/// Bytes that finding an overflowed number's field may parse in all, when the text up to it
/// does not do (then the whole file is parsed, once per later overflowed number): sixteen
/// parses of a file of [`MAX_FILE_BYTES`], thousands of a file of a few kilobytes. A parse's
/// time grows with what the text holds (a file of millions of array elements takes seconds),
/// not only its bytes.
const MAX_OVERFLOW_PARSE_BYTES: usize = 16 * MAX_FILE_BYTES as usize;

/// A scenario or plan file that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScenarioError {
    /// The file.
    pub file: PathBuf,
    /// The line (from 1), when the error is at one place.
    pub line: Option<usize>,
    /// The field (`clients[1].target`, `clients[1].params."by.tes"`: each key as TOML writes
    /// it), or empty.
    pub field: String,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for ScenarioError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file.display())?;
        if let Some(line) = self.line {
            write!(f, ":{line}")?;
        }
        if !self.field.is_empty() {
            write!(f, ": {}", self.field)?;
        }
        write!(f, ": {}", self.message)
    }
}

impl std::error::Error for ScenarioError {}

/// A file's parsed document, which turns fields into lines, and byte offsets into fields, for
/// errors. The document's spans are read only when an error needs them.
pub(super) struct Locator<'a> {
    pub(super) text: &'a str,
    pub(super) path: &'a Path,
    /// The document: empty while the error of a text that does not parse is made.
    doc: toml_edit::Document<&'a str>,
}

impl<'a> Locator<'a> {
    /// Parses `text` (named `path` in errors): the only time loading parses a file. Text
    /// that is not TOML is refused at its line; so is a bare integer beyond TOML's 64 bits,
    /// with a hint.
    pub(super) fn parse(text: &'a str, path: &'a Path) -> Result<Self, ScenarioError> {
        match toml_edit::Document::parse(text) {
            Ok(doc) => Ok(Locator { text, path, doc }),
            Err(e) => {
                // No document: the error's field is found from its line's text alone.
                let doc = toml_edit::Document::new();
                Err(Locator { text, path, doc }.parse_error(&e))
            }
        }
    }

    /// The document (or the error at its line and field) as a `T`.
    ///
    /// Each table's keys are read in sorted order, not the file's, so that of several wrong
    /// fields in a table the one reported is the same as it always was (the first by name).
    pub(super) fn deserialize<T: DeserializeOwned>(&self) -> Result<T, ScenarioError> {
        // Deserialising takes the document; the locator keeps its own (with the file's order)
        // for later errors. The copy keeps the spans that locate an error.
        let mut doc = toml_edit::DocumentMut::from(self.doc.as_table().clone());
        SortKeys.visit_document_mut(&mut doc);
        T::deserialize(toml_edit::de::Deserializer::from(doc)).map_err(|e| self.toml_error(&e))
    }

    /// Whether the document has a top-level `key`.
    pub(super) fn has_key(&self, key: &str) -> bool {
        self.doc.contains_key(key)
    }

    /// The error at byte `offset`. A field's keys may be the input's (`expect.delivered.<name>`),
    /// so each is cut as [`field::shortened`] cuts it, keeping its index (`[2045]`); and the
    /// message, which may quote the input in ways [`cut_quotes`] cannot pair (a key holding a
    /// backquote), is cut at [`MAX_MESSAGE_CHARS`] as a last bound.
    fn error(&self, offset: Option<usize>, field: &str, message: &str) -> ScenarioError {
        let message = match cut_at(message, MAX_MESSAGE_CHARS) {
            None => message.to_string(),
            Some((start, chars)) => format!("{start}… ({chars} characters)"),
        };
        ScenarioError {
            file: self.path.to_path_buf(),
            line: offset.map(|o| self.text[..o.min(self.text.len())].matches('\n').count() + 1),
            field: field::shortened(field).into_owned(),
            message,
        }
    }

    /// A validation error, at the line of its field (or of the nearest enclosing field that
    /// is written in the file).
    pub(super) fn invalid(&self, e: &InvalidField) -> ScenarioError {
        let offset = self.nearest_place(&e.field).map_or(0, |span| span.start);
        self.error(Some(offset), &e.field, &e.message)
    }

    /// A TOML error, at its line and field.
    fn toml_error(&self, e: &toml_edit::de::Error) -> ScenarioError {
        let offset = e.span().map(|s| s.start);
        let field = offset.map(|o| self.field_at(o)).unwrap_or_default();
        // Refused across a flatten (a planned fault's kind), an unknown field is reported at
        // its table: found there, it is shown at its own line.
        let unknown = (e.message().strip_prefix("unknown field `"))
            .and_then(|rest| rest.split('`').next())
            .map(|key| field::join(&field, key));
        let message = cut_quotes(e.message().trim());
        if let Some((place, unknown)) = unknown.and_then(|f| Some((self.place(&f)?, f))) {
            return self.error(Some(place.start), &unknown, &message);
        }
        self.error(offset.or(Some(0)), &field, &message)
    }

    /// Text that does not parse, at its line and the key written there. An integer beyond
    /// TOML's (a signed 64-bit number) is named by its whole field (`clients[0].params.bytes`)
    /// and gets a hint, which for a seed says how to write one above `i64::MAX`.
    fn parse_error(&self, e: &toml_edit::TomlError) -> ScenarioError {
        let error = self.toml_error(&e.clone().into());
        if error.message != "integer number overflowed" {
            return error;
        }
        let span = e.span().unwrap_or(0..0);
        let field = self.overflowed_field(span.clone());
        let negative = (self.text.get(span.clone()))
            .is_some_and(|number| number.trim_start().starts_with('-'));
        let seed = matches!(field.as_deref(), Some("seed" | "plan.seed"));
        let hint = match (negative, seed) {
            (true, _) => format!(" (TOML integers go down to {})", i64::MIN),
            (false, true) => format!(
                " (TOML integers go up to {}; a larger seed is written as a string, \
                 \"18446744073709551615\")",
                i64::MAX
            ),
            (false, false) => format!(" (TOML integers go up to {})", i64::MAX),
        };
        let field = field.unwrap_or(error.field);
        self.error(
            Some(span.start),
            &field,
            &format!("{}{hint}", error.message),
        )
    }

    /// The field of the integer at `span` that TOML cannot hold. The parser refuses the
    /// file there, before serde could name the field, and gives no document to find it in;
    /// so the file is parsed again with that number written as a string of the same length
    /// (every byte offset stays). Only the text up to the number's end is parsed, with what
    /// is open there (arrays or inline tables, however deep: [`unclosed`]) closed: what
    /// comes after does not change the field, and would stop the parse at the next
    /// overflowed number (on the number's own line too: a line of thousands took a parse
    /// each, and a seed written in one lost its hint) or at a string it leaves open.
    /// Failing that, the whole file, each later overflowed number it meets written as a
    /// string too and parsed again, within [`MAX_OVERFLOW_PARSE_BYTES`]. `None` if nothing
    /// parses within it.
    fn overflowed_field(&self, span: Range<usize>) -> Option<String> {
        let at = span.start;
        let mut text = self.text.to_string();
        let number_end = span.end;
        as_string(&mut text, span)?;
        let closers = unclosed(&text[..number_end]);
        let mut budget = MAX_OVERFLOW_PARSE_BYTES;
        let mut whole = false;
        loop {
            let parsed = match whole {
                false => format!("{}\n{closers}", &text[..number_end]),
                true => text.clone(),
            };
            budget = budget.checked_sub(parsed.len())?;
            let e = match toml_edit::Document::parse(parsed.as_str()) {
                Ok(doc) => return Some(self.field_in(&parsed, doc, at)),
                Err(e) => e,
            };
            if e.message().trim() == "integer number overflowed" {
                as_string(&mut text, e.span()?)?;
            } else if !whole {
                whole = true;
            } else {
                return None;
            }
        }
    }

    /// The field at byte `offset` of `doc`, parsed from `text`, a patched copy of the file.
    fn field_in(&self, text: &str, doc: toml_edit::Document<&str>, offset: usize) -> String {
        let patched = Locator {
            text,
            path: self.path,
            doc,
        };
        patched.field_at(offset)
    }

    /// The seed a plan file or a scenario's `[plan]` names: the plan's own `seed` (if it is
    /// written) and `root` (the file's top-level seed) must agree.
    pub(super) fn plan_seed(
        &self,
        plan: &FaultPlan,
        prefix: &str,
        root: Option<Seed>,
    ) -> Result<Option<Seed>, ScenarioError> {
        let field = if prefix.is_empty() {
            "seed".to_string()
        } else {
            format!("{prefix}.seed")
        };
        let written = self.place(&field).is_some();
        match (written.then_some(plan.seed), root) {
            (Some(own), Some(root)) if own != root => {
                let message = format!(
                    "{own} differs from the file's seed {root}: give one seed, or the same in both"
                );
                Err(self.invalid(&InvalidField::new(field, message)))
            }
            (own, root) => Ok(root.or(own)),
        }
    }

    /// The field at byte `offset`: the smallest written value that holds it, or else the
    /// table whose header comes last before it. Only the path to it is named: a file of
    /// millions of array elements costs a search of each array, not a name for each element.
    fn field_at(&self, offset: usize) -> String {
        let root = Node::Table(self.doc.as_table());
        let mut path = Vec::new();
        if root.holding(offset, &mut path) {
            return field::path(&path);
        }
        let mut table = None;
        root.last_header(offset, &mut path, &mut table);
        match table {
            Some((span, path)) if span.contains(&offset) || !self.has_key_at(offset) => {
                field::path(&path)
            }
            Some((_, path)) => format!("{}.{}", field::path(&path), self.key_at(offset)),
            None => self.key_at(offset),
        }
    }

    /// Where `field` is written, if it is: its path walked from the document's top.
    fn place(&self, field: &str) -> Option<Range<usize>> {
        let (nodes, whole) = self.walk(field)?;
        let (node, key_span) = nodes.last().filter(|_| whole)?;
        node.place(key_span.clone())
    }

    /// Where `field`, or else the nearest field enclosing it that is written, is written.
    fn nearest_place(&self, field: &str) -> Option<Range<usize>> {
        let (nodes, _) = self.walk(field)?;
        (nodes.into_iter().rev()).find_map(|(node, key_span)| node.place(key_span))
    }

    /// The nodes along `field`'s path from the document's top (each with its key's span), as
    /// far as the document holds them, and whether it holds the whole path; `None` if `field`
    /// is not a path.
    fn walk(&self, field: &str) -> Option<(Vec<Reached<'_>>, bool)> {
        let steps = field::steps(field)?;
        let mut nodes = Vec::with_capacity(steps.len());
        let mut node = Node::Table(self.doc.as_table());
        for step in &steps {
            let Some((child, key_span)) = node.child(step) else {
                return Some((nodes, false));
            };
            nodes.push((child, key_span));
            node = child;
        }
        Some((nodes, true))
    }

    fn line_at(&self, offset: usize) -> &str {
        let offset = offset.min(self.text.len());
        let start = self.text[..offset].rfind('\n').map_or(0, |i| i + 1);
        self.text[start..].lines().next().unwrap_or("")
    }

    fn has_key_at(&self, offset: usize) -> bool {
        !self.key_at(offset).is_empty()
    }

    /// The key written on the line of `offset`, for text the TOML parser could not read: as
    /// a path ([`field::path`]) if it is a key TOML reads, else as written.
    fn key_at(&self, offset: usize) -> String {
        let line = self.line_at(offset);
        let written = (line.split_once('='))
            .map(|(k, _)| k.trim())
            .filter(|k| !k.starts_with('[') && !k.starts_with('#'))
            .unwrap_or("");
        match toml_edit::Key::parse(written) {
            Ok(keys) if !keys.is_empty() => {
                let steps: Vec<Step<'_>> = keys.iter().map(|k| Step::Key(k.get().into())).collect();
                field::path(&steps)
            }
            _ => written.to_string(),
        }
    }
}

/// The brackets that close the arrays (`]`) and inline tables (`}`) left open where `text`
/// ends, innermost first, a line each: those TOML's own parser (`toml_parser`, which
/// `toml_edit` parses with) closes for itself at the text's end, with an empty span. Read in
/// one pass, however deep; past the nesting `toml_edit` parses (80 levels), none are
/// given, as `toml_edit` refuses that text anyway.
fn unclosed(text: &str) -> String {
    /// What the parser closes at the text's end.
    struct Unclosed(String);

    impl EventReceiver for Unclosed {
        fn inline_table_close(&mut self, span: Span, _: &mut dyn ErrorSink) {
            if span.is_empty() {
                self.0.push_str("}\n");
            }
        }

        fn array_close(&mut self, span: Span, _: &mut dyn ErrorSink) {
            if span.is_empty() {
                self.0.push_str("]\n");
            }
        }
    }

    let tokens = toml_parser::Source::new(text).lex().into_vec();
    let mut unclosed = Unclosed(String::new());
    let mut guarded = RecursionGuard::new(&mut unclosed, MAX_NESTING);
    toml_parser::parser::parse_document(&tokens, &mut guarded, &mut ());
    unclosed.0
}

/// The deepest arrays and inline tables nest that `toml_edit` parses (its own limit): the
/// parser recurses for each.
const MAX_NESTING: u32 = 80;

/// Writes the number at `span` of `text` as a string of the same length, which TOML holds
/// whatever the number; `None` if `span` is not in `text` or is too short to quote.
fn as_string(text: &mut String, span: Range<usize>) -> Option<()> {
    let number = text.get(span.clone())?;
    let string = format!("\"{}\"", "0".repeat(number.len().checked_sub(2)?));
    text.replace_range(span, &string);
    Some(())
}

/// A TOML or serde message with each text it quotes from the input (`"..."`, or a key in
/// backquotes) cut as [`quoted`](crate::validate::quoted) cuts it: serde echoes a wrong
/// string or an unknown key whole, however long.
fn cut_quotes(message: &str) -> String {
    let mut out = String::new();
    let mut rest = message;
    while let Some(open) = rest.find(['"', '`']) {
        let quote = if rest[open..].starts_with('"') {
            '"'
        } else {
            '`'
        };
        out.push_str(&rest[..=open]);
        rest = &rest[open + 1..];
        // A string is quoted as Rust's `Debug` writes it: `\"` does not close it.
        let mut escaped = false;
        let close = rest.char_indices().find(|&(_, c)| {
            let closes = c == quote && !escaped;
            escaped = quote == '"' && c == '\\' && !escaped;
            closes
        });
        let Some((close, _)) = close else { break };
        match cut(&rest[..close]) {
            None => out.push_str(&rest[..=close]),
            Some((start, chars)) => out.push_str(&format!("{start}{quote}… ({chars} characters)")),
        }
        rest = &rest[close + 1..];
    }
    out.push_str(rest);
    out
}

/// Sorts the keys of every table and inline table of a document (arrays keep their order).
struct SortKeys;

impl VisitMut for SortKeys {
    fn visit_table_mut(&mut self, table: &mut toml_edit::Table) {
        table.sort_values();
        toml_edit::visit_mut::visit_table_mut(self, table);
    }

    fn visit_inline_table_mut(&mut self, table: &mut toml_edit::InlineTable) {
        table.sort_values();
        toml_edit::visit_mut::visit_inline_table_mut(self, table);
    }
}

/// A node a path reached, with the span of the key it was reached by (none for an index).
type Reached<'d> = (Node<'d>, Option<Range<usize>>);

/// A written thing of the document a field's path can reach.
#[derive(Clone, Copy)]
enum Node<'d> {
    /// A table: the document's top, one with a header, one made by dotted keys, or an
    /// element of an array of tables.
    Table(&'d toml_edit::Table),
    /// An array of tables (`[[clients]]`): its elements have places, it has none.
    Tables(&'d toml_edit::ArrayOfTables),
    /// A value: an inline table, an array, or a scalar.
    Value(&'d toml_edit::Value),
}

impl<'d> Node<'d> {
    fn of(item: &'d toml_edit::Item) -> Option<Self> {
        match item {
            toml_edit::Item::None => None,
            toml_edit::Item::Value(value) => Some(Node::Value(value)),
            toml_edit::Item::Table(table) => Some(Node::Table(table)),
            toml_edit::Item::ArrayOfTables(tables) => Some(Node::Tables(tables)),
        }
    }

    /// The node `step` reaches from this one, with its key's span.
    fn child(self, step: &Step<'_>) -> Option<Reached<'d>> {
        match (self, step) {
            (Node::Table(table), Step::Key(key)) => {
                let (key, item) = table.get_key_value(key)?;
                Some((Node::of(item)?, key.span()))
            }
            (Node::Value(toml_edit::Value::InlineTable(table)), Step::Key(key)) => {
                let (key, value) = table.get_key_value(key)?;
                Some((Node::Value(value.as_value()?), key.span()))
            }
            (Node::Tables(tables), Step::Index(i)) => Some((Node::Table(tables.get(*i)?), None)),
            (Node::Value(toml_edit::Value::Array(array)), Step::Index(i)) => {
                Some((Node::Value(array.get(*i)?), None))
            }
            _ => None,
        }
    }

    /// The bytes this node covers where it is written, if it is: a value from its key
    /// (`key_span`) to its end; a table, its header (the table runs on to the next header).
    fn place(self, key_span: Option<Range<usize>>) -> Option<Range<usize>> {
        match self {
            Node::Value(value) => {
                let span = value.span()?;
                Some(key_span.map_or(span.start, |k| k.start.min(span.start))..span.end)
            }
            Node::Table(table) => table.span(),
            Node::Tables(_) => None,
        }
    }

    /// Whether a value inside this node holds byte `offset`; if one does, `path` (this
    /// node's) goes on to the smallest that does. Values do not overlap unless one holds the
    /// other, and an array's elements are in the text's order: of an array, only the last
    /// element starting at or before `offset` is searched. (The parser nests at most 80
    /// deep, and so does this recursion.)
    fn holding(self, offset: usize, path: &mut Vec<Step<'d>>) -> bool {
        let mut inside = |key: Step<'d>, child: Node<'d>, key_span: Option<Range<usize>>| {
            let holds = match child {
                Node::Value(_) => (child.place(key_span)).is_some_and(|p| p.contains(&offset)),
                // A table's values may be anywhere after its header.
                Node::Table(_) | Node::Tables(_) => true,
            };
            path.push(key);
            if holds && (child.holding(offset, path) || matches!(child, Node::Value(_))) {
                return true;
            }
            path.pop();
            false
        };
        match self {
            Node::Table(table) => table.iter().any(|(key, item)| {
                let key_span = table.key(key).and_then(|k| k.span());
                Node::of(item).is_some_and(|child| inside(Step::Key(key.into()), child, key_span))
            }),
            Node::Value(toml_edit::Value::InlineTable(table)) => {
                table.iter().any(|(key, value)| {
                    let key_span = table.key(key).and_then(|k| k.span());
                    inside(Step::Key(key.into()), Node::Value(value), key_span)
                })
            }
            Node::Value(toml_edit::Value::Array(array)) => {
                let start = |i: usize| array.get(i).and_then(|v| v.span()).map(|s| s.start);
                let last = last_starting_by(array.len(), offset, start);
                last.is_some_and(|i| {
                    (array.get(i)).is_some_and(|v| inside(Step::Index(i), Node::Value(v), None))
                })
            }
            Node::Tables(tables) => {
                let start = |i: usize| tables.get(i).and_then(|t| t.span()).map(|s| s.start);
                let last = last_starting_by(tables.len(), offset, start);
                last.is_some_and(|i| {
                    (tables.get(i)).is_some_and(|t| inside(Step::Index(i), Node::Table(t), None))
                })
            }
            Node::Value(_) => false,
        }
    }

    /// The header of the table inside this node (at `path`) that comes last at or before
    /// byte `offset`, with its path, into `last`. An element of an array of tables and the
    /// tables inside it come before the next element's header: of an array of tables, only
    /// the last element starting at or before `offset` is searched.
    fn last_header(
        self,
        offset: usize,
        path: &mut Vec<Step<'d>>,
        last: &mut Option<(Range<usize>, Vec<Step<'d>>)>,
    ) {
        let mut consider = |table: &'d toml_edit::Table, path: &mut Vec<Step<'d>>| {
            let span = table.span().filter(|s| s.start <= offset);
            if let Some(span) =
                span.filter(|s| last.as_ref().is_none_or(|(l, _)| l.start < s.start))
            {
                *last = Some((span, path.clone()));
            }
            Node::Table(table).last_header(offset, path, last);
        };
        let Node::Table(table) = self else { return };
        for (key, item) in table.iter() {
            path.push(Step::Key(key.into()));
            match item {
                toml_edit::Item::Table(table) => consider(table, path),
                toml_edit::Item::ArrayOfTables(tables) => {
                    let start = |i: usize| tables.get(i).and_then(|t| t.span()).map(|s| s.start);
                    let last = last_starting_by(tables.len(), offset, start);
                    if let Some((i, table)) = last.and_then(|i| Some((i, tables.get(i)?))) {
                        path.push(Step::Index(i));
                        consider(table, path);
                        path.pop();
                    }
                }
                toml_edit::Item::Value(_) | toml_edit::Item::None => {}
            }
            path.pop();
        }
    }
}

/// Of `len` elements in the text's order, the last whose start (`start(i)`) is at or before
/// `offset`: a binary search.
fn last_starting_by(
    len: usize,
    offset: usize,
    start: impl Fn(usize) -> Option<usize>,
) -> Option<usize> {
    let (mut low, mut high) = (0, len);
    while low < high {
        let mid = low + (high - low) / 2;
        if start(mid).is_some_and(|s| s <= offset) {
            low = mid + 1;
        } else {
            high = mid;
        }
    }
    low.checked_sub(1)
}

#[cfg(test)]
mod tests {
    use super::cut_quotes;

    #[test]
    fn a_message_quoting_long_input_is_cut_and_short_quotes_are_kept() {
        let long = "p".repeat(100_000);
        let message = format!("invalid type: string \"{long}\", expected u16");
        let start = "p".repeat(64);
        assert_eq!(
            cut_quotes(&message),
            format!("invalid type: string \"{start}\"… (100000 characters), expected u16")
        );
        let message = format!("unknown field `{long}`, expected one of `name`, `host`");
        assert_eq!(
            cut_quotes(&message),
            format!("unknown field `{start}`… (100000 characters), expected one of `name`, `host`")
        );
        let escaped = "string \"a\\\"b\", expected u16";
        assert_eq!(cut_quotes(escaped), escaped);
    }
}
