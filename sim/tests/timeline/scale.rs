//! A 1,000-connection run: the page stays small, opens folded, and unfolds to a lane.

use crate::chromium::{dump_dom, screenshot};
use crate::{assert_not_blank, lane_labels, text, write_page, Dom};
use tcpnotify_sim::fault::{Fault, FaultKind, FaultPlan};
use tcpnotify_sim::judge::judge;
use tcpnotify_sim::notifiers::{Echo, Sender};
use tcpnotify_sim::report::Timeline;
use tcpnotify_sim::{factory, Scenario, Seed};

/// Lanes an unfolded group shows at a time (`PAGE` in page.js).
const PAGE: usize = 50;

/// Two echo listeners, `api` and `web`, and 1,000 clients on ten hosts: `a1`...`a500` dial
/// `api` and `w1`...`w500` dial `web`, four starting each millisecond (turmoil's listen
/// buffers overflow when a hundred connect at once), each echoing 64 bytes; `client3` is cut
/// off from `web` for 100ms.
fn thousand_clients() -> Scenario {
    let mut scenario = Scenario::new("thousand-clients")
        .duration_ms(5000)
        .listener("api", "api", 7000, factory(|| Echo))
        .listener("web", "web", 7000, factory(|| Echo));
    for i in 0..1000u64 {
        let (name, target) = match i % 2 {
            0 => (format!("a{}", i / 2 + 1), "api"),
            _ => (format!("w{}", i / 2 + 1), "web"),
        };
        let host = format!("client{}", i % 10);
        scenario = scenario
            .client(&name, &host, target, 7000, factory(|| Sender::pattern(64)))
            .starting_at(i / 4);
    }
    let mut plan = FaultPlan::quiet(Seed(0));
    plan.faults.push(Fault::at(
        40,
        FaultKind::Partition {
            a: "client3".into(),
            b: "web".into(),
            duration_ms: 100,
            one_way: false,
        },
    ));
    scenario.plan(plan)
}

#[test]
fn a_thousand_connection_run_makes_a_small_page_that_opens_folded_and_unfolds_a_lane() {
    let scenario = thousand_clients();
    let verdict = judge(&scenario, &scenario.plan_for(Seed(1))).expect("runs");
    assert!(verdict.passed(), "{verdict}");
    let timeline = Timeline::of_verdict(&verdict);
    assert_eq!(
        timeline.to_string().split(" in ").next(),
        Some("2002 lanes")
    );
    let (page, html) = write_page("thousand", &timeline);
    eprintln!(
        "page: {} bytes for {} trace lines",
        html.len(),
        verdict.outcome.trace.len()
    );
    assert!(html.len() < 2_500_000, "the page is {} bytes", html.len());

    // Folded: a header per listener and client group, no lane, a few hundred elements.
    let dom = Dom::parse(&dump_dom(&page, ""));
    let groups: Vec<String> = dom.all(".row.group > .label").iter().map(text).collect();
    assert_eq!(
        groups,
        [
            "\u{25b8} api \u{b7} 501 lanes",
            "\u{25b8} web \u{b7} 501 lanes",
            "\u{25b8} a* \u{b7} 500 lanes",
            "\u{25b8} w* \u{b7} 500 lanes",
        ]
    );
    assert!(lane_labels(&dom).is_empty());
    assert_eq!(
        dom.all(".row.group svg.density path").len(),
        4,
        "activity of each group"
    );
    assert_eq!(
        dom.all(".row.group .shade.k-partition").len(),
        2,
        "web and w* were cut off"
    );
    eprintln!("DOM: {} elements folded", dom.elements());
    assert!(dom.elements() < 600, "{} elements folded", dom.elements());

    // A link to one lane unfolds its group at the page of lanes that holds it.
    let dom = Dom::parse(&dump_dom(&page, "lane=w377"));
    let expected: Vec<String> = (351..=400).map(|i| format!("w{i}")).collect();
    assert_eq!(lane_labels(&dom), expected);
    let pager = text(&dom.all(".row.pager > .label")[0]);
    assert_eq!(pager, "\u{25c2} 351\u{2013}400 of 500 \u{25b8}");
    eprintln!("DOM: {} elements with one page of w*", dom.elements());
    assert!(dom.elements() < 2_000, "{} elements", dom.elements());

    // Everything unfolded: one page of each group.
    let dom = Dom::parse(&dump_dom(&page, "unfold=all"));
    assert_eq!(lane_labels(&dom).len(), 4 * PAGE);
    eprintln!("DOM: {} elements unfolded", dom.elements());
    assert!(
        dom.elements() < 6_000,
        "{} elements unfolded",
        dom.elements()
    );

    let size = (1280, 720);
    assert_not_blank(&screenshot(&page, "unfold=all", size), size);
}
