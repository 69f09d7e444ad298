//! Input validation: the typed error every validator returns, and the limits on every size,
//! count and duration a scenario file, a plan or a command-line flag may ask for.
//!
//! The limits keep any input from aborting the process on a huge allocation, from
//! overflowing time arithmetic, or from running for ever; each is far above what a useful
//! scenario needs. A value over its limit is refused before anything runs, with the field,
//! the value and the limit in the message.
//!
//! ```
//! use tcpnotify_sim::scenario::Scenario;
//! use tcpnotify_sim::validate::{InvalidField, MAX_DURATION_MS};
//! let scenario = Scenario::echo("echo", 16, 16);
//! assert!(scenario.clone().duration_ms(MAX_DURATION_MS).validate().is_ok());
//! let err: InvalidField = scenario.duration_ms(u64::MAX).validate().unwrap_err();
//! assert_eq!(err.field, "duration_ms");
//! assert!(err.to_string().starts_with("duration_ms: 18446744073709551615 is above the limit of"));
//! ```

use std::fmt;

/// Largest scenario or plan file read, in bytes.
pub const MAX_FILE_BYTES: u64 = 4 * 1024 * 1024;

/// Longest simulated time anything may take, in milliseconds (ten minutes): a run's
/// `duration_ms`, a client's `start_ms`, a fault's `at_ms`, a partition, a slow close, a crash's
/// down time, a connect timeout, a latency, a fault window, a notifier's delay. The simulator
/// steps every millisecond: a run that idles to this limit takes about 50 seconds of a debug
/// build.
pub const MAX_DURATION_MS: u64 = 10 * 60 * 1000;

/// Largest buffer or chunk size, in bytes (64 MiB): `read_buffer_size`, `yield_after_reading`,
/// `yield_after_writing`, a plan's `send_buffer`, `partial_writes` sizes, `read_chunks.max`,
/// and the byte ranges of `[faults]`.
pub const MAX_BUFFER_BYTES: u64 = 64 * 1024 * 1024;

/// Most bytes one built-in notifier sends (64 MiB; a sender's or bulk writer's `bytes`).
pub const MAX_PAYLOAD_BYTES: u64 = 64 * 1024 * 1024;

/// Most bytes all the clients of one scenario send together (256 MiB): each byte in flight
/// is held by the sender, the stream and the integrity check.
pub const MAX_TOTAL_PAYLOAD_BYTES: u64 = 256 * 1024 * 1024;

/// Largest count a scenario may ask for (a million): requests, a trigger's `nth`, a
/// notifier's `every`, `after`, `at` or `hook`, `reset_after_received`, a listener's `limit`.
pub const MAX_COUNT: u64 = 1_000_000;

/// Most hosts in one scenario: turmoil links every pair of hosts and steps every host on
/// every tick, so time and memory grow with the square of this.
pub const MAX_HOSTS: usize = 2_048;

/// Most client connections in one scenario.
pub const MAX_CLIENTS: usize = 10_000;

/// Ephemeral ports of one simulated host (turmoil's 49152 to 65535): the most connect
/// attempts the clients of one host may make in a run, as each attempt takes a port for the
/// rest of it (one per address a client's target resolves to).
pub const EPHEMERAL_PORTS: usize = 65535 - 49152 + 1;

/// Most listeners in one scenario.
pub const MAX_LISTENERS: usize = 1_000;

/// Most faults in one plan.
pub const MAX_FAULTS: usize = 10_000;

/// Longest name of a host, a name, a listener or a client.
pub const MAX_NAME_LEN: usize = 64;

/// Longest name of a scenario, in characters: free text, unlike the names above, but it heads
/// every report and names the folders of its failures (cut to fit there).
pub const MAX_SCENARIO_NAME_LEN: usize = 1024;

/// Most events one run's trace holds (a million, some hundreds of MB): a run that reaches it
/// ends with an error. Many bytes in small writes or reads (a bulk writer's `chunk = 1`,
/// `read_chunks = { max = 1 }`) make an event per byte; the plan's cuts stop at
/// [`UNCUT_AFTER_TRACE_EVENTS`], a notifier's own small writes do not.
pub const MAX_TRACE_EVENTS: usize = 1_000_000;

