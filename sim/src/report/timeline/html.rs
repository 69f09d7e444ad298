//! The HTML renderer: `page.html` with `page.css` and `page.js` inlined and the timeline as
//! JSON. The data is compact for large runs: each trace line is four numbers, and the text
//! after a line's time, host and connection is stored once however many lines share it (a
//! thousand clients sending the same bytes print the same `sent(...)`).

use super::model::Timeline;
use super::spans::Affects;
use serde::Serialize;
use std::collections::BTreeMap;
use tcpnotify::record::Callback;

const TEMPLATE: &str = include_str!("page.html");
const STYLE: &str = include_str!("page.css");
const SCRIPT: &str = include_str!("page.js");

/// The page's data, as `page.js` reads it.
#[derive(Serialize)]
struct Page<'a> {
    title: &'a str,
    end_us: u64,
    /// Event names (`received`, `fault`, ...), referred to by index.
    names: Vec<&'static str>,
    /// Line texts, referred to by index: what follows the connection in a lane's line, what
    /// follows the time in any other line.
    texts: Vec<String>,
    /// Every trace line: (lane, time in µs, name, text).
    lines: Vec<(Option<usize>, u64, usize, usize)>,
    lanes: Vec<PageLane<'a>>,
    groups: Vec<PageGroup<'a>>,
    spans: Vec<PageSpan<'a>>,
    flights: Vec<PageFlight<'a>>,
    violations: Vec<PageViolation<'a>>,
    failures: &'a [String],
    plan: Option<&'a str>,
    check_note: Option<&'a str>,
}

#[derive(Serialize)]
struct PageLane<'a> {
    name: &'a str,
    host: &'a str,
    kind: &'static str,
    addresses: Option<String>,
    peer: Option<usize>,
    group: usize,
}

#[derive(Serialize)]
struct PageGroup<'a> {
    name: &'a str,
    kind: &'static str,
    lanes: &'a [usize],
    folded: bool,
}

#[derive(Serialize)]
struct PageSpan<'a> {
    kind: &'static str,
    label: &'a str,
    from: u64,
    to: u64,
    line: Option<usize>,
    /// A fault (drawn on the faults row), not a connection's own state.
    fault: bool,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    all: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    hosts: Option<&'a [String]>,
    #[serde(skip_serializing_if = "Option::is_none")]
    lanes: Option<&'a [usize]>,
}

#[derive(Serialize)]
struct PageFlight<'a> {
    from: usize,
    to: usize,
    peak: i64,
    points: &'a [(u64, i64)],
    until: u64,
}

#[derive(Serialize)]
struct PageViolation<'a> {
    rule: String,
    who: &'a str,
    lane: Option<usize>,
    message: &'a str,
    lines: &'a [usize],
}

/// Hands out one index per distinct value, in order of first use.
struct Interner<T: Ord + Clone> {
    index: BTreeMap<T, usize>,
    values: Vec<T>,
}

impl<T: Ord + Clone> Interner<T> {
    fn new() -> Self {
        Interner {
            index: BTreeMap::new(),
            values: Vec::new(),
        }
    }

    fn intern(&mut self, value: T) -> usize {
        if let Some(&i) = self.index.get(&value) {
            return i;
        }
        self.values.push(value.clone());
        self.index.insert(value, self.values.len() - 1);
        self.values.len() - 1
    }
}

