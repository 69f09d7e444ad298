//! A sweep as JUnit XML, which CI systems (GitLab, Jenkins, GitHub test reporters) show as
//! test results: one test suite for the sweep, one test case per listed failing seed (its
//! signature, its failure and the line that re-runs it), and one for the sweep as a whole
//! (failed if any seed failed, with the coverage as its output). Written with `quick-junit`,
//! with no timestamps, so the XML of a sweep is a function of its report: the merged shards
//! of a sweep give the same file as the whole.

use crate::explore::{SweepEnd, SweepReport};
use quick_junit::{NonSuccessKind, Report, TestCase, TestCaseStatus, TestSuite};

/// The XML could not be written (it only can fail on a writer's error, and this writes to
/// memory).
#[derive(Debug, thiserror::Error)]
#[error("cannot write JUnit XML: {0}")]
pub struct JunitError(String);

/// The JUnit XML of a sweep's report.
///
/// ```
/// use tcpnotify_sim::explore::{sweep, SweepOptions};
/// use tcpnotify_sim::report::junit;
/// use tcpnotify_sim::{Expectations, Scenario};
/// let scenario = Scenario::echo("echo", 64, 16)
///     .expecting(Expectations { closed: Some(3), ..Expectations::default() });
/// let report = sweep(&scenario, &SweepOptions { keep_going: true, ..SweepOptions::new(0..2) });
/// let xml = junit(&report).unwrap();
/// assert!(xml.contains(r#"<testcase name="seed 0" classname="echo">"#), "{xml}");
/// assert!(xml.contains(r#"<testcase name="sweep" classname="echo">"#), "{xml}");
/// ```
pub fn junit(report: &SweepReport) -> Result<String, JunitError> {
    let classname = report.scenario.as_str();
    let mut suite = TestSuite::new(format!("sweep {} {}", report.scenario, report.seeds));
    suite.add_property(("scenario", classname));
    suite.add_property(("seeds", report.seeds.to_string().as_str()));
    if let Some(count) = report.seeds.len() {
        suite.add_property(("count", count.to_string().as_str()));
    }
    if let Some(shard) = report.shard {
        suite.add_property(("shard", shard.to_string().as_str()));
    }
    suite.add_property(("seeds_run", report.seeds_run.to_string().as_str()));
    suite.add_property(("end", end_name(report.end)));
    for failure in &report.failures {
        let mut status = TestCaseStatus::non_success(NonSuccessKind::Failure);
        status
            .set_type(failure.signature.as_str())
            .set_message(format!("[{}] {}", failure.signature, failure.summary));
        if let Some(repro) = &failure.repro {
            status.set_description(format!("reproduce: {repro}"));
        }
        let mut case = TestCase::new(format!("seed {}", failure.seed), status);
        case.set_classname(classname);
        suite.add_test_case(case);
    }
    let status = if report.passed() {
        TestCaseStatus::success()
    } else {
        let mut status = TestCaseStatus::non_success(NonSuccessKind::Failure);
        let unlisted = report.failed - report.failures.len();
        status.set_type("sweep").set_message(format!(
            "{} of {} seed(s) failed{}",
            report.failed,
            report.seeds_run,
            if unlisted > 0 {
                format!(" ({unlisted} not listed)")
            } else {
                String::new()
            }
        ));
        status
    };
    let mut case = TestCase::new("sweep", status);
    case.set_classname(classname)
        .set_system_out(report.coverage.to_string());
    suite.add_test_case(case);
    let mut xml = Report::new("tcpnotify-sim");
    xml.add_test_suite(suite);
    xml.to_string().map_err(|e| JunitError(e.to_string()))
}

/// How a report's end is named in JSON, for the XML's property.
fn end_name(end: SweepEnd) -> &'static str {
    match end {
        SweepEnd::Complete => "complete",
        SweepEnd::StoppedAtFailure => "stopped_at_failure",
        SweepEnd::BudgetSpent => "budget_spent",
        SweepEnd::Interrupted => "interrupted",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn end_names_are_the_json_names() {
        for end in [
            SweepEnd::Complete,
            SweepEnd::StoppedAtFailure,
            SweepEnd::BudgetSpent,
            SweepEnd::Interrupted,
        ] {
            let json = serde_json::to_value(end).unwrap();
            assert_eq!(json, end_name(end));
        }
    }
}