/// Events (not logs) a run's trace holds when the run stops cutting writes and reads finer
/// (the partial writes and re-chunked reads of its plan), half of [`MAX_TRACE_EVENTS`]: cut
/// to a few bytes, a correct transfer of some megabytes would reach the limit, and fail for
/// the trace's size alone. What those policies find, they find in the first half of that.
pub const UNCUT_AFTER_TRACE_EVENTS: usize = MAX_TRACE_EVENTS / 2;

/// Most logged `tracing` events one run's trace holds (a million), apart from
/// [`MAX_TRACE_EVENTS`]: later ones are left out, and the run goes on.
pub const MAX_LOG_EVENTS: usize = 1_000_000;

/// Most worker threads of a sweep (`--jobs`, `TCPNOTIFY_JOBS`): each has a 16 MiB stack.
pub const MAX_JOBS: usize = 256;

/// Longest wall-clock time a flag may give (`--budget`, `--seed-timeout` and their variables):
/// a year, far past any sweep, and far below what would overflow the clock.
pub const MAX_WALL_TIME: std::time::Duration = std::time::Duration::from_secs(365 * 24 * 3600);

/// A value that cannot be used: which field, and what is wrong with it.
///
/// Validators return it; the scenario-file loader adds the file and the line.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct InvalidField {
    /// The field, dotted from the top of its document (`faults[2].after.nth`), each key as
    /// TOML writes it (`params."by.tes"`), or empty when the error is about the whole
    /// document.
    pub field: String,
    /// What is wrong, in words.
    pub message: String,
}

impl fmt::Display for InvalidField {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.field.is_empty() {
            write!(f, "{}", self.message)
        } else {
            write!(f, "{}: {}", self.field, self.message)
        }
    }
}

impl InvalidField {
    /// An error about `field`.
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        InvalidField {
            field: field.into(),
            message: message.into(),
        }
    }

    /// The same error, with its field seen from an enclosing table `prefix` (`plan` turns
    /// `faults[0].b` into `plan.faults[0].b`).
    pub fn within(mut self, prefix: &str) -> Self {
        self.field = match (prefix.is_empty(), self.field.is_empty()) {
            (true, _) => self.field,
            (false, true) => prefix.to_string(),
            (false, false) => format!("{prefix}.{}", self.field),
        };
        self
    }
}

/// Checks that `value` is at most `limit`.
pub(crate) fn at_most(field: &str, value: u64, limit: u64) -> Result<(), InvalidField> {
    if value > limit {
        return Err(InvalidField::new(
            field,
            format!("{value} is above the limit of {limit}"),
        ));
    }
    Ok(())
}

/// Checks that `value` is at least 1 and at most `limit`.
pub(crate) fn positive_at_most(field: &str, value: u64, limit: u64) -> Result<(), InvalidField> {
    if value == 0 {
        return Err(InvalidField::new(field, "must be at least 1"));
    }
    at_most(field, value, limit)
}

/// Checks that a range's `min` is not above its `max`: the one rule for every range a
/// scenario gives (`[faults]` ranges, a plan's latency, a latency fault).
pub(crate) fn ordered(field: &str, min: u64, max: u64) -> Result<(), InvalidField> {
    if min > max {
        return Err(InvalidField::new(
            field,
            format!("the range {min}..{max} has its minimum above its maximum"),
        ));
    }
    Ok(())
}

/// Checks that the list `field` (`clients`) of `count` items has at most `limit`. The error
/// is at the first item past the limit (`clients[10000]`), where a file has it, not at the
/// file's first line.
pub(crate) fn count_at_most(field: &str, count: usize, limit: usize) -> Result<(), InvalidField> {
    if count > limit {
        return Err(InvalidField::new(
            format!("{field}[{limit}]"),
            format!(
                "{count} {field} are more than the limit of {limit}: this is the first past it"
            ),
        ));
    }
    Ok(())
}

/// Checks a scenario's name: at most [`MAX_SCENARIO_NAME_LEN`] characters. The error gives
/// its length, not the name, which may be megabytes.
pub(crate) fn scenario_name(field: &str, value: &str) -> Result<(), InvalidField> {
    // A byte is at most a character: the characters are counted only past the limit in bytes.
    if value.len() > MAX_SCENARIO_NAME_LEN {
        let chars = value.chars().count();
        if chars > MAX_SCENARIO_NAME_LEN {
            return Err(InvalidField::new(
                field,
                format!("{chars} characters are more than the limit of {MAX_SCENARIO_NAME_LEN}"),
            ));
        }
    }
    Ok(())
}

