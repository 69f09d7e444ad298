//! The Chrome trace-event renderer (the JSON object format that `chrome://tracing` and
//! Perfetto open). A host is a process and each of its lanes a thread; callbacks, logged
//! `tracing` events (category `log`) and violations are instant events on their lane; faults are complete events (`X`, with a
//! duration) on threads of a `faults` process, one per fault so none overlaps another on its
//! track; throttled and muted periods are complete events on their lane; bytes in flight are
//! counters.
//! Times are the trace's microseconds, the format's own unit.

use super::model::Timeline;
use super::spans::Affects;
use crate::run::EventKind;
use serde::Serialize;
use serde_json::{json, Value};
use std::collections::BTreeMap;

/// One trace event, with the fields the format names.
#[derive(Serialize)]
struct Event {
    name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    cat: Option<&'static str>,
    ph: &'static str,
    ts: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    dur: Option<u64>,
    pid: usize,
    tid: usize,
    /// An instant event's scope (`t`: its thread).
    #[serde(skip_serializing_if = "Option::is_none")]
    s: Option<&'static str>,
    args: Value,
}

impl Event {
    /// A metadata event (`process_name`, `thread_sort_index`, ...).
    fn meta(name: &str, pid: usize, tid: usize, args: Value) -> Event {
        Event {
            name: name.to_string(),
            cat: None,
            ph: "M",
            ts: 0,
            dur: None,
            pid,
            tid,
            s: None,
            args,
        }
    }

    /// An instant event on thread (`pid`, `tid`).
    fn instant(
        name: String,
        cat: &'static str,
        at: u64,
        (pid, tid): (usize, usize),
        args: Value,
    ) -> Event {
        Event {
            name,
            cat: Some(cat),
            ph: "i",
            ts: at,
            dur: None,
            pid,
            tid,
            s: Some("t"),
            args,
        }
    }

    /// A complete event from `from` to `to` on thread (`pid`, `tid`).
    fn complete(
        name: String,
        cat: &'static str,
        (from, to): (u64, u64),
        (pid, tid): (usize, usize),
        args: Value,
    ) -> Event {
        Event {
            name,
            cat: Some(cat),
            ph: "X",
            ts: from,
            dur: Some(to.saturating_sub(from)),
            pid,
            tid,
            s: None,
            args,
        }
    }

    /// A counter's value at `at` in process `pid`.
    fn counter(name: String, at: u64, pid: usize, args: Value) -> Event {
        Event {
            name,
            cat: Some("in_flight"),
            ph: "C",
            ts: at,
            dur: None,
            pid,
            tid: 0,
            s: None,
            args,
        }
    }
}

/// The whole file.
#[derive(Serialize)]
struct File {
    #[serde(rename = "traceEvents")]
    trace_events: Vec<Event>,
    #[serde(rename = "displayTimeUnit")]
    display_time_unit: &'static str,
    #[serde(rename = "otherData")]
    other_data: Value,
}

/// Names a process, and keeps processes in the order they were named.
fn process(events: &mut Vec<Event>, pid: usize, name: String) {
    events.push(Event::meta("process_name", pid, 0, json!({ "name": name })));
    events.push(Event::meta(
        "process_sort_index",
        pid,
        0,
        json!({ "sort_index": pid }),
    ));
}

/// Names a thread, and keeps threads in the order of their ids.
fn thread(events: &mut Vec<Event>, (pid, tid): (usize, usize), name: &str) {
    events.push(Event::meta(
        "thread_name",
        pid,
        tid,
        json!({ "name": name }),
    ));
    events.push(Event::meta(
        "thread_sort_index",
        pid,
        tid,
        json!({ "sort_index": tid }),
    ));
}

