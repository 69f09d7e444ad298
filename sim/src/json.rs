//! The JSON lines the simulator writes (`docs/json.md` is the schema): one object per line,
//! each naming what it is in `type` (`run`, `event`, `verdict`, `sweep_result`, ...). Every
//! object but a trace `event` also carries the schema's `version`; events take the version
//! of the output they are part of.
//!
//! The schema grows without breaking readers: a new kind of object, a new field or a new kind
//! of trace event keeps the version, and readers skip what they do not know. Only a change
//! that would mislead a reader of the old form (a field renamed, removed or given another
//! meaning) raises the version, and a reader refuses objects of a version above its own.
//!
//! ```
//! use tcpnotify_sim::json;
//! #[derive(serde::Serialize)]
//! struct Done { seeds: u64 }
//! let line = json::record("done", &Done { seeds: 3 });
//! assert_eq!(line, format!("{{\"type\":\"done\",\"version\":{},\"seeds\":3}}", json::VERSION));
//! let value: serde_json::Value = serde_json::from_str(&line).unwrap();
//! assert_eq!(json::kind_of(&value), Some("done"));
//! assert!(json::check_version(&value).is_ok());
//! ```

use serde::Serialize;

/// The schema's version: what a reader of these lines must understand to read them.
pub const VERSION: u32 = 1;

/// The `type` of a trace event's line.
pub const EVENT: &str = "event";

/// The `type` of the line `run --json` opens with: what ran, under which fault plan.
pub const RUN: &str = "run";

/// One line of output: `type`, then `version` (absent on trace events), then the body's own
/// fields.
#[derive(Serialize)]
struct Line<'a, T> {
    #[serde(rename = "type")]
    kind: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    version: Option<u32>,
    #[serde(flatten)]
    body: &'a T,
}

fn line<T: Serialize>(kind: &str, version: Option<u32>, body: &T) -> String {
    // The bodies are plain data: maps with string keys, numbers and strings. Serialising them
    // cannot fail; an empty object would only be a body that is not a map, a programming
    // error the schema tests catch.
    serde_json::to_string(&Line {
        kind,
        version,
        body,
    })
    .unwrap_or_else(|_| format!("{{\"type\":{kind:?}}}"))
}

/// The line of an object of type `kind` (not a trace event), with the schema's version; the
/// body must serialise as a map (a struct with named fields).
pub fn record<T: Serialize>(kind: &str, body: &T) -> String {
    line(kind, Some(VERSION), body)
}

/// The line of one trace event: `{"type":"event", ...the event's fields}`.
pub fn event<T: Serialize>(body: &T) -> String {
    line(EVENT, None, body)
}

/// The `type` of a parsed line, if it has one.
pub fn kind_of(value: &serde_json::Value) -> Option<&str> {
    value.get("type").and_then(serde_json::Value::as_str)
}

/// An object written by a newer schema than this reader knows.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "written with JSON schema version {found}; this tcpnotify-sim reads version {VERSION} \
     (use the tcpnotify-sim that wrote it, or a newer one)"
)]
pub struct NewerVersion {
    /// The object's version.
    pub found: u64,
}

/// Checks a parsed line's `version`: absent (a trace event, or a trace written before the
/// schema had versions) or at most [`VERSION`] is fine.
pub fn check_version(value: &serde_json::Value) -> Result<(), NewerVersion> {
    match value.get("version").and_then(serde_json::Value::as_u64) {
        Some(found) if found > u64::from(VERSION) => Err(NewerVersion { found }),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Serialize)]
    struct Body {
        at_us: u64,
    }

    #[test]
    fn an_event_line_has_a_type_and_no_version() {
        let line = event(&Body { at_us: 5 });
        assert_eq!(line, r#"{"type":"event","at_us":5}"#);
    }

    #[test]
    fn a_newer_version_is_refused_and_an_older_or_missing_one_read() {
        let v = |text: &str| serde_json::from_str::<serde_json::Value>(text).unwrap();
        assert_eq!(
            check_version(&v(r#"{"type":"run","version":99}"#)),
            Err(NewerVersion { found: 99 })
        );
        assert!(check_version(&v(r#"{"type":"run","version":1}"#)).is_ok());
        assert!(check_version(&v(r#"{"type":"event"}"#)).is_ok());
        assert_eq!(kind_of(&v(r#"{"at_us":1}"#)), None);
    }
}