/// How many names an error lists before it counts the rest: a scenario may have 10,000
/// clients, and an error must stay a line a person reads.
pub(crate) const LISTED_NAMES: usize = 8;

/// Known names as an error lists them: `a, b, c`; past [`LISTED_NAMES`], the first ones
/// and `… and N more`; or `none`.
pub(crate) fn listed<S: AsRef<str>>(names: impl IntoIterator<Item = S>) -> String {
    let mut names = names.into_iter();
    let first: Vec<String> = (names.by_ref().take(LISTED_NAMES))
        .map(|n| shortened(n.as_ref()).into_owned())
        .collect();
    let more = names.count();
    match (first.is_empty(), more) {
        (true, _) => "none".to_string(),
        (false, 0) => first.join(", "),
        (false, more) => format!("{}, … and {more} more", first.join(", ")),
    }
}

/// A name or value from the input as an error quotes it (`"c9"`): past [`MAX_NAME_LEN`]
/// characters, its start, `…` and its length, so that a 100,000-character name does not
/// make a 100,000-character error.
pub(crate) fn quoted(value: &str) -> String {
    match cut(value) {
        None => format!("{value:?}"),
        Some((start, chars)) => format!("{start:?}… ({chars} characters)"),
    }
}

/// `text` cut after [`MAX_NAME_LEN`] characters, with `…`: for a name from the input that an
/// error shows unquoted (in a list, or a field's path).
pub(crate) fn shortened(text: &str) -> std::borrow::Cow<'_, str> {
    match cut(text) {
        None => text.into(),
        Some((start, _)) => format!("{start}…").into(),
    }
}

/// The first [`MAX_NAME_LEN`] characters of `text` and its length in characters, if it is
/// longer: the one rule for how much of the input an error shows.
pub(crate) fn cut(text: &str) -> Option<(&str, usize)> {
    cut_at(text, MAX_NAME_LEN)
}

/// The first `most` characters of `text` and its length in characters, if it is longer.
pub(crate) fn cut_at(text: &str, most: usize) -> Option<(&str, usize)> {
    let (at, _) = text.char_indices().nth(most)?;
    Some((&text[..at], text.chars().count()))
}

/// What a name is of, for [`name`]'s rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum NameKind {
    /// A host, or a name that resolves to hosts: letters, digits, `-`, `_` and `.`, and not
    /// an IP address (turmoil would take it as one).
    Host,
    /// A listener or a client: letters, digits, `-` and `_` only, because the simulator
    /// names accepted connections `listener.1` and restarted listeners `listener#2`.
    Connection,
}

