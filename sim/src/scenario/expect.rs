//! What must hold at the end of a run besides the contract: the scenario's own end conditions
//! ("every client finished", "every byte echoed", "two connections closed"), as a scenario file's
//! `[expect]` table states them. The judge checks them (`judge::verdict`).

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// What must hold at the end of a run, besides the contract.
///
/// ```
/// let e: tcpnotify_sim::scenario::Expectations = toml_edit::de::from_str("closed = 2\nechoed = true").unwrap();
/// assert!(e.finished);
/// assert_eq!(e.closed, Some(2));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Expectations {
    /// Every client's connection ended (`closed` or `connect_failed`) and nothing is left
    /// open before the run ended: its active duration, then the liveness phase in which every
    /// fault healed (`Scenario::settle_ms`). A failure says whether the faults had healed.
    pub finished: bool,
    /// Every client received exactly as many bytes as it sent (an echo came back whole; the
    /// bytes themselves are checked by R6 as they flow). A failure names the queued bytes a
    /// hard close of the client or its peer discarded, if any.
    pub echoed: bool,
    /// How many `closed` callbacks, over every connection.
    pub closed: Option<usize>,
    /// How many `connect_failed` callbacks.
    pub connect_failed: Option<usize>,
    /// How many `accepted` callbacks.
    pub accepted: Option<usize>,
    /// Bytes each named connection received in all (`server.1 = 16384`). A failure names the
    /// queued bytes a hard close of the connection's peer discarded, if any.
    pub delivered: BTreeMap<String, usize>,
}

impl Expectations {
    /// Whether a run may lose connections (to resets, crashes, or connects that time out)
    /// and still meet these expectations: when they ask for no bytes delivered (`echoed`,
    /// `delivered`) and no exact count of `closed`, `connect_failed` or `accepted`, all of
    /// which a lost connection changes. `finished` holds either way: a lost connection ends.
    /// The swarm draws resets, crashes and partitions longer than the connect timeout only
    /// then ([`Swarm`](crate::fault::Swarm)).
    ///
    /// ```
    /// use tcpnotify_sim::Expectations;
    /// assert!(Expectations::default().allows_lost_connections());
    /// let echo = Expectations { echoed: true, ..Expectations::default() };
    /// assert!(!echo.allows_lost_connections());
    /// ```
    pub fn allows_lost_connections(&self) -> bool {
        !self.echoed
            && self.delivered.is_empty()
            && self.closed.is_none()
            && self.connect_failed.is_none()
            && self.accepted.is_none()
    }
}

impl Default for Expectations {
    fn default() -> Self {
        Expectations {
            finished: true,
            echoed: false,
            closed: None,
            connect_failed: None,
            accepted: None,
            delivered: BTreeMap::new(),
        }
    }
}