/// The page's data.
fn page(timeline: &Timeline) -> Page<'_> {
    let mut names = Interner::new();
    let mut texts = Interner::new();
    let lines = timeline
        .events
        .iter()
        .zip(&timeline.lane_of)
        .map(|(event, lane)| {
            // A callback by its name, any other line by its kind's JSON tag.
            let name = event.callback().map_or(event.kind.tag(), Callback::name);
            let text = match lane {
                Some(_) => event.kind.to_string(),
                None => format!("{} {} {}", event.host, event.who, event.kind),
            };
            (*lane, event.at_us, names.intern(name), texts.intern(text))
        })
        .collect();
    Page {
        title: &timeline.title,
        end_us: timeline.end_us,
        names: names.values,
        texts: texts.values,
        lines,
        lanes: timeline
            .lanes
            .iter()
            .map(|l| PageLane {
                name: &l.name,
                host: &l.host,
                kind: l.kind.name(),
                addresses: l
                    .addresses
                    .map(|(local, remote)| format!("{local} \u{2192} {remote}")),
                peer: l.peer,
                group: l.group,
            })
            .collect(),
        groups: timeline
            .groups
            .iter()
            .map(|g| PageGroup {
                name: &g.name,
                kind: g.kind.name(),
                lanes: &g.lanes,
                folded: g.folded,
            })
            .collect(),
        spans: timeline
            .spans
            .iter()
            .map(|s| PageSpan {
                kind: s.kind.name(),
                label: &s.label,
                from: s.from_us,
                to: s.to_us,
                line: s.line,
                fault: s.kind.is_fault(),
                all: s.affects == Affects::All,
                hosts: match &s.affects {
                    Affects::Hosts(hosts) => Some(hosts),
                    _ => None,
                },
                lanes: match &s.affects {
                    Affects::Lanes(lanes) => Some(lanes),
                    _ => None,
                },
            })
            .collect(),
        flights: timeline
            .flights
            .iter()
            .map(|f| PageFlight {
                from: f.from,
                to: f.to,
                peak: f.peak(),
                points: &f.points,
                until: f.until_us,
            })
            .collect(),
        violations: timeline
            .violations
            .iter()
            .map(|v| PageViolation {
                rule: v.rule.to_string(),
                who: &v.who,
                lane: timeline.lane_named(&v.who),
                message: &v.message,
                lines: &v.lines,
            })
            .collect(),
        failures: &timeline.failures,
        plan: timeline.plan.as_deref(),
        check_note: timeline.check_note.as_deref(),
    }
}

impl Timeline {
    /// The timeline as one self-contained HTML page: style, script and data inline, nothing
    /// fetched, the same bytes for the same timeline. Open it in any browser.
    pub fn html(&self) -> String {
        // Serialising plain data with string keys cannot fail. `<` only occurs inside JSON
        // strings, where `\u003c` means the same, so no `</script>` can end the data early.
        let data = serde_json::to_string(&page(self))
            .unwrap_or_default()
            .replace('<', "\\u003c");
        fill(
            TEMPLATE,
            &[
                ("{{title}}", &escape(&self.title)),
                ("{{style}}", STYLE),
                ("{{data}}", &data),
                ("{{script}}", SCRIPT),
            ],
        )
    }
}

/// `template` with each marker replaced by its value, markers taken in order from the
/// template alone, so a value containing a marker's text is left as it is.
fn fill(template: &str, parts: &[(&str, &str)]) -> String {
    let mut out =
        String::with_capacity(template.len() + parts.iter().map(|p| p.1.len()).sum::<usize>());
    let mut rest = template;
    for (marker, value) in parts {
        if let Some((before, after)) = rest.split_once(marker) {
            out.push_str(before);
            out.push_str(value);
            rest = after;
        }
    }
    out.push_str(rest);
    out
}