/// Checks a name: 1 to [`MAX_NAME_LEN`] characters, starting with a letter or digit, of the
/// characters its kind allows.
pub(crate) fn name(field: &str, value: &str, kind: NameKind) -> Result<(), InvalidField> {
    let allowed = |c: char| {
        c.is_ascii_alphanumeric() || c == '-' || c == '_' || (kind == NameKind::Host && c == '.')
    };
    let what = match kind {
        NameKind::Host => "letters, digits, '-', '_' and '.'",
        NameKind::Connection => {
            "letters, digits, '-' and '_' ('.', '#' and '~' are kept for the names of \
             accepted and dialled connections and restarted listeners, like server.1, c1~1 \
             and server#2)"
        }
    };
    let bad = |why: String| {
        Err(InvalidField::new(
            field,
            format!("{}: {why}", quoted(value)),
        ))
    };
    if value.is_empty() {
        return bad("a name cannot be empty".into());
    }
    if value.len() > MAX_NAME_LEN {
        return bad(format!("longer than {MAX_NAME_LEN} characters"));
    }
    // Every allowed character is ASCII: the bytes are looked at, and the character at the
    // first byte refused is named.
    if let Some(at) = value.bytes().position(|b| !allowed(char::from(b))) {
        let c = value[at..].chars().next().unwrap_or_default();
        return bad(format!("{c:?} is not allowed: use {what}"));
    }
    if !value.starts_with(|c: char| c.is_ascii_alphanumeric()) {
        return bad("must start with a letter or a digit".into());
    }
    // Only digits and dots can make an address here (the characters allowed leave out the
    // colons of IPv6): parsing every host name as one cost some 280 instructions a host.
    let address_like = value.bytes().all(|b| b.is_ascii_digit() || b == b'.');
    if kind == NameKind::Host && address_like && value.parse::<std::net::IpAddr>().is_ok() {
        return bad("an IP address cannot be a host name; hosts get their addresses".into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_error_is_seen_from_its_enclosing_table() {
        let e = InvalidField::new("faults[0].b", "unknown host").within("plan");
        assert_eq!(e.to_string(), "plan.faults[0].b: unknown host");
        let e = InvalidField::new("", "empty").within("plan");
        assert_eq!(e.field, "plan");
    }

    #[test]
    fn names_that_collide_with_generated_names_are_refused() {
        for bad in ["server.1", "server#2", "", "-x", "a b", "*"] {
            assert!(name("n", bad, NameKind::Connection).is_err(), "{bad:?}");
        }
        for bad in ["*", "10.0.0.1", "::1", "a b", ".x"] {
            assert!(name("n", bad, NameKind::Host).is_err(), "{bad:?}");
        }
        assert!(name("n", "db.example", NameKind::Host).is_ok());
        // Digits and dots that make no address are a name.
        assert!(name("n", "1.2.3", NameKind::Host).is_ok());
        assert!(name("n", "10.0.0.256", NameKind::Host).is_ok());
        // Digits and dots that make an address are not.
        for address in ["1.2.3.4", "255.255.255.255", "0.0.0.0"] {
            assert!(name("n", address, NameKind::Host).is_err(), "{address:?}");
        }
        // A character outside ASCII is named whole, not by its first byte.
        let refused = name("n", "añb", NameKind::Host).unwrap_err().to_string();
        assert!(refused.contains("'ñ' is not allowed"), "{refused}");
        assert!(name("n", "c_1-a", NameKind::Connection).is_ok());
        assert!(name("n", &"x".repeat(MAX_NAME_LEN + 1), NameKind::Host).is_err());
        assert!(scenario_name("name", &"é".repeat(MAX_SCENARIO_NAME_LEN)).is_ok());
        let long = scenario_name("name", &"x".repeat(MAX_SCENARIO_NAME_LEN + 1)).unwrap_err();
        assert_eq!(
            long.to_string(),
            format!(
                "name: {} characters are more than the limit of {MAX_SCENARIO_NAME_LEN}",
                MAX_SCENARIO_NAME_LEN + 1
            )
        );
    }

    #[test]
    fn an_error_lists_a_few_names_and_counts_the_rest() {
        assert_eq!(listed(Vec::<String>::new()), "none");
        assert_eq!(listed(["a", "b"]), "a, b");
        let many: Vec<String> = (0..10_000).map(|i| format!("c{i}")).collect();
        let shown = listed(&many);
        assert_eq!(shown, "c0, c1, c2, c3, c4, c5, c6, c7, … and 9992 more");
        let long = "x".repeat(100_000);
        assert_eq!(listed([&long]), format!("{}…", "x".repeat(MAX_NAME_LEN)));
    }

    #[test]
    fn a_long_value_is_quoted_by_its_start_and_its_length() {
        assert_eq!(quoted("c9"), "\"c9\"");
        let exact = "y".repeat(MAX_NAME_LEN);
        assert_eq!(quoted(&exact), format!("{exact:?}"));
        let long = "é".repeat(100_000);
        let shown = quoted(&long);
        assert_eq!(
            shown,
            format!("{:?}… (100000 characters)", "é".repeat(MAX_NAME_LEN))
        );
        let refused = name("hosts[0]", &long, NameKind::Host).unwrap_err();
        assert!(refused.message.len() < 300, "{}", refused.message);
        assert!(
            refused.message.ends_with("longer than 64 characters"),
            "{}",
            refused.message
        );
    }

    #[test]
    fn ranges_and_limits() {
        assert!(ordered("r", 2, 1).is_err());
        assert!(ordered("r", 1, 1).is_ok());
        assert!(positive_at_most("n", 0, 5).is_err());
        assert!(at_most("n", 6, 5).is_err());
        let past = count_at_most("n", 6, 5).unwrap_err();
        assert_eq!(past.field, "n[5]");
        assert!(count_at_most("n", 5, 5).is_ok());
    }
}
