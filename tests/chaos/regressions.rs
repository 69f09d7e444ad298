//! Saved regressions, as a user's chaos test meets them: a plan file planted in the test's
//! regressions folder is replayed before the sweep, and fails the test by itself while the
//! sweep would pass; the default folder is `regressions/<scenario name>/` beside the test.

use crate::support::echoed;
use tcpnotify_sim::fault::{FaultSettings, Span};
use tcpnotify_sim::{Chaos, Scenario, Seed};

/// An echo that passes every seed of its sweep: slow closes delay its end but lose nothing.
fn echo() -> Scenario {
    Scenario::echo("planted-echo", 512, 128)
        .faults(FaultSettings {
            slow_close: 1.0,
            slow_close_ms: Span::new(10, 50),
            ..FaultSettings::default()
        })
        .expecting(echoed())
}

/// A folder of its own under the system's temporary folder, removed at the end.
struct Scratch(std::path::PathBuf);

impl Scratch {
    fn new(name: &str) -> Self {
        let dir =
            std::env::temp_dir().join(format!("tcpnotify-chaos-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("a scratch folder");
        Scratch(dir)
    }

    fn path(&self) -> &std::path::Path {
        &self.0
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[test]
fn the_default_regressions_folder_is_beside_the_test_by_scenario_name() {
    let dir = Chaos::new(echo())
        .regressions_dir()
        .expect("this file is found");
    assert_eq!(
        dir,
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/chaos/regressions/planted-echo")
    );
}

#[test]
fn a_planted_regression_is_replayed_before_the_sweep_and_fails_the_test() {
    let dir = Scratch::new("planted");
    let chaos = Chaos::new(echo()).seeds(0..8).ignoring_env();
    let pass = chaos
        .clone()
        .regressions(dir.path())
        .run()
        .expect("the sweep passes with no regression saved");
    assert_eq!(pass.seeds_run(), 8);
    assert!(pass.regressions.is_empty());

    // As a failure of `assert_passes` saves it: a plan that resets c1 after its first read.
    let planted = dir.path().join("seed-77.toml");
    std::fs::write(
        &planted,
        "# planted\nseed = 77\n\n[[faults]]\nafter = { conn = \"c1\", callback = \"received\", \
         nth = 1 }\nkind = \"reset\"\nconn = \"c1\"\n",
    )
    .expect("writable");
    let failure = chaos
        .regressions(dir.path())
        .run()
        .expect_err("the planted plan fails")
        .into_failure()
        .expect("a failure, not a sweep without faults");
    assert_eq!(failure.regression.as_deref(), Some(planted.as_path()));
    assert_eq!(failure.seed, Seed(77));
    assert_eq!(failure.signature, "echoed");
    assert_eq!(
        failure.seeds_run, 0,
        "replayed first: no seed of the sweep ran"
    );
    assert!(failure.deterministic, "{failure}");
    assert!(
        failure.to_string().contains(&format!(
            "the saved regression {}, replayed before the sweep",
            planted.display()
        )),
        "{failure}"
    );
    assert!(planted.exists(), "replaying never deletes");
}
