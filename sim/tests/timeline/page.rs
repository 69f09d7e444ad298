//! Pages of real runs and of a trace that breaks a rule, as Chromium renders them.

use crate::chromium::{dump_dom, screenshot};
use crate::{assert_not_blank, lane_labels, text, write_page, Dom};
use std::path::{Path, PathBuf};
use tcpnotify::record::{Callback, Payload};
use tcpnotify_sim::judge::Verdict;
use tcpnotify_sim::judge::{check, CheckOptions, Rule};
use tcpnotify_sim::report::Timeline;
use tcpnotify_sim::run::{EventKind, Trace, TraceEvent};
use tcpnotify_sim::{Registry, ScenarioFile};

fn partition_heals() -> Verdict {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios/partition-heals.toml");
    let file = ScenarioFile::load(&path, &Registry::builtin()).expect("scenario");
    file.judge(None).expect("runs")
}

/// Each rendered mark's trace lines (`data-lines`) with its tooltip's lines.
fn marks(dom: &Dom, selector: &str) -> Vec<(Vec<usize>, Vec<String>)> {
    dom.all(selector)
        .iter()
        .map(|m| {
            let lines = m
                .attr("data-lines")
                .expect("data-lines")
                .split(' ')
                .map(|n| n.parse().expect("a line number"))
                .collect();
            let title = m
                .attr("title")
                .expect("title")
                .lines()
                .map(str::to_string)
                .collect();
            (lines, title)
        })
        .collect()
}

#[test]
fn a_scenario_page_draws_lanes_with_callbacks_at_their_time_faults_and_bytes_in_flight() {
    let verdict = partition_heals();
    assert!(verdict.passed(), "{verdict}");
    let (page, _) = write_page("partition-heals", &Timeline::of_verdict(&verdict));
    let dom = Dom::parse(&dump_dom(&page, ""));

    assert_eq!(lane_labels(&dom), ["server", "server.1", "c1"]);
    let groups: Vec<String> = dom.all(".row.group > .label").iter().map(text).collect();
    assert_eq!(
        groups,
        [
            "\u{25be} server \u{b7} 2 lanes",
            "\u{25be} c* \u{b7} 1 lane"
        ]
    );

    // Every callback is on a mark of its lane, and a mark's tooltip is its trace lines.
    let trace: Vec<String> = verdict
        .outcome
        .trace
        .render_text()
        .lines()
        .map(str::to_string)
        .collect();
    let lane_marks = marks(&dom, ".row.lane .mark");
    let mut drawn: Vec<usize> = lane_marks
        .iter()
        .flat_map(|(lines, _)| lines.clone())
        .collect();
    drawn.sort();
    let callbacks: Vec<usize> = (1..=trace.len())
        .filter(|&n| verdict.outcome.trace.events()[n - 1].callback().is_some())
        .collect();
    assert_eq!(drawn, callbacks);
    for (lines, title) in &lane_marks {
        let expected: Vec<&String> = lines.iter().map(|n| &trace[n - 1]).collect();
        assert_eq!(title.iter().collect::<Vec<_>>(), expected);
    }
    // Marks stand left to right in time order.
    for row in dom.all(".row.lane") {
        let left: Vec<f64> = row
            .select(&scraper::Selector::parse(".mark").unwrap())
            .map(|m| {
                let style = m.attr("style").unwrap_or_default();
                let at = style.split("left:").nth(1).expect("a left position");
                at.trim()
                    .trim_end_matches(['%', ';'])
                    .parse()
                    .expect("a percentage")
            })
            .collect();
        assert!(left.windows(2).all(|w| w[0] < w[1]), "{left:?}");
    }

    let spans: Vec<String> = dom
        .all(".row.run .span.k-partition")
        .iter()
        .map(text)
        .collect();
    assert_eq!(spans, ["partition client <-> server for 400ms"]);
    assert_eq!(
        dom.all(".row.lane .shade.k-partition").len(),
        3,
        "both hosts' lanes shaded"
    );
    let flights: Vec<String> = dom
        .all(".row.lane svg.flight title")
        .iter()
        .map(text)
        .collect();
    assert_eq!(
        flights,
        [
            "bytes in flight server.1 \u{2192} c1: up to 1024B",
            "bytes in flight c1 \u{2192} server.1: up to 1024B"
        ]
    );
    assert!(dom.all(".mark.violation").is_empty());
    assert_eq!(
        text(&dom.all("#verdict")[0]).split(" \u{b7} ").next(),
        Some("contract: ok")
    );

    // Zoomed in four times, every track is four times as wide.
    let zoomed = Dom::parse(&dump_dom(&page, "zoom=4"));
    assert_eq!(text(&zoomed.all("#zoom-level")[0]), "4\u{d7}");
    let width = |dom: &Dom| -> f64 {
        let track = dom.all(".row.lane > .track")[0];
        let style = track.attr("style").unwrap_or_default();
        let px = style.split("width:").nth(1).expect("a width").trim();
        let px = px.trim_end_matches([';', ' ']).trim_end_matches("px");
        px.parse().expect("pixels")
    };
    assert_eq!(width(&zoomed), 4.0 * width(&dom));
}

