//! `--junit FILE`: JUnit XML, read back with an XML parser: one test case per failing seed
//! (its signature, its failure, its repro line) and one for the sweep.

use super::*;

/// A test case of a JUnit file.
#[derive(Debug, Clone, PartialEq)]
struct Case {
    name: String,
    failure: Option<Failure>,
}

/// A test case's `<failure>`: its type, message and text.
#[derive(Debug, Clone, PartialEq)]
struct Failure {
    kind: String,
    message: String,
    text: String,
}

/// The test cases of a JUnit file with one test suite.
fn cases(xml: &str) -> Vec<Case> {
    let doc = roxmltree::Document::parse(xml).expect("well-formed XML");
    let root = doc.root_element();
    assert_eq!(root.tag_name().name(), "testsuites");
    let suites: Vec<_> = root
        .children()
        .filter(|n| n.has_tag_name("testsuite"))
        .collect();
    assert_eq!(suites.len(), 1, "{xml}");
    suites[0]
        .children()
        .filter(|n| n.has_tag_name("testcase"))
        .map(|case| Case {
            name: case.attribute("name").unwrap_or_default().to_string(),
            failure: case
                .children()
                .find(|n| n.has_tag_name("failure"))
                .map(|f| Failure {
                    kind: f.attribute("type").unwrap_or_default().to_string(),
                    message: f.attribute("message").unwrap_or_default().to_string(),
                    text: f.text().unwrap_or_default().to_string(),
                }),
        })
        .collect()
}

#[test]
fn a_failing_sweep_is_a_case_per_failing_seed_and_one_for_the_sweep() {
    let dir = scratch("junit-failing");
    let file = sometimes_failing(&dir);
    let xml = dir.join("sweep.xml");
    let output = sim(&[
        "sweep",
        file.to_str().unwrap(),
        "--seeds",
        "0..16",
        "--keep-going",
        "--json",
        "--junit",
        xml.to_str().unwrap(),
    ]);
    assert_eq!(output.status.code(), Some(1));
    let result = sweep_result(&output);
    let cases = cases(&std::fs::read_to_string(&xml).unwrap());
    assert_eq!(cases.len(), result.failures.len() + 1);
    for (failure, case) in result.failures.iter().zip(&cases) {
        assert_eq!(case.name, format!("seed {}", failure.seed));
        let failed = case.failure.clone().expect("a failure");
        assert_eq!(failed.kind, failure.signature);
        assert_eq!(
            failed.message,
            format!("[{}] {}", failure.signature, failure.summary)
        );
        assert_eq!(failed.text, format!("reproduce: {}", failure.repro));
    }
    let sweep = cases.last().unwrap();
    assert_eq!(sweep.name, "sweep");
    let failed = sweep.failure.clone().expect("the sweep failed");
    assert_eq!(failed.kind, "sweep");
    assert_eq!(
        failed.message,
        format!("{} of 16 seed(s) failed", result.failed)
    );
    assert!(text(&output.stderr).contains("(JUnit XML)"));
}

#[test]
fn a_passing_sweep_is_one_passing_case() {
    let dir = scratch("junit-passing");
    let file = write(&dir, "echo.toml", ECHO);
    let xml = dir.join("sweep.xml");
    let output = sim(&[
        "sweep",
        file.to_str().unwrap(),
        "--seeds",
        "0..3",
        "--junit",
        xml.to_str().unwrap(),
    ]);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    let cases = cases(&std::fs::read_to_string(&xml).unwrap());
    assert_eq!(
        cases,
        [Case {
            name: "sweep".into(),
            failure: None
        }]
    );
}

#[test]
fn an_unwritable_junit_file_is_refused_before_the_sweep_runs() {
    let dir = scratch("junit-unwritable");
    let file = write(&dir, "echo.toml", ECHO);
    let xml = dir.join("missing-dir/sweep.xml");
    let output = sim(&[
        "sweep",
        file.to_str().unwrap(),
        "--seeds",
        "0..3",
        "--junit",
        xml.to_str().unwrap(),
    ]);
    assert_bad_input(&output, "missing-dir/sweep.xml: cannot write");
}