/// `text` escaped for HTML text and attribute values.
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::super::model::tests::{echo_trace, timeline_of};
    use super::*;
    use crate::run::Trace;
    use serde_json::Value;

    /// The JSON embedded in a page.
    fn data_of(html: &str) -> Value {
        let start = html
            .find(r#"<script type="application/json" id="timeline-data">"#)
            .expect("data script");
        let rest = &html[start..];
        let json = &rest[rest.find('>').unwrap() + 1..rest.find("</script>").unwrap()];
        serde_json::from_str(json).expect("valid JSON")
    }

    #[test]
    fn the_page_inlines_style_script_and_data_and_fetches_nothing() {
        let html = timeline_of(&echo_trace()).html();
        assert!(html.starts_with("<!DOCTYPE html>"));
        assert!(html.contains(STYLE) && html.contains(SCRIPT));
        assert!(!html.contains("{{"), "every marker filled");
        assert!(
            html.contains("default-src 'none'"),
            "a policy that forbids fetches"
        );
        for external in [
            "src=",
            "href=",
            "<link",
            "@import",
            "url(",
            "fetch(",
            "XMLHttpRequest",
        ] {
            assert!(!html.contains(external), "{external} in the page");
        }
        // The one address in the page names SVG's namespace; nothing loads it.
        let svg = "http://www.w3.org/2000/svg";
        assert_eq!(html.matches("http:").count(), html.matches(svg).count());
        assert!(!html.contains("https:"));
    }

    #[test]
    fn each_line_rebuilds_its_text_line_from_the_data() {
        let trace = echo_trace();
        let data = data_of(&timeline_of(&trace).html());
        let text = trace.render_text();
        let (lanes, texts) = (&data["lanes"], &data["texts"]);
        let lines = data["lines"].as_array().unwrap();
        assert_eq!(lines.len(), trace.len());
        // What page.js does: the time, then the lane's host and name, then the text.
        for (line, expected) in lines.iter().zip(text.lines()) {
            let at = line[1].as_u64().unwrap();
            let time = format!("{:>6}.{:03}ms", at / 1000, at % 1000);
            let who = match line[0].as_u64() {
                Some(l) => format!(
                    "{} {} ",
                    lanes[l as usize]["host"].as_str().unwrap(),
                    lanes[l as usize]["name"].as_str().unwrap()
                ),
                None => String::new(),
            };
            let what = texts[line[3].as_u64().unwrap() as usize].as_str().unwrap();
            assert_eq!(format!("{time} {who}{what}"), expected);
        }
    }

    #[test]
    fn logged_events_are_log_marks_on_their_lane_or_the_run_row() {
        let trace = super::super::model::tests::echo_trace_with_logs();
        let data = data_of(&timeline_of(&trace).html());
        let line = |n: usize| {
            let line = &data["lines"][n - 1];
            let name = &data["names"][line[2].as_u64().unwrap() as usize];
            let text = &data["texts"][line[3].as_u64().unwrap() as usize];
            (line[0].clone(), line[1].clone(), name.clone(), text.clone())
        };
        let c1 = serde_json::json!(1);
        assert_eq!(data["lanes"][1]["name"], "c1");
        assert_eq!(
            line(20),
            (
                c1,
                406_000.into(),
                "log".into(),
                "INFO app: got it bytes=5".into()
            )
        );
        assert_eq!(
            line(21),
            (
                Value::Null,
                406_000.into(),
                "log".into(),
                "- - WARN turmoil: step".into()
            )
        );
    }

    #[test]
    fn equal_line_texts_are_stored_once() {
        let data = data_of(&timeline_of(&echo_trace()).html());
        let texts: Vec<&str> = data["texts"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t.as_str().unwrap())
            .collect();
        assert_eq!(texts.iter().filter(|t| **t == "closed").count(), 1);
        assert_eq!(data["lines"][15][3], data["lines"][16][3], "both closed");
    }

    #[test]
    fn the_data_carries_lanes_groups_spans_flights_and_violations() {
        let data = data_of(&timeline_of(&echo_trace()).html());
        assert_eq!(data["lanes"][1]["name"], "c1");
        assert_eq!(data["lanes"][1]["peer"], 2);
        assert_eq!(
            data["lanes"][1]["addresses"],
            "10.0.0.2:49152 \u{2192} 10.0.0.1:7000"
        );
        assert_eq!(data["groups"][0]["lanes"], serde_json::json!([0, 2]));
        assert_eq!(data["spans"][0]["kind"], "partition");
        assert_eq!(
            data["spans"][0]["hosts"],
            serde_json::json!(["client", "server"])
        );
        assert_eq!(data["flights"][1]["peak"], 100);
        assert_eq!(data["violations"][0]["rule"], "L1");
        assert_eq!(data["violations"][0]["lane"], 1);
        assert_eq!(data["violations"][0]["lines"], serde_json::json!([17, 18]));
    }

    #[test]
    fn text_from_the_trace_cannot_close_the_data_script_or_the_title() {
        let trace = Trace::from_events(vec![super::super::model::tests::event(
            0,
            "-",
            "-",
            crate::run::EventKind::Note {
                text: "</script><script>alert(1)</script>".into(),
            },
        )]);
        let html =
            Timeline::build("<b>&", &trace, None, &crate::judge::CheckReport::default()).html();
        assert_eq!(html.matches("</script>").count(), 2, "only the page's own");
        assert!(html.contains("<title>&lt;b&gt;&amp;</title>"));
        assert_eq!(
            data_of(&html)["texts"][0],
            "- - -- </script><script>alert(1)</script>"
        );
    }

    #[test]
    fn the_same_timeline_gives_the_same_bytes() {
        let a = timeline_of(&echo_trace()).html();
        let b = timeline_of(&echo_trace()).html();
        assert_eq!(a, b);
    }

    #[test]
    fn fill_replaces_markers_of_the_template_only() {
        assert_eq!(
            fill("a{{x}}b{{y}}c", &[("{{x}}", "{{y}}"), ("{{y}}", "Y")]),
            "a{{y}}bYc"
        );
    }
}