impl Timeline {
    /// The timeline in the Chrome trace-event format, as JSON: hosts as processes, lanes as
    /// threads, callbacks as instant events, faults and throttled and muted periods as complete
    /// events with durations, bytes in flight as counters. Perfetto (ui.perfetto.dev) and
    /// `chrome://tracing` open it.
    pub fn chrome_trace(&self) -> String {
        let mut events = Vec::new();
        // Hosts are processes 1, 2, ... in order of first lane; lane `i` is thread `i + 1`.
        let mut hosts: BTreeMap<&str, usize> = BTreeMap::new();
        for lane in &self.lanes {
            if !hosts.contains_key(lane.host.as_str()) {
                hosts.insert(&lane.host, hosts.len() + 1);
                process(&mut events, hosts.len(), format!("host {}", lane.host));
            }
        }
        let lane_thread = |lane: usize| {
            let pid = hosts.get(self.lanes[lane].host.as_str()).copied();
            (pid.unwrap_or(0), lane + 1)
        };
        for (i, lane) in self.lanes.iter().enumerate() {
            let name = format!("{} {}", lane.kind.name(), lane.name);
            thread(&mut events, lane_thread(i), &name);
        }
        // Faults get a process of their own: thread 1 for the lines of no lane, then one
        // thread per fault.
        let faults = hosts.len() + 1;
        process(&mut events, faults, "faults".into());
        let run_thread = (faults, 1);
        thread(&mut events, run_thread, "fault lines and notes");

        for (i, (event, lane)) in self.events.iter().zip(&self.lane_of).enumerate() {
            let (name, cat) = match &event.kind {
                EventKind::Callback { callback, .. } => (callback.name().to_string(), "callback"),
                EventKind::Log { .. } => (event.kind.to_string(), "log"),
                EventKind::WriteDropped { .. } => (event.kind.to_string(), "write_dropped"),
                EventKind::Muted | EventKind::Unmuted => (event.kind.to_string(), "mute"),
                EventKind::Assertion { .. } => (event.kind.to_string(), "assertion"),
                EventKind::FinalWritten { .. } => (event.kind.to_string(), "final_written"),
                EventKind::Fault { .. }
                | EventKind::Violation { .. }
                | EventKind::Note { .. }
                | EventKind::RunEnded { .. }
                | EventKind::Discarded { .. } => (event.kind.to_string(), "event"),
            };
            let at = lane.map_or(run_thread, lane_thread);
            let args = json!({ "line": i + 1, "trace": event.to_string() });
            events.push(Event::instant(name, cat, event.at_us, at, args));
        }
        let mut fault_threads = 1;
        for span in &self.spans {
            let at = match &span.affects {
                _ if span.kind.is_fault() => {
                    fault_threads += 1;
                    thread(&mut events, (faults, fault_threads), &span.label);
                    (faults, fault_threads)
                }
                Affects::Lanes(lanes) if !lanes.is_empty() => lane_thread(lanes[0]),
                _ => run_thread,
            };
            let args = json!({ "line": span.line, "kind": span.kind.name() });
            let time = (span.from_us, span.to_us);
            events.push(Event::complete(
                span.label.clone(),
                span.kind.name(),
                time,
                at,
                args,
            ));
        }
        for v in &self.violations {
            let last = v.lines.last().copied().unwrap_or(1);
            let at_us = self
                .events
                .get(last.saturating_sub(1))
                .map_or(0, |e| e.at_us);
            let at = self.lane_named(&v.who).map_or(run_thread, lane_thread);
            let args =
                json!({ "rule": v.rule.to_string(), "message": v.message, "lines": v.lines });
            events.push(Event::instant(
                format!("VIOLATION {}", v.rule),
                "violation",
                at_us,
                at,
                args,
            ));
        }
        for f in &self.flights {
            let name = format!(
                "in flight {} \u{2192} {}",
                self.lanes[f.from].name, self.lanes[f.to].name
            );
            let (pid, _) = lane_thread(f.from);
            for &(at, bytes) in &f.points {
                events.push(Event::counter(
                    name.clone(),
                    at,
                    pid,
                    json!({ "bytes": bytes }),
                ));
            }
        }
        let file = File {
            trace_events: events,
            display_time_unit: "ms",
            other_data: json!({ "title": self.title, "generator": "tcpnotify-sim timeline" }),
        };
        // Plain data with string keys: serialising cannot fail.
        serde_json::to_string(&file).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::super::model::tests::{echo_trace, timeline_of};
    use serde::Deserialize;
    use std::collections::BTreeMap;

    /// The fields of a trace event the tests read.
    #[derive(Deserialize)]
    struct Event {
        name: String,
        ph: String,
        #[serde(default)]
        cat: String,
        ts: u64,
        dur: Option<u64>,
        pid: usize,
        tid: usize,
        #[serde(default)]
        args: serde_json::Value,
    }

    #[derive(Deserialize)]
    struct File {
        #[serde(rename = "traceEvents")]
        trace_events: Vec<Event>,
        #[serde(rename = "displayTimeUnit")]
        display_time_unit: String,
    }

    fn file() -> File {
        serde_json::from_str(&timeline_of(&echo_trace()).chrome_trace()).expect("valid JSON")
    }

    /// Thread names by (pid, tid), and process names by pid.
    fn names(file: &File) -> (BTreeMap<(usize, usize), String>, BTreeMap<usize, String>) {
        let name = |e: &Event| e.args["name"].as_str().unwrap_or_default().to_string();
        let threads = file
            .trace_events
            .iter()
            .filter(|e| e.ph == "M" && e.name == "thread_name")
            .map(|e| ((e.pid, e.tid), name(e)))
            .collect();
        let processes = file
            .trace_events
            .iter()
            .filter(|e| e.ph == "M" && e.name == "process_name")
            .map(|e| (e.pid, name(e)))
            .collect();
        (threads, processes)
    }

    #[test]
    fn hosts_are_processes_and_lanes_are_threads() {
        let file = file();
        assert_eq!(file.display_time_unit, "ms");
        let (threads, processes) = names(&file);
        assert_eq!(processes.get(&1).map(String::as_str), Some("host server"));
        assert_eq!(processes.get(&2).map(String::as_str), Some("host client"));
        assert_eq!(processes.get(&3).map(String::as_str), Some("faults"));
        assert_eq!(
            threads.get(&(1, 1)).map(String::as_str),
            Some("listener server")
        );
        assert_eq!(threads.get(&(2, 2)).map(String::as_str), Some("client c1"));
        assert_eq!(
            threads.get(&(1, 3)).map(String::as_str),
            Some("accepted server.1")
        );
    }

    #[test]
    fn callbacks_are_instant_events_on_their_lane_with_their_trace_line() {
        let file = file();
        let (threads, _) = names(&file);
        let callbacks: Vec<&Event> = file
            .trace_events
            .iter()
            .filter(|e| e.cat == "callback")
            .collect();
        assert_eq!(callbacks.len(), 15);
        assert!(callbacks.iter().all(|e| e.ph == "i"));
        let closed = callbacks.iter().rfind(|e| e.name == "closed").unwrap();
        assert_eq!(threads[&(closed.pid, closed.tid)], "client c1");
        assert_eq!(closed.ts, 406_000);
        assert_eq!(closed.args["line"], 18);
        assert_eq!(closed.args["trace"], "   406.000ms client c1 closed");
    }

    #[test]
    fn logged_events_are_instants_of_category_log_on_their_lane() {
        let trace = super::super::model::tests::echo_trace_with_logs();
        let file: File = serde_json::from_str(&timeline_of(&trace).chrome_trace()).unwrap();
        let (threads, processes) = names(&file);
        let logs: Vec<&Event> = file
            .trace_events
            .iter()
            .filter(|e| e.cat == "log")
            .collect();
        assert_eq!(logs.len(), 2);
        assert!(logs.iter().all(|e| e.ph == "i" && e.ts == 406_000));
        assert_eq!(logs[0].name, "INFO app: got it bytes=5");
        assert_eq!(threads[&(logs[0].pid, logs[0].tid)], "client c1");
        assert_eq!(logs[0].args["line"], 20);
        assert_eq!(logs[1].name, "WARN turmoil: step");
        assert_eq!(processes[&logs[1].pid], "faults");
    }

    #[test]
    fn faults_are_complete_events_with_durations_on_their_own_tracks() {
        let file = file();
        let (threads, _) = names(&file);
        let faults: Vec<&Event> = file.trace_events.iter().filter(|e| e.ph == "X").collect();
        assert_eq!(faults.len(), 1);
        let partition = faults[0];
        assert_eq!(partition.cat, "partition");
        assert_eq!((partition.ts, partition.dur), (2000, Some(400_000)));
        assert_eq!(
            threads[&(partition.pid, partition.tid)],
            "partition client <-> server for 400ms"
        );
    }

    #[test]
    fn violations_are_instants_and_bytes_in_flight_are_counters() {
        let file = file();
        let violation = file
            .trace_events
            .iter()
            .find(|e| e.cat == "violation")
            .unwrap();
        assert_eq!(violation.name, "VIOLATION L1");
        assert_eq!(violation.args["lines"], serde_json::json!([17, 18]));
        assert_eq!(violation.ts, 406_000);
        let counters: Vec<(&str, u64, i64)> = file
            .trace_events
            .iter()
            .filter(|e| e.ph == "C")
            .map(|e| (e.name.as_str(), e.ts, e.args["bytes"].as_i64().unwrap()))
            .collect();
        assert_eq!(
            counters,
            vec![
                ("in flight c1 \u{2192} server.1", 1000, 100),
                ("in flight c1 \u{2192} server.1", 402_000, 0),
                ("in flight server.1 \u{2192} c1", 402_000, 100),
                ("in flight server.1 \u{2192} c1", 403_000, 30),
                ("in flight server.1 \u{2192} c1", 404_000, 0),
            ]
        );
    }
}