/// A client whose `received` comes after its `closed` (L2), with its server.
fn broken_trace() -> Trace {
    let client = Some((
        "10.0.0.2:49152".parse().unwrap(),
        "10.0.0.1:7000".parse().unwrap(),
    ));
    let server = client.map(|(c, s)| (s, c));
    let event = |at_us, host: &str, who: &str, callback, addresses: Option<(_, _)>| TraceEvent {
        at_us,
        host: host.into(),
        who: who.into(),
        kind: EventKind::Callback {
            callback,
            local: addresses.map(|a: (_, _)| a.0),
            remote: addresses.map(|a: (_, _)| a.1),
        },
    };
    let bytes = |n| Payload::of(&vec![b'x'; n]);
    Trace::from_events(vec![
        event(0, "server", "server", Callback::Listening(None), None),
        event(
            0,
            "client",
            "c1",
            Callback::ProxyVia {
                host: "server".into(),
                service: "7000".into(),
                target: ("server".into(), "7000".into()),
            },
            None,
        ),
        event(0, "client", "c1", Callback::Connecting(1), None),
        event(
            1000,
            "server",
            "server",
            Callback::ListenerConnected { accepted: true },
            None,
        ),
        event(1000, "server", "server.1", Callback::Accepted, server),
        event(1000, "client", "c1", Callback::Connected, client),
        event(
            1000,
            "client",
            "c1",
            Callback::Sent {
                data: bytes(5),
                result: bytes(5),
            },
            client,
        ),
        event(
            2000,
            "server",
            "server.1",
            Callback::Received {
                data: bytes(5),
                times: 1,
                result: true,
            },
            server,
        ),
        event(
            2000,
            "server",
            "server.1",
            Callback::Sent {
                data: bytes(5),
                result: bytes(5),
            },
            server,
        ),
        event(2500, "client", "c1", Callback::Closed, client),
        event(
            3000,
            "client",
            "c1",
            Callback::Received {
                data: bytes(5),
                times: 1,
                result: true,
            },
            client,
        ),
        event(3000, "server", "server.1", Callback::Closed, server),
    ])
}

#[test]
fn a_broken_rule_is_highlighted_on_its_marks_its_lane_and_the_violation_list_l2() {
    let trace = broken_trace();
    let report = check(&trace, &CheckOptions::default());
    assert_eq!(report.broken_rules(), [Rule::L2]);
    let lines = report.violations[0].lines.clone();
    assert_eq!(lines, [10, 11]);
    let (page, _) = write_page("broken", &Timeline::build("broken", &trace, None, &report));
    let dom = Dom::parse(&dump_dom(&page, ""));

    let flagged: Vec<Vec<usize>> = marks(&dom, ".mark.violation")
        .into_iter()
        .map(|m| m.0)
        .collect();
    assert_eq!(
        flagged,
        [vec![10], vec![11]],
        "closed, then the received after it"
    );
    let flagged_lanes: Vec<String> = dom
        .all(".row.lane.flagged > .label")
        .iter()
        .map(text)
        .collect();
    assert_eq!(flagged_lanes, ["c1"]);
    let listed: Vec<String> = dom.all("#violations li").iter().map(text).collect();
    assert_eq!(listed.len(), 1);
    assert!(listed[0].starts_with("L2 broken by c1: "), "{listed:?}");
    assert!(listed[0].ends_with("(lines 10, 11)"), "{listed:?}");
    assert_eq!(dom.all("#verdict.failed").len(), 1);

    // Clicking a mark (here: a link to its line) shows its whole trace line and the rule.
    let dom = Dom::parse(&dump_dom(&page, "line=11"));
    let shown: Vec<String> = dom.all("#details .line code").iter().map(text).collect();
    let line_11 = trace.render_text().lines().nth(10).unwrap().to_string();
    assert_eq!(shown, [line_11]);
    assert_eq!(dom.all("#details .line.violation").len(), 1);
    let why: Vec<String> = dom.all("#details .why").iter().map(text).collect();
    assert!(
        why.len() == 1 && why[0].starts_with("L2 broken by c1"),
        "{why:?}"
    );
    assert_eq!(dom.all(".mark.selected").len(), 1);
}

#[test]
fn a_screenshot_of_a_scenario_page_is_not_blank() {
    let (page, _) = write_page("screenshot", &Timeline::of_verdict(&partition_heals()));
    let size = (1280, 720);
    assert_not_blank(&screenshot(&page, "zoom=2", size), size);
}

/// A JSON trace without its run's check options: the verdict line says the contract was
/// judged with defaults, next to what the check found.
#[test]
fn the_page_of_a_trace_without_check_options_says_how_it_was_judged() {
    let verdict = partition_heals();
    let path = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("timeline-bare-events.jsonl");
    std::fs::write(&path, verdict.outcome.trace.render_json_lines()).expect("trace written");
    let timeline = Timeline::load(&path, None, &Registry::builtin()).expect("a trace");
    let (page, _) = write_page("bare-events", &timeline);
    let dom = Dom::parse(&dump_dom(&page, ""));
    let shown = text(&dom.all("#verdict")[0]);
    let parts: Vec<&str> = shown.split(" \u{b7} ").take(2).collect();
    assert_eq!(parts[0], "contract: ok", "{shown}");
    assert!(
        parts[1].starts_with("the trace carries no check options")
            && parts[1].contains("N3 not judged"),
        "{shown}"
    );
}
