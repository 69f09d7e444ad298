//! The data of a logged `tracing` event in a trace ([`EventKind::Log`](super::EventKind::Log)):
//! its level, and its fields as text in the order the event names them; and how its text is
//! kept on one line of a text trace.

use serde::de::{MapAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt::{self, Write as _};

/// The level of a logged event, as `tracing` names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum LogLevel {
    /// `error!`
    Error,
    /// `warn!`
    Warn,
    /// `info!`
    Info,
    /// `debug!`
    Debug,
    /// `trace!`
    Trace,
}

impl From<tracing::Level> for LogLevel {
    fn from(level: tracing::Level) -> Self {
        match level {
            tracing::Level::ERROR => LogLevel::Error,
            tracing::Level::WARN => LogLevel::Warn,
            tracing::Level::INFO => LogLevel::Info,
            tracing::Level::DEBUG => LogLevel::Debug,
            tracing::Level::TRACE => LogLevel::Trace,
        }
    }
}

impl fmt::Display for LogLevel {
    /// `ERROR`, `WARN`, `INFO`, `DEBUG` or `TRACE`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            LogLevel::Error => "ERROR",
            LogLevel::Warn => "WARN",
            LogLevel::Info => "INFO",
            LogLevel::Debug => "DEBUG",
            LogLevel::Trace => "TRACE",
        })
    }
}

/// The fields of a logged event besides its message, in the order the event names them, each
/// value as text: a string as it is, a number or a `%value` by `Display`, a `?value` by
/// `Debug`. In JSON an object (`{"bytes": "5"}`) whose keys keep that order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LogFields(pub Vec<(String, String)>);

impl LogFields {
    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The value of the first field named `name`.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

impl Serialize for LogFields {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_map(self.0.iter().map(|(name, value)| (name, value)))
    }
}

impl<'de> Deserialize<'de> for LogFields {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        /// Reads a JSON object's entries in the order they come.
        struct InOrder;
        impl<'de> Visitor<'de> for InOrder {
            type Value = LogFields;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an object of field names and text values")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<LogFields, A::Error> {
                let mut fields = Vec::new();
                while let Some(entry) = map.next_entry()? {
                    fields.push(entry);
                }
                Ok(LogFields(fields))
            }
        }
        deserializer.deserialize_map(InOrder)
    }
}

/// Writes `text` on one line: control characters (a newline in a message) escaped as Rust
/// escapes them, so that line `n` of a text trace stays event `n - 1`.
pub(crate) fn write_one_line(f: &mut fmt::Formatter<'_>, text: &str) -> fmt::Result {
    for c in text.chars() {
        if c.is_control() {
            write!(f, "{}", c.escape_default())?;
        } else {
            f.write_char(c)?;
        }
    }
    Ok(())
}
