//! How a run ended ([`Ended`]): its trace's last line, in words and in JSON, which the
//! checker reads. Its own module, so the trace and the checker need nothing else of the runner.

use serde::{Deserialize, Serialize};

/// How a run ended: the last line of its trace ([`EventKind::RunEnded`](super::EventKind::RunEnded)), and what the
/// checker reads there (a run cut short by a panic, a run complete).
///
/// In JSON its kind is the field `ended` (`all_finished`, `duration_reached`, `panicked`,
/// `failed`) beside its own fields:
///
/// ```
/// use tcpnotify_sim::run::Ended;
/// let ended = Ended::DurationReached { unfinished: vec!["c1".into()] };
/// assert_eq!(
///     serde_json::to_string(&ended).unwrap(),
///     r#"{"ended":"duration_reached","unfinished":["c1"]}"#
/// );
/// assert_eq!(ended.to_string(), "duration reached; unfinished: c1");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "ended", rename_all = "snake_case")]
pub enum Ended {
    /// Every client finished and no connection is live.
    AllFinished,
    /// The active duration passed, and the liveness phase after it (if any), before every
    /// client finished.
    DurationReached {
        /// Clients whose connection had not ended.
        unfinished: Vec<String>,
    },
    /// Code in the simulation panicked.
    Panicked {
        /// The panic message and location.
        message: String,
    },
    /// The simulation could not go on: turmoil reported an error, or the run reached a
    /// limit (its trace holds [`MAX_TRACE_EVENTS`](crate::validate::MAX_TRACE_EVENTS)).
    Failed {
        /// What stopped it.
        message: String,
    },
}

impl std::fmt::Display for Ended {
    /// How the run ended, in words, as its last trace line says (`run ended: WORDS`).
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Ended::AllFinished => f.write_str(ALL_FINISHED),
            Ended::DurationReached { unfinished } if unfinished.is_empty() => {
                f.write_str(STILL_OPEN)
            }
            Ended::DurationReached { unfinished } => {
                write!(f, "{UNFINISHED}{}", unfinished.join(", "))
            }
            Ended::Panicked { message } => write!(f, "{PANIC}{message}"),
            Ended::Failed { message } => write!(f, "{FAILED}{message}"),
        }
    }
}

/// The words of [`Ended`]'s forms, shared by its `Display` and [`Ended::from_words`].
const ALL_FINISHED: &str = "all clients finished";
const STILL_OPEN: &str = "duration reached with connections still open";
const UNFINISHED: &str = "duration reached; unfinished: ";
const PANIC: &str = "panic: ";
const FAILED: &str = "simulation error: ";

impl Ended {
    /// How a run ended, read back from its words as [`Display`](std::fmt::Display) writes
    /// them: for the note that told of a run's end in JSON traces written before it had a
    /// kind of its own. `None` for other words.
    ///
    /// ```
    /// use tcpnotify_sim::run::Ended;
    /// let ended = Ended::Panicked { message: "c1 panicked".into() };
    /// assert_eq!(Ended::from_words(&ended.to_string()), Some(ended));
    /// assert_eq!(Ended::from_words("all clients finished"), Some(Ended::AllFinished));
    /// assert_eq!(Ended::from_words("it stopped"), None);
    /// ```
    pub fn from_words(words: &str) -> Option<Ended> {
        let ended = if words == ALL_FINISHED {
            Ended::AllFinished
        } else if words == STILL_OPEN {
            Ended::DurationReached {
                unfinished: Vec::new(),
            }
        } else if let Some(names) = words.strip_prefix(UNFINISHED) {
            Ended::DurationReached {
                unfinished: names.split(", ").map(str::to_string).collect(),
            }
        } else if let Some(message) = words.strip_prefix(PANIC) {
            Ended::Panicked {
                message: message.into(),
            }
        } else {
            Ended::Failed {
                message: words.strip_prefix(FAILED)?.into(),
            }
        };
        Some(ended)
    }
}

#[cfg(test)]
mod tests {
    use super::Ended;

    /// Every way a run ends reads back from the words its last line gives it, a duration
    /// reached with no client named included.
    #[test]
    fn every_way_a_run_ends_reads_back_from_its_words() {
        let still_open = Ended::DurationReached {
            unfinished: Vec::new(),
        };
        assert_eq!(
            still_open.to_string(),
            "duration reached with connections still open"
        );
        let forms = [
            Ended::AllFinished,
            still_open,
            Ended::DurationReached {
                unfinished: vec!["c1".into(), "c2".into()],
            },
            Ended::Panicked {
                message: "c1 panicked".into(),
            },
            Ended::Failed {
                message: "turmoil stopped".into(),
            },
        ];
        for ended in forms {
            assert_eq!(Ended::from_words(&ended.to_string()), Some(ended.clone()));
        }
    }
}
