//! A run in a few lines: how it ended, the faults that fired, and for each connection the
//! bytes it sent and received and how it ended. `tcpnotify-sim run` ends its text with it, so
//! the verdict need not be dug out of hundreds of trace lines, and its JSON `verdict` carries
//! it whole.

use crate::run::{tally, Ending, RunOutcome};
use crate::seed::Seed;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use tcpnotify::record::Callback;

/// Above this many connections, the text groups them by the stem of their names (`c-*`).
const LISTED_CONNECTIONS: usize = 20;

/// A group's row names at most this many of its hosts, then how many there are: a group of
/// thousands of clients, each on a host of its own, stays one readable line.
const LISTED_HOSTS: usize = 3;

/// One connection in a run's summary.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConnectionSummary {
    /// Its name (`c1`, `server.1`).
    pub name: String,
    /// Its host.
    pub host: String,
    /// Bytes it queued for sending.
    pub sent: usize,
    /// Bytes delivered to it.
    pub received: usize,
    /// How it ended: `closed`, `connect_failed(refused)`, `lost in the crash of HOST`, or
    /// `open at the end`.
    pub ended: String,
}

/// A run in a few lines: see the module docs.
///
/// ```
/// use tcpnotify_sim::report::RunSummary;
/// use tcpnotify_sim::{judge::judge, FaultSettings, Scenario, Seed};
/// let scenario = Scenario::echo("echo", 100, 50).faults(FaultSettings::quiet());
/// let verdict = judge(&scenario, &scenario.plan_for(Seed(1))).unwrap();
/// let summary = RunSummary::of(&verdict.outcome);
/// let c1 = summary.connections.iter().find(|c| c.name == "c1").unwrap();
/// assert_eq!((c1.sent, c1.received, c1.ended.as_str()), (100, 100, "closed"));
/// assert!(summary.to_string().contains("faults fired: none"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunSummary {
    /// The run's seed.
    pub seed: Seed,
    /// How the run ended, in words.
    pub ended: String,
    /// Simulated time of the run's last event, in microseconds.
    pub at_us: u64,
    /// How many times each kind of fault fired.
    pub faults_fired: BTreeMap<String, usize>,
    /// Every connection (not the listeners), in name order.
    pub connections: Vec<ConnectionSummary>,
}

impl RunSummary {
    /// The summary of a finished run.
    pub fn of(outcome: &RunOutcome) -> RunSummary {
        let events = outcome.trace.shared_events();
        let connections = tally(&events, &outcome.plan)
            .into_iter()
            .filter(|(_, t)| !t.is_listener())
            .map(|(name, t)| ConnectionSummary {
                ended: match t.ending {
                    Ending::Closed => Callback::Closed.to_string(),
                    Ending::ConnectFailed(reason) => Callback::ConnectFailed(reason).to_string(),
                    Ending::Lost => format!("lost in the crash of {}", t.host),
                    Ending::Open => "open at the end".to_string(),
                },
                name,
                host: t.host,
                sent: t.sent,
                received: t.received,
            })
            .collect();
        RunSummary {
            seed: outcome.plan.seed,
            ended: outcome.ended.to_string(),
            at_us: events.last().map_or(0, |e| e.at_us),
            faults_fired: outcome.fired.clone(),
            connections,
        }
    }
}

/// The rows the text shows: every connection, or groups of them by name stem when there are
/// many. A row: name, host, sent, received, and its endings with their counts.
fn rows(connections: &[ConnectionSummary]) -> Vec<[String; 5]> {
    if connections.len() <= LISTED_CONNECTIONS {
        return connections
            .iter()
            .map(|c| {
                [
                    c.name.clone(),
                    c.host.clone(),
                    format!("sent {}B", c.sent),
                    format!("received {}B", c.received),
                    c.ended.clone(),
                ]
            })
            .collect();
    }
    struct Group<'a> {
        count: usize,
        /// The first connection's name: a group of one shows it rather than its stem.
        first: &'a str,
        /// In order of first appearance; `seen` answers membership without a scan.
        hosts: Vec<&'a str>,
        seen: BTreeSet<&'a str>,
        sent: usize,
        received: usize,
        ended: BTreeMap<&'a str, usize>,
    }
    let mut groups: BTreeMap<String, Group<'_>> = BTreeMap::new();
    for c in connections {
        let stem = c.name.trim_end_matches(|ch: char| ch.is_ascii_digit());
        let key = if stem.len() < c.name.len() {
            format!("{stem}*")
        } else {
            c.name.clone()
        };
        let group = groups.entry(key).or_insert_with(|| Group {
            count: 0,
            first: &c.name,
            hosts: Vec::new(),
            seen: BTreeSet::new(),
            sent: 0,
            received: 0,
            ended: BTreeMap::new(),
        });
        group.count += 1;
        if group.seen.insert(&c.host) {
            group.hosts.push(&c.host);
        }
        group.sent += c.sent;
        group.received += c.received;
        *group.ended.entry(&c.ended).or_default() += 1;
    }
    groups
        .into_iter()
        .map(|(name, g)| {
            let ended: Vec<String> = match g.count {
                1 => g.ended.keys().map(|e| e.to_string()).collect(),
                _ => g.ended.iter().map(|(e, n)| format!("{e} x{n}")).collect(),
            };
            [
                match g.count {
                    1 => g.first.to_string(),
                    n => format!("{name} ({n} connections)"),
                },
                host_list(&g.hosts),
                format!("sent {}B", g.sent),
                format!("received {}B", g.received),
                ended.join(", "),
            ]
        })
        .collect()
}

