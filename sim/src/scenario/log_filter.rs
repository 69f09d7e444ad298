//! Which `tracing` events a run records into its trace: a filter in `RUST_LOG`'s syntax
//! (the directives of `tracing-subscriber`'s `EnvFilter`: `info`, `my_notifier=debug`,
//! `debug,turmoil=off`, `[callback{who=c1}]=trace`). A scenario takes `RUST_LOG`'s filter
//! unless it is given one ([`Scenario::log_filter`](super::Scenario::log_filter)); with
//! `RUST_LOG` unset or empty nothing is recorded, so traces and snapshots stay as they were
//! and runs pay nothing for logging.

use std::fmt;
use std::sync::{Arc, OnceLock};
use tracing_subscriber::filter::{EnvFilter, LevelFilter, ParseError};

/// The environment variable a scenario's default [`LogFilter`] is read from.
pub const LOG_ENV: &str = "RUST_LOG";

/// Which `tracing` events a run records into its trace, in `RUST_LOG`'s syntax; off (nothing
/// recorded) by default. What a run records is part of its trace, so two runs compared for
/// determinism must use the same filter.
///
/// ```
/// use tcpnotify_sim::scenario::LogFilter;
/// let filter = LogFilter::new("info,turmoil=off").unwrap();
/// assert_eq!(filter.to_string(), "info,turmoil=off");
/// assert!(LogFilter::new("off").unwrap().is_off());
/// assert!(LogFilter::new("info,[unclosed=debug").is_err());
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LogFilter {
    /// The directives, or `None` when they enable nothing.
    directives: Option<Arc<str>>,
}

impl LogFilter {
    /// The filter that records nothing.
    pub fn off() -> LogFilter {
        LogFilter::default()
    }

    /// The filter of `directives`, in `RUST_LOG`'s syntax; one that enables nothing (``,
    /// `off`) is [`off`](Self::off).
    pub fn new(directives: &str) -> Result<LogFilter, LogFilterError> {
        let filter = parse(directives).map_err(|source| LogFilterError {
            directives: directives.to_string(),
            source,
        })?;
        let enables_nothing = filter.max_level_hint() == Some(LevelFilter::OFF);
        Ok(LogFilter {
            directives: (!enables_nothing).then(|| Arc::from(directives.trim())),
        })
    }

    /// The filter `RUST_LOG` holds, read once per process: [`off`](Self::off) when it is
    /// unset, empty or not valid (then a warning goes to stderr, once). Every
    /// [`Scenario`](super::Scenario) starts with it.
    pub fn from_env() -> LogFilter {
        static FROM_ENV: OnceLock<LogFilter> = OnceLock::new();
        FROM_ENV
            .get_or_init(|| {
                let value = std::env::var_os(LOG_ENV);
                let value = value.as_ref().map(|v| v.to_string_lossy());
                LogFilter::from_env_value(value.as_deref()).unwrap_or_else(|e| {
                    eprintln!("warning: {LOG_ENV} ignored, no logs are recorded: {e}");
                    LogFilter::off()
                })
            })
            .clone()
    }

    /// The filter an environment variable's value gives: [`off`](Self::off) when unset.
    ///
    /// ```
    /// use tcpnotify_sim::scenario::LogFilter;
    /// assert!(LogFilter::from_env_value(None).unwrap().is_off());
    /// assert!(LogFilter::from_env_value(Some("")).unwrap().is_off());
    /// assert_eq!(LogFilter::from_env_value(Some("debug")).unwrap().to_string(), "debug");
    /// ```
    pub fn from_env_value(value: Option<&str>) -> Result<LogFilter, LogFilterError> {
        value.map_or(Ok(LogFilter::off()), LogFilter::new)
    }

    /// Whether it records nothing: then a run installs no subscriber at all.
    pub fn is_off(&self) -> bool {
        self.directives.is_none()
    }

    /// Whether it may record events at trace level (as for `turmoil=trace`, or a filter
    /// whose most verbose level is not known): turmoil logs at that level every message it
    /// sends and delivers, so a run keeps in turmoil the hosts whose messages it would
    /// otherwise stand in for.
    ///
    /// ```
    /// use tcpnotify_sim::scenario::LogFilter;
    /// assert!(LogFilter::new("turmoil=trace").unwrap().may_record_trace());
    /// assert!(!LogFilter::new("debug").unwrap().may_record_trace());
    /// assert!(!LogFilter::off().may_record_trace());
    /// ```
    pub fn may_record_trace(&self) -> bool {
        (self.env_filter())
            .is_some_and(|f| (f.max_level_hint()).is_none_or(|level| level == LevelFilter::TRACE))
    }

    /// The `EnvFilter` a run filters with, `None` when off. Parsed again for each run (a few
    /// microseconds): an `EnvFilter` is neither `Clone` nor shared between runs, each of which
    /// has a subscriber of its own.
    pub(crate) fn env_filter(&self) -> Option<EnvFilter> {
        // The directives parsed when the filter was made, so they parse again.
        self.directives.as_deref().and_then(|d| parse(d).ok())
    }
}

impl fmt::Display for LogFilter {
    /// The directives, or `off`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.directives.as_deref().unwrap_or("off"))
    }
}

/// Directives parsed strictly: a bad one is an error, not a warning on stderr.
fn parse(directives: &str) -> Result<EnvFilter, ParseError> {
    EnvFilter::builder().parse(directives.trim())
}

/// A log filter that does not parse: which directives, and what is wrong.
#[derive(Debug, thiserror::Error)]
#[error("log filter `{directives}`: {source}")]
pub struct LogFilterError {
    /// The directives given.
    pub directives: String,
    /// What is wrong with them.
    pub source: ParseError,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_filter_that_enables_nothing_is_off() {
        for directives in ["", "  ", "off", "turmoil=off", "off,tcpnotify=off"] {
            assert!(
                LogFilter::new(directives).unwrap().is_off(),
                "{directives:?}"
            );
        }
        for directives in ["error", "my_notifier=info", "[callback{who=c1}]=debug"] {
            let filter = LogFilter::new(directives).unwrap();
            assert!(!filter.is_off(), "{directives:?}");
            assert!(filter.env_filter().is_some());
        }
    }

    #[test]
    fn a_bad_directive_is_an_error_naming_the_directives() {
        let err = LogFilter::new("info,=[").unwrap_err();
        assert_eq!(err.directives, "info,=[");
        assert!(
            err.to_string().starts_with("log filter `info,=[`: "),
            "{err}"
        );
        assert!(LogFilter::from_env_value(Some("info,=[")).is_err());
    }
}