/// `a,b,c`, or past [`LISTED_HOSTS`] the first of them and how many there are in all.
fn host_list(hosts: &[&str]) -> String {
    if hosts.len() <= LISTED_HOSTS {
        return hosts.join(",");
    }
    format!(
        "{},... ({} hosts)",
        hosts[..LISTED_HOSTS].join(","),
        hosts.len()
    )
}

impl fmt::Display for RunSummary {
    /// `summary: ...` with how the run ended and the faults fired, then a line per connection
    /// (per group of connections when there are many).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let fired: Vec<String> = self
            .faults_fired
            .iter()
            .filter(|(_, n)| **n > 0)
            .map(|(kind, n)| format!("{kind} x{n}"))
            .collect();
        writeln!(
            f,
            "summary: seed {}, {} at {}.{:03}ms; faults fired: {}",
            self.seed,
            self.ended,
            self.at_us / 1000,
            self.at_us % 1000,
            if fired.is_empty() {
                "none".to_string()
            } else {
                fired.join(" ")
            }
        )?;
        let rows = rows(&self.connections);
        let mut widths = [0; 4];
        for row in &rows {
            for (width, cell) in widths.iter_mut().zip(row) {
                *width = (*width).max(cell.len());
            }
        }
        for [name, host, sent, received, ended] in rows {
            let line = format!(
                "  {name:<w0$}  {host:<w1$}  {sent:<w2$}  {received:<w3$}  {ended}",
                w0 = widths[0],
                w1 = widths[1],
                w2 = widths[2],
                w3 = widths[3],
            );
            writeln!(f, "{}", line.trim_end())?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn connection(name: &str, ended: &str) -> ConnectionSummary {
        ConnectionSummary {
            name: name.into(),
            host: "client".into(),
            sent: 10,
            received: 10,
            ended: ended.into(),
        }
    }

    /// The lines of `text` with their columns' padding cut to one space.
    fn single_spaced_lines(text: &str) -> Vec<String> {
        text.lines()
            .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
            .collect()
    }

    #[test]
    fn many_connections_are_grouped_by_name_stem_with_their_endings_counted() {
        let mut connections: Vec<ConnectionSummary> = (0..30)
            .map(|i| {
                connection(
                    &format!("c-{i}"),
                    if i < 28 { "closed" } else { "open at the end" },
                )
            })
            .collect();
        connections.push(connection("lonely", "closed"));
        let summary = RunSummary {
            seed: Seed(1),
            ended: "all clients finished".into(),
            at_us: 1500,
            faults_fired: BTreeMap::from([("reset".to_string(), 2)]),
            connections,
        };
        let text = summary.to_string();
        assert_eq!(text.lines().count(), 3, "{text}");
        assert!(
            text.starts_with(
                "summary: seed 1, all clients finished at 1.500ms; faults fired: reset x2\n"
            ),
            "{text}"
        );
        let words = single_spaced_lines(&text);
        assert_eq!(
            words[1],
            "c-* (30 connections) client sent 300B received 300B closed x28, open at the end x2"
        );
        assert_eq!(words[2], "lonely client sent 10B received 10B closed");
    }

    #[test]
    fn a_group_on_many_hosts_names_the_first_three_and_a_group_of_one_its_connection() {
        let on = |name: String, host: String| ConnectionSummary {
            host,
            ..connection(&name, "closed")
        };
        let mut connections: Vec<ConnectionSummary> = (0..25)
            .map(|i| on(format!("c{i}"), format!("h{i}")))
            .collect();
        connections.extend((0..3).map(|i| on(format!("s{i}"), format!("server{}", i % 2))));
        connections.extend((0..3).map(|i| on(format!("t{i}"), format!("t{i}"))));
        connections.extend((0..4).map(|i| on(format!("u{i}"), format!("u{i}"))));
        connections.push(on("v7".into(), "v".into()));
        let summary = RunSummary {
            seed: Seed(1),
            ended: "all clients finished".into(),
            at_us: 0,
            faults_fired: BTreeMap::new(),
            connections,
        };
        let text = summary.to_string();
        let words = single_spaced_lines(&text);
        assert_eq!(
            words[1..],
            [
                "c* (25 connections) h0,h1,h2,... (25 hosts) sent 250B received 250B closed x25",
                "s* (3 connections) server0,server1 sent 30B received 30B closed x3",
                "t* (3 connections) t0,t1,t2 sent 30B received 30B closed x3",
                "u* (4 connections) u0,u1,u2,... (4 hosts) sent 40B received 40B closed x4",
                "v7 v sent 10B received 10B closed",
            ],
            "{text}"
        );
    }
}
